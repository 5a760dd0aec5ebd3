"""The per-customer summary against a hand-worked example, a plain-Python recomputation of
examples/purchases.csv, the CDNOW reference summary, and hypothesis properties."""

import csv
import datetime as dt
import statistics
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import DATA, EXAMPLES
from custlens.io import LoadOptions, load_purchases
from custlens.summary import customers


def frame(rows, with_order_id=True):
    columns = ["customer_id", "order_date", "amount", "order_id"]
    out = pd.DataFrame(rows, columns=columns)
    out["order_date"] = pd.to_datetime(out["order_date"])
    out["customer_id"] = out["customer_id"].astype("string")
    return out if with_order_id else out.drop(columns="order_id")


def test_hand_worked_example():
    rows = [
        ("A", "2024-01-01 10:00", 100.0, "o1"),
        ("A", "2024-01-01 10:00", 50.0, "o1"),  # second line of o1
        ("A", "2024-01-11 09:00", 30.0, "o2"),
        ("A", "2024-01-15 12:00", -20.0, "r1"),  # a return: not an order, reduces monetary
        ("A", "2024-01-31 18:00", 20.0, "o3"),
        ("B", "2024-01-20 08:00", 80.0, "o4"),
        ("C", "2024-01-05 08:00", -10.0, "r2"),  # only a return: not a customer
        ("D", "2024-02-05 08:00", 99.0, "o5"),  # after the as-of date
    ]
    result = customers(frame(rows), as_of="2024-01-31")
    table = result.customers.set_index("customer_id")
    assert list(table.index) == ["A", "B"]
    a, b = table.loc["A"], table.loc["B"]
    assert (a.frequency, a.monetary, a.avg_order_value) == (3, 180.0, 60.0)  # 150 + 30 − 20 + 20
    assert (a.first_order, a.last_order) == (pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-31"))
    assert (a.recency_days, a.tenure_days, a.median_gap_days) == (0, 30, 15.0)  # gaps 10 and 20
    assert (b.frequency, b.recency_days, b.tenure_days) == (1, 11, 11)
    assert np.isnan(b.median_gap_days)
    assert result.lines_after_as_of == 1 and result.return_only_customers == 1
    assert result.as_of == pd.Timestamp("2024-01-31")


def test_default_as_of_is_the_last_day_in_the_data():
    result = customers(frame([("A", "2024-03-01 23:59", 5.0, "o1"), ("B", "2024-03-05 08:00", 5.0, "o2")]))
    assert result.as_of == pd.Timestamp("2024-03-05")
    assert result.customers["recency_days"].tolist() == [4, 0]


def test_without_order_id_one_customer_day_is_one_order():
    rows = [("A", "2024-01-01 09:00", 10.0, None), ("A", "2024-01-01 17:00", 5.0, None),
            ("A", "2024-01-03 10:00", 1.0, None)]
    table = customers(frame(rows, with_order_id=False)).customers
    assert table.loc[0, "frequency"] == 2 and table.loc[0, "monetary"] == 16.0
    assert table.loc[0, "median_gap_days"] == 2.0


def test_empty_order_ids_fall_back_to_customer_day():
    rows = [("A", "2024-01-01", 10.0, "o1"), ("A", "2024-01-02", 5.0, None), ("A", "2024-01-02", 5.0, None)]
    assert customers(frame(rows)).customers.loc[0, "frequency"] == 2


def plain_python_summary(path):
    """The definitions in the README, computed with the csv module and dicts only."""
    with open(path, newline="", encoding="utf-8") as fh:
        lines = [r for r in csv.DictReader(fh) if r["customer_id"].strip()]
    as_of = max(dt.date.fromisoformat(r["date"][:10]) for r in lines)
    orders = defaultdict(lambda: {"day": None, "lines": []})
    money = defaultdict(float)
    for r in lines:
        day = dt.date.fromisoformat(r["date"][:10])
        order = orders[(r["customer_id"], r["order_id"])]
        order["day"] = day if order["day"] is None else min(order["day"], day)
        order["lines"].append(float(r["amount"]))
        money[r["customer_id"]] += float(r["amount"])
    days = defaultdict(list)
    for (customer, _), order in orders.items():
        if any(a >= 0 for a in order["lines"]):
            days[customer].append(order["day"])
    out = {}
    for customer, ds in days.items():
        distinct = sorted(set(ds))
        gaps = [(b - a).days for a, b in zip(distinct, distinct[1:])]
        out[customer] = {
            "frequency": len(ds), "monetary": float(np.round(money[customer], 2)),
            "recency_days": (as_of - max(ds)).days, "tenure_days": (as_of - min(ds)).days,
            "median_gap_days": statistics.median(gaps) if gaps else None,
            # money is rounded to cents half-to-even, as numpy does (the README says so)
            "avg_order_value": float(np.round(np.round(money[customer], 2) / len(ds), 2)),
        }
    return out


def test_examples_match_an_independent_computation():
    purchases, _ = load_purchases([str(EXAMPLES / "purchases.csv")])
    table = customers(purchases).customers.set_index("customer_id")
    expected = plain_python_summary(EXAMPLES / "purchases.csv")
    assert set(table.index) == set(expected)
    for customer, want in expected.items():
        got = table.loc[customer]
        assert got.frequency == want["frequency"], customer
        assert got.recency_days == want["recency_days"] and got.tenure_days == want["tenure_days"]
        assert got.monetary == pytest.approx(want["monetary"], abs=0.005)
        assert got.avg_order_value == pytest.approx(want["avg_order_value"], abs=0.0051)
        if want["median_gap_days"] is None:
            assert np.isnan(got.median_gap_days)
        else:
            assert got.median_gap_days == want["median_gap_days"]


def cdnow_sample():
    return load_purchases([str(DATA / "cdnow" / "cdnow_sample.csv")],
                          LoadOptions(columns={"customer_id": "sample_customer_id"}))[0]


def test_cdnow_totals_match_the_published_facts():
    purchases = cdnow_sample()
    result = customers(purchases)
    table = result.customers
    assert len(purchases) == 6919 and len(table) == 2357
    assert table["frequency"].sum() == 6696  # distinct customer-days
    assert table["monetary"].sum() == pytest.approx(244_091.94, abs=0.01)
    assert purchases["quantity"].sum() == 16_479


def test_cdnow_calibration_matches_the_lifetimes_summary_file():
    """frequency − 1, recency and T in weeks, as in cdnow_customers_summary.csv (as-of 1997-09-30)."""
    result = customers(cdnow_sample(), as_of="1997-09-30")
    ours = result.customers.assign(ID=lambda t: t["customer_id"].astype(int)).set_index("ID").sort_index()
    reference = pd.read_csv(DATA / "cdnow" / "cdnow_customers_summary.csv").set_index("ID").sort_index()
    assert list(ours.index) == list(reference.index)
    np.testing.assert_array_equal(ours["frequency"] - 1, reference["frequency"])
    np.testing.assert_allclose((ours["tenure_days"] - ours["recency_days"]) / 7, reference["recency"], atol=0.006)
    np.testing.assert_allclose((ours["tenure_days"] / 7).round(2), reference["T"], atol=1e-9)
    assert result.lines_after_as_of > 0


# --- properties ----------------------------------------------------------------------------

line = st.tuples(
    st.sampled_from(["A", "B", "C", "D", "E"]),
    st.integers(0, 60),
    st.decimals(min_value=-50, max_value=500, places=2).map(float),
    st.one_of(st.none(), st.sampled_from(["o1", "o2", "o3", "o4", "o5", "o6"])),
)


def lines_frame(lines):
    rows = [(c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=d), a, o) for c, d, a, o in lines]
    return frame(rows)


@given(st.lists(line, min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_properties(lines, rnd):
    purchases = lines_frame(lines)
    result = customers(purchases)
    table = result.customers
    assert (table["frequency"] >= 1).all()
    assert (table["recency_days"] >= 0).all() and (table["tenure_days"] >= table["recency_days"]).all()
    assert table["customer_id"].is_unique
    for row in table.itertuples():
        mine = purchases[purchases["customer_id"] == row.customer_id]
        assert row.monetary == pytest.approx(round(mine["amount"].sum(), 2), abs=0.0051)
    # Row order changes nothing, to the byte.
    shuffled = purchases.sample(frac=1, random_state=rnd.randint(0, 10_000)).reset_index(drop=True)
    pd.testing.assert_frame_equal(customers(shuffled).customers, table)
    # Every customer with a non-negative line is in the table; the others are counted.
    buyers = set(purchases.loc[purchases["amount"] >= 0, "customer_id"])
    assert set(table["customer_id"]) == buyers
    assert result.return_only_customers == purchases["customer_id"].nunique() - len(buyers)
