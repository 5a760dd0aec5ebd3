"""The command line end to end: every command, every output format, stdin, errors, exit codes."""

import io
import json
import subprocess
import sys

import pandas as pd
import pytest

from conftest import DATA, EXAMPLES, ROOT
from custlens.io import load_purchases
from custlens.summary import customers

BAD = DATA / "bad"
PURCHASES = str(EXAMPLES / "purchases.csv")


def example_counts():
    """Rows and guest-checkout rows of examples/purchases.csv, counted with the csv module."""
    import csv

    with open(PURCHASES, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return len(rows), sum(1 for r in rows if not r["customer_id"].strip())


ROWS, GUESTS = example_counts()

# file, extra args, exit code, fragments that stderr must hold
BAD_CASES = [
    ("empty.csv", [], 1, ["the file is empty"]),
    ("blank_lines.csv", [], 1, ["the file is empty"]),
    ("header_only.csv", [], 1, ["has column names", "but no data rows"]),
    ("no_customer_column.csv", [], 1, ["no column for customer_id", "'date', 'amount', 'product'",
                                       "--map customer_id="]),
    ("no_header.csv", [], 1, ["first row looks like data", "add a header row"]),
    ("all_dates_bad.csv", [], 1, ["column 'date' (order_date)", "'soon', 'yesterday'", "--date-format"]),
    ("mixed_date_orders.csv", [], 1, ["day-first ('13/01/2024')", "month-first ('01/13/2024')", "--date-format"]),
    ("text_in_amount.csv", [], 1, ["column 'amount' (amount)", "'ten', 'lots'", "--map amount="]),
    ("binary.csv", [], 1, ["not a text table"]),
    ("wrong_encoding.csv", ["--encoding", "utf-8"], 1, ["not valid utf-8", "try --encoding cp1251"]),
    ("duplicated_header.csv", [], 1, ["'Сумма' (amount) appears 2 times", "--map amount="]),
    ("old_excel.xls", [], 1, ["old binary Excel (.xls)", "save it as .xlsx or .csv"]),
    ("corrupt.xlsx", [], 1, ["cannot be read as XLSX"]),
    ("corrupt.parquet", [], 1, ["cannot be read as Parquet"]),
    ("guests_only.csv", [], 1, ["no usable rows", "2 no customer id"]),
    ("unknown_sheet.xlsx", ["--sheet", "Orders"], 1, ["no sheet 'Orders'", "'Data'"]),
    ("does_not_exist.csv", [], 1, ["no such file"]),
    ("../bad", ["--as-of", "31.12.2024"], 2, ["'31.12.2024' is not YYYY-MM-DD"]),
    ("text_in_amount.csv", ["--map", "amount"], 2, ["write ROLE=COLUMN"]),
]


@pytest.mark.parametrize("name, args, code, fragments", BAD_CASES, ids=[c[0] + str(c[1]) for c in BAD_CASES])
def test_bad_inputs_give_one_clear_line(run, name, args, code, fragments):
    result = run("summary", BAD / name, *args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.stderr and result.stdout == ""
    for fragment in fragments:
        assert fragment in result.stderr
    if code == 1:
        assert result.stderr.startswith(f"Error: {BAD / name}") or "no such file" in result.stderr
        assert result.stderr.count("\n") == 1  # one line


def test_wrong_encoding_is_detected_without_the_option(run):
    result = run("summary", BAD / "wrong_encoding.csv")
    assert result.exit_code == 0 and "cp1251" in result.stderr
    assert result.stdout.splitlines()[1].startswith("К-1,")


def test_debug_shows_the_traceback(run):
    result = run("--debug", "summary", BAD / "empty.csv", catch=True)
    assert result.exit_code == 1 and result.exception is not None
    assert type(result.exception).__name__ == "EmptyInputError"


def test_summary_csv_to_stdout_matches_the_library(run):
    result = run("summary", PURCHASES)
    assert result.exit_code == 0, result.stderr
    got = pd.read_csv(io.StringIO(result.stdout), dtype={"customer_id": str})
    expected = customers(load_purchases([PURCHASES])[0]).customers
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    assert got["monetary"].tolist() == expected["monetary"].tolist()
    assert "as of 2025-12-30: 2,000 customers" in result.stderr
    assert f"excluded {GUESTS} of {ROWS:,} rows: {GUESTS} no customer id" in result.stderr
    assert GUESTS > 0


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "table"])
def test_summary_text_formats(run, fmt):
    result = run("summary", PURCHASES, "--format", fmt, "-q")
    assert result.exit_code == 0, result.stderr
    if fmt in ("json", "jsonl"):
        records = json.loads(result.stdout) if fmt == "json" else [json.loads(x) for x in result.stdout.splitlines()]
        assert len(records) == 2000 and set(records[0]) >= {"customer_id", "recency_days", "monetary"}
    elif fmt == "table":
        assert "customer_id" in result.stdout and "C000001" in result.stdout
    else:
        assert len(result.stdout.splitlines()) == 2001


@pytest.mark.parametrize("ext", ["csv", "tsv", "json", "jsonl", "parquet", "xlsx"])
def test_summary_to_files(run, tmp_path, ext):
    out = tmp_path / f"customers.{ext}"
    result = run("summary", PURCHASES, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and f"wrote 2,000 customers to {out}" in result.stderr
    if ext == "parquet":
        back = pd.read_parquet(out)
    elif ext == "xlsx":
        back = pd.read_excel(out)
    elif ext in ("json", "jsonl"):
        back = pd.read_json(out, lines=ext == "jsonl")
    else:
        back = pd.read_csv(out, sep="\t" if ext == "tsv" else ",")
    assert len(back) == 2000 and back["frequency"].sum() == customers(
        load_purchases([PURCHASES])[0]).customers["frequency"].sum()


def test_binary_format_to_stdout_pipe(run):
    result = run("summary", PURCHASES, "--format", "parquet", "-q")
    assert result.exit_code == 0
    assert len(pd.read_parquet(io.BytesIO(result.stdout_bytes))) == 2000


@pytest.mark.parametrize("args", [["summary"], ["summary", "--engine", "pandas"], ["rfm", "--format", "json"],
                                  ["lifecycle", "--format", "tsv"], ["summary", "--format", "parquet"]], ids=" ".join)
def test_dash_as_output_file_is_stdout(run, in_tmp, args):
    """`-o -` writes what the command writes to stdout without -o, and leaves no file named '-'
    (it did: the output went to a file called '-')."""
    plain = run(*args, PURCHASES, "-q")
    dashed = run(*args, PURCHASES, "-q", "-o", "-")
    assert plain.exit_code == dashed.exit_code == 0, dashed.stderr
    assert len(plain.stdout_bytes) > 1000 and dashed.stdout_bytes == plain.stdout_bytes
    assert list(in_tmp.iterdir()) == []


def test_dash_as_card_output_is_stdout(run, in_tmp):
    plain = run("card", "C000147", "--purchases", PURCHASES, "--format", "json", "-q")
    dashed = run("card", "C000147", "--purchases", PURCHASES, "-o", "-", "-q")
    assert dashed.exit_code == 0 and json.loads(dashed.stdout) == json.loads(plain.stdout)
    assert json.loads(dashed.stdout)["customer_id"] == "C000147"
    assert list(in_tmp.iterdir()) == []


REPORTS = [["summary"], ["rfm"], ["rfm", "--summary"], ["pareto"], ["pareto", "--summary"], ["segment", "--k", "3"],
           ["lapsed"], ["lifecycle"], ["lifecycle", "--summary"], ["cohorts"], ["cohorts", "--metric", "revenue"],
           ["kpi", "--split", "2025-01-01", "--window", "90d"], ["clv"], ["recommend"]]


@pytest.mark.parametrize("report", REPORTS, ids=" ".join)
def test_every_report_writes_parquet_with_the_csv_values(run, tmp_path, report):
    """A report's Parquet file holds what its CSV file holds: the same columns and values (cohorts
    failed here once: pandas put the table's notes for the terminal, a date among them, in the file)."""
    written = {}
    for ext in ("parquet", "csv"):
        out = tmp_path / f"report.{ext}"
        result = run(report[0], PURCHASES, *report[1:], "-o", out, "-q")
        assert result.exit_code == 0, result.stderr
        written[ext] = pd.read_parquet(out) if ext == "parquet" else pd.read_csv(out, keep_default_na=False, na_values=[""])
    parquet, csv = written["parquet"], written["csv"]
    assert list(parquet.columns) == list(csv.columns) and len(parquet) == len(csv) > 0
    for name in parquet.columns:
        got, want = parquet[name], csv[name]
        if pd.api.types.is_numeric_dtype(got) and not pd.api.types.is_bool_dtype(got):
            pd.testing.assert_series_equal(got.astype("float64"), want.astype("float64"), check_names=False, rtol=1e-9)
        else:
            assert _as_csv_text(got) == _as_csv_text(want), name


def _as_csv_text(values: pd.Series) -> list[str]:
    return [("" if pd.isna(v) else v.strftime("%Y-%m-%d") if hasattr(v, "strftime") else str(v)) for v in values]


def test_stdin(run):
    data = (EXAMPLES / "ru" / "purchases.csv").read_bytes()
    result = run("summary", "-", "--format", "jsonl", input=data)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2000 and "<stdin>" in result.stderr and "cp1251" in result.stderr


def test_as_of_and_rejects(run, tmp_path):
    rejects = tmp_path / "rejects.csv"
    result = run("summary", PURCHASES, "--as-of", "2024-12-31", "--rejects", rejects, "-q")
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout))
    assert table["last_order"].max() <= "2024-12-31" and table["recency_days"].min() >= 0
    assert "lines dated after the as-of date" in result.stderr
    back = pd.read_csv(rejects)
    assert len(back) == GUESTS and set(back["reason"]) == {"no customer id"}
    assert {"source", "row", "reason", "order_id", "customer_id"} <= set(back.columns)


@pytest.mark.parametrize("command", ["summary", "rfm", "pareto", "lapsed"])
@pytest.mark.parametrize("option, name, said", [
    ("-o", "out.xyz", "out.xyz: cannot tell the format from the extension '.xyz'"),
    ("-o", "out", "out: cannot tell the format from the extension '(none)'"),
    ("--rejects", "rejects.xyz", "rejects.xyz: cannot tell the format from the extension '.xyz'"),
])
def test_an_output_name_without_a_format_fails_before_the_files_are_read(run, tmp_path, command, option, name, said):
    """A cron job on a large export learns of a mistyped -o or --rejects at once: the input named
    here does not exist, and the error is the output's."""
    result = run(command, tmp_path / "missing.csv", option, tmp_path / name)
    assert result.exit_code == 1 and said in result.stderr and "missing.csv" not in result.stderr
    assert result.stderr.startswith(f"Error: {option} " if option == "--rejects" else "Error: ")
    assert not list(tmp_path.iterdir())


def test_strict_turns_exclusions_into_exit_1(run):
    result = run("summary", PURCHASES, "--strict")
    assert result.exit_code == 1 and f"--strict: {GUESTS} rows would be excluded" in result.stderr


def test_quiet_keeps_warnings_but_not_guest_checkouts(run, tmp_path):
    result = run("summary", PURCHASES, "-q")
    assert result.stderr == ""  # guest checkouts are expected: counted without -q, silent with it
    bad = tmp_path / "p.csv"
    bad.write_text("customer_id,date,amount\nC1,2024-01-05,10\n,2024-01-05,3\nC2,2024-02-31,5\n"
                   "C3,2024-01-06,4\n", encoding="utf-8")
    result = run("summary", bad, "-q")
    assert "excluded 2 of 4 rows: 1 no customer id; 1 unparseable order date" in result.stderr
    assert "as of" not in result.stderr


def test_config_columns(run, in_tmp):
    (in_tmp / "p.csv").write_text("who;when;how much\nA;01.02.2024;1,5\nB;02.02.2024;2\n", encoding="utf-8")
    (in_tmp / "custlens.toml").write_text('[columns]\ncustomer_id = "who"\norder_date = "when"\n'
                                          'amount = "how much"\n', encoding="utf-8")
    result = run("summary", "p.csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert pd.read_csv(io.StringIO(result.stdout))["monetary"].tolist() == [1.5, 2.0]
    (in_tmp / "custlens.toml").write_text("[colums]\n", encoding="utf-8")
    bad = run("summary", "p.csv")
    assert bad.exit_code == 1 and "unknown section(s) colums" in bad.stderr


def test_inspect_table_and_json(run):
    result = run("inspect", EXAMPLES / "ru" / "purchases.csv")
    assert result.exit_code == 0, result.stderr
    for fragment in ("cp1251", "order_id", "Номер заказа", "Сумма", "decimal mark", "%d.%m.%Y", "no customer id"):
        assert fragment in result.stdout
    data = json.loads(run("inspect", EXAMPLES / "ru" / "purchases.csv", "--format", "json").stdout)
    assert data["encoding"] == "cp1251" and data["delimiter"] == ";" and data["decimal"] == ","
    raw = pd.read_csv(EXAMPLES / "ru" / "purchases.csv", sep=";", encoding="cp1251", dtype=str)
    days = pd.to_datetime(raw.loc[raw["Клиент"].notna(), "Дата"], format="%d.%m.%Y")
    assert data["customers"] == raw["Клиент"].nunique()
    assert data["date_range"] == [f"{days.min():%Y-%m-%d}", f"{days.max():%Y-%m-%d}"]
    amounts = pd.to_numeric(raw.loc[raw["Клиент"].notna(), "Сумма"].str.replace("\u00a0", "").str.replace(",", "."))
    assert data["total_amount"] == pytest.approx(amounts.sum(), abs=0.01)
    assert data["return_lines"] == int((amounts < 0).sum())
    assert data["rows"] == len(raw) and data["rows_loaded"] == raw["Клиент"].notna().sum()
    roles = {c["column"]: c["role"] for c in data["columns"]}
    assert roles["Клиент"] == "customer_id" and roles["Сумма"] == "amount" and roles["Цена"] == "unit_price"


def test_inspect_guesses_the_kind_and_reports_failures(run):
    contacts = json.loads(run("inspect", EXAMPLES / "contacts.csv", "--format", "json").stdout)
    assert contacts["kind"] == "contacts" and contacts["ok"]
    interactions = json.loads(run("inspect", EXAMPLES / "ru" / "interactions.csv", "--format", "json").stdout)
    assert interactions["kind"] == "interactions"
    bad = run("inspect", BAD / "text_in_amount.csv")
    assert bad.exit_code == 1 and "problem:" in bad.stdout and "'ten'" in bad.stdout


def test_sample_data_is_deterministic(run, tmp_path):
    for name in ("a", "b"):
        result = run("sample-data", tmp_path / name, "--customers", 300, "--seed", 3, "-q")
        assert result.exit_code == 0 and result.stderr == ""
    for file in ("purchases.csv", "contacts.csv", "interactions.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    result = run("sample-data", tmp_path / "p", "--customers", 300, "--format", "parquet", "--locale", "ru")
    assert result.exit_code == 0 and "purchases.parquet" in result.stderr
    summary = run("summary", tmp_path / "p" / "purchases.parquet", "-q")
    assert summary.exit_code == 0 and len(summary.stdout.splitlines()) == 301


def test_python_dash_m_and_broken_pipe():
    version = subprocess.run([sys.executable, "-m", "custlens", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "custlens" in version.stdout
    pipe = subprocess.run(f"'{sys.executable}' -m custlens summary '{PURCHASES}' -q | head -2",
                          shell=True, capture_output=True, text=True, cwd=ROOT)
    assert pipe.stdout.startswith("customer_id,") and len(pipe.stdout.splitlines()) == 2
    assert "Traceback" not in pipe.stderr and "BrokenPipe" not in pipe.stderr


def test_startup_does_not_import_pandas():
    code = "import sys, custlens.cli; print('pandas' in sys.modules, 'pyarrow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False False"


def test_public_api():
    import custlens

    purchases, report = custlens.load_purchases([PURCHASES])
    assert len(custlens.customers(purchases).customers) == purchases["customer_id"].nunique()
    assert set(custlens.__all__) >= {"load_purchases", "customers", "emit", "CustlensError"}


def test_a_failing_run_leaves_no_output_file(run, tmp_path, monkeypatch):
    out = tmp_path / "customers.csv"
    assert run("summary", BAD / "text_in_amount.csv", "-o", out).exit_code == 1
    assert not out.exists()

    from custlens import output

    def half_then_fail(frame, fmt, fh, title=None):
        fh.write(b"customer_id,first_order\nC1,")
        raise OSError(28, "No space left on device")

    written_by_pandas = output.write
    monkeypatch.setattr(output, "write", half_then_fail)
    result = run("summary", PURCHASES, "-o", out, "--engine", "pandas")
    assert result.exit_code == 1 and "customers.csv: cannot be written (No space left on device)" in result.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []

    # the DuckDB engine writes the CSV itself (engine.write_csv), through the same atomic write
    from custlens import sink

    monkeypatch.setattr(output, "write", written_by_pandas)

    real = sink.write_atomic_path

    def full_after_writing(path, writer):
        def fail(tmp):
            writer(tmp)
            raise OSError(28, "No space left on device")
        real(path, fail)

    monkeypatch.setattr(sink, "write_atomic_path", full_after_writing)
    result = run("summary", PURCHASES, "-o", out, "--engine", "duckdb")
    assert result.exit_code == 1 and "customers.csv: cannot be written (No space left on device)" in result.stderr
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_sort_and_limit(run):
    result = run("summary", PURCHASES, "--sort", "-monetary", "--limit", 10, "-q")
    assert result.exit_code == 0, result.stderr
    got = pd.read_csv(io.StringIO(result.stdout))
    full = customers(load_purchases([PURCHASES])[0]).customers
    assert got["monetary"].tolist() == sorted(full["monetary"], reverse=True)[:10]
    bad = run("summary", PURCHASES, "--sort", "nope", "-q")
    assert bad.exit_code == 1 and "no column 'nope'" in bad.stderr


def test_an_unexpected_error_is_one_line_unless_debug(run, monkeypatch):
    from custlens import summary

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(summary, "customers", broken)
    result = run("summary", PURCHASES, "-q", "--engine", "pandas")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "internal error: ZeroDivisionError: division by zero" in result.stderr
    assert isinstance(run("--debug", "summary", PURCHASES, "-q", "--engine", "pandas").exception, ZeroDivisionError)
