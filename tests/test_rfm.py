"""RFM scores and segments: hand-worked examples, the R×F grid, fixed edges, rules, properties."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custlens import rfm
from custlens.rfm import OTHER, Rule, RulesError, Settings

# Ten customers; every score below was worked out by hand with
# score = 1 + floor(5 × number strictly worse / 10).
HAND = pd.DataFrame({
    "customer_id": [f"c{i}" for i in range(10)],
    "recency_days": [1, 5, 5, 10, 20, 30, 30, 30, 100, 400],
    "frequency": [1, 1, 1, 1, 2, 2, 3, 5, 8, 13],
    "monetary": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0],
})
HAND_EXPECTED = {  # customer: (r, f, m, rfm, score, segment)
    "c0": (5, 1, 1, "511", 7, "New"),
    "c1": (4, 1, 1, "411", 6, "Promising"),
    "c2": (4, 1, 2, "412", 7, "Promising"),
    "c3": (4, 1, 2, "412", 7, "Promising"),
    "c4": (3, 3, 3, "333", 9, "Need Attention"),
    "c5": (2, 3, 3, "233", 8, "At Risk"),
    "c6": (2, 4, 4, "244", 10, "At Risk"),
    "c7": (2, 4, 4, "244", 10, "At Risk"),
    "c8": (1, 5, 5, "155", 11, "Can't Lose Them"),
    "c9": (1, 5, 5, "155", 11, "Can't Lose Them"),
}


def test_hand_worked_scores_and_segments():
    table = rfm.segment(rfm.score(HAND)).set_index("customer_id")
    for customer, (r, f, m, code, total, name) in HAND_EXPECTED.items():
        row = table.loc[customer]
        assert (row.r, row.f, row.m, row.rfm, row.score, row.segment) == (r, f, m, code, total, name), customer


def test_ties_leave_scores_unused_and_bin_table_shows_ranges():
    scored = rfm.score(HAND)
    assert sorted(set(scored["f"])) == [1, 3, 4, 5]  # score 2 would split the four one-order customers
    bins = rfm.bin_table(scored)
    freq = bins[bins["dimension"] == "frequency"].set_index("score")
    assert freq.loc[1, ["min", "max", "customers"]].tolist() == [1.0, 1.0, 4] and freq.loc[3, "min"] == 2 and freq.loc[5, "max"] == 13
    assert bins.groupby("dimension")["customers"].sum().tolist() == [10, 10, 10]


# The grid as the issue states it, cell by cell, independent of DEFAULT_RULES.
GRID = {}
for r in range(1, 6):
    for f in range(1, 6):
        if r <= 2:
            GRID[r, f] = "Hibernating" if f <= 2 else "At Risk" if f <= 4 else "Can't Lose Them"
        elif r == 3:
            GRID[r, f] = "About to Sleep" if f <= 2 else "Need Attention" if f == 3 else "Loyal"
        elif r == 4:
            GRID[r, f] = "Promising" if f == 1 else "Potential Loyalist" if f <= 3 else "Loyal"
        else:
            GRID[r, f] = "New" if f == 1 else "Potential Loyalist" if f <= 3 else "Champions"


def test_default_grid_covers_all_25_cells_once():
    assert rfm.check_rules(None, 5).empty
    cells = pd.DataFrame([(r, f, m) for r in range(1, 6) for f in range(1, 6) for m in range(1, 6)],
                         columns=["r", "f", "m"])
    named = rfm.segment(cells)
    for row in named.itertuples():
        assert row.segment == GRID[row.r, row.f]


@pytest.mark.parametrize("bins, expected", [(2, [1, 5]), (3, [1, 3, 5]), (4, [1, 2, 4, 5]),
                                            (5, [1, 2, 3, 4, 5]), (9, [1, 2, 2, 3, 3, 4, 4, 5, 5])])
def test_scores_map_onto_the_five_grid_end_to_end(bins, expected):
    # s5 = 1 + round((s − 1) × 4 / (bins − 1)), halves up: (9 bins) s=2 → 1 + round(0.5) = 2
    assert rfm.to_five(np.arange(1, bins + 1), bins).tolist() == expected


def test_other_bin_counts_segment_through_the_mapping():
    table = rfm.segment(rfm.score(HAND, bins=3), bins=3).set_index("customer_id")
    # bins=3: c0 recency worse=9 → 1+floor(27/10)=3 → 5; frequency 1 → 1 → 1: New
    assert table.loc["c0", "r"] == 3 and table.loc["c0", "segment"] == "New"
    # c9: r = 1 (→1), f = 1+floor(3·9/10) = 3 (→5): Can't Lose Them
    assert (table.loc["c9", "r"], table.loc["c9", "f"], table.loc["c9", "segment"]) == (1, 3, "Can't Lose Them")


def test_fixed_edges():
    summary = pd.DataFrame({"customer_id": list("abcdefg"),
                            "recency_days": [0, 30, 31, 90, 91, 365, 366],
                            "frequency": [1, 2, 3, 4, 5, 9, 10],
                            "monetary": [0.0, 99.99, 100.0, 250.0, 499.0, 500.0, 5000.0]})
    edges = {"recency_days": [30, 90, 180, 365], "frequency": [2, 3, 5, 10], "monetary": [100, 250, 500, 1000]}
    scored = rfm.score(summary, method="fixed", edges=edges)
    assert scored["r"].tolist() == [5, 5, 4, 4, 3, 2, 1]
    assert scored["f"].tolist() == [1, 2, 3, 3, 4, 4, 5]
    assert scored["m"].tolist() == [1, 1, 2, 3, 3, 4, 5]
    with pytest.raises(RulesError, match="4 increasing thresholds"):
        rfm.score(summary, method="fixed", edges={**edges, "frequency": [1, 2]})
    with pytest.raises(RulesError, match=r"\[rfm.edges\] monetary"):
        rfm.score(summary, method="fixed", edges={"recency_days": [1, 2, 3, 4], "frequency": [1, 2, 3, 4]})


def test_custom_rules_first_match_wins_and_other():
    rules = rfm.rules_from_config({"rfm": {"segments": [
        {"name": "Best", "r": [4, 5], "f": [4, 5], "action": "thank"},
        {"name": "Recent", "r": [4, 5]},
        {"name": "Big spenders", "m": [5, 5]},
    ]}})
    assert rules[0] == Rule("Best", r=(4, 5), f=(4, 5), action="thank")
    table = rfm.segment(rfm.score(HAND), rules=rules).set_index("customer_id")
    assert table.loc["c0", "segment"] == "Recent"  # r5 f1
    assert table.loc["c8", "segment"] == "Big spenders"  # r1 f5 m5
    assert table.loc["c5", "segment"] == OTHER  # r2 f3 m3
    problems = rfm.check_rules(rules, 5)
    overlap = problems[(problems["kind"] == "overlap") & (problems["r"] == 5) & (problems["f"] == 5)
                       & (problems["m"] == 5)]
    assert overlap["rules"].tolist() == ["Best > Recent > Big spenders"]
    assert (problems["kind"] == "gap").sum() == 3 * 5 * 4  # r 1–3 × f any × m 1–4


@pytest.mark.parametrize("segments, message", [
    ([{"r": [1, 2]}], "has no name"),
    ([{"name": "x", "r": [3, 1]}], "r must be"),
    ([{"name": "x", "q": [1, 2]}], "unknown key"),
])
def test_malformed_rules(segments, message):
    with pytest.raises(RulesError, match=message):
        rfm.rules_from_config({"rfm": {"segments": segments}})


def test_summary_by_hand():
    segmented = rfm.segment(rfm.score(HAND))
    table = rfm.summarize(segmented).set_index("segment")
    assert list(table.index[:10]) == [rule.name for rule in rfm.DEFAULT_RULES]
    promising = table.loc["Promising"]
    assert promising.customers == 3 and promising.share == pytest.approx(0.3)
    assert promising.revenue == 90.0 and promising.revenue_share == pytest.approx(90 / 550)
    assert promising.mean_recency_days == pytest.approx(20 / 3, abs=0.005) and promising.mean_frequency == 1
    assert table.loc["Champions", "customers"] == 0  # empty segments are listed
    assert table["customers"].sum() == 10 and table["share"].sum() == pytest.approx(1)
    assert table["revenue"].sum() == pytest.approx(HAND["monetary"].sum())
    assert table.loc["Can't Lose Them", "action"].startswith("Win them back")


# --- properties ----------------------------------------------------------------------------

values = st.lists(st.tuples(st.integers(0, 50), st.integers(1, 8), st.integers(-5, 40)), min_size=1, max_size=60)


def frame(rows):
    return pd.DataFrame({"customer_id": [f"x{i:03d}" for i in range(len(rows))],
                         "recency_days": [r for r, _, _ in rows], "frequency": [f for _, f, _ in rows],
                         "monetary": [float(m) for _, _, m in rows]})


@given(values, st.integers(2, 9))
def test_score_properties(rows, bins):
    summary = frame(rows)
    scored = rfm.segment(rfm.score(summary, bins=bins), bins=bins)
    for letter, column in rfm.DIMENSIONS.items():
        s, v = scored[letter], scored[column]
        assert s.between(1, bins).all()
        # equal values, equal scores; better value, never a lower score
        assert (scored.groupby(column)[letter].nunique() == 1).all()
        goodness = -v if column == "recency_days" else v
        assert (np.diff(s[goodness.sort_values(kind="stable").index].to_numpy()) >= 0).all()
    # every customer in exactly one segment, with a name
    assert scored["segment"].notna().all() and len(scored) == len(summary)
    assert OTHER not in set(scored["segment"])  # the default grid has no gap


@given(values, st.randoms(use_true_random=False))
def test_row_order_changes_nothing(rows, rnd):
    summary = frame(rows)
    scored = rfm.segment(rfm.score(summary)).set_index("customer_id").sort_index()
    shuffled = summary.sample(frac=1, random_state=rnd.randint(0, 1000))
    again = rfm.segment(rfm.score(shuffled)).set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(scored, again)


def test_no_ties_fill_bins_equally():
    summary = frame([(i, i + 1, i) for i in range(100)])
    scored = rfm.score(summary)
    for letter in "rfm":
        assert scored[letter].value_counts().tolist() == [20] * 5


SUMMARIES = st.lists(st.tuples(st.integers(0, 400), st.integers(1, 12), st.sampled_from(
    [0.0, -0.0, 5.5, 12.0, 12.0, 99.99, 250.0, 1000.0, -3.0])), min_size=1, max_size=80)
CUSTOM_RULES = [
    Rule("High", r=(3, 9), f=(3, 9), action="keep"),
    Rule("O'Brien's", m=(1, 2)),  # a quote in the name: the SQL must escape it
    Rule("Recent", r=(4, 9)),
]


@given(rows=SUMMARIES, bins=st.integers(2, 9), method=st.sampled_from(["quantile", "fixed"]),
       custom=st.booleans())
def test_sql_scores_and_segments_equal_the_numpy_ones(rows, bins, method, custom):
    import duckdb

    summary = pd.DataFrame({"customer_id": pd.array([f"C{i:03d}" for i in range(len(rows))], dtype="string"),
                            "recency_days": [r for r, _, _ in rows], "frequency": [f for _, f, _ in rows],
                            "monetary": [m for _, _, m in rows]})
    edges = {"recency_days": [10.0 * (i + 1) ** 2 for i in range(bins - 1)],
             "frequency": [float(i + 2) for i in range(bins - 1)],
             "monetary": [50.0 * (i + 1) for i in range(bins - 1)]}
    settings = Settings(bins=bins, method=method, edges=edges, rules=tuple(CUSTOM_RULES) if custom else None)
    expected = settings.apply(summary)
    con = duckdb.connect()
    con.register("summary", summary)
    got = con.sql(settings.sql("summary") + " ORDER BY customer_id").df()
    assert list(got.columns) == list(expected.columns)
    for name in ("r", "f", "m", "score"):
        assert got[name].tolist() == expected[name].tolist(), name
    assert got["rfm"].tolist() == expected["rfm"].tolist()
    assert got["segment"].tolist() == expected["segment"].tolist()
