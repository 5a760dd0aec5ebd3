"""Purchase value per customer and label (custlens.labels): the rules worked by hand, and the
DuckDB engine's table (engine.value_by_label) against the pandas one, then `segment` and
`pareto --portrait` from both engines on the same files.
"""

import pandas as pd
import pytest
from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custlens import engine, labels
from custlens import segments as seg
from custlens.io import LoadOptions, load_purchases
from custlens.schema import LABEL_ROLES

PURCHASES = EXAMPLES / "purchases.csv"
RU = EXAMPLES / "ru" / "purchases.csv"
PANDAS_READS = "this report reads the purchase lines: using the pandas engine"


def lines(rows):
    return pd.DataFrame(rows, columns=["customer_id", "order_date", "category", "amount"]).assign(
        customer_id=lambda f: f["customer_id"].astype("string"), category=lambda f: f["category"].astype("string"),
        order_date=lambda f: pd.to_datetime(f["order_date"]))


def test_value_by_label_by_hand():
    table = labels.value_by_label(lines([
        ("b", "2025-01-01", "Tea", 0.125),   # 12.5 cents: half to even, 12
        ("a", "2025-01-02", "Tea", 0.25),
        ("a", "2025-01-03", "Tea", 0.125),   # a's Tea: 0.375 → 38 cents (37.5, half to even)
        ("a", "2025-01-03", "Cups", 10.0),
        ("a", "2025-01-04", "Cups", -4.0),   # a return: not purchase value
        ("a", "2025-01-04", "Cups", 0.0),
        ("a", "2025-01-04", None, 7.0),      # no category: left out
        ("b", "2025-02-01", "Cups", 3.0),    # after the as-of date
    ]), "category", as_of=pd.Timestamp("2025-01-31"))
    assert table.to_dict("list") == {"customer_id": ["a", "a", "b"], "label": ["Cups", "Tea", "Tea"],
                                     "cents": [1000, 38, 12]}
    assert str(table["cents"].dtype) == "int64" and str(table["label"].dtype) == "string"


def test_totals_and_top_shares_by_hand():
    """Zen: 0.1 + 0.2 (a hair above 0.3 in floats) is 30 cents, as Black's 0.3: a tie, to Black."""
    table = labels.value_by_label(lines([
        ("a", "2025-01-01", "Zen", 0.1), ("b", "2025-01-01", "Zen", 0.2), ("c", "2025-01-01", "Black", 0.3),
        ("c", "2025-01-01", "Mugs", 0.4),
    ]), "category")
    assert labels.totals(table).to_dict() == {"Mugs": 40, "Black": 30, "Zen": 30}
    assert list(labels.totals(table).index) == ["Mugs", "Black", "Zen"]
    assert labels.top_shares(table) == "Mugs 40%, Black 30%, Zen 30%"
    assert labels.top_shares(table, ["a", "b"], top=1) == "Zen 100%"
    assert labels.top_shares(table, ["nobody"]) == ""


def test_share_levels_keep_ten_and_the_rest_as_other():
    rows = [("a", "2025-01-01", f"L{i:02d}", float(100 - i)) for i in range(12)]
    table = labels.value_by_label(lines(rows), "category")
    assert seg.share_levels(table) == [f"L{i:02d}" for i in range(10)] + ["other"]
    raw, _ = seg.raw_features(pd.DataFrame({"customer_id": pd.array(["a"], dtype="string")}),
                              {"category": table}, ["category_shares"])
    assert raw["category_share:other"].tolist() == [(90 + 89) / sum(100 - i for i in range(12))]  # L10, L11


def assert_same_values(result, purchases):
    fast = engine.value_by_label(result, LABEL_ROLES)
    expected = {role: labels.value_by_label(purchases, role, pd.Timestamp(result.as_of))
                for role in LABEL_ROLES if role in purchases}
    assert fast.keys() == expected.keys()
    for role in fast:
        pd.testing.assert_frame_equal(fast[role], expected[role])
    return fast


@pytest.mark.parametrize("path", [PURCHASES, RU])
@pytest.mark.parametrize("as_of", [None, "2025-03-31"])
def test_both_engines_give_the_same_tables_on_the_examples(path, as_of):
    day = as_of and pd.Timestamp(as_of).date()
    result = engine.summarize(engine.open_source([str(path)], LoadOptions()), day)
    fast = assert_same_values(result, load_purchases([str(path)])[0])
    assert set(fast) == {"category", "channel"} and len(fast["category"]) > 1000


TEXTS = st.sampled_from(["Tea", "tea", " Tea ", "Чай", "чай\u00a0", "Coffee", "n/a", "", "  ", "-", "Web", "Zeta"])


@st.composite
def exports(draw):
    n = draw(st.integers(1, 40))
    column = lambda values: draw(st.lists(values, min_size=n, max_size=n))
    return pd.DataFrame({
        "order_id": [f"O{i}" for i in range(n)],
        "customer_id": column(st.sampled_from(["C1", "C2", "C3", "К4", "C5"])),
        "date": [(pd.Timestamp("2025-01-01") + pd.Timedelta(days=d)).strftime("%Y-%m-%d")
                 for d in column(st.integers(0, 60))],
        "category": column(TEXTS), "channel": column(TEXTS), "region": column(st.sampled_from(["1", "2", "", "12"])),
        "amount": [f"{c / 100:.2f}" for c in column(st.integers(-500, 5000))],
    })


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=exports(), cut=st.integers(0, 60), parquet=st.booleans())
def test_random_exports_give_the_same_tables(tmp_path, frame, cut, parquet):
    """Padded, blank, 'n/a' and Cyrillic labels; integer regions in Parquet; returns; an as-of date."""
    path = tmp_path / ("lines.parquet" if parquet else "lines.csv")
    if parquet:
        frame.assign(region=pd.to_numeric(frame["region"]).astype("Int64")).to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    try:
        result = engine.summarize(engine.open_source([str(path)], LoadOptions()),
                                  (pd.Timestamp("2025-01-01") + pd.Timedelta(days=cut)).date())
    except engine.Unsupported:  # no usable line: the pandas loader reports it row by row
        return
    assert_same_values(result, load_purchases([str(path)])[0])


def with_integer_labels(tmp_path):
    """The examples as Parquet with integer channels, and a region column."""
    raw = pd.read_csv(PURCHASES, dtype=str, keep_default_na=False)
    raw["channel"] = raw["channel"].map({n: i for i, n in enumerate(sorted(raw["channel"].unique()))})
    raw["region"] = raw["customer_id"].str[-1].where(raw["customer_id"].str[-1] != "7", "")
    raw = raw.astype({"quantity": int, "unit_price": float, "amount": float, "cost": float})
    path = tmp_path / "lines.parquet"
    raw.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("source", ["examples", "russian", "integer labels in parquet"])
@pytest.mark.parametrize("command", [
    ["segment", "--summary"], ["segment", "--k", "3", "--features", "recency,monetary,category_shares,channel_shares"],
    ["segment", "--summary", "--features", "frequency,monetary,category_shares"],
    ["pareto", "--portrait", "--contacts", str(EXAMPLES / "contacts.csv")], ["pareto", "--portrait", "--as-of", "2025-06-30"],
])
def test_segment_and_portrait_are_the_same_bytes_from_both_engines(run, tmp_path, source, command):
    path = {"examples": PURCHASES, "russian": RU}.get(source) or with_integer_labels(tmp_path)
    if source == "russian" and "--contacts" in command:
        command = command[:command.index("--contacts")] + ["--contacts", str(EXAMPLES / "ru" / "contacts.csv")]
    fast = run(command[0], path, *command[1:], "--format", "csv", "--engine", "duckdb")
    slow = run(command[0], path, *command[1:], "--format", "csv", "--engine", "pandas")
    assert fast.exit_code == slow.exit_code == 0, fast.stderr + slow.stderr
    assert PANDAS_READS not in fast.stderr and "DuckDB engine" in fast.stderr
    assert fast.stdout == slow.stdout and ("%" in fast.stdout or "share:" in fast.stdout)
    assert fast.stderr.replace("; DuckDB engine", "") == slow.stderr


def test_a_saved_model_with_shares_applies_alike_on_both_engines(run, tmp_path):
    model = tmp_path / "segments.json"
    fitted = run("segment", PURCHASES, "--k", "3", "--features", "monetary,category_shares", "--save-model", model, "-q")
    assert fitted.exit_code == 0, fitted.stderr
    fast, slow = (run("segment", PURCHASES, "--model", model, "--as-of", "2025-06-30", "--format", "csv", "--engine", e)
                  for e in ("duckdb", "pandas"))
    assert fast.exit_code == slow.exit_code == 0, fast.stderr + slow.stderr
    assert fast.stdout == slow.stdout and fast.stdout.count("\n") > 1000 and "category_share:Coffee" in fast.stdout


def test_float_labels_go_to_pandas(run, tmp_path):
    """pandas writes a float label its own way (1.0), so the lines go to pandas, and it says so."""
    raw = pd.read_csv(PURCHASES, dtype=str, keep_default_na=False)
    raw["category"] = raw["category"].map({n: i + 0.5 for i, n in enumerate(sorted(raw["category"].unique()))})
    raw = raw.astype({"quantity": int, "unit_price": float, "amount": float, "cost": float})
    path = tmp_path / "lines.parquet"
    raw.to_parquet(path, index=False)
    fast = run("segment", path, "--summary", "--format", "csv", "--engine", "duckdb")
    slow = run("segment", path, "--summary", "--format", "csv", "--engine", "pandas")
    assert fast.exit_code == slow.exit_code == 0 and fast.stdout == slow.stdout
    assert PANDAS_READS in fast.stderr
