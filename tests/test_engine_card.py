"""`custlens card` on the DuckDB engine: the summary and baskets from aggregates, then only the
one customer's lines (engine.customer_lines), parsed as the pandas loader parses the whole file.
Each case compares the card from both engines.
"""

import json

import pandas as pd
import pytest
from conftest import EXAMPLES

from custlens import engine
from custlens.io import LoadOptions, load_purchases

PURCHASES = EXAMPLES / "purchases.csv"
CONTACTS = EXAMPLES / "contacts.csv"
RU = EXAMPLES / "ru"
PANDAS_READS = "this report reads the purchase lines: using the pandas engine"


def both_cards(run, *args):
    cards = {}
    for name in ("duckdb", "pandas"):
        result = run("card", *args, "--format", "json", "--engine", name)
        assert result.exit_code == 0, result.stderr
        cards[name] = (json.loads(result.stdout), result.stderr)
    (fast, fast_said), (slow, slow_said) = cards["duckdb"], cards["pandas"]
    assert PANDAS_READS not in fast_said and "DuckDB engine" in fast_said
    assert fast_said.replace("; DuckDB engine", "") == slow_said
    assert fast == slow
    return fast


@pytest.mark.parametrize("who", ["C000147", "C001488", "C000001", "C002150"])
def test_cards_of_the_examples_are_the_same_from_both_engines(run, who):
    """A regular customer, the first line's, another, and a contact who never bought."""
    card = both_cards(run, who, "--purchases", PURCHASES, "--contacts", CONTACTS, "--interactions",
                      EXAMPLES / "interactions.csv")
    assert card["customer_id"] == who


def test_cards_found_by_email_or_phone_and_at_an_as_of_date(run):
    contacts = pd.read_csv(CONTACTS, dtype=str)
    row = contacts[contacts["customer_id"] == "C000147"].iloc[0]
    for how in (["--email", row["email"].upper()], ["--phone", row["phone"]]):
        card = both_cards(run, *how, "--purchases", PURCHASES, "--contacts", CONTACTS, "--as-of", "2025-03-31")
        assert card["customer_id"] == "C000147" and card["as_of"] == "2025-03-31"
        assert all(p["date"] <= "2025-03-31" for p in card["last_purchases"]) and card["last_purchases"]


@pytest.mark.parametrize("who", ["C000147", "C000009"])
def test_cards_of_a_russian_export_are_the_same_from_both_engines(run, who):
    """cp1251, ';', decimal commas and spaces in amounts, dd.mm.yyyy dates."""
    card = both_cards(run, who, "--purchases", RU / "purchases.csv", "--contacts", RU / "contacts.csv",
                      "--interactions", RU / "interactions.csv")
    assert card["last_purchases"] and card["favourite_categories"] and card["recommendations"]


def test_a_card_from_parquet_with_integer_product_ids(run, tmp_path):
    raw = pd.read_csv(PURCHASES, dtype=str, keep_default_na=False)
    raw.insert(3, "sku", raw["product"].map({n: 1000 + i for i, n in enumerate(sorted(raw["product"].unique()))}))
    raw = raw.astype({"quantity": int, "unit_price": float, "amount": float, "cost": float})
    raw["date"] = pd.to_datetime(raw["date"])
    path = tmp_path / "lines.parquet"
    raw.to_parquet(path, index=False)
    card = both_cards(run, "C000147", "--purchases", path)
    assert card["recommendations"] and card["last_purchases"][0]["quantity"] >= 1


def test_times_within_a_day_order_the_last_purchases(run, tmp_path):
    """The later time of a day comes first, whatever the order of the file; equal times keep it."""
    path = tmp_path / "lines.csv"
    path.write_text("customer_id;date;product;quantity;amount\n"
                    "A;05.01.2025 09:00;Tea;1;1,50\nB;25.01.2025 10:00;Mug;2;3,00\n"
                    "A;05.01.2025 18:30;Cups;1,5;2,25\nA;05.01.2025 09:00;Pot;1;4,00\nA;03.01.2025 12:00;Tea;1;1,50\n",
                    encoding="utf-8")
    card = both_cards(run, "A", "--purchases", path)
    assert [(p["date"], p["product"], p["quantity"], p["amount"]) for p in card["last_purchases"]] == [
        ("2025-01-05", "Cups", 1.5, 2.25), ("2025-01-05", "Tea", 1, 1.5), ("2025-01-05", "Pot", 1, 4),
        ("2025-01-03", "Tea", 1, 1.5)]


@pytest.mark.parametrize("dates, shown", [
    (("05.03.2025", "07.04.2025", "25.03.2025"), ["2025-04-07", "2025-03-05"]),  # B's 25th: day first
    (("03/05/2025", "04/07/2025", "03/25/2025"), ["2025-04-07", "2025-03-05"]),  # B's 25th: month first
])
def test_a_customer_s_dates_are_read_in_the_file_s_order_of_day_and_month(run, tmp_path, dates, shown):
    """A's own dates could be read either way; the whole file decides, on both engines."""
    path = tmp_path / "lines.csv"
    path.write_text(f"customer_id,date,amount\nA,{dates[0]},10\nA,{dates[1]},20\nB,{dates[2]},30\n", encoding="utf-8")
    card = both_cards(run, "A", "--purchases", path)
    assert [p["date"] for p in card["last_purchases"]] == shown


def test_a_customer_with_returns_only(run, tmp_path):
    path = tmp_path / "lines.csv"
    path.write_text("customer_id,date,category,amount\nA,2025-01-02,Tea,10\nR,2025-01-03,Tea,-5\nA,2025-02-01,Cups,4\n",
                    encoding="utf-8")
    card = both_cards(run, "R", "--purchases", path)
    assert card["orders"] is None and card["last_purchases"] == [{"date": "2025-01-03", "category": "Tea", "amount": -5}]


def test_a_card_from_parquet_instants_shows_their_local_days(run, tmp_path):
    """Dates of instants stored in Moscow time: the card's lines come from DuckDB, which hands
    instants over in the session's zone (UTC here); the loader must get Moscow's local time."""
    from test_engine import instants_parquet

    path, lines = instants_parquet(tmp_path, "Europe/Moscow")
    crossing = lines[lines["date"].dt.hour < 3]  # a different day in UTC
    who = crossing["customer_id"].value_counts().index[0]
    card = both_cards(run, who, "--purchases", path)
    shown = {line["date"] for line in card["last_purchases"]}
    assert shown and shown <= {f"{d:%Y-%m-%d}" for d in lines.loc[lines["customer_id"] == who, "day"]}


def test_a_card_from_times_with_utc_offsets_shows_the_days_the_whole_file_decides(run, tmp_path):
    """The file mixes offsets, so pandas reads its times in UTC; customer A's own lines have one
    offset, which alone would keep their local time (a day later here)."""
    path = tmp_path / "lines.csv"
    path.write_text("customer_id,order_date,amount\nA,2024-01-02T00:30:00+03:00,10\nA,2024-01-05T00:30:00+03:00,10\n"
                    "B,2024-01-03T23:10:00-05:00,5\nB,2024-01-04T23:00:00-05:00,5\n")
    card = both_cards(run, "A", "--purchases", path)
    assert [line["date"] for line in card["last_purchases"]] == ["2024-01-04", "2024-01-01"]


def test_customer_lines_are_the_loader_s(tmp_path):
    """engine.customer_lines gives the rows and values the pandas loader gives on the whole file,
    in file order also where the engine reads a Parquet file as ranges of rows side by side."""
    parquet = tmp_path / "purchases.parquet"
    pd.read_csv(PURCHASES, parse_dates=["date"]).to_parquet(parquet, index=False)
    for path in (PURCHASES, RU / "purchases.csv", parquet):
        source = engine.open_source([str(path)], LoadOptions())
        if path == parquet:
            source.row_ranges = 3
        result = engine.summarize(source, keep_days=True)
        everything = load_purchases([str(path)])[0]
        for who in ("C000147", "C000009", "C001999"):
            expected = everything[everything["customer_id"] == who].reset_index(drop=True)
            got = engine.customer_lines(result, who)
            pd.testing.assert_frame_equal(got, expected, check_dtype=False)
            assert len(got) > 0
        assert engine.customer_lines(result, "nobody").empty


def test_a_blank_product_column_costs_the_card_its_recommendations(run, tmp_path):
    raw = pd.read_csv(PURCHASES, dtype=str, keep_default_na=False).assign(product="").drop_duplicates()
    path = tmp_path / "lines.csv"
    raw.to_csv(path, index=False)
    card = both_cards(run, "C000147", "--purchases", path)
    assert card["recommendations"] == [] and card["last_purchases"]


def test_lines_of_one_day_keep_the_file_s_order_from_a_parquet_file_of_many_row_groups(run, tmp_path):
    """DuckDB reads row groups in parallel; the card's lines still come in file order."""
    n = 20_000
    frame = pd.DataFrame({"customer_id": ["A" if i % 100 == 0 else f"C{i % 97}" for i in range(n)],
                          "order_date": pd.Timestamp("2025-01-05 10:00"), "product": [f"P{i:05d}" for i in range(n)],
                          "amount": 1.0})
    path = tmp_path / "lines.parquet"
    frame.to_parquet(path, index=False, row_group_size=500)
    card = both_cards(run, "A", "--purchases", path)
    assert [p["product"] for p in card["last_purchases"]] == [f"P{i:05d}" for i in range(0, 1000, 100)]


def test_a_customer_whose_own_lines_are_mostly_unreadable(run, tmp_path):
    """The loader refuses a column most of whose values it cannot read, in the whole file: C1's
    one unreadable amount of two, and C3's one date, refuse nothing (of eight lines); C3 has no
    line left: no card, but for a contact. Found with blank amounts filled from quantity × unit
    price, which brought such files to the DuckDB engine."""
    path = tmp_path / "lines.csv"
    path.write_text("customer_id,date,amount\nC1,2025-01-02,x\nC1,2025-01-03,5\nC3,someday,4\n"
                    + "".join(f"C2,2025-01-0{d},{d}\n" for d in range(1, 6)), encoding="utf-8")
    card = both_cards(run, "C1", "--purchases", path)
    assert [(p["date"], p["amount"]) for p in card["last_purchases"]] == [("2025-01-03", 5.0)]
    cards = [run("card", "C3", "--purchases", path, "--engine", name) for name in ("duckdb", "pandas")]
    assert cards[0].exit_code == cards[1].exit_code == 1  # C3's one line is excluded: no such customer
    assert cards[0].stderr.replace("; DuckDB engine", "") == cards[1].stderr
    assert "no customer 'C3'" in cards[0].stderr
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("customer_id,name\nC3,Vera\n", encoding="utf-8")
    card = both_cards(run, "C3", "--purchases", path, "--contacts", contacts)  # a contact: a card without purchases
    assert card["name"] == "Vera" and card["last_purchases"] == [] and card["orders"] is None


@pytest.mark.parametrize("amount", [False, True])
def test_a_customer_s_prices_are_read_with_the_whole_file_s_decimal_mark(run, tmp_path, amount):
    """'2,50' elsewhere in the file makes the comma the unit prices' decimal mark, so C3's '1,000'
    is 1.0 (alone, it would read as a thousand): the card reads C3's line with the mark the whole
    file chose, as the pandas loader reads it; with an amount column ('12.00': a decimal point) whose
    blank C3 fills, too."""
    path = tmp_path / "lines.csv"
    total = "amount," if amount else ""
    path.write_text(f"customer_id,date,{total}quantity,unit_price\n"
                    f"C1,2025-02-01,{'12.00,' if amount else ''}3,\"2,50\"\n"
                    f"C3,2025-02-10,{',' if amount else ''}1,\"1,000\"\n", encoding="utf-8")
    card = both_cards(run, "C3", "--purchases", path)
    assert [p["amount"] for p in card["last_purchases"]] == [1.0]
