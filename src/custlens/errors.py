"""Errors the library raises. The CLI turns each into one line on stderr and exit code 1.

A message names the file, the column, a sample of the bad values and the fix, e.g.
``purchases.csv: column "Сумма" (amount): 3 values are not numbers, e.g. 'n/a'; try --decimal ,``.
"""

from __future__ import annotations


class CustlensError(Exception):
    """Base class: the data or a file is wrong (exit code 1)."""


class InputError(CustlensError):
    """A file cannot be read at all: missing, empty, binary, undecodable."""


class EmptyInputError(InputError):
    """The file has no data rows, or no rows survive validation."""


class MissingColumnError(CustlensError):
    """A required role has no column."""


class BadValuesError(CustlensError):
    """A column holds values of the wrong type (text in amounts, unparseable dates…)."""


class StrictModeError(CustlensError):
    """Rows were excluded and ``--strict`` asked for none to be."""


class OutputError(CustlensError):
    """Results cannot be written where or how they were asked for."""


def sample_text(values, limit: int = 3) -> str:
    """Quote up to ``limit`` distinct values for a message: ``'n/a', '12,5 kg'``."""
    seen: list[str] = []
    for value in values:
        text = repr(str(value))[1:-1] if value is not None else "<empty>"
        text = f"'{text[:40]}'"
        if text not in seen:
            seen.append(text)
        if len(seen) == limit:
            break
    return ", ".join(seen)


def count(n: int, noun: str) -> str:
    """``count(1, "row")`` → '1 row', ``count(12345, "row")`` → '12,345 rows'."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
