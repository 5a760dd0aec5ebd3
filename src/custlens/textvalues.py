"""Dates and amounts written as text, for the DuckDB engine: parsed once per distinct value by
the pandas loader's own parsers (:mod:`custlens.io.parse`), so both engines read ``01.02.2025``
and ``1 234,50 ₽`` alike.

DuckDB lists a column's distinct texts; :func:`date_table` and :func:`number_table` turn them
into the values the loader would give every line holding that text; DuckDB joins them back
onto the lines. The loader chooses a column's format from its values, so the values passed
here are chosen to make the same choice:

- dates: the loader tries formats on its distinct values, on a sample of 5,000 when there are
  more. Up to 5,000 distinct dates (thirteen years of days) the choice does not depend on
  which sample, so it is the loader's; nor does it when every value is ISO (``2025-01-02T10:00+03:00``:
  the loader reads ISO text as ISO). Beyond that, only ``--date-format`` (no choice) is taken
  here, and the rest is left to the loader (:class:`DifferentChoice`).
- amounts and costs: the loader chooses a column's decimal mark from its first 20,000 distinct
  texts in file order (:func:`custlens.io.parse.detect_decimal`); the caller passes exactly those. With the
  mark chosen, each value is parsed on its own.

Imports pandas: used only for files whose dates or amounts are not plain ISO and decimal-point
text, and for text costs.
"""

from __future__ import annotations

import pandas as pd

from .io.parse import ISO_DATE_TEXT, blank_mask, detect_decimal, parse_dates, parse_numbers

#: the loader samples its distinct dates beyond this many (custlens.io.parse.parse_dates)
DATE_SAMPLE = 5000
#: the loader chooses the decimal mark from this many first distinct amounts (parse_numbers)
DECIMAL_SAMPLE = 20000
#: distinct texts parsed here at most, per column (about 1 GB of Python strings and results)
MOST_TEXTS = 5_000_000


class DifferentChoice(Exception):
    """The loader could choose another format than these values show (``distinct`` dates, too
    many); the message says why."""

    def __init__(self, distinct: int):
        super().__init__(f"{distinct:,} distinct dates that are not ISO, more than the {DATE_SAMPLE:,} the pandas "
                         "loader chooses their format from; --date-format names it")
        self.distinct = distinct


def _texts(values) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def date_table(texts, *, fmt: str | None, column: str, source: str) -> tuple[pd.DataFrame, tuple[str, ...], str | None]:
    """``(table, formats, warning)`` for a date column's distinct texts: the table has ``text``
    and ``day`` (the loader's date, at midnight; NaT where the loader finds no date), ``formats``
    and ``warning`` are what the loader reports. Raises :class:`DifferentChoice` when the loader
    would pick formats from a sample of more than 5,000 distinct dates (no ``fmt``), and the
    loader's own :class:`custlens.errors.BadValuesError` where it refuses the column."""
    text = _texts(texts)
    present = text[~blank_mask(text)].str.strip().drop_duplicates()
    # ISO texts are read as ISO whatever the sample (custlens.io.parse.detect_date_format)
    if fmt is None and len(present) > DATE_SAMPLE and not present.str.fullmatch(ISO_DATE_TEXT).all():
        raise DifferentChoice(len(present))
    parsed = parse_dates(text, fmt=fmt, column=column, source=source)
    return pd.DataFrame({"text": text, "day": parsed.values.dt.normalize()}), parsed.formats, parsed.warning


def decimal_mark(first_texts, *, decimal: str | None, delimiter: str | None) -> str:
    """The loader's decimal mark for an amount column: ``decimal`` when given (``--decimal``),
    else chosen from the column's first 20,000 distinct present texts in file order (or all of
    them, when there are fewer)."""
    if decimal is not None:
        return decimal
    text = _texts(first_texts)
    present = text[~blank_mask(text)].drop_duplicates().head(DECIMAL_SAMPLE)
    return detect_decimal(present, delimiter)


def number_table(texts, *, decimal: str, delimiter: str | None) -> pd.DataFrame:
    """``text``, ``value`` and ``bad`` for a number column's distinct texts (amounts, costs), as
    the loader parses them with this decimal mark: ``value`` is NaN where it finds no number,
    ``bad`` is True where the text is present but not a number."""
    text = _texts(texts)
    values, bad, _ = parse_numbers(text, decimal=decimal, delimiter=delimiter)
    return pd.DataFrame({"text": text, "value": values.astype("float64"), "bad": bad.to_numpy(dtype=bool)})
