"""Lifecycle stages measured against each customer's own rhythm, and the win-back list.

Every customer is in exactly one stage at the as-of date, decided in this order:

1. ``prospect``: in the contacts, signed up by the as-of date (or no signup date), no order.
2. ``new``: first order at most ``new_days`` (30) days before the as-of date.
3. ``lost``: last order more than ``lost_days`` (365) days ago.
4. ``lapsed``: overdue ratio above ``lapsed_factor`` (2.5) and at least ``min_lapsed_days`` (60)
   days since the last order.
5. ``at_risk``: overdue ratio above ``at_risk_factor`` (1.5).
6. ``reactivated``: otherwise active, but the gap before the last order would have made the
   customer lapsed or lost (see below).
7. ``active``: everybody else (overdue ratio at most 1.5).

*Expected gap*: the median of the days between the customer's consecutive distinct order
days, when there are at least two order days; for one-order customers, the population's
median days from first to second order day. *Overdue ratio* = days since the last order /
expected gap.

*Reactivated*: the last gap g (days between the last two order days) was at least
``min_lapsed_days`` and more than ``lapsed_factor`` × the expected gap before it (the median
of the earlier gaps, or the population's first-to-second median when g is the first gap), or
g was more than ``lost_days``.

``threshold_days`` (``--threshold 90d``) replaces the rhythm with one absolute threshold for
everyone: the expected gap becomes threshold / lapsed_factor and ``min_lapsed_days`` 0, so a
customer is lapsed after more than 90 days, at risk after more than 90 × 1.5 / 2.5 = 54 days,
and lost after 365.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import numpy as np
import pandas as pd

from .errors import CustlensError
from .fast import isin
from .summary import Summary

STAGES = ["prospect", "new", "active", "reactivated", "at_risk", "lapsed", "lost"]
NOT_YET = "not yet a customer"
COLUMNS = ["customer_id", "stage", "days_since_last", "expected_gap_days", "overdue_ratio", "orders",
           "monetary", "first_order", "last_order"]


class ThresholdError(CustlensError):
    """Lifecycle thresholds are inconsistent."""


@dataclass(frozen=True)
class Thresholds:
    new_days: int = 30
    at_risk_factor: float = 1.5
    lapsed_factor: float = 2.5
    min_lapsed_days: int = 60
    lost_days: int = 365
    threshold_days: int | None = None

    def __post_init__(self):
        if not 0 < self.at_risk_factor < self.lapsed_factor:
            raise ThresholdError(f"at_risk_factor ({self.at_risk_factor}) must be above 0 and below "
                                 f"lapsed_factor ({self.lapsed_factor})")
        if min(self.new_days, self.min_lapsed_days, self.lost_days) < 0:
            raise ThresholdError("new_days, min_lapsed_days and lost_days must not be negative")
        if self.threshold_days is not None and self.threshold_days <= 0:
            raise ThresholdError(f"--threshold must be a positive number of days, not {self.threshold_days}")

    @classmethod
    def from_config(cls, config: dict, **overrides) -> "Thresholds":
        """``[lifecycle]`` settings of custlens.toml, then the given overrides (None = keep)."""
        settings = dict(config.get("lifecycle", {}))
        unknown = set(settings) - {f.name for f in fields(cls)} - {"threshold"}
        if unknown:
            raise ThresholdError(f"[lifecycle] has no setting {', '.join(sorted(unknown))}; known: "
                                 + ", ".join(f.name for f in fields(cls) if f.name != "threshold_days")
                                 + ", threshold")
        if "threshold" in settings:
            settings["threshold_days"] = parse_days(settings.pop("threshold"))
        settings.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**settings)


def parse_days(text) -> int:
    """'90d' → 90, '2w' → 14, 30 → 30."""
    if isinstance(text, int):
        return text
    value = str(text).strip().lower()
    try:
        if value.endswith("w"):
            return int(value[:-1]) * 7
        return int(value[:-1] if value.endswith("d") else value)
    except ValueError:
        raise ThresholdError(f"{text!r} is not a number of days; write e.g. 90d or 2w") from None


def expected_gaps(summary: Summary) -> tuple[pd.DataFrame, float]:
    """Per customer: ``expected_gap_days`` and ``last_gap_days``/``gap_before_last_days`` (for
    reactivation); plus the population's median first-to-second gap (NaN when nobody has two
    order days). The DuckDB engine computes the gaps where it summarised (``summary.gap_table``);
    otherwise they come from every customer's order days."""
    if summary.gap_table is not None:
        per = summary.gap_table.set_index("customer_id").reindex(
            pd.Index(summary.customers["customer_id"], name="customer_id"))
        population = summary.gap_population
        per["expected_gap_days"] = per["own_median"].fillna(population)
        per["expected_before_last"] = per["gap_before_last_days"].fillna(population)
        return per.reset_index(), population
    days = summary.days()
    customer = days["customer_id"].to_numpy()
    day = days["day"].to_numpy().astype("datetime64[D]").astype(np.int64)
    same = np.zeros(len(day), dtype=bool)
    same[1:] = customer[1:] == customer[:-1]
    gap = np.where(same, np.diff(day, prepend=0), np.nan)
    gaps = pd.DataFrame({"customer_id": customer, "gap": gap})[same]
    position = gaps.groupby("customer_id", sort=False).cumcount()
    count = gaps.groupby("customer_id", sort=False)["gap"].transform("size")
    first_gaps = gaps[position == 0].set_index("customer_id")["gap"]
    population = float(first_gaps.median()) if len(first_gaps) else float("nan")
    per = pd.DataFrame(index=pd.Index(summary.customers["customer_id"], name="customer_id"))
    grouped = gaps.groupby("customer_id", sort=False)["gap"]
    per["own_median"] = grouped.median()
    per["last_gap_days"] = grouped.last()
    earlier = gaps[position < count - 1].groupby("customer_id", sort=False)["gap"].median()
    per["gap_before_last_days"] = earlier
    per["expected_gap_days"] = per["own_median"].fillna(population)
    per["expected_before_last"] = per["gap_before_last_days"].fillna(population)
    return per.reset_index(), population


def stages(summary: Summary, *, contacts: pd.DataFrame | None = None,
           thresholds: Thresholds = Thresholds()) -> pd.DataFrame:
    """The stage of every customer (and prospect) at ``summary.as_of``; see the module docstring.

    Columns: customer_id, stage, days_since_last, expected_gap_days, overdue_ratio, orders,
    monetary, first_order, last_order. Buyers first (by customer id), then prospects.
    """
    t = thresholds
    table = summary.customers
    gaps, population = expected_gaps(summary)
    expected = gaps["expected_gap_days"].to_numpy(dtype="float64")
    before_last = gaps["expected_before_last"].to_numpy(dtype="float64")
    min_lapsed = t.min_lapsed_days
    if t.threshold_days is not None:
        expected = np.full(len(table), t.threshold_days / t.lapsed_factor)
        before_last = expected
        min_lapsed = 0
    elif np.isnan(population):
        # Nobody has bought twice: one-order customers are measured against min_lapsed_days.
        expected = np.where(np.isnan(expected), float(max(t.min_lapsed_days, 1)), expected)
        before_last = np.where(np.isnan(before_last), float(max(t.min_lapsed_days, 1)), before_last)
    since = table["recency_days"].to_numpy(dtype="float64")
    ratio = since / np.where(expected > 0, expected, np.nan)
    ratio = np.where(np.isnan(ratio) & (since == 0), 0.0, ratio)
    last_gap = gaps["last_gap_days"].to_numpy(dtype="float64")
    came_back = ((last_gap >= min_lapsed) & (last_gap > t.lapsed_factor * before_last)) | (last_gap > t.lost_days)
    stage = np.select(  # as positions in STAGES
        [table["tenure_days"].to_numpy() <= t.new_days,
         since > t.lost_days,
         (ratio > t.lapsed_factor) & (since >= min_lapsed),
         ratio > t.at_risk_factor,
         came_back],
        [STAGES.index(name) for name in ("new", "lost", "lapsed", "at_risk", "reactivated")],
        default=STAGES.index("active"),
    )
    out = pd.DataFrame({
        "customer_id": table["customer_id"].astype("string").array,
        "stage": pd.Categorical.from_codes(stage, categories=STAGES),
        "days_since_last": table["recency_days"].to_numpy(),
        "expected_gap_days": np.round(expected, 1),
        "overdue_ratio": np.round(ratio, 2),
        "orders": table["frequency"].to_numpy(),
        "monetary": table["monetary"].to_numpy(),
        "first_order": table["first_order"].to_numpy(),
        "last_order": table["last_order"].to_numpy(),
    })
    if contacts is not None:
        known = contacts
        if "signup_date" in contacts:
            known = contacts[~(contacts["signup_date"] > summary.as_of).fillna(False).to_numpy(dtype=bool)]
        prospects = known.loc[~isin(known["customer_id"], out["customer_id"]), "customer_id"].dropna().unique()
        if len(prospects):
            extra = pd.DataFrame({"customer_id": np.sort(np.asarray(prospects, dtype=object)), "stage": "prospect"})
            out = pd.concat([out, extra], ignore_index=True)
    out["customer_id"] = out["customer_id"].astype("string")
    out["stage"] = pd.Categorical(out["stage"], categories=STAGES)
    out["orders"] = out["orders"].astype("Int64")
    out["days_since_last"] = out["days_since_last"].astype("Int64")
    return out[COLUMNS]


def summarize(table: pd.DataFrame, *, as_of) -> pd.DataFrame:
    """Per stage, in lifecycle order: customers, share (of everyone in the table), revenue and
    revenue_share (net monetary value), avg_lifecycle_days (mean days from first to last order),
    avg_tenure_days (mean days from first order to the as-of date), median_expected_gap_days."""
    as_of = pd.Timestamp(as_of)
    total_customers, total_revenue = len(table), table["monetary"].sum()
    rows = []
    for name in STAGES:
        part = table[(table["stage"] == name).to_numpy()]
        lifecycle = (part["last_order"] - part["first_order"]).dt.days
        tenure = (as_of - part["first_order"]).dt.days
        rows.append({
            "stage": name, "customers": len(part),
            "share": len(part) / total_customers if total_customers else np.nan,
            "revenue": round(float(part["monetary"].sum()), 2),
            "revenue_share": part["monetary"].sum() / total_revenue if total_revenue else np.nan,
            "avg_lifecycle_days": round(float(lifecycle.mean()), 1) if lifecycle.notna().any() else np.nan,
            "avg_tenure_days": round(float(tenure.mean()), 1) if tenure.notna().any() else np.nan,
            "median_expected_gap_days": float(part["expected_gap_days"].median())
            if part["expected_gap_days"].notna().any() else np.nan,
        })
    out = pd.DataFrame(rows)
    out["stage"] = out["stage"].astype("string")
    return out


def transitions(before: pd.DataFrame, after: pd.DataFrame, *, shares: bool = False) -> pd.DataFrame:
    """Stage at the earlier date (rows; "not yet a customer" for customers who appear later)
    × stage at the as-of date (columns), with a total column: counts, or row shares."""
    merged = after[["customer_id", "stage"]].merge(
        before[["customer_id", "stage"]], on="customer_id", how="left", suffixes=("", "_before"))
    origin = merged["stage_before"].astype("string").fillna(NOT_YET)
    rows_order = STAGES + [NOT_YET]
    matrix = pd.crosstab(pd.Categorical(origin, categories=rows_order),
                         pd.Categorical(merged["stage"].astype("string"), categories=STAGES), dropna=False)
    matrix = matrix.reindex(index=rows_order, columns=STAGES, fill_value=0)
    matrix["total"] = matrix.sum(axis=1)
    if shares:
        totals = matrix["total"].replace(0, np.nan)
        matrix = matrix.div(totals, axis=0)
        matrix["total"] = matrix[STAGES].sum(axis=1).where(totals.notna())
    matrix.index.name = "stage_before"
    matrix.columns.name = None
    out = matrix.reset_index()
    out["stage_before"] = out["stage_before"].astype("string")
    return out


def baseline(table: pd.DataFrame, *, as_of, thresholds: Thresholds) -> dict:
    """What ``--save-baseline`` keeps: the as-of date, thresholds and customers per stage."""
    counts = table["stage"].value_counts().reindex(STAGES, fill_value=0)
    return {"custlens_baseline": 1, "as_of": f"{pd.Timestamp(as_of):%Y-%m-%d}",
            "thresholds": asdict(thresholds), "stages": {k: int(v) for k, v in counts.items()}}


def compare_baseline(table: pd.DataFrame, saved: dict) -> pd.DataFrame:
    """Customers per stage then (the baseline) and now: stage, baseline, now, change, change_share."""
    if not isinstance(saved, dict) or "stages" not in saved:
        raise CustlensError("not a custlens baseline file (no 'stages'); make one with --save-baseline")
    now = table["stage"].value_counts().reindex(STAGES, fill_value=0)
    then = pd.Series({k: int(saved["stages"].get(k, 0)) for k in STAGES})
    out = pd.DataFrame({"stage": pd.array(STAGES, dtype="string"), "baseline": then.to_numpy(),
                        "now": now.to_numpy()})
    out["change"] = out["now"] - out["baseline"]
    out["change_share"] = np.where(out["baseline"] > 0, out["change"] / out["baseline"].where(out["baseline"] > 0),
                                   np.nan)
    return out


def read_baseline(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except FileNotFoundError as e:
        raise CustlensError(f"{path}: no such baseline file; make one with --save-baseline {path}") from e
    except json.JSONDecodeError as e:
        raise CustlensError(f"{path}: not a custlens baseline (invalid JSON: {e.msg})") from e


# --- the win-back list -----------------------------------------------------------------------

WINBACK_COLUMNS = ["customer_id", "name", "email", "phone", "stage", "last_order_date", "days_since_last",
                   "expected_gap_days", "days_overdue", "orders", "total_spend", "avg_order_value",
                   "favourite_category", "last_product", "rfm_segment", "suggested_action"]
HIGH_VALUE_SEGMENTS = {"Champions", "Loyal", "Can't Lose Them", "At Risk"}


def on_list(table: pd.DataFrame, *, include_at_risk: bool = False) -> pd.Series:
    """Whether each customer belongs on the win-back list: lapsed (and at risk when asked)."""
    wanted = ["lapsed", "at_risk"] if include_at_risk else ["lapsed"]
    return table["stage"].isin(wanted)


def winback(table: pd.DataFrame, purchases: pd.DataFrame | None, *, as_of, contacts: pd.DataFrame | None = None,
            rfm_segments: pd.Series | None = None, include_at_risk: bool = False,
            previous: pd.DataFrame | None = None, require_consent: bool = False,
            min_orders: int | None = None, min_spend: float | None = None,
            listed: pd.Series | None = None, previously_listed: pd.Series | None = None,
            p_alive: pd.Series | None = None, offers: pd.Series | None = None,
            favourites: pd.Series | None = None, last_products: pd.Series | None = None) -> pd.DataFrame:
    """The win-back list, most value at risk first (total spend descending, ties by customer id).

    By default the list is the lapsed customers (and at-risk ones with ``include_at_risk``);
    ``listed`` (a bool per row of ``table``) replaces that rule, e.g. P(alive) below a cut.
    ``previous`` is the stage table at an earlier date (``--new-since``) and
    ``previously_listed`` the customer ids on the list then: they are left out.
    ``require_consent`` keeps only customers whose contact record says yes to marketing (no
    record, or no answer, is no). ``days_overdue`` = days since the last order − expected gap.
    ``p_alive`` (customer_id → probability) adds a p_alive column; ``offers`` (customer_id →
    recommended product, from :mod:`custlens.recommend`) names the product in the suggestion.
    The favourite category and last product come from ``purchases`` (the lines), or, without
    them, from ``favourites`` and ``last_products`` (customer_id → value, as :func:`favourite`
    and :func:`last_product` give them).
    """
    mask = listed.to_numpy(dtype=bool) if listed is not None else on_list(table, include_at_risk=include_at_risk).to_numpy()
    chosen = table[mask]
    if previous is not None:
        previously_listed = previous.loc[on_list(previous, include_at_risk=include_at_risk), "customer_id"]
    if previously_listed is not None:
        chosen = chosen[~isin(chosen["customer_id"], previously_listed)]
    if min_orders is not None:
        chosen = chosen[chosen["orders"] >= min_orders]
    if min_spend is not None:
        chosen = chosen[chosen["monetary"] >= min_spend]
    out = pd.DataFrame({
        "customer_id": chosen["customer_id"].astype("string").array,
        "stage": chosen["stage"].astype("string").array,
        "last_order_date": chosen["last_order"].to_numpy(),
        "days_since_last": chosen["days_since_last"].to_numpy(),
        "expected_gap_days": chosen["expected_gap_days"].to_numpy(),
        "days_overdue": np.round(chosen["days_since_last"].to_numpy(dtype="float64")
                                 - chosen["expected_gap_days"].to_numpy(dtype="float64"), 1),
        "orders": chosen["orders"].to_numpy(),
        "total_spend": chosen["monetary"].to_numpy(),
        "avg_order_value": np.round(chosen["monetary"].to_numpy(dtype="float64")
                                    / chosen["orders"].to_numpy(dtype="float64"), 2),
    })
    out["customer_id"] = out["customer_id"].astype("string")
    if purchases is not None:
        lines = purchases[(purchases["order_date"].dt.normalize() <= as_of).to_numpy()]
        lines = lines[isin(lines["customer_id"], out["customer_id"])]
        favourites, last_products = favourite(lines, "category"), last_product(lines)
    nothing = pd.Series(dtype="string")
    out["favourite_category"] = out["customer_id"].map(
        favourites if favourites is not None else nothing).astype("string")
    out["last_product"] = out["customer_id"].map(last_products if last_products is not None else nothing).astype("string")
    segments = rfm_segments if rfm_segments is not None else pd.Series(dtype="string")
    out["rfm_segment"] = out["customer_id"].map(segments).astype("string")
    offer = out["customer_id"].map(offers) if offers is not None else pd.Series(pd.NA, index=out.index)
    columns = (out["stage"], out["rfm_segment"], out["favourite_category"], offer)  # as lists: iterating is faster
    out["suggested_action"] = [suggest(stage, segment, category, product) for stage, segment, category, product in
                               zip(*(c.tolist() for c in columns))]
    out["suggested_action"] = out["suggested_action"].astype("string")
    for column in ("name", "email", "phone"):
        out[column] = pd.array([pd.NA] * len(out), dtype="string")
    if contacts is not None:
        details = contacts.drop_duplicates("customer_id").set_index("customer_id")
        for column in ("name", "email", "phone"):
            if column in details:
                out[column] = out["customer_id"].map(details[column]).astype("string")
    if require_consent:
        if contacts is None or "consent" not in contacts:
            raise CustlensError("--require-consent needs contacts with a consent column (--contacts FILE; "
                                "map it with [columns] consent = \"…\"); nothing was sent to everyone")
        consent = contacts.drop_duplicates("customer_id").set_index("customer_id")["consent"]
        agreed = out["customer_id"].map(consent).fillna(False).astype(bool).to_numpy()
        out = out[agreed]
    out = out.sort_values(["total_spend", "customer_id"], ascending=[False, True], kind="stable", ignore_index=True)
    if p_alive is not None:
        out["p_alive"] = out["customer_id"].map(p_alive).astype("float64")
        return out[WINBACK_COLUMNS + ["p_alive"]]
    return out[WINBACK_COLUMNS]


def favourite(lines: pd.DataFrame, column: str) -> pd.Series:
    """Per customer, the value of ``column`` with the highest purchase value (positive lines,
    added up in cents); ties go to the first in alphabetical order."""
    if lines is None or column not in lines:
        return pd.Series(dtype="string")
    bought = lines[(lines["amount"] > 0).to_numpy() & lines[column].notna().to_numpy()]
    customer, customers = pd.factorize(bought["customer_id"].astype("string"), sort=True)
    value, values = pd.factorize(bought[column].astype("string"), sort=True)
    width = max(len(values), 1)
    pairs = customer.astype(np.int64) * width + value
    totals = pd.Series(bought["amount"].to_numpy(dtype="float64")).groupby(pairs).sum().round(2)
    customer, value = np.divmod(totals.index.to_numpy(), width)
    return _first_per_customer(customers, customer, values.take(value), (value, -totals.to_numpy()), column)


def last_product(lines: pd.DataFrame) -> pd.Series:
    """Per customer, the product of the last purchase line (the largest line of the last day;
    ties by name)."""
    if lines is None or "product" not in lines:
        return pd.Series(dtype="string")
    bought = lines[(lines["amount"] > 0).to_numpy() & lines["product"].notna().to_numpy()]
    customer, customers = pd.factorize(bought["customer_id"].astype("string"), sort=True)
    product, products = pd.factorize(bought["product"].astype("string"), sort=True)
    day = bought["order_date"].dt.normalize().to_numpy().astype("datetime64[ns]").astype(np.int64)
    return _first_per_customer(customers, customer, products.take(product),
                               (product, -bought["amount"].to_numpy(dtype="float64"), -day), "product")


def _first_per_customer(customers, customer: np.ndarray, values, keys: tuple, name: str) -> pd.Series:
    """customer id → the value of each customer's first row, rows ordered by ``keys`` (numpy
    lexsort keys, the last one first) within each customer (``customer``: codes into the sorted
    ``customers``)."""
    order = np.lexsort((*keys, customer))
    first = order[np.r_[True, customer[order][1:] != customer[order][:-1]]] if len(order) else order
    index = pd.Index(customers.take(customer[first]), dtype="string", name="customer_id")
    return pd.Series(values.take(first), index=index, dtype="string", name=name)


def suggest(stage: str, segment, category, product=None) -> str:
    """A short next step for a win-back list row: call high-value segments, e-mail the others,
    remind at-risk customers; the offer names the recommended product, else the favourite
    category."""
    if isinstance(product, str) and product:
        offer = f": {product}"
    else:
        offer = f" on {category}" if isinstance(category, str) and category else ""
    if stage == "at_risk":
        return f"Reminder before they lapse: a recommendation{offer}"
    if isinstance(segment, str) and segment in HIGH_VALUE_SEGMENTS:
        return f"Call personally: ask what changed, a win-back offer{offer}"
    return f"Win-back e-mail: an offer{offer}"
