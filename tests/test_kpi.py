"""Before/after KPIs on a hand-worked example, the tests' arithmetic, bootstrap coverage, cohorts."""

import math
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest, norm

from custlens import cohorts, kpi
from custlens.kpi import Period

BEFORE = kpi.parse_period("2025-01-01..2025-01-31")
AFTER = kpi.parse_period("2025-02-01..2025-02-28")


def lines(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount", "order_id"])
    frame["customer_id"] = frame["customer_id"].astype("string")
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    return frame


PURCHASES = lines([
    ("A", "2024-12-10", 50.0, "a0"), ("A", "2025-01-05", 100.0, "a1"), ("A", "2025-01-20", 60.0, "a2"),
    ("A", "2025-02-10", 80.0, "a3"), ("A", "2025-02-15", 40.0, "a4"), ("A", "2025-02-20", 30.0, "a5"),
    ("B", "2025-01-10", 200.0, "b1"), ("B", "2025-02-05", 100.0, "b2"), ("B", "2025-02-07", -50.0, "r1"),
    ("C", "2024-12-20", 70.0, "c1"),
    ("D", "2025-02-25", 90.0, "d1"),
    ("E", "2025-01-25", 40.0, "e1"), ("E", "2025-01-28", 20.0, "e2"),
])
INTERACTIONS = pd.DataFrame({
    "customer_id": pd.array(["A", "B", "E", "A", "A", "B", "D"], dtype="string"),
    "date": pd.to_datetime(["2025-01-06", "2025-01-11", "2025-01-26", "2025-01-30", "2025-02-11", "2025-02-06",
                            "2025-02-26"]),
    "nps": [10, 9, 5, np.nan, 10, 7, np.nan],
    "csat": [5, 3, np.nan, np.nan, 4, 4, 2],
    "status": ["closed", "closed", "open", "closed", "closed", "Закрыто", "closed"],
})
COSTS = pd.DataFrame({"date": pd.to_datetime(["2025-01-15", "2025-01-20", "2025-02-10", "2025-02-12"]),
                      "kind": ["acquisition", "удержание", "Acquisition", "retention"],
                      "amount": [100.0, 30.0, 50.0, 40.0]})

# (before, after), every one worked out by hand from the rows above
EXPECTED = {
    "revenue": (420, 290),  # 100+60+200+40+20; 80+40+30+100−50+90
    "orders": (5, 5),  # the return r1 is not an order
    "active_customers": (3, 3),
    "new_customers": (2, 1),  # B, E; D
    "aov": (84, 58),
    "orders_per_customer": (5 / 3, 5 / 3),
    "revenue_per_customer": (140, 290 / 3),
    "repeat_purchase_rate": (2 / 3, 1 / 3),
    "retention_rate": (1 / 2, 2 / 3),  # Dec: A, C → A back; 4–31 Jan: A, B, E → A, B back
    "churn_rate": (1 / 2, 1 / 3),
    "returning_buying_more_often": (None, 1 / 2),  # A 2 → 3, B 1 → 1
    "returning_buying_less_often": (None, 0),
    "avg_customer_value_to_date": (135, 166),  # (210+200+70+60)/4; (360+250+70+90+60)/5
    "nps": (100 / 3, 50),  # 2 promoters, 1 detractor of 3; 1 promoter, 1 passive
    "csat_share": (1 / 2, 2 / 3),
    "csat_mean": (4, 10 / 3),
    "contacts_per_customer": (4 / 3, 1),
    "share_open": (1 / 4, 0),
    "cac": (50, 50),  # 100 / 2; 50 / 1
    "retention_cost_per_retained": (30, 20),  # 30 / 1; 40 / 2
}


@pytest.fixture(scope="module")
def table():
    return kpi.compare(PURCHASES, BEFORE, AFTER, interactions=INTERACTIONS, costs=COSTS, resamples=500).set_index("kpi")


def test_every_kpi_by_hand(table):
    assert set(EXPECTED) <= set(table.index)
    for name, (before, after) in EXPECTED.items():
        row = table.loc[name]
        if before is None:
            assert np.isnan(row.before), name
        else:
            assert row.before == pytest.approx(before, abs=1e-6), name
        assert row.after == pytest.approx(after, abs=1e-6), name
    assert table.loc["revenue", "change"] == -130 and table.loc["revenue", "pct_change"] == pytest.approx(-130 / 420 * 100, abs=1e-4)


def test_a_period_without_interactions_has_no_share_open():
    """The after period has no interactions (a group's customers may have none): nothing to share."""
    quiet = INTERACTIONS[INTERACTIONS["date"] < "2025-02-01"]
    row = kpi.compare(PURCHASES, BEFORE, AFTER, interactions=quiet, resamples=100).set_index("kpi").loc["share_open"]
    assert row.before == pytest.approx(1 / 4) and np.isnan(row.after) and row.verdict == "no significant change"


def test_tests_and_verdicts(table):
    for name in ("revenue", "orders", "active_customers", "new_customers", "cac", "avg_customer_value_to_date"):
        assert table.loc[name, "verdict"] == "not tested" and np.isnan(table.loc[name, "p_value"])
    assert table.loc["repeat_purchase_rate", "test"] == "z-test"
    assert table.loc["aov", "test"] == "bootstrap" and table.loc["nps", "test"] == "bootstrap"
    assert table.loc["returning_buying_more_often", "p_value"] == 1.0  # one rose, none fell
    assert (table.loc[table["test"] != "not tested", "verdict"] == "no significant change").all()  # tiny samples


def test_two_proportions_against_the_formula():
    low, high, p = kpi.two_proportions(40, 100, 60, 100)
    pooled = 0.5
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert p == pytest.approx(2 * norm.sf(z))
    half = norm.ppf(0.975) * math.sqrt(0.4 * 0.6 / 100 + 0.6 * 0.4 / 100)
    assert (low, high) == pytest.approx((0.2 - half, 0.2 + half))
    row = kpi._row("x", 0.4, 0.6, "z-test", (low, high, p))
    assert row["verdict"] == "up" and p < 0.05


@given(st.integers(0, 3000), st.integers(0, 3000))
def test_sign_test_is_the_exact_binomial_test(more, fewer):
    if more + fewer == 0:
        assert np.isnan(kpi.sign_test(more, fewer))
        return
    assert kpi.sign_test(more, fewer) == pytest.approx(binomtest(more, more + fewer, 0.5).pvalue, rel=1e-9, abs=1e-300)


def test_sign_test_by_hand():
    assert kpi.sign_test(10, 0) == pytest.approx(2 / 2**10)  # all ten rose: 2 × ½¹⁰
    assert kpi.sign_test(8, 2) == pytest.approx(2 * (1 + 10 + 45) / 2**10)  # 2 × P(X ≤ 2)
    assert kpi.sign_test(5, 5) == 1.0 and kpi.sign_test(1, 0) == 1.0


def test_bootstrap_interval_covers_the_true_difference():
    """Seeded simulation: the 95% interval of a difference in means covers the truth ~95% of the time."""
    rng = np.random.default_rng(2024)
    covered, runs = 0, 120
    for i in range(runs):
        before = rng.exponential(100.0, size=80)
        after = rng.exponential(120.0, size=80)
        low, high, _ = kpi.bootstrap((before,), (after,), kpi._mean, resamples=400, seed=i)
        covered += low <= 20.0 <= high
    assert 0.88 <= covered / runs <= 0.99


def test_bootstrap_p_value_sees_a_real_difference():
    rng = np.random.default_rng(1)
    _, _, p_same = kpi.bootstrap((rng.normal(10, 1, 200),), (rng.normal(10, 1, 200),), kpi._mean, seed=0)
    _, _, p_diff = kpi.bootstrap((rng.normal(10, 1, 200),), (rng.normal(11, 1, 200),), kpi._mean, seed=0)
    assert p_same > 0.05 and p_diff < 0.01


def test_periods():
    assert kpi.parse_period("2025-01-01..2025-03-31").days == 90
    before, after = kpi.split_periods("2025-04-01", 90)
    assert (str(before), str(after)) == ("2025-01-01..2025-03-31", "2025-04-01..2025-06-29")
    assert BEFORE.previous() == Period(pd.Timestamp("2024-12-01"), pd.Timestamp("2024-12-31"))
    with pytest.raises(kpi.PeriodError, match="end is before the start"):
        kpi.parse_period("2025-03-01..2025-01-01")
    with pytest.raises(kpi.PeriodError, match="YYYY-MM-DD..YYYY-MM-DD"):
        kpi.parse_period("last quarter")
    with pytest.raises(kpi.PeriodError, match="has no purchases"):
        kpi.check_periods(BEFORE, kpi.parse_period("2030-01-01..2030-01-31"), PURCHASES)
    warnings = kpi.check_periods(kpi.parse_period("2024-11-01..2025-01-31"), kpi.parse_period("2025-01-15..2025-03-31"),
                                 PURCHASES)
    assert any("partly outside" in w for w in warnings) and any("overlap" in w for w in warnings)


def test_cost_kinds():
    assert kpi.cost_kind("Привлечение") == "acquisition" and kpi.cost_kind("retention") == "retention"
    assert kpi.cost_kind("rent") is None


# --- cohorts -------------------------------------------------------------------------------

def plain_cohorts(frame, as_of):
    """Monthly retention by hand: first month per customer, months with an order."""
    months = defaultdict(set)
    for row in frame.itertuples():
        if row.amount >= 0 and row.order_date <= as_of:
            months[row.customer_id].add((row.order_date.year, row.order_date.month))
    first = {c: min(m) for c, m in months.items()}
    table = defaultdict(lambda: defaultdict(int))
    for customer, ms in months.items():
        fy, fm = first[customer]
        for y, m in ms:
            table[first[customer]][(y - fy) * 12 + (m - fm)] += 1
    sizes = defaultdict(int)
    for f in first.values():
        sizes[f] += 1
    return table, sizes


def test_cohort_matrix_against_a_plain_recount():
    rng = np.random.default_rng(5)
    rows = [(f"c{rng.integers(0, 60):02d}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d)),
             float(rng.integers(1, 100)), f"o{i}") for i, d in enumerate(rng.integers(0, 330, 400))]
    frame = lines(rows)
    as_of = pd.Timestamp("2024-11-30")  # the last day of November: November is complete
    matrix = cohorts.cohort_matrix(frame, period="month", as_of=as_of).set_index("cohort")
    counts, sizes = plain_cohorts(frame, as_of)
    assert matrix["customers"].sum() == frame["customer_id"].nunique()  # each customer in one cohort
    for (year, month), size in sizes.items():
        label = f"{year}-{month:02d}"
        assert matrix.loc[label, "customers"] == size
        for k in range(0, 11 - (month - 1) + (12 * (2024 - year))):
            value = matrix.loc[label, f"month_{k}"]
            assert value == pytest.approx(counts[(year, month)].get(k, 0) / size), (label, k)
        assert matrix.loc[label, "month_0"] == 1.0


def test_incomplete_periods_are_empty_not_drops():
    frame = lines([("a", "2024-01-05", 10.0, "1"), ("a", "2024-02-05", 10.0, "2"), ("b", "2024-02-10", 5.0, "3"),
                   ("a", "2024-03-03", 7.0, "4")])
    matrix = cohorts.cohort_matrix(frame, period="month", as_of="2024-03-15").set_index("cohort")
    assert matrix.loc["2024-01", "month_1"] == 1.0  # a came back in February
    assert np.isnan(matrix.loc["2024-01", "month_2"])  # March is not over on the 15th
    assert np.isnan(matrix.loc["2024-02", "month_1"])
    ltv = cohorts.cohort_matrix(frame, period="month", metric="ltv", as_of="2024-03-31").set_index("cohort")
    assert ltv.loc["2024-01", ["month_0", "month_1", "month_2"]].tolist() == [10.0, 20.0, 27.0]
    revenue = cohorts.cohort_matrix(frame, period="month", metric="revenue", as_of="2024-03-31").set_index("cohort")
    assert revenue.loc["2024-01", ["month_0", "month_1", "month_2"]].tolist() == [10.0, 10.0, 7.0]
    assert revenue.loc["2024-02", "month_0"] == 5.0


@pytest.mark.parametrize("metric", ["revenue", "ltv"])
@pytest.mark.parametrize("total", [10.37, 0.37 * 3, 2.07])
def test_a_sum_a_bit_off_divides_to_the_same_cents(metric, total):
    """Kahan and exact sums (pandas', DuckDB 2.0.1's) can differ in the last bit: per customer, a
    half cent then rounded both ways (10.37 / 2 = 5.185: 5.18 or 5.19). The matrix is the same for
    the sum and its neighbours, the cents of the sum as written (round(10.37 / 2, 2) = 5.18)."""
    def matrix(value):
        counts = cohorts.CohortCounts(size=pd.Series({600: 2}), values=pd.Series({(600, 0): value}),
                                      summary=(2, None, 0, 0))
        return cohorts.build_matrix(counts, period="month", metric=metric, as_of=pd.Timestamp("2020-01-31"))

    cells = [matrix(v).loc[0, "month_0"] for v in (math.nextafter(total, 0), total, math.nextafter(total, 99))]
    assert cells == [round(float(f"{total:.6f}") / 2, 2)] * 3


def test_standard_errors_worked_by_hand():
    """Mean: σ/√n with the population σ. Ratio (delta method): num 10, 20, 30 over den 1, 1, 2:
    R = 60/4 = 15, residuals −5, 5, 0, √(50/3) / (√3 · 4/3)."""
    assert kpi._mean.standard_error(np.array([1.0, 3.0])) == pytest.approx(1.0 / math.sqrt(2))
    se = kpi._ratio.standard_error(np.array([10.0, 20.0, 30.0]), np.array([1.0, 1.0, 2.0]))
    assert se == pytest.approx(math.sqrt(50 / 3) / (math.sqrt(3) * 4 / 3))


@pytest.mark.parametrize("statistic", ["mean", "ratio"])
def test_standard_error_is_the_spread_of_the_bootstrap(statistic):
    """The normal limit's standard error equals the standard deviation of real bootstrap
    replicates (2,000 skewed values, 4,000 resamples) to within 5%."""
    rng = np.random.default_rng(7)
    revenue = rng.lognormal(4, 1.2, 2000)
    orders = rng.integers(1, 6, 2000).astype(float)
    arrays = (revenue,) if statistic == "mean" else (revenue, orders)
    fn = kpi._mean if statistic == "mean" else kpi._ratio
    pick = rng.integers(0, 2000, size=(4000, 2000))
    replicates = fn(*(a[pick] for a in arrays))
    assert fn.standard_error(*arrays) == pytest.approx(replicates.std(), rel=0.05)


@pytest.mark.parametrize("statistic", ["mean", "ratio"])
def test_large_periods_give_the_bootstrap_interval(statistic):
    """25,000 customers per period: the normal limit (the default from LARGE_SAMPLE on) and the
    full resampling give the same interval to within 5% of its width (4,000 resamples: the
    percentiles themselves vary by about 1.5% of the width), and the same verdict."""
    rng = np.random.default_rng(11)
    n = 25_000
    assert n >= kpi.LARGE_SAMPLE
    periods = []
    for scale in (4.0, 4.03):
        revenue = rng.lognormal(scale, 1.3, n)
        orders = rng.integers(1, 5, n).astype(float)
        periods.append((revenue,) if statistic == "mean" else (revenue, orders))
    fn = kpi._mean if statistic == "mean" else kpi._ratio
    fast = kpi.bootstrap(*periods, fn, resamples=4000, seed=3)
    full = kpi.bootstrap(*periods, fn, resamples=4000, seed=3, large_sample=n + 1)
    width = full[1] - full[0]
    assert fast[0] == pytest.approx(full[0], abs=0.05 * width)
    assert fast[1] == pytest.approx(full[1], abs=0.05 * width)
    assert (fast[2] < 0.05) == (full[2] < 0.05)
