"""`custlens rfm` and `custlens pareto` end to end: options, formats, config, the Russian export."""

import csv
import io
import json

import pandas as pd
import pytest

from conftest import EXAMPLES
from custlens import pareto, rfm
from custlens.io import load_contacts, load_purchases
from custlens.summary import customers

PURCHASES = str(EXAMPLES / "purchases.csv")


@pytest.fixture(scope="module")
def library():
    purchases = load_purchases([PURCHASES])[0]
    summary = customers(purchases)
    return purchases, summary


def read(result):
    assert result.exit_code == 0, result.stderr
    return pd.read_csv(io.StringIO(result.stdout), dtype={"customer_id": str, "rfm": str}, keep_default_na=False,
                       na_values=[""])


def test_rfm_matches_the_library(run, library):
    got = read(run("rfm", PURCHASES, "-q"))
    expected = rfm.segment(rfm.score(library[1].customers))
    assert got.columns.tolist() == ["customer_id", "recency_days", "frequency", "monetary", "r", "f", "m", "rfm",
                                    "score", "segment"]
    assert got["rfm"].tolist() == expected["rfm"].tolist()
    assert got["segment"].tolist() == expected["segment"].tolist()


def test_rfm_summary_and_bins_and_formats(run, library, tmp_path):
    summary = read(run("rfm", PURCHASES, "--summary", "-q"))
    assert summary["customers"].sum() == len(library[1].customers)
    assert summary["share"].sum() == pytest.approx(1)
    assert summary["revenue"].sum() == pytest.approx(library[1].customers["monetary"].sum(), abs=0.1)
    four = read(run("rfm", PURCHASES, "--bins", 4, "-q"))
    assert set(four["r"]) <= {1, 2, 3, 4} and four["segment"].notna().all()
    ranges = read(run("rfm", PURCHASES, "--show-bins", "-q"))
    assert set(ranges["dimension"]) == {"recency_days", "frequency", "monetary"}
    out = tmp_path / "rfm.xlsx"
    assert run("rfm", PURCHASES, "--summary", "-o", out, "-q").exit_code == 0
    assert pd.read_excel(out)["segment"].tolist() == summary["segment"].tolist()
    records = json.loads(run("rfm", PURCHASES, "--format", "json", "--limit", 3, "-q").stdout)
    assert len(records) == 3 and isinstance(records[0]["rfm"], str)
    table = run("rfm", PURCHASES, "--summary", "--format", "table", "-q")
    assert "Champions" in table.stdout and "%" in table.stdout
    assert run("rfm", PURCHASES, "--bins", 12).exit_code == 2
    assert run("rfm", PURCHASES, "--summary", "--show-bins").exit_code == 2


def test_rfm_config_rules_fixed_edges_and_check(run, in_tmp):
    (in_tmp / "custlens.toml").write_text("""
[rfm]
method = "fixed"
[rfm.edges]
recency_days = [30, 90, 180, 365]
frequency = [2, 3, 5, 10]
monetary = [50, 100, 250, 500]
[[rfm.segments]]
name = "VIP"
r = [4, 5]
f = [4, 5]
action = "Call them"
[[rfm.segments]]
name = "Lapsed"
r = [1, 1]
""", encoding="utf-8")
    result = run("rfm", PURCHASES, "-q")
    table = read(result)
    assert set(table["segment"]) == {"VIP", "Lapsed", "Other"}
    assert (table.loc[table["recency_days"] > 365, "r"] == 1).all()
    assert (table.loc[table["frequency"] >= 10, "f"] == 5).all()
    others = int((table["segment"] == "Other").sum())
    assert f"warning: {others:,} customers match no segment rule" in result.stderr
    check = run("rfm", PURCHASES, "--check-rules")
    problems = read(check)
    assert set(problems["kind"]) == {"gap"} and "0 overlaps" in check.stderr
    summary = read(run("rfm", PURCHASES, "--summary", "-q"))
    assert summary["segment"].tolist() == ["VIP", "Lapsed", "Other"]
    assert summary.loc[0, "action"] == "Call them"


def test_pareto_matches_the_library(run, library):
    got = read(run("pareto", PURCHASES, "-q"))
    summary = library[1].customers
    expected = pareto.rank(summary, pareto.customer_values(summary), name="revenue")
    assert got["customer_id"].tolist() == expected["customer_id"].tolist()
    assert got["key_client"].tolist() == expected["key_client"].tolist()
    assert got["cumulative_share"].dropna().iloc[-1] == pytest.approx(1)


def test_pareto_options(run, library):
    result = run("pareto", PURCHASES, "--summary")
    table = read(result)
    summary = library[1].customers
    n, positive = len(summary), summary[summary["monetary"] > 0]["monetary"].sort_values(ascending=False)
    k = int((positive.cumsum().shift(fill_value=0) < 0.8 * positive.sum()).sum())  # independent count
    assert f"{k:,} customers ({k / n:.1%} of customers) bring 80% of revenue" in result.stderr
    assert table.loc[table["group"] == "key clients (80%)", "customers"].item() == k
    ninety = read(run("pareto", PURCHASES, "--share", 0.9, "--summary", "-q"))
    assert ninety.loc[ninety["group"] == "key clients (90%)", "customers"].item() > k
    only = read(run("pareto", PURCHASES, "--key-clients-only", "-q"))
    assert len(only) == k and only["key_client"].all()
    orders = read(run("pareto", PURCHASES, "--by", "orders", "-q"))
    assert "orders" in orders.columns and orders["orders"].iloc[0] == summary["frequency"].max()
    margin = read(run("pareto", PURCHASES, "--by", "margin", "-q")).set_index("customer_id")["margin"]
    raw = pd.read_csv(PURCHASES, dtype={"customer_id": str}).dropna(subset=["customer_id"])
    expected = (raw["amount"] - raw["cost"]).groupby(raw["customer_id"]).sum().round(2)  # the examples' own costs
    assert margin.to_dict() == pytest.approx(expected.to_dict(), abs=0.005)
    top = expected.sort_values(ascending=False).index[:3]
    assert margin.iloc[0] == expected.max() and (margin.index[:3] == top).all()
    abc = read(run("pareto", PURCHASES, "--abc", "0.5,0.9", "-q"))
    assert abc.loc[abc["abc_class"] == "A", "revenue"].sum() >= 0.5 * positive.sum()
    assert run("pareto", PURCHASES, "--abc", "0.9,0.5").exit_code == 2


def test_pareto_portrait_with_contacts(run, library):
    result = run("pareto", PURCHASES, "--portrait", "--contacts", EXAMPLES / "contacts.csv", "-q")
    table = read(result).set_index("measure")
    contacts = load_contacts([str(EXAMPLES / "contacts.csv")])[0]
    summary = library[1].customers
    key_ids = set(read(run("pareto", PURCHASES, "--key-clients-only", "-q"))["customer_id"])
    key_contacts = contacts[contacts["customer_id"].isin(key_ids)]
    assert float(table.loc["consent_share", "key_clients"]) == pytest.approx(key_contacts["consent"].mean())
    assert int(table.loc["customers", "key_clients"]) == len(key_ids)
    assert float(table.loc["avg_orders", "the_rest"]) == pytest.approx(
        summary.loc[~summary["customer_id"].isin(key_ids), "frequency"].mean(), abs=0.005)
    assert "top_cities" in table.index and "top_categories" in table.index


def russian_copy(folder):
    """examples/purchases.csv written the way a Russian accounting system would: cp1251, ';',
    decimal commas with non-breaking spaces, dd.mm.yyyy, Russian headers. Same rows."""
    path = folder / "покупки.csv"
    with open(PURCHASES, newline="", encoding="utf-8") as src, open(path, "w", newline="", encoding="cp1251") as dst:
        reader = csv.DictReader(src)
        writer = csv.writer(dst, delimiter=";", lineterminator="\r\n")
        writer.writerow(["Номер заказа", "Клиент", "Дата", "Товар", "Кол-во", "Цена", "Сумма"])
        for row in reader:
            y, m, d = row["date"][:10].split("-")
            money = [f"{float(row[k]):,.2f}".replace(",", "\u00a0").replace(".", ",") for k in ("unit_price", "amount")]
            writer.writerow([row["order_id"], row["customer_id"], f"{d}.{m}.{y}", row["product"], row["quantity"], *money])
    return path


@pytest.mark.parametrize("command", [["rfm"], ["rfm", "--summary"], ["pareto"], ["pareto", "--summary"],
                                     ["summary"]])
def test_russian_export_gives_the_same_numbers(run, tmp_path, command):
    ru = russian_copy(tmp_path)
    english = run(command[0], PURCHASES, *command[1:], "-q")
    russian = run(command[0], ru, *command[1:], "-q")
    assert russian.exit_code == 0, russian.stderr
    assert russian.stdout == english.stdout


@pytest.mark.parametrize("command", [["rfm"], ["rfm", "--summary"], ["pareto"], ["pareto", "--summary"],
                                     ["pareto", "--portrait"]])
@pytest.mark.parametrize("ext", ["csv", "tsv", "json", "jsonl", "parquet", "xlsx"])
def test_report_files_in_every_format(run, tmp_path, command, ext):
    out = tmp_path / f"report.{ext}"
    result = run(command[0], PURCHASES, *command[1:], "-o", out, "-q")
    assert result.exit_code == 0, result.stderr
    reference = read(run(command[0], PURCHASES, *command[1:], "-q"))
    if ext == "parquet":
        back = pd.read_parquet(out)
    elif ext == "xlsx":
        back = pd.read_excel(out)
    elif ext in ("json", "jsonl"):
        back = pd.read_json(out, lines=ext == "jsonl", dtype=False)
    else:
        back = pd.read_csv(out, sep="\t" if ext == "tsv" else ",", dtype=str)
    assert back.columns.tolist() == reference.columns.tolist() and len(back) == len(reference)
    assert back.iloc[:, 0].astype(str).tolist() == reference.iloc[:, 0].astype(str).tolist()


def test_rfm_method_option_and_explicit_config(run, tmp_path):
    config = tmp_path / "team.toml"
    config.write_text("[rfm]\nbins = 4\n[rfm.edges]\nrecency_days = [30, 90, 365]\nfrequency = [2, 4, 8]\n"
                      "monetary = [100, 500, 1000]\n", encoding="utf-8")
    table = read(run("rfm", PURCHASES, "--config", config, "--method", "fixed", "-q"))
    assert table["f"].tolist() == [1 + sum(f >= e for e in (2, 4, 8)) for f in table["frequency"]]
    assert table["r"].tolist() == [4 - sum(r > e for e in (30, 90, 365)) for r in table["recency_days"]]
    missing = run("rfm", PURCHASES, "--method", "fixed")
    assert missing.exit_code == 1 and "[rfm.edges]" in missing.stderr
