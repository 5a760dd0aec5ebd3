"""Purchase value per customer and label (a category, channel or region): what segment profiles,
the category- and channel-share features of ``custlens segment`` and the Pareto portrait read
of the purchase lines.

Either engine aggregates the lines into the same small table (:func:`value_by_label` here from
pandas lines, :func:`custlens.engine.value_by_label` in DuckDB): one row per customer and label,
the net value of their positive lines up to the as-of date in whole cents. The rules that read
it are here, once for both engines. Cents are integers, so totals over many customers do not
depend on the order they are added in.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .fast import isin


def value_by_label(purchases: pd.DataFrame, column: str, as_of=None) -> pd.DataFrame:
    """Per customer and value of ``column``: the value of their lines with a positive amount up to
    ``as_of`` (all without it); lines without a value are left out. Columns: customer_id, label
    (string), cents (int64), sorted by customer id and label."""
    keep = (purchases["amount"] > 0).to_numpy() & purchases[column].notna().to_numpy()
    if as_of is not None:
        keep &= (purchases["order_date"].dt.normalize() <= pd.Timestamp(as_of)).to_numpy()
    lines = purchases[keep]
    sums = lines.groupby([lines["customer_id"].astype("string"), lines[column].astype("string")],
                         observed=True)["amount"].sum()
    return in_cents(pd.DataFrame({"customer_id": sums.index.get_level_values(0),
                                  "label": sums.index.get_level_values(1), "amount": sums.to_numpy()}))


def in_cents(sums: pd.DataFrame) -> pd.DataFrame:
    """customer_id, label and amount (a sum per customer and label) → customer_id, label, cents:
    the amount rounded half-even to whole cents, in customer id then label order."""
    out = pd.DataFrame({"customer_id": sums["customer_id"].astype("string").to_numpy(),
                        "label": sums["label"].astype("string").to_numpy(),
                        "cents": np.rint(sums["amount"].to_numpy(dtype="float64") * 100).astype(np.int64)})
    out["customer_id"] = out["customer_id"].astype("string")
    out["label"] = out["label"].astype("string")
    return out.sort_values(["customer_id", "label"], kind="stable", ignore_index=True)


def totals(values: pd.DataFrame, customers=None) -> pd.Series:
    """Cents per label over ``customers`` (all without them), largest first, ties in alphabetical
    order."""
    if customers is not None:
        values = values[isin(values["customer_id"], customers)]
    sums = values.groupby("label", observed=True)["cents"].sum()
    return sums.sort_index(kind="stable").sort_values(ascending=False, kind="stable")


def top_shares(values: pd.DataFrame, customers=None, top: int = 3) -> str:
    """'Coffee 41%, Tea 22%, Gifts 12%': the ``top`` labels of ``customers`` by purchase value,
    each with its share of their value (empty when they have none)."""
    sizes = totals(values, customers)
    whole = sizes.sum()
    if not len(sizes) or whole <= 0:
        return ""
    return ", ".join(f"{name} {cents / whole:.0%}" for name, cents in sizes.head(top).items())
