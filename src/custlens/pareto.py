"""Pareto (80/20) key clients, ABC classes, the Gini coefficient and the key-client portrait.

Customers are ranked by value (net revenue by default), highest first; ties are broken by
customer id so the ranking is the same on every run. Only customers with a positive value
are ranked: those whose net revenue is zero or negative (returns exceeding purchases) are
listed after the ranked ones with class "none" and no shares, and counted separately.

- ``share`` = value / total value of the ranked customers; ``cumulative_share`` = running sum.
  Both are worked out in cents (values are money rounded to cents, or whole orders), whose sums
  are exact below 2⁵³ cents: the same shares in every engine and whatever the order of addition.
- Key clients: the smallest top set whose cumulative share reaches ``share`` (default 0.8):
  the first k customers, k the first rank where the cumulative share ≥ 0.8.
- ABC: A is the smallest top set reaching the first edge (0.8), B adds customers up to the
  smallest set reaching the second edge (0.95), C is the rest.
- Gini = Σᵢ (2i − n − 1)·xᵢ / (n·Σx), values xᵢ sorted ascending, i = 1..n: 0 when every
  customer brings the same, 1 − 1/n when one customer brings everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .errors import CustlensError, MissingColumnError, count

if TYPE_CHECKING:
    import pandas as pd

BY = ("revenue", "orders", "margin")
NONE_CLASS = "none"


def customer_values(summary: pd.DataFrame, *, by: str = "revenue", margins: pd.Series | None = None) -> pd.Series:
    """The value each customer is ranked by, indexed like ``summary``.

    revenue = net monetary value; orders = frequency; margin = the customer's margin in
    ``margins`` (customer_id → Σ(amount − cost), :func:`margins`; 0 for a customer with no line
    in it), rounded to cents.
    """
    if by == "revenue":
        return summary["monetary"].astype("float64")
    if by == "orders":
        return summary["frequency"].astype("float64")
    if by == "margin":
        if margins is None:
            raise MissingColumnError(MARGIN_NEEDS_COST)
        return summary["customer_id"].map(margins).fillna(0.0).astype("float64").round(2)
    raise CustlensError(f"unknown --by {by!r}; use one of {', '.join(BY)}")


MARGIN_NEEDS_COST = "--by margin needs a cost column in the purchases; add --map cost=COLUMN"


def margins(purchases: pd.DataFrame, as_of=None) -> pd.Series:
    """Per customer: Σ(amount − cost) over their lines up to the as-of date, a missing cost
    counting as 0 (needs a ``cost`` column in the purchases)."""
    if "cost" not in purchases:
        raise MissingColumnError(MARGIN_NEEDS_COST)
    lines = purchases if as_of is None else purchases[purchases["order_date"].dt.normalize() <= as_of]
    return (lines["amount"] - lines["cost"].fillna(0)).groupby(lines["customer_id"]).sum()


def rank(summary: pd.DataFrame, values: pd.Series, *, share: float = 0.8,
         abc: tuple[float, float] = (0.8, 0.95), name: str = "value") -> pd.DataFrame:
    """Per customer: rank, the value (in a column called ``name``), share, cumulative_share,
    abc_class, key_client.

    Rows come in rank order; customers with value ≤ 0 follow, unranked (see the module
    docstring).
    """
    import pandas as pd

    _check_shares(share, abc)
    frame = pd.DataFrame({"customer_id": summary["customer_id"].to_numpy(), "value": values.to_numpy()})
    frame = frame.sort_values(["value", "customer_id"], ascending=[False, True], kind="stable", ignore_index=True)
    positive = frame["value"].to_numpy() > 0
    ranked = frame[positive].reset_index(drop=True)
    rest = frame[~positive].reset_index(drop=True)
    cents = np.rint(ranked["value"].to_numpy(dtype="float64") * 100)
    total, running = cents.sum(), cents.cumsum()
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    ranked["share"] = cents / total
    ranked["cumulative_share"] = running / total
    before = (running - cents) / total
    # A customer is inside the smallest set reaching x when the customers before them have not reached x.
    ranked["abc_class"] = np.where(before < abc[0] - 1e-12, "A", np.where(before < abc[1] - 1e-12, "B", "C"))
    ranked["key_client"] = before < share - 1e-12
    rest["rank"] = pd.NA
    rest["share"] = np.nan
    rest["cumulative_share"] = np.nan
    rest["abc_class"] = NONE_CLASS
    rest["key_client"] = False
    out = pd.concat([ranked, rest], ignore_index=True)
    out["rank"] = out["rank"].astype("Int64")
    out["customer_id"] = out["customer_id"].astype("string")
    out["abc_class"] = out["abc_class"].astype("string")
    out["key_client"] = out["key_client"].astype(bool)
    out = out[["customer_id", "rank", "value", "share", "cumulative_share", "abc_class", "key_client"]]
    return out.rename(columns={"value": name})


def _check_shares(share: float, abc: tuple[float, float]) -> None:
    if not 0 < share <= 1:
        raise CustlensError(f"--share must be in (0, 1], not {share}")
    if not (len(abc) == 2 and 0 < abc[0] < abc[1] <= 1):
        raise CustlensError(f"ABC edges must be two increasing shares in (0, 1], e.g. 0.8,0.95; not {abc}")


def gini(values) -> float:
    """Gini coefficient of non-negative values: Σᵢ (2i − n − 1)·xᵢ / (n·Σx), x ascending."""
    x = np.sort(np.asarray(values, dtype="float64"))
    n, total = len(x), x.sum()
    if n == 0 or total <= 0:
        return float("nan")
    i = np.arange(1, n + 1)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def summarize(ranked: pd.DataFrame, *, share: float = 0.8, name: str = "value") -> tuple[pd.DataFrame, dict]:
    """Per class (A, B, C), for the key clients, the top 20% of customers, the ranked customers
    and the unranked ones (value ≤ 0): customers, customer_share, value, value_share, avg_value. Returns
    ``(table, headline)``; headline holds key_clients, key_client_customer_share, top20_customers,
    top20_value_share, gini, nonpositive_customers and nonpositive_value.

    customer_share is of all customers; value_share is of the total value of the ranked
    customers (the unranked row has none); the top 20% are the first ⌈0.2·n⌉ of all n
    customers by value; Gini is over the ranked customers. The value columns are called
    ``name``, ``name_share`` and ``avg_name``.
    """
    import pandas as pd

    ranked = ranked.rename(columns={name: "value"})
    positive = ranked[ranked["abc_class"] != NONE_CLASS]
    rest = ranked[ranked["abc_class"] == NONE_CLASS]
    n_all, total = len(ranked), positive["value"].sum()
    groups = [(label, positive[positive["abc_class"] == label]) for label in ("A", "B", "C")]
    groups.append((f"key clients ({share:.0%})", positive[positive["key_client"]]))
    top = max(1, int(np.ceil(0.2 * n_all))) if n_all else 0
    groups.append(("top 20% of customers", positive.head(top)))
    groups.append((f"ranked ({name} > 0)", positive))
    groups.append((f"{name} ≤ 0 (not ranked)", rest))
    rows = []
    for label, part in groups:
        ranked_part = label != groups[-1][0]
        rows.append({"group": label, "customers": len(part),
                     "customer_share": len(part) / n_all if n_all else np.nan,
                     "value": round(part["value"].sum(), 2),
                     "value_share": part["value"].sum() / total if total and ranked_part else np.nan,
                     "avg_value": round(part["value"].mean(), 2) if len(part) else np.nan})
    table = pd.DataFrame(rows)
    table["group"] = table["group"].astype("string")
    table = table.rename(columns={"value": name, "value_share": f"{name}_share", "avg_value": f"avg_{name}"})
    headline = headline_of(ranked["value"].to_numpy(), ranked["key_client"].to_numpy(),
                           (ranked["abc_class"] != NONE_CLASS).to_numpy(), share=share)
    return table, headline


def headline_of(values, key_client, ranked, *, share: float = 0.8) -> dict:
    """The headline of :func:`summarize` from every customer's value, key-client flag and whether
    they are ranked, in the order of :func:`rank`'s rows (arrays): key_clients and their share of
    all n customers, the top ⌈0.2·n⌉ customers and their share of the ranked value, Gini over the
    ranked values, and the unranked customers and their total."""
    values = np.asarray(values, dtype="float64")
    key_client, ranked = np.asarray(key_client, dtype=bool), np.asarray(ranked, dtype=bool)
    positive, rest = values[ranked], values[~ranked]
    n_all, total, keys = len(values), positive.sum(), int(key_client[ranked].sum())
    top = max(1, int(np.ceil(0.2 * n_all))) if n_all else 0
    return {
        "key_clients": keys,
        "key_client_customer_share": keys / n_all if n_all else float("nan"),
        "share": share,
        "top20_customers": top,
        "top20_value_share": float(positive[:top].sum() / total) if total else float("nan"),
        "gini": gini(positive),
        "nonpositive_customers": len(rest),
        "nonpositive_value": float(rest.sum()),
    }


def rank_sql(table: str, *, by: str = "revenue", share: float = 0.8, abc: tuple[float, float] = (0.8, 0.95)) -> str:
    """:func:`rank` of :func:`customer_values` by revenue or orders, as one DuckDB query on a summary
    ``table``: the same columns and numbers (shares from cents, as there), rows in no particular
    order (``ORDER BY`` :func:`rank_order` gives :func:`rank`'s)."""
    _check_shares(share, abc)
    column = {"revenue": "monetary", "orders": "frequency"}.get(by)
    if column is None:
        raise CustlensError(f"pareto in SQL ranks by revenue or orders, not {by!r}")

    def below(edge: float) -> str:  # the edge less 1e-12, the very double rank() compares with
        return f"(running - cents) / total < '{edge - 1e-12!r}'::DOUBLE"

    return f"""
        WITH v AS (SELECT customer_id, {column}::DOUBLE AS value FROM {table}),
             r AS (SELECT customer_id, value, round(value * 100) AS cents,
                          row_number() OVER (ORDER BY value DESC, customer_id) AS rank FROM v WHERE value > 0),
             c AS (SELECT *, sum(cents) OVER (ORDER BY rank ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                                 AS running, sum(cents) OVER () AS total FROM r)
        SELECT customer_id, rank, value AS {by}, cents / total AS share, running / total AS cumulative_share,
               CASE WHEN {below(abc[0])} THEN 'A' WHEN {below(abc[1])} THEN 'B' ELSE 'C' END AS abc_class,
               {below(share)} AS key_client
        FROM c
        UNION ALL
        SELECT customer_id, NULL, value, NULL, NULL, '{NONE_CLASS}', FALSE FROM v WHERE NOT value > 0"""


def rank_order(name: str = "value") -> str:
    """The order of :func:`rank`'s rows, as SQL on its columns: by value, highest first, then by id."""
    return f"{name} DESC, customer_id"


def headline_text(headline: dict, by: str = "revenue") -> list[str]:
    """The summary in words, e.g. '312 customers (15.6% of customers) bring 80% of revenue'."""
    if not headline["key_clients"]:
        return [f"no customer has {by} above 0: nobody is ranked "
                f"({count(headline['nonpositive_customers'], 'customer')}, total {headline['nonpositive_value']:,.2f})"]
    lines = [
        f"{count(headline['key_clients'], 'customer')} ({headline['key_client_customer_share']:.1%} of customers) "
        f"bring {headline['share']:.0%} of {by}",
        f"the top 20% of customers ({headline['top20_customers']:,}) bring {headline['top20_value_share']:.1%} of {by}; "
        f"Gini {headline['gini']:.3f}",
    ]
    if headline["nonpositive_customers"]:
        lines.append(f"{count(headline['nonpositive_customers'], 'customer')} with {by} ≤ 0 "
                     f"(total {headline['nonpositive_value']:,.2f}) are not ranked")
    return lines


def portrait(summary: pd.DataFrame, ranked: pd.DataFrame, *, values: dict[str, pd.DataFrame] | None = None,
             contacts: pd.DataFrame | None = None, recent_days: int = 90, top: int = 3) -> pd.DataFrame:
    """Key clients next to everybody else: one row per measure, columns ``key_clients`` and
    ``the_rest``.

    Measures: customers; customer_share and revenue_share (of all customers / of all net
    revenue); avg_orders; avg_order_value (group revenue / group orders); avg_tenure_days;
    avg_recency_days; bought_last_90_days_share (recency ≤ 90 days); top categories,
    channels and regions (share of the group's purchase value in cents, returns not subtracted)
    from the :mod:`custlens.labels` tables in ``values``, when the purchases have them; top
    cities and acquisition sources (share of the group's customers with a contact record),
    consent_share and with_contact_record_share when contacts are given.
    """
    import pandas as pd

    from .fast import isin
    from .labels import top_shares

    key_ids = ranked.loc[ranked["key_client"], "customer_id"]
    is_key = isin(summary["customer_id"], key_ids)
    groups = {"key_clients": summary[is_key], "the_rest": summary[~is_key]}
    total_customers, total_revenue = len(summary), summary["monetary"].sum()
    rows: list[tuple[str, dict]] = []

    def add(measure, fn):
        rows.append((measure, {name: fn(part) for name, part in groups.items()}))

    def split(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """The rows of ``frame`` that belong to each group's customers."""
        key, known = isin(frame["customer_id"], key_ids), isin(frame["customer_id"], summary["customer_id"])
        return {"key_clients": frame[key], "the_rest": frame[known & ~key]}

    def add_split(measure, parts: dict[str, pd.DataFrame], fn):
        rows.append((measure, {name: fn(parts[name]) for name in groups}))

    add("customers", len)
    add("customer_share", lambda p: len(p) / total_customers if total_customers else np.nan)
    add("revenue_share", lambda p: p["monetary"].sum() / total_revenue if total_revenue else np.nan)
    add("avg_orders", lambda p: round(p["frequency"].mean(), 2) if len(p) else np.nan)
    add("avg_order_value", lambda p: round(p["monetary"].sum() / p["frequency"].sum(), 2) if len(p) else np.nan)
    add("avg_tenure_days", lambda p: round(p["tenure_days"].mean(), 1) if len(p) else np.nan)
    add("avg_recency_days", lambda p: round(p["recency_days"].mean(), 1) if len(p) else np.nan)
    add(f"bought_last_{recent_days}_days_share",
        lambda p: (p["recency_days"] <= recent_days).mean() if len(p) else np.nan)
    for column, label in (("category", "top_categories"), ("channel", "top_channels"), ("region", "top_regions")):
        if values is not None and column in values:
            add(label, lambda p, c=column: top_shares(values[c], p["customer_id"], top))
    if contacts is not None:
        parts = split(contacts)
        for column, label in (("city", "top_cities"), ("source", "top_sources")):
            if column in contacts:
                add_split(label, parts, lambda p, c=column: _top_counts(p, c, top))
        if "consent" in contacts:
            add_split("consent_share", parts, lambda p: _mean_flag(p["consent"]))
        add("with_contact_record_share", lambda p: isin(p["customer_id"], contacts["customer_id"]).mean()
            if len(p) else np.nan)
    table = pd.DataFrame([{"measure": m, **v} for m, v in rows])
    table["measure"] = table["measure"].astype("string")
    return table


def _top_counts(frame: pd.DataFrame, column: str, top: int) -> str:
    """'Moscow 41%, Kazan 22%, Omsk 12%': the top values of ``column`` by count."""
    values = frame[column].dropna()
    if values.empty:
        return ""
    sizes = values.value_counts()
    sizes = sizes.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    shares = sizes / sizes.sum()
    return ", ".join(f"{name} {share:.0%}" for name, share in shares.head(top).items())


def _mean_flag(flags: pd.Series) -> float:
    known = flags.dropna()
    return float(known.astype(bool).mean()) if len(known) else np.nan
