"""Margins (`pareto --by margin`) on the DuckDB engine: the cost column read as the pandas loader
reads it (numbers, decimal commas, currency marks, blanks, values that are not numbers left empty
with its warning), Σ(amount − cost) per customer against custlens.pareto.margins, and the same
bytes and words from both engines.
"""

import decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custlens import engine, pareto, textvalues
from custlens.errors import CustlensError
from custlens.io import LoadOptions, load_purchases

PURCHASES = EXAMPLES / "purchases.csv"
RU = EXAMPLES / "ru" / "purchases.csv"
PANDAS_READS = "this report reads the purchase lines: using the pandas engine"


def fast_margins(path, as_of=None):
    result = engine.summarize(engine.open_source([str(path)], LoadOptions()), as_of)
    return engine.margins(result), result


def test_margins_by_hand(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("customer_id;date;amount;cost\n"
                    "a;2025-01-02;100,00;60,50\n"      # 39.50
                    "a;2025-01-03;50,00;\n"            # no cost: 50
                    "a;2025-01-03;-20,00;-12,00\n"     # a return with its cost: −8
                    "b;2025-01-04;80,00;n/a\n"         # 'n/a' is blank: 80
                    "b;2025-01-05;10,00;1 000,00 ₽\n"  # −990
                    ";2025-01-05;10,00;1,00\n"         # no customer: left out
                    "c;2025-01-06;5,00;abc\n"          # not a number: left empty, 5
                    "c;2025-01-07;6,00;2,00\n"         # 4
                    "a;2025-02-01;70,00;10,00\n",      # after the as-of date
                    encoding="utf-8")
    margins, result = fast_margins(path, pd.Timestamp("2025-01-31").date())
    assert margins.sort_index().to_dict() == pytest.approx({"a": 81.5, "b": -910.0, "c": 9.0}, abs=1e-12)
    assert result.source.warnings == [f"{path}: column 'cost' (cost): 1 values not numbers left empty, e.g. 'abc'"]


def test_typed_costs_by_hand(tmp_path):
    """Parquet costs as floats (NaN is a missing cost), integers and decimals."""
    table = pa.table({"customer_id": ["a", "a", "b"], "order_date": pd.to_datetime(["2025-01-01"] * 3),
                      "amount": [10.0, 20.0, 5.0]})
    costs = {"float": pa.array([4.0, float("nan"), None]), "int": pa.array([4, 7, None], pa.int64()),
             "decimal": pa.array([decimal.Decimal("4.00"), decimal.Decimal("7.00"), None], pa.decimal128(9, 2))}
    expected = {"float": {"a": 26.0, "b": 5.0}, "int": {"a": 19.0, "b": 5.0}, "decimal": {"a": 19.0, "b": 5.0}}
    for kind, cost in costs.items():
        path = tmp_path / f"{kind}.parquet"
        pq.write_table(table.append_column("cost", cost), path)
        assert fast_margins(path)[0].sort_index().to_dict() == expected[kind], kind
        assert pareto.margins(load_purchases([str(path)])[0]).to_dict() == expected[kind], kind


def test_bad_cost_samples_come_in_file_order(tmp_path):
    """The loader shows the first three distinct bad values in file order, not sorted."""
    costs = ["1", "zz", "2", "aa", "zz", "mm", "3", "bb"] + [str(k) for k in range(10)]
    path = tmp_path / "in.csv"
    path.write_text("customer_id,date,amount,cost\n" + "".join(f"C{i},2025-01-{1 + i:02d},10,{c}\n"
                                                              for i, c in enumerate(costs)), encoding="utf-8")
    _, result = fast_margins(path)
    assert result.source.warnings == [(f"{path}: column 'cost' (cost): 5 values not numbers left empty, "
                                       "e.g. 'zz', 'aa', 'mm'")]
    assert load_purchases([str(path)])[1].warnings == result.source.warnings


def test_the_cost_decimal_mark_comes_from_its_first_distinct_values_in_file_order(tmp_path):
    """As for amounts (tests/test_engine_text.py): whole numbers first, so '.', and "1.234" is 1.234."""
    lines = [f"C{i % 50};2025-01-{1 + i % 28:02d};{i};{i}" for i in range(1, textvalues.DECIMAL_SAMPLE + 1)]
    lines += ["C1;2025-02-01;5;1.234", "C2;2025-02-02;5;2,345"]
    path = tmp_path / "in.csv"
    path.write_text("customer_id;date;amount;cost\n" + "\n".join(lines) + "\n", encoding="utf-8")
    margins, _ = fast_margins(path)
    expected = pareto.margins(load_purchases([str(path)])[0])
    pd.testing.assert_series_equal(margins.sort_index(), expected.sort_index(), check_names=False,
                                   check_index_type=False, rtol=1e-12)
    assert margins["C2"] == pytest.approx(expected["C2"])


COST = st.one_of(st.sampled_from(["", "n/a", "abc", "-", " 12,5 "]),
                 st.tuples(st.integers(-99_999, 99_999), st.integers(0, 99),
                           st.sampled_from(["{w},{c:02d}", "{w}.{c:02d}", "{w}", "{w_sp},{c:02d} ₽", "({w},{c:02d})"]))
                 .map(lambda t: t[2].format(w=t[0], c=t[1], w_sp=f"{t[0]:,}".replace(",", "\u00a0"))))


@st.composite
def exports(draw):
    n = draw(st.integers(1, 40))
    column = lambda values: draw(st.lists(values, min_size=n, max_size=n))
    return pd.DataFrame({
        "customer_id": column(st.sampled_from(["C1", "C2", "C3", "К4", ""])),
        "date": [(pd.Timestamp("2025-01-01") + pd.Timedelta(days=d)).strftime("%Y-%m-%d")
                 for d in column(st.integers(0, 60))],
        "amount": [f"{c / 100:.2f}" for c in column(st.integers(-500, 5000))],
        "cost": column(COST),
    })


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=exports(), cut=st.integers(0, 60), sep=st.sampled_from([",", ";"]))
def test_random_exports_give_the_same_margins_and_warnings(tmp_path, frame, cut, sep):
    """Decimal commas and points, NBSP thousands, currency marks, accounting negatives, blanks,
    'n/a' and values that are not numbers; guests; returns; an as-of date."""
    path = tmp_path / "lines.csv"
    frame.to_csv(path, index=False, sep=sep)
    as_of = (pd.Timestamp("2025-01-01") + pd.Timedelta(days=cut)).date()
    try:
        reference, report = load_purchases([str(path)])
    except CustlensError as e:  # the loader refuses the cost column: the engine hands it to pandas
        with pytest.raises(engine.Unsupported):
            fast_margins(path, as_of)
        assert "cost" in str(e)
        return
    try:
        margins, result = fast_margins(path, as_of)
    except engine.Unsupported:
        assert reference.empty  # no usable line
        return
    expected = pareto.margins(reference, pd.Timestamp(as_of))
    pd.testing.assert_series_equal(margins.sort_index(), expected.sort_index(), check_names=False,
                                   check_index_type=False, rtol=1e-12, atol=1e-9)
    assert result.source.warnings == report.warnings


def parquet_copy(tmp_path, kind):
    """The examples with a cost column (a share of the amount, some missing) as Parquet."""
    raw = pd.read_csv(PURCHASES)
    rng = np.random.default_rng(7)
    cost = (raw["amount"] * rng.uniform(0.3, 0.9, len(raw))).round(2).mask(rng.random(len(raw)) < 0.05)
    raw["cost"] = cost if kind == "float" else cost.round().astype("Int64")  # in place of the examples' own
    path = tmp_path / f"{kind}.parquet"
    raw.to_parquet(path, index=False)
    return path


def russian_copy(tmp_path, name="ru.csv", bad=("нет данных", "—?", "abc"), first=0):
    """The Russian example (cp1251, ';', decimal commas) with a cost column in its style:
    '1 234,50' (a no-break space), blanks and a few values that are not numbers."""
    raw = pd.read_csv(RU, sep=";", encoding="cp1251", dtype=str, keep_default_na=False)
    amount = pd.to_numeric(raw["Сумма"].str.replace("\u00a0", "").str.replace(",", "."))
    rng = np.random.default_rng(first + 3)
    cost = [f"{v:,.2f}".replace(",", "\u00a0").replace(".", ",") for v in amount * rng.uniform(0.3, 0.9, len(raw))]
    for i, text in enumerate(bad):
        cost[first + 17 * (i + 1)] = text
    for i in range(first + 5, len(cost), 97):
        cost[i] = ""
    raw["Себестоимость"] = cost  # in place of the example's own
    path = tmp_path / name
    raw.to_csv(path, sep=";", index=False, encoding="cp1251")
    return path


@pytest.mark.parametrize("source", ["examples", "examples, --map cost=unit_price", "russian example", "float parquet",
                                    "integer parquet", "russian"])
@pytest.mark.parametrize("options", [[], ["--as-of", "2025-06-30"], ["--summary"], ["--key-clients-only"]])
def test_pareto_by_margin_is_the_same_bytes_from_both_engines(run, tmp_path, source, options):
    if source == "examples":  # with its own cost column, and with another mapped as the cost
        path, extra = PURCHASES, []
    elif source == "examples, --map cost=unit_price":
        path, extra = PURCHASES, ["--map", "cost=unit_price"]
    elif source == "russian example":
        path, extra = RU, []
    elif source == "russian":
        path, extra = russian_copy(tmp_path), []
    else:
        path, extra = parquet_copy(tmp_path, source.split()[0]), []
    fast = run("pareto", path, "--by", "margin", *extra, *options, "--format", "csv", "--engine", "duckdb")
    slow = run("pareto", path, "--by", "margin", *extra, *options, "--format", "csv", "--engine", "pandas")
    assert fast.exit_code == slow.exit_code == 0, fast.stderr + slow.stderr
    assert PANDAS_READS not in fast.stderr and "DuckDB engine" in fast.stderr
    assert fast.stdout == slow.stdout and "margin" in fast.stdout and fast.stdout.count("\n") > 3
    assert fast.stderr.replace("; DuckDB engine", "") == slow.stderr
    if source == "russian":
        assert "3 values not numbers left empty, e.g. 'нет данных', '—?', 'abc'" in fast.stderr


def test_two_files_warn_file_by_file(run, tmp_path):
    """The loader warns of each file's columns in turn: the first file's dates and costs, then the
    second's; the engine reads all dates before any cost, and says them in the loader's order."""
    paths = []
    for i in range(2):
        path = tmp_path / f"part{i}.csv"
        path.write_text("customer_id;date;amount;cost\n" + "".join(
            f"C{k};{1 + k % 9:02d}/0{1 + k % 3}/2025;{10 + k},5;{'xx' if k == 3 + i else f'{k},25'}\n"
            for k in range(12)), encoding="utf-8")
        paths.append(path)
    fast = run("pareto", *paths, "--by", "margin", "--format", "csv", "--engine", "duckdb")
    slow = run("pareto", *paths, "--by", "margin", "--format", "csv", "--engine", "pandas")
    assert fast.exit_code == slow.exit_code == 0, fast.stderr + slow.stderr
    assert fast.stdout == slow.stdout
    # the engine names the files in one line ("2 files: 24 rows"), the loader in one line each
    after_files = lambda stderr: stderr[stderr.index("\nwarning:"):]
    assert after_files(fast.stderr) == after_files(slow.stderr)
    warnings = [line for line in fast.stderr.splitlines() if line.startswith("warning:")]
    assert [w.split(": ")[1] for w in warnings] == [str(paths[0])] * 2 + [str(paths[1])] * 2, warnings
    assert "ambiguous" in warnings[0] and "'xx'" in warnings[1]


def test_a_cost_column_of_words_is_refused_as_the_loader_refuses_it(run, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("customer_id,date,amount,cost\n" + "".join(f"C{k},2025-01-0{1 + k},10,{'cheap' if k % 3 else 1}\n"
                                                              for k in range(9)), encoding="utf-8")
    auto = run("pareto", path, "--by", "margin")
    slow = run("pareto", path, "--by", "margin", "--engine", "pandas")
    assert auto.exit_code == slow.exit_code == 1
    assert auto.stderr == slow.stderr and "'cheap'" in auto.stderr and "6 of 9 values cannot be read" in auto.stderr
    fast = run("pareto", path, "--by", "margin", "--engine", "duckdb")
    assert fast.exit_code == 1 and "cannot take this input" in fast.stderr and "cost column" in fast.stderr


@pytest.mark.parametrize("engine_name", ["auto", "duckdb", "pandas"])
def test_no_cost_column_says_which_option_to_use(run, tmp_path, engine_name):
    path = tmp_path / "no-cost.csv"
    pd.read_csv(PURCHASES, dtype=str, keep_default_na=False).drop(columns="cost").to_csv(path, index=False)
    result = run("pareto", path, "--by", "margin", "--engine", engine_name)
    assert result.exit_code == 1 and "--map cost=" in result.stderr
    if engine_name != "pandas":  # said before any line is read
        assert "rows" not in result.stderr, result.stderr
