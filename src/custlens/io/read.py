"""Read one input (file, folder, glob or stdin) into a raw table of the file's own columns.

Nothing here knows about roles: this module finds the format, the encoding, the delimiter
and the header row, and returns every column as the file has it (text for CSV, typed for
Parquet, Python objects for XLSX) with one :class:`RawTable` per physical file.
"""

from __future__ import annotations

import codecs
import csv
import functools
import glob
import gzip
import io
import os
import re
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import EmptyInputError, InputError, sample_text
from ..schema import find_header_row

if TYPE_CHECKING:
    from collections.abc import Callable

    import numpy as np
    import pandas as pd

SNIFF_BYTES = 1 << 18
DELIMITERS = [",", ";", "\t", "|"]
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".parquet", ".pq", ".xlsx", ".xlsm")


@dataclass
class RawTable:
    """The columns of one physical file, before roles are assigned."""

    source: str
    format: str  # csv, parquet, xlsx
    frame: pd.DataFrame
    encoding: str | None = None
    delimiter: str | None = None
    header_names: list[str] = field(default_factory=list)  # as written in the file
    first_data_row: int = 2  # spreadsheet row number of the first data row
    skipped: list[tuple[str, str, int | None]] = field(default_factory=list)  # (reason, raw text, row number)
    gaps: list[int] = field(default_factory=list)  # the rows between data rows that hold none (sorted)
    find_gaps: Callable[[], object] | None = field(default=None, repr=False)  # sets gaps, the first time they count

    def row_numbers(self) -> np.ndarray:
        """The spreadsheet row number of each row of :attr:`frame`."""
        if self.find_gaps is not None:
            self.find_gaps()
            self.find_gaps = None
        return rows_after_gaps(range(len(self.frame)), self.first_data_row, self.gaps)


@dataclass(frozen=True)
class ReadOptions:
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None


def expand_paths(paths: list[str] | tuple[str, ...]) -> list[str]:
    """Turn the user's arguments into a sorted list of files; ``-`` is stdin.

    A folder stands for the table files in it, a pattern with ``*``/``?`` for its matches.
    """
    files: list[str] = []
    for arg in paths:
        if arg == "-":
            files.append(arg)
        elif os.path.isdir(arg):
            inside = sorted(
                str(p) for p in Path(arg).iterdir()
                if p.is_file() and p.name.lower().endswith(TABLE_SUFFIXES) and not p.name.startswith(".")
            )
            if not inside:
                raise InputError(f"{arg}: folder holds no .csv, .tsv, .gz, .parquet or .xlsx files")
            files.extend(inside)
        elif any(ch in arg for ch in "*?["):
            matched = sorted(glob.glob(arg))
            if not matched:
                raise InputError(f"{arg}: no file matches this pattern")
            files.extend(matched)
        elif not os.path.exists(arg):
            raise InputError(f"{arg}: no such file")
        else:
            files.append(arg)
    if not files:
        raise InputError("no input file given; pass a file, a folder, a glob or - for stdin")
    return files


def read_table(path: str, options: ReadOptions = ReadOptions()) -> RawTable:
    """Read one file (or ``-``) by its content, not only its name."""
    if path == "-":
        data = sys.stdin.buffer.read()
        return _read_bytes_like("<stdin>", data, options)
    head = _head_bytes(path)
    kind = _kind_from_head(path, head)
    if kind == "parquet":
        return _read_parquet(path)
    if kind == "xlsx":
        return _read_xlsx(_ungzipped(path), options.sheet, source=path)
    return _read_csv(path, head, options, source=path)


def _ungzipped(path: str):
    """The path, or the bytes of a gzipped file (``orders.xlsx.gz``)."""
    with open(path, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            return path
    with gzip.open(path, "rb") as fh:
        return io.BytesIO(fh.read())


def _read_bytes_like(source: str, data: bytes, options: ReadOptions) -> RawTable:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    kind = _kind_from_head(source, data[:SNIFF_BYTES])
    if kind == "parquet":
        return _read_parquet(io.BytesIO(data), source=source)
    if kind == "xlsx":
        return _read_xlsx(io.BytesIO(data), options.sheet, source=source)
    return _read_csv(io.BytesIO(data), data[:SNIFF_BYTES], options, source=source)


def _head_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
        if head[:2] == b"\x1f\x8b":
            with gzip.open(path, "rb") as fh:
                head = fh.read(SNIFF_BYTES)
    except (OSError, EOFError) as e:
        raise InputError(f"{path}: cannot be read ({e.strerror or e})") from e
    return head


def _kind_from_head(path: str, head: bytes) -> str:
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:4] == b"PK\x03\x04":
        return "xlsx"
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise InputError(f"{path}: this is an old binary Excel (.xls) file; save it as .xlsx or .csv")
    if not head.strip():
        raise EmptyInputError(f"{path}: the file is empty")
    if _looks_binary(head):
        raise InputError(
            f"{path}: this is not a text table (binary data at the start); "
            "custlens reads CSV/TSV (optionally .gz), Parquet and XLSX"
        )
    return "csv"


def _looks_binary(head: bytes) -> bool:
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return False  # UTF-16 text with a BOM
    sample = head[:4096]
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return control > len(sample) * 0.05


# --- CSV -----------------------------------------------------------------------------------

def detect_encoding(head: bytes, source: str) -> str:
    """utf-8 (with or without BOM) when the bytes decode as such; else the best guess of
    charset-normalizer (cp1251 for Russian and Ukrainian exports)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    results = from_bytes(head[:65536], cp_isolation=["cp1251", "cp1252", "koi8_r", "cp866", "mac_cyrillic",
                                                     "utf_16", "latin_1"])
    best = results.best()  # the least chaos
    if best is None:
        raise InputError(f"{source}: cannot tell the text encoding; pass --encoding (e.g. --encoding cp1251)")
    # cp1251 and mac_cyrillic share the small letters; only capitals tell them apart, and a few
    # lines have few, where charset-normalizer's chaos is no guide (it read 'Клиент;Дата' as
    # 'лиент;ƒата'). The right one reads capitals as letters, the other as signs ('ƒ', '—', or 'Љ'
    # for mac_cyrillic's К): mac_cyrillic where it reads more Russian and Ukrainian letters, else
    # cp1251 (exports come from Windows).
    found = {m.encoding: m for m in results}
    if best.encoding in ("cp1251", "mac_cyrillic") and {"cp1251", "mac_cyrillic"} <= found.keys():
        windows, mac = found["cp1251"], found["mac_cyrillic"]
        best = mac if _letter_share(str(mac)) > _letter_share(str(windows)) else windows
    return {"windows-1251": "cp1251", "windows-1252": "cp1252"}.get(best.encoding, best.encoding)


#: the letters of Russian and Ukrainian
_CYRILLIC_LETTERS = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ" + "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ".upper())


def _letter_share(text: str) -> float:
    """The share of Russian and Ukrainian letters among the text's characters beyond ASCII."""
    beyond = [c for c in text if c > "\x7f"]
    return sum(c in _CYRILLIC_LETTERS for c in beyond) / len(beyond) if beyond else 0.0


def _decode_head(head: bytes, encoding: str, source: str, explicit: bool) -> str:
    try:
        return codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as e:
        hint = ""
        try:
            guess = detect_encoding(head, source)
            if guess != encoding:
                hint = f"; it looks like {guess}: try --encoding {guess}"
        except InputError:
            pass
        where = "the given" if explicit else "the detected"
        raise InputError(
            f"{source}: not valid {encoding} ({where} encoding): byte {head[e.start]:#04x} "
            f"at offset {e.start}{hint}"
        ) from e
    except LookupError as e:
        raise InputError(f"{source}: unknown encoding {encoding!r}; try utf-8 or cp1251") from e


def detect_delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits the first lines into the same number (> 1) of fields most
    consistently; ties go to more fields. ``None`` when no candidate splits anything."""
    best, best_score = None, (0.0, 0)
    for delim in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delim) if row]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        score = (counts.count(mode) / len(counts), mode)
        if score > best_score:
            best, best_score = delim, score
    return best


@dataclass(frozen=True)
class CsvLayout:
    """What the first bytes of a text table say: encoding, delimiter ("whitespace" for aligned
    columns), the line the header is on (below report titles, if any) and its cells."""

    encoding: str
    delimiter: str
    header_index: int
    header: list[str]


def sniff_csv(head: bytes, options: ReadOptions, source: str) -> CsvLayout:
    """The layout of a text table from its first bytes (also used by the DuckDB engine)."""
    encoding = options.encoding or detect_encoding(head, source)
    text = _decode_head(head, encoding, source, explicit=options.encoding is not None)
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    if len(head) >= SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line of the sample may be cut
    filled = [i for i, line in enumerate(lines[:200]) if line.strip()]
    if not filled:
        raise EmptyInputError(f"{source}: the file is empty")
    delimiter = options.delimiter or detect_delimiter([lines[i] for i in filled[:50]])
    if delimiter is None:
        if len(lines[filled[0]].split()) > 1:
            return CsvLayout(encoding, "whitespace", filled[0], lines[filled[0]].split())
        delimiter = ","
    candidates = [next(csv.reader([lines[i]], delimiter=delimiter), []) for i in filled[:30]]
    header_index = filled[find_header_row(candidates)]
    header = next(csv.reader([lines[header_index]], delimiter=delimiter))
    return CsvLayout(encoding, delimiter, header_index, header)


def _read_csv(source_obj, head: bytes, options: ReadOptions, *, source: str) -> RawTable:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    layout = sniff_csv(head, options, source)
    encoding, delimiter, header_index, header = layout.encoding, layout.delimiter, layout.header_index, layout.header
    if delimiter == "whitespace":
        return _read_whitespace(source_obj, encoding, header_index, source)
    names = unique_names(header)

    skipped: list[tuple[str, str, int | None]] = []

    def on_invalid(row):
        skipped.append((
            f"wrong number of fields (expected {row.expected_columns}, got {row.actual_columns})",
            row.text, None,
        ))
        return "skip"

    encoding_for_arrow = "utf8" if encoding in ("utf-8", "utf-8-sig") else encoding
    if hasattr(source_obj, "seek"):
        source_obj.seek(0)
    try:
        table = pacsv.read_csv(
            source_obj,
            read_options=pacsv.ReadOptions(
                encoding=encoding_for_arrow, column_names=names, skip_rows=header_index + 1,
                block_size=1 << 24,
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False, quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as e:
        message = str(e).splitlines()[0]
        if "utf8" in message.lower() or "utf-8" in message.lower():
            raise InputError(
                f"{source}: not valid UTF-8 further into the file ({message}); "
                "pass --encoding (e.g. --encoding cp1251)"
            ) from e
        raise InputError(f"{source}: cannot be read as a {_delimiter_name(delimiter)}-separated table: {message}") from e
    except UnicodeDecodeError as e:
        raise InputError(f"{source}: not valid {encoding} further into the file; pass --encoding") from e
    frame = table.to_pandas()
    if frame.empty and not skipped:
        raise EmptyInputError(f"{source}: has column names ({sample_text(header, 5)}) but no data rows")
    raw = RawTable(source=source, format="csv", frame=frame, encoding=encoding, delimiter=delimiter,
                   header_names=header, first_data_row=header_index + 2, skipped=skipped)
    number = functools.partial(_number_gaps, raw, source_obj, skip=header_index + 1, width=len(names))
    if skipped:  # named by their rows whatever else
        number()
    else:  # when a row is named: a file of 10 million lines takes 0.4 s to look for empty lines in
        raw.find_gaps = lambda: has_inner_empty_line(source_obj, encoding) and number()
    return raw


def _number_gaps(raw: RawTable, source_obj, *, skip: int, width: int) -> None:
    """Number the rows of a CSV file with empty lines or skipped records as they stand in the
    file (:attr:`RawTable.gaps`), and the skipped records too, from :func:`csv_gaps`; consecutively
    as before where its records do not match the reader's."""
    found = csv_gaps(source_obj, raw.encoding, raw.delimiter, skip=skip, width=width)
    if found is None:
        return
    records, empty, other_width = found
    if records - len(empty) - len(other_width) != len(raw.frame) or len(other_width) != len(raw.skipped):
        return
    numbers: dict[tuple, list[int]] = {}  # a skipped record's fields -> its row numbers, in file order
    for number, fields in other_width.items():
        numbers.setdefault(fields, []).append(number)
    skipped = []
    for reason, text, _ in raw.skipped:  # in the order the reader's threads met them
        fields = tuple(next(csv.reader([text], delimiter=raw.delimiter), []))
        rows = numbers.get(fields)
        skipped.append((reason, text, rows.pop(0) if rows else None))
    raw.skipped = sorted(skipped, key=lambda s: (s[2] is None, s[2] or 0))
    raw.gaps = sorted(empty + list(other_width))


#: a line break followed by another (an empty line), with text after it: an empty line inside
#: the table, which moves the rows below it (empty lines at the end move nothing)
_INNER_EMPTY_LINE = r"(?:\r\n|\n|\r(?!\n))(?:\r\n|\n|\r(?!\n))[\r\n]*[^\r\n]"
#: characters (or bytes) read at a time when looking for one
TEXT_CHUNK = 1 << 24


def _binary(source_obj):
    """The file's bytes as a stream (a path, gzipped or not, or a copy of in-memory bytes: the
    stream may be closed after)."""
    if isinstance(source_obj, (str, os.PathLike)):
        with open(source_obj, "rb") as fh:
            gzipped = fh.read(2) == b"\x1f\x8b"
        return gzip.open(source_obj, "rb") if gzipped else open(source_obj, "rb")
    return io.BytesIO(source_obj.getvalue())


def _text_lines(source_obj, encoding: str):
    """The file's text as a stream of lines for :mod:`csv`."""
    return io.TextIOWrapper(_binary(source_obj), encoding=encoding, errors="replace", newline="")


def has_inner_empty_line(source_obj, encoding: str) -> bool:
    """Whether the file has an empty line with text below it (perhaps inside a quoted value: a
    cheap test, before :func:`csv_gaps` reads the records). Encodings that write line breaks as
    the bytes 13 and 10 (UTF-8 with or without a BOM, cp1251…) are looked at as bytes: 0.36 s for
    10 million lines, against 1.6 s for their text."""
    as_bytes = "x\r\n".encode(encoding).endswith(b"x\r\n")
    stream = _binary(source_obj) if as_bytes else _text_lines(source_obj, encoding)
    pattern = re.compile(_INNER_EMPTY_LINE.encode() if as_bytes else _INNER_EMPTY_LINE)
    cr, lflf, crcr, lfcrlf, both = (t.encode() if as_bytes else t for t in ("\r", "\n\n", "\r\r", "\n\r\n", "\r\n"))
    tail = b"" if as_bytes else ""
    with stream:
        while chunk := stream.read(TEXT_CHUNK):
            text = tail + chunk
            # a carriage return is rare, and found at once; two line feeds take longer to look for
            if (lflf in text or cr in text and (crcr in text or lfcrlf in text)) and pattern.search(text):
                return True
            tail = text[-(len(text) - len(text.rstrip(both)) + 1):]  # the last character, the breaks after it
    return False


def line_gaps(source_obj, *, skip: int) -> tuple[int, list[int]] | None:
    """The lines below the first ``skip`` of a file in UTF-8 (or a code page that writes line
    breaks as bytes 13 and 10): how many are not empty, and the row numbers of the empty ones.
    Where no quoted value spans lines, its records are its lines and these are :func:`csv_gaps`'
    records and empty lines, found in bytes (0.65–0.97 s for 10 million lines against 2.4 s); the caller
    checks that count against the records it read. None for a file with lone carriage returns."""
    empty: list[int] = []
    breaks = 0  # line feeds before ``text``
    carry = b""  # the end of the previous chunk, looked at again: a break may span two chunks
    last = b""
    with _binary(source_obj) as stream:
        while True:
            chunk = stream.read(TEXT_CHUNK)
            text = carry + chunk
            if not text:
                break
            if not chunk and text.endswith(b"\r") or b"\r" in text and re.search(rb"\r(?![\n]|$)", text):
                return None
            found = []
            for pattern, end in ((b"\n\n", 1), (b"\n\r\n", 2)) if b"\r" in text else ((b"\n\n", 1),):
                at = text.find(pattern)
                while at != -1:
                    if at + end >= len(carry):  # not seen in the previous chunk
                        found.append(at + end)
                    at = text.find(pattern, at + 1)
            counted, before = 0, breaks
            for at in sorted(found):  # the line feed that ends an empty line
                before += text.count(b"\n", counted, at)
                counted = at
                if before + 1 > skip:
                    empty.append(before + 1)
            if not chunk:
                break
            kept = min(2, len(text))
            breaks += text.count(b"\n", 0, len(text) - kept)
            carry, last = text[-kept:], text[-1:]
    lines = breaks + carry.count(b"\n") + (1 if last not in (b"\n", b"") else 0)
    return max(lines - skip, 0) - len(empty), empty


def csv_gaps(source_obj, encoding: str, delimiter: str, *, skip: int, width: int):
    """The records below the first ``skip`` that hold no row of the table, by their row number as
    a spreadsheet numbers the file's rows (1 + the records above, empty lines included; a quoted
    value over several lines is one record): ``(records, empty, other_width)``, the number of
    records below ``skip``, the empty lines, and the records of another number of fields than
    ``width`` (which the reader skips; row number -> fields). None where the text does not split
    into records (the rows are then numbered consecutively)."""
    csv.field_size_limit(sys.maxsize)
    empty: list[int] = []
    other_width: dict[int, tuple[str, ...]] = {}
    number = skip
    try:
        with _text_lines(source_obj, encoding) as stream:
            for number, record in enumerate(csv.reader(stream, delimiter=delimiter, quotechar='"'), start=1):
                if number <= skip:
                    continue
                if not record:
                    empty.append(number)
                elif len(record) != width:
                    other_width[number] = tuple(record)
    except (csv.Error, OSError, EOFError):
        return None
    return max(number - skip, 0), empty, other_width


def rows_after_gaps(index, first: int, gaps) -> np.ndarray:
    """The row numbers of data rows by their 0-based ``index``, when the first is row ``first`` and
    the rows ``gaps`` (sorted) hold none: row = first + index + the gaps above it."""
    import numpy as np

    gaps = np.asarray(gaps, dtype=np.int64)
    above = gaps - first - np.arange(len(gaps))  # the data rows above each gap
    index = np.asarray(index, dtype=np.int64)
    return first + index + np.searchsorted(above, index, side="right")


def _read_whitespace(source_obj, encoding: str, header_index: int, source: str) -> RawTable:
    import numpy as np
    import pandas as pd

    if hasattr(source_obj, "seek"):
        source_obj.seek(0)
    frame = pd.read_csv(
        source_obj, sep=r"\s+", dtype=str, encoding=encoding, skiprows=header_index, keep_default_na=False,
        compression="infer" if isinstance(source_obj, str) else None, skip_blank_lines=False,
    )
    header = [str(c) for c in frame.columns]
    frame.columns = unique_names(header)
    blank = (frame == "").all(axis=1).to_numpy()  # empty lines, kept until here to number the rows below them
    frame = frame[~blank].reset_index(drop=True)
    if frame.empty:
        raise EmptyInputError(f"{source}: has column names ({sample_text(header, 5)}) but no data rows")
    return RawTable(source=source, format="csv", frame=frame, encoding=encoding, delimiter="whitespace",
                    header_names=header, first_data_row=header_index + 2,
                    gaps=(np.flatnonzero(blank) + header_index + 2).tolist())


def show_delimiter(d: str) -> str:
    """A delimiter as the loader's messages write it: tab, space, whitespace, or quoted."""
    return {"\t": "tab", " ": "space"}.get(d, repr(d) if d != "whitespace" else "whitespace")


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe"}.get(delimiter, repr(delimiter))


def unique_names(header: list[str]) -> list[str]:
    """Make header names unique for the reader, keeping the first spelling: a, a (2), a (3)…"""
    seen: dict[str, int] = {}
    names = []
    for i, name in enumerate(header):
        name = str(name).strip() or f"column {i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        names.append(name)
    return names


# --- Parquet and XLSX ------------------------------------------------------------------------

def _read_parquet(path, source: str | None = None) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = source or str(path)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise InputError(f"{source}: cannot be read as Parquet ({str(e).splitlines()[0]})") from e
    header = list(table.column_names)
    for i, column in enumerate(table.schema):  # as DuckDB reads them; pandas would hold Decimal objects
        if pa.types.is_decimal(column.type):
            table = table.set_column(i, column.name, table.column(i).cast(pa.float64()))
    frame = table.to_pandas()
    frame.columns = unique_names(header)
    if frame.empty:
        raise EmptyInputError(f"{source}: has columns ({sample_text(header, 5)}) but no rows")
    return RawTable(source=source, format="parquet", frame=frame, header_names=header)


def _read_xlsx(path, sheet: str | None, source: str | None = None) -> RawTable:
    """Read the chosen sheet: python-calamine reads the cells (a tenth of openpyxl's time), as openpyxl would
    give them (:func:`_openpyxl_value`); a sheet with error cells (``#DIV/0!``…), whose text calamine drops,
    goes to openpyxl."""
    from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

    source = source or str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            if isinstance(path, io.IOBase):
                path.seek(0)
                book = CalamineWorkbook.from_filelike(path)
            else:
                book = CalamineWorkbook.from_path(str(path))
            worksheets = [i for i, m in enumerate(book.sheets_metadata) if m.typ == SheetTypeEnum.WorkSheet]
            index = worksheets[_sheet_index([book.sheet_names[i] for i in worksheets], sheet, source)]
            if _has_error_cells(archive, index):
                return _read_xlsx_openpyxl(path, sheet, source)
            ws = book.get_sheet_by_index(index)
            title, rows = ws.name, ws.to_python(skip_empty_area=False)
    except (zipfile.BadZipFile, CalamineError, KeyError, ValueError, OSError) as e:
        raise InputError(f"{source}: cannot be read as XLSX ({e})") from e
    del ws, book  # calamine's copy of the cells, freed before the table is built
    return _xlsx_table(source, title, rows, value=_openpyxl_value)


def _fit(row, width: int) -> list:
    return [*row, *[None] * (width - len(row))]


def _blank(cells) -> bool:
    """True if every cell is empty (None, or '' as calamine and some writers give it)."""
    return cells.count(None) + cells.count("") == len(cells)


def _sheet_index(names: list[str], sheet: str | None, source: str) -> int:
    """The position of ``--sheet`` (a name, or a number from 1) among the workbook's worksheets (not its chart
    sheets); the first by default."""
    if sheet is None:
        return 0
    if sheet in names:
        return names.index(sheet)
    if sheet.isdigit() and 1 <= int(sheet) <= len(names):
        return int(sheet) - 1
    raise InputError(f"{source}: no sheet {sheet!r}; the sheets are {sample_text(names, 20)}")


def _has_error_cells(archive, index: int) -> bool:
    """True if the ``index``-th sheet's XML has a cell of type ``e`` (an error such as ``#N/A``), or if that
    sheet cannot be found by its relationship (openpyxl then reads, or says why it cannot)."""
    import xml.etree.ElementTree as ET

    def local(name: str) -> str:  # transitional and strict OOXML name their elements in other namespaces
        return name.rsplit("}", 1)[-1]

    try:
        sheets = next(e for e in ET.fromstring(archive.read("xl/workbook.xml")) if local(e.tag) == "sheets")
        rid = next(v for k, v in sheets[index].attrib.items() if local(k) == "id")
        rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        target = next(r.get("Target") for r in rels if r.get("Id") == rid)
        name = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
        part = archive.open(name)
    except (KeyError, IndexError, StopIteration, ET.ParseError):
        return True
    tail = b""
    with part:  # t="e" may match another attribute too: then openpyxl reads, as before
        while chunk := part.read(1 << 22):
            chunk = tail + chunk
            if b't="e"' in chunk or b"t='e'" in chunk:
                return True
            tail = chunk[-4:]
    return False


def _openpyxl_value(value):
    """A calamine cell as openpyxl gives it: whole numbers below 1e16 (written without an exponent) as int,
    dates as midnight datetimes, empty cells as None."""
    kind = type(value)
    if kind is float:
        return int(value) if value.is_integer() and -1e16 < value < 1e16 else value
    if kind is str:
        return value or None
    if kind is date:
        return datetime(value.year, value.month, value.day)
    return value


def _read_xlsx_openpyxl(path, sheet: str | None, source: str) -> RawTable:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    if isinstance(path, io.IOBase):
        path.seek(0)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as e:
        raise InputError(f"{source}: cannot be read as XLSX ({e})") from e
    try:
        ws = book.worksheets[_sheet_index([w.title for w in book.worksheets], sheet, source)]
        return _xlsx_table(source, ws.title, list(ws.iter_rows(values_only=True)))
    finally:
        book.close()


def _xlsx_table(source: str, title: str, rows: list, value=None) -> RawTable:
    """The table of a sheet's rows (from row 1): the header row among the first 30 non-empty rows, then every
    non-empty row below it, cut or padded to the header's width; ``value`` maps each cell kept."""
    import numpy as np
    import pandas as pd

    head: list[tuple[int, list]] = []
    for number, row in enumerate(rows, start=1):
        if not _blank(row):
            head.append((number, row))
        if len(head) == 30:
            break
    if not head:
        raise EmptyInputError(f"{source}: sheet {title!r} is empty")
    pick = find_header_row([list(map(value, row)) if value else list(row) for _, row in head])
    header_number, header_row = head[pick]
    header_row = list(map(value, header_row)) if value else header_row
    width = max(i + 1 for i, v in enumerate(header_row) if v not in (None, ""))
    header = ["" if v is None else str(v).strip() for v in header_row[:width]]
    below = rows[header_number:]  # row numbers count from 1: the rows after the header's
    lengths = set(map(len, below))
    if len(lengths) > 1 or lengths and min(lengths) < width:  # openpyxl's, where a sheet does not state its size
        below = [_fit(row, max(width, *lengths)) for row in below]
    # one array for the cells (1.3 s less than lists at 1e6 rows), without the rows where all are empty
    cells = np.array(below, dtype=object)[:, :width] if below else np.empty((0, width), dtype=object)
    kept = ~((cells == "") | (cells == None)).all(axis=1)  # == None: cell by cell
    cells = cells[kept]
    if not len(cells):
        raise EmptyInputError(f"{source}: has column names ({sample_text(header, 5)}) but no data rows")
    frame = pd.DataFrame({i: list(map(value, cells[:, i])) if value else cells[:, i].tolist() for i in range(width)},
                         dtype=object)
    frame.columns = unique_names(header)
    empty = np.flatnonzero(~kept[:np.flatnonzero(kept)[-1]]) + header_number + 1  # those above the last data row
    return RawTable(source=source, format="xlsx", frame=frame, header_names=header,
                    first_data_row=header_number + 1, gaps=empty.tolist())
