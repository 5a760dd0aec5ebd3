"""CLV models against the published CDNOW figures, and the CLI around them."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA, EXAMPLES
from custlens import clv
from custlens.io import LoadOptions, load_purchases

SAMPLE = str(DATA / "cdnow" / "cdnow_sample.csv")
MAP = ["--map", "customer_id=sample_customer_id"]


@pytest.fixture(scope="module")
def cdnow():
    purchases = load_purchases([SAMPLE], LoadOptions(columns={"customer_id": "sample_customer_id"}))[0]
    model, cal = clv.fit(purchases, end="1997-09-30")
    return purchases, model, cal


def test_calibration_matches_the_reference_summary(cdnow):
    _, _, cal = cdnow
    ours = cal.assign(ID=cal["customer_id"].astype(int)).set_index("ID").sort_index()
    reference = pd.read_csv(DATA / "cdnow" / "cdnow_customers_summary_with_transactions.csv").set_index("ID")
    np.testing.assert_array_equal(ours["x"], reference["x"])
    np.testing.assert_allclose(ours["t_x"], reference["t_x"], atol=0.006)
    np.testing.assert_allclose(ours["T"], reference["T"], atol=0.006)
    repeat = reference["x"] > 0
    np.testing.assert_allclose(ours.loc[repeat, "m"], reference.loc[repeat, "zbar"], atol=0.006)


def test_bgnbd_reproduces_fader_hardie_lee(cdnow):
    _, model, _ = cdnow
    params = model.bgnbd.params
    for name, published in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert params[name] == pytest.approx(published, rel=0.01), name
    assert model.bgnbd.log_likelihood == pytest.approx(-9582.4, abs=0.5)
    assert model.bgnbd.converged and model.bgnbd.customers == 2357


def test_conditional_expectation_matches_hardies_sheet(cdnow):
    _, model, _ = cdnow
    assert clv.expected_purchases(model.bgnbd.params, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=0.005)


def test_gamma_gamma_reproduces_the_published_fit(cdnow):
    _, model, _ = cdnow
    params = model.gamma_gamma.params
    for name, published in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert params[name] == pytest.approx(published, rel=0.01), name
    assert model.gamma_gamma.customers == 946
    reference = pd.read_csv(DATA / "cdnow" / "cdnow_customers_summary_with_transactions.csv").head(10)
    spend = clv.expected_spend(params, reference["x"].to_numpy(), reference["zbar"].to_numpy())
    published = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    np.testing.assert_allclose(spend, published, atol=0.1)


def test_p_alive_and_clv_by_hand(cdnow):
    _, model, cal = cdnow
    bg, gg = model.bgnbd.params, model.gamma_gamma.params
    assert clv.p_alive(bg, 0, 0, 30)[()] == 1.0  # no repeat purchase: the model cannot have seen a dropout
    r, alpha, a, b = (bg[k] for k in ("r", "alpha", "a", "b"))
    x, t_x, T = 3, 20.0, 38.0
    assert clv.p_alive(bg, x, t_x, T) == pytest.approx(1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)))
    one = cal.head(5)
    month = clv.MONTH_DAYS / 7
    by_hand = (clv.expected_purchases(bg, month, one["x"], one["t_x"], one["T"])
               * clv.expected_spend(gg, one["x"], one["m"]) / 1.1 ** (1 / 12))
    np.testing.assert_allclose(clv.clv(bg, gg, one, horizon_months=1, discount=0.10), by_hand)
    two = clv.clv(bg, gg, one, horizon_months=2, discount=0.0)
    np.testing.assert_allclose(two, clv.expected_purchases(bg, 2 * month, one["x"], one["t_x"], one["T"])
                               * clv.expected_spend(gg, one["x"], one["m"]))


def test_clv_sums_each_months_expected_purchases_for_every_customer(cdnow):
    """clv computes the purchases if alive once per distinct (x, T): on all 2,357 CDNOW customers
    (a few hundred distinct pairs) it equals Σ_k [E(k months) − E(k−1 months)] · spend / 1.1^(k/12)
    with E from expected_purchases customer by customer."""
    _, model, cal = cdnow
    bg, gg = model.bgnbd.params, model.gamma_gamma.params
    x, t_x, T = (cal[c].to_numpy(dtype="float64") for c in ("x", "t_x", "T"))
    assert len(np.unique(x + 1j * T)) < len(cal) / 2
    month = clv.MONTH_DAYS / 7
    spend = clv.expected_spend(gg, x, cal["m"])
    expected = sum((clv.expected_purchases(bg, k * month, x, t_x, T) - clv.expected_purchases(bg, (k - 1) * month, x, t_x, T))
                   * spend / 1.1 ** (k / 12) for k in range(1, 13))
    np.testing.assert_allclose(clv.clv(bg, gg, cal, horizon_months=12, discount=0.10), expected, rtol=1e-12, atol=1e-12)


def test_predict_table(cdnow):
    _, model, cal = cdnow
    table = clv.predict(model, cal, horizon_months=12, discount=0.1)
    assert table["rank"].tolist() == list(range(1, len(cal) + 1))
    assert table["clv"].is_monotonic_decreasing
    assert table["p_alive"].between(0, 1).all() and (table["expected_purchases"] >= 0).all()


def test_holdout_on_the_sample(cdnow):
    purchases, _, _ = cdnow
    model, table, summary = clv.holdout(purchases, end="1997-09-30", holdout_end="1998-06-30")
    assert summary["total_actual"] == 1882  # distinct customer-days in the holdout (SOURCE.md)
    assert table["frequency"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+", "all"]
    assert table.loc[:7, "customers"].sum() == 2357
    assert summary["total_predicted"] == pytest.approx(table.iloc[-1]["predicted"] * 2357, rel=1e-3)
    assert 0 < summary["mae"] < 1.5


def test_a_model_that_cannot_fit_is_a_clear_error():
    one_each = pd.DataFrame({"customer_id": pd.array(["a", "b", "c"], dtype="string"),
                             "order_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
                             "amount": [1.0, 2.0, 3.0]})
    with pytest.raises(clv.FitError, match="0 of 3 did"):
        clv.fit(one_each, end="2024-06-30")


def read(result):
    assert result.exit_code == 0, result.stderr
    return pd.read_csv(io.StringIO(result.stdout), dtype={"customer_id": str})


def test_cli_params_json(run):
    result = run("clv", SAMPLE, *MAP, "--as-of", "1997-09-30", "--params", "--format", "json", "-q")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"r", "alpha", "a", "b", "log_likelihood", "p", "q", "gamma", "converged"} <= set(data)
    assert data["r"] == pytest.approx(0.243, rel=0.01) and data["calibration_end"] == "1997-09-30"


def test_cli_customers_holdout_and_units(run):
    table = read(run("clv", SAMPLE, *MAP, "--as-of", "1997-09-30", "--horizon", "1y", "--discount", 0.05, "-q"))
    assert len(table) == 2357 and table["rank"].iloc[0] == 1
    weeks = read(run("clv", SAMPLE, *MAP, "--as-of", "1997-09-30", "-q"))
    days = read(run("clv", SAMPLE, *MAP, "--as-of", "1997-09-30", "--time-unit", "day", "-q"))
    merged = weeks.merge(days, on="customer_id", suffixes=("_w", "_d"))
    np.testing.assert_allclose(merged["T_d"], merged["T_w"] * 7, atol=0.01)
    np.testing.assert_allclose(merged["p_alive_d"], merged["p_alive_w"], atol=1e-4)  # the model is unit-free
    held = run("clv", SAMPLE, *MAP, "--holdout", "273d")
    assert held.exit_code == 0 and "1,882 actual" in held.stderr
    assert run("clv", SAMPLE, *MAP, "--horizon", "soon").exit_code == 2


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_cli_holdout_before_the_data_says_so(run, engine):
    result = run("clv", str(EXAMPLES / "purchases.csv"), "--holdout", "2000d", "--engine", engine)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == ("Error: no purchases on or before 2020-07-09 to fit on: choose a "
                                              "later --as-of or a shorter --holdout")  # 2025-12-30 − 2000 days


def test_lapsed_by_probability(run):
    purchases = str(EXAMPLES / "purchases.csv")
    listed = read(run("lapsed", purchases, "--by", "probability", "--below", 0.3, "-q"))
    assert (listed["p_alive"] < 0.3).all() and len(listed) > 0
    data = load_purchases([purchases])[0]
    cal = clv.calibration(data, end=data["order_date"].max())
    probability = clv.p_alive(clv.fit_bgnbd(cal).params, cal["x"], cal["t_x"], cal["T"])
    assert set(listed["customer_id"]) == set(cal.loc[probability < 0.3, "customer_id"])
    weekly = read(run("lapsed", purchases, "--by", "probability", "--new-since", "7d", "-q"))
    assert set(weekly["customer_id"]) <= set(listed["customer_id"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "Ц1", "b "]), st.integers(0, 40),
                          st.sampled_from([-5.0, 0.0, 2.5, 10.0, 99.99])), min_size=1, max_size=40),
       st.integers(0, 45), st.sampled_from(["day", "week", "month"]))
def test_calibration_is_a_plain_recount(lines, end_offset, unit):
    """x, t_x, T and m recounted in plain Python: a customer's purchase days up to the end, each
    day's net amount, the first day's left out of m."""
    start = pd.Timestamp("2024-02-27")
    purchases = pd.DataFrame({"customer_id": pd.array([c for c, _, _ in lines], dtype="string"),
                              "order_date": [start + pd.Timedelta(days=d, hours=d % 7) for _, d, _ in lines],
                              "amount": [a for _, _, a in lines]})
    end = start + pd.Timedelta(days=end_offset)
    per: dict[str, dict[int, float]] = {}
    for customer, d, amount in lines:
        if d <= end_offset:
            per.setdefault(customer, {}).setdefault(d, 0.0)
            per[customer][d] += amount
    cal = clv.calibration(purchases, end=end, unit=unit)
    assert cal["customer_id"].tolist() == sorted(per)
    scale = clv.UNITS[unit]
    for row in cal.itertuples():
        days = sorted(per[row.customer_id])
        assert row.x == len(days) - 1
        assert row.t_x == pytest.approx((days[-1] - days[0]) / scale)
        assert row.T == pytest.approx((end_offset - days[0]) / scale)
        assert row.first_day == start + pd.Timedelta(days=days[0])
        if len(days) > 1:
            assert row.m == pytest.approx(sum(per[row.customer_id][d] for d in days[1:]) / (len(days) - 1))
        else:
            assert np.isnan(row.m)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-3.0, 3.0), min_size=4, max_size=4),
       st.lists(st.tuples(st.integers(0, 6), st.integers(0, 40), st.integers(0, 40)), min_size=2, max_size=30))
def test_bgnbd_gradient_equals_finite_differences(log_params, customers):
    """The exact gradient against central differences of the summed log-likelihood (step 1e-6·θ),
    on random customers (x repeat purchases, t_x ≤ T) and parameters from e^-3 to e^3."""
    x = np.array([c[0] for c in customers], dtype="float64")
    T = np.array([max(c[1], c[2]) + 1 for c in customers], dtype="float64")
    t_x = np.where(x > 0, np.array([min(c[1], c[2]) for c in customers], dtype="float64"), 0.0)
    params = np.exp(np.array(log_params))
    value, gradient = clv._bgnbd_total_and_gradient(x, t_x, T)(params)
    assert value == pytest.approx(clv.bgnbd_ll(params, x, t_x, T).sum(), rel=1e-12)
    for i in range(4):
        step = np.zeros(4)
        step[i] = 1e-6 * params[i]
        numeric = (clv.bgnbd_ll(params + step, x, t_x, T).sum()
                   - clv.bgnbd_ll(params - step, x, t_x, T).sum()) / (2 * step[i])
        assert gradient[i] == pytest.approx(numeric, rel=1e-5, abs=1e-5 * (1 + abs(value) / params[i])), i


def test_bgnbd_gradient_at_extreme_parameters_warns_nobody():
    """Where terms overflow (parameters near 0 or huge) the result may be non-finite, which the
    optimiser handles; numpy's warnings do not reach the user's terminal."""
    import warnings

    x, t_x, T = np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0]), np.array([3.0, 3.0, 3.0])
    with_gradient = clv._bgnbd_total_and_gradient(x, t_x, T)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for params in ([1e-300, 1, 1e-300, 1e-300], [1e300, 1e300, 1, 1], [1, 1, 1, 1e-320]):
            value, gradient = with_gradient(np.array(params))
            assert isinstance(value, float) and gradient.shape == (4,)


def test_bgnbd_fit_with_the_gradient_finds_the_finite_difference_optimum(cdnow):
    """The exact gradient changes the path, not the optimum: the same parameters as L-BFGS-B on
    finite differences (to 1e-4) and a log-likelihood at least as high."""
    _, model, cal = cdnow
    x, t_x, T = (cal[c].to_numpy(dtype="float64") for c in ("x", "t_x", "T"))
    total = clv._total(clv._bgnbd_of_x, lambda p: clv._bgnbd_rest(p, x, t_x, T), x)
    numeric = clv._maximise(lambda p: -total(p), np.ones(4), ["r", "alpha", "a", "b"], len(x), "BG/NBD")
    assert numeric.converged and model.bgnbd.converged
    for name, value in numeric.params.items():
        assert model.bgnbd.params[name] == pytest.approx(value, rel=1e-4), name
    assert model.bgnbd.log_likelihood >= numeric.log_likelihood - 1e-6
    assert model.bgnbd.iterations <= numeric.iterations * 2


def test_summed_likelihoods_equal_the_per_customer_sums(cdnow):
    """The fits sum the terms of x once per distinct x; the totals equal the per-customer sums."""
    _, _, cal = cdnow
    x, t_x, T, m = (cal[c].to_numpy(dtype="float64") for c in ("x", "t_x", "T", "m"))
    rng = np.random.default_rng(3)
    for _ in range(5):
        params = rng.uniform(0.1, 5.0, 4)
        total = clv._total(clv._bgnbd_of_x, lambda p: clv._bgnbd_rest(p, x, t_x, T), x)
        assert total(params) == pytest.approx(clv.bgnbd_ll(params, x, t_x, T).sum(), rel=1e-12)
    repeat = (x > 0) & (m > 0)
    xr, mr = x[repeat], m[repeat]
    for _ in range(5):
        params = rng.uniform(0.1, 8.0, 3)
        total = clv._total(clv._gamma_gamma_of_x, lambda p: clv._gamma_gamma_rest(p, xr, mr, np.log(xr), np.log(mr)), xr)
        assert total(params) == pytest.approx(clv.gamma_gamma_ll(params, xr, mr).sum(), rel=1e-12)
