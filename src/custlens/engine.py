"""The DuckDB engine: the per-customer summary straight from Parquet or CSV files, out of core.

custlens has two ways from purchase lines to the summary of :mod:`custlens.summary`:

- **pandas** (the reference): every loader rule (encodings, decimal commas, dd.mm.yyyy,
  quantity × price, exclusions with row samples, ``--rejects``, XLSX) and the summary in memory;
- **duckdb** (this module): one SQL aggregation over the files, reading only the mapped
  columns, in parallel, spilling to disk when the groups do not fit in memory.

This engine takes Parquet, and CSV with the header on the first line in any encoding (files
not in UTF-8 are read from a UTF-8 copy); dates typed, ISO text, or text in the other formats
the pandas loader reads (``dd.mm.yyyy``…); amounts typed, plain numbers, or text with decimal
commas, thousands separators and currency marks — such dates and amounts are parsed by the
loader's own parsers, once per distinct value (:func:`read_text_values`,
:mod:`custlens.textvalues`); a blank amount, or every amount where there is no amount column,
is quantity × unit price (:attr:`Source.fill_amounts`, both read as the loader reads them:
:func:`read_numbers`); ids as text or integers, stripped as the loader strips them; the rows
the loader excludes (no customer id, blank or unreadable dates and amounts, repeated header and
duplicate lines) excluded and counted as it does (:func:`_exclusions`), and listed for
``--rejects`` (:func:`rejected_rows`). What this engine does not reproduce (infinite amounts,
several currencies, XLSX…) raises
:class:`Unsupported` with the reason, and ``--engine auto`` hands the input to pandas.
Both engines give the same summary (``tests/test_engine.py``): counts and dates exactly,
money to 1e-9.

Imports only DuckDB's compiled core (:func:`duckdb_core`): ``custlens summary big.parquet -o
out.parquet`` never loads pandas (text dates and amounts in other formats than ISO and plain
numbers do, for the loader's parsers), nor the Python layer of the ``duckdb`` package.
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import os
import re
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from .errors import CustlensError, count
from .io.options import LoadOptions
from .io.read import (
    SNIFF_BYTES,
    ReadOptions,
    _head_bytes,
    _kind_from_head,
    csv_gaps,
    expand_paths,
    has_inner_empty_line,
    line_gaps,
    rows_after_gaps,
    show_delimiter,
    sniff_csv,
    unique_names,
)
from .schema import MISSING_TEXT, PURCHASES, match_roles, normalize_header

#: ISO date texts read on this path; any other text goes to pandas
ISO_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
               "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f")
#: ISO text with a UTC offset that the pandas loader reads as ISO8601 (the time, maybe one space,
#: then Z, +hh, +hhmm or +hh:mm); other spellings go to its parsers (read_text_values)
OFFSET_TEXT = r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?) ?(Z|[+-]\d{2}(?::?\d{2})?)$"
#: a --date-format that DuckDB's strptime reads as pandas does, or leaves NULL (numbers, AM/PM and
#: separators: no names of months, no fractions of seconds; _fixed_time_sql guards the rest)
SQL_DATE_FORMAT = r"(?:%[dmyYHIMSp]|[./\- :T])+"
#: the loader's formats (custlens.io.parse: DATE_FORMATS × TIME_FORMATS) of SQL_DATE_FORMAT that it
#: chooses whatever sample of a column it looks at, when every value has that format: formats tried
#: before it read none of them (tests/test_engine_text.py), and none is one of a day-first /
#: month-first pair (DAY_MONTH_FORMATS). Dates in one of these are read in SQL (_guess_sql_format)
#: whatever their number, as if --date-format named it.
_SQL_TIMES = ("", " %H:%M", " %H:%M:%S", "T%H:%M:%S", "T%H:%M", " %I:%M %p", " %I:%M:%S %p")
SURE_FORMATS = tuple(d + t for d in ("%d.%m.%Y", "%Y/%m/%d", "%Y.%m.%d", "%d.%m.%y", "%Y%m%d") for t in _SQL_TIMES)
#: the day-first / month-first pairs of those formats: the loader chooses the one that every
#: value decides (a day above 12; custlens.io.parse.detect_date_format), which _check_date_order
#: finds in each file once the summary has read every date in the first lines' order
DAY_MONTH_FORMATS = tuple((d + t, m + t) for d, m in (("%d/%m/%Y", "%m/%d/%Y"), ("%d-%m-%Y", "%m-%d-%Y"),
                                                      ("%d/%m/%y", "%m/%d/%y")) for t in _SQL_TIMES)
#: order days are listed as days since 1970-01-01 (integers sort and subtract faster than dates)
EPOCH = "DATE '1970-01-01'"
EPOCH_DAY = f"(day - {EPOCH})::INTEGER"
#: the roles the summary reads
SUMMARY_ROLES = ("customer_id", "order_date", "amount", "order_id", "currency")
#: the days pandas can hold (datetime64[ns])
PANDAS_DAYS = ("1677-09-22", "2262-04-11")
INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT"}
NUMBER_TYPES = INTEGER_TYPES | {"FLOAT", "DOUBLE"}
DATE_TYPES = {"DATE", "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"}
#: every character Python's str.strip() removes (what the pandas loader trims from ids), for RE2;
#: tests/test_engine.py checks it against str.isspace
SPACE_CLASS = r"[\x{9}-\x{d}\x{1c}-\x{20}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
VARCHAR = "'VARCHAR'"


class Unsupported(CustlensError):
    """The input needs the pandas loader; the message says why."""


class DatesNeedAFormat(Unsupported):
    """Unsupported because the loader would choose the dates' format from a sample: --date-format lifts it."""


@dataclass
class Source:
    """The purchase files as DuckDB reads them: one ``FROM`` clause and the mapped columns."""

    files: list[str]
    format: str  # parquet or csv
    columns: dict[str, str]  # role -> column name in the files
    types: dict[str, str]  # role -> DuckDB type as read
    delimiter: str | None = None
    encoding: str | None = None
    all_columns: list[str] = field(default_factory=list)
    mapped: dict[str, str] = field(default_factory=dict)  # every purchase role the files have -> column
    column_types: dict[str, str] = field(default_factory=dict)  # column name -> DuckDB type as read
    con: object = None  # the DuckDB connection that read the schema, reused by summarize()
    row_ranges: int = 1  # Parquet: how many ranges of row numbers a scan reads side by side (_parquet_ranges)
    most_rows: int = 0  # Parquet: the rows of the largest file
    lines: int = 0  # Parquet: the rows of all files (their metadata)
    options: LoadOptions = field(default_factory=LoadOptions)  # --decimal and --date-format apply here too
    read_as: dict[str, str] = field(default_factory=dict)  # a file not in UTF-8 -> the UTF-8 copy DuckDB reads
    date_zone: str | None = None  # Parquet order_date of instants: the zone whose local day counts (_parquet_zone)
    date_offsets: dict[str, str] | None = None  # text dates with UTC offsets: file -> "local" or "utc" (_offset_modes)
    offset_minutes: dict[str, int] = field(default_factory=dict)  # their offset texts -> minutes east of UTC
    iso_formats: tuple[str, ...] = ISO_FORMATS  # in the order the ISO dates are tried: the first lines' commonest first
    sql_date_format: str | None = None  # --date-format, read by strptime in SQL (SQL_DATE_FORMAT), or the one
    #: of SURE_FORMATS or DAY_MONTH_FORMATS that the first lines' dates are in (_guess_sql_format)
    date_order_checked: bool = False  # a guessed format of DAY_MONTH_FORMATS: each file's order was checked
    other_order: str | None = None  # the month-first format, where it read the first lines too (day first is tried first)
    text_dates: bool = False  # order_date text is read through the table custlens_dates (read_text_values)
    text_amounts: bool = False  # amount text is read through the table custlens_amounts
    #: roles of NUMBER_ROLES whose text is read through their table (custlens_costs…: read_numbers) ->
    #: the decimal mark the loader chose for it (the first file's)
    text_numbers: dict[str, str] = field(default_factory=dict)
    fill_amounts: bool = False  # a blank amount is quantity × unit_price, as the loader fills it (_amount_sql)
    filled: dict[str, int] | None = None  # with fill_amounts: file -> the amounts filled there (_filled_counts)
    keep_rejected: bool = False  # --rejects: _exclusions keeps the excluded rows (rejected_rows)
    rejected: list | None = None  # their Arrow tables, file by file: row, reason, every column
    gaps: dict = field(default_factory=dict)  # a CSV file -> (its rows, its empty lines between them): _csv_gaps
    #: the loader reads none of the dates (amounts) left NULL here that are not blank (_reads_no_value):
    #: their lines are excluded (_exclusions), the others stay read in SQL
    unread_dates_known: bool = False
    unread_amounts_known: bool = False
    unread: dict | None = None  # what _unread found of the NULL dates and amounts
    excluded: dict | None = None  # what _exclusions found in the files (the same for every summary of them)
    #: with an order id: how many lines repeat an earlier line of their file in every column (the
    #: loader excludes them; _lines_sql leaves them out); None until checked (_repeated_lines)
    repeats: int | None = None
    strip_ids: bool = False  # customer and order ids are read stripped, as the loader reads them: set where
    #: a summary found an id with spaces around it (the plain ids cost nothing on the hot path)
    decimal: str = "."  # the amounts' decimal mark, as the pandas loader chose it
    date_formats: tuple[str, ...] = ("ISO8601",)  # the order dates' formats, as the loader chose them
    warnings: list[str] = field(default_factory=list)  # what the loader warns of while reading these values

    @property
    def roles(self) -> set[str]:
        """Every purchase role the files have."""
        return set(self.mapped)

    def scan(self, *, row_numbers: bool = False, files: list[str] | None = None, filename: bool = False,
             one_scan: bool = False) -> str:
        """The FROM clause; ``row_numbers`` adds Parquet's file_row_number and filename, or reads a
        CSV file in one thread, in order (for ``row_number() OVER ()``); ``filename`` adds the
        file's name (the UTF-8 copy's, for a file DuckDB reads as a copy: see :attr:`read_as`).
        Parquet of few row groups is read as :attr:`row_ranges` ranges of row numbers side by
        side (:func:`_parquet_ranges`), unless ``one_scan`` (or ``row_numbers``) asks for one scan:
        for the rows in file order, or for a statement that reads the lines twice (kpi's), where
        the ranges cost more than they save."""
        names = "[" + ", ".join(_literal(self.read_as.get(f, f)) for f in (files or self.files)) + "]"
        if self.format == "parquet":
            if row_numbers:
                return f"read_parquet({names}, file_row_number = true, filename = true)"
            file_name = ", filename = true" if filename else ""
            if one_scan or self.row_ranges < 2:
                return f"read_parquet({names}{file_name})"
            one = f"read_parquet({names}, file_row_number = true{file_name})"
            bounds = [i * self.most_rows // self.row_ranges for i in range(self.row_ranges + 1)]
            return "(" + " UNION ALL ".join(f"SELECT * EXCLUDE (file_row_number) FROM {one} "
                                            f"WHERE file_row_number >= {lo} AND file_row_number < {hi}"
                                            for lo, hi in itertools.pairwise(bounds)) + ")"
        return (f"read_csv({names}, delim = {_literal(self.delimiter)}, header = true, quote = '\"', "
                f"escape = '\"', all_varchar = true, auto_detect = false, strict_mode = true, "
                f"columns = {{{', '.join(f'{_literal(c)}: {VARCHAR}' for c in self.all_columns)}}}"
                f"{', parallel = false' if row_numbers else ''}{', filename = true' if filename else ''})")

    def column(self, role: str) -> str:
        """The role's column, quoted; without an amount column, the amount is blank text on every
        line (NULL), which quantity × unit_price fills (:attr:`fill_amounts`)."""
        if role == "amount" and "amount" not in self.columns:
            return "NULL::VARCHAR"
        return _ident(self.columns[role])

    @property
    def shown_decimal(self) -> str | None:
        """The decimal mark the loader names for these files: the amounts', where they are text;
        without an amount column, the quantity's or else the unit price's, where they are text."""
        if self.types["amount"] == "VARCHAR":
            return self.decimal
        if "amount" not in self.columns:
            return next((self.text_numbers[r] for r in AMOUNT_PARTS if r in self.text_numbers), None)
        return None

    def ordered_warnings(self) -> list[str]:
        """The warnings as the loader gives them: file by file, each file's columns in the order of
        the roles (PURCHASES)."""
        files = {f"{f}: ": i for i, f in enumerate(self.files)}
        columns = [f"column {name!r}" for role, name in sorted(self.mapped.items(), key=lambda r: PURCHASES.names.index(r[0]))]

        def key(warning: str) -> tuple[int, int]:
            return (min((i for f, i in files.items() if warning.startswith(f)), default=len(files)),
                    min((i for i, c in enumerate(columns) if c in warning), default=len(columns)))
        return sorted(self.warnings, key=key)

    def notes(self) -> list[str]:
        """The loader's notes on how it read the amounts: quantity × unit_price, for every line
        (no amount column) or for the blank amounts (file by file)."""
        if "amount" not in self.columns:
            q, p = (self.mapped[role] for role in AMOUNT_PARTS)
            return [f"{f}: amount = quantity × unit_price ({q!r} × {p!r})" for f in self.files]
        return [f"{f}: {n:,} empty amounts taken as quantity × unit_price" for f, n in (self.filled or {}).items() if n]

    @property
    def date_format_guessed(self) -> bool:
        """The dates are read in SQL in a format the first lines suggested, not --date-format."""
        return self.sql_date_format is not None and not self.options.date_format

    @property
    def typed_dates(self) -> bool:
        """The order dates are typed (dates or timestamps, also of instants), not text."""
        return self.types["order_date"] in DATE_TYPES or self.date_zone is not None

    @property
    def rows_label(self) -> str:
        detail = [self.format]
        if self.format == "csv":
            detail += [self.encoding or "utf-8", f"delimiter {show_delimiter(self.delimiter)}"]
        if self.shown_decimal:
            detail.append(f"decimal {self.shown_decimal!r}")
        detail.append("order_date " + ("typed" if self.typed_dates else " + ".join(self.date_formats)))
        return ", ".join(detail) + "; DuckDB engine"


def choose(engine: str, paths, options: LoadOptions, *, rejects: str | None,
           memory_limit: str | None = None) -> Source | None:
    """The DuckDB source for these inputs, or None when pandas should read them.

    ``engine="duckdb"`` raises :class:`Unsupported` (with the reason) where ``"auto"`` returns None.
    """
    if engine == "pandas":
        return None
    try:
        source = open_source(paths, options, rejects=rejects, memory_limit=memory_limit)
    except Unsupported:
        if engine == "duckdb":
            raise
        return None
    return source


def open_source(paths, options: LoadOptions, *, rejects: str | None = None,
                memory_limit: str | None = None) -> Source:
    """Check that DuckDB can read these purchase files exactly as pandas would; map the roles."""
    if options.sheet:
        raise Unsupported("--sheet is read by the pandas loader")
    files = expand_paths(list(paths))
    if "-" in files:
        raise Unsupported("standard input")
    kinds = {_kind_from_head(f, _head_bytes(f)) for f in files}
    con = connect(memory_limit)
    if kinds == {"parquet"}:
        names, types = _parquet_columns(con, files)
        source = Source(files=files, format="parquet", columns={}, types={}, all_columns=names, con=con)
        if "file_row_number" not in names:
            source.row_ranges, source.most_rows, source.lines = _parquet_ranges(con, files)
    elif kinds == {"csv"}:
        names, delimiter, encodings = _csv_header(files, options)
        types = {name: "VARCHAR" for name in names}
        source = Source(files=files, format="csv", columns={}, types={}, delimiter=delimiter,
                        encoding=encodings[files[0]], all_columns=names, con=con)
    else:
        raise Unsupported(f"{' and '.join(sorted(kinds))} files")
    mapped = _map_roles(names, options)
    source.mapped, source.column_types = mapped, types
    # the summary's roles; the quantity and unit price are read where they fill amounts (fill_amounts)
    source.columns = {role: mapped[role] for role in SUMMARY_ROLES if role in mapped}
    source.types = {role: types[name] for role, name in source.columns.items()}
    if "amount" not in source.columns:  # amount = quantity × unit_price on every line, as the loader reads it
        source.types["amount"], source.fill_amounts = "NULL", True
    source.options, source.keep_rejected = options, bool(rejects)
    if source.format == "parquet" and source.types.get("order_date") == ZONED_TIMESTAMP:
        source.date_zone = _parquet_zone(con, files, source.columns["order_date"])
    _check_types(source)
    if source.format == "csv":
        source.read_as = _utf8_copies(encodings)
    return source


#: the UTF-8 copies made in this process, by (file, encoding, modification time, size)
_UTF8_COPIES: dict[tuple, str] = {}


def _utf8_copies(encodings: dict[str, str]) -> dict[str, str]:
    """A UTF-8 copy of each file in another encoding (cp1251, cp866, koi8-r, UTF-16…), which
    DuckDB reads in its place: in a private temporary folder removed at exit, made once per
    process (``kpi --stages`` opens the files again). Lines and row numbers stay as they are."""
    import atexit

    copies: dict[str, str] = {}
    for f, encoding in encodings.items():
        if encoding.replace("-sig", "").replace("_", "-").lower() in ("utf-8", "utf8"):
            continue
        stat = os.stat(f)
        key = (os.path.abspath(f), encoding, stat.st_mtime_ns, stat.st_size)
        if key in _UTF8_COPIES and os.path.exists(_UTF8_COPIES[key]):
            copies[f] = _UTF8_COPIES[key]
            continue
        folder = tempfile.mkdtemp(prefix="custlens-utf8-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        copy = os.path.join(folder, "copy.csv")
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with open(f, "rb") as src, open(copy, "wb") as dst, \
                    _byte_progress(f"copying {f} to UTF-8", stat.st_size) as advance:
                while chunk := src.read(1 << 24):
                    dst.write(decoder.decode(chunk).encode("utf-8"))
                    advance(len(chunk))
                dst.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError as e:  # the pandas loader says where
            shutil.rmtree(folder, ignore_errors=True)
            raise Unsupported(f"bytes that are not {encoding}") from e
        except OSError as e:  # a full temporary disk: the pandas loader reads the file in memory
            shutil.rmtree(folder, ignore_errors=True)
            raise Unsupported(f"no room for a UTF-8 copy of {f} in {os.path.dirname(folder)} ({e.strerror or e}); "
                              "TMPDIR names a larger disk") from e
        copies[f] = _UTF8_COPIES[key] = copy
    return copies


#: files at least this large show a progress bar while they are copied (on a terminal)
COPY_PROGRESS_BYTES = 64 << 20


@contextlib.contextmanager
def _byte_progress(label: str, total: int):
    """``advance(n)`` for work over ``total`` bytes: a rich progress bar on stderr when it is a
    terminal and the work is large (:data:`COPY_PROGRESS_BYTES`), else nothing."""
    import sys

    if total < COPY_PROGRESS_BYTES or not sys.stderr.isatty():
        yield lambda n: None
        return
    with _progress_bar() as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def _progress_bar():
    """The progress bar custlens draws on stderr: label, bar, percentage, time; gone when done."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                    TimeElapsedColumn(), console=Console(stderr=True), transient=True)


def _parquet_columns(con, files: list[str]) -> tuple[list[str], dict[str, str]]:
    schemas = []
    for f in files:
        try:
            rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet({_literal(f)})").fetchall()
        except duckdb_core().Error as e:
            raise Unsupported(f"{f}: {str(e).splitlines()[0]}") from e
        schemas.append([(r[0], r[1]) for r in rows])
    if any(s != schemas[0] for s in schemas):
        raise Unsupported("the Parquet files have different columns")
    names = [n for n, _ in schemas[0]]
    if len(set(names)) != len(names):
        raise Unsupported("repeated column names")
    return names, dict(schemas[0])


#: DuckDB's type of a Parquet timestamp of instants (isAdjustedToUTC), whatever its unit
ZONED_TIMESTAMP = "TIMESTAMP WITH TIME ZONE"


def _parquet_zone(con, files: list[str], column: str) -> str:
    """The time zone whose local time the pandas loader keeps for a Parquet column of instants:
    pyarrow's, i.e. the zone the writer stored in the file's Arrow schema, else UTC (the loader
    drops the zone and keeps the local time: :func:`custlens.io.parse.parse_dates`). DuckDB would
    take the machine's zone instead, so :func:`_day_sql` names this one. Unsupported for files
    in several zones, or a zone DuckDB does not know."""
    zones = set()
    for f in files:
        keys = {key for (key,) in con.execute(f"SELECT key FROM parquet_kv_metadata({_literal(f)})").fetchall()}
        if b"ARROW:schema" in keys:
            import pyarrow.parquet as pq

            zones.add(pq.read_schema(f).field(column).type.tz)
        else:  # as pyarrow reads instants without an Arrow schema (DuckDB, Spark…)
            zones.add("UTC")
    if len(zones) != 1:
        raise Unsupported(f"order_date in several time zones ({', '.join(sorted(map(str, zones)))})")
    zone = zones.pop()
    try:
        con.execute(f"SELECT {_local_time_sql('TIMESTAMPTZ ' + _literal('2000-01-01 00:00:00+00'), zone)}").fetchall()
    except duckdb_core().Error as e:
        raise Unsupported(f"order_date in the time zone {zone!r}, unknown to DuckDB") from e
    return zone


def _local_time_sql(column: str, zone: str) -> str:
    """The local time (a TIMESTAMP) of the instant ``column`` in ``zone``. UTC and fixed offsets
    (+03:00) are arithmetic on the microseconds since 1970; a named zone (Europe/Moscow) goes
    through ICU's ``timezone()``, which costs ~0.8 s per 10 million lines."""
    offset = _offset_minutes(zone)
    if offset is not None:
        return f"make_timestamp(epoch_us({column}) + {offset * 60_000_000})"
    return f"timezone({_literal(zone)}, {column})"


def _offset_minutes(zone: str) -> int | None:
    """Minutes east of UTC of UTC itself and of an offset (Z, +hh, +hhmm, +hh:mm; ±23:59 at most,
    as pandas reads them), else None (a named zone, or no real offset)."""
    if zone in ("UTC", "Etc/UTC", "Z"):
        return 0
    offset = re.fullmatch(r"([+-])([0-9]{2})(?::?([0-9]{2}))?", zone)
    if not offset or int(offset[2]) > 23 or int(offset[3] or 0) > 59:
        return None
    return (int(offset[2]) * 60 + int(offset[3] or 0)) * (1 if offset[1] == "+" else -1)


#: the fewest rows worth reading as ranges side by side (below, one thread reads them in ~10 ms)
RANGE_ROWS = 100_000


def _parquet_ranges(con, files: list[str]) -> tuple[int, int, int]:
    """(ranges, rows of the largest file, rows of all files): DuckDB reads each Parquet row group in one thread, so a
    file written as one row group (pandas' and pyarrow's default up to ~1M rows) is read, and its
    lines grouped, on one core. Where the files hold fewer than two row groups per thread,
    :meth:`Source.scan` reads one range of row numbers per thread (of at least :data:`RANGE_ROWS`
    rows) side by side: DuckDB skips the pages outside a range, and the grouping runs on every
    core."""
    groups, rows, most = con.execute(f"""SELECT sum(num_row_groups), sum(num_rows), max(num_rows)
                                         FROM parquet_file_metadata([{", ".join(map(_literal, files))}])""").fetchall()[0]
    threads = os.cpu_count() or 1
    ranges = min(threads, (rows or 0) // RANGE_ROWS)
    return (ranges if ranges > 1 and groups < 2 * threads else 1), most or 0, rows or 0


def _csv_header(files: list[str], options: LoadOptions) -> tuple[list[str], str, dict[str, str]]:
    """The header, delimiter and each file's encoding as the pandas loader would find them
    (:func:`sniff_csv`), when DuckDB's reader can take the files (as UTF-8 copies, for other
    encodings): one-character delimiter, header on the first line."""
    headers = set()
    encodings = {}
    for f in files:
        if f.endswith(".gz"):
            raise Unsupported("compressed CSV")
        layout = sniff_csv(_head_bytes(f), ReadOptions(encoding=options.encoding, delimiter=options.delimiter), f)
        try:
            codecs.lookup(layout.encoding)
        except LookupError:
            raise Unsupported(f"{layout.encoding} text") from None
        encodings[f] = layout.encoding
        if layout.delimiter == "whitespace" or len(layout.delimiter) != 1:
            raise Unsupported("no single-character delimiter")
        if layout.header_index != 0:
            raise Unsupported("title or blank lines above the header")
        header = tuple(layout.header)
        if list(header) != unique_names(list(header)) or any(h != h.strip() or not h for h in header):
            raise Unsupported("column names repeated, blank or padded")
        if any('"' in h for h in header):
            raise Unsupported("quotes in column names")
        headers.add((header, layout.delimiter))
    if len(headers) != 1:
        raise Unsupported("the CSV files have different headers")
    (header, delimiter), = headers
    return list(header), delimiter, encodings


def _map_roles(names: list[str], options: LoadOptions) -> dict[str, str]:
    """Role → column as :func:`custlens.io.load.resolve_columns` maps it; a missing required role,
    or a role this engine does not reproduce (quantity × price, currencies), is Unsupported."""
    columns: dict[str, str] = {}
    folded = {normalize_header(n): n for n in names}
    for role, wanted in options.columns.items():
        if role not in PURCHASES.names:
            continue
        name = wanted if wanted in names else folded.get(normalize_header(wanted))
        if name is None:
            raise Unsupported(f"no column {wanted!r}")
        columns[role] = name
    free = [n for n in names if n not in columns.values()]
    for role, name in match_roles(free, PURCHASES).items():
        columns.setdefault(role, name)
    for role in ("customer_id", "order_date", "amount"):
        if role not in columns and not (role == "amount" and set(AMOUNT_PARTS) <= set(columns)):
            raise Unsupported(f"no {role} column")
    return columns


def _check_types(source: Source) -> None:
    types = source.types
    for role in ("customer_id", "order_id"):
        if role in types and types[role] != "VARCHAR" and types[role] not in INTEGER_TYPES:
            raise Unsupported(f"{role} of type {types[role]}")
    if types["order_date"] not in DATE_TYPES and types["order_date"] != "VARCHAR" and not source.date_zone:
        raise Unsupported(f"order_date of type {types['order_date']}")
    amount = types["amount"]
    if amount not in NUMBER_TYPES and amount not in ("VARCHAR", "NULL") and not amount.startswith("DECIMAL"):
        raise Unsupported(f"amount of type {amount}")


# --- the summary ----------------------------------------------------------------------------------

@dataclass
class Result:
    """What :func:`summarize` found: the counts for stderr and the table, still inside DuckDB."""

    con: object
    source: Source
    as_of: date
    rows: int
    customers: int
    excluded: dict[str, tuple[int, list[str]]]  # the rows left out, as the loader reports them (_exclusions)
    lines_after_as_of: int
    return_only_customers: int
    table: str = "summary"  # the name of the DuckDB view of the summary
    groups: str = "groups"  # the table of one row per raw customer id the summary is read from
    keep_days: bool = False  # the gaps lifecycle stages need are in the table of groups
    groups_sql: str = ""  # the aggregation the groups came from (with keep_days, its ``days``: every customer's order days)
    progress: bool = False  # show a progress bar on a terminal for long statements (see run)

    def run(self, sql: str, *, label: str) -> None:
        """Run a statement on the connection; with ``progress``, as :func:`run_with_progress`."""
        _run(self.con, sql, label if self.progress else None)

    @property
    def rows_kept(self) -> int:
        """The rows read less those excluded."""
        return self.rows - sum(n for n, _ in self.excluded.values())

    def messages(self) -> list[tuple[str, str]]:
        """The same lines as :meth:`LoadReport.messages` + :meth:`Summary.messages` for this input."""
        return self.load_messages() + self.summary_messages()

    def summary_messages(self) -> list[tuple[str, str]]:
        """The same lines as :meth:`Summary.messages` for this input."""
        from .notes import summary_lines

        return summary_lines(self.customers, self.as_of, self.lines_after_as_of, self.return_only_customers)

    def load_messages(self) -> list[tuple[str, str]]:
        """The same lines as :meth:`LoadReport.messages` for this input."""
        from .notes import exclusion_lines

        if len(self.source.files) == 1:
            out = [("info", f"{self.source.files[0]}: {count(self.rows, 'row')} ({self.source.rows_label})")]
        else:
            out = [("info", f"{len(self.source.files)} files: {count(self.rows, 'row')} ({self.source.rows_label})")]
        out += exclusion_lines(self.excluded, self.rows)
        out += [("warning", f"warning: {w}") for w in self.source.ordered_warnings()]
        out += [("info", note) for note in self.source.notes()]
        return out


def duckdb_core():
    """DuckDB's compiled engine module. ``import duckdb`` (2.x) also loads the package's Python
    layer of relations and expressions: 65–90 ms, a seventh of a summary of a million lines.
    custlens runs SQL text on a connection and fetches rows, tuples, NumPy arrays or pandas
    frames, which the core does alone; the few places that want an Arrow table or a relation
    call :func:`with_relations`. Older builds, whose core is ``duckdb.duckdb``, get the package."""
    try:
        import _duckdb

        return _duckdb
    except ImportError:
        import duckdb

        return duckdb


def with_relations(con):
    """``con`` with DuckDB's Python layer (``con.sql``, Arrow results): importing the package adds
    them to every connection, those opened by the core too."""
    import duckdb  # noqa: F401

    return con


def connect(memory_limit: str | None = None):
    """A fresh in-memory DuckDB database that spills to a private temporary folder (removed at
    exit) beyond ``memory_limit`` (e.g. "2GB"; default :func:`default_memory_limit`), and draws no
    progress bar of DuckDB's own."""
    import atexit

    spill = tempfile.mkdtemp(prefix="custlens-duckdb-")
    atexit.register(shutil.rmtree, spill, ignore_errors=True)
    con = duckdb_core().connect(config={"threads": os.cpu_count() or 1, "temp_directory": spill,
                                        "memory_limit": memory_limit or default_memory_limit(),
                                        "preserve_insertion_order": False})
    # DuckDB draws its own bar on stdout when it thinks the session is interactive (python -c,
    # notebooks), where it would land in a piped report; run_with_progress draws ours on stderr
    con.execute("SET enable_progress_bar = false")
    # Every join here is written with its smaller side on the right, which DuckDB builds its hash
    # table on. Its guess of a CSV scan's size can be far off: it swapped the joins of text dates
    # and amounts (a few hundred rows) onto a 10-million-line build side, 2.6 s each instead of ~0.05.
    # And its rewrite of an IN list into a join made the blank-id test (_guest_sql) cost 0.7 s per
    # 10 million lines instead of 0.1.
    con.execute("SET disabled_optimizers = 'build_side_probe_side,in_clause'")
    return con


@contextlib.contextmanager
def _in_file_order(con):
    """Statements inside return rows in the order they are read (a CSV file read in one thread:
    :meth:`Source.scan` with ``row_numbers``): for ``row_number() OVER ()`` and the first lines."""
    con.execute("SET preserve_insertion_order = true")
    try:
        yield con
    finally:
        con.execute("SET preserve_insertion_order = false")


def default_memory_limit() -> str:
    """A quarter of physical memory (at least 1 GiB): DuckDB spills to disk beyond it, so a
    summary of a file larger than memory keeps room for the rest of the machine."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "4GB"
    return f"{max(1 << 30, total // 4) >> 20}MB"


def summarize(source: Source, as_of: date | None = None, *, progress: str | None = None, keep_days: bool = False,
              strict: bool = False, gaps: bool = True, orders: bool = True, name: str = "",
              lines: str | None = None) -> Result:
    """The per-customer summary of :func:`custlens.summary.customers`, computed by DuckDB.

    One pass groups the lines by raw customer id into one row per customer: the checks (line
    count, unusable dates and amounts…), first and last order day, orders, net amount and the
    median gap (from the customer's sorted order days). The as-of date applies on that small
    table. Raises :class:`Unsupported` when a check fails (the pandas loader then reports the
    rows). ``keep_days`` keeps the gaps lifecycle stages need (the order days are aggregated again
    when asked for: :func:`to_pandas`); ``strict``
    turns excluded rows into a :class:`StrictModeError`, as in the pandas loader; ``gaps=False``
    leaves ``median_gap_days`` empty, for reports that do not show it; ``orders=False`` runs the
    checks only (for reports that read the lines themselves): the summary is then empty and the
    customer counts are None. With a ``progress`` label, long statements show a progress bar on a
    terminal (:func:`run_with_progress`): the summary's under that label, later ones (:meth:`Result.run`)
    under their own. ``name`` ends the names of its tables ("groups", "summary"), so that summaries
    at several as-of dates can live on one connection (:func:`summary_at`). ``lines`` (SQL with the
    columns of :func:`_lines_sql`) summarises those lines instead of the files', lines whose files
    were checked already: the checks that read the files again are skipped.
    """
    try:
        return _summarize(source, as_of, progress=progress, keep_days=keep_days, strict=strict, gaps=gaps,
                          orders=orders, name=name, lines=lines)
    except duckdb_core().Error as e:  # a line it cannot read (wrong number of fields, bad UTF-8 further in…)
        raise Unsupported(f"DuckDB cannot read it: {str(e).splitlines()[0]}") from e


def _summarize(source: Source, as_of, *, progress, keep_days: bool, strict: bool, gaps: bool,
               orders: bool, name: str, lines: str | None) -> Result:
    con = source.con
    table, view = f"groups{name}", f"summary{name}"
    read_text_values(source, *_unplain_columns(source), progress=progress is not None)
    if lines is None and _fills(source) and not source.fill_amounts and _head_blank_amounts(source):
        source.fill_amounts = True  # the first lines show blank amounts (Shopify's later lines of an order)
    if source.fill_amounts:
        read_numbers(source, AMOUNT_PARTS, progress=progress is not None)
    if "order_id" in source.columns and lines is None and source.repeats is None:
        source.repeats = _repeated_lines(source)
    checks_only = as_of is None
    window = "TRUE" if checks_only else f"day <= {_date(as_of)}"
    header = (f"NOT guest AND {_stripped_sql('customer_id')} = {_literal(source.columns['customer_id'])}"
              if source.format == "csv" and lines is None else "FALSE")  # `cat a.csv b.csv` repeats the header

    # the order days of files without an order id: from keys in NumPy where the files are cheap to
    # read twice (Parquet), large enough to repay NumPy's import and the keys fit in DuckDB's memory
    # limit (_key_days), else listed in SQL
    by_keys = (lines is None and orders and not keep_days and "order_id" not in source.columns
               and source.format == "parquet" and KEY_MIN_LINES <= source.lines
               and source.lines * KEY_BYTES <= _memory_limit(con))

    keys = _start_keys(source, window, progress) if by_keys else None

    def group(usable: bool, listed: bool = not by_keys) -> tuple[str, dict]:
        """The table of groups (see :func:`_group_sql`) and its checks, by name."""
        aggregation = _group_sql(source, window, orders=orders, lines=lines, usable=usable, listed=listed)
        _run(con, f"CREATE OR REPLACE TEMP TABLE {table} AS "
                  f"{_customer_sql(aggregation, keep_days=keep_days, gaps=gaps, listed=listed)}", progress)
        found = con.execute(f"""
            SELECT sum(lines) AS rows, sum(lines) FILTER (guest) AS guest_rows,
                   count(*) FILTER (NOT guest AND padded) + sum(padded_orders) AS padded,
                   sum(odd_amounts) AS odd_amounts, sum(no_dates + no_amounts) AS missing,
                   sum(no_dates + no_amounts) FILTER (NOT guest) AS unusable, sum(no_amounts) AS no_amounts,
                   count(*) FILTER ({header}) AS headers, min(min_day) FILTER (NOT guest) AS first_day,
                   max(max_day) FILTER (NOT guest) AS last_day, sum(after) FILTER (NOT guest) AS after,
                   count(*) FILTER (NOT guest AND counted) AS customers,
                   count(*) FILTER (NOT guest AND NOT counted AND in_window > 0) AS return_only
            FROM {table}""")
        names = [d[0] for d in found.description]
        return aggregation, {k: v if v is not None or k.endswith("_day") else 0
                             for k, v in zip(names, found.fetchall()[0])}

    usable = source.excluded is not None  # the files have lines to exclude: known from a summary before
    aggregation, checks = group(usable)
    rows, guest_rows, missing, unusable = checks["rows"], checks["guest_rows"], checks["missing"], checks["unusable"]
    repeats = (source.repeats or 0) if lines is None else 0  # left out of the lines (_lines_sql)
    rows += repeats
    odd_amounts, headers = checks["odd_amounts"], checks["headers"]
    if rows == 0:
        raise Unsupported("no rows")
    # what the NULL dates and amounts are: blank, or text that was not read (one pass, over their lines only)
    unread = _unread(source) if missing and lines is None else {}
    bad_dates, bad_amounts, infinite = (unread.get(k, 0) for k in ("bad_dates", "bad_amounts", "infinite"))
    text_dates = source.types["order_date"] == "VARCHAR" and not source.text_dates
    text_amounts = source.types["amount"] == "VARCHAR" and not source.text_amounts
    if bad_dates and text_dates and not source.unread_dates_known:
        source.unread_dates_known = _reads_no_value(source, "order_date")
    if bad_amounts and text_amounts and not odd_amounts and not source.unread_amounts_known:
        source.unread_amounts_known = _reads_no_value(source, "amount")
    retry_dates = bool(bad_dates) and text_dates and not source.unread_dates_known
    retry_amounts = bool(odd_amounts or bad_amounts and not source.unread_amounts_known) and text_amounts
    if retry_dates or retry_amounts:  # what was found of the NULL values no longer holds
        source.unread = source.excluded = None
    if retry_dates and source.other_order:  # day first did not read every date: month first may
        source.sql_date_format, source.date_formats, source.other_order = source.other_order, (source.other_order,), None
        return _summarize(source, as_of, progress=progress, keep_days=keep_days, strict=strict, gaps=gaps,
                          orders=orders, name=name, lines=lines)
    if retry_dates or retry_amounts:  # text the first lines did not show: read as the pandas loader does
        read_text_values(source, retry_dates, retry_amounts, progress=progress is not None)
        return _summarize(source, as_of, progress=progress, keep_days=keep_days, strict=strict, gaps=gaps,
                          orders=orders, name=name, lines=lines)
    if checks["padded"] and not source.strip_ids and lines is None:  # read the ids stripped, as the loader does
        source.strip_ids, source.unread, source.excluded = True, None, None
        return _summarize(source, as_of, progress=progress, keep_days=keep_days, strict=strict, gaps=gaps,
                          orders=orders, name=name, lines=lines)
    blank_amounts = checks["no_amounts"] - bad_amounts - infinite
    if blank_amounts and _fills(source) and not source.fill_amounts and lines is None:
        source.fill_amounts, source.unread, source.excluded = True, None, None  # as the loader fills them
        return _summarize(source, as_of, progress=progress, keep_days=keep_days, strict=strict, gaps=gaps,
                          orders=orders, name=name, lines=lines)
    if source.fill_amounts and source.filled is None:
        source.filled = _filled_counts(source) if "amount" in source.columns else {}
    problems = {"ids with spaces around them": checks["padded"], "amounts with '_' or '+-'": odd_amounts,
                "amounts that are not finite": infinite}  # kept by the loader where it reads them
    found = [f"{n:,} {what}" for what, n in problems.items() if n]
    if found:
        raise Unsupported("; ".join(found))
    if guest_rows == checks["rows"]:  # the lines read (their repeats: copies of them)
        raise Unsupported("no row has a customer id")
    # the days of every line with a customer, also of those excluded for their amount (the loader reads
    # their dates too: one outside what pandas holds is an unreadable date to it; a summary of files
    # known to have lines to exclude counts only those kept, but the first one checked them all)
    lowest, highest = checks["first_day"], checks["last_day"]
    if unusable or headers or repeats or (guest_rows and source.keep_rejected):
        ids = [h for (h,) in con.execute(f"SELECT customer_id FROM {table} WHERE {header}").fetchall()]
        excluded = _exclusions(source, ids, missing=bool(missing))
        if not usable and unread.get("amount_only"):  # a line with a date but no amount: counted above
            usable = True
            aggregation, checks = group(usable)
    else:
        excluded = {"no customer id": (guest_rows, _guest_samples(con, source, guest_rows))} if guest_rows else {}
    last_day, after, customers, return_only = (checks[k] for k in ("last_day", "after", "customers", "return_only"))
    if sum(n for n, _ in excluded.values()) == rows:
        raise Unsupported("no usable row")
    if source.date_format_guessed and not source.text_dates and source.sql_date_format not in SURE_FORMATS:
        _check_date_order(source)
    if lowest and not (date.fromisoformat(PANDAS_DAYS[0]) <= lowest and highest <= date.fromisoformat(PANDAS_DAYS[1])):
        raise Unsupported("dates outside 1677–2262")
    if "currency" in source.columns and lines is None:
        warning = _currencies_warning(source)
        if warning and (set(excluded) - {"no customer id"} or repeats):
            raise Unsupported("amounts in several currencies, and rows to exclude")
        if warning:
            source.warnings.append(warning)
    if by_keys and not _key_days(source, table, window, keys, gaps=gaps, progress=progress):
        group(usable, listed=True)  # two customers' keys collide
    as_of = as_of or last_day
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {_summary_sql(as_of, table)}")
    if strict and excluded:
        from .errors import StrictModeError
        from .notes import strict_message

        raise StrictModeError(strict_message(", ".join(source.files), excluded))
    if not orders:
        customers = return_only = None
    return Result(con=con, source=source, as_of=as_of, rows=rows, customers=customers, excluded=excluded,
                  lines_after_as_of=0 if checks_only else after,
                  return_only_customers=return_only, table=view, groups=table, keep_days=keep_days,
                  groups_sql=aggregation,
                  progress=progress is not None)


#: the lines from which keys are cheaper than lists (_key_days): 1e6 lines of Parquet 0.23–0.25 s
#: with keys against 0.22–0.24 s with lists, 3e6 0.49–0.54 s against 0.52–0.56 s, 1e7 1.24–1.32 s
#: against 1.50–1.53 s (in-process, session 22); below, importing NumPy (0.03 s) eats the gain
KEY_MIN_LINES = 2_000_000
#: what the order days found from keys take per line at most: the key fetched from DuckDB (8 bytes
#: while it hands it over, 8 in NumPy), then one byte and eight per distinct key (_key_days)
KEY_BYTES = 25


class _Keys:
    """The order days of :func:`_key_days`, found in a thread from keys read before the summary's
    aggregate (:func:`_start_keys`): NumPy works on one core while DuckDB aggregates on the others."""

    def __init__(self, keys, lowest: date, highest: date, bits: int):
        from .order_days import order_days

        self.lowest, self.highest, self.bits, self._found = lowest, highest, bits, []

        def work():
            try:
                self._found.append(order_days(keys, bits))
            except BaseException as e:  # noqa: BLE001 - re-raised by days()
                self._found.append(e)

        self._thread = threading.Thread(target=work, daemon=True)
        self._thread.start()

    def days(self):
        self._thread.join()
        if isinstance(self._found[0], BaseException):
            raise self._found[0]
        return self._found[0]


def _start_keys(source: Source, window: str, progress) -> _Keys | None:
    """Read the keys of :func:`_key_days` before the aggregate, and find their order days in a
    thread: for typed dates, whose range the Parquet statistics give (DuckDB's min and max of the
    column, two days wider for the days of instants in a zone); None for others, or no keys."""
    from .order_days import day_bits

    if not source.typed_dates:
        return None
    con, column = source.con, source.column("order_date")
    files = ", ".join(map(_literal, source.files))
    low, high = con.execute(f"SELECT min({column}), max({column}) FROM read_parquet([{files}])").fetchall()[0]
    if low is None:
        return None
    # instants: the file's zone moves their local day up to one day off UTC's, and DuckDB gives min
    # and max in its session's zone, up to one more
    margin = timedelta(days=2 if source.date_zone else 0)
    lowest, highest = (d.date() if isinstance(d, datetime) else d for d in (low, high))
    lowest, highest = lowest - margin, highest + margin
    bits = day_bits((highest - lowest).days)
    keys = _read_keys(source, window, lowest, bits, progress)
    return _Keys(keys, lowest, highest, bits) if len(keys) else None


def _read_keys(source: Source, window: str, lowest: date, bits: int, progress):
    """One key per counted line, ``(hash(customer_id) >> bits << bits) | (day - lowest)``, as a
    NumPy array of uint64 (see :func:`custlens.order_days.order_days`); a bar of its own under the
    summary's ``progress`` label. The lines do not depend on the lines to exclude (``usable`` in
    :func:`_counted_sql`): a line with an amount not below 0 has an amount, one up to the as-of
    date a day, so the keys can be read before the summary knows them."""
    return _run(source.con, f"""SELECT (hash(customer_id) >> {bits} << {bits}) | (day - {_date(lowest)})::UBIGINT AS key
                                FROM ({_lines_sql(source)}) WHERE {_counted_sql(window, False)} AND amount >= 0""",
                progress and f"{progress}: order days", fetch=lambda con: con.fetchnumpy()["key"])


def _key_days(source: Source, table: str, window: str, keys: _Keys | None, *, gaps: bool, progress) -> bool:
    """Fill the first and last order day, the orders and the median gap of ``table``'s customers
    (groups not listed: :func:`_group_sql`) from one 64-bit key per counted line: the top bits of
    DuckDB's hash of the customer id, then the day, sorted and read in NumPy
    (:func:`custlens.order_days.order_days`); from ``keys`` where they were read before the
    aggregate and their days cover the groups' (else read now). A second read of the files, yet
    cheaper than listing the days in SQL (bench/RESULTS.md, "Order days from keys"). False, and
    the table unchanged, when two customers' keys share their top bits (the caller lists the days
    instead): a chance of about n² / 2^(65 - bits) for n customers, 10^-5 for 500,000 over four
    years (bits = 11)."""
    from .order_days import day_bits, order_days

    con = source.con
    lowest, highest, counted = con.execute(
        f"SELECT min(min_day), max(max_day), count(*) FILTER (counted) FROM {table}").fetchall()[0]
    if not counted:
        return True
    if keys is not None and keys.lowest <= lowest and highest <= keys.highest:
        days, lowest, bits = keys.days(), keys.lowest, keys.bits
    else:  # text dates, or days beyond the statistics' (which would not fit in the keys' bits)
        bits = day_bits((highest - lowest).days)
        days = order_days(_read_keys(source, window, lowest, bits, progress), bits)
    if len(days.customer) != counted:
        return False
    con.register("custlens_order_days", {"customer": days.customer, "first": days.first, "last": days.last,
                                         "orders": days.days, "median_gap": days.median_gap})
    try:
        # NaN (one order day) is NULL as DuckDB reads NumPy, and here whatever it reads
        median = "CASE WHEN d.orders > 1 THEN d.median_gap END" if gaps else "NULL::DOUBLE"
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {table} AS
            SELECT g.* REPLACE ({_date(lowest)} + d.first::INTEGER AS first_order, {_date(lowest)} + d.last::INTEGER AS last_order,
                                d.orders AS frequency, {median} AS median_gap_days)
            FROM {table} AS g LEFT JOIN custlens_order_days AS d ON g.counted AND hash(g.customer_id) >> {bits} = d.customer""")
    finally:
        con.unregister("custlens_order_days")
    return True


def _memory_limit(con) -> int:
    """DuckDB's memory limit in bytes, as the connection reports it ("5.8 GiB")."""
    text = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    number, _, unit = text.partition(" ")
    powers = {"bytes": 0, "KiB": 10, "MiB": 20, "GiB": 30, "TiB": 40, "PiB": 50}
    return int(float(number) * (1 << powers.get(unit, 0)))


def _currencies_warning(source: Source) -> str | None:
    """The loader's warning where the lines kept have amounts in several currencies
    (custlens.io.load.load_tables): each currency as written, stripped, blanks left out, with its
    lines, most first and, in a tie, the one met first (pandas' value_counts). The lines kept are
    those with a customer id: the caller leaves files with other lines to exclude to pandas."""
    con = source.con
    column = f"CAST({source.column('currency')} AS VARCHAR)"
    # first, whether there might be two: trim() keeps apart what strip() may not (0.2 s less at 1e7 lines)
    if con.execute(f"SELECT count(DISTINCT trim({column})) FROM {source.scan()} WHERE NOT {_guest_sql(column)}"
                   ).fetchall()[0][0] < 2:
        return None
    currency = _strip_sql(column)
    kept = f"NOT {_guest_sql(_text_sql(source, 'customer_id'))}"

    def counts(scan: str, order: str = "NULL") -> list[tuple[str, int, int]]:
        return con.execute(f"""SELECT c, count(*), min(n) FROM (SELECT {currency} AS c, {order} AS n FROM {scan} WHERE {kept})
                               WHERE NOT {_guest_sql('c')} GROUP BY c ORDER BY min(n)""").fetchall()

    found = counts(source.scan())
    if len(found) < 2:
        return None
    if len({n for _, n, _ in found}) < len(found):  # a tie: the order the files meet them in
        met: dict[str, int] = {}
        row = "row_number() OVER ()" if source.format == "csv" else "file_row_number"
        with _in_file_order(con):
            for f in source.files:
                for c, _, _ in counts(source.scan(row_numbers=True, files=[f]), row):
                    met.setdefault(c, len(met))
        found.sort(key=lambda r: met[r[0]])
    found.sort(key=lambda r: -r[1])  # stable: a tie keeps the order met
    return ("amounts are in several currencies (" + ", ".join(f"{c} {count(n, 'row')}" for c, n, _ in found)
            + "); totals add them up as they are")


def _fills(source: Source) -> bool:
    """The files have a quantity and a unit price, whose product fills a blank amount."""
    return set(AMOUNT_PARTS) <= source.roles


def _head_blank_amounts(source: Source) -> bool:
    """Whether the first lines have a blank amount, or the statistics of Parquet files count a NULL
    one (a hint: the summary finds the others)."""
    if source.format == "csv":  # from the bytes read to sniff the file (a query costs 20–50 ms at start-up)
        at = source.all_columns.index(source.columns["amount"])
        return any(_blank(row[at]) for row in _head_rows(source))
    column, con = source.column("amount"), source.con
    if con.execute(f"SELECT count(*) FILTER ({_blank_sql(source, 'amount', column)}) "
                   f"FROM (SELECT * FROM {source.scan(one_scan=True)} LIMIT {HEAD_LINES})").fetchall()[0][0]:
        return True
    names = "[" + ", ".join(_literal(f) for f in source.files) + "]"
    nulls = con.execute(f"SELECT sum(stats_null_count) FROM parquet_metadata({names}) "
                        f"WHERE path_in_schema = {_literal(source.columns['amount'])}").fetchall()[0][0]
    return bool(nulls)


def _filled_counts(source: Source) -> dict[str, int]:
    """File → its lines whose blank amount quantity × unit_price filled (repeated lines too: the
    loader fills them before it excludes them), for the loader's note."""
    filled = f"({_filled_sql(source, _written_amount_sql(source)[0])} AND {_product_sql(source)} IS NOT NULL)"
    lines = _lines_sql(source, {"custlens_file": "filename", "custlens_filled": filled}, scan=source.scan(filename=True))
    found = dict(source.con.execute(f"SELECT custlens_file, count(*) FILTER (custlens_filled) FROM ({lines}) "
                                    "GROUP BY custlens_file").fetchall())
    return {f: found.get(source.read_as.get(f, f), 0) for f in source.files}


HEAD_LINES = 1000  # lines looked at to choose how to read text dates and amounts (_unplain_columns)
#: text that one of the loader's parsers may read as a date or an amount: with a digit, or an
#: infinity or NaN. The first lines' hints leave other text out ('TBD', a repeated header, a line
#: of totals): no parser reads it, and the summary excludes its line (_reads_no_value checks that)
MAY_BE_VALUE = r"\d|(?i:inf|nan)"


def _unplain_columns(source: Source) -> tuple[bool, bool]:
    """(dates, amounts): whether the order dates or amounts need the pandas loader's parsers
    (:func:`read_text_values`), as the first lines or the options show: text dates that are not
    ISO, ``--date-format`` or a format :func:`_guess_sql_format` finds in the first lines; text
    amounts that are not plain numbers, or ``--decimal ,``. Text further down that is not plain is
    found by the summary's checks. Sets :attr:`Source.strip_ids` where the first lines have an id
    with spaces around it (which spares the summary a second pass)."""
    dates = source.types["order_date"] == "VARCHAR"
    amounts = source.types["amount"] == "VARCHAR"
    given = source.options.date_format
    if dates and given and re.fullmatch(SQL_DATE_FORMAT, given) and not source.text_dates:
        source.sql_date_format, source.date_formats = given, (given,)
    if (source.sql_date_format or source.date_offsets) and not source.text_dates:
        dates = False  # read in SQL: a format given or guessed (_fixed_time_sql), UTC offsets (_offset_day_sql)
    check_dates = dates and not given  # else the format is given: no choice to make
    check_amounts = amounts and source.options.decimal != ","
    if not (check_dates or check_amounts):
        return dates, amounts
    odd = _odd_head_csv(source) if source.format == "csv" else _odd_head(source, check_dates, check_amounts)
    source.strip_ids = source.strip_ids or odd[5] > 0  # else a summary that finds one runs again
    if check_dates:
        # each format strptime tries and fails costs ~0.5 µs a line: 5 s on 1e7 lines of dates alone
        source.iso_formats = tuple(sorted(ISO_FORMATS, key=lambda f: -odd[3][f]))
    if check_dates and odd[0] and odd[0] == odd[2] and source.date_offsets is None and not source.text_dates:
        source.date_offsets, source.offset_minutes = _offset_modes(source) or ({}, {})
        dates = not source.date_offsets
    guess, other = _guess_sql_format(odd[4]) if check_dates and odd[0] and not source.text_dates else (None, None)
    if guess:
        source.sql_date_format, source.date_formats, source.other_order = guess, (guess,), other
        dates = False
    return dates and (not check_dates or odd[0] > 0), amounts and (not check_amounts or odd[1] > 0)


def _guess_sql_format(texts: list[str]) -> tuple[str | None, str | None]:
    """``(format, other order)``: the first of :data:`SURE_FORMATS` that reads every one of
    ``texts`` (the first lines' dates that one of them reads: blank ones and words are not
    dates, and the summary excludes their lines), else of
    :data:`DAY_MONTH_FORMATS` (day first; the month-first format as the other order where it reads
    them all too: the first days of a month), else None. Only a guess, which the summary checks:
    where a date further down is not read by it (nor by the other order), the file goes to the
    loader's parsers (:func:`read_text_values`). Where every date is, the loader chooses that
    format too (:data:`SURE_FORMATS`; for a pair, :func:`_check_date_order`), so 1C's
    ``03.09.2025 09:39:47`` (every line a distinct text, more than the loader's sample of 5,000)
    needs no --date-format."""

    def reads(fmt: str, text: str) -> bool:
        try:
            datetime.strptime(text.strip(), fmt)
        except ValueError:
            return False
        return True

    formats = (*SURE_FORMATS, *itertools.chain.from_iterable(DAY_MONTH_FORMATS))
    # blank dates and words (a repeated header line) are read by no format: the summary excludes them
    dated = [t for t in texts if any(reads(f, t) for f in formats)]
    reading = [f for f in formats if all(reads(f, t) for t in dated)] if dated else []
    if not reading:
        return None, None
    return reading[0], next((m for d, m in DAY_MONTH_FORMATS if d == reading[0] and m in reading), None)


def _check_date_order(source: Source) -> None:
    """For a guessed format of :data:`DAY_MONTH_FORMATS` that read every date: the loader's
    order in each file, which a day above 12 decides (custlens.io.parse.detect_date_format).
    Day first: a file without one is still read day first, with the loader's warning that the
    order is ambiguous. Month first (a day above 12 in the first lines): a file without one is
    read day first by the loader, which raises :class:`Unsupported`. A file without a date (every
    line excluded) has no order to decide. One query a file, which stops at the first such date."""
    if source.date_order_checked:
        return
    fmt = source.sql_date_format
    day_first, month_first = next(pair for pair in DAY_MONTH_FORMATS if fmt in pair)
    column = source.column("order_date")

    def found(f: str, where: str) -> bool:
        return bool(source.con.execute(f"SELECT 1 FROM {source.scan(files=[f], one_scan=True)} "
                                       f"WHERE {where} LIMIT 1").fetchall())

    time = _fixed_time_sql(column, fmt)
    for f in source.files:
        if found(f, f"dayofmonth({time}) > 12") or not found(f, f"{time} IS NOT NULL"):  # no date: nothing to decide
            continue
        if fmt == month_first:
            raise Unsupported(f"{f}: no day above 12, so the pandas loader reads its dates day first")
        from .io.parse import ambiguous_order_warning

        day, month = (re.split(r"[ T]", order)[0] for order in (day_first, month_first))  # the date parts
        source.warnings.append(f"{f}: {ambiguous_order_warning(source.columns['order_date'], day, month)}")
    source.date_order_checked = True


def _odd_head(source: Source, dates: bool, amounts: bool) -> tuple[int, int, int, dict[str, int], list[str], int]:
    """(dates, amounts, offsets, formats, texts, ids) among the first lines that the plain path would
    not read: present text that is not ISO, or not a finite number (or odd: :func:`_odd_number_sql`);
    each counted when asked for; of those dates, the ISO times with a UTC offset
    (:data:`OFFSET_TEXT`); the dates each of :data:`ISO_FORMATS` reads; the dates' texts
    (when dates are asked for; NULL as ''); and the customer ids with spaces around them."""
    date_text, amount_text = source.column("order_date"), source.column("amount")
    value = f"TRY_CAST({amount_text} AS DOUBLE)"
    may_be = f"regexp_matches({{}}, {_literal(MAY_BE_VALUE)})"
    odd = (f"NOT {_guest_sql(date_text)} AND {_iso_day_sql(date_text, ISO_FORMATS)} IS NULL "
           f"AND {may_be.format(date_text)}")
    odd_dates = (f"count(*) FILTER ({odd}), count(*) FILTER ({odd} AND regexp_full_match({date_text}, "
                 f"{_literal(OFFSET_TEXT)})), "
                 + ", ".join(f"count(try_strptime({date_text}, {_literal(f)}))" for f in ISO_FORMATS)
                 + f", list(coalesce({date_text}, ''))"
                 if dates else "0, 0, " + ", ".join("0" for _ in ISO_FORMATS) + ", []")
    odd_amounts = (f"count(*) FILTER (NOT {_guest_sql(amount_text)} AND {may_be.format(amount_text)} AND "
                   f"({value} IS NULL OR NOT isfinite({value}) OR {_odd_number_sql(amount_text, value)}))"
                   if amounts else "0")
    customer = _text_sql(source, "customer_id")
    dates, offsets, *formats, texts, amounts, ids = source.con.execute(
        f"SELECT {odd_dates}, {odd_amounts}, count(*) FILTER ({_padded_sql(customer)}) "
        f"FROM (SELECT * FROM {source.scan(one_scan=True)} LIMIT {HEAD_LINES})"
    ).fetchall()[0]
    return dates, amounts, offsets, dict(zip(ISO_FORMATS, formats)), texts or [], ids


def _head_rows(source: Source) -> list[list[str]]:
    """The first data lines of the first CSV file (at most :data:`HEAD_LINES`), from the bytes
    already read to sniff it, split into fields; lines of another number of fields left out."""
    import csv

    raw = _head_bytes(source.files[0])
    lines = raw.decode(source.encoding, errors="replace").splitlines()[1:]
    if len(raw) >= SNIFF_BYTES:
        lines = lines[:-1]  # the last line may be cut
    return [row for row in csv.reader(lines[:HEAD_LINES], delimiter=source.delimiter)
            if len(row) == len(source.all_columns)]


def _odd_head_csv(source: Source) -> tuple[int, int, int, dict[str, int], list[str], int]:
    """:func:`_odd_head` for a CSV file, from the bytes already read to sniff it (a DuckDB query
    costs 20–50 ms at start-up). Only a hint: the summary's checks find what it misses."""
    import math
    import re

    at = {name: i for i, name in enumerate(source.all_columns)}
    day_at, id_at = (at[source.columns[role]] for role in ("order_date", "customer_id"))
    amount_at = at.get(source.columns.get("amount"))
    iso = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
    offset = re.compile(OFFSET_TEXT)
    shapes = {f: re.compile(_shape_regex(f)) for f in ISO_FORMATS}
    formats = dict.fromkeys(ISO_FORMATS, 0)
    odd_dates = odd_amounts = offsets = ids = 0
    texts = []
    for row in _head_rows(source):
        day, amount = row[day_at], row[amount_at] if amount_at is not None else ""
        texts.append(day)
        ids += row[id_at] != row[id_at].strip()
        if not _blank(day) and not iso.fullmatch(day) and re.search(MAY_BE_VALUE, day):
            odd_dates += 1
            offsets += offset.fullmatch(day) is not None
        for f, shape in shapes.items():
            formats[f] += shape.fullmatch(day) is not None
        if not _blank(amount) and re.search(MAY_BE_VALUE, amount):
            try:
                odd_amounts += "_" in amount or not math.isfinite(float(amount))
            except ValueError:
                odd_amounts += 1
    return odd_dates, odd_amounts, offsets, formats, texts, ids


def _offset_modes(source: Source) -> tuple[dict[str, str], dict[str, int]] | None:
    """How the pandas loader reads each file's ISO times with UTC offsets (pd.to_datetime, ISO8601):
    keeping the local time where a file's times have one offset ("local"; a time without one counts
    as another), else converting them to UTC ("utc"; a time without an offset is taken as UTC).
    Returns those modes by file, and the minutes east of UTC of every offset text found.
    One pass over the dates, for their distinct offsets (a CASE, not AND, keeps strptime off the
    times with an offset: each format it fails costs ~1 µs a line). None when some date is neither plain ISO
    nor :data:`OFFSET_TEXT` with a real offset (±23:59 at most): its parsers then read them all
    (:func:`read_text_values`; the summary's checks would find such dates too, a pass later)."""
    column, con = source.column("order_date"), source.con
    several = len(source.files) > 1
    rows = con.execute(f"""
        SELECT {'filename' if several else 'NULL'}, parts.offset,
               count(*) FILTER (CASE WHEN parts.offset = '' THEN {_iso_time_sql(column, source.iso_formats)} IS NULL
                                ELSE FALSE END)
        FROM (SELECT {'filename, ' if several else ''}{column}, {_offset_parts_sql(column)} AS parts
              FROM {source.scan(filename=several)} WHERE NOT {_guest_sql(column)})
        GROUP BY ALL""").fetchall()
    if any(unread for *_, unread in rows):
        return None
    minutes = {offset: _offset_minutes(offset) for _, offset, _ in rows if offset}
    if any(m is None for m in minutes.values()):
        return None
    kinds: dict[str, set] = {}
    for f, offset, _ in rows:
        kinds.setdefault(f, set()).add(minutes[offset] if offset else "none")
    original = {source.read_as.get(f, f): f for f in source.files}
    return {original.get(f, f) if several else source.files[0]: "local" if len(k) <= 1 else "utc"
            for f, k in kinds.items()}, minutes


def _offset_parts_sql(column: str) -> str:
    """The local time and the offset of :data:`OFFSET_TEXT` (a struct of two texts, empty where it does not match)."""
    return f"regexp_extract({column}, {_literal(OFFSET_TEXT)}, ['local', 'offset'])"


def _offset_day_sql(source: Source, column: str) -> str:
    """The day of a text date in files of ISO times with UTC offsets, as the pandas loader reads
    it (:func:`_offset_modes`), from ``custlens_date_parts`` (:func:`_lines_sql` adds it)."""
    modes = set(source.date_offsets.values())
    if len(modes) == 1:
        utc = "TRUE" if modes == {"utc"} else "FALSE"
    else:
        utc = "list_contains([" + ", ".join(_literal(source.read_as.get(f, f)) for f, m in source.date_offsets.items()
                                            if m == "utc") + "], filename)"
    return f"CAST({_offset_time_sql(column, 'custlens_date_parts', utc, source)} AS DATE)"


def _offset_time_sql(column: str, parts: str, utc: str, source: Source) -> str:
    """The time of a text date as the pandas loader reads it in a file of ISO times with UTC
    offsets: ``parts`` is :func:`_offset_parts_sql` of it; where ``utc`` (SQL) holds, the time in
    UTC (the offset texts' minutes looked up in :attr:`Source.offset_minutes`: 5 s less on 1e7
    lines than reading each text's digits), else the local time. A time without an offset is read
    as plain ISO (:func:`_iso_time_sql`).
    The local time has :data:`OFFSET_TEXT`'s shape, which DuckDB's cast reads as pandas does but
    for hour 24 (the next day's midnight to DuckDB, no time to pandas); a list of strptime formats
    cost 12× as much."""
    local = f"(CASE WHEN {parts}.local[12:13] <= '23' THEN TRY_CAST({parts}.local AS TIMESTAMP) END)"
    minutes = " ".join(f"WHEN {_literal(text)} THEN {m}" for text, m in sorted(source.offset_minutes.items()))
    shift = f"INTERVAL (CASE {parts}.offset {minutes} END) MINUTE"
    at = {"FALSE": local, "TRUE": f"{local} - {shift}"}.get(
        utc, f"{local} - (CASE WHEN {utc} THEN {shift} ELSE INTERVAL 0 MINUTE END)")
    return f"(CASE WHEN {parts}.offset = '' THEN {_iso_time_sql(column, source.iso_formats)} ELSE {at} END)"


def _blank(text: str) -> bool:
    """As :func:`_guest_sql` on a value read from a CSV file (empty is NULL there)."""
    return len(text) <= 4 and text.strip(" ").lower() in MISSING_TEXT


def read_text_values(source: Source, dates: bool, amounts: bool, *, progress: bool = False) -> None:
    """Read the order dates (``dates``) and amounts (``amounts``) through tables of their distinct
    texts, parsed by the pandas loader's parsers (:mod:`custlens.textvalues`): ``custlens_dates``
    (text → day) and ``custlens_amounts`` (text → amount), per file when there are several, as
    the loader chooses formats file by file. Also takes the loader's decimal mark, date formats
    and warnings for the messages; tables already made are kept. ``progress`` shows the pass over
    the lines on a terminal. Raises :class:`Unsupported` where the loader could choose otherwise
    (more than 5,000 distinct dates that are not ISO, without ``--date-format``)."""
    dates, amounts = dates and not source.text_dates, amounts and not source.text_amounts
    if not (dates or amounts):
        return
    from . import textvalues

    con, options = source.con, source.options
    original = {source.read_as.get(f, f): f for f in source.files}
    wanted = [("order_date", "d") if dates else None, ("amount", "a") if amounts else None]
    wanted = [w for w in wanted if w]
    sets = ", ".join(f"(filename, {alias})" for _, alias in wanted)
    _run(con, f"""CREATE OR REPLACE TEMP TABLE custlens_texts AS
        SELECT filename, {', '.join(f'{alias}, GROUPING({alias}) = 0 AS is_{alias}' for _, alias in wanted)}
        FROM (SELECT filename, {', '.join(f'{source.column(role)} AS {alias}' for role, alias in wanted)}
              FROM {source.scan(filename=True)})
        WHERE {' OR '.join(f'{alias} IS NOT NULL' for _, alias in wanted)}
        GROUP BY GROUPING SETS ({sets})""", "reading the dates and amounts" if progress else None)
    counts = con.execute(f"SELECT {', '.join(f'count(*) FILTER (is_{alias})' for _, alias in wanted)} "
                         "FROM custlens_texts").fetchall()[0]
    for (role, _), n in zip(wanted, counts):
        if n > textvalues.MOST_TEXTS:
            raise Unsupported(f"{n:,} distinct {'dates' if role == 'order_date' else 'amounts'} that are not "
                              f"{'ISO' if role == 'order_date' else 'plain numbers'}, too many to read one by one")
    texts = con.execute("SELECT * FROM custlens_texts").fetchall()
    con.execute("DROP TABLE custlens_texts")
    by_file: dict[tuple[str, str], list[str]] = {}
    for row in texts:
        f = original.get(row[0], row[0])
        for i, (role, alias) in enumerate(wanted):
            if row[2 + 2 * i] and row[1 + 2 * i] is not None:
                by_file.setdefault((role, f), []).append(row[1 + 2 * i])
    try:
        if dates:
            tables = []
            for f in source.files:
                table, formats, warning = textvalues.date_table(
                    by_file.get(("order_date", f), []), fmt=options.date_format,
                    column=source.columns["order_date"], source=f)
                tables.append(table.assign(file=source.read_as.get(f, f)))
                if f == source.files[0]:
                    source.date_formats = formats
                if warning:
                    source.warnings.append(f"{f}: {warning}")
            _load_table(con, "custlens_dates", tables, {"text": "custlens_date_text", "day": "custlens_day"})
            source.text_dates = True
        if amounts:
            tables = [_number_table(source, source.column("amount"), f, by_file.get(("amount", f), []))
                      for f in source.files]
            source.decimal = tables[0].attrs["decimal"]
            _load_table(con, "custlens_amounts", [t.drop(columns="bad") for t in tables],
                        {"text": "custlens_amount_text", "value": "custlens_amount"})
            source.text_amounts = True
    except textvalues.DifferentChoice as e:
        if source.date_format_guessed:  # not every date is in the first lines' format: --date-format is no help
            raise Unsupported(f"{e.distinct:,} distinct dates, not all in the format {source.sql_date_format} of the "
                              "first lines: the pandas loader chooses how to read the others") from None
        raise DatesNeedAFormat(str(e)) from None
    except CustlensError as e:  # the loader refuses the column: it says so itself, with the fix
        raise Unsupported(f"the pandas loader refuses these values ({str(e).splitlines()[0]})") from None


def _number_table(source: Source, column: str, file: str, texts: list[str]):
    """:func:`custlens.textvalues.number_table` of one file's distinct texts of a number column,
    with the decimal mark the loader would choose for it there (``attrs["decimal"]``) and the
    file's name as DuckDB reads it (column ``file``)."""
    from . import textvalues

    options = source.options
    first = texts if len(texts) <= textvalues.DECIMAL_SAMPLE or options.decimal else \
        _first_texts(source, column, file, textvalues.DECIMAL_SAMPLE)
    decimal = textvalues.decimal_mark(first, decimal=options.decimal, delimiter=source.delimiter)
    table = textvalues.number_table(texts, decimal=decimal, delimiter=source.delimiter)
    table = table.assign(file=source.read_as.get(file, file))
    table.attrs["decimal"] = decimal
    return table


def _load_table(con, name: str, tables, names: dict[str, str]) -> None:
    """A temp table from pandas frames (columns renamed by ``names``, plus custlens_file)."""
    import pandas as pd

    frame = pd.concat(tables, ignore_index=True).rename(columns={**names, "file": "custlens_file"})
    con.register("custlens_frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM custlens_frame")
    finally:
        con.unregister("custlens_frame")


def _first_texts(source: Source, column: str, file: str, n: int, among: set[str] | None = None) -> list[str]:
    """The first ``n`` distinct present texts of a column (a quoted name) in one file, in file
    order (what the pandas loader looks at to choose the decimal mark, or shows as samples), read
    in order until there are ``n``; only those in ``among`` when given."""
    from .io.parse import blank_mask

    con = source.con
    seen: dict[str, None] = {}
    with _in_file_order(con):
        con.execute(f"SELECT {column} AS v FROM {source.scan(row_numbers=True, files=[file])}")
        while len(seen) < n:
            chunk = con.fetch_df_chunk()
            if chunk.empty:
                break
            text = chunk["v"].dropna().astype("str")
            text = text[~blank_mask(text)] if among is None else text[text.isin(among)]
            for value in text.drop_duplicates():
                seen.setdefault(value, None)
    return list(seen)[:n]


def _group_sql(source: Source, window: str, *, orders: bool = True, lines: str | None = None,
               usable: bool = False, listed: bool = True) -> str:
    """One row per raw customer id: the checks, the counted order days (a list), the orders and
    the net amount up to the as-of date (these three NULL without ``orders``); see :func:`summarize`.
    Without ``listed`` (files without an order id), the days are not listed but counted
    (``day_lines``): :func:`_key_days` finds them.
    Unusable dates and amounts are NULL, so a check is ``count(*) - count(column)``. With
    ``usable``, only the lines the loader keeps (:data:`USABLE`) are summarised; without, a line
    whose amount is NULL but not its date would count (the summary checks first that there is
    none: the filters cost 5% of a summary of 1e7 lines). Money is added with ``fsum``
    (Kahan sums, as pandas' groupby sums are, up to DuckDB 2.0.0; exact from 2.0.1: the last bit
    may differ, see :func:`custlens.cohorts.build_matrix`), here and in every engine query. ``lines``: other
    lines than the files' (see :func:`summarize`)."""
    odd_amount = _amount_sql(source)[1]
    has_orders = "order_id" in source.columns
    lines = lines or _lines_sql(source)
    odd = "count(*) FILTER (odd_amount)" if odd_amount else "0"
    kept = f"FILTER ({USABLE})" if usable else ""
    checks = f"""count(*) AS lines, count(*) - count(day) AS no_dates, count(*) - count(amount) AS no_amounts,
                 {odd} AS odd_amounts, min(day) {kept} AS min_day, max(day) {kept} AS max_day"""
    within = f"{USABLE} AND " if usable else ""
    after = _counted_sql(window, usable)
    if window == "TRUE":  # every day: every line with a date (and an amount, with usable)
        in_window = f"count(day) {kept} AS in_window, 0 AS after"
    else:
        in_window = (f"count(*) FILTER ({within}{window}) AS in_window, "
                     f"count(*) FILTER ({within}NOT ({window})) AS after")
    if not orders:
        padded = "count(*) FILTER (padded_order)" if has_orders else "0"
        return f"""SELECT customer_id, {checks}, {padded} AS padded_orders, {in_window}, NULL::INTEGER[] AS days,
                       NULL::DOUBLE AS monetary, NULL::BIGINT AS orders
                   FROM ({lines}) GROUP BY customer_id"""
    if not has_orders:
        # an order is the customer's lines of one day: counted when one line is not negative
        days = (f"list({EPOCH_DAY}) FILTER ({after} AND amount >= 0) AS days" if listed else
                f"count(*) FILTER ({after} AND amount >= 0) AS day_lines")
        return f"""SELECT customer_id, {checks}, 0 AS padded_orders, {in_window}, {days},
                       fsum(amount) FILTER ({after}) AS monetary, NULL::BIGINT AS orders
                   FROM ({lines}) GROUP BY customer_id"""
    # with an order id: collapse lines into orders first (day = the order's first line)
    return f"""SELECT customer_id, sum(lines) AS lines, sum(no_dates) AS no_dates, sum(no_amounts) AS no_amounts,
                   sum(odd_amounts) AS odd_amounts,
                   min(min_day) AS min_day, max(max_day) AS max_day, sum(padded_orders) AS padded_orders,
                   sum(in_window) AS in_window, sum(after) AS after,
                   list({EPOCH_DAY}) FILTER (in_window > 0 AND counted) AS days,
                   fsum(amount) FILTER (in_window > 0) AS monetary,
                   count(*) FILTER (in_window > 0 AND counted) AS orders
               FROM (SELECT customer_id, order_key, {checks}, count(*) FILTER (padded_order) AS padded_orders,
                         {in_window}, min(day) FILTER ({after}) AS day, fsum(amount) FILTER ({after}) AS amount,
                         bool_or(amount >= 0) FILTER ({after}) AS counted
                     FROM ({lines}) GROUP BY customer_id, order_key)
               GROUP BY customer_id"""


def _counted_sql(window: str, usable: bool) -> str:
    """The lines a summary up to the as-of date (``window``) counts, less the lines to exclude
    with ``usable`` (see :func:`_group_sql`): their amounts add up, and their days are order days
    where the amount is not negative."""
    if window == "TRUE":
        return USABLE if usable else "day IS NOT NULL"
    return f"{USABLE} AND {window}" if usable else window


def _lines_sql(source: Source, extra: dict[str, str] | None = None, *, one_scan: bool = False,
               scan: str | None = None) -> str:
    """The lines: customer_id (raw text), day, amount (NULL when not a finite number), the date
    and amount as written (date_text, amount_text), and with an order id, order_key and
    padded_order (:func:`_order_sql`); for text amounts, odd_amount; and a column for each of
    ``extra`` (name → an expression on the file's columns). ``one_scan``: see
    :meth:`Source.scan`; ``scan``: another FROM clause of the files' columns (and filename)."""
    value, odd_amount = _amount_sql(source)
    customer = _text_sql(source, "customer_id")
    has_orders = "order_id" in source.columns
    order = f", {_text_sql(source, 'order_id')} AS order_id" if has_orders else ""
    extra = extra or {}
    computed = "".join(f", {expression} AS {name}" for name, expression in extra.items())
    numbers = [r for r in NUMBER_ROLES if r in source.text_numbers and  # joined only where they are read
               (number_value(r) in extra.values() or source.fill_amounts and r in AMOUNT_PARTS)]
    offsets = bool(source.date_offsets) and not source.text_dates  # _offset_day_sql reads custlens_date_parts
    by_file = len(source.files) > 1 and (source.text_dates or source.text_amounts or numbers or
                                         (offsets and len(set(source.date_offsets.values())) > 1))
    if scan is None and source.repeats:
        scan = _without_repeats_sql(source, one_scan=one_scan)
    scan = scan or source.scan(filename=by_file, one_scan=one_scan)
    if offsets:
        scan = f"(SELECT *, {_offset_parts_sql(source.column('order_date'))} AS custlens_date_parts FROM {scan})"
    return f"""SELECT customer_id, day, CASE WHEN isfinite(value) THEN value END AS amount, value AS amount_value,
                      date_text, amount_text
                      {', ' + odd_amount + ' AS odd_amount' if odd_amount else ''}
                      {_order_sql('order_id') if has_orders else ''} {''.join(', ' + n for n in extra)}
               FROM (SELECT {customer} AS customer_id, {_day_sql(source)} AS day, {value} AS value,
                            {source.column('order_date')} AS date_text,
                            {source.column('amount')} AS amount_text {order} {computed}
                     FROM {scan} AS lines {_text_joins(source, numbers)})"""


def _line_hash_sql(source: Source) -> str:
    """A 64-bit hash of the line's customer, order, date and amount as written: equal lines have
    equal hashes. Only those columns are read for it (an export may have dozens more); lines
    equal in those alone are compared in every column later (:func:`_repeated_lines`)."""
    return f"hash({', '.join(_ident(c) for c in source.columns.values())})"


def _repeated_lines(source: Source) -> int:
    """How many lines repeat an earlier line of their file in every column (the pandas loader
    excludes them where the files have an order id: custlens.io.load.duplicate_lines). One pass
    keeps the hashes (:func:`_line_hash_sql`) seen more than once in the temp table
    ``custlens_repeated`` (lines equal in part, or a collision, only add candidates); where there
    are any, one more keeps the lines with those hashes, and their file's name, in
    ``custlens_candidates``, with custlens_first: the line is the first of its file with these
    values in every column (any one of equal lines: they are equal)."""
    con = source.con
    con.execute(f"""CREATE OR REPLACE TEMP TABLE custlens_repeated AS
                    SELECT h FROM (SELECT {_line_hash_sql(source)} AS h FROM {source.scan()}) GROUP BY h
                    HAVING count(*) > 1""")
    if not con.execute("SELECT count(*) FROM custlens_repeated").fetchall()[0][0]:
        return 0
    columns = ", ".join(["filename", *(_ident(c) for c in source.all_columns)])
    con.execute(f"""CREATE OR REPLACE TEMP TABLE custlens_candidates AS
                    SELECT *, row_number() OVER (PARTITION BY {columns}) = 1 AS custlens_first
                    FROM {source.scan(filename=True)} WHERE {_line_hash_sql(source)} IN (SELECT h FROM custlens_repeated)""")
    return con.execute("SELECT count(*) FILTER (NOT custlens_first) FROM custlens_candidates").fetchall()[0][0]


def _without_repeats_sql(source: Source, *, one_scan: bool = False) -> str:
    """The files' lines (and their file's name) without those that repeat an earlier line of their
    file (:func:`_repeated_lines`): the lines whose hash is seen once, and the first of each set
    of equal lines."""
    return f"""(SELECT * EXCLUDE (custlens_first) FROM custlens_candidates WHERE custlens_first
               UNION ALL BY NAME
               SELECT * FROM {source.scan(filename=True, one_scan=one_scan)}
               WHERE {_line_hash_sql(source)} NOT IN (SELECT h FROM custlens_repeated))"""


#: a day's period as the ordinal of pandas' Period (custlens.cohorts.FREQUENCIES), by period
PERIOD_ORDINALS = {
    "week": "(CAST(floor((day - DATE '1969-12-29') / 7) AS BIGINT) + 1)",  # W-SUN: Monday to Sunday
    "month": "((year(day) - 1970) * 12 + month(day) - 1)",
    "quarter": "((year(day) - 1970) * 4 + (month(day) - 1) // 3)",
}


def _customer_lines_sql(source: Source, extra: dict[str, str] | None = None, *, one_scan: bool = False) -> str:
    """The lines the pandas loader keeps (a customer, a date, an amount: :data:`USABLE`):
    customer_id, day, amount, order_key (the order id, or the day without one), as
    :func:`custlens.summary.order_table` groups them into orders; and the columns of ``extra``
    (see :func:`_lines_sql`, also for ``one_scan``)."""
    key = "order_key" if "order_id" in source.columns else "day"
    return f"""SELECT customer_id, day, amount, {key} AS order_key {''.join(', ' + n for n in extra or {})}
               FROM ({_lines_sql(source, extra, one_scan=one_scan)})
               WHERE NOT {_guest_sql('customer_id')} AND {USABLE}"""


def _order_tables(result: Result, end: date, lines: str | None = None, *, orders: bool = True) -> None:
    """Temp tables of the customers' lines up to ``end`` and their orders, as
    :func:`custlens.summary.order_table` makes them: ``order_lines`` (customer_id, day, amount,
    order_key) and, with ``orders``, ``orders`` (customer_id, day = the order's first line,
    counted = not all returns). ``lines`` is a query of such lines (default :func:`_customer_lines_sql`)."""
    result.run(f"""CREATE OR REPLACE TEMP TABLE order_lines AS
                   SELECT * FROM ({lines or _customer_lines_sql(result.source)}) WHERE day <= {_date(end)}""",
               label="reading the lines")
    if orders:
        result.run(f"CREATE OR REPLACE TEMP TABLE orders AS {_orders_sql('order_lines')}", label="collecting the orders")


def _orders_sql(lines: str) -> str:
    """The orders of ``lines`` (a table or CTE with customer_id, day, amount, order_key), as
    :func:`custlens.summary.order_table` makes them: day = the order's first line, counted = not
    all of its lines are returns."""
    return f"""SELECT customer_id, min(day) AS day, bool_or(amount >= 0) AS counted
               FROM {lines} GROUP BY customer_id, order_key"""


def cohort_counts(result: Result, *, period: str, metric: str):
    """:class:`custlens.cohorts.CohortCounts` of the lines up to the as-of date, as
    :func:`custlens.cohorts.count_cohorts` counts them: orders as in the summary, a customer's
    cohort the period of the first counted order; retention counts the cohort's customers with a
    counted order in each period, revenue sums the lines by their own period. ``result`` may be
    a summary of the checks only (``orders=False``): the customer counts come from the orders.

    Without an order id an order is a customer's day, counted when one of its lines is not a
    return: a customer has a counted order in a period exactly when one of their lines in it is
    not a return, so the periods come from the lines without collecting the orders (and for
    retention, in one pass over the files)."""
    import pandas as pd

    from .cohorts import CohortCounts

    con = result.con
    ordinal = PERIOD_ORDINALS[period]
    with_ids = "order_id" in result.source.columns
    if with_ids or metric != "retention":  # the lines are read again (revenue) or grouped into orders
        _order_tables(result, result.as_of, orders=with_ids)
        counted = "orders WHERE counted" if with_ids else "order_lines WHERE amount >= 0"
    else:  # one pass over the files
        counted = f"({_customer_lines_sql(result.source)}) WHERE day <= {_date(result.as_of)} AND amount >= 0"
    result.run(f"""CREATE OR REPLACE TEMP TABLE active AS
                   SELECT DISTINCT customer_id, {ordinal} AS period FROM {counted}""", label="finding the active periods")
    con.execute("""CREATE OR REPLACE TEMP TABLE cohort_of AS
                   SELECT customer_id, min(period) AS cohort FROM active GROUP BY customer_id""")
    # the summary's customers (a counted order by the as-of date) and return-only customers (lines, none counted)
    customers, with_lines = con.execute(f"""SELECT (SELECT count(*) FROM cohort_of),
                                               (SELECT count(*) FROM {result.groups} WHERE NOT guest AND in_window > 0)
                                            """).fetchall()[0]
    size = con.execute("SELECT cohort, count(*) AS n FROM cohort_of GROUP BY cohort").df()
    if metric == "retention":
        values = con.execute("""SELECT cohort, period - cohort AS k, count(*)::DOUBLE AS v
                                FROM active JOIN cohort_of USING (customer_id) GROUP BY ALL""").df()
    else:
        values = con.execute(f"""SELECT cohort, {ordinal} - cohort AS k, fsum(amount) AS v
                             FROM order_lines JOIN cohort_of USING (customer_id) GROUP BY ALL""").df()
    index = pd.MultiIndex.from_arrays([values["cohort"].astype("int64"), values["k"].astype("int64")])
    return CohortCounts(size=pd.Series(size["n"].to_numpy(), index=size["cohort"].astype("int64").to_numpy()),
                        values=pd.Series(values["v"].to_numpy(), index=index),
                        summary=(customers, pd.Timestamp(result.as_of), result.lines_after_as_of,
                                 with_lines - customers))


def line_span(result: Result):
    """(net amount of the customers' lines up to the as-of date, the first and the last day of
    any of their lines), as pandas Timestamps for the days."""
    import pandas as pd

    revenue, first, last = result.con.execute(
        f"SELECT coalesce(fsum(amount) FILTER (day <= {_date(result.as_of)}), 0.0), min(day), max(day) "
        f"FROM ({_customer_lines_sql(result.source)})").fetchall()[0]
    return float(revenue), pd.Timestamp(first), pd.Timestamp(last)


def customer_ids(result: Result):
    """Every customer id with a line the loader keeps (those with returns only too), as pandas strings."""
    return sql_frame(result.con, f"SELECT customer_id FROM {result.groups} WHERE NOT guest AND in_window + after > 0"
                     )["customer_id"]


def customer_lines(result: Result, customer_id: str):
    """One customer's usable purchase lines as the pandas loader reads them from the whole files: DuckDB
    selects their raw rows (file by file, in file order), and :func:`custlens.io.load.load_tables`
    parses them with the choices made on the whole files (the column roles, the decimal mark, the
    date format), not choices of its own on these few rows; nor does it refuse a column for them
    (the summary checked the columns of the whole files). Empty (with the summary's columns) for
    a customer without usable lines."""
    import pandas as pd

    from .errors import EmptyInputError
    from .io.load import load_tables
    from .io.read import RawTable

    source, con = result.source, result.con
    dates = source.columns["order_date"]

    def raw(name: str, f: str) -> str:
        """The column as the loader reads it; order dates as the summary read them: instants in
        the file's zone, and times with UTC offsets as the whole file decides (these few lines
        could decide otherwise)."""
        if name == dates and source.date_zone:
            return f"{_local_time_sql(_ident(name), source.date_zone)} AS {_ident(name)}"
        if name == dates and source.date_offsets and not source.text_dates:
            utc = "TRUE" if source.date_offsets[f] == "utc" else "FALSE"
            parts = "(" + _offset_parts_sql(_ident(name)) + ")"
            return f"{_offset_time_sql(_ident(name), parts, utc, source)} AS {_ident(name)}"
        return f"coalesce({_ident(name)}, '') AS {_ident(name)}" if source.format == "csv" else _ident(name)
    where = f"{_text_sql(source, 'customer_id')} = {_literal(customer_id)}"
    tables = []
    with _in_file_order(con):
        for f in source.files:
            columns = ", ".join(raw(name, f) for name in source.all_columns)
            query = f"SELECT {columns} FROM {source.scan(files=[f], one_scan=True)} WHERE {where}"
            frame = with_relations(con).sql(query).to_arrow_table().to_pandas()
            if len(frame):
                tables.append(RawTable(source=f, format=source.format, frame=frame, encoding=source.encoding,
                                       delimiter=source.delimiter, header_names=list(source.all_columns)))
    none = pd.DataFrame({"customer_id": pd.Series(dtype="string"), "order_date": pd.Series(dtype="datetime64[ns]"),
                         "amount": pd.Series(dtype="float64")})
    if not tables:
        return none
    one_format = source.text_dates and len(source.date_formats) == 1
    decimals = {**source.text_numbers, **({"amount": source.decimal} if source.types["amount"] == "VARCHAR" else {})}
    options = LoadOptions(columns=dict(source.mapped), decimal=source.options.decimal, decimals=decimals,
                          date_format=source.options.date_format or source.sql_date_format or
                          (source.date_formats[0] if one_format else None), check_columns=False)
    try:
        return load_tables(tables, PURCHASES, options)[0]
    except EmptyInputError:  # every line of theirs is excluded (the summary said so, of the whole files)
        return none


def kpi_periods(result: Result, before, after, *, label: str | None = None):
    """``(span, before_data, after_data)`` for :func:`custlens.kpi.compare_periods`: ``span`` is what
    :func:`custlens.kpi.check_span` needs (the first and last day of the customers' lines, the lines
    dated in each period); the :class:`custlens.kpi.PeriodData` are as :func:`custlens.kpi.period_data`
    computes them: orders as in the summary (up to the later period's end), lines summed per customer
    (Kahan sums, as pandas adds up), customers in the order of their ids. With ``label``, of the
    lines with that label in :func:`label_lines`' table only."""
    import numpy as np

    from .kpi import PeriodData

    con = result.con
    lines = None
    if label is not None:
        lines = f"SELECT customer_id, day, amount, order_key FROM kpi_labelled WHERE label = {_literal(label)}"
    end = max(before.end, after.end)
    periods = {"b": before, "a": after}
    orders = ", ".join(
        f"count(*) FILTER (counted AND {_between(p)}) AS orders_{k}, "
        f"count(*) FILTER (counted AND {_between(p.previous())}) AS previous_{k}" for k, p in periods.items())
    sums = ", ".join(
        f"count(*) FILTER ({_between(p)}) AS lines_{k}, fsum(amount) FILTER ({_between(p)}) AS revenue_{k}, "
        f"fsum(amount) FILTER (day <= {_date(p.end)}) AS value_{k}" for k, p in periods.items())
    if "order_id" in result.source.columns:
        _order_tables(result, end, lines)
        with_lines, line_table, order_table = "", "order_lines", "orders"
    else:
        # Without an order id an order is a customer's day, counted when one of its lines is not a
        # return: grouped straight from the lines (read twice, not copied into a table first; in
        # one scan each: ranges made 1e6 lines 0.05 s slower here, see bench/RESULTS.md).
        with_lines = f"""WITH l AS NOT MATERIALIZED (SELECT customer_id, day, amount, order_key
                         FROM ({lines or _customer_lines_sql(result.source, one_scan=True)})
                         WHERE day <= {_date(end)})"""
        line_table, order_table = "l", f"({_orders_sql('l')})"
    result.run(f"""CREATE OR REPLACE TEMP TABLE kpi_customers AS {with_lines}
                    SELECT * FROM (SELECT customer_id, min(day) FILTER (counted) AS first, {orders}
                                   FROM {order_table} GROUP BY customer_id)
                    JOIN (SELECT customer_id, {sums} FROM {line_table} GROUP BY customer_id) USING (customer_id)""",
               label="counting the periods")
    if lines is None:
        first, last = con.execute(f"SELECT min(min_day), max(max_day) FROM {result.groups} WHERE NOT guest").fetchall()[0]
    else:
        first, last = con.execute(f"SELECT min(day), max(day) FROM ({lines})").fetchall()[0]
    in_before, in_after = con.execute("SELECT sum(lines_b), sum(lines_a) FROM kpi_customers").fetchall()[0]

    def data(k: str, period) -> PeriodData:
        per = con.execute(f"""SELECT customer_id, orders_{k} AS orders, coalesce(revenue_{k}, 0.0) AS revenue
                          FROM kpi_customers WHERE orders_{k} > 0 ORDER BY customer_id""").df()
        revenue, new, retained, previous = con.execute(f"""
            SELECT coalesce(fsum(revenue_{k}), 0.0), count(*) FILTER ({_between(period, 'first')}),
                   count(*) FILTER (previous_{k} > 0 AND orders_{k} > 0), count(*) FILTER (previous_{k} > 0)
            FROM kpi_customers""").fetchall()[0]
        value = con.execute(f"""SELECT coalesce(value_{k}, 0.0) AS value FROM kpi_customers
                            WHERE first <= {_date(period.end)} ORDER BY customer_id""").fetchnumpy()["value"]
        per["orders"] = per["orders"].astype("int64")
        return PeriodData(period=period, revenue=float(revenue), per_customer=per, new_customers=int(new),
                          retained=int(retained), previous_customers=int(previous),
                          value_to_date=np.asarray(value, dtype="float64"))

    return (first, last, (int(in_before or 0), int(in_after or 0))), data("b", before), data("a", after)


#: the column types whose text is the same in DuckDB and pandas (``astype("string")``)
LABEL_TYPES = ("VARCHAR", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER",
               "UBIGINT")


def can_label(source: Source, role: str) -> bool:
    """Whether :func:`label_lines` labels the lines by this purchase role as
    :func:`custlens.kpi.group_labels` does: the files have it, as text or integers."""
    column = source.mapped.get(role)
    return column is not None and source.column_types.get(column) in LABEL_TYPES


def _role_text_sql(source: Source, role: str) -> str:
    """A purchase role's column as the pandas loader reads a text or id column (:func:`can_label`):
    stripped as Python strips; NULL when blank or a 'no value' mark."""
    column = _ident(source.mapped[role])
    text = column if source.column_types[source.mapped[role]] == "VARCHAR" else f"CAST({column} AS VARCHAR)"
    stripped = _strip_sql(text)
    return f"CASE WHEN {_guest_sql(stripped)} THEN NULL ELSE {stripped} END"


def label_lines(result: Result, *, role: str | None = None, segments=None) -> list[str]:
    """Temp table ``kpi_labelled``: the customers' lines (:func:`_customer_lines_sql`) with the
    label :func:`custlens.kpi.group_labels` gives them: the value of the purchase ``role``'s column
    (stripped as Python strips; blank or a 'no value' mark is "(empty)"), or the customer's segment
    in ``segments`` (customer_id → label; "(not in the file)" without one). Returns the labels,
    sorted as Python sorts them."""
    from .kpi import EMPTY_LABEL, NO_SEGMENT

    con, source = result.con, result.source
    if segments is not None:
        import pandas as pd

        table = pd.DataFrame({"customer_id": segments.index.astype("string"), "label": segments.astype("string")})
        con.register("kpi_segments", table[table["customer_id"].notna()])
        label = f"coalesce(s.label, {_literal(NO_SEGMENT)})"
        joined = f"({_customer_lines_sql(source)}) AS l LEFT JOIN kpi_segments AS s USING (customer_id)"
        select = f"SELECT l.customer_id, day, amount, order_key, {label} AS label FROM {joined}"
    else:
        select = _customer_lines_sql(source, {"label": f"coalesce({_role_text_sql(source, role)}, "
                                                       f"{_literal(EMPTY_LABEL)})"})
    result.run(f"CREATE OR REPLACE TEMP TABLE kpi_labelled AS {select}", label="labelling the lines")
    return sorted(label for (label,) in con.execute("SELECT DISTINCT label FROM kpi_labelled").fetchall())


def label_customers(result: Result, label: str) -> list[str]:
    """The customers with a line labelled ``label`` in :func:`label_lines`' table."""
    rows = result.con.execute(f"SELECT DISTINCT customer_id FROM kpi_labelled WHERE label = {_literal(label)}")
    return [customer for (customer,) in rows.fetchall()]


def value_by_label(result: Result, roles) -> dict:
    """:func:`custlens.labels.value_by_label` of each of ``roles`` the files have (category,
    channel, region: read as :func:`can_label` allows), in one pass over the lines: per customer
    and label, the value of their positive lines up to the as-of date, in cents."""
    from .labels import in_cents

    source = result.source
    roles = [role for role in roles if role in source.mapped]
    if not roles:
        return {}
    texts = {f"label_{role}": _role_text_sql(source, role) for role in roles}
    result.run(f"""CREATE OR REPLACE TEMP TABLE label_values AS
                   SELECT customer_id, {', '.join(texts)}, {', '.join(f'GROUPING({t}) = 0 AS is_{t}' for t in texts)},
                          fsum(amount) AS amount
                   FROM ({_customer_lines_sql(source, texts)}) WHERE amount > 0 AND day <= {_date(result.as_of)}
                   GROUP BY GROUPING SETS ({', '.join(f'(customer_id, {t})' for t in texts)})""",
               label="adding up the categories")
    try:
        return {role: in_cents(sql_frame(result.con, f"SELECT customer_id, {t} AS label, amount FROM label_values "
                                                     f"WHERE is_{t} AND {t} IS NOT NULL"))
                for role, t in zip(roles, texts)}
    finally:
        result.con.execute("DROP TABLE label_values")


#: the optional number roles read as the pandas loader reads them (:func:`read_numbers`): the cost,
#: and the quantity and unit price that fill blank amounts (:attr:`Source.fill_amounts`)
NUMBER_ROLES = ("quantity", "unit_price", "cost")
#: how messages name their values
NUMBER_PLURALS = {"quantity": "quantities", "unit_price": "unit prices", "cost": "costs"}


def number_value(role: str) -> str:
    """The lines' column of a role of :data:`NUMBER_ROLES` read through its table (:func:`read_numbers`)."""
    return f"custlens_{role}"


def can_number(source: Source, role: str) -> bool:
    """Whether the files have a column of ``role`` (of :data:`NUMBER_ROLES`) that this engine reads
    as the pandas loader does: numbers, or text (parsed by the loader's parser, :func:`read_numbers`)."""
    column = source.mapped.get(role)
    kind = source.column_types.get(column, "")
    return column is not None and (kind in NUMBER_TYPES or kind == "VARCHAR" or kind.startswith("DECIMAL"))


def read_numbers(source: Source, roles: tuple[str, ...], *, progress: bool = False) -> None:
    """Make the columns of ``roles`` (of :data:`NUMBER_ROLES`) readable as the pandas loader reads
    them (:func:`_number_sql`). Text goes through a table per role, ``custlens_<role>s`` (text →
    value, per file; one pass over the lines finds the distinct texts of every role), each distinct
    text parsed by the loader's parser with the decimal mark the loader would choose for the column
    in that file; texts that are not numbers are left empty, with the loader's warning (count and
    the first three in file order). Raises :class:`Unsupported` where the loader refuses a column
    (most of a file's values are not numbers: it says so, with the fix) or a column of another
    type. ``progress`` shows the pass over the lines on a terminal."""
    from . import textvalues

    for role in roles:
        if not can_number(source, role):
            raise Unsupported(f"the {role.replace('_', ' ')} column is not numbers or text")
    todo = [r for r in roles if source.column_types[source.mapped[r]] == "VARCHAR" and r not in source.text_numbers]
    if not todo:
        return
    con = source.con
    original = {source.read_as.get(f, f): f for f in source.files}
    aliases = {role: f"n{i}" for i, role in enumerate(todo)}
    _run(con, f"""CREATE OR REPLACE TEMP TABLE custlens_texts AS
        SELECT filename, {', '.join(f'{a}, GROUPING({a}) = 0 AS is_{a}' for a in aliases.values())}, count(*) AS n
        FROM (SELECT filename, {', '.join(f'{_ident(source.mapped[r])} AS {a}' for r, a in aliases.items())}
              FROM {source.scan(filename=True)})
        WHERE {' OR '.join(f'{a} IS NOT NULL' for a in aliases.values())}
        GROUP BY GROUPING SETS ({', '.join(f'(filename, {a})' for a in aliases.values())})""",
         f"reading the {' and '.join(NUMBER_PLURALS[r] for r in todo)}" if progress else None)
    for role, alias in aliases.items():
        texts = con.execute(f"SELECT filename, {alias}, n FROM custlens_texts WHERE is_{alias} AND {alias} IS NOT NULL"
                            ).fetchall()
        if len(texts) > textvalues.MOST_TEXTS:
            raise Unsupported(f"{len(texts):,} distinct {NUMBER_PLURALS[role]}, too many to read one by one")
        by_file: dict[str, dict[str, int]] = {}
        for f, text, n in texts:
            by_file.setdefault(original.get(f, f), {})[text] = n
        _number_texts_table(source, role, by_file)
    con.execute("DROP TABLE custlens_texts")


def _number_texts_table(source: Source, role: str, by_file: dict[str, dict[str, int]]) -> None:
    """The table of :func:`read_numbers` for one role from its texts (file → text → lines)."""
    from .errors import sample_text
    from .io.load import WRONG_TYPE_SHARE
    from .io.parse import blank_mask

    column = source.mapped[role]
    name = _ident(column)
    tables = []
    for f in source.files:
        lines = by_file.get(f, {})
        table = _number_table(source, name, f, list(lines))
        n = table["text"].map(lines).astype("int64")
        bad, present = int(n[table["bad"]].sum()), int(n[~blank_mask(table["text"])].sum())
        if bad and bad >= present * WRONG_TYPE_SHARE:
            raise Unsupported(f"the pandas loader refuses the {role.replace('_', ' ')} column of {f} ({bad:,} of "
                              f"{present:,} values are not numbers)")
        if bad:
            samples = _first_texts(source, name, f, 3, among=set(table.loc[table["bad"], "text"]))
            source.warnings.append(f"{f}: column {column!r} ({role}): {bad:,} values not numbers left empty, "
                                   f"e.g. {sample_text(samples)}")
        tables.append(table.drop(columns="bad"))
    _load_table(source.con, f"custlens_{role}s", tables, {"text": f"custlens_{role}_text", "value": number_value(role)})
    source.text_numbers[role] = tables[0].attrs["decimal"]


def _number_sql(source: Source, role: str) -> str:
    """The value of ``role`` (of :data:`NUMBER_ROLES`) as the pandas loader reads it, NULL where it
    has none (blank, NaN, not a number): through its table where :func:`read_numbers` made one
    (text), else the typed column."""
    if role in source.text_numbers:
        return number_value(role)
    number = f"CAST({_ident(source.mapped[role])} AS DOUBLE)"
    return f"(CASE WHEN {_isnan_sql(number)} THEN NULL ELSE {number} END)"


def margins(result: Result):
    """:func:`custlens.pareto.margins` by DuckDB: per customer, Σ(amount − cost) over their lines
    up to the as-of date, a missing cost counting as 0 (the cost column read by :func:`read_numbers`)."""
    source = result.source
    read_numbers(source, ("cost",), progress=result.progress)
    cost = _number_sql(source, "cost")
    result.run(f"""CREATE OR REPLACE TEMP TABLE custlens_margins AS
                   SELECT customer_id, fsum(amount - coalesce(cost, 0)) AS margin
                   FROM ({_customer_lines_sql(source, {'cost': cost})})
                   WHERE amount IS NOT NULL AND day <= {_date(result.as_of)} GROUP BY customer_id""",
               label="adding up the margins")
    try:
        return sql_frame(result.con, "SELECT * FROM custlens_margins").set_index("customer_id")["margin"]
    finally:
        result.con.execute("DROP TABLE custlens_margins")


#: the purchase roles the win-back list and recommendations read from the lines
PRODUCT_ROLES = ("product_id", "product", "category")


def reads_products(source: Source) -> bool:
    """Whether :func:`basket` and :func:`winback_lines` read every product role the files have
    as the pandas loader does (text or integer columns: :func:`can_label`)."""
    return all(can_label(source, role) for role in PRODUCT_ROLES if role in source.mapped)


@dataclass
class ProductLines:
    """The customers' positive lines up to an as-of date, with their products, in the DuckDB
    temp table ``product_lines`` (:func:`product_lines`)."""

    result: Result
    roles: tuple[str, ...]  # the product roles the files have, of PRODUCT_ROLES

    @property
    def key(self) -> str | None:
        """What a product is keyed by: product_id when the files have it, else product."""
        return next((r for r in ("product_id", "product") if r in self.roles), None)


def product_lines(result: Result, *, as_of: date | None = None) -> ProductLines:
    """Temp table ``product_lines``: the customers' positive lines up to ``as_of`` (default the
    as-of date): customer_id, day, amount and the product roles the files have (product_id,
    product, category), read as the pandas loader reads them (:func:`reads_products`). Without
    any of those roles there is nothing to read: no table is made."""
    source = result.source
    roles = {role: _role_text_sql(source, role) for role in PRODUCT_ROLES if role in source.mapped}
    if not roles:
        return ProductLines(result=result, roles=())
    result.run(f"""CREATE OR REPLACE TEMP TABLE product_lines AS
                   SELECT customer_id, day, amount {''.join(', ' + r for r in roles)}
                   FROM ({_customer_lines_sql(source, roles)})
                   WHERE amount > 0 AND day <= {_date(as_of or result.as_of)}""", label="reading the products")
    return ProductLines(result=result, roles=tuple(roles))


def hide_last_days(lines: ProductLines) -> dict:
    """For :func:`custlens.recommend.evaluate_basket`: takes each repeat customer's last day (of
    those with positive lines on two days or more) out of the :func:`product_lines`, so that
    :func:`basket` learns without it, and returns what they bought on it (customer id → the set
    of product keys; empty when no line of that day has one)."""
    from .errors import MissingColumnError
    from .recommend import EVALUATE_NEEDS_PRODUCTS

    con, key = lines.result.con, lines.key
    if key is None:
        raise MissingColumnError(EVALUATE_NEEDS_PRODUCTS)
    con.execute("""CREATE OR REPLACE TEMP TABLE hidden_days AS SELECT customer_id, max(day) AS day
                   FROM product_lines GROUP BY customer_id HAVING count(DISTINCT day) >= 2""")
    hidden = sql_frame(con, f"""SELECT customer_id, {key} AS key FROM product_lines
                                SEMI JOIN hidden_days USING (customer_id, day)""")
    con.execute("DELETE FROM product_lines USING hidden_days AS h "
                "WHERE product_lines.customer_id = h.customer_id AND product_lines.day = h.day")
    bought = hidden.dropna(subset=["key"])
    return {**dict.fromkeys(hidden["customer_id"].unique(), frozenset()),
            **{customer: set(keys) for customer, keys in bought["key"].groupby(bought["customer_id"])}}


def basket(lines: ProductLines):
    """:func:`custlens.recommend.baskets` of the :func:`product_lines`, aggregated here and built
    by :func:`custlens.recommend.basket_from` (the same rules for both engines)."""
    from .errors import MissingColumnError
    from .recommend import basket_from

    con, key, roles = lines.result.con, lines.key, lines.roles
    if key is None:
        raise MissingColumnError("recommendations need a product (or product_id) column in the purchases; "
                                 "add --map product=COLUMN")
    names = "product" if key != "product" and "product" in roles else None
    category = "category" if "category" in roles else None
    con.execute(f"""CREATE OR REPLACE TEMP VIEW basket_lines AS
                    SELECT customer_id, {key} AS key, amount {''.join(', ' + c for c in (names, category) if c)}
                    FROM product_lines WHERE {key} IS NOT NULL""")
    for name, column in (("basket_customers", "customer_id"), ("basket_products", "key")):
        con.execute(f"""CREATE OR REPLACE TEMP TABLE {name} AS SELECT {column}, row_number() OVER (ORDER BY {column}) - 1
                        AS code FROM (SELECT DISTINCT {column} FROM basket_lines)""")
    pairs = con.execute("""SELECT c.code AS owner, p.code AS product
                           FROM (SELECT DISTINCT customer_id, key FROM basket_lines) AS b
                           JOIN basket_customers AS c USING (customer_id) JOIN basket_products AS p USING (key)""").fetchnumpy()
    customers = sql_frame(con, "SELECT customer_id FROM basket_customers ORDER BY code")["customer_id"]
    products = sql_frame(con, "SELECT key FROM basket_products ORDER BY code")["key"]

    def lines_per(column: str | None):
        if column is None:
            return None
        return sql_frame(con, f"""SELECT key, {column}, count(*) AS lines FROM basket_lines WHERE {column} IS NOT NULL
                               GROUP BY key, {column}""")

    spend = None
    if category:
        spend = sql_frame(con, """SELECT c.code AS customer, category, fsum(amount) AS amount
                               FROM basket_lines AS b JOIN basket_customers AS c USING (customer_id)
                               WHERE category IS NOT NULL GROUP BY c.code, category""")
    return basket_from(customers, products, pairs["owner"].astype("int64"), pairs["product"].astype("int64"),
                       names=lines_per(names), categories=lines_per(category), spend=spend)


def winback_lines(lines: ProductLines, customers):
    """What :func:`custlens.lifecycle.favourite` and :func:`custlens.lifecycle.last_product` read
    of ``customers``' :func:`product_lines`, as two small frames (None without the role): their
    net value per category (customer_id, category, amount), and their lines with a product on
    the last day they have one (customer_id, order_date, amount, product)."""
    import pandas as pd

    if not lines.roles:
        return None, None
    con = lines.result.con
    con.register("custlens_wanted", pd.DataFrame({"customer_id": pd.Series(customers, dtype="string").dropna().unique()}))
    theirs = "SELECT * FROM product_lines AS l SEMI JOIN custlens_wanted AS w ON l.customer_id = w.customer_id"
    by_category = last_day = None
    if "category" in lines.roles:
        by_category = sql_frame(con, f"""SELECT customer_id, category, fsum(amount) AS amount FROM ({theirs})
                                     WHERE category IS NOT NULL GROUP BY customer_id, category""")
    if "product" in lines.roles:
        last_day = sql_frame(con, f"""SELECT customer_id, day::TIMESTAMP AS order_date, amount, product FROM ({theirs})
                                  WHERE product IS NOT NULL QUALIFY day = max(day) OVER (PARTITION BY customer_id)""")
    return by_category, last_day


def _between(period, column: str = "day") -> str:
    """``column`` falls in the period (kpi :class:`~custlens.kpi.Period`, both ends included)."""
    return f"{column} BETWEEN {_date(period.start)} AND {_date(period.end)}"


def calibration_table(result: Result, *, unit: str, end: date | None = None):
    """:func:`custlens.clv.calibration` of the lines up to ``end`` (default the as-of date): per
    customer, the days with a line (returns too), each day's net amount (Kahan sums, as pandas
    adds up)."""
    from .clv import calibration_frame

    end = end or result.as_of
    frame = result.con.execute(f"""
        SELECT customer_id, count(*) AS days, min(n) AS first, max(n) AS last, fsum(spend) AS total,
               arg_min(spend, n) AS first_spend
        FROM (SELECT customer_id, {EPOCH_DAY} AS n, fsum(amount) AS spend
              FROM ({_customer_lines_sql(result.source)}) WHERE day <= {_date(end)} GROUP BY customer_id, day)
        GROUP BY customer_id ORDER BY customer_id""").df()
    return calibration_frame(frame["customer_id"], frame["days"], frame["first"], frame["last"], frame["total"],
                             frame["first_spend"], end=end, unit=unit)


def purchase_days(result: Result, customer_ids, *, after: date, end: date):
    """For each of ``customer_ids``, the number of days in (after, end] with a line of theirs (as
    :func:`custlens.clv.purchase_days` counts them in pandas): a float array, 0 for none."""
    import pandas as pd

    counts = result.con.execute(f"""
        SELECT customer_id, count(DISTINCT day) AS n FROM ({_customer_lines_sql(result.source)})
        WHERE day > {_date(after)} AND day <= {_date(end)} GROUP BY customer_id""").df()
    days = pd.Series(counts["n"].to_numpy(), index=counts["customer_id"].astype("string"))
    return pd.Series(customer_ids).astype("string").map(days).fillna(0).to_numpy(dtype="float64")


def _customer_sql(groups: str, *, keep_days: bool, gaps: bool = True, listed: bool = True) -> str:
    """Per customer, from the groups: the checks, and the definitions of :mod:`custlens.summary`
    that do not depend on the as-of date. The gaps between consecutive distinct order days are
    the positive differences of the sorted days; money is rounded half-even to cents. Groups not
    ``listed`` (see :func:`_group_sql`) leave the order days NULL, for :func:`_key_days`."""
    if listed:
        days = (f"coalesce(len(d), 0) > 0 AS counted, {EPOCH} + d[1] AS first_order, {EPOCH} + d[-1] AS last_order, "
                "coalesce(orders, len(gaps) + 1) AS frequency")
        median = "list_median(gaps)::DOUBLE" if gaps else "NULL::DOUBLE"
        groups = f"""(SELECT *, list_filter(list_transform(d[2:], lambda x, i: x - d[i]), lambda g: g > 0) AS gaps
                      FROM (SELECT *, list_sort(days) AS d FROM ({groups})))"""
    else:
        days = ("day_lines > 0 AS counted, NULL::DATE AS first_order, NULL::DATE AS last_order, "
                "NULL::BIGINT AS frequency")
        median, groups = "NULL::DOUBLE", f"({groups})"
    return f"""
        SELECT customer_id, lines, no_dates, no_amounts, padded_orders, odd_amounts,
               min_day, max_day,
               in_window, after, {_guest_sql('customer_id')} AS guest,
               {_padded_sql('customer_id')} AS padded, {days}, {_cents('monetary')} AS monetary,
               {median} AS median_gap_days {_LIFECYCLE_GAPS if keep_days else ''}
        FROM {groups}"""


#: what lifecycle stages need besides the median gap (custlens.lifecycle.expected_gaps): the last
#: gap, the median of the gaps before it and the first gap (for the population's median)
_LIFECYCLE_GAPS = """, gaps[-1]::DOUBLE AS last_gap_days, list_median(gaps[:-2])::DOUBLE AS gap_before_last_days,
    gaps[1]::DOUBLE AS first_gap"""


def _cents(value: str) -> str:
    """``value`` rounded to cents as numpy rounds: rint(value × 100) / 100, halves to even. Written
    out, because DuckDB's round_even has not always given numpy's result (1.5 did not)."""
    y = f"({value} * 100)"
    return (f"((CASE WHEN {y} - floor({y}) > 0.5 THEN floor({y}) + 1 WHEN {y} - floor({y}) < 0.5 THEN floor({y}) "
            f"WHEN floor({y}) % 2 = 0 THEN floor({y}) ELSE floor({y}) + 1 END) / 100)")


def _summary_sql(as_of: date, groups: str) -> str:
    """The summary at ``as_of`` from the table ``groups``: the columns of :data:`custlens.summary.COLUMNS`."""
    day = _date(as_of)
    return f"""
        SELECT customer_id, first_order::TIMESTAMP AS first_order, last_order::TIMESTAMP AS last_order,
               ({day} - last_order)::BIGINT AS recency_days, frequency::BIGINT AS frequency, monetary,
               {_cents('(monetary / frequency)')} AS avg_order_value,
               ({day} - first_order)::BIGINT AS tenure_days, median_gap_days
        FROM {groups} WHERE counted AND NOT guest"""


def _text_sql(source: Source, role: str) -> str:
    """An id column as text (integers as their digits); stripped as the loader strips it where
    the files have ids with spaces around them (:attr:`Source.strip_ids`)."""
    column = source.column(role)
    if source.types[role] != "VARCHAR":
        return f"CAST({column} AS VARCHAR)"
    return _strip_sql(column) if source.strip_ids else column


def _day_sql(source: Source) -> str:
    """The line's day as the pandas loader reads it; NULL when the date is missing or unreadable
    here. Typed dates (instants by their local day: :func:`_local_time_sql`); text read through
    ``custlens_dates`` (:func:`read_text_values`); text in a --date-format read in SQL
    (:func:`_fixed_time_sql`); ISO times with UTC offsets (:func:`_offset_day_sql`); else ISO
    text only (text with spaces around it is not read: pandas trims it)."""
    column = source.column("order_date")
    if source.date_zone:
        return f"CAST({_local_time_sql(column, source.date_zone)} AS DATE)"
    if source.types["order_date"] in DATE_TYPES:
        return f"CAST({column} AS DATE)"
    if source.text_dates:
        return "CAST(custlens_day AS DATE)"
    if source.sql_date_format:
        return f"CAST({_fixed_time_sql(column, source.sql_date_format)} AS DATE)"
    if source.date_offsets:
        return _offset_day_sql(source, column)
    return _iso_day_sql(column, source.iso_formats)


#: the finite times DuckDB's strptime gives 'epoch', 'infinity' and '-infinity' (any case), which the
#: pandas loader does not read: 1900-01-01 00:00 for all three up to DuckDB 2.0.0; from 2.0.1,
#: 1970-01-01 for 'epoch' and the infinite timestamps for the others. Such a time is NULL in SQL
#: (:func:`_iso_time_sql`, :func:`_fixed_time_sql`): a real one is read by the loader's parsers
#: (:func:`read_text_values`).
SPECIAL_TIMES = "(TIMESTAMP '1900-01-01', TIMESTAMP '1970-01-01')"


def _fixed_time_sql(column: str, fmt: str) -> str:
    """The time of text in the --date-format ``fmt`` (:data:`SQL_DATE_FORMAT`), as pandas reads it
    (both skip spaces around it), else NULL: also where DuckDB reads what pandas does not, a time
    outside pandas' years 1677–2262 (a four-digit year written as 25, or infinite), one of
    :data:`SPECIAL_TIMES` or a two-digit year written with one (``%y``: :func:`_shape_regex`). NULL sends the
    file to the loader's parsers (:func:`read_text_values`), which read it exactly."""
    time = f"try_strptime({column}, {_literal(fmt)})"
    shape = f" AND regexp_full_match({column}, {_literal(_shape_regex(fmt))})" if "%y" in fmt else ""
    return (f"(CASE WHEN {time} BETWEEN TIMESTAMP '1677-09-21 00:12:44' AND TIMESTAMP '2262-04-11 23:47:16' "
            f"AND {time} NOT IN {SPECIAL_TIMES}{shape} THEN {time} END)")


def _shape_regex(fmt: str) -> str:
    """A regular expression of text in ``fmt`` (:data:`SQL_DATE_FORMAT` or :data:`ISO_FORMATS`),
    spaces around it allowed, with exactly two digits for ``%y``, as pandas reads it (DuckDB also
    reads one); it may refuse text both read (one more way to NULL), never the other way round."""
    fields = {"%y": r"\d{2}", "%Y": r"\d{4}", "%f": r"\d{1,6}", "%p": "[AaPp][Mm]"}
    parts = re.split(r"(%[a-zA-Z]| )", fmt)
    return r"\s*" + "".join(fields.get(p, r"\d{1,2}") if p.startswith("%") else r"\s+" if p == " " else re.escape(p)
                            for p in parts if p) + r"\s*"


def _iso_day_sql(column: str, formats: tuple[str, ...]) -> str:
    """The day of ISO text (:func:`_iso_time_sql`), else NULL."""
    return f"CAST({_iso_time_sql(column, formats)} AS DATE)"


def _iso_time_sql(column: str, formats: tuple[str, ...]) -> str:
    """The time of ISO text (``formats``: :data:`ISO_FORMATS` in the order to try them; the shapes
    exclude each other, so the order changes the cost, not the result), else NULL; also NULL for
    :data:`SPECIAL_TIMES` and infinite times (what DuckDB makes of 'epoch', 'infinity' and
    '-infinity'): a real one is read by the pandas loader's parsers (:func:`read_text_values`), as
    unusual text is.
    (Testing the first character instead cost 10% of a 1e6-line CSV summary.)"""
    listed = "[" + ", ".join(_literal(f) for f in formats) + "]"
    time = f"try_strptime({column}, {listed})"
    return f"(CASE WHEN {time} IN {SPECIAL_TIMES} OR NOT isfinite({time}) THEN NULL ELSE {time} END)"


def _text_joins(source: Source, numbers=()) -> str:
    """The joins of the lines with the tables of :func:`read_text_values` (per file, for several),
    and with those of :func:`read_numbers` for the roles ``numbers``."""
    joins = ""
    tables = [(source.text_dates, "custlens_dates", "custlens_date_text", "order_date"),
              (source.text_amounts, "custlens_amounts", "custlens_amount_text", "amount")]
    tables += [(True, f"custlens_{role}s", f"custlens_{role}_text", role) for role in numbers]
    for on, table, text, role in tables:
        if on:
            same_file = f" AND {table}.custlens_file = lines.filename" if len(source.files) > 1 else ""
            joins += f" LEFT JOIN {table} ON {table}.{text} = lines.{_ident(source.mapped[role])}{same_file}"
    return joins


#: the roles whose product fills a blank amount (custlens.io.load._derive_amount)
AMOUNT_PARTS = ("quantity", "unit_price")


def _amount_sql(source: Source) -> tuple[str, str | None]:
    """(the amount as a number, NULL when missing or not a number; for text, whether DuckDB reads
    it otherwise than pandas: :func:`_odd_number_sql`). With :attr:`Source.fill_amounts`, a blank
    amount is quantity × unit_price (:func:`_filled_sql`)."""
    value, odd = _written_amount_sql(source)
    if source.fill_amounts:
        value = f"(CASE WHEN {_filled_sql(source, value)} THEN {_product_sql(source)} ELSE {value} END)"
    return value, odd


def _written_amount_sql(source: Source) -> tuple[str, str | None]:
    """:func:`_amount_sql` of the amount column alone (nothing filled)."""
    column = source.column("amount")
    if source.text_amounts:
        return "custlens_amount", None
    if source.types["amount"] == "DOUBLE":
        return column, None
    if source.types["amount"] != "VARCHAR":
        return f"CAST({column} AS DOUBLE)", None
    return f"TRY_CAST({column} AS DOUBLE)", _odd_number_sql("amount_text", "value")


def _parts_text(source: Source) -> dict[str, str]:
    """With :attr:`Source.fill_amounts`: name → the quantity and the unit price as written."""
    if not source.fill_amounts:
        return {}
    return {f"custlens_{role}_written": _ident(source.mapped[role]) for role in AMOUNT_PARTS}


def _filled_sql(source: Source, value: str) -> str:
    """The amount (``value``: as read) is blank for the loader, so that quantity × unit_price fills
    it (custlens.io.load._derive_amount: NULL or NaN, and not text it cannot read); the regular
    expression of :func:`_blank_sql` runs on the lines whose amount was not read only."""
    column = source.column("amount")
    return (f"(CASE WHEN {value} IS NOT NULL AND NOT {_isnan_sql(value)} THEN FALSE "
            f"ELSE {_blank_sql(source, 'amount', column)} END)")


def _product_sql(source: Source) -> str:
    """quantity × unit_price as the loader reads them (:func:`_number_sql`), NULL if either is missing."""
    return f"({_number_sql(source, 'quantity')} * {_number_sql(source, 'unit_price')})"


def _odd_number_sql(text: str, value: str) -> str:
    """Whether DuckDB reads the number ``text`` (read as ``value``) where pandas sees none: '1_000'
    (a digit separator to DuckDB) and '+-1' (−1; looked for in values ≤ 0 only, which is cheaper).
    Every other text that DuckDB reads as a finite number, the pandas loader reads as the same
    number (tests/test_engine.py)."""
    return f"(contains({text}, '_') OR ({value} <= 0 AND contains({text}, '+-')))"


def _order_sql(column: str) -> str:
    """The line's order (its id; with none or a blank mark, the day of the line) and whether
    the id has spaces around it (pandas would trim them)."""
    return (f", CASE WHEN {_guest_sql(column)} THEN {{'id': NULL, 'day': day}} ELSE {{'id': {column}, 'day': NULL}} END "
            f"AS order_key, {_padded_sql(column)} AS padded_order")


def _padded_sql(column: str) -> str:
    """The value starts or ends with a character Python's strip() removes. The regular expression
    runs only on values whose first or last character is not printable ASCII."""
    return (f"(CASE WHEN {_printable_ends_sql(column)} THEN FALSE "
            f"ELSE regexp_matches({column}, '^{SPACE_CLASS}|{SPACE_CLASS}$') END)")


def _printable_ends_sql(column: str) -> str:
    """The value's first and last characters are printable ASCII (nothing for strip() to remove):
    a cheap test that spares the regular expression on almost every value."""
    return f"ascii(left({column}, 1)) BETWEEN 33 AND 126 AND ascii(right({column}, 1)) BETWEEN 33 AND 126"


#: a line that has a date and an amount, both read (blank or unreadable ones are NULL)
USABLE = "(day IS NOT NULL AND amount IS NOT NULL)"


def _blank_sql(source: Source, role: str, column: str) -> str:
    """The file's value of ``role`` (``column``: a column of :func:`_lines_sql`) is blank for the
    pandas loader (:func:`custlens.io.parse.blank_mask`): NULL, NaN, or text that Python's strip()
    leaves empty or a 'no value' mark. Exact, and dearer than :func:`_guest_sql`: for the few
    lines whose value was not read."""
    kind = source.types[role]
    if kind in ("DOUBLE", "FLOAT"):
        return f"({column} IS NULL OR {_isnan_sql(column)})"
    if kind != "VARCHAR":
        return f"({column} IS NULL)"
    marks = ", ".join(_literal(m) for m in MISSING_TEXT)
    return f"({column} IS NULL OR lower({_stripped_sql(column)}) IN ({marks}))"


def _isnan_sql(number: str) -> str:
    """``number`` is NaN. Not DuckDB's isnan(): DuckDB 2.0 folds it to false where a Parquet
    column's statistics (min and max, no NaN) say nothing of NaN, which pyarrow writes so."""
    return f"(NOT isfinite({number}) AND NOT isinf({number}))"


def _stripped_sql(column: str) -> str:
    """The text without what Python's strip() removes at either end."""
    return f"regexp_replace({column}, '^{SPACE_CLASS}+|{SPACE_CLASS}+$', '', 'g')"


def _strip_sql(column: str) -> str:
    """:func:`_stripped_sql`, with the regular expression run only on values whose first or last
    character is not printable ASCII (:func:`_printable_ends_sql`): for every line of a file."""
    return f"(CASE WHEN {_printable_ends_sql(column)} THEN {column} ELSE {_stripped_sql(column)} END)"


def _unread(source: Source, *, none: bool = False) -> dict[str, int]:
    """What the NULL dates and amounts of the files' lines are, from one pass over the lines that
    have one, kept with their file and values in the temp table ``custlens_unread`` (for
    :func:`_reads_no_value` and :func:`_exclusions`): bad_dates
    and bad_amounts, text that was not read (not blank: :func:`_blank_sql`); infinite, amounts
    read as ±inf; amount_only, lines with a customer and a date but no amount. ``none``: a summary
    found no NULL date or amount, so the table is made empty without a pass."""
    if source.unread is not None:
        return source.unread
    date_blank = _blank_sql(source, "order_date", "date_text")
    amount_blank = _blank_sql(source, "amount", "amount_text")
    con = source.con
    parts = _parts_text(source)
    lines = _lines_sql(source, {"custlens_file": "filename", **parts}, scan=source.scan(filename=True))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE custlens_unread AS
        SELECT custlens_file, customer_id, date_text, amount_text, {''.join(n + ', ' for n in parts)}
               {_guest_sql('customer_id')} AS guest,
               day IS NULL AS no_day, amount IS NULL AS no_amount,
               day IS NULL AND NOT {date_blank} AS bad_date, amount IS NULL AND NOT {amount_blank} AS bad_amount,
               amount IS NULL AND isinf(amount_value) AS infinite,
               CAST(date_text AS VARCHAR) AS date_shown, CAST(amount_text AS VARCHAR) AS amount_shown
        FROM ({lines}) WHERE {'FALSE AND' if none else ''} (day IS NULL OR amount IS NULL)""")
    names = ("bad_dates", "bad_amounts", "infinite", "amount_only")
    counts = con.execute("""SELECT count(*) FILTER (bad_date), count(*) FILTER (bad_amount), count(*) FILTER (infinite),
                                   count(*) FILTER (NOT guest AND NOT no_day AND no_amount)
                            FROM custlens_unread""").fetchall()[0]
    source.unread = dict(zip(names, counts))
    return source.unread


#: the most distinct unread dates or amounts looked at by _reads_no_value (more go to the loader's parsers)
MOST_UNREAD = 10_000


def _reads_no_value(source: Source, role: str) -> bool:
    """Whether the pandas loader reads none of the present dates or amounts (``role``) that DuckDB
    read as NULL, and they change nothing in how it reads the others
    (:func:`custlens.io.parse.reads_no_date`, :func:`~custlens.io.parse.reads_no_number`): then
    their lines are excluded here as the loader excludes them (:func:`_exclusions`), and the other
    values stay read in SQL. False for more than :data:`MOST_UNREAD` distinct such values, and for
    dates with UTC offsets (the loader reads those otherwise in a column with values it cannot
    read): the loader's parsers then read them all (:func:`read_text_values`). The values come
    from the table of :func:`_unread`."""
    if role == "order_date" and source.date_offsets:
        return False
    bad, text = ("bad_date", "date_shown") if role == "order_date" else ("bad_amount", "amount_shown")
    rows = source.con.execute(f"SELECT DISTINCT {text} FROM custlens_unread WHERE {bad} "
                              f"LIMIT {MOST_UNREAD + 1}").fetchall()
    if len(rows) > MOST_UNREAD:
        return False
    import pandas as pd

    from .io.parse import reads_no_date, reads_no_number

    texts = pd.Series([r[0] for r in rows], dtype="string")
    if role == "amount":
        return reads_no_number(texts)
    if not reads_no_date(texts, source.options.date_format):
        return False
    if source.sql_date_format:
        return True
    name = _iso_format_name(source, texts)
    if name:
        source.date_formats = (name,)
    return name is not None


def _iso_format_name(source: Source, unread) -> str | None:
    """The format the loader names for ISO dates read in SQL next to ``unread``, texts it reads
    none of (:func:`custlens.io.parse.detect_date_format`): ISO8601 where they too have the shape
    of ISO text (it then looks no further); else it scores the formats on its sample, which holds
    every distinct date where there are at most 5,000 of them: where every date has one shape of
    :data:`ISO_FORMATS`, that format (ISO8601 for a shape its time formats lack), else ISO8601
    (which reads more than any one format). None for more (the loader's sample decides)."""
    from . import textvalues
    from .io.parse import ISO_DATE_TEXT, TIME_FORMATS

    if unread.str.strip().str.fullmatch(ISO_DATE_TEXT).all():
        return "ISO8601"
    shapes = ", ".join(f"count(*) FILTER (regexp_full_match(date_text, {_literal(_shape_regex(f))}))"
                       for f in ISO_FORMATS)
    read, distinct, *found = source.con.execute(
        f"SELECT count(day), count(DISTINCT date_text), {shapes} FROM ({_lines_sql(source)}) "
        "WHERE day IS NOT NULL").fetchall()[0]
    if distinct + len(unread) > textvalues.DATE_SAMPLE:  # at least as many as the loader counts (it strips them)
        return None
    only = [f for f, n in zip(ISO_FORMATS, found) if n == read]
    if len(only) != 1:
        return "ISO8601"
    return only[0] if only[0].removeprefix("%Y-%m-%d") in TIME_FORMATS else "ISO8601"


#: why the pandas loader excludes a row, in the order it asks (a row counts under the first that holds)
EXCLUSIONS = ("repeated header line", "no customer id", "unparseable order date", "no order date",
              "unparseable amount", "no amount", "duplicate line")


def _exclusions(source: Source, headers: list[str], *, missing: bool = True) -> dict[str, tuple[int, list[str]]]:
    """The rows the pandas loader excludes, as its report lists them (:meth:`LoadReport.messages`):
    reason → (rows, the first three as 'row N', with the value for one that cannot be read), the
    reasons in the order the loader meets them file by file (:data:`EXCLUSIONS` in each file).
    ``headers``: the customer ids of lines that may repeat the header line (CSV). The lines whose
    date or amount is NULL are known (:func:`_unread`), by their values; one pass over each file
    in file order (a CSV file in one thread) numbers its rows and finds them by those values, with
    the rows without a customer id and the repeated header lines; where the files have lines that
    repeat an earlier one (:attr:`Source.repeats`), a second pass numbers those. ``missing``:
    whether a summary found a NULL date or amount (else there is no such line to look for).
    Kept for later summaries of the same files. Raises :class:`Unsupported` where the loader
    refuses a column (most of a file's present dates or amounts unreadable:
    custlens.io.load._check_type) or a repeated header line's date and amount read."""
    if source.excluded is not None:
        return source.excluded
    from .io.load import WRONG_TYPE_SHARE

    _unread(source, none=not missing)
    con = source.con
    parts = _parts_text(source)  # a line's amount may be filled: lines alike but in these may differ
    con.execute(f"""CREATE OR REPLACE TEMP TABLE custlens_unread_values AS
        SELECT DISTINCT custlens_file, customer_id, date_text, amount_text, {''.join(n + ', ' for n in parts)}
               CASE WHEN bad_date THEN 2 WHEN no_day THEN 3 WHEN bad_amount THEN 4 ELSE 5 END AS reason,
               CASE WHEN no_day THEN date_shown ELSE amount_shown END AS shown
        FROM custlens_unread""")
    header = "FALSE"
    if headers and source.format == "csv":
        # a CASE, so that the regular expressions run on those lines only
        header = (f"CASE WHEN custlens_id IN ({', '.join(_literal(h) for h in headers)}) THEN "
                  + " AND ".join(f"{_stripped_sql(_ident(c))} = {_literal(c)}" for c in source.mapped.values())
                  + " ELSE FALSE END")
    # numbered in file order (a CSV file in one thread); the loader numbers the header row 1
    row, first = ("row_number() OVER ()", 1) if source.format == "csv" else ("file_row_number", 2)
    same = " AND ".join(f"l.{c} IS NOT DISTINCT FROM u.{c}" for c in ("custlens_id", "date_text", "amount_text", *parts))
    excluded: dict[str, tuple[int, list[str]]] = {}

    def numbered(f: str, name: str, more: str = "") -> str:
        """File ``f``'s rows in order (n), each with the reason the loader excludes it for (NULL:
        kept; the index in EXCLUSIONS), and the columns ``more`` adds. ``name``: f as DuckDB reads it."""
        return f"""
            SELECT l.*, CASE WHEN l.header THEN 0 WHEN {_guest_sql('l.custlens_id')} THEN 1 ELSE u.reason END
                   AS reason, u.reason AS unread, u.shown
            FROM (SELECT *, {header} AS header
                  FROM (SELECT {row} AS n, {_text_sql(source, 'customer_id')} AS custlens_id,
                               {source.column('order_date')} AS date_text, {source.column('amount')} AS amount_text,
                               {''.join(f'{v} AS {n}, ' for n, v in parts.items())}
                               {', '.join(_ident(c) for c in source.mapped.values())} {more}
                        FROM {source.scan(row_numbers=True, files=[f])})) AS l
            LEFT JOIN (SELECT customer_id AS custlens_id, date_text, amount_text, {''.join(n + ', ' for n in parts)}
                              reason, shown
                       FROM custlens_unread_values WHERE custlens_file = {name}) AS u ON {same}"""

    line = f", {_line_hash_sql(source)} AS custlens_h, row({', '.join(map(_ident, source.all_columns))}) AS custlens_line"
    raw = "".join(f", {_ident(c)} AS custlens_c{i}" for i, c in enumerate(source.all_columns))  # for --rejects
    source.rejected = [] if source.keep_rejected else None
    with _in_file_order(con):
        for f in source.files:
            name = _literal(source.read_as.get(f, f))
            if source.keep_rejected:
                source.rejected.append(_rejected_in(source, numbered(f, name, raw + line), first))
            found = con.execute(f"""
                SELECT reason, count(*), arg_min({{'row': n, 'text': shown}}, n, 3),
                       count(*) FILTER (reason = 0 AND unread IS NULL)
                FROM ({numbered(f, name)}) GROUP BY reason""").fetchall()
            if source.repeats:  # a kept line equal to an earlier one in every column (equal lines share a reason)
                found += con.execute(f"""
                    SELECT {EXCLUSIONS.index("duplicate line")}, count(*), arg_min({{'row': n, 'text': NULL}}, n, 3), 0
                    FROM (SELECT n, reason, row_number() OVER (PARTITION BY custlens_line ORDER BY n) AS copy
                          FROM ({numbered(f, name, line)}) WHERE custlens_h IN (SELECT h FROM custlens_repeated))
                    WHERE copy > 1 AND reason IS NULL HAVING count(*) > 0""").fetchall()
            rows = sum(r[1] for r in found)
            gaps = _csv_gaps(source, f, rows)
            if sum(r[3] for r in found):
                raise Unsupported(f"{f}: a repeated header line whose date and amount read")
            bad_dates, blank_dates, bad_amounts, blank_amounts = con.execute(f"""
                SELECT count(*) FILTER (bad_date), count(*) FILTER (no_day AND NOT bad_date),
                       count(*) FILTER (bad_amount), count(*) FILTER (no_amount AND NOT bad_amount)
                FROM custlens_unread WHERE custlens_file = {name}""").fetchall()[0]
            blank_amounts += (source.filled or {}).get(f, 0)  # blank too, and filled: not in custlens_unread
            # the loader's check of a column (custlens.io.load._check_type), on every row of the file
            if any(0 < bad >= (rows - blank) * WRONG_TYPE_SHARE
                   for bad, blank in ((bad_dates, blank_dates), (bad_amounts, blank_amounts))):
                raise Unsupported(f"{f}: most of a column's values cannot be read")
            for i, n, samples, _ in sorted(r for r in found if r[0] is not None):
                shown = [f"row {_file_row(s['row'] + first, gaps)}" + (f" {s['text'][:40]!r}" if i in (2, 4) else "")
                         for s in sorted(samples, key=lambda s: s["row"])]
                count, kept = excluded.get(EXCLUSIONS[i], (0, []))
                excluded[EXCLUSIONS[i]] = (count + n, (kept + shown)[:3])
    source.excluded = excluded
    return excluded


def _csv_gaps(source: Source, f: str, rows: int | None = None) -> list[int]:
    """The rows of a CSV file that DuckDB's reader passes over, as the loader numbers them: the
    empty lines between its rows (:func:`custlens.io.read.csv_gaps`, after a cheap test that there
    is any); none where the file's records are not the ``rows`` DuckDB read (when given)."""
    if source.format != "csv":
        return []
    if f not in source.gaps:
        path = source.read_as.get(f, f)  # UTF-8
        source.gaps[f] = None
        if has_inner_empty_line(path, "utf-8-sig"):
            lines = line_gaps(path, skip=1)  # the records are the lines where as many as DuckDB read
            if lines and rows is not None and lines[0] == rows:
                source.gaps[f] = lines
            else:
                found = csv_gaps(path, "utf-8-sig", source.delimiter, skip=1, width=len(source.all_columns))
                if found is not None and not found[2]:
                    source.gaps[f] = (found[0] - len(found[1]), found[1])
    if source.gaps[f] and rows not in (None, source.gaps[f][0]):
        source.gaps[f] = None
    return source.gaps[f][1] if source.gaps[f] else []


def _file_row(consecutive, gaps: list[int]):
    """Row numbers as the file has them, of rows numbered consecutively from 2 (the header row
    1) by DuckDB's reader, which passes over the rows ``gaps``."""
    if not gaps:
        return consecutive
    import numpy as np

    rows = rows_after_gaps(np.asarray(consecutive) - 2, 2, gaps)
    return rows if rows.ndim else int(rows)


def _rejected_in(source: Source, numbered: str, first: int):
    """One file's excluded rows, in file order, as an Arrow table: row (numbered as the loader
    numbers it), reason, and every column as read (``custlens_c0``…). ``numbered``: the file's
    rows with their reason, line hash and line (:func:`_exclusions`); one pass over it keeps the
    rows excluded and those that may repeat an earlier one, which are then told apart."""
    con = source.con
    candidates = "custlens_h IN (SELECT h FROM custlens_repeated)" if source.repeats else "FALSE"
    con.execute(f"""CREATE OR REPLACE TEMP TABLE custlens_rejected AS SELECT * FROM ({numbered})
                    WHERE reason IS NOT NULL OR {candidates}""")
    columns = ", ".join(f"custlens_c{i}" for i in range(len(source.all_columns)))
    reasons = "[" + ", ".join(_literal(r) for r in EXCLUSIONS) + "]"
    try:
        return with_relations(con).sql(f"""
            SELECT n + {first} AS row, {reasons}[coalesce(reason, {EXCLUSIONS.index('duplicate line')}) + 1] AS reason,
                   {columns}
            FROM (SELECT *, row_number() OVER (PARTITION BY custlens_line ORDER BY n) AS custlens_copy
                  FROM custlens_rejected)
            WHERE reason IS NOT NULL OR custlens_copy > 1 ORDER BY n""").to_arrow_table()
    finally:
        con.execute("DROP TABLE custlens_rejected")


def rejected_rows(result: Result):
    """The rows the loader excludes, as ``LoadReport.rejects`` lists them (--rejects): source,
    row, reason and every column as text, file by file in file order. The columns come from
    DuckDB as the loader reads them: a CSV's text ('' where empty), a Parquet file's values in
    the file's own schema (and pandas metadata); then, as the loader does, ``astype("string")``."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = result.source
    frames = []
    for f, table in zip(source.files, source.rejected or []):
        if not table.num_rows:
            continue
        values = table.select([f"custlens_c{i}" for i in range(len(source.all_columns))])
        values = values.rename_columns(source.all_columns)
        if source.format == "parquet":  # typed as the loader reads them (decimals: float, as it casts them)
            schema = pq.read_schema(f)
            schema = pa.schema([pa.field(c.name, pa.float64()) if pa.types.is_decimal(c.type) else c for c in schema],
                               metadata=schema.metadata)
            values = values.cast(schema)
            frame = values.to_pandas()
        else:
            frame = values.to_pandas().fillna("")
        frame = frame.astype("string")
        frame.insert(0, "reason", pd.Series(table.column("reason").to_pylist(), dtype="string"))
        frame.insert(0, "row", _file_row(table.column("row").to_numpy().astype("int64"),
                                            _csv_gaps(source, f)))
        frame.insert(0, "source", f)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["source", "row", "reason"])
    return pd.concat(frames, ignore_index=True)


def _guest_sql(column: str) -> str:
    """The value is empty for the pandas loader (NULL, blank, or a 'no value' mark)."""
    marks = ", ".join(_literal(m) for m in MISSING_TEXT)
    return f"({column} IS NULL OR (length({column}) <= 4 AND lower(trim({column})) IN ({marks})))"


#: CSV lines looked at first for the rows without a customer id (_guest_samples)
GUEST_HEAD_LINES = 100_000


def _guest_samples(con, source: Source, guests: int) -> list[str]:
    """'row N' for the first three rows without a customer id (of ``guests`` in all), numbered
    as the pandas loader does (the header is row 1). A CSV file is numbered in one thread, in
    order: the first lines of the first file first, which usually hold the three."""
    column = _text_sql(source, "customer_id")
    if source.format == "parquet":
        rows = con.execute(f"""SELECT filename, file_row_number FROM {source.scan(row_numbers=True)}
                           WHERE {_guest_sql(column)} ORDER BY filename, file_row_number LIMIT 3""").fetchall()
        order = {f: i for i, f in enumerate(source.files)}
        return [f"row {n + 2}" for _, n in sorted(rows, key=lambda r: (order.get(r[0], 0), r[1]))]
    def first(f: str, head: str, want: int) -> list[str]:
        rows = con.execute(f"""SELECT n FROM (SELECT row_number() OVER () AS n, {_guest_sql(column)} AS guest
                               FROM (SELECT * FROM {source.scan(row_numbers=True, files=[f])} {head})) WHERE guest
                               ORDER BY n LIMIT {want}""").fetchall()
        return [f"row {_file_row(n + 1, _csv_gaps(source, f))}" for (n,) in rows]

    with _in_file_order(con):
        samples = first(source.files[0], f"LIMIT {GUEST_HEAD_LINES}", 3)
        if len(samples) == min(3, guests):
            return samples
        samples = []
        for f in source.files:
            samples += first(f, "", 3 - len(samples))
            if len(samples) == 3:
                break
    return samples


# --- inspect ----------------------------------------------------------------------------------

#: lines read from the first file for each column's sample values (inspect)
SAMPLE_LINES = 100_000


def inspect(source: Source) -> dict:
    """:func:`custlens.io.inspect.inspect` of purchase files, computed by this engine (so a file
    larger than memory can be inspected): the same keys and values, but for each column's sample
    values, taken from the first 100,000 lines of the first file, and the note on identical lines
    without an order id, which only the pandas loader counts. Raises :class:`Unsupported` as
    :func:`summarize` does."""
    from .io.inspect import sample_values

    result = summarize(source)
    con = source.con
    # a customer whose every line is excluded is none (in_window: the lines kept, the window being every day)
    customers = con.execute(f"SELECT count(*) FILTER (NOT guest AND in_window > 0) FROM {result.groups}").fetchall()[0][0]
    total, returns = con.execute(f"SELECT fsum(amount), count(*) FILTER (amount < 0) "
                                 f"FROM ({_customer_lines_sql(source)})").fetchall()[0]
    zoned = source.columns["order_date"] if source.date_zone else None  # fetched in UTC, shown in its zone
    with _in_file_order(con):  # the first lines
        head = con.execute(f"""SELECT {', '.join(f"timezone('UTC', {_ident(c)}) AS {_ident(c)}" if c == zoned
                                                 else _ident(c) for c in source.all_columns)}
                               FROM {source.scan(row_numbers=True, files=source.files[:1])} LIMIT {SAMPLE_LINES}""").df()
    if zoned:
        head[zoned] = head[zoned].dt.tz_localize("UTC").dt.tz_convert(source.date_zone)
    role_of = {column: role for role, column in source.mapped.items()}
    typed_dates = source.typed_dates
    return {
        "files": source.files, "kind": "purchases", "format": source.format,
        "encoding": source.encoding if source.format == "csv" else None,
        "delimiter": source.delimiter if source.format == "csv" else None, "ok": True,
        "problems": [f"{n:,} rows excluded: {reason} (e.g. {', '.join(samples)})"
                     for reason, (n, samples) in result.excluded.items()],
        "notes": [f"warning: {w}" for w in source.ordered_warnings()] + source.notes(),
        "decimal": source.shown_decimal,
        "date_formats": {"order_date": ["typed"] if typed_dates else list(source.date_formats)},
        "columns": [{"column": c, "role": role_of.get(c), "samples": sample_values(head[c])} for c in source.all_columns],
        "rows": result.rows, "rows_loaded": result.rows_kept, "customers": customers,
        "date_range": [f"{day:%Y-%m-%d}" for day in con.execute(
            f"SELECT min(min_day) FILTER (NOT guest), max(max_day) FILTER (NOT guest) FROM {result.groups}").fetchall()[0]],
        "total_amount": round(float(total or 0.0), 2), "return_lines": returns,
    }


# --- results ----------------------------------------------------------------------------------

def add_view(result: Result, name: str, sql: str) -> str:
    """A named query on the summary, for :func:`write_parquet` and :func:`fetch`."""
    result.con.execute(f"CREATE OR REPLACE TEMP VIEW {_ident(name)} AS {sql}")
    return name


def add_table(result: Result, name: str, sql: str) -> str:
    """:func:`add_view`, computed once: for a table that is read more than once (RFM scores are
    counted, then written; in a view their window functions ran for each read)."""
    result.con.execute(f"CREATE OR REPLACE TEMP TABLE {_ident(name)} AS {sql}")
    return name


def count_rows(result: Result, table: str, where: str = "TRUE") -> int:
    return result.con.execute(f"SELECT count(*) FROM {_ident(table)} WHERE {where}").fetchall()[0][0]


def write_parquet(result: Result, path: str, *, table: str | None = None, sort: str | None = None,
                  limit: int | None = None, order: str = "customer_id") -> None:
    """A table (default: the summary) straight from DuckDB to a Parquet file, atomically; its rows
    in ``order`` (SQL), or by ``--sort`` with ties in that order."""
    from .errors import OutputError
    from .sink import write_atomic_path

    query = select_sql(result, table or result.table, sort=sort, limit=limit, order=order)

    def copy(tmp: str) -> None:
        try:
            result.con.execute(f"COPY ({query}) TO {_literal(tmp)} (FORMAT PARQUET)")
        except duckdb_core().Error as e:
            raise OutputError(f"{path}: cannot be written ({str(e).splitlines()[0]})") from e

    write_atomic_path(path, copy)


def write_csv(result: Result, path: str | None, *, sep: str = ",", table: str | None = None,
              sort: str | None = None, limit: int | None = None, order: str = "customer_id") -> bool:
    """A table straight from DuckDB as CSV (or TSV) to ``path`` (atomically) or stdout: the bytes
    :func:`custlens.output.emit` writes from :func:`fetch`'s frame, without pandas (whose import
    and conversions cost more than the writing: 1.3 s of a 1.9 s summary of 1e6 lines). The same
    rules: text that would start a formula gets an apostrophe and empty text is an empty cell,
    dates are YYYY-MM-DD (with the time when one has a time), True/False, integers and doubles
    as they are (NaN empty). False, having written nothing, when a cell might come out
    differently: another column type, text with '#' or a carriage return (DuckDB quotes them,
    pandas does not), a column name to quote, a lone text column (pandas writes an empty one as
    ""); the caller then writes through pandas."""
    from .errors import OutputError
    from .formats import DAY_TEXT, FORMULA_START, TIME_TEXT
    from .sink import write_atomic_path

    query = select_sql(result, table or result.table, sort=sort, limit=limit, order=order)
    columns = [(name, kind) for name, kind, *_ in result.con.execute(f"DESCRIBE ({query})").fetchall()]
    special = set('"\n\r#' + sep)
    if any(not name or special & set(name) for name, _ in columns) or (len(columns) == 1 and columns[0][1] == "VARCHAR"):
        return False
    starts = ", ".join(_literal(c) for c in FORMULA_START)
    cells, checks = [], []
    for name, kind in columns:
        c = _ident(name)
        if kind == "VARCHAR":
            cells.append(f"nullif(CASE WHEN left({c}, 1) IN ({starts}) THEN chr(39) || {c} ELSE {c} END, '') AS {c}")
            checks.append(f"count(*) FILTER (contains({c}, '#') OR contains({c}, chr(13)))")
        elif kind == "DATE" or kind.startswith("TIMESTAMP"):
            cells.append(None)  # the format once it is known whether a time is shown
            checks.append(f"count(*) FILTER (date_trunc('second', {c}::TIMESTAMP) <> date_trunc('day', {c}::TIMESTAMP))")
        elif kind == "DOUBLE":
            cells.append(f"CASE WHEN NOT {_isnan_sql(c)} THEN {c} END AS {c}")  # ±inf: inf and -inf, as pandas
            checks.append("0")
        elif kind in INTEGER_TYPES - {"HUGEINT", "UHUGEINT"}:
            cells.append(c)
            checks.append("0")
        elif kind == "BOOLEAN":
            cells.append(f"CASE WHEN {c} THEN 'True' WHEN NOT {c} THEN 'False' END AS {c}")
            checks.append("0")
        else:
            return False
    found = result.con.execute(f"SELECT {', '.join(checks)} FROM ({query})").fetchall()[0]
    for i, ((name, kind), n) in enumerate(zip(columns, found)):
        if kind == "VARCHAR" and n:
            return False
        if cells[i] is None:
            shown = TIME_TEXT if n else DAY_TEXT
            cells[i] = f"strftime({_ident(name)}::TIMESTAMP, '{shown}') AS {_ident(name)}"
    select = f"SELECT {', '.join(cells)} FROM ({query})"
    try:
        if path:
            write_atomic_path(path, lambda tmp: result.con.execute(f"COPY ({select}) TO {_literal(tmp)} "
                                                                   f"({_csv_options(sep)})"))
        else:
            sys.stdout.flush()
            copy_csv(result.con, select, sys.stdout.buffer, sep=sep)
            sys.stdout.buffer.flush()
    except duckdb_core().Error as e:
        raise OutputError(f"{path or 'stdout'}: cannot be written ({str(e).splitlines()[0]})") from e
    return True


def copy_csv(con, select: str, fh, *, sep: str) -> None:
    """The rows of ``select`` as CSV with a header (NULL empty) into the binary file object
    ``fh``, by DuckDB's writer through a temporary file; DuckDB's errors are the caller's."""
    folder = tempfile.mkdtemp(prefix="custlens-csv-")
    try:
        tmp = os.path.join(folder, "out.csv")
        con.execute(f"COPY ({select}) TO {_literal(tmp)} ({_csv_options(sep)})")
        with open(tmp, "rb") as written:
            shutil.copyfileobj(written, fh, 1 << 20)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _csv_options(sep: str) -> str:
    delimiter = "\\t" if sep == "\t" else sep  # a tab spelled \t in DuckDB's E'' string
    return f"FORMAT CSV, HEADER, DELIMITER E'{delimiter}', NULLSTR ''"


def select_sql(result: Result, table: str, *, sort: str | None = None, limit: int | None = None,
               order: str = "customer_id") -> str:
    """``--sort [-]COLUMN`` (stable: ties stay in their order, empty values last) and ``--limit``,
    as :func:`custlens.output.select` on a table whose rows come in ``order`` (SQL; customer order
    by default)."""
    from .errors import OutputError

    query = f"SELECT * FROM {_ident(table)}"
    if sort:
        column = sort.lstrip("-")
        names = [r[0] for r in result.con.execute(f"DESCRIBE {_ident(table)}").fetchall()]
        if column not in names:
            raise OutputError(f"--sort {sort}: no column {column!r}; the columns are {', '.join(names)}")
        query += f" ORDER BY {_ident(column)} {'DESC' if sort.startswith('-') else 'ASC'} NULLS LAST, {order}"
    else:
        query += f" ORDER BY {order}"
    if limit is not None:
        query += f" LIMIT {int(limit)}"
    return query


def sql_frame(con, sql: str):
    """The rows of ``sql`` as a pandas frame, text as pandas' ``string`` straight from Arrow
    (``.df()`` goes through Python objects, about a microsecond per text value)."""
    import pandas as pd
    import pyarrow as pa

    text = {pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype(), pa.string_view(): pd.StringDtype()}
    return with_relations(con).sql(sql).to_arrow_table().to_pandas(types_mapper=text.get)


def fetch(result: Result, table: str, *, order: str = "customer_id"):
    """A table as the pandas engine would have built it: in ``order`` (SQL; customer order by
    default), text as ``string``, dates as ``datetime64[s]``, integers as int64 (``Int64`` where
    some are empty)."""
    import pandas as pd

    rows = sql_frame(result.con, f"SELECT * FROM {_ident(table)} ORDER BY {order}")
    types = {row[0]: row[1] for row in result.con.execute(f"DESCRIBE {_ident(table)}").fetchall()}
    for name, kind in types.items():
        if kind == "VARCHAR":
            rows[name] = rows[name].astype("string")
        elif kind.startswith("TIMESTAMP") or kind == "DATE":
            rows[name] = pd.to_datetime(rows[name]).astype("datetime64[s]")
        elif kind in INTEGER_TYPES:
            rows[name] = rows[name].astype("Int64" if rows[name].isna().any() else "int64")
        elif kind == "DOUBLE":
            rows[name] = rows[name].astype("float64")
    return rows


def to_pandas(result: Result):
    """The summary as the pandas engine's :class:`custlens.summary.Summary` (same columns and types);
    with ``keep_days``, the gaps lifecycle stages need (``gap_table``) and every customer's distinct
    order days on first use of :meth:`Summary.days`."""
    import pandas as pd

    from .summary import Summary

    def order_days():  # aggregated again, not kept in the groups: only tests ask for them
        days = result.con.execute(f"""SELECT customer_id, {EPOCH} + day AS day FROM (SELECT customer_id,
                                      unnest(list_distinct(days)) AS day FROM ({result.groups_sql})
                                      WHERE coalesce(len(days), 0) > 0 AND NOT {_guest_sql('customer_id')})
                                  ORDER BY customer_id, day""").df()
        return pd.DataFrame({"customer_id": days["customer_id"].astype("string"),
                             "day": pd.to_datetime(days["day"]).astype("datetime64[s]")})

    gap_table = population = None
    if result.keep_days:
        gap_table = sql_frame(result.con, f"""SELECT customer_id, median_gap_days AS own_median, last_gap_days,
                                             gap_before_last_days FROM {result.groups} WHERE counted AND NOT guest
                                      ORDER BY customer_id""")
        median = result.con.execute(f"SELECT quantile_cont(first_gap, 0.5) FROM {result.groups} "
                                    "WHERE counted AND NOT guest").fetchall()[0][0]
        population = float("nan") if median is None else float(median)
    return Summary(customers=fetch(result, result.table), as_of=pd.Timestamp(result.as_of),
                   lines_after_as_of=result.lines_after_as_of, return_only_customers=result.return_only_customers,
                   lines=result.rows_kept, order_days_loader=order_days if result.keep_days else None,
                   gap_table=gap_table, gap_population=population)


@contextlib.contextmanager
def summary_at(result: Result, day, *, label: str | None = None):
    """The summary of the same lines as of another ``day`` (a date or timestamp), as
    :func:`to_pandas` gives it, with the order days lifecycle stages need: for the stages at an
    earlier date (``lapsed --new-since``, ``lifecycle --from``, ``kpi --stages``); with ``label``,
    of the lines :func:`label_lines` labelled so (``kpi --by … --stages``). Its tables sit next to
    ``result``'s on the same connection (the UTF-8 copies and text values are reused) and are
    dropped on leaving the block; read the summary inside it."""
    day = day.date() if callable(getattr(day, "date", None)) else day
    progress = f"summarising as of {day:%Y-%m-%d}" if result.progress else None
    # the labelled lines were checked with the files: no padded order ids, no odd amounts
    lines = None if label is None else (f"SELECT *, FALSE AS padded_order, FALSE AS odd_amount FROM kpi_labelled "
                                        f"WHERE label = {_literal(label)}")
    then = summarize(result.source, day, keep_days=True, progress=progress, name="_then", lines=lines)
    try:
        yield to_pandas(then)
    finally:
        result.con.execute(f"DROP VIEW IF EXISTS {then.table}; DROP TABLE IF EXISTS {then.groups}")


def _run(con, sql: str, label: str | None, fetch=None):
    """Run a statement (and ``fetch``, see :func:`run_with_progress`); with a ``label``, as
    :func:`run_with_progress`."""
    if label:
        return run_with_progress(con, sql, label=label, fetch=fetch)
    con.execute(sql)
    return None if fetch is None else fetch(con)


def run_with_progress(con, sql: str, *, label: str, delay: float = 0.5, fetch=None):
    """Run ``sql``; when stderr is a terminal and the query is still running after ``delay``
    seconds, show a rich progress bar (DuckDB's own estimate) on stderr until it ends. With
    ``fetch`` (a function of the connection: a query whose rows DuckDB computes as they are
    fetched), what it returns, fetched under the bar."""
    import sys

    failure: list[BaseException] = []
    fetched: list = [None]

    def work():
        try:
            con.execute(sql)
            if fetch is not None:
                fetched[0] = fetch(con)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            failure.append(e)

    if not sys.stderr.isatty():
        work()
    else:
        con.execute("SET enable_progress_bar = true")  # DuckDB's estimate, for query_progress()
        con.execute("SET enable_progress_bar_print = false")  # drawn by rich, on stderr
        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        worker.join(delay)
        if worker.is_alive():
            with _progress_bar() as bar:
                task = bar.add_task(label, total=100)
                while worker.is_alive():
                    worker.join(0.1)
                    done = con.query_progress()
                    if done is not None and done >= 0:
                        bar.update(task, completed=done)
    if failure:
        raise failure[0]
    return fetched[0]


def _literal(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _date(day: date) -> str:
    return f"DATE '{day:%Y-%m-%d}'"

