"""Before/after KPI comparison with honest significance.

Each KPI is computed for both periods (inclusive calendar days) from the lines dated in the
period. Orders and customers follow :mod:`custlens.summary`: an order is a customer's lines
with one order id (or of one day without an id), counted when not all its lines are returns.

===================================  =====================================================  ===============
kpi                                  definition                                             test
===================================  =====================================================  ===============
revenue                              Σ amount of the period's lines (returns subtract)      not tested
orders                               orders with a day in the period                        not tested
active_customers                     customers with an order in the period                  not tested
new_customers                        customers whose first order ever is in the period      not tested
aov                                  active customers' revenue / their orders               bootstrap
orders_per_customer                  orders / active customers                              bootstrap
revenue_per_customer                 active customers' revenue / active customers           bootstrap
repeat_purchase_rate                 share of active customers with ≥ 2 orders in it        z-test
retention_rate                       share of customers active in the equally long window   z-test
                                     just before the period who order in the period
churn_rate                           1 − retention_rate                                     z-test
returning_buying_more_often          customers active in both periods whose order count     sign test
                                     rose / customers active in both (after column)
returning_buying_less_often          … whose order count fell (after column)                not tested
avg_customer_value_to_date           mean net revenue to the period's end of customers      not tested
                                     whose first order is on or before it
nps                                  % promoters (9–10) − % detractors (0–6) of the         bootstrap
                                     period's answers
csat_share                           share of CSAT answers that are 4 or 5                  z-test
csat_mean                            mean CSAT answer                                       bootstrap
contacts_per_customer                interactions / active customers                        not tested
share_open                           share of the period's interactions still open          z-test
cac                                  acquisition costs / new customers                      not tested
retention_cost_per_retained          retention costs / customers retained (see above)       not tested
stage_<name>                         customers in the lifecycle stage at the period's end   not tested
===================================  =====================================================  ===============

*z-test*: two-proportion z-test (pooled variance for the p-value, unpooled for the 95%
interval). *bootstrap*: customers (or answers) are resampled with replacement in each period
independently, ``bootstrap`` times with ``seed``; the interval is the 2.5–97.5 percentile of
the difference and the p-value twice the smaller tail share beyond 0. A period with
``LARGE_SAMPLE`` (20,000) values or more has its resampled statistic drawn from the normal
distribution the bootstrap tends to (the plug-in standard error; for a ratio, the delta method)
instead: resampling it would take minutes on a large export and give the same interval to within
the simulation noise (tests/test_kpi.py). *sign test*: customers
whose order count rose vs fell, two-sided binomial with p = ½. All tests treat the periods as
independent samples; the same customers in both make them approximate. Verdict: up or down
when p < 0.05, otherwise "no significant change"; "not tested" where no test applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import CustlensError
from .schema import COST_KINDS, is_open_status, normalize_header
from .summary import order_table

ALPHA = 0.05
#: the --by group of lines whose column is blank, and of customers a segment file does not list
EMPTY_LABEL, NO_SEGMENT = "(empty)", "(not in the file)"
COLUMNS = ["kpi", "before", "after", "change", "pct_change", "ci_low", "ci_high", "p_value", "verdict", "test"]


class PeriodError(CustlensError):
    """A period is malformed, reversed, or has no data."""


@dataclass(frozen=True)
class Period:
    start: pd.Timestamp
    end: pd.Timestamp  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "Period":
        """The window of equal length just before this one."""
        return Period(self.start - pd.Timedelta(days=self.days), self.start - pd.Timedelta(days=1))

    def contains(self, days: pd.Series) -> np.ndarray:
        return ((days >= self.start) & (days <= self.end)).to_numpy(dtype=bool)

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}"


def parse_period(text: str, *, option: str = "--before") -> Period:
    """``2025-01-01..2025-03-31`` → a Period (both ends included)."""
    start, sep, end = str(text).partition("..")
    try:
        if not sep:
            raise ValueError
        period = Period(pd.Timestamp(start.strip()).normalize(), pd.Timestamp(end.strip()).normalize())
    except (ValueError, TypeError):
        raise PeriodError(f"{option} {text!r}: write the period as YYYY-MM-DD..YYYY-MM-DD") from None
    if period.end < period.start:
        raise PeriodError(f"{option} {text}: the end is before the start")
    return period


def split_periods(split, window_days: int) -> tuple[Period, Period]:
    """``--split DATE --window N``: N days before DATE, and N days from DATE on."""
    day = pd.Timestamp(split).normalize()
    return (Period(day - pd.Timedelta(days=window_days), day - pd.Timedelta(days=1)),
            Period(day, day + pd.Timedelta(days=window_days - 1)))


def check_periods(before: Period, after: Period, purchases: pd.DataFrame) -> list[str]:
    """:func:`check_span` of the purchase lines."""
    days = purchases["order_date"].dt.normalize()
    return check_span(before, after, days.min(), days.max(),
                      (int(before.contains(days).sum()), int(after.contains(days).sum())))


def check_span(before: Period, after: Period, first, last, lines_in: tuple[int, int]) -> list[str]:
    """Errors for periods without data; warnings for overlap and periods partly outside the data.
    ``first`` and ``last`` are the first and last days of the lines, ``lines_in`` the number of
    lines dated in each period (before, after)."""
    first, last = pd.Timestamp(first), pd.Timestamp(last)
    warnings = []
    for name, period, lines in (("before", before, lines_in[0]), ("after", after, lines_in[1])):
        if not lines:
            raise PeriodError(f"the {name} period {period} has no purchases (the data covers "
                              f"{first:%Y-%m-%d}..{last:%Y-%m-%d})")
        if period.start < first or period.end > last:
            warnings.append(f"the {name} period {period} is partly outside the data ({first:%Y-%m-%d}.."
                            f"{last:%Y-%m-%d}): its figures cover only part of it")
    if before.start <= after.end and after.start <= before.end:
        warnings.append(f"the periods overlap ({before} and {after}): the same orders count in both")
    return warnings


# --- statistics ------------------------------------------------------------------------------

def _normal_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float, float]:
    """``(ci_low, ci_high, p_value)`` for p2 − p1: unpooled 95% interval, pooled z-test."""
    if n1 == 0 or n2 == 0:
        return np.nan, np.nan, np.nan
    p1, p2 = x1 / n1, x2 / n2
    half = 1.959963984540054 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return p2 - p1 - half, p2 - p1 + half, (1.0 if p1 == p2 else 0.0)
    return p2 - p1 - half, p2 - p1 + half, _normal_p((p2 - p1) / se)


def bootstrap(before: tuple[np.ndarray, ...], after: tuple[np.ndarray, ...], statistic, *, resamples: int = 2000,
              seed: int = 0, chunk: int = 100, large_sample: int | None = None) -> tuple[float, float, float]:
    """``(ci_low, ci_high, p_value)`` of statistic(after) − statistic(before), resampling the
    rows of each period's arrays with replacement, independently, ``resamples`` times. A period
    with ``large_sample`` rows or more (default :data:`LARGE_SAMPLE`) draws its statistic from
    the normal limit of its bootstrap (``statistic.standard_error``) instead of resampling."""
    if len(before[0]) == 0 or len(after[0]) == 0:
        return np.nan, np.nan, np.nan
    large = LARGE_SAMPLE if large_sample is None else large_sample
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples)
    done = 0
    while done < resamples:
        size = min(chunk, resamples - done)
        then = _replicates(before, statistic, rng, size, large)
        diffs[done:done + size] = _replicates(after, statistic, rng, size, large) - then
        done += size
    low, high = np.percentile(diffs, [2.5, 97.5])
    tail = min((diffs <= 0).mean(), (diffs >= 0).mean())
    return float(low), float(high), float(min(1.0, max(2 * tail, 1 / resamples)))


#: rows from which a period's bootstrap statistic is drawn from its normal limit (see bootstrap)
LARGE_SAMPLE = 20_000


def _replicates(arrays: tuple[np.ndarray, ...], statistic, rng, size: int, large: int) -> np.ndarray:
    """``size`` bootstrap replicates of ``statistic`` on one period's arrays."""
    n = len(arrays[0])
    if n >= large:
        return rng.normal(statistic(*arrays), statistic.standard_error(*arrays), size)
    pick = rng.integers(0, n, size=(size, n))
    return statistic(*(a[pick] for a in arrays))


def sign_test(more: int, fewer: int) -> float:
    """Two-sided binomial p-value of ``more`` successes in n = ``more + fewer`` trials at p = ½:
    min(1, 2·P(X ≤ min(more, fewer))) for X ~ Binomial(n, ½), the distribution being symmetric
    (scipy's binomtest gives the same; its module takes a second to import)."""
    n = more + fewer
    if n == 0:
        return np.nan
    from scipy.special import bdtr

    return min(1.0, 2.0 * float(bdtr(min(more, fewer), n, 0.5)))


class _Mean:
    """mean(x) along the last axis; the bootstrap standard error of a mean of n values is
    σ/√n with σ² = Σ(x − x̄)²/n (the spread of the resampled population)."""

    def __call__(self, values):
        return values.mean(axis=-1)

    @staticmethod
    def standard_error(values) -> float:
        return float(values.std() / math.sqrt(len(values)))


class _Ratio:
    """Σ numerator / Σ denominator along the last axis; standard error by the delta method:
    √(Σ(xᵢ − R·yᵢ)²/n) / (√n · ȳ), R the ratio."""

    def __call__(self, numerator, denominator):
        return numerator.sum(axis=-1) / denominator.sum(axis=-1)

    @staticmethod
    def standard_error(numerator, denominator) -> float:
        ratio = numerator.sum() / denominator.sum()
        spread = math.sqrt(float(np.mean((numerator - ratio * denominator) ** 2)))
        return spread / (math.sqrt(len(numerator)) * float(denominator.mean()))


_mean, _ratio = _Mean(), _Ratio()


# --- the KPI table ---------------------------------------------------------------------------

@dataclass
class PeriodData:
    """What one period's KPIs are computed from."""

    period: Period
    revenue: float
    per_customer: pd.DataFrame  # active customers: customer_id, orders, revenue
    new_customers: int
    retained: int  # previous-window customers who ordered in the period
    previous_customers: int
    value_to_date: np.ndarray  # net revenue to the period end, per customer acquired by then


def period_data(purchases: pd.DataFrame, orders: pd.DataFrame, customer_ids: np.ndarray, first_day: pd.Series,
                period: Period) -> PeriodData:
    """The period's :class:`PeriodData` from the lines and their :func:`~custlens.summary.order_table`.
    Customers are in the order of their ids (so that both engines resample the same arrays)."""
    days = purchases["order_date"].dt.normalize()
    in_period = period.contains(days)
    lines = purchases[in_period]
    counted = orders[orders["counted"].to_numpy()]
    order_days = pd.to_datetime(counted["day"])
    mine = counted[period.contains(order_days)]
    per = mine.groupby("customer").size().rename("orders").to_frame()
    per["customer_id"] = customer_ids[per.index.to_numpy()]
    spend = lines.groupby("customer_id")["amount"].sum()
    per["revenue"] = per["customer_id"].map(spend).fillna(0.0).to_numpy()
    previous = counted[period.previous().contains(order_days)]["customer"].unique()
    retained = np.intersect1d(previous, per.index.to_numpy()).size
    first = pd.to_datetime(first_day)
    new = int(period.contains(first).sum())
    upto = purchases[(days <= period.end).to_numpy()]
    acquired = first_day.index[(first <= period.end).to_numpy()].sort_values()
    value = upto.groupby("customer_id")["amount"].sum().reindex(acquired).fillna(0.0).to_numpy()
    per = per.sort_values("customer_id", kind="stable").reset_index(drop=True)
    return PeriodData(period=period, revenue=float(lines["amount"].sum()),
                      per_customer=per[["customer_id", "orders", "revenue"]],
                      new_customers=new, retained=retained, previous_customers=len(previous), value_to_date=value)


def both_periods(purchases: pd.DataFrame, before: Period, after: Period) -> tuple[PeriodData, PeriodData]:
    """The two periods' :class:`PeriodData` from the purchase lines (pandas), orders as in the
    summary up to the later period's end."""
    orders, customer_ids, _ = order_table(purchases, max(before.end, after.end))
    firsts = orders[orders["counted"].to_numpy()].groupby("customer")["day"].min()
    first_day = pd.Series(firsts.to_numpy(), index=customer_ids[firsts.index.to_numpy()])
    return (period_data(purchases, orders, customer_ids, first_day, before),
            period_data(purchases, orders, customer_ids, first_day, after))


def compare(purchases: pd.DataFrame, before: Period, after: Period, *, interactions: pd.DataFrame | None = None,
            costs: pd.DataFrame | None = None, thresholds=None, resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per KPI: kpi, before, after, change, pct_change (percent), ci_low, ci_high,
    p_value, verdict, test. See the module docstring for every definition and test.
    ``thresholds`` (lifecycle :class:`~custlens.lifecycle.Thresholds`) adds the stage counts."""
    b, a = both_periods(purchases, before, after)
    stage_table = None
    if thresholds is not None:
        stage_table = tuple(stage_counts(purchases, p.end, thresholds) for p in (before, after))
    return compare_periods(b, a, interactions=interactions, costs=costs, stages=stage_table, resamples=resamples,
                           seed=seed)


def compare_periods(b: PeriodData, a: PeriodData, *, interactions: pd.DataFrame | None = None,
                    costs: pd.DataFrame | None = None, stages: tuple[pd.Series, pd.Series] | None = None,
                    resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """The KPI table of :func:`compare` from the two periods' data, whichever engine computed it;
    ``stages`` are the customers per lifecycle stage at the end of each period."""
    rows = []

    def add(kpi, x, y, test="not tested", ci=(np.nan, np.nan, np.nan)):
        rows.append(_row(kpi, x, y, test, ci))

    add("revenue", b.revenue, a.revenue)
    add("orders", b.per_customer["orders"].sum(), a.per_customer["orders"].sum())
    add("active_customers", len(b.per_customer), len(a.per_customer))
    add("new_customers", b.new_customers, a.new_customers)
    arrays = lambda d: (d.per_customer["revenue"].to_numpy(float), d.per_customer["orders"].to_numpy(float))  # noqa: E731
    boot = dict(resamples=resamples, seed=seed)
    add("aov", _safe(b.per_customer["revenue"].sum(), b.per_customer["orders"].sum()),
        _safe(a.per_customer["revenue"].sum(), a.per_customer["orders"].sum()), "bootstrap",
        bootstrap(arrays(b), arrays(a), _ratio, **boot))
    add("orders_per_customer", _mean_of(b.per_customer["orders"]), _mean_of(a.per_customer["orders"]), "bootstrap",
        bootstrap((arrays(b)[1],), (arrays(a)[1],), _mean, **boot))
    add("revenue_per_customer", _mean_of(b.per_customer["revenue"]), _mean_of(a.per_customer["revenue"]),
        "bootstrap", bootstrap((arrays(b)[0],), (arrays(a)[0],), _mean, **boot))
    repeat = [(int((d.per_customer["orders"] >= 2).sum()), len(d.per_customer)) for d in (b, a)]
    add("repeat_purchase_rate", _safe(*repeat[0]), _safe(*repeat[1]), "z-test",
        two_proportions(*repeat[0], *repeat[1]))
    kept = [(d.retained, d.previous_customers) for d in (b, a)]
    add("retention_rate", _safe(*kept[0]), _safe(*kept[1]), "z-test", two_proportions(*kept[0], *kept[1]))
    lost = [(n - x, n) for x, n in kept]
    add("churn_rate", _safe(*lost[0]), _safe(*lost[1]), "z-test", two_proportions(*lost[0], *lost[1]))
    both = b.per_customer.merge(a.per_customer, on="customer_id", suffixes=("_before", "_after"))
    more = int((both["orders_after"] > both["orders_before"]).sum())
    fewer = int((both["orders_after"] < both["orders_before"]).sum())
    p = sign_test(more, fewer)
    rows.append(_row("returning_buying_more_often", np.nan, _safe(more, len(both)), "sign test",
                     (np.nan, np.nan, p), direction=np.sign(more - fewer)))
    add("returning_buying_less_often", np.nan, _safe(fewer, len(both)))
    add("avg_customer_value_to_date", _mean_of(pd.Series(b.value_to_date)), _mean_of(pd.Series(a.value_to_date)))
    if interactions is not None:
        rows.extend(_interaction_rows(interactions, b, a, boot))
    if costs is not None:
        spend = [_costs_in(costs, d.period) for d in (b, a)]
        add("cac", _safe(spend[0]["acquisition"], b.new_customers), _safe(spend[1]["acquisition"], a.new_customers))
        add("retention_cost_per_retained", _safe(spend[0]["retention"], b.retained),
            _safe(spend[1]["retention"], a.retained))
    if stages is not None:
        then, now = stages
        for stage in then.index:
            add(f"stage_{stage}", int(then[stage]), int(now[stage]))
    table = pd.DataFrame(rows, columns=COLUMNS).astype({"kpi": "string", "verdict": "string", "test": "string"})
    numbers = ["before", "after", "change", "pct_change", "ci_low", "ci_high"]
    table[numbers] = table[numbers].astype("float64").round(6)
    table["p_value"] = table["p_value"].astype("float64")  # not rounded: a tiny p-value is not 0
    return table


def stage_counts(purchases: pd.DataFrame, day, thresholds) -> pd.Series:
    """Customers per lifecycle stage on ``day`` (prospects need contacts, so they are left out)."""
    from .summary import customers

    return count_stages(customers(purchases, as_of=day), thresholds)


def count_stages(summary, thresholds) -> pd.Series:
    """Customers per lifecycle stage (but prospect) at the as-of date of a summary."""
    from .lifecycle import STAGES, stages

    buyers = [stage for stage in STAGES if stage != "prospect"]
    return stages(summary, thresholds=thresholds)["stage"].value_counts().reindex(buyers, fill_value=0)


def group_labels(purchases: pd.DataFrame, *, column: str | None = None, segments: pd.Series | None = None) -> pd.Series:
    """A group label per purchase line: the value of a purchases ``column`` (channel, region,
    category), or the customer's segment from ``segments`` (customer_id → label)."""
    if segments is not None:
        return purchases["customer_id"].map(segments).astype("string").fillna(NO_SEGMENT)
    if column not in purchases.columns:
        raise CustlensError(f"--by {column}: the purchases have no {column} column (they have "
                            f"{', '.join(purchases.columns)}); map one with --map {column}=COLUMN or give a "
                            "segment file")
    return purchases[column].astype("string").fillna(EMPTY_LABEL)


def compare_by(purchases: pd.DataFrame, labels: pd.Series, before: Period, after: Period, *,
               interactions: pd.DataFrame | None = None, costs: pd.DataFrame | None = None, **options):
    """:func:`compare` for everybody ("all") and then per group: a ``group`` column first. A
    group's interactions are its customers'; costs are not split, so they are only in "all".
    Returns ``(table, skipped)``, skipped = [(group, reason)] for groups without data in a period."""
    everybody = compare(purchases, before, after, interactions=interactions, costs=costs, **options)

    def group(name):
        lines = purchases[(labels == name).to_numpy()]
        check_periods(before, after, lines)
        return compare(lines, before, after, interactions=interactions_of(interactions, lines["customer_id"]),
                       **options)

    return combine_groups(everybody, ((name, lambda name=name: group(name)) for name in
                                      sorted(labels.dropna().unique())))


def combine_groups(everybody: pd.DataFrame, groups) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """The KPI table of everybody ("all") and of each group, one under the other with a ``group``
    column first; ``groups`` yields (name, a function giving the group's table or raising
    :class:`PeriodError`). Returns ``(table, skipped)``, skipped = [(group, reason)]."""
    parts = [everybody.assign(group="all")]
    skipped = []
    for name, table_of in groups:
        try:
            parts.append(table_of().assign(group=name))
        except PeriodError as e:
            skipped.append((name, str(e)))
    table = pd.concat(parts, ignore_index=True)
    table.insert(0, "group", table.pop("group").astype("string"))
    return table, skipped


def interactions_of(interactions: pd.DataFrame | None, customer_ids) -> pd.DataFrame | None:
    """The interactions of these customers (None without interactions)."""
    if interactions is None:
        return None
    return interactions[interactions["customer_id"].isin(pd.unique(pd.Series(customer_ids)))]


def _interaction_rows(interactions: pd.DataFrame, b: PeriodData, a: PeriodData, boot: dict) -> list[dict]:
    rows = []
    parts = [interactions[d.period.contains(interactions["date"].dt.normalize())] for d in (b, a)]
    if "nps" in interactions:
        scores = [p["nps"].dropna().to_numpy(float) for p in parts]
        points = [np.where(s >= 9, 100.0, np.where(s <= 6, -100.0, 0.0)) for s in scores]
        rows.append(_row("nps", _mean_of(pd.Series(points[0])), _mean_of(pd.Series(points[1])), "bootstrap",
                         bootstrap((points[0],), (points[1],), _mean, **boot)))
    if "csat" in interactions:
        answers = [p["csat"].dropna().to_numpy(float) for p in parts]
        happy = [(int((x >= 4).sum()), len(x)) for x in answers]
        rows.append(_row("csat_share", _safe(*happy[0]), _safe(*happy[1]), "z-test", two_proportions(*happy[0], *happy[1])))
        rows.append(_row("csat_mean", _mean_of(pd.Series(answers[0])), _mean_of(pd.Series(answers[1])), "bootstrap",
                         bootstrap((answers[0],), (answers[1],), _mean, **boot)))
    rows.append(_row("contacts_per_customer", _safe(len(parts[0]), len(b.per_customer)),
                     _safe(len(parts[1]), len(a.per_customer)), "not tested", (np.nan,) * 3))
    if "status" in interactions:
        still_open = [(sum(map(is_open_status, p["status"])), len(p)) for p in parts]  # 0 of none, not ''.sum()
        rows.append(_row("share_open", _safe(*still_open[0]), _safe(*still_open[1]), "z-test",
                         two_proportions(*still_open[0], *still_open[1])))
    return rows


def _costs_in(costs: pd.DataFrame, period: Period) -> dict[str, float]:
    inside = costs[period.contains(costs["date"].dt.normalize())]
    kind = inside["kind"].map(cost_kind)
    return {name: float(inside.loc[(kind == name).to_numpy(), "amount"].sum()) for name in COST_KINDS}


def cost_kind(value) -> str | None:
    """'Acquisition', 'привлечение' → 'acquisition'; 'retention', 'удержание' → 'retention'."""
    folded = normalize_header(value) if isinstance(value, str) else ""
    for name, words in COST_KINDS.items():
        if folded in words:
            return name
    return None


def _safe(numerator, denominator) -> float:
    return float(numerator) / float(denominator) if denominator else np.nan


def _mean_of(values: pd.Series) -> float:
    return float(values.mean()) if len(values) else np.nan


def _row(kpi, before, after, test, ci, direction=None) -> dict:
    before = float(before) if before is not None else np.nan
    after = float(after) if after is not None else np.nan
    change = after - before
    pct = change / abs(before) * 100 if before and not np.isnan(before) else np.nan
    low, high, p = ci
    if test == "not tested" or p is None or np.isnan(p):
        verdict = "not tested" if test == "not tested" else "no significant change"
    elif p < ALPHA:
        sign = direction if direction is not None else np.sign(change)
        verdict = "up" if sign > 0 else "down" if sign < 0 else "no significant change"
    else:
        verdict = "no significant change"
    return {"kpi": kpi, "before": before, "after": after, "change": change, "pct_change": pct,
            "ci_low": low, "ci_high": high, "p_value": p, "verdict": verdict, "test": test}
