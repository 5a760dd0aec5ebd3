"""Acquisition cohorts: customers grouped by the period of their first order, followed period
by period.

- ``retention``: share of the cohort's customers with an order in the period;
- ``revenue``: the cohort's net revenue in the period (lines by their date) / cohort size;
- ``ltv``: cumulative net revenue per cohort customer up to and including the period.

Period 0 is the cohort's own period. A period that has not ended by the as-of date (the one
the as-of date falls in, unless it is its last day) and every later one is left empty: an
incomplete period would look like a drop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import CustlensError
from .summary import order_table

FREQUENCIES = {"week": "W-SUN", "month": "M", "quarter": "Q"}
METRICS = ("retention", "revenue", "ltv")


@dataclass
class CohortCounts:
    """What a cohort matrix is built from, by either engine: cohort sizes by the cohort's period
    ordinal, the metric's values by (cohort, offset) — active customers, or net revenue — and the
    figures of :func:`custlens.notes.summary_lines` (customers, as-of day, lines after it,
    return-only customers)."""

    size: pd.Series
    values: pd.Series
    summary: tuple


def check_options(period: str, metric: str) -> None:
    if period not in FREQUENCIES:
        raise CustlensError(f"--period {period!r}: use week, month or quarter")
    if metric not in METRICS:
        raise CustlensError(f"--metric {metric!r}: use retention, revenue or ltv")


def cohort_matrix(purchases: pd.DataFrame, *, period: str = "month", metric: str = "retention",
                  as_of=None) -> pd.DataFrame:
    """Rows: cohorts (``cohort`` label and ``customers``); columns ``<period>_0``, ``<period>_1``…
    ``attrs["summary"]``: (customers, as-of day, lines after it, return-only customers), the figures
    of :func:`custlens.notes.summary_lines`."""
    check_options(period, metric)
    as_of = pd.Timestamp(as_of).normalize() if as_of is not None else purchases["order_date"].max().normalize()
    return build_matrix(count_cohorts(purchases, period=period, metric=metric, as_of=as_of), period=period,
                        metric=metric, as_of=as_of)


def count_cohorts(purchases: pd.DataFrame, *, period: str, metric: str, as_of: pd.Timestamp) -> CohortCounts:
    """:class:`CohortCounts` of the purchase lines up to ``as_of`` (pandas)."""
    freq = FREQUENCIES[period]
    orders, customer_ids, lines_after = order_table(purchases, as_of)
    counted = orders[orders["counted"].to_numpy()]
    order_period = _ordinals(pd.to_datetime(counted["day"]), freq)
    customer = counted["customer"].to_numpy()
    cohort_of = pd.Series(order_period).groupby(customer).min()  # customer code → first period ordinal
    summary = (len(cohort_of), as_of, lines_after, len(customer_ids) - len(cohort_of))
    if metric == "retention":
        active = pd.DataFrame({"cohort": cohort_of.reindex(customer).to_numpy(),
                               "offset": order_period - cohort_of.reindex(customer).to_numpy(),
                               "customer": customer}).drop_duplicates()
        values = active.groupby(["cohort", "offset"]).size()
    else:
        lines = purchases[(purchases["order_date"].dt.normalize() <= as_of).to_numpy()]
        codes = pd.Index(customer_ids).get_indexer(lines["customer_id"])
        line_cohort = cohort_of.reindex(codes).to_numpy()
        has_cohort = ~np.isnan(line_cohort)
        line_period = _ordinals(lines["order_date"].dt.normalize(), freq)[has_cohort]
        line_cohort = line_cohort[has_cohort].astype(np.int64)
        values = pd.Series(lines["amount"].to_numpy()[has_cohort]).groupby(
            [line_cohort, line_period - line_cohort]).sum()
    return CohortCounts(size=cohort_of.value_counts(), values=values, summary=summary)


def build_matrix(counts: CohortCounts, *, period: str, metric: str, as_of: pd.Timestamp) -> pd.DataFrame:
    """The matrix of :func:`cohort_matrix` from its counts."""
    if counts.size.empty:
        raise CustlensError("no orders up to the as-of date: no cohorts to show")
    freq = FREQUENCIES[period]
    current = as_of.to_period(freq)
    last_complete = current.ordinal if as_of == current.end_time.normalize() else current.ordinal - 1
    cohorts = np.sort(counts.size.index.to_numpy())
    width = current.ordinal - int(cohorts[0]) + 1
    values = counts.values
    rows = []
    for cohort in cohorts:
        n = int(counts.size[cohort])
        row = {"cohort": str(pd.Period(ordinal=int(cohort), freq=freq)), "customers": n}
        running = 0.0
        for k in range(width):
            label = f"{period}_{k}"
            if cohort + k > last_complete:  # not over yet at the as-of date
                row[label] = np.nan
                continue
            value = float(values.get((cohort, k), 0.0))
            if metric != "retention":  # a sum of money: its last bit depends on how it was added up
                value = round(value, 6)  # (Kahan in pandas, exact in DuckDB 2.0.1), which a half cent shows
            if metric == "retention":
                row[label] = value / n
            elif metric == "revenue":
                row[label] = round(value / n, 2)
            else:
                running += value
                row[label] = round(running / n, 2)
        rows.append(row)
    table = pd.DataFrame(rows)
    table["cohort"] = table["cohort"].astype("string")
    table.attrs["summary"] = counts.summary
    if metric == "retention":
        table.attrs["percent"] = [c for c in table.columns if c.startswith(f"{period}_")]
    return table


def _ordinals(days: pd.Series, freq: str) -> np.ndarray:
    """Each day's period as an integer (consecutive periods differ by 1)."""
    return days.dt.to_period(freq).array.asi8.astype(np.int64)
