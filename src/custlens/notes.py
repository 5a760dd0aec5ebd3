"""The stderr lines about exclusions and the summary, in one place for both engines (no pandas)."""

from __future__ import annotations

from .errors import count

#: Exclusions that are a normal part of an export (guest checkouts): reported, but not as warnings.
EXPECTED_EXCLUSIONS = {"no customer id"}


def exclusion_lines(excluded: dict[str, tuple[int, list[str]]], rows_read: int) -> list[tuple[str, str]]:
    """``excluded N of M rows: …`` and one line of samples per reason; info when every reason is
    expected (guest checkouts), else warnings."""
    if not excluded:
        return []
    level = "info" if set(excluded) <= EXPECTED_EXCLUSIONS else "warning"
    total = sum(n for n, _ in excluded.values())
    parts = [f"{n:,} {reason}" for reason, (n, _) in excluded.items()]
    out = [(level, f"excluded {total:,} of {count(rows_read, 'row')}: {'; '.join(parts)}")]
    out += [(level, f"  {reason}: {', '.join(samples)}") for reason, (_, samples) in excluded.items()]
    return out


def reasons_text(excluded: dict[str, tuple[int, list[str]]]) -> str:
    """``12 no customer id (e.g. row 5, row 9); …``"""
    return "; ".join(f"{n:,} {reason} (e.g. {', '.join(samples)})" for reason, (n, samples) in excluded.items())


def strict_message(names: str, excluded: dict[str, tuple[int, list[str]]]) -> str:
    """The error of ``--strict`` when rows would be excluded."""
    total = sum(n for n, _ in excluded.values())
    return f"{names}: --strict: {count(total, 'row')} would be excluded: {reasons_text(excluded)}"


def summary_lines(customers: int, as_of, lines_after_as_of: int, return_only_customers: int) -> list[tuple[str, str]]:
    """``as of DAY: N customers`` and what the as-of date and returns left out."""
    out = [("info", f"as of {as_of:%Y-%m-%d}: {count(customers, 'customer')}")]
    if lines_after_as_of:
        out.append(("warning", f"excluded {count(lines_after_as_of, 'line')} dated after the as-of date"))
    if return_only_customers:
        verb = "has" if return_only_customers == 1 else "have"
        out.append(("info", (f"{count(return_only_customers, 'customer')} {verb} only returns up to the as-of "
                             "date and no order; they are not in the summary")))
    return out
