"""``inspect``: what custlens sees in a file, before any report is run."""

from __future__ import annotations

import pandas as pd

from ..errors import CustlensError
from ..schema import SPECS, TableSpec, match_roles
from .load import LoadOptions, load_tables
from .read import ReadOptions, expand_paths, read_table


def guess_kind(headers: list[str]) -> TableSpec:
    """The kind of table whose required roles the headers cover, most matched roles first
    (purchases win ties: they are what most commands read)."""
    best, best_score = SPECS["purchases"], (-1, -1)
    for spec in SPECS.values():
        found = match_roles(headers, spec)
        required = sum(1 for r in spec.roles if r.required and r.name in found)
        missing = sum(1 for r in spec.roles if r.required) - required
        if spec.kind == "purchases" and "amount" not in found and {"quantity", "unit_price"} <= set(found):
            missing -= 1
        score = (-missing, len(found))
        if score > best_score:
            best, best_score = spec, score
    return best


def inspect(paths, options: LoadOptions = LoadOptions(), kind: str | None = None) -> dict:
    """Describe the input: format, encoding, delimiter, decimal mark, date formats, each column
    with its role and sample values, rows, customers, date range, and the problems found.

    Never raises for problems in the data: they are listed under ``problems`` and
    ``ok`` is False when the file could not be loaded for reports.
    """
    files = expand_paths([paths] if isinstance(paths, str) else paths)
    read_opts = ReadOptions(options.encoding, options.delimiter, options.sheet)
    tables = [read_table(path, read_opts) for path in files]
    first = tables[0]
    spec = SPECS[kind] if kind else guess_kind(first.header_names or list(first.frame.columns))
    result: dict = {"files": files, "kind": spec.kind, "format": first.format, "encoding": first.encoding,
                    "delimiter": first.delimiter, "ok": True, "problems": [], "notes": []}
    try:
        frame, report = load_tables(tables, spec, options)
    except CustlensError as e:
        result["ok"] = False
        result["problems"].append(str(e))
        result["columns"] = [
            {"column": name, "role": None, "samples": sample_values(first.frame[name])} for name in first.frame.columns
        ]
        result["rows"] = len(first.frame)
        return result
    source = report.sources[0]
    by_column = {header: role for role, header in source.columns.items()}
    result["decimal"] = source.decimal
    result["date_formats"] = {role: list(fmts) for role, fmts in source.date_formats.items()}
    result["columns"] = [
        {"column": name, "role": by_column.get(name), "samples": sample_values(first.frame[name])}
        for name in first.frame.columns
    ]
    result["rows"] = report.rows_read
    result["rows_loaded"] = report.rows_loaded
    result["customers"] = int(frame["customer_id"].nunique())
    date_role = next((r.name for r in spec.roles if r.type == "date" and r.required), None)
    if date_role:
        result["date_range"] = [f"{frame[date_role].min():%Y-%m-%d}", f"{frame[date_role].max():%Y-%m-%d}"]
    if "amount" in frame:
        result["total_amount"] = round(float(frame["amount"].sum()), 2)
        result["return_lines"] = int((frame["amount"] < 0).sum())
    for reason, exclusion in report.excluded.items():
        result["problems"].append(f"{exclusion.count:,} rows excluded: {reason} (e.g. {', '.join(exclusion.samples)})")
    result["notes"] = [f"warning: {w}" for w in report.warnings] + list(report.notes)
    return result


def sample_values(column: pd.Series, limit: int = 3) -> list[str]:
    """The first ``limit`` distinct values of a column, trimmed, blanks left out, cut to 30 characters."""
    values = column.dropna().astype("string").str.strip()
    values = values[values != ""].drop_duplicates().head(limit)
    return [str(v)[:30] for v in values]
