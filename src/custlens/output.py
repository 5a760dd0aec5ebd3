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

import numpy as np
import pandas as pd

from .errors import OutputError, count
from .formats import BINARY, FORMATS
from .sink import choose_format, isatty as _isatty, write_atomic
TABLE_ROWS = 100
XLSX_MAX_ROWS = 1_048_575
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
        for record in records(frame):
            fh.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    elif fmt == "parquet":
        typed = typed_columns(frame).copy(deep=False)
        typed.attrs = {}  # notes for the terminal (dates, column lists), which pandas would put in the file as JSON
        typed.to_parquet(fh, index=False)
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
    import os
    import shutil
    import tempfile

    from .engine import _literal, duckdb_core

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
    folder = tempfile.mkdtemp(prefix="custlens-csv-")
    try:
        path = os.path.join(folder, "out.csv")
        delimiter = "\\t" if sep == "\t" else ","
        con = core.connect()
        try:
            con.register("cells", plain)
            con.execute(f"COPY cells TO {_literal(path)} (FORMAT CSV, HEADER, DELIMITER E'{delimiter}', NULLSTR '')")
        except core.Error:
            return False  # a column DuckDB cannot take: pandas writes the table
        finally:
            con.close()
        with open(path, "rb") as written:
            shutil.copyfileobj(written, fh, 1 << 20)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
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
    return column.dt.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d").astype("string")


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: dates as ISO text, NaN/NA as null, numpy scalars as Python."""
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype.kind == "M":
            out[name] = _date_text(out[name])
    rows = out.astype(object).where(out.notna(), None).to_dict(orient="records")
    return [{k: _plain(v) for k, v in row.items()} for row in rows]


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def write_xlsx(frame: pd.DataFrame, fh, *, title: str | None = None) -> None:
    """One sheet: see :func:`add_sheet`. Written with XlsxWriter in constant-memory mode (2.6×
    faster than openpyxl on 200,000 rows)."""
    book = new_workbook(fh)
    add_sheet(book, frame, title or "custlens")
    book.close()


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
    if len(frame) > XLSX_MAX_ROWS:
        raise OutputError(f"{len(frame):,} rows do not fit in one XLSX sheet (at most {XLSX_MAX_ROWS:,}); "
                          "write csv or parquet instead")
    sheet = book.add_worksheet(sheet_name(title))
    header = book.add_format({"bold": True, "bg_color": "#DDE4EE", "bottom": 1})
    safe = safe_cells(frame)
    writers = []
    for j, name in enumerate(frame.columns):
        column = frame[name]
        kind = column.dtype.kind
        lengths = safe[name].head(1000).astype("string").fillna("").str.len()
        sheet.set_column(j, j, min(60, max(len(str(name)), int(lengths.max()) if len(lengths) else 0) + 2))
        if kind == "M":
            has_time = bool((column.dropna() != column.dropna().dt.normalize()).any())
            fmt = book.add_format({"num_format": "yyyy-mm-dd hh:mm" if has_time else "yyyy-mm-dd"})
            values = [None if pd.isna(v) else v.to_pydatetime() for v in column]
            writers.append((values, sheet.write_datetime, fmt))
        elif kind == "b":
            writers.append((column.tolist(), sheet.write_boolean, None))
        elif kind in "iuf" or str(column.dtype) in ("Int64", "Float64"):
            fmt = book.add_format({"num_format": "#,##0.00" if kind == "f" else "#,##0"})
            values = [None if pd.isna(v) else _plain(v) for v in column.astype(object)]
            writers.append((values, sheet.write_number, fmt))
        else:
            values = [None if pd.isna(v) else _plain(v) for v in safe[name].astype(object)]
            writers.append((values, _write_any(sheet), None))
    sheet.write_row(0, 0, [str(c) for c in frame.columns], header)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(frame), max(0, len(frame.columns) - 1))
    for i in range(len(frame)):
        for j, (values, write_cell, fmt) in enumerate(writers):
            value = values[i]
            if value is not None:
                write_cell(i + 1, j, value, fmt)
    return sheet


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
