"""Load exports into canonical frames: map columns to roles, parse, validate, report.

``load_purchases(["orders.csv"])`` returns ``(frame, report)``: the frame has one column per
role found (``customer_id``, ``order_date``, ``amount``…, typed), the report says what was
detected and which rows were excluded, why, with samples. Nothing is dropped silently:
every excluded row is counted under a reason and kept in ``report.rejects``.
"""

from __future__ import annotations

import functools
import re
import shlex
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import BadValuesError, EmptyInputError, MissingColumnError, StrictModeError, count, sample_text
from ..notes import exclusion_lines, reasons_text, strict_message
from ..schema import (
    CONTACTS,
    COSTS,
    DATE,
    FLAG,
    ID,
    INTERACTIONS,
    NUMBER,
    PURCHASES,
    TEXT,
    TableSpec,
    match_roles,
    normalize_header,
)
from .options import LoadOptions
from .parse import blank_mask, parse_dates, parse_flags, parse_ids, parse_numbers
from .read import RawTable, ReadOptions, expand_paths, read_table, show_delimiter

#: A column is the wrong type (not a few bad cells) when at least this share of its values fail.
WRONG_TYPE_SHARE = 0.5
VALID_RANGES = {"csat": (1, 5), "nps": (0, 10)}


@dataclass
class Exclusion:
    count: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, count: int, samples: list[str]) -> None:
        self.count += count
        for s in samples:
            if len(self.samples) < 3:
                self.samples.append(s)


@dataclass
class SourceInfo:
    path: str
    format: str
    encoding: str | None
    delimiter: str | None
    rows: int
    columns: dict[str, str]  # role -> header
    unmapped: list[str]
    decimal: str | None = None
    date_formats: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class LoadReport:
    """What a load detected and excluded. ``lines()`` renders it for stderr."""

    kind: str
    sources: list[SourceInfo] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    excluded: dict[str, Exclusion] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # worth knowing: amounts derived, lines kept
    warnings: list[str] = field(default_factory=list)  # worth acting on: ambiguities, values left empty
    rejects: pd.DataFrame | None = None

    @property
    def rows_excluded(self) -> int:
        return sum(e.count for e in self.excluded.values())

    def exclude(self, reason: str, count: int, samples: list[str]) -> None:
        if count:
            self.excluded.setdefault(reason, Exclusion()).add(count, samples)

    def messages(self) -> list[tuple[str, str]]:
        """``(level, text)`` for stderr: "info" lines say what was read, "warning" lines what was
        excluded or doubtful (shown even with --quiet)."""
        out = []
        for s in self.sources:
            detail = [s.format]
            if s.encoding:
                detail.append(s.encoding)
            if s.delimiter:
                detail.append(f"delimiter {show_delimiter(s.delimiter)}")
            if s.decimal:
                detail.append(f"decimal {s.decimal!r}")
            for role, fmts in s.date_formats.items():
                detail.append(f"{role} {' + '.join(fmts)}")
            out.append(("info", f"{s.path}: {count(s.rows, 'row')} ({', '.join(detail)})"))
        out += exclusion_lines({r: (e.count, e.samples) for r, e in self.excluded.items()}, self.rows_read)
        out.extend(("warning", f"warning: {w}") for w in self.warnings)
        out.extend(("info", n) for n in self.notes)
        return out


def load_purchases(paths, options: LoadOptions = LoadOptions()) -> tuple[pd.DataFrame, LoadReport]:
    """Purchases: one row per order line (or order); see :func:`load`."""
    return load(paths, PURCHASES, options)


def load_contacts(paths, options: LoadOptions = LoadOptions()) -> tuple[pd.DataFrame, LoadReport]:
    """Contacts: one row per customer; later rows of a repeated customer id are excluded."""
    return load(paths, CONTACTS, options)


def load_interactions(paths, options: LoadOptions = LoadOptions()) -> tuple[pd.DataFrame, LoadReport]:
    """Interactions: one row per contact event (ticket, call, chat, survey)."""
    return load(paths, INTERACTIONS, options)


def load_costs(paths, options: LoadOptions = LoadOptions()) -> tuple[pd.DataFrame, LoadReport]:
    """Costs: date, kind (acquisition or retention), amount."""
    return load(paths, COSTS, options)


def load(paths, spec: TableSpec, options: LoadOptions = LoadOptions()) -> tuple[pd.DataFrame, LoadReport]:
    """Read every file in ``paths``, map its columns to ``spec``'s roles, parse and validate.

    Rows are excluded (counted under a reason, kept in ``report.rejects``) when a required
    value is missing or unparseable, when a line repeats the header, and, for purchases with
    an order id, when a line is an exact duplicate of an earlier one. A column whose values
    are mostly of the wrong type is an error, not a row problem.
    """
    if isinstance(paths, str):
        paths = [paths]
    read_opts = ReadOptions(encoding=options.encoding, delimiter=options.delimiter, sheet=options.sheet)
    return load_tables((read_table(path, read_opts) for path in expand_paths(paths)), spec, options)


def load_tables(tables, spec: TableSpec, options: LoadOptions = LoadOptions()) -> tuple[pd.DataFrame, LoadReport]:
    """:func:`load` for tables already read (an iterable of :class:`RawTable`)."""
    report = LoadReport(kind=spec.kind)
    frames, rejects = [], []
    for raw in tables:
        frame, rejected = _load_one(raw, spec, options, report)
        frames.append(frame)
        if rejected is not None and len(rejected):
            rejects.append(rejected)
    result = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    report.rows_loaded = len(result)
    report.rejects = pd.concat(rejects, ignore_index=True) if rejects else None
    if spec is PURCHASES and "currency" in result and result["currency"].nunique() > 1:
        counts = result["currency"].value_counts()
        report.warnings.append(
            "amounts are in several currencies (" + ", ".join(f"{k} {count(v, 'row')}" for k, v in counts.items())
            + "); totals add them up as they are"
        )
    excluded = {r: (e.count, e.samples) for r, e in report.excluded.items()}
    if result.empty:
        raise EmptyInputError(f"{_names(report)}: no usable rows: {reasons_text(excluded)}")
    if options.strict and report.excluded:
        raise StrictModeError(strict_message(_names(report), excluded))
    return result, report


def _names(report: LoadReport) -> str:
    return ", ".join(s.path for s in report.sources) or "input"


def _load_one(raw: RawTable, spec: TableSpec, options: LoadOptions, report: LoadReport):
    source, frame = raw.source, raw.frame
    columns = resolve_columns(raw, spec, options.columns, options)
    info = SourceInfo(path=source, format=raw.format, encoding=raw.encoding, delimiter=raw.delimiter,
                      rows=len(frame) + len(raw.skipped), columns=columns,
                      unmapped=[c for c in frame.columns if c not in columns.values()])
    report.sources.append(info)
    report.rows_read += info.rows
    row_number = functools.cache(lambda: pd.Series(raw.row_numbers(), index=frame.index))  # when a row is named
    reasons = pd.Series(pd.NA, index=frame.index, dtype="string")

    def exclude(mask: pd.Series, reason: str, show: pd.Series | None = None) -> None:
        mask = mask.fillna(False) & reasons.isna()
        if not mask.any():
            return
        reasons[mask] = reason
        idx = mask[mask].index[:3]
        if show is None:
            samples = [f"row {row_number()[i]}" for i in idx]
        else:
            samples = [f"row {row_number()[i]} {str(show[i])[:40]!r}" for i in idx]
        report.exclude(reason, int(mask.sum()), samples)

    for reason, text, row in raw.skipped:
        report.exclude(reason, 1, [f"row {row} {text[:60]!r}" if row else repr(text[:60])])

    if raw.format == "csv":  # `cat a.csv b.csv` repeats the header as a data line
        written = dict(zip(frame.columns, raw.header_names))
        header = pd.Series(True, index=frame.index)
        for col in columns.values():
            header &= frame[col].str.strip() == written.get(col, col)
            if not header.any():
                break
        exclude(header, "repeated header line")

    out = pd.DataFrame(index=frame.index)
    for role_name, header_name in columns.items():
        role = spec.role(role_name)
        column = frame[header_name]
        where = f"{source}: column {header_name!r} ({role_name})"
        if role.type == ID:
            out[role_name] = parse_ids(column)
            if role.required:
                exclude(out[role_name].isna(), f"no {role_name.replace('_', ' ')}")
        elif role.type == DATE:
            parsed = parse_dates(column, fmt=options.date_format, column=header_name, source=source)
            info.date_formats[role_name] = parsed.formats
            if parsed.warning:
                report.warnings.append(f"{source}: {parsed.warning}")
            if options.check_columns:
                _check_type(parsed.bad, column, where, lambda: _date_fix(role_name, options))
            out[role_name] = parsed.values
            if role.required:
                exclude(parsed.bad, f"unparseable {role_name.replace('_', ' ')}", column)
                exclude(parsed.values.isna(), f"no {role_name.replace('_', ' ')}")
            else:
                _note_nulled(report, where, parsed.bad, column, "not dates")
        elif role.type == NUMBER:
            values, bad, decimal = parse_numbers(column, decimal=options.decimals.get(role_name, options.decimal),
                                                 delimiter=raw.delimiter)
            if column.dtype.kind not in "biuf":
                info.decimal = info.decimal or decimal
            if options.check_columns:
                _check_type(bad, column, where, lambda: _number_fix(role_name, decimal, column, options))
            if role_name in VALID_RANGES:
                low, high = VALID_RANGES[role_name]
                outside = values.notna() & ~values.between(low, high)
                _note_nulled(report, where, outside, column, f"outside {low}–{high}")
                values = values.mask(outside)
            out[role_name] = values
            if role.required:
                out[f"_{role_name}_bad"] = bad
            else:
                _note_nulled(report, where, bad, column, "not numbers")
        elif role.type == FLAG:
            values, bad = parse_flags(column)
            _note_nulled(report, where, bad, column, "not yes/no")
            out[role_name] = values
        else:
            text = column.astype("string").str.strip()
            out[role_name] = text.mask(blank_mask(text))
    if spec is PURCHASES:
        _derive_amount(out, columns, report, source, exclude, frame)
        if "order_id" in out:
            exclude(duplicate_lines(frame, out), "duplicate line")
        else:
            dups = int((duplicate_lines(frame, out) & reasons.isna()).sum())  # equal lines: the same reason
            if dups:
                report.notes.append(
                    f"{source}: {count(dups, 'line')} identical to an earlier line; kept, since without an "
                    "order id they can be separate purchases on the same day"
                )
    if spec is CONTACTS:
        exclude(out["customer_id"].duplicated(keep="first") & out["customer_id"].notna(),
                "repeated customer id", out["customer_id"])

    keep = reasons.isna()
    rejected = None
    if not keep.all():
        rejected = frame[~keep].astype("string")
        rejected.insert(0, "reason", reasons[~keep])
        rejected.insert(0, "row", row_number()[~keep])
        rejected.insert(0, "source", source)
    if raw.skipped:
        extra = pd.DataFrame({"source": source, "row": pd.array([n for _, _, n in raw.skipped], dtype="Int64"),
                              "reason": [r for r, _, _ in raw.skipped], "line": [t for _, t, _ in raw.skipped]})
        rejected = pd.concat([rejected, extra], ignore_index=True) if rejected is not None else extra
        rejected = rejected.sort_values("row", kind="stable", na_position="last", ignore_index=True)  # file order
    ordered = [name for name in spec.names if name in out]
    return out.loc[keep, ordered], rejected


def duplicate_lines(frame: pd.DataFrame, parsed: pd.DataFrame) -> pd.Series:
    """True for a line equal in every raw column to an earlier line.

    Equal lines have equal parsed customer, order, date and amount, so one 64-bit hash of
    those finds the few candidate lines (a collision only adds a candidate); the full
    comparison of every raw column runs on the candidates alone.
    """
    key = np.zeros(len(parsed), dtype=np.uint64)
    for name in ("customer_id", "order_id", "order_date", "amount"):
        if name not in parsed:
            continue
        column = parsed[name]
        if column.dtype.kind == "f":
            part = np.nan_to_num(column.to_numpy(dtype="float64"), nan=np.inf).view(np.uint64)
        elif column.dtype.kind == "M":
            part = column.to_numpy(dtype="datetime64[ns]").view(np.uint64)
        else:
            part = pd.factorize(column)[0].astype(np.int64).view(np.uint64)
        key = key * np.uint64(0x9E3779B97F4A7C15) + part
    ordered = np.sort(key)  # a sort finds the repeated keys faster than a hash table of 10 M keys
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    candidates = np.isin(key, repeated) if len(repeated) else np.zeros(len(key), dtype=bool)
    result = pd.Series(False, index=frame.index)
    if candidates.any():
        result[candidates] = frame[candidates].duplicated(keep="first").to_numpy()
    return result


def _derive_amount(out, columns, report, source, exclude, frame) -> None:
    """amount = quantity × unit_price where there is no amount column, or the cell is empty."""
    has_parts = "quantity" in out and "unit_price" in out
    product = out["quantity"] * out["unit_price"] if has_parts else None
    if "amount" not in out:
        out["amount"] = product
        out["_amount_bad"] = False
        report.notes.append(f"{source}: amount = quantity × unit_price "
                            f"({columns['quantity']!r} × {columns['unit_price']!r})")
        amount_header = None
    else:
        amount_header = columns["amount"]
        if has_parts:
            fill = out["amount"].isna() & ~out["_amount_bad"] & product.notna()
            if fill.any():
                out.loc[fill, "amount"] = product[fill]
                report.notes.append(f"{source}: {int(fill.sum()):,} empty amounts taken as quantity × unit_price")
    shown = frame[amount_header] if amount_header else None
    exclude(out["_amount_bad"], "unparseable amount", shown)
    exclude(out["amount"].isna(), "no amount")
    del out["_amount_bad"]


def _check_type(bad: pd.Series, column: pd.Series, where: str, fix) -> None:
    """Raise when most present values fail: the column is of the wrong kind, not a few cells.
    ``fix()`` words the advice; it is called only when raising."""
    n_bad = int(bad.sum())
    if not n_bad:
        return
    present = int((~blank_mask(column)).sum())
    if n_bad >= present * WRONG_TYPE_SHARE:
        raise BadValuesError(
            f"{where}: {n_bad:,} of {present:,} values cannot be read, e.g. "
            f"{sample_text(column[bad].drop_duplicates().head(3))}; {fix()}"
        )


def _note_nulled(report, where, mask, column, what) -> None:
    n = int(mask.fillna(False).sum())
    if n:
        report.warnings.append(f"{where}: {n:,} values {what} left empty, e.g. "
                            f"{sample_text(column[mask.fillna(False)].drop_duplicates().head(3))}")


def _date_fix(role: str, options: LoadOptions) -> str:
    if options.date_format:
        return f"they do not match --date-format {options.date_format!r}; check it, or {options.map_advice(role)}"
    return f"pass --date-format (e.g. --date-format '%d.%m.%Y') or {options.map_advice(role)} for the right column"


def _number_fix(role: str, decimal: str, column: pd.Series, options: LoadOptions) -> str:
    other = "," if decimal == "." else "."
    if column.astype("string").str.contains(other, regex=False).any():
        name = "decimal comma" if other == "," else "decimal point"
        return f"try --decimal {other} ({name}), or {options.map_advice(role)} for the right column"
    return f"{options.map_advice(role)} to use another column"


def resolve_columns(raw: RawTable, spec: TableSpec, user: dict[str, str],
                    options: LoadOptions = LoadOptions()) -> dict[str, str]:
    """Role → column of this file: the user's ``--map`` first, then synonyms.

    A missing required role raises with the columns that were found and the exact
    ``--map`` to add (with a guess at the column when the content suggests one).
    """
    names = list(raw.frame.columns)
    by_folded = {}
    for name, written in zip(names, raw.header_names or names):
        by_folded.setdefault(normalize_header(written), name)
        by_folded.setdefault(normalize_header(name), name)
    columns: dict[str, str] = {}
    for role_name, wanted in user.items():
        if role_name not in spec.names:
            continue  # a map for another kind of file (e.g. [columns] shared by all)
        if wanted in names:
            columns[role_name] = wanted
        elif normalize_header(wanted) in by_folded:
            columns[role_name] = by_folded[normalize_header(wanted)]
        else:
            raise MissingColumnError(
                f"{raw.source}: {options.map_advice(role_name, wanted)}: there is no column {wanted!r}; "
                f"the columns are {sample_text(names, 30)}"
            )
    free = [n for n in names if n not in columns.values()]
    written = dict(zip(names, raw.header_names or names))
    auto = match_roles([written.get(n, n) for n in free], spec)
    for role_name, header in auto.items():
        if role_name not in columns:
            columns[role_name] = free[[written.get(n, n) for n in free].index(header)]
    taken = list(columns.values())
    duplicated = [h for h in raw.header_names if raw.header_names.count(h) > 1]
    for role_name, name in columns.items():
        if written.get(name, name) in duplicated:
            raise BadValuesError(
                f"{raw.source}: the column name {written[name]!r} ({role_name}) appears "
                f"{duplicated.count(written[name])} times in the header; rename the copies or pick one with "
                f"{options.map_advice(role_name, written[name] + ' (2)')}"
            )
    for role in spec.roles:
        if not role.required or role.name in columns:
            continue
        if role.name == "amount" and "quantity" in columns and "unit_price" in columns:
            continue
        if all(re.fullmatch(r"[-+]?[\d.,/: ]+", str(h).strip()) for h in raw.header_names or names):
            raise MissingColumnError(
                f"{raw.source}: the first row looks like data, not column names "
                f"({sample_text(raw.header_names or names, 5)}); add a header row such as "
                + ",".join(r.name for r in spec.roles if r.required)
            )
        guess = _guess_column(raw.frame, [n for n in names if n not in taken], role.type)
        if options.map_with != "--map":
            suggestion = options.map_advice(role.name, guess or "COLUMN")
        else:
            suggestion = f"--map {role.name}={shell_word(guess)}" if guess else f"--map {role.name}=COLUMN"
        needs = " (or quantity and unit_price)" if role.name == "amount" else ""
        garbled = ""  # signs in names: the guessed encoding may be wrong ('лиент;ƒата' is cp1251 read as mac_cyrillic)
        if raw.encoding not in (None, "utf-8", "utf-8-sig") and not options.encoding and any(
                c > "\x7f" and not c.isalnum() and not c.isspace() for c in "".join(map(str, names))):
            other = "(e.g. cp866, mac_cyrillic)" if raw.encoding == "cp1251" else "cp1251"
            garbled = f", or --encoding {other} if the names look garbled (the file was read as {raw.encoding})"
        raise MissingColumnError(
            f"{raw.source}: no column for {role.name}{needs}; the columns are {sample_text(names, 30)}; "
            f"add {suggestion}{garbled}"
        )
    return {role: columns[role] for role in spec.names if role in columns}


def shell_word(text: str) -> str:
    """``text`` as one shell word: bare when it is letters/digits (any script), else quoted."""
    return text if re.fullmatch(r"[\w.\-]+", text) else shlex.quote(text)


def _guess_column(frame: pd.DataFrame, candidates: list[str], role_type: str) -> str | None:
    """The first candidate whose first 200 values mostly read as the role's type."""
    for name in candidates:
        head = frame[name].head(200)
        present = head[~blank_mask(head)]
        if present.empty:
            continue
        try:
            if role_type == NUMBER:
                ok = ~parse_numbers(present)[1]
            elif role_type == DATE:
                ok = ~parse_dates(present, column=name, source="").bad
            elif role_type in (ID, TEXT):
                return name
            else:
                continue
        except BadValuesError:
            continue
        if ok.mean() > 0.9:
            return name
    return None


SEGMENT_COLUMNS = ("segment_name", "segment", "stage", "abc_class")


def load_segment_file(path: str) -> pd.Series:
    """A file that gives each customer a segment (the output of custlens segment, rfm, lifecycle
    or pareto): ``customer_id`` → the first of segment_name, segment, stage, abc_class."""
    raw = read_table(path, ReadOptions())
    frame = raw.frame
    key = next((c for c in frame.columns if normalize_header(c) == "customerid"), None)
    label = next((c for c in SEGMENT_COLUMNS if c in frame.columns), None)
    if key is None or label is None:
        raise MissingColumnError(f"{path}: a segment file needs customer_id and one of {', '.join(SEGMENT_COLUMNS)}; "
                                 f"the columns are {sample_text(frame.columns, 30)}")
    ids = parse_ids(frame[key])
    return pd.Series(frame[label].astype("string").to_numpy(), index=ids.to_numpy()).loc[
        lambda s: ~s.index.duplicated()]
