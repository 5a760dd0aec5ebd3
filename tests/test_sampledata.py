"""The demo data has what the reports need: a heavy tail, churn, returns, a mid-period change."""

import numpy as np
import pandas as pd
import pytest

from conftest import EXAMPLES
from custlens import sampledata


@pytest.fixture(scope="module")
def data():
    return sampledata.generate(3000, seed=11)


def test_committed_examples_are_what_the_generator_writes(tmp_path):
    for locale, folder in (("en", EXAMPLES), ("ru", EXAMPLES / "ru")):
        written = sampledata.write(sampledata.generate(2000, seed=42, locale=locale), tmp_path / locale, locale=locale)
        for path in written:
            assert path.read_bytes() == (folder / path.name).read_bytes(), f"{folder / path.name}: run make examples"


def test_spend_is_heavy_tailed(data):
    p = data.purchases[data.purchases["customer_id"] != ""]
    spend = p.groupby("customer_id")["amount"].sum().sort_values(ascending=False)
    top = spend.head(len(spend) // 5).sum() / spend.sum()
    assert 0.6 < top < 0.9


def test_returns_are_about_two_percent_and_negative(data):
    p = data.purchases
    returns = p[p["amount"] < 0]
    assert 0.01 < len(returns) / len(p) < 0.03
    assert returns["order_id"].str.startswith("R").all() and (returns["quantity"] < 0).all()


def test_costs_are_a_share_of_the_amount_by_product(data):
    """45–75% of the amount (rounding to cents aside), the same share for a product everywhere,
    and negative on returns."""
    p = data.purchases
    share = p["cost"] / p["amount"]
    assert share.between(0.45 - 0.005, 0.75 + 0.005).all() and (p.loc[p["amount"] < 0, "cost"] < 0).all()
    big = p[p["amount"].abs() > 100]  # where a cent of rounding moves the share by less than 1e-4
    assert (big.assign(share=share).groupby(["category", "product"])["share"].agg(lambda s: s.max() - s.min())
            < 1e-4).all()


def test_the_costs_leave_the_other_columns_as_they_were(monkeypatch):
    """Costs come from a random stream of their own: other shares change the costs only."""
    before = sampledata.generate(300, seed=5).purchases
    monkeypatch.setattr(sampledata, "_cost_shares", lambda seed, shape: np.full(shape, 0.5))
    after = sampledata.generate(300, seed=5).purchases
    pd.testing.assert_frame_equal(before.drop(columns="cost"), after.drop(columns="cost"))
    assert (after["cost"] == (after["amount"] * 0.5).round(2)).all() and not before["cost"].equals(after["cost"])


def test_some_customers_stop_buying(data):
    p = data.purchases[(data.purchases["customer_id"] != "") & (data.purchases["amount"] > 0)]
    last = p.groupby("customer_id")["date"].max()
    assert (last < sampledata.END - pd.Timedelta(days=365)).mean() > 0.15


def test_the_change_raises_repeat_purchasing(data):
    p = data.purchases[(data.purchases["customer_id"] != "") & (data.purchases["amount"] > 0)]

    def repeat_rate(start, end):
        window = p[(p["date"] >= start) & (p["date"] < end)]
        orders = window.groupby("customer_id")["order_id"].nunique()
        return (orders >= 2).mean()

    before = repeat_rate("2024-07-01", "2025-01-01")
    after = repeat_rate("2025-01-01", "2025-07-01")
    assert after > before + 0.03


def test_contacts_and_interactions_are_valid(data):
    c, i, p = data.contacts, data.interactions, data.purchases
    buyers = set(p.loc[p["customer_id"] != "", "customer_id"])
    assert c["customer_id"].is_unique and buyers < set(c["customer_id"])  # prospects too
    first = p[p["customer_id"] != ""].groupby("customer_id")["date"].min()
    signup = c.set_index("customer_id")["signup_date"].reindex(first.index)
    assert (signup <= first).all()
    assert i["csat"].dropna().between(1, 5).all() and i["nps"].dropna().between(0, 10).all()
    assert set(i["status"]) == {"open", "closed"} and set(i["customer_id"]) <= buyers
    assert i.loc[i["type"] == "survey", "nps"].notna().all()
