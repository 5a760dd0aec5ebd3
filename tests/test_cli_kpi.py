"""`custlens kpi` and `custlens cohorts` end to end."""

import io

import pandas as pd
import pytest

from conftest import EXAMPLES
from custlens import cohorts, kpi
from custlens.io import load_interactions, load_purchases

PURCHASES = str(EXAMPLES / "purchases.csv")
INTERACTIONS = str(EXAMPLES / "interactions.csv")


def read(result):
    assert result.exit_code == 0, result.stderr
    return pd.read_csv(io.StringIO(result.stdout), keep_default_na=False, na_values=[""])


def test_kpi_matches_the_library(run):
    table = read(run("kpi", PURCHASES, "--before", "2024-07-01..2024-12-31", "--after", "2025-01-01..2025-06-30",
                     "--interactions", INTERACTIONS, "--bootstrap", 300, "-q"))
    assert table.columns.tolist() == kpi.COLUMNS
    purchases = load_purchases([PURCHASES])[0]
    expected = kpi.compare(purchases, kpi.parse_period("2024-07-01..2024-12-31"),
                           kpi.parse_period("2025-01-01..2025-06-30"),
                           interactions=load_interactions([INTERACTIONS])[0], resamples=300)
    assert table["kpi"].tolist() == expected["kpi"].tolist()
    pd.testing.assert_series_equal(table["after"], expected["after"], check_names=False, atol=1e-6)
    verdicts = table.set_index("kpi")["verdict"]
    # the sample data's loyalty programme (2025-01-01) raised repeat purchasing and CSAT
    assert verdicts["repeat_purchase_rate"] == "up" and verdicts["csat_share"] == "up"


def test_split_window_by_channel_and_stages(run):
    table = read(run("kpi", PURCHASES, "--split", "2025-01-01", "--window", "90d", "--by", "channel", "--stages",
                     "--bootstrap", 200, "-q"))
    assert table.columns[0] == "group" and table["group"].iloc[0] == "all"
    channels = set(load_purchases([PURCHASES])[0]["channel"].dropna())
    assert set(table["group"]) == {"all"} | channels
    all_rows = table[table["group"] == "all"].set_index("kpi")
    by_channel = table[table["group"] != "all"].pivot(index="kpi", columns="group", values="after")
    assert by_channel.loc["revenue"].sum() == pytest.approx(all_rows.loc["revenue", "after"], abs=0.01)
    assert {"stage_active", "stage_lapsed"} <= set(all_rows.index)


def test_by_segment_file_and_costs(run, tmp_path):
    segments = tmp_path / "rfm.csv"
    segments.write_text(run("rfm", PURCHASES, "-q").stdout, encoding="utf-8")
    table = read(run("kpi", PURCHASES, "--split", "2025-01-01", "--window", "180d", "--by", segments,
                     "--bootstrap", 200, "-q"))
    assert "Champions" in set(table["group"])
    costs = tmp_path / "costs.csv"
    costs.write_text("Дата;Статья;Сумма\n15.08.2024;привлечение;1 000,00\n10.02.2025;привлечение;2 000,00\n"
                     "11.02.2025;удержание;500,00\n", encoding="cp1251")
    with_costs = read(run("kpi", PURCHASES, "--split", "2025-01-01", "--window", "180d", "--costs", costs,
                          "--bootstrap", 200, "-q")).set_index("kpi")
    new = with_costs.loc["new_customers"]
    assert with_costs.loc["cac", "before"] == pytest.approx(1000 / new.before)
    assert with_costs.loc["cac", "after"] == pytest.approx(2000 / new.after)


@pytest.mark.parametrize("args, code, message", [
    (["--before", "2025-03-01..2025-01-01", "--after", "2025-04-01..2025-05-01"], 1, "end is before the start"),
    (["--before", "2030-01-01..2030-02-01", "--after", "2025-04-01..2025-05-01"], 1, "has no purchases"),
    (["--before", "last year", "--after", "2025-04-01..2025-05-01"], 1, "YYYY-MM-DD..YYYY-MM-DD"),
    (["--split", "2025-01-01"], 2, "--window"),
    ([], 2, "give the periods"),
    (["--split", "2025-01-01", "--window", "30d", "--by", "colour"], 1, "no colour column"),
])
def test_bad_periods(run, args, code, message):
    result = run("kpi", PURCHASES, *args)
    assert result.exit_code == code and message in result.stderr and "Traceback" not in result.stderr


def test_partly_outside_warns(run):
    result = run("kpi", PURCHASES, "--split", "2025-12-01", "--window", "60d", "--bootstrap", 100, "-q")
    assert result.exit_code == 0 and "partly outside the data" in result.stderr


def test_cohorts(run, tmp_path):
    table = read(run("cohorts", PURCHASES, "--period", "quarter", "-q"))
    purchases = load_purchases([PURCHASES])[0]
    expected = cohorts.cohort_matrix(purchases, period="quarter")
    assert table["customers"].tolist() == expected["customers"].tolist()
    assert table["customers"].sum() == purchases["customer_id"].nunique()
    ltv = read(run("cohorts", PURCHASES, "--metric", "ltv", "-q"))
    assert ltv.columns[2] == "month_0"
    out = tmp_path / "cohorts.xlsx"
    assert run("cohorts", PURCHASES, "--metric", "revenue", "-o", out, "-q").exit_code == 0
    assert pd.read_excel(out)["customers"].sum() == table["customers"].sum()
    shown = run("cohorts", PURCHASES, "--period", "quarter", "--format", "table", "-q")
    assert "%" in shown.stdout


def test_cohorts_say_what_the_summary_says(run):
    """cohorts reports customers, later lines and return-only customers as the summary counts them
    (it no longer computes the summary to say so)."""
    from custlens.summary import customers

    result = run("cohorts", PURCHASES, "--as-of", "2025-03-31")
    purchases = load_purchases([PURCHASES])[0]
    summary = customers(purchases, as_of="2025-03-31")
    assert summary.lines_after_as_of > 0
    assert f"as of 2025-03-31: {len(summary.customers):,} customers" in result.stderr
    assert f"excluded {summary.lines_after_as_of:,} lines dated after the as-of date" in result.stderr
    table = read(result)
    assert table["customers"].sum() == len(summary.customers)
