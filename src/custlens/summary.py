"""The per-customer summary: N purchase lines → one row per customer (the hot path).

Definitions (also in the README):

- an *order* is the set of a customer's lines with one ``order_id``; without an order id
  (or where it is empty) it is the customer's lines of one calendar day;
- an order all of whose lines are negative is a *return*, not an order: its amounts
  reduce ``monetary`` but it is not counted, and its date is not an order date;
- ``frequency`` = number of orders; ``monetary`` = sum of all the customer's line amounts
  up to the as-of date, returns included (net revenue); ``avg_order_value`` = monetary /
  frequency; ``recency_days`` = as-of − last order date; ``tenure_days`` = as-of − first
  order date; ``median_gap_days`` = median of the days between consecutive distinct
  order days (empty with fewer than two order days).

Money is rounded to cents at the end, so the same lines in any order give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from .errors import EmptyInputError
from .notes import summary_lines

COLUMNS = [
    "customer_id", "first_order", "last_order", "recency_days", "frequency", "monetary",
    "avg_order_value", "tenure_days", "median_gap_days",
]


@dataclass
class Summary:
    """The summary table and what was left out of it."""

    customers: pd.DataFrame
    as_of: pd.Timestamp
    lines_after_as_of: int = 0
    return_only_customers: int = 0
    #: every customer's distinct order days, sorted: customer_id, day (for gap-based reports)
    order_days: pd.DataFrame | None = None
    #: purchase lines loaded (after the loader's exclusions)
    lines: int | None = None
    #: computes ``order_days`` on first use (the DuckDB engine leaves them in the database until asked)
    order_days_loader: Callable[[], pd.DataFrame] | None = None
    #: from the DuckDB engine: per customer own_median, last_gap_days, gap_before_last_days (the
    #: gaps between order days that lifecycle stages use), and the median first gap of everyone
    gap_table: pd.DataFrame | None = None
    gap_population: float | None = None

    def days(self) -> pd.DataFrame:
        """Every customer's distinct order days, sorted by customer then day."""
        if self.order_days is None and self.order_days_loader is not None:
            self.order_days = self.order_days_loader()
        return self.order_days

    def messages(self) -> list[tuple[str, str]]:
        """``(level, text)`` for stderr, as :meth:`custlens.io.LoadReport.messages`."""
        return summary_lines(len(self.customers), self.as_of, self.lines_after_as_of, self.return_only_customers)


def resolve_as_of(purchases: pd.DataFrame, as_of: date | str | pd.Timestamp | None) -> pd.Timestamp:
    """The as-of day: the given one, or the day of the last order line in the data."""
    if as_of is None:
        if purchases.empty:
            raise EmptyInputError("no purchases to summarise")
        return purchases["order_date"].max().normalize()
    return pd.Timestamp(as_of).normalize()


def order_table(purchases: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray, int]:
    """Collapse lines up to ``as_of`` into orders.

    Returns ``(orders, customer_ids, lines_after)`` where ``orders`` has integer
    ``customer`` codes into ``customer_ids``, ``day`` (datetime64), ``amount`` (order total)
    and ``counted`` (False for return-only orders).
    """
    day = purchases["order_date"].dt.normalize()
    in_window = (day <= as_of).to_numpy()
    lines_after = int((~in_window).sum())
    day = day[in_window]
    amount = purchases["amount"].to_numpy(dtype="float64")[in_window]
    codes, customer_ids = pd.factorize(purchases["customer_id"][in_window])
    day_number = day.to_numpy().astype("datetime64[D]").astype(np.int64)
    key = day_number - day_number.min() if len(day_number) else day_number
    if "order_id" in purchases:
        order_codes, _ = pd.factorize(purchases["order_id"][in_window])
        has_id = order_codes >= 0
        key = np.where(has_id, order_codes + key.max() + 1 if len(key) else order_codes, key)
    frame = pd.DataFrame({"customer": codes, "key": key, "day": day_number, "amount": amount,
                          "nonnegative": amount >= 0})
    orders = frame.groupby(["customer", "key"], sort=False).agg(
        day=("day", "min"), amount=("amount", "sum"), counted=("nonnegative", "any"),
    ).reset_index()
    orders["day"] = orders["day"].to_numpy().astype("datetime64[D]")
    return orders, np.asarray(customer_ids), lines_after


def customers(purchases: pd.DataFrame, *, as_of=None) -> Summary:
    """One row per customer with at least one order up to ``as_of``; see the module docstring.

    Parameters
    ----------
    purchases : canonical purchases (``customer_id``, ``order_date``, ``amount``, optional ``order_id``)
    as_of : the day the report is made on; default the last order day in the data.
        Lines dated after it are excluded and counted.

    Example
    -------
    >>> s = customers(load_purchases("examples/purchases.csv")[0])
    >>> s.customers.columns.tolist()[:3]
    ['customer_id', 'first_order', 'last_order']
    """
    as_of = resolve_as_of(purchases, as_of)
    orders, customer_ids, lines_after = order_table(purchases, as_of)
    counted = orders[orders["counted"]]
    per = counted.groupby("customer", sort=False).agg(
        first_order=("day", "min"), last_order=("day", "max"), frequency=("day", "size"),
    )
    monetary = orders.groupby("customer", sort=False)["amount"].sum()
    per["monetary"] = monetary.reindex(per.index)
    days = _distinct_days(counted)
    per["median_gap_days"] = _median_gaps(days).reindex(per.index)
    as_of_day = np.datetime64(as_of.date(), "D")
    first = per["first_order"].to_numpy().astype("datetime64[D]")
    last = per["last_order"].to_numpy().astype("datetime64[D]")
    # + 0.0: what rounds to zero from below (returns that cancel, an average of -0.0025) is 0.0, not -0.0
    monetary_cents = per["monetary"].to_numpy().round(2) + 0.0
    table = pd.DataFrame({
        "customer_id": pd.array(customer_ids[per.index.to_numpy()], dtype="string"),
        "first_order": first.astype("datetime64[s]"),
        "last_order": last.astype("datetime64[s]"),
        "recency_days": (as_of_day - last).astype(np.int64),
        "frequency": per["frequency"].to_numpy(dtype=np.int64),
        "monetary": monetary_cents,
        "avg_order_value": (monetary_cents / per["frequency"].to_numpy()).round(2) + 0.0,
        "tenure_days": (as_of_day - first).astype(np.int64),
        "median_gap_days": per["median_gap_days"].to_numpy(dtype="float64"),
    })
    table = table.sort_values("customer_id", kind="stable", ignore_index=True)
    return_only = len(customer_ids) - len(per)
    order_days = pd.DataFrame({
        "customer_id": pd.array(customer_ids[days["customer"].to_numpy()], dtype="string"),
        "day": days["day"].to_numpy().astype("datetime64[s]"),
    })
    return Summary(customers=table, as_of=as_of, lines_after_as_of=lines_after,
                   return_only_customers=return_only, order_days=order_days, lines=len(purchases))


def _distinct_days(counted: pd.DataFrame) -> pd.DataFrame:
    """Distinct (customer code, order day) pairs, sorted by customer then day."""
    return counted[["customer", "day"]].drop_duplicates().sort_values(["customer", "day"], kind="stable",
                                                                      ignore_index=True)


def _median_gaps(days: pd.DataFrame) -> pd.Series:
    """Median days between consecutive distinct order days, per customer code."""
    customer = days["customer"].to_numpy()
    day = days["day"].to_numpy().astype("datetime64[D]").astype(np.int64)
    same = np.zeros(len(customer), dtype=bool)
    same[1:] = customer[1:] == customer[:-1]
    gaps = pd.Series(np.diff(day, prepend=0)[same].astype("float64"))
    return gaps.groupby(customer[same]).median()
