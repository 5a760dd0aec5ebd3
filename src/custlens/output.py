"""Every output format in one place: ``emit(frame, fmt=..., path=...)``.

- No ``-o`` and no ``--format``: a rich table when stdout is a terminal, else CSV.
- ``-o FILE``: the format comes from the extension; the file is written to a temporary
  file beside it and renamed, so it appears whole or not at all.
- CSV/TSV/XLSX text cells that would start a formula (``= + - @``, tab, CR) get a
  leading apostrophe; numbers stay numbers.
- Dates are written as ``YYYY-MM-DD`` (or with the time when there is one).
"""

from __future__ import annotations

import io
import json
import math
import re
import sys
from typing import NamedTuple

import numpy as np
import pandas as pd

from .errors import OutputError, count
from .formats import BINARY, DAY_TEXT, FORMATS, FORMULA_START, TIME_TEXT
from .sink import choose_format, write_atomic
from .sink import isatty as _isatty

TABLE_ROWS = 100
XLSX_MAX_ROWS = 1_048_575


def select(frame: pd.DataFrame, *, sort: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Rows in the order asked for: ``sort="monetary"`` ascending, ``"-monetary"`` descending
    (stable: ties keep their order); then the first ``limit`` rows."""
    if sort:
        column = sort.lstrip("-")
        if column not in frame.columns:
            raise OutputError(f"--sort {sort}: no column {column!r}; the columns are {', '.join(frame.columns)}")
        frame = frame.sort_values(column, ascending=not sort.startswith("-"), kind="stable",
                                  na_position="last", ignore_index=True)
    if limit is not None:
        frame = frame.head(limit)
    return frame


def emit(frame: pd.DataFrame, *, fmt: str | None = None, path: str | None = None,
         title: str | None = None, stdout=None, sort: str | None = None, limit: int | None = None) -> str:
    """Write ``frame`` (sorted and cut by :func:`select`) to ``path`` or stdout in ``fmt``;
    returns the format used."""
    stdout = stdout or sys.stdout
    frame = select(frame, sort=sort, limit=limit)
    fmt = choose_format(fmt, path, _isatty(stdout))
    if path:
        if fmt == "table":
            raise OutputError(f"{path}: a table is for the terminal; pick csv, tsv, json, jsonl, parquet or xlsx")
        write_atomic(path, lambda fh: write(frame, fmt, fh, title=title), binary=True)
        return fmt
    if fmt == "table":
        render_table(frame, title=title, file=stdout)
    elif fmt in BINARY:
        if _isatty(stdout):
            raise OutputError(f"{fmt} is binary and stdout is a terminal; add -o FILE.{fmt} or pipe it")
        buffer = getattr(stdout, "buffer", None)
        if buffer is None:
            raise OutputError(f"{fmt} needs a binary stdout; add -o FILE.{fmt}")
        write(frame, fmt, buffer, title=title)
        buffer.flush()
    else:
        text = io.BytesIO()
        write(frame, fmt, text, title=title)
        stdout.write(text.getvalue().decode("utf-8"))
        stdout.flush()
    return fmt


def emit_object(data: dict, *, fmt: str | None = None, path: str | None = None, title: str | None = None) -> None:
    """One record (fitted parameters, say): a JSON object for json, a name/value table otherwise."""
    chosen = choose_format(fmt, path, _isatty(sys.stdout))
    if chosen == "json":
        text = json.dumps({k: _plain(v) for k, v in data.items()}, ensure_ascii=False, indent=1) + "\n"
        if path:
            write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
        return
    frame = pd.DataFrame({"name": list(data), "value": [str(_plain(v)) for v in data.values()]}, dtype="string")
    emit(frame, fmt=fmt, path=path, title=title)


def write_json(data, path: str) -> None:
    """A JSON document (a saved baseline or model), written atomically, UTF-8, stable key order."""
    text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))


def write_parquet(frame: pd.DataFrame, fh) -> None:
    """``frame`` as Parquet, typed as the DuckDB engine writes the same report: text as string
    (pandas would write large_string), times in microseconds (pandas: its own unit, ms or ns)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type)
              else pa.field(f.name, pa.timestamp("us", f.type.tz)) if pa.types.is_timestamp(f.type) else f
              for f in table.schema]
    pq.write_table(table.cast(pa.schema(fields, metadata=table.schema.metadata)), fh)


def write(frame: pd.DataFrame, fmt: str, fh, *, title: str | None = None) -> None:
    """Write ``frame`` in ``fmt`` to the binary file object ``fh``."""
    if fmt in ("csv", "tsv"):
        cells = safe_cells(frame)
        sep = "," if fmt == "csv" else "\t"
        if len(cells) < FAST_CSV_ROWS or not _write_csv_fast(cells, sep, fh):
            fh.write(cells.to_csv(index=False, sep=sep, date_format="%Y-%m-%d", lineterminator="\n").encode("utf-8"))
    elif fmt == "json":
        fh.write((json.dumps(records(frame), ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    elif fmt == "jsonl":
        encode = json.JSONEncoder(ensure_ascii=False).encode  # one encoder: json.dumps makes one a call
        fh.write("".join([encode(record) + "\n" for record in records(frame)]).encode("utf-8"))
    elif fmt == "parquet":
        typed = typed_columns(frame).copy(deep=False)
        typed.attrs = {}  # notes for the terminal (dates, column lists), which pandas would put in the file as JSON
        write_parquet(typed, fh)
    elif fmt == "xlsx":
        write_xlsx(frame, fh, title=title)
    elif fmt == "table":
        out = io.StringIO()
        render_table(frame, title=title, file=out)
        fh.write(out.getvalue().encode("utf-8"))
    else:
        raise OutputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


#: from this many rows, CSV is written by DuckDB (0.3 s for 500,000 rows × 9 columns where pandas
#: takes 1.9 s); below it, importing DuckDB would cost more than it saves
FAST_CSV_ROWS = 50_000


def _write_csv_fast(cells: pd.DataFrame, sep: str, fh) -> bool:
    """Write ``cells`` as :meth:`pandas.DataFrame.to_csv` would (the same bytes), with DuckDB's
    CSV writer; False, having written nothing, when a cell might come out differently.

    The rule: numbers (float64 written as Python's repr, NaN and NA empty; integers) and text.
    Both writers quote a text cell that holds the separator, a quote or a line feed, alike
    (tests/test_output.py); a cell with '#' or a carriage return goes to pandas, which does not
    quote them where DuckDB does. An empty cell: pandas writes an empty string as it writes NA
    (nothing), so it becomes NA here; a lone cell in its line is the exception ("" there). True
    and False are written as pandas writes them, categories of text as that text. Other column
    types (mixed objects, other categories…) go to pandas."""
    from .engine import copy_csv, duckdb_core

    if cells.shape[1] == 1 and (cells.iloc[:, 0].isna() | (cells.iloc[:, 0].astype("string") == "")).any():
        return False  # Python's csv writes a lone empty cell as "", so that the line is not blank
    plain = cells.copy(deep=False)
    quoted = "[" + re.escape("\"\n\r#" + sep) + "]"
    unlike = "[\r#]"  # quoted by DuckDB, not by pandas
    for name in plain.columns:
        column = plain[name]
        if not isinstance(name, str) or name == "" or re.search(quoted, name):
            return False
        if column.dtype == "float64" or column.dtype == "int64" or column.dtype == "Int64":
            continue
        if column.dtype == "bool":
            plain[name] = column.map({True: "True", False: "False"}).astype("string")
            continue
        if isinstance(column.dtype, pd.CategoricalDtype) and pd.api.types.infer_dtype(
                column.cat.categories, skipna=True) in ("string", "empty"):
            column = column.astype("string")  # pandas writes a category of text as that text
        if not pd.api.types.is_string_dtype(column.dtype) or (
                column.dtype == object and pd.api.types.infer_dtype(column, skipna=True) not in ("string", "empty")):
            return False
        text = column.astype("string")
        if text.str.contains(unlike, regex=True).fillna(False).any():
            return False
        plain[name] = text.mask(text == "")
    core = duckdb_core()
    con = core.connect()
    try:
        con.register("cells", plain)
        copy_csv(con, "SELECT * FROM cells", fh, sep=sep)
    except core.Error:
        return False  # a column DuckDB cannot take: pandas writes the table
    finally:
        con.close()
    return True


def typed_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of mixed Python values (numbers next to text, as in a table of measures) become
    text, so that typed formats like Parquet can hold them."""
    out = frame
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object:
            kinds = {type(v) for v in column.dropna()}
            if len(kinds) > 1 or kinds - {str}:
                out = out.copy() if out is frame else out
                out[name] = column.map(lambda v: None if pd.isna(v) else str(_plain(v))).astype("string")
    return out


def safe_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with an apostrophe."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if column.dtype == object or pd.api.types.is_string_dtype(column.dtype):
            text = column.astype("string")
            risky = text.str.startswith(FORMULA_START).fillna(False)
            if risky.any():
                out[name] = text.mask(risky, "'" + text)
    for name in out.columns:
        if out[name].dtype.kind == "M":
            out[name] = _date_text(out[name])
    return out


def _date_text(column: pd.Series) -> pd.Series:
    values = column.dropna()
    has_time = bool(len(values)) and bool((values != values.dt.normalize()).any())
    return column.dt.strftime(TIME_TEXT if has_time else DAY_TEXT).astype("string")


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: dates as ISO text, NaN/NA/±inf as null, numpy scalars as
    Python. Built column by column (a list of Python values each), then zipped into rows."""
    names = list(frame.columns)
    columns = []
    for name in names:
        column = frame[name]
        if column.dtype.kind == "M":
            column = _date_text(column)
        values = _none_where(column.astype(object).tolist(), column.isna().to_numpy())
        if column.dtype.kind not in "OSUiub" or not all(type(v) in (str, int, bool) or v is None for v in values):
            values = [_plain(v) for v in values]
        columns.append(values)
    return [dict(zip(names, row)) for row in zip(*columns)] if names else [{} for _ in range(len(frame))]


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def write_xlsx(frame: pd.DataFrame, fh, *, title: str | None = None) -> None:
    """One sheet, laid out by :func:`add_sheet`. XlsxWriter writes the workbook around the data
    (styles, widths, the frozen header, the filter) and one row that tells each column's style;
    the data rows are then written here as the XML XlsxWriter writes for each cell, the same
    bytes (tests/test_output.py), 10× faster: XlsxWriter spends ~10 µs a cell in Python, which
    made 500,000 customers × 11 columns a one-minute wait."""
    import datetime as dt
    import zipfile
    from concurrent.futures import ThreadPoolExecutor

    scaffold = io.BytesIO()
    book = new_workbook(scaffold)
    sheet, columns = _lay_out_sheet(book, frame, title or "custlens")
    filled = np.column_stack([column.filled() for column in columns]) if columns else np.zeros((len(frame), 0), bool)
    rows_filled = np.flatnonzero(filled.any(axis=1))
    last = int(rows_filled[-1]) + 1 if len(rows_filled) else 0  # the last data row with a cell (XlsxWriter's dimension)
    # a stand-in cell in each used format, one row each, in the order the data first uses them:
    # XlsxWriter numbers the styles in that order
    stand_in = {"date": dt.datetime(2000, 1, 1), "bool": True, "number": 0, "any": 0}
    first_use = sorted((int(np.argmax(filled[:, j])), j) for j in range(len(columns)) if filled[:, j].any())
    for row, (_, j) in enumerate(first_use, start=1):
        _cell_writer(sheet, columns[j].kind)(row, j, stand_in[columns[j].kind], columns[j].fmt)
    book.close()
    if not last:  # no data cell: the header is the whole sheet
        fh.write(scaffold.getvalue())
        return
    with zipfile.ZipFile(scaffold) as src, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=2) as out:
        for info in src.infolist():
            part = src.read(info.filename)
            if info.filename != "xl/worksheets/sheet1.xml":
                out.writestr(info, part)
                continue
            head, stand_ins, tail = re.match(rb'(.*?)(<row r="2">.*</row>)(</sheetData>.*)', part, re.DOTALL).groups()
            styles = dict(re.findall(rb'<c r="([A-Z]+)\d+"(?: s="(\d+)")?', stand_ins))
            head = re.sub(rb'<dimension ref="A1:([A-Z]+)\d+"/>', rb'<dimension ref="A1:\g<1>%d"/>' % (last + 1), head)
            big = len(frame) * len(columns) * 150 > 1 << 31  # the XML may pass 2 GiB: ZIP64 then
            # zlib lets go of the GIL: a chunk is compressed and written in a thread while the
            # next one is put together (1.3 s of compression off a 9 s write at 485,455 rows)
            with out.open(info.filename, "w", force_zip64=big) as sheet_xml, ThreadPoolExecutor(1) as writer:
                sheet_xml.write(head)
                written = None
                for start in range(0, len(frame), XLSX_CHUNK_ROWS):
                    stop = min(len(frame), start + XLSX_CHUNK_ROWS)
                    rows = _rows_xml(columns, [column.texts(start, stop) for column in columns], styles, start, stop)
                    if written:
                        written.result()
                    written = writer.submit(sheet_xml.write, rows)
                if written:
                    written.result()
                sheet_xml.write(tail)


#: rows turned into XML at a time (bounds the memory of the text: ~1 KB a row)
XLSX_CHUNK_ROWS = 20_000


def new_workbook(fh, *, constant_memory: bool = True):
    """An XlsxWriter workbook where text is always text (never a formula, URL or number)."""
    import xlsxwriter

    return xlsxwriter.Workbook(fh, {"constant_memory": constant_memory, "strings_to_formulas": False,
                                    "strings_to_urls": False, "strings_to_numbers": False})


def sheet_name(title: str) -> str:
    return title[:31].translate(str.maketrans("[]:*?/\\", "()-----"))


def add_sheet(book, frame: pd.DataFrame, title: str):
    """A sheet holding ``frame``: bold header, frozen first row, filters on, widths from the
    content, numbers as numbers, dates as dates, text as text. Returns the worksheet."""
    sheet, columns = _lay_out_sheet(book, frame, title)
    writers = [(column.cells(), _cell_writer(sheet, column.kind), column.fmt) for column in columns]
    for i in range(len(frame)):
        for j, (values, write_cell, fmt) in enumerate(writers):
            value = values[i]
            if value is not None:
                write_cell(i + 1, j, value, fmt)
    return sheet


def _lay_out_sheet(book, frame: pd.DataFrame, title: str):
    """The sheet of :func:`add_sheet` with its header, widths, frozen row and filter, and its
    columns (:class:`XlsxColumn`), whose cells are still to write."""
    if len(frame) > XLSX_MAX_ROWS:
        raise OutputError(f"{len(frame):,} rows do not fit in one XLSX sheet (at most {XLSX_MAX_ROWS:,}); "
                          "write csv or parquet instead")
    sheet = book.add_worksheet(sheet_name(title))
    header = book.add_format({"bold": True, "bg_color": "#DDE4EE", "bottom": 1})
    safe = safe_cells(frame)
    columns = []
    for j, name in enumerate(frame.columns):
        column = frame[name]
        kind = column.dtype.kind
        lengths = safe[name].head(1000).astype("string").fillna("").str.len()
        sheet.set_column(j, j, min(60, max(len(str(name)), int(lengths.max()) if len(lengths) else 0) + 2))
        if kind == "M":
            has_time = bool((column.dropna() != column.dropna().dt.normalize()).any())
            fmt = book.add_format({"num_format": "yyyy-mm-dd hh:mm" if has_time else "yyyy-mm-dd"})
            columns.append(XlsxColumn("date", column, fmt))
        elif kind == "b":
            columns.append(XlsxColumn("bool", column, None))
        elif kind in "iuf" or str(column.dtype) in ("Int64", "Float64"):
            fmt = book.add_format({"num_format": "#,##0.00" if kind == "f" else "#,##0"})
            columns.append(XlsxColumn("number", column, fmt))
        else:
            columns.append(XlsxColumn("any", safe[name], None))
    sheet.write_row(0, 0, [str(c) for c in frame.columns], header)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(frame), max(0, len(frame.columns) - 1))
    return sheet, columns


class XlsxColumn(NamedTuple):
    """A column of a sheet: ``kind`` date, bool, number or any (numbers as numbers, the rest as
    text: a table of measures), its values (text already made safe) and its XlsxWriter format."""

    kind: str
    series: pd.Series
    fmt: object

    def cells(self) -> list:
        """The cell values as Python objects, None for an empty cell (NA, NaN, ±inf). Numbers
        are floats: XlsxWriter writes an int and its float alike (``%.16G``)."""
        if self.kind == "number":
            values = self.series.to_numpy(dtype="float64", na_value=np.nan)
            return _none_where(values.tolist(), ~np.isfinite(values))
        missing = self.series.isna().to_numpy()
        if self.kind == "date":
            return [None if gone else v.to_pydatetime() for v, gone in zip(self.series, missing)]
        values = _none_where(self.series.tolist(), missing)
        if self.kind == "any" and not all(type(v) is str or v is None for v in values):
            return [_plain(v) for v in values]
        return values

    def filled(self) -> np.ndarray:
        """Where the column has a cell (not NA, NaN or ±inf)."""
        if self.kind == "number":
            return np.isfinite(self.series.to_numpy(dtype="float64", na_value=np.nan))
        if self.kind == "any":
            return np.array([v is not None for v in self.cells()], dtype=bool)
        return self.series.notna().to_numpy()

    def texts(self, start: int, stop: int) -> list:
        """Rows start..stop-1 as :func:`_rows_xml` writes them: numbers and dates as XlsxWriter
        writes a number (``%.16G``; whole numbers below 1e16 as their digits, the same text),
        booleans 1 or 0, None where empty; text and mixed values as :meth:`cells`."""
        return XlsxColumn(self.kind, self.series.iloc[start:stop], self.fmt)._texts()

    def _texts(self) -> list:
        if self.kind == "bool":
            return _none_where(["1" if v else "0" for v in self.series.fillna(False).tolist()],
                               self.series.isna().to_numpy())
        if self.kind == "any":
            return self.cells()
        values = self._serials() if self.kind == "date" else self.series.to_numpy(dtype="float64", na_value=np.nan)
        empty = ~np.isfinite(values)
        shown = values[~empty]
        if (np.array_equal(shown, np.trunc(shown)) and (np.abs(shown) < 1e16).all()
                and not np.signbit(shown[shown == 0]).any()):  # -0 is written "-0"
            texts = [str(v) for v in np.where(empty, 0, values).astype("int64").tolist()]
        else:
            texts = [f"{v:.16G}" for v in values.tolist()]
        return _none_where(texts, empty)

    def _serials(self) -> np.ndarray:
        """A date column as Excel's serial days (NaN where empty): days since 1899-12-31 plus the
        time as a fraction of a day (microseconds kept), one day more after 1900-02-28 (Excel's
        29 February 1900) and one less on 1 January 1900: XlsxWriter's rule, to the bit."""
        micros = self.series.to_numpy(dtype="datetime64[us]").astype("int64")
        since = micros - EXCEL_EPOCH_MICROS
        days = since // 86_400_000_000
        within = since - days * 86_400_000_000
        serial = days + ((within // 1_000_000).astype("float64") + (within % 1_000_000).astype("float64") / 1e6) / 86400
        serial = np.where(days == 1, serial - 1, serial)  # 1 January 1900 (XlsxWriter's isocalendar rule)
        serial = np.where(serial > 59, serial + 1, serial)
        return np.where(self.series.isna().to_numpy(), np.nan, serial)


#: 1899-12-31, the day before Excel's day 1, in microseconds since 1970
EXCEL_EPOCH_MICROS = -25_568 * 86_400_000_000


def _none_where(values: list, empty) -> list:
    if empty.any():
        for i in np.flatnonzero(empty).tolist():
            values[i] = None
    return values


def _cell_writer(sheet, kind: str):
    return {"date": sheet.write_datetime, "bool": sheet.write_boolean, "number": sheet.write_number,
            "any": _write_any(sheet)}[kind]


def _write_any(sheet):
    """A cell writer for mixed columns (a table of measures): numbers as numbers, the rest as text."""
    def write(row, col, value, fmt=None):
        if isinstance(value, bool):
            sheet.write_boolean(row, col, value)
        elif isinstance(value, (int, float)):
            sheet.write_number(row, col, value)
        else:
            sheet.write_string(row, col, str(value))
    return write


def _rows_xml(columns: list[XlsxColumn], values: list[list], styles: dict, start: int, stop: int) -> bytes:
    """The ``<row>`` elements of data rows start..stop-1 (sheet rows start+2…) from the columns'
    :meth:`XlsxColumn.texts`, cell by cell as XlsxWriter's constant-memory mode writes them:
    ``r``, then ``s`` (the column's style); booleans ``t="b"``; text as an inline string with
    control characters escaped as ``_xHHHH_``."""
    from xlsxwriter.utility import xl_col_to_name

    numbers = [str(i + 2) for i in range(start, stop)]
    needs_care = _XML_CARE.search
    cells = []
    for j, column in enumerate(columns):
        letter = xl_col_to_name(j)
        style = styles.get(letter.encode())
        s = f' s="{style.decode()}"' if style else ""
        chunk = values[j]
        if column.kind in ("date", "number"):
            cells.append(["" if v is None else f'<c r="{letter}{r}"{s}><v>{v}</v></c>' for r, v in zip(numbers, chunk)])
        elif column.kind == "bool":
            cells.append(["" if v is None else f'<c r="{letter}{r}"{s} t="b"><v>{v}</v></c>'
                          for r, v in zip(numbers, chunk)])
        else:  # text goes in as it is unless it needs escaping or cutting, or is not text (_any_cell)
            cells.append(["" if v is None else f'<c r="{letter}{r}" t="inlineStr"><is><t>{v}</t></is></c>'
                          if type(v) is str and len(v) <= XLSX_MAX_TEXT // 2 and not needs_care(v)
                          else _any_cell(f"{letter}{r}", v)
                          for r, v in zip(numbers, chunk)])
    return "".join([f'<row r="{r}">{"".join(row)}</row>' if any(row) else ""
                    for r, row in zip(numbers, zip(*cells))]).encode("utf-8")


def _any_cell(ref: str, value) -> str:
    """One cell of a mixed column: numbers (not booleans) as numbers, booleans, the rest as text."""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float)):
        return f'<c r="{ref}"><v>{value:.16G}</v></c>'
    text = str(value)
    if len(text) > XLSX_MAX_TEXT // 2 and len(text.encode("utf-16-le", "surrogatepass")) // 2 > XLSX_MAX_TEXT:
        return _any_cell(ref, _truncate_utf16(text))
    if _XML_CARE.search(text):
        text = _XML_CONTROL_ESCAPE.sub(r"_x005F\1", text)
        text = _XML_CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)
        text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if _XML_EDGE_SPACE.search(text):
            return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


#: XLSX's longest text cell, in UTF-16 units
XLSX_MAX_TEXT = 32_767
#: text that may not go into the XML as it is: a markup or control character, what may be an
#: Excel escape (_xHHHH_), a non-character, white space at either end
_XML_CARE = re.compile(r"[&<>\x00-\x1f\ufffe\uffff]|_x|^\s|\s$")
_XML_CONTROL_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
_XML_CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
_XML_EDGE_SPACE = re.compile(r"^\s|\s$")


def _truncate_utf16(text: str) -> str:
    """``text`` cut to :data:`XLSX_MAX_TEXT` UTF-16 units without splitting a character."""
    units = text.encode("utf-16-le", "surrogatepass")[: 2 * XLSX_MAX_TEXT]
    return units.decode("utf-16-le", "ignore")


def render_table(frame: pd.DataFrame, *, title: str | None = None, file=None, max_rows: int = TABLE_ROWS) -> None:
    """A rich table for people; the data itself is untouched. Numbers are right-aligned and never
    wrapped. Shown as percentages: columns named ``share``/``*_share``/``share_*`` or listed in
    ``frame.attrs["percent"]``, and in a table of measures or KPIs (first column ``measure`` or
    ``kpi``) the rows whose name ends in ``share`` or ``rate`` or starts with ``returning_``.
    ``pct_change`` is signed, ``p_value`` has three digits, and ``verdict`` gets ▲/▼ in colour.
    At most ``max_rows`` rows, with a note of the rest on stderr. Off a terminal the table takes
    the width it needs."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    file = file or sys.stdout
    console = Console(file=file, highlight=False, width=None if _isatty(file) else 400)
    table = Table(title=escape(title) if title else None, show_lines=False, header_style="bold")
    shown = frame.head(max_rows)
    percent_columns = {c for c in frame.columns if is_percent_column(frame, c)}
    percent_rows = percent_row_mask(shown)
    row_labels = len(shown.columns) > 0 and str(shown.columns[0]) in ("measure", "kpi")
    cells = []
    for name in frame.columns:
        column = shown[name]
        label = str(name)
        kind = column.dtype.kind
        table.add_column(escape(label), justify="right" if kind in "iuf" else "left",
                         no_wrap=kind in "iufM", overflow="fold")
        if label == "verdict":
            cells.append([_verdict(v) for v in column])
            continue
        if kind == "f" and name in percent_columns:
            cells.append(["" if pd.isna(v) else f"{v:.1%}" for v in column])
            continue
        if label == "pct_change":
            cells.append(["" if pd.isna(v) else f"{v:+.1f}%" for v in column])
            continue
        if label == "p_value":
            cells.append(["" if pd.isna(v) else "<0.001" if v < 0.001 else f"{v:.3f}" for v in column])
            continue
        whole = kind == "f" and bool((column.dropna() == column.dropna().round()).all())
        cells.append([f"{v:.1%}" if row_percent and isinstance(v, (float, np.floating)) and not pd.isna(v)
                      else escape(format_cell(v, whole_numbers=whole or (row_labels and _is_whole(v))))
                      for v, row_percent in zip(column, percent_rows)])

    for row in zip(*cells):
        table.add_row(*row)
    console.print(table, crop=False)
    if len(frame) > max_rows:
        Console(stderr=True, highlight=False).print(
            f"[dim]showing {max_rows} of {len(frame):,} rows; -o FILE or --format csv for all of them[/dim]"
        )


def is_percent_column(frame: pd.DataFrame, name) -> bool:
    """Shares shown as percentages: columns named ``share``, ``*_share``, ``share_*`` or listed
    in ``frame.attrs["percent"]``."""
    label = str(name)
    return (label == "share" or label.endswith("_share") or label.startswith("share_")
            or label in frame.attrs.get("percent", []))


def percent_row_mask(frame: pd.DataFrame) -> np.ndarray:
    """In a table of measures or KPIs (first column ``measure`` or ``kpi``), the rows that hold
    shares or rates: names ending in ``share``/``rate`` or starting with ``returning_``/``share_``."""
    if not len(frame.columns) or str(frame.columns[0]) not in ("measure", "kpi"):
        return np.zeros(len(frame), dtype=bool)
    names = frame.iloc[:, 0].astype("string").fillna("")
    return (names.str.endswith(("share", "rate")) | names.str.startswith(("returning_", "share_"))).to_numpy()


def _is_whole(value) -> bool:
    return isinstance(value, (float, np.floating)) and not pd.isna(value) and float(value).is_integer()


def _verdict(value) -> str:
    if value == "up":
        return "[green]▲ up[/green]"
    if value == "down":
        return "[red]▼ down[/red]"
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else f"[dim]{value}[/dim]"


def format_cell(value, *, whole_numbers: bool = False) -> str:
    """Text for a terminal cell: thousands separators, two decimals (none in a column of whole
    numbers), dates as days (with the time when there is one)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{value:,.0f}" if whole_numbers else f"{value:,.2f}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        value = pd.Timestamp(value)
        return value.strftime("%Y-%m-%d") if value == value.normalize() else value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def status(message: str):
    """A transient spinner on stderr while long work runs; nothing when stderr is not a terminal."""
    import contextlib

    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return contextlib.nullcontext()
    return console.status(message, spinner="dots")


def render_inspection(result: dict, file=None) -> None:
    """The human view of :func:`custlens.io.inspect.inspect`."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file or sys.stdout, highlight=False)
    facts = [("files", ", ".join(result["files"])), ("kind", result["kind"]), ("format", result["format"])]
    if result.get("encoding"):
        facts.append(("encoding", result["encoding"]))
    if result.get("delimiter"):
        facts.append(("delimiter", {"\t": "tab"}.get(result["delimiter"], result["delimiter"])))
    if result.get("decimal"):
        facts.append(("decimal mark", result["decimal"]))
    if result.get("engine"):
        facts.append(("engine", result["engine"]))
    for role, fmts in result.get("date_formats", {}).items():
        facts.append((f"{role} format", " + ".join(fmts)))
    facts.append(("rows", f"{result['rows']:,}"))
    if "rows_loaded" in result:
        facts.append(("rows usable", f"{result['rows_loaded']:,}"))
    if "customers" in result:
        facts.append(("customers", f"{result['customers']:,}"))
    if "date_range" in result:
        facts.append(("dates", " … ".join(result["date_range"])))
    if "total_amount" in result:
        facts.append(("total amount", f"{result['total_amount']:,.2f} ({count(result['return_lines'], 'return line')})"))
    overview = Table(show_header=False, box=None)
    overview.add_column(style="bold")
    overview.add_column()
    for key, value in facts:
        overview.add_row(key, value)
    console.print(overview)
    columns = Table(title="Columns", header_style="bold")
    columns.add_column("column")
    columns.add_column("role")
    columns.add_column("sample values")
    for col in result["columns"]:
        columns.add_row(col["column"], col["role"] or "[dim]—[/dim]", " | ".join(col["samples"]))
    console.print(columns)
    for line in result["problems"]:
        console.print(f"[bold red]problem:[/bold red] {line}")
    for line in result["notes"]:
        console.print(f"note: {line}")
    if result["ok"] and not result["problems"]:
        console.print("[green]no problems found[/green]")


def render_card(card: dict, file=None) -> None:
    """The customer card on a terminal: who, value, purchases, interactions, what to offer."""
    from rich.columns import Columns
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    console = Console(file=file or sys.stdout, highlight=False)

    def facts(pairs):
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in pairs:
            table.add_row(key, escape("" if value is None else format_cell(value) if not isinstance(value, str)
                                      else value))
        return table

    def listing(rows, title):
        if not rows:
            return Panel("[dim]none[/dim]", title=title)
        table = Table(header_style="bold")
        for key in rows[0]:
            table.add_column(key, justify="right" if isinstance(rows[0][key], (int, float)) else "left")
        for row in rows:
            table.add_row(*[escape("" if v is None else format_cell(v) if not isinstance(v, str) else v)
                            for v in row.values()])
        return Panel(table, title=title)

    who = facts([("name", card.get("name")), ("e-mail", card.get("email")), ("phone", card.get("phone")),
                 ("city", card.get("city")), ("source", card.get("source")), ("signed up", card.get("signup_date")),
                 ("marketing consent", {True: "yes", False: "no"}.get(card.get("consent"), "unknown"))])
    value = facts([("stage", card.get("lifecycle_stage")), ("RFM", f"{card.get('rfm_segment')} ({card.get('rfm')})"
                    if card.get("rfm") else None),
                   ("orders", card.get("orders")), ("total spend", card.get("total_spend")),
                   ("average order", card.get("avg_order_value")),
                   ("first / last order", f"{card.get('first_order')} / {card.get('last_order')}"
                    if card.get("first_order") else None),
                   ("next order expected", card.get("expected_next_order"))])
    console.print(Panel(Columns([who, value], expand=True, equal=True),
                        title=f"[bold]{escape(str(card['customer_id']))}[/bold] · as of {card['as_of']}"))
    favourite = ", ".join(f"{c['category']} {c['share']:.0%}" for c in card.get("favourite_categories", []))
    if favourite:
        console.print(f"[bold]favourite categories:[/bold] {escape(favourite)}")
    console.print(listing(card.get("last_purchases", []), "last purchases"))
    console.print(listing(card.get("interactions", []), "interactions (open first)"))
    if card.get("satisfaction"):
        console.print(listing(card["satisfaction"], "CSAT / NPS history"))
    console.print(listing(card.get("recommendations", []), "offer next"))
