"""Lifecycle stages on hand-made timelines (every stage, every boundary), the win-back list,
transitions and baselines."""

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custlens import lifecycle
from custlens.lifecycle import Thresholds
from custlens.summary import customers

AS_OF = pd.Timestamp("2025-01-01")

# Order days, as days before the as-of date. The first-to-second gaps of the customers with two
# or more orders are 20 ×8, 24, 30, 30 and 400: the population median is 20 days.
TIMELINES = {
    "active_at_1.5": [130, 110, 90, 70, 50, 30],  # own gap 20, 30 days since: ratio 1.5, not above
    "at_risk_1.55": [131, 111, 91, 71, 51, 31],  # ratio 1.55
    "at_risk_51d": [111, 91, 71, 51],  # ratio 2.55 but only 51 days: not yet lapsed (min 60 days)
    "lapsed_60d": [120, 100, 80, 60],  # ratio 3.0 and 60 days
    "at_risk_2.5": [135, 105, 75],  # own gap 30, 75 days: ratio 2.5, not above
    "lapsed_2.53": [136, 106, 76],  # ratio 2.53
    "lapsed_365d": [385, 365],  # 365 days since: not lost yet
    "lost_366d": [386, 366],
    "reactivated": [110, 90, 70, 10],  # gaps 20, 20 then 60: ≥ 60 and > 2.5 × 20
    "active_gap_59": [109, 89, 69, 10],  # last gap 59 < 60 days
    "active_gap_2.5x": [118, 94, 70, 10],  # gaps 24, 24 then 60: not above 2.5 × 24
    "reactivated_after_lost": [410, 10],  # a gap of 400 days would have made them lost
    "one_order_lapsed": [60],  # population gap 20: ratio 3.0, 60 days
    "one_order_at_risk": [45],  # ratio 2.25
    "new_30d": [30],  # first order 30 days ago: still new
    "one_order_31d": [31],  # ratio 1.55: at risk
    "new_repeat": [20, 10],
}
EXPECTED = {
    "active_at_1.5": "active", "at_risk_1.55": "at_risk", "at_risk_51d": "at_risk", "lapsed_60d": "lapsed",
    "at_risk_2.5": "at_risk", "lapsed_2.53": "lapsed", "lapsed_365d": "lapsed", "lost_366d": "lost",
    "reactivated": "reactivated", "active_gap_59": "active", "active_gap_2.5x": "active",
    "reactivated_after_lost": "reactivated", "one_order_lapsed": "lapsed", "one_order_at_risk": "at_risk",
    "new_30d": "new", "one_order_31d": "at_risk", "new_repeat": "new",
}


def purchases_from(timelines, as_of=AS_OF, amount=10.0):
    rows = [(customer, as_of - pd.Timedelta(days=d), amount * (1 + i), f"{customer}-{i}")
            for customer, days in timelines.items() for i, d in enumerate(days)]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount", "order_id"])
    frame["customer_id"] = frame["customer_id"].astype("string")
    return frame


CONTACTS = pd.DataFrame({
    "customer_id": pd.array(["prospect", "future", "lapsed_60d"], dtype="string"),
    "signup_date": pd.to_datetime(["2024-06-01", "2025-02-01", "2024-01-01"]),
    "name": pd.array(["P", "F", "Lapsed Sixty"], dtype="string"),
    "email": pd.array(["p@x", "f@x", "l60@x"], dtype="string"),
    "consent": pd.array([True, True, True], dtype="boolean"),
})


def stage_table(timelines=TIMELINES, as_of=AS_OF, **kw):
    return lifecycle.stages(customers(purchases_from(timelines), as_of=as_of), **kw)


def test_every_stage_and_boundary_by_hand():
    table = stage_table(contacts=CONTACTS).set_index("customer_id")
    for customer, stage in EXPECTED.items():
        assert table.loc[customer, "stage"] == stage, customer
    assert table.loc["prospect", "stage"] == "prospect"
    assert "future" not in table.index  # signed up after the as-of date
    row = table.loc["lapsed_60d"]
    assert (row.days_since_last, row.expected_gap_days, row.overdue_ratio, row.orders) == (60, 20.0, 3.0, 4)
    assert table.loc["one_order_lapsed", "expected_gap_days"] == 20.0  # the population's first-to-second median
    assert table.loc["lapsed_2.53", "overdue_ratio"] == round(76 / 30, 2)


def test_absolute_threshold():
    table = stage_table(thresholds=Thresholds(threshold_days=90)).set_index("customer_id")
    # expected gap 90 / 2.5 = 36 for everyone: at risk above 54 days, lapsed above 90, lost above 365
    assert table.loc["lapsed_60d", "stage"] == "at_risk"
    assert table.loc["at_risk_51d", "stage"] == "active"  # 51 days ≤ 54
    assert table.loc["lapsed_365d", "stage"] == "lapsed" and table.loc["lost_366d", "stage"] == "lost"
    assert (table["expected_gap_days"] == 36.0).all()
    edge = stage_table({"d90": [100, 90], "d91": [101, 91], "d54": [64, 54], "d55": [65, 55]},
                       thresholds=Thresholds(threshold_days=90)).set_index("customer_id")["stage"]
    assert edge.to_dict() == {"d54": "active", "d55": "at_risk", "d90": "at_risk", "d91": "lapsed"}
    back = stage_table({"back": [200, 54]}, thresholds=Thresholds(threshold_days=90))
    assert back["stage"].tolist() == ["reactivated"]  # a 146-day gap is more than 90


def test_thresholds_from_config_and_validation():
    settings = Thresholds.from_config({"lifecycle": {"lost_days": 400, "threshold": "2w"}}, new_days=7)
    assert (settings.lost_days, settings.threshold_days, settings.new_days) == (400, 14, 7)
    with pytest.raises(lifecycle.ThresholdError, match="no setting"):
        Thresholds.from_config({"lifecycle": {"lost": 1}})
    with pytest.raises(lifecycle.ThresholdError, match="below"):
        Thresholds(at_risk_factor=3, lapsed_factor=2)


def test_summary_by_hand():
    table = stage_table(contacts=CONTACTS)
    summary = lifecycle.summarize(table, as_of=AS_OF).set_index("stage")
    assert summary["customers"].sum() == len(table) and summary["share"].sum() == pytest.approx(1)
    lost = summary.loc["lost"]
    assert lost.customers == 1 and lost.avg_lifecycle_days == 20  # first → last order of the lost customer
    new = table[table["stage"] == "new"]
    assert summary.loc["new", "avg_tenure_days"] == round((AS_OF - new["first_order"]).dt.days.mean(), 1)
    assert summary.loc["prospect", "revenue"] == 0 and summary.loc["prospect", "customers"] == 1
    assert summary["revenue"].sum() == pytest.approx(table["monetary"].sum())


def test_transitions_and_their_sums():
    later = AS_OF + pd.Timedelta(days=30)
    purchases = purchases_from({**TIMELINES, "joined_later": [-10]})
    before = lifecycle.stages(customers(purchases, as_of=AS_OF))
    after = lifecycle.stages(customers(purchases, as_of=later))
    matrix = lifecycle.transitions(before, after).set_index("stage_before")
    assert matrix["total"].sum() == len(after)
    assert (matrix[lifecycle.STAGES].sum(axis=1) == matrix["total"]).all()
    counts = before["stage"].astype(str).value_counts()
    for stage in lifecycle.STAGES:
        assert matrix.loc[stage, "total"] == counts.get(stage, 0)
    assert matrix.loc["not yet a customer", "new"] == 1
    assert matrix.loc["lapsed", "lost"] == 1  # lapsed_365d: 395 days without an order by then
    shares = lifecycle.transitions(before, after, shares=True).set_index("stage_before")
    filled = shares["total"].dropna()
    assert np.allclose(filled, 1.0)


def test_baseline_round_trip(tmp_path):
    table = stage_table(contacts=CONTACTS)
    saved = lifecycle.baseline(table, as_of=AS_OF, thresholds=Thresholds())
    path = tmp_path / "q1.json"
    path.write_text(json.dumps(saved), encoding="utf-8")
    loaded = lifecycle.read_baseline(str(path))
    assert loaded["as_of"] == "2025-01-01" and loaded["thresholds"]["lapsed_factor"] == 2.5
    same = lifecycle.compare_baseline(table, loaded)
    assert (same["change"] == 0).all() and same["now"].sum() == len(table)
    fewer = stage_table({k: v for k, v in TIMELINES.items() if k != "lost_366d"})
    diff = lifecycle.compare_baseline(fewer, loaded).set_index("stage")
    assert diff.loc["lost", ["baseline", "now", "change", "change_share"]].tolist() == [1, 0, -1, -1.0]
    with pytest.raises(Exception, match="not a custlens baseline"):
        lifecycle.compare_baseline(table, {"x": 1})


# --- the win-back list ---------------------------------------------------------------------

def winback(**kw):
    purchases = purchases_from(TIMELINES)
    summary = customers(purchases, as_of=AS_OF)
    table = lifecycle.stages(summary)
    return lifecycle.winback(table, purchases, as_of=AS_OF, **kw), table


def test_winback_list_rows():
    listed, table = winback(contacts=CONTACTS)
    lapsed = table[table["stage"] == "lapsed"]
    assert set(listed["customer_id"]) == set(lapsed["customer_id"])
    assert listed.columns.tolist() == lifecycle.WINBACK_COLUMNS
    # most value at risk first, ties by id
    assert listed["total_spend"].is_monotonic_decreasing
    row = listed.set_index("customer_id").loc["lapsed_60d"]
    assert (row.days_overdue, row.total_spend, row.avg_order_value) == (40.0, 100.0, 25.0)  # 60 − 20; 10+20+30+40
    assert (row["name"], row.email) == ("Lapsed Sixty", "l60@x")
    missing = listed.set_index("customer_id").loc["one_order_lapsed"]
    assert pd.isna(missing["name"]) and pd.isna(missing.email)  # not in contacts: listed, details empty
    with_risk, _ = winback(include_at_risk=True)
    assert set(with_risk["stage"]) == {"lapsed", "at_risk"}
    assert len(winback(min_orders=3)[0]) == (lapsed["orders"] >= 3).sum()
    assert (winback(min_spend=50)[0]["total_spend"] >= 50).all()


def test_require_consent():
    contacts = CONTACTS.assign(consent=pd.array([True, True, False], dtype="boolean"))
    listed, _ = winback(contacts=contacts, require_consent=True)
    assert listed.empty  # lapsed_60d said no; the others have no contact record
    assert listed.columns.tolist() == lifecycle.WINBACK_COLUMNS
    listed, _ = winback(contacts=CONTACTS, require_consent=True)
    assert listed["customer_id"].tolist() == ["lapsed_60d"]
    with pytest.raises(Exception, match="consent column"):
        winback(contacts=CONTACTS.drop(columns="consent"), require_consent=True)


def test_new_since_keeps_only_customers_who_crossed_recently():
    timelines = {"g20_lapsed_10_days_ago": [130, 110, 90, 70], "g20_lapsed_3_days_ago": [123, 103, 83, 63]}
    purchases = purchases_from(timelines)
    now = lifecycle.stages(customers(purchases, as_of=AS_OF))
    week_ago = lifecycle.stages(customers(purchases, as_of=AS_OF - pd.Timedelta(days=7)))
    # recompute the stage at both dates: lapsed on day 60 of silence (gap 20 × 2.5 = 50, min 60)
    assert now["stage"].tolist() == ["lapsed", "lapsed"]
    assert week_ago.set_index("customer_id")["stage"].to_dict() == {
        "g20_lapsed_10_days_ago": "lapsed", "g20_lapsed_3_days_ago": "at_risk"}
    listed = lifecycle.winback(now, purchases, as_of=AS_OF, previous=week_ago)
    assert listed["customer_id"].tolist() == ["g20_lapsed_3_days_ago"]


def test_favourite_category_and_last_product():
    lines = pd.DataFrame({
        "customer_id": pd.array(["a", "a", "a", "a", "b"], dtype="string"),
        "order_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-03-01", "2024-01-01"]),
        "amount": [50.0, 30.0, 25.0, 40.0, -5.0],
        "category": ["Tea", "Coffee", "Coffee", "Cups", "Tea"],
        "product": ["Green", "Beans", "Filter", "Mug", "Black"],
    })
    assert lifecycle.favourite(lines, "category").to_dict() == {"a": "Coffee"}  # 55 > 50 > 40; b only returned
    assert lifecycle.last_product(lines).to_dict() == {"a": "Mug"}  # the larger line of the last day
    assert lifecycle.suggest("lapsed", "Can't Lose Them", "Tea").startswith("Call personally")
    assert lifecycle.suggest("lapsed", "Hibernating", None) == "Win-back e-mail: an offer"
    assert lifecycle.suggest("at_risk", None, "Tea") == "Reminder before they lapse: a recommendation on Tea"


# --- properties ----------------------------------------------------------------------------

timelines = st.dictionaries(st.sampled_from([f"c{i}" for i in range(12)]),
                            st.lists(st.integers(0, 800), min_size=1, max_size=6), min_size=1)


@given(timelines, st.randoms(use_true_random=False))
def test_one_stage_each_and_row_order_free(data, rnd):
    purchases = purchases_from(data)
    table = lifecycle.stages(customers(purchases, as_of=AS_OF))
    assert table["customer_id"].is_unique and table["stage"].notna().all()
    assert set(table["customer_id"]) == set(data)
    shuffled = purchases.sample(frac=1, random_state=rnd.randint(0, 1000)).reset_index(drop=True)
    pd.testing.assert_frame_equal(lifecycle.stages(customers(shuffled, as_of=AS_OF)), table)


@pytest.mark.parametrize("day, stage", [("2025-04-12", "active"), ("2025-04-13", "at_risk"),
                                        ("2025-05-02", "at_risk"), ("2025-05-03", "at_risk"),
                                        ("2025-05-12", "lapsed"), ("2026-03-13", "lapsed"), ("2026-03-14", "lost")])
def test_the_readme_worked_example(day, stage):
    purchases = pd.DataFrame({"customer_id": pd.array(["x"] * 3, dtype="string"),
                              "order_date": pd.to_datetime(["2025-02-01", "2025-02-21", "2025-03-13"]),
                              "amount": [10.0, 10.0, 10.0]})
    table = lifecycle.stages(customers(purchases, as_of=day))
    assert table["stage"].tolist() == [stage]
    assert table["expected_gap_days"].tolist() == [20.0]


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "Д"]), st.integers(0, 5), st.sampled_from([-100, 50, 100, 150]),
                          st.sampled_from(["Tea", "Coffee", "Cups", "Чай", None])), max_size=40))
def test_favourite_and_last_product_match_a_plain_sort(rows):
    """Against the rules written as pandas sorts of the lines: per customer, the category with
    the largest sum of positive amounts in cents (ties alphabetical), and the product of the
    largest positive line of the last day (ties alphabetical)."""
    lines = pd.DataFrame({"customer_id": pd.array([r[0] for r in rows], dtype="string"),
                          "order_date": pd.to_datetime([f"2024-01-0{r[1] + 1} 10:00" for r in rows]),
                          "amount": [r[2] / 100 for r in rows],
                          "category": pd.array([r[3] for r in rows], dtype="string"),
                          "product": pd.array([r[3] for r in rows], dtype="string")})
    bought = lines[(lines["amount"] > 0) & lines["category"].notna()]
    totals = bought.groupby(["customer_id", "category"])["amount"].sum().round(2).reset_index()
    totals = totals.sort_values(["customer_id", "amount", "category"], ascending=[True, False, True], kind="stable")
    expected = dict(zip(*totals.drop_duplicates("customer_id")[["customer_id", "category"]].T.to_numpy()))
    assert lifecycle.favourite(lines, "category").to_dict() == expected
    last = bought.assign(day=bought["order_date"].dt.normalize()).sort_values(
        ["customer_id", "day", "amount", "product"], ascending=[True, False, False, True], kind="stable")
    assert lifecycle.last_product(lines).to_dict() == dict(zip(*last.drop_duplicates("customer_id")[
        ["customer_id", "product"]].T.to_numpy()))
