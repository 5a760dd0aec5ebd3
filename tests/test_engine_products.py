"""The DuckDB engine builds the win-back list's offers, favourite categories and last products,
and `recommend`'s baskets, as the pandas engine does: the lines are aggregated in DuckDB and
the rules (custlens.recommend.basket_from, custlens.lifecycle.favourite and last_product) are
the same Python for both engines.

Each case runs both engines on the same file and compares.
"""

import io
from datetime import date

import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custlens import engine, lifecycle
from custlens import recommend as rec
from custlens.io import LoadOptions, load_purchases

PURCHASES = EXAMPLES / "purchases.csv"
RU = EXAMPLES / "ru" / "purchases.csv"
PANDAS_READS = "this report reads the purchase lines: using the pandas engine"


def both_baskets(path, as_of=None):
    """(the DuckDB engine's basket and win-back frames, the pandas engine's lines and basket)."""
    result = engine.summarize(engine.open_source([str(path)], LoadOptions()), as_of)
    lines = engine.product_lines(result)
    purchases = load_purchases([str(path)])[0]
    return result, lines, purchases, rec.baskets(purchases, as_of=result.as_of)


def assert_same_basket(fast, slow):
    assert (fast.matrix != slow.matrix).nnz == 0 and fast.matrix.shape == slow.matrix.shape
    pd.testing.assert_index_equal(fast.customers, slow.customers)
    pd.testing.assert_index_equal(fast.products, slow.products)
    pd.testing.assert_series_equal(fast.names, slow.names)
    pd.testing.assert_series_equal(fast.categories, slow.categories)
    pd.testing.assert_frame_equal(fast.spend_by_category, slow.spend_by_category)


def with_product_ids(tmp_path, fmt="csv"):
    """The example purchases with an integer product id per product name (two names spelt two
    ways, so that a key's name is chosen), as CSV or Parquet."""
    raw = pd.read_csv(PURCHASES, dtype=str, keep_default_na=False)
    codes = {name: 1000 + i for i, name in enumerate(sorted(raw["product"].unique()))}
    raw.insert(3, "sku", raw["product"].map(codes))
    raw.loc[raw.index % 7 == 0, "product"] = raw["product"].str.upper()
    path = tmp_path / f"lines.{fmt}"
    raw.to_csv(path, index=False) if fmt == "csv" else raw.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("source", ["examples", "russian", "product ids", "product ids in parquet"])
@pytest.mark.parametrize("command", [
    ["lapsed", "--contacts", str(EXAMPLES / "contacts.csv")], ["lapsed", "--as-of", "2025-09-30", "--include-at-risk"],
    ["lapsed", "--new-since", "45d", "--contacts", str(EXAMPLES / "contacts.csv")],
    ["recommend", "--top", "3", "--explain"], ["recommend", "--method", "cosine", "--as-of", "2025-06-30"],
    ["recommend", "--top", "2", "--min-support", "5", "--customers", str(EXAMPLES / "contacts.csv")],
])
def test_reports_with_products_are_the_same_bytes_from_both_engines(run, tmp_path, source, command):
    path = {"examples": PURCHASES, "russian": RU}.get(source) or with_product_ids(
        tmp_path, "parquet" if "parquet" in source else "csv")
    if source == "russian" and "--contacts" in command:
        command = command[:command.index("--contacts")]
    fast = run(command[0], path, *command[1:], "--format", "csv", "--engine", "duckdb")
    slow = run(command[0], path, *command[1:], "--format", "csv", "--engine", "pandas")
    assert fast.exit_code == slow.exit_code == 0, fast.stderr + slow.stderr
    assert PANDAS_READS not in fast.stderr and "DuckDB engine" in fast.stderr
    assert fast.stdout == slow.stdout and fast.stdout.count("\n") > 100
    assert fast.stderr.replace("; DuckDB engine", "") == slow.stderr


def test_product_ids_the_engine_cannot_read_as_pandas_does_go_to_pandas(run, tmp_path):
    """Float ids: pandas writes 1001.5 its own way, so the lines go to pandas (and say so)."""
    raw = pd.read_csv(PURCHASES, dtype=str, keep_default_na=False)
    raw["sku"] = raw["product"].map({n: 1000.5 + i for i, n in enumerate(sorted(raw["product"].unique()))})
    raw["amount"] = raw["amount"].astype(float)
    raw.to_parquet(tmp_path / "lines.parquet", index=False)
    source = engine.open_source([str(tmp_path / "lines.parquet")], LoadOptions())
    assert "product_id" in source.mapped and not engine.reads_products(source)
    fast = run("lapsed", tmp_path / "lines.parquet", "--format", "csv", "--engine", "duckdb")
    slow = run("lapsed", tmp_path / "lines.parquet", "--format", "csv", "--engine", "pandas")
    assert fast.exit_code == slow.exit_code == 0 and PANDAS_READS in fast.stderr
    assert fast.stdout == slow.stdout


@pytest.mark.parametrize("as_of", [None, date(2025, 3, 31)])
def test_the_basket_and_the_win_back_details_of_the_examples(as_of):
    result, lines, purchases, slow = both_baskets(PURCHASES, as_of)
    assert_same_basket(engine.basket(lines), slow)
    wanted = slow.customers[::3]
    by_category, last_day = engine.winback_lines(lines, wanted)
    upto = purchases[(purchases["order_date"].dt.normalize() <= pd.Timestamp(result.as_of)).to_numpy()]
    upto = upto[upto["customer_id"].isin(wanted)]
    pd.testing.assert_series_equal(lifecycle.favourite(by_category, "category").sort_index(),
                                   lifecycle.favourite(upto, "category").sort_index())
    pd.testing.assert_series_equal(lifecycle.last_product(last_day).sort_index(),
                                   lifecycle.last_product(upto).sort_index())
    assert len(lifecycle.last_product(last_day)) > 100


# --- the rules, by hand -----------------------------------------------------------------------

def test_a_product_id_is_named_and_categorised_by_most_of_its_lines():
    """P1: "Mug" on two lines, "MUG" on one; P2: "Beans" and "Arabica" once each (a tie: the first
    alphabetically); P3: no name on any line. Categories alike."""
    names = pd.DataFrame({"key": ["P1", "P1", "P2", "P2"], "product": ["Mug", "MUG", "Beans", "Arabica"],
                          "lines": [2, 1, 1, 1]})
    categories = pd.DataFrame({"key": ["P1", "P2", "P2", "P3"], "category": ["Kitchen", "Coffee", "Tea", "Tea"],
                               "lines": [3, 1, 1, 4]})
    basket = rec.basket_from(["a", "b"], ["P1", "P2", "P3"], np.array([0, 0, 1]), np.array([0, 1, 2]),
                             names=names, categories=categories, spend=None)
    assert basket.names.tolist() == ["Mug", "Arabica", pd.NA]
    assert basket.categories.tolist() == ["Kitchen", "Coffee", "Tea"]
    assert basket.matrix.toarray().tolist() == [[1, 1, 0], [0, 0, 1]]


def test_category_shares_are_taken_from_cents():
    """a: 0.1 + 0.2 on Tea (0.30000000000000004 in floats, 0.30 in cents) and 0.30 on Coffee:
    half each; b bought in no category: no shares."""
    purchases = pd.DataFrame({"customer_id": pd.array(["a", "a", "a", "b"], dtype="string"),
                              "order_date": pd.to_datetime(["2025-01-01"] * 4),
                              "product": pd.array(["T1", "T2", "C1", "X"], dtype="string"),
                              "category": pd.array(["Tea", "Tea", "Coffee", None], dtype="string"),
                              "amount": [0.1, 0.2, 0.3, 5.0]})
    basket = rec.baskets(purchases)
    assert basket.spend_by_category.loc["a"].to_dict() == {"Coffee": 0.5, "Tea": 0.5}
    assert basket.spend_by_category.loc["b"].to_dict() == {"Coffee": 0.0, "Tea": 0.0}


def test_the_favourite_category_ties_in_cents_go_to_the_first_alphabetically():
    """Zen: 0.1 + 0.2 (a hair above 0.3 in floats); Black: 0.3. The same in cents: Black."""
    lines = pd.DataFrame({"customer_id": pd.array(["a"] * 3, dtype="string"),
                          "category": pd.array(["Zen", "Zen", "Black"], dtype="string"), "amount": [0.1, 0.2, 0.3]})
    assert lifecycle.favourite(lines, "category").to_dict() == {"a": "Black"}


# --- random exports ---------------------------------------------------------------------------

TEXTS = st.sampled_from(["Tea", "tea", " Tea ", "Чай", "чай\u00a0", "Coffee", "n/a", "", "  ", "-", "Mug", "Кружка",
                         "Zeta", "Alpha"])


@st.composite
def exports(draw):
    n = draw(st.integers(1, 40))
    customers = draw(st.lists(st.sampled_from(["C1", "C2", "C3", "К4", "C5", "C6", " C1", "C2\t"]), min_size=n, max_size=n))
    days = draw(st.lists(st.integers(0, 60), min_size=n, max_size=n))
    cents = draw(st.lists(st.integers(-500, 5000), min_size=n, max_size=n))
    products = draw(st.lists(TEXTS, min_size=n, max_size=n))
    categories = draw(st.lists(TEXTS, min_size=n, max_size=n))
    ids = draw(st.none() | st.lists(st.sampled_from(["1", "2", " 3", "04", "", "n/a"]), min_size=n, max_size=n))
    frame = pd.DataFrame({"order_id": [f"O{i}" for i in range(n)], "customer_id": customers,
                          "date": [(pd.Timestamp("2025-01-01") + pd.Timedelta(days=d)).strftime("%Y-%m-%d")
                                   for d in days],
                          "product": products, "category": categories, "amount": [f"{c / 100:.2f}" for c in cents]})
    if ids is not None:
        frame.insert(3, "product_id", ids)
    return frame


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=exports(), cut=st.integers(0, 60))
def test_random_exports_give_the_same_basket_and_details(tmp_path, frame, cut):
    path = tmp_path / "lines.csv"
    frame.to_csv(path, index=False)
    source = engine.open_source([str(path)], LoadOptions())
    try:
        result = engine.summarize(source, (pd.Timestamp("2025-01-01") + pd.Timedelta(days=cut)).date())
    except engine.Unsupported:  # no usable line: the pandas loader says so
        return
    purchases = load_purchases([str(path)])[0]
    lines = engine.product_lines(result)
    try:
        slow = rec.baskets(purchases, as_of=result.as_of)
    except rec.CustlensError as e:
        with pytest.raises(type(e), match=str(e)):
            engine.basket(lines)
    else:
        assert_same_basket(engine.basket(lines), slow)
    everyone = purchases["customer_id"].dropna().unique()
    by_category, last_day = engine.winback_lines(lines, everyone)
    upto = purchases[(purchases["order_date"].dt.normalize() <= pd.Timestamp(result.as_of)).to_numpy()]
    pd.testing.assert_series_equal(lifecycle.favourite(by_category, "category").sort_index(),
                                   lifecycle.favourite(upto, "category").sort_index(), check_index_type=False)
    pd.testing.assert_series_equal(lifecycle.last_product(last_day).sort_index(),
                                   lifecycle.last_product(upto).sort_index(), check_index_type=False)


def test_a_file_without_products_is_not_read_again(tmp_path):
    """lapsed on lines without product or category columns: nothing to aggregate, no second pass."""
    path = tmp_path / "lines.csv"
    pd.read_csv(PURCHASES, dtype=str, keep_default_na=False)[["customer_id", "date", "amount"]].to_csv(path, index=False)
    result = engine.summarize(engine.open_source([str(path)], LoadOptions()), None)
    lines = engine.product_lines(result)
    assert lines.roles == () and lines.key is None
    assert engine.winback_lines(lines, ["C000749"]) == (None, None)
    tables = {name for (name,) in result.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "groups" in tables and "product_lines" not in tables


@pytest.mark.parametrize("engine_name", ["duckdb", "pandas"])
def test_the_offers_show_a_spinner_on_a_terminal(run, engine_name):
    """The offers take a while on large exports (10 s for 600,000 customers): on a terminal a
    spinner names the customers they are chosen for (lapsed, at risk or lost); in a pipe it
    is not drawn."""
    from conftest import stderr_on_a_terminal

    stages = pd.read_csv(io.StringIO(run("lifecycle", PURCHASES, "--format", "csv", "-q").stdout))["stage"]
    candidates = int(stages.isin(["lapsed", "at_risk", "lost"]).sum())
    code = ("import sys; from custlens.cli import cli; sys.argv = ['custlens', 'lapsed', "
            f"{str(PURCHASES)!r}, '--engine', {engine_name!r}, '-o', '/dev/null', '--format', 'csv']; cli()")
    assert f"choosing offers for {candidates:,} customers".encode() in stderr_on_a_terminal(code)
    assert "choosing offers" not in run("lapsed", PURCHASES, "--engine", engine_name, "--format", "csv").stderr


def test_a_product_column_without_products_still_gives_the_win_back_list(run, tmp_path):
    """The list does not need the products: a blank product column costs the offers, not the
    list (a cron job still gets it), with a warning; `recommend`, which needs them, fails."""
    rows = [f"O{i},C1,2024-{m:02d}-01,,10" for i, m in enumerate(range(1, 7))]  # monthly until June
    rows += ["O9,C2,2024-12-20,,8", "O10,C2,2024-12-30,,8"]  # sets the as-of date: C1 is lapsed
    path = tmp_path / "lines.csv"
    path.write_text("order_id,customer_id,date,product,category,amount\n"
                    + "\n".join(r.replace(",,", ",,Tea,") for r in rows) + "\n", encoding="utf-8")
    outputs = []
    for name in ("duckdb", "pandas"):
        listed = run("lapsed", path, "--engine", name, "--format", "csv")
        assert listed.exit_code == 0, listed.stderr
        assert "warning: no purchase lines with a product to learn from: the suggestions name no product" \
            in listed.stderr
        table = pd.read_csv(io.StringIO(listed.stdout))
        assert table["customer_id"].tolist() == ["C1"] and table["stage"].tolist() == ["lapsed"]
        assert table["suggested_action"].iloc[0].endswith("offer on Tea")  # the favourite category, no product
        outputs.append(listed.stdout)
        failed = run("recommend", path, "--engine", name)
        assert failed.exit_code == 1 and "no purchase lines with a product to learn from" in failed.stderr
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("source", ["examples", "russian", "product ids in parquet"])
@pytest.mark.parametrize("options", [[], ["--top", "5", "--method", "cosine", "--as-of", "2025-09-30"]])
def test_recommend_evaluate_is_the_same_from_both_engines(run, tmp_path, source, options):
    """The last day of each repeat customer is hidden in DuckDB's table of lines, and the hit
    rates are those of the pandas engine."""
    path = {"examples": PURCHASES, "russian": RU}.get(source) or with_product_ids(tmp_path, "parquet")
    fast, slow = (run("recommend", path, "--evaluate", *options, "--format", "csv", "--engine", e)
                  for e in ("duckdb", "pandas"))
    assert fast.exit_code == slow.exit_code == 0, fast.stderr + slow.stderr
    assert PANDAS_READS not in fast.stderr and "DuckDB engine" in fast.stderr
    assert fast.stdout == slow.stdout and fast.stdout.count("\n") == 3
    assert fast.stderr.replace("; DuckDB engine", "") == slow.stderr and "hit rate@" in fast.stderr


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=exports(), cut=st.integers(0, 60))
def test_random_exports_give_the_same_evaluation(tmp_path, frame, cut):
    path = tmp_path / "lines.csv"
    frame.to_csv(path, index=False)
    try:
        result = engine.summarize(engine.open_source([str(path)], LoadOptions()),
                                  (pd.Timestamp("2025-01-01") + pd.Timedelta(days=cut)).date())
    except engine.Unsupported:  # no usable line: the pandas loader says so
        return
    purchases = load_purchases([str(path)])[0]
    upto = purchases[(purchases["order_date"].dt.normalize() <= pd.Timestamp(result.as_of)).to_numpy()]
    lines = engine.product_lines(result)
    truth = engine.hide_last_days(lines)
    try:
        slow = rec.evaluate(upto, top=2)
    except rec.CustlensError as e:
        with pytest.raises(type(e), match=str(e)):
            engine.basket(lines)
        return
    pd.testing.assert_frame_equal(rec.evaluate_basket(engine.basket(lines), truth, top=2), slow)


@pytest.mark.parametrize("engine_name", ["duckdb", "pandas"])
def test_evaluate_without_a_repeat_customer_says_there_is_nothing_to_evaluate(run, tmp_path, engine_name):
    """It failed with an internal error on the pandas engine (no customer with two purchase days)."""
    path = tmp_path / "lines.csv"
    path.write_text("customer_id,date,product,amount\nA,2025-01-01,Tea,5\nB,2025-01-02,Cups,3\nA,2025-01-01,Mug,2\n",
                    encoding="utf-8")
    result = run("recommend", path, "--evaluate", "--format", "csv", "--engine", engine_name)
    assert result.exit_code == 0, result.stderr
    assert "no hidden last order to evaluate on, so no hit rate" in result.stderr and "nan" not in result.stderr
    assert result.stdout.splitlines()[1:] == ["item-to-item (lift),0,3,,0.0", "most popular,0,3,,0.0"]
