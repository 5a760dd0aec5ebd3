"""Pareto key clients, ABC, Gini and the portrait: hand-worked rows, closed forms, properties."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custlens import pareto
from custlens.labels import value_by_label

# Ten customers, total positive revenue 1,000; two are not ranked (0 and −30).
VALUES = {"k": 10.0, "a": 500.0, "b": 200.0, "c": 100.0, "d": 80.0, "e": 50.0, "f": 40.0, "g": 20.0,
          "h": 0.0, "i": -30.0}
SUMMARY = pd.DataFrame({
    "customer_id": list(VALUES),
    "monetary": list(VALUES.values()),
    "frequency": [1, 10, 5, 2, 2, 1, 1, 1, 1, 1],
    "recency_days": [400, 5, 20, 100, 60, 200, 300, 90, 10, 500],
    "tenure_days": [400, 700, 500, 300, 200, 200, 300, 90, 10, 500],
})
EXPECTED = [  # customer, rank, share, cumulative, class, key client  (worked by hand)
    ("a", 1, 0.50, 0.50, "A", True),
    ("b", 2, 0.20, 0.70, "A", True),
    ("c", 3, 0.10, 0.80, "A", True),  # reaches 80% exactly: the smallest set is a, b, c
    ("d", 4, 0.08, 0.88, "B", False),
    ("e", 5, 0.05, 0.93, "B", False),
    ("f", 6, 0.04, 0.97, "B", False),  # 0.93 before it: still short of 95%
    ("g", 7, 0.02, 0.99, "C", False),
    ("k", 8, 0.01, 1.00, "C", False),
]


def ranked(**kw):
    return pareto.rank(SUMMARY, pareto.customer_values(SUMMARY), name="revenue", **kw)


def test_hand_worked_rows():
    table = ranked()
    assert table["customer_id"].tolist() == [row[0] for row in EXPECTED] + ["h", "i"]
    for row, (customer, rank, share, cumulative, cls, key) in zip(table.itertuples(), EXPECTED):
        assert (row.customer_id, row.rank, row.abc_class, row.key_client) == (customer, rank, cls, key)
        assert row.share == pytest.approx(share) and row.cumulative_share == pytest.approx(cumulative)
    unranked = table.iloc[8:]
    assert unranked["rank"].isna().all() and unranked["share"].isna().all()
    assert unranked["abc_class"].tolist() == ["none", "none"] and not unranked["key_client"].any()
    assert unranked["revenue"].tolist() == [0.0, -30.0]


def test_share_option_and_abc_edges():
    assert ranked(share=0.9)["key_client"].sum() == 5  # 0.88 after four: the fifth reaches 0.93
    assert ranked(share=0.5)["key_client"].sum() == 1
    assert ranked(abc=(0.5, 0.7))["abc_class"].tolist()[:4] == ["A", "B", "C", "C"]
    with pytest.raises(Exception, match="two increasing shares"):
        ranked(abc=(0.9, 0.8))


def test_summary_and_headline_by_hand():
    table, headline = pareto.summarize(ranked(), name="revenue")
    rows = table.set_index("group")
    assert rows.loc["A", ["customers", "revenue"]].tolist() == [3, 800.0]
    assert rows.loc["A", "revenue_share"] == pytest.approx(0.8) and rows.loc["A", "customer_share"] == 0.3
    assert rows.loc["B", ["customers", "revenue"]].tolist() == [3, 170.0]
    assert rows.loc["C", ["customers", "revenue"]].tolist() == [2, 30.0]
    assert rows.loc["key clients (80%)", "customers"] == 3
    assert rows.loc["top 20% of customers", ["customers", "revenue"]].tolist() == [2, 700.0]
    assert rows.loc["revenue ≤ 0 (not ranked)", ["customers", "revenue"]].tolist() == [2, -30.0]
    assert np.isnan(rows.loc["revenue ≤ 0 (not ranked)", "revenue_share"])
    assert headline["key_clients"] == 3 and headline["key_client_customer_share"] == 0.3
    assert headline["top20_customers"] == 2 and headline["top20_value_share"] == pytest.approx(0.7)
    assert headline["nonpositive_customers"] == 2 and headline["nonpositive_value"] == -30
    x = sorted(v for v in VALUES.values() if v > 0)  # Gini over the ranked customers, by its definition
    by_pairs = sum(abs(p - q) for p in x for q in x) / (2 * len(x) ** 2 * np.mean(x))
    assert headline["gini"] == pytest.approx(by_pairs)
    lines = pareto.headline_text(headline, "revenue")
    assert lines[0] == "3 customers (30.0% of customers) bring 80% of revenue"
    assert lines[2] == "2 customers with revenue ≤ 0 (total -30.00) are not ranked"


def test_nobody_to_rank():
    summary = pd.DataFrame({"customer_id": ["a", "b"], "monetary": [0.0, -5.0]})
    table, headline = pareto.summarize(pareto.rank(summary, summary["monetary"]))
    assert headline["key_clients"] == 0 and table.set_index("group").loc["value ≤ 0 (not ranked)", "customers"] == 2
    assert pareto.headline_text(headline) == ["no customer has revenue above 0: nobody is ranked (2 customers, "
                                              "total -5.00)"]


@pytest.mark.parametrize("values, expected", [
    ([5, 5, 5, 5], 0.0),
    ([0, 0, 0, 10], 1 - 1 / 4),
    ([0] * 9 + [3.5], 1 - 1 / 10),
    ([1, 2, 3, 4], 0.25),  # (−3·1 − 1·2 + 1·3 + 3·4) / (4 · 10)
])
def test_gini_closed_forms(values, expected):
    assert pareto.gini(values) == pytest.approx(expected)
    assert pareto.gini(list(reversed(values))) == pytest.approx(expected)


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=50).filter(lambda v: sum(v) > 0))
def test_gini_matches_mean_absolute_difference(values):
    x = np.asarray(values)
    expected = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert pareto.gini(values) == pytest.approx(expected, abs=1e-9)
    assert 0 <= pareto.gini(values) <= 1 - 1 / len(values) + 1e-12


def test_shares_are_worked_out_in_cents():
    """0.7 + 0.2 is 0.8999999999999999 in floating point; 70 + 20 cents of 100 is 0.9 exactly."""
    summary = pd.DataFrame({"customer_id": ["a", "b", "c"], "monetary": [0.1, 0.2, 0.7]})
    table = pareto.rank(summary, summary["monetary"])
    assert table["cumulative_share"].tolist() == [0.7, 0.9, 1.0]
    assert table["share"].tolist() == [0.7, 0.2, 0.1]


def rank_in_duckdb(summary: pd.DataFrame, **kw) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect()
    con.register("s", summary)
    by = kw.get("by", "revenue")
    table = con.sql(f"{pareto.rank_sql('s', **kw)} ORDER BY {pareto.rank_order(by)}").df()
    table["rank"] = table["rank"].astype("Int64")
    for name in ("customer_id", "abc_class"):
        table[name] = table[name].astype("string")
    return table


cents = st.integers(-5_000, 2_000_000).map(lambda c: c / 100)


@given(st.lists(st.tuples(cents, st.integers(1, 40)), min_size=1, max_size=80), st.floats(0.05, 1.0),
       st.floats(0.05, 0.9), st.floats(0.01, 0.1), st.sampled_from(["revenue", "orders"]))
def test_rank_in_duckdb_is_rank(rows, share, first_edge, gap, by):
    """The SQL ranking (the DuckDB engine's pareto) gives :func:`rank`'s rows exactly: ties of
    value, zero and negative values, any share and ABC edges, by revenue or by orders."""
    summary = pd.DataFrame({"customer_id": [f"c{i % 7}{i:03d}" for i in range(len(rows))],
                            "monetary": [m for m, _ in rows], "frequency": [f for _, f in rows]})
    abc = (first_edge, min(1.0, first_edge + gap))
    expected = pareto.rank(summary, pareto.customer_values(summary, by=by), share=share, abc=abc, name=by)
    pd.testing.assert_frame_equal(rank_in_duckdb(summary, by=by, share=share, abc=abc), expected,
                                  check_exact=True, check_dtype=False)
    got = rank_in_duckdb(summary, by=by, share=share, abc=abc)
    headline = pareto.headline_of(got[by], got["key_client"], got["rank"].notna(), share=share)
    assert nan_as_none(headline) == nan_as_none(pareto.summarize(expected, share=share, name=by)[1])


def nan_as_none(values: dict) -> dict:
    return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in values.items()}


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_within_1e_12_of_an_edge_counts_as_reaching_it(engine):
    """79,999,999,999.95 of 100,000,000,000.00 is 0.7999999999995: 5e-13 short of 80%, which the
    rule counts as reached (the tolerance that keeps a set from growing by rounding): one key client."""
    summary = pd.DataFrame({"customer_id": ["a", "b", "c"],
                            "monetary": [79_999_999_999.95, 10_000_000_000.00, 10_000_000_000.05]})
    table = (pareto.rank(summary, summary["monetary"], name="revenue") if engine == "pandas"
             else rank_in_duckdb(summary))
    assert table["customer_id"].tolist() == ["a", "c", "b"]
    assert table["key_client"].tolist() == [True, False, False]
    assert table["abc_class"].tolist() == ["A", "B", "B"]  # c counts as past 80%; 0.9 before b


def test_rank_sql_ranks_by_revenue_or_orders_only():
    with pytest.raises(Exception, match="revenue or orders"):
        pareto.rank_sql("s", by="margin")


def test_by_orders_and_margin():
    assert pareto.customer_values(SUMMARY, by="orders").tolist() == SUMMARY["frequency"].astype(float).tolist()
    purchases = pd.DataFrame({"customer_id": ["a", "a", "b"], "amount": [100.0, 50.0, 80.0],
                              "cost": [60.0, np.nan, 90.0],
                              "order_date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01"])})
    summary = pd.DataFrame({"customer_id": ["a", "b"], "monetary": [150.0, 80.0], "frequency": [2, 1]})
    margin = pareto.customer_values(summary, by="margin", margins=pareto.margins(purchases))
    assert margin.tolist() == [90.0, -10.0]  # 100 − 60 + 50 − 0; 80 − 90
    as_of = pd.Timestamp("2024-01-01")  # a's second line is later
    assert pareto.margins(purchases, as_of).to_dict() == {"a": 40.0, "b": -10.0}
    with pytest.raises(Exception, match="--map cost="):
        pareto.margins(purchases.drop(columns="cost"))
    with pytest.raises(Exception, match="--map cost="):
        pareto.customer_values(summary, by="margin")


def test_portrait_against_direct_computation():
    purchases = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", "d", "k"],
        "amount": [400.0, 100.0, 200.0, 100.0, 80.0, 10.0],
        "category": ["Tea", "Cups", "Tea", "Coffee", "Coffee", "Tea"],
        "order_date": pd.to_datetime(["2024-01-01"] * 6),
    })
    contacts = pd.DataFrame({"customer_id": ["a", "b", "d"], "city": ["Kazan", "Perm", "Kazan"],
                             "consent": pd.array([True, False, True], dtype="boolean")})
    values = {"category": value_by_label(purchases.astype({"customer_id": "string", "category": "string"}), "category")}
    table = pareto.portrait(SUMMARY, ranked(), values=values, contacts=contacts).set_index("measure")
    key, rest = SUMMARY[SUMMARY["customer_id"].isin(["a", "b", "c"])], SUMMARY[~SUMMARY["customer_id"].isin(["a", "b", "c"])]
    assert table.loc["customers"].tolist() == [3, 7]
    assert table.loc["avg_orders", "key_clients"] == round(key["frequency"].mean(), 2)
    assert table.loc["avg_order_value", "the_rest"] == round(rest["monetary"].sum() / rest["frequency"].sum(), 2)
    assert table.loc["revenue_share", "key_clients"] == pytest.approx(800 / SUMMARY["monetary"].sum())
    assert table.loc["bought_last_90_days_share", "key_clients"] == pytest.approx(2 / 3)  # recency 5, 20, 100
    assert table.loc["top_categories", "key_clients"] == "Tea 75%, Coffee 12%, Cups 12%"  # 600, 100, 100 of 800
    assert table.loc["top_categories", "the_rest"] == "Coffee 89%, Tea 11%"
    assert table.loc["top_cities", "key_clients"] == "Kazan 50%, Perm 50%"
    assert table.loc["consent_share", "key_clients"] == 0.5 and table.loc["consent_share", "the_rest"] == 1.0
    assert table.loc["with_contact_record_share", "key_clients"] == pytest.approx(2 / 3)


# --- properties ----------------------------------------------------------------------------

money = st.lists(st.floats(-100, 10_000, allow_nan=False).map(lambda v: round(v, 2)), min_size=1, max_size=60)


@given(money, st.floats(0.05, 1.0), st.randoms(use_true_random=False))
def test_pareto_properties(values, share, rnd):
    summary = pd.DataFrame({"customer_id": [f"x{i:03d}" for i in range(len(values))], "monetary": values})
    table = pareto.rank(summary, summary["monetary"], share=share)
    assert sorted(table["customer_id"]) == sorted(summary["customer_id"])  # everyone, once
    ranked_rows = table[table["abc_class"] != "none"]
    assert (ranked_rows["value"] > 0).all() and (table.loc[table["abc_class"] == "none", "value"] <= 0).all()
    if len(ranked_rows):
        assert ranked_rows["share"].sum() == pytest.approx(1)
        assert (np.diff(ranked_rows["cumulative_share"]) >= -1e-12).all()
        assert ranked_rows["rank"].tolist() == list(range(1, len(ranked_rows) + 1))
        # the key set is the smallest top set reaching the share
        key = ranked_rows[ranked_rows["key_client"]]
        total = ranked_rows["value"].sum()
        assert key["value"].sum() >= share * total - 1e-6
        assert key["value"].iloc[:-1].sum() < share * total + 1e-6
        assert set(key["customer_id"]) == set(ranked_rows["customer_id"].iloc[:len(key)])
    shuffled = summary.sample(frac=1, random_state=rnd.randint(0, 1000))
    pd.testing.assert_frame_equal(pareto.rank(shuffled, shuffled["monetary"], share=share), table)
    assert math.isclose(len(table), len(summary))
