"""The loader matrix: one small purchase table written in every format and export quirk must
load to the same canonical frame; then mapping, derivation, exclusion and rejects."""

import gzip
import datetime as dt

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import DATA, EXAMPLES, write_text
from custlens.errors import BadValuesError, MissingColumnError, StrictModeError
from custlens.io import LoadOptions, load_contacts, load_interactions, load_purchases

ROWS = [  # order_id, customer_id, date, amount
    ("A1", "C1", dt.date(2024, 1, 5), 1234.5),
    ("A2", "C2", dt.date(2024, 2, 29), 10.0),
    ("R1", "C1", dt.date(2024, 3, 13), -99.9),
    ("A3", "C3", dt.date(2024, 12, 31), 0.5),
]
EXPECTED = pd.DataFrame(ROWS, columns=["order_id", "customer_id", "order_date", "amount"])


def canonical(frame):
    out = frame[["order_id", "customer_id", "order_date", "amount"]].copy()
    out["order_date"] = out["order_date"].dt.date
    out["order_id"] = out["order_id"].astype(object)
    out["customer_id"] = out["customer_id"].astype(object)
    return out.reset_index(drop=True)


def assert_loads_expected(path, **options):
    frame, report = load_purchases([str(path)], LoadOptions(**options))
    pd.testing.assert_frame_equal(canonical(frame), EXPECTED, check_dtype=False)
    assert report.rows_excluded == 0
    return report


def text_table(header, fmt_date, fmt_amount, sep=","):
    lines = [sep.join(header)]
    for order, customer, day, amount in ROWS:
        lines.append(sep.join([order, customer, fmt_date(day), fmt_amount(amount)]))
    return "\n".join(lines) + "\n"


ISO = dt.date.isoformat
PLAIN = "{:.2f}".format


def ru_amount(v):
    return ("-" if v < 0 else "") + f"{abs(v):,.2f}".replace(",", "\u00a0").replace(".", ",")


CASES = {
    "csv-utf8": lambda p: write_text(p, text_table(["order_id", "customer_id", "date", "amount"], ISO, PLAIN)),
    "csv-quoted-currency": lambda p: write_text(p, text_table(
        ["Order ID", "Customer ID", "Order Date", "Total"], ISO, lambda v: f'"{"-" if v < 0 else ""}${abs(v):,.2f}"')),
    "csv-ru-cp1251": lambda p: write_text(p, text_table(
        ["Номер заказа", "Клиент", "Дата", "Сумма"], lambda d: d.strftime("%d.%m.%Y"), ru_amount, ";"
    ).replace("\n", "\r\n"), "cp1251"),
    "csv-uk-bom": lambda p: write_text(p, text_table(
        ["Номер замовлення", "Клієнт", "Дата", "Сума"], lambda d: d.strftime("%d.%m.%Y"), ru_amount, ";"
    ), "utf-8-sig"),
    "tsv-us-dates": lambda p: write_text(p, text_table(
        ["InvoiceNo", "CustomerID", "InvoiceDate", "Amount"], lambda d: f"{d.month}/{d.day}/{d.year} 10:05",
        PLAIN, "\t")),
    "utf16-excel-text": lambda p: write_text(p, text_table(
        ["Invoice", "Customer ID", "InvoiceDate", "Sales"], ISO, PLAIN, "\t"), "utf-16"),
    "pipe": lambda p: write_text(p, text_table(["order_id", "customer_id", "date", "amount"], ISO, PLAIN, "|")),
    "dotted-thousands": lambda p: write_text(p, text_table(
        ["Заказ", "Покупатель", "Дата документа", "Итого"], lambda d: d.strftime("%d.%m.%Y 0:00:00"),
        lambda v: f"{v:,.2f}".replace(",", "X").replace(".", ",").replace("X", "."), ";")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_text_formats_load_the_same(case, tmp_path):
    path = CASES[case](tmp_path / f"{case}.csv")
    assert_loads_expected(path)


def test_gzip(tmp_path):
    path = tmp_path / "p.csv.gz"
    path.write_bytes(gzip.compress(text_table(["order_id", "customer_id", "date", "amount"], ISO, PLAIN).encode()))
    assert_loads_expected(path)


def typed_frame():
    frame = EXPECTED.rename(columns={"order_date": "date"}).copy()
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def test_parquet_file_folder_and_glob(tmp_path):
    typed_frame().to_parquet(tmp_path / "all.parquet")
    assert_loads_expected(tmp_path / "all.parquet")
    folder = tmp_path / "parts"
    folder.mkdir()
    typed_frame().iloc[:2].to_parquet(folder / "part-1.parquet")
    typed_frame().iloc[2:].to_parquet(folder / "part-2.parquet")
    assert_loads_expected(folder)
    assert_loads_expected(str(folder / "part-*.parquet"))


def test_xlsx_typed_cells_and_sheet(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["this sheet is not the data"])
    sheet = book.create_sheet("Orders")
    sheet.append(["Номер заказа", "Клиент", "Дата", "Сумма"])
    for order, customer, day, amount in ROWS:
        sheet.append([order, customer, dt.datetime.combine(day, dt.time()), amount])
    path = tmp_path / "orders.xlsx"
    book.save(path)
    assert_loads_expected(path, sheet="Orders")
    assert_loads_expected(path, sheet="2")


def test_xlsx_excel_serial_dates_and_float_ids(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["order_id", "CustomerID", "date", "amount"])
    epoch = dt.date(1899, 12, 30)
    for order, customer, day, amount in ROWS:
        book.active.append([order, float(customer[1:]) + 12344, (day - epoch).days, amount])
    path = tmp_path / "serial.xlsx"
    book.save(path)
    frame, _ = load_purchases([str(path)])
    assert frame["customer_id"].tolist() == ["12345", "12346", "12345", "12347"]
    assert frame["order_date"].dt.date.tolist() == [r[2] for r in ROWS]


def test_several_files_are_concatenated(tmp_path):
    text = text_table(["order_id", "customer_id", "date", "amount"], ISO, PLAIN).splitlines()
    write_text(tmp_path / "a.csv", "\n".join(text[:3]) + "\n")
    write_text(tmp_path / "b.csv", "\n".join([text[0]] + text[3:]) + "\n", "utf-8")
    frame, report = load_purchases([str(tmp_path / "a.csv"), str(tmp_path / "b.csv")])
    pd.testing.assert_frame_equal(canonical(frame), EXPECTED, check_dtype=False)
    assert [s.rows for s in report.sources] == [2, 2]


def test_cdnow_whitespace_file_with_yyyymmdd_dates():
    frame, report = load_purchases([str(DATA / "cdnow" / "CDNOW_master_head.txt")])
    assert len(frame) == 2000 and report.sources[0].delimiter == "whitespace"
    assert frame["order_date"].min() == pd.Timestamp("1997-01-01")
    assert report.sources[0].date_formats["order_date"] == ("%Y%m%d",)
    raw = pd.read_csv(DATA / "cdnow" / "CDNOW_master_head.txt", sep=r"\s+")
    assert frame["amount"].sum() == pytest.approx(raw["dollar_value"].sum())
    assert frame["customer_id"].iloc[0] == "00001"  # leading zeros kept: ids are text


def test_examples_ru_is_the_same_data_as_examples():
    en, en_report = load_purchases([str(EXAMPLES / "purchases.csv")])
    ru, ru_report = load_purchases([str(EXAMPLES / "ru" / "purchases.csv")])
    assert ru_report.sources[0].encoding == "cp1251" and ru_report.sources[0].delimiter == ";"
    assert ru_report.sources[0].decimal == ","
    assert ru_report.sources[0].date_formats["order_date"] == ("%d.%m.%Y",)
    assert en["customer_id"].tolist() == ru["customer_id"].tolist()
    assert en["order_date"].dt.normalize().tolist() == ru["order_date"].tolist()
    assert en["quantity"].tolist() == ru["quantity"].tolist()
    assert (ru["amount"] == ru["quantity"] * ru["unit_price"]).all()
    assert en_report.excluded.keys() == ru_report.excluded.keys()


def test_contacts_and_interactions_load(tmp_path):
    contacts, _ = load_contacts([str(EXAMPLES / "ru" / "contacts.csv")])
    assert {"customer_id", "name", "email", "phone", "signup_date", "source", "consent", "city"} <= set(contacts)
    assert contacts["consent"].dtype == "boolean" and contacts["customer_id"].is_unique
    interactions, _ = load_interactions([str(EXAMPLES / "interactions.csv")])
    assert interactions["csat"].dropna().between(1, 5).all()
    assert interactions["nps"].dropna().between(0, 10).all()


# --- mapping and derivation ----------------------------------------------------------------

def test_map_option_and_config_columns(tmp_path):
    path = write_text(tmp_path / "p.csv", text_table(["doc", "who", "when", "sum_total"], ISO, PLAIN))
    with pytest.raises(MissingColumnError) as err:
        load_purchases([str(path)])
    message = str(err.value)
    assert message.startswith(str(path)) and "'doc', 'who', 'when', 'sum_total'" in message
    assert "--map customer_id=doc" in message
    assert_loads_expected(path, columns={"customer_id": "who", "order_date": "when", "amount": "sum_total",
                                         "order_id": "doc"})
    with pytest.raises(MissingColumnError, match="no column 'nope'"):
        load_purchases([str(path)], LoadOptions(columns={"amount": "nope"}))


def test_missing_amount_suggests_a_numeric_column(tmp_path):
    path = write_text(tmp_path / "p.csv", "customer_id,date,Итог\nC1,2024-01-01,12.5\n")
    with pytest.raises(MissingColumnError, match="--map amount=Итог"):
        load_purchases([str(path)])


def test_amount_from_quantity_and_price(tmp_path):
    path = write_text(tmp_path / "p.csv", "Клиент;Дата;Количество;Цена\nC1;01.02.2024;3;2,50\nC2;02.02.2024;1;10\n")
    frame, report = load_purchases([str(path)])
    assert frame["amount"].tolist() == [7.5, 10.0]
    assert any("quantity × unit_price" in n for n in report.notes)


def test_blank_total_on_later_order_lines_uses_quantity_times_price(tmp_path):
    # Shopify puts the order total only on the first line of an order.
    text = ("Name,Email,Created at,Total,Lineitem quantity,Lineitem price\n"
            "#1001,a@x.com,2024-01-01 10:00:00 +0300,30.00,1,20.00\n"
            "#1001,a@x.com,2024-01-01 10:00:00 +0300,,2,5.00\n")
    frame, report = load_purchases([str(write_text(tmp_path / "shopify.csv", text))])
    assert frame["amount"].tolist() == [30.0, 10.0]
    assert frame["customer_id"].tolist() == ["a@x.com"] * 2 and frame["order_id"].tolist() == ["#1001"] * 2


# --- exclusions ----------------------------------------------------------------------------

def test_exclusions_are_counted_with_samples_and_rejects(tmp_path):
    text = ("order_id,customer_id,date,amount\n"
            "A1,C1,2024-01-05,10\n"
            "A1,C1,2024-01-05,10\n"  # exact duplicate with an order id
            "A2,,2024-01-06,5\n"  # guest checkout
            "A3,C2,2024-02-31,5\n"  # impossible date
            "A4,C3,2024-01-07,abc\n"  # not a number
            "order_id,customer_id,date,amount\n"  # header repeated by concatenation
            "A5,C3,2024-01-08,7\n"
            "A6,C4,2024-01-09,1,extra\n")  # one field too many
    frame, report = load_purchases([str(write_text(tmp_path / "p.csv", text))])
    assert frame["order_id"].tolist() == ["A1", "A5"]
    counts = {reason: e.count for reason, e in report.excluded.items()}
    assert counts == {"wrong number of fields (expected 4, got 5)": 1, "repeated header line": 1,
                      "no customer id": 1, "unparseable order date": 1, "unparseable amount": 1,
                      "duplicate line": 1}
    assert report.rows_read == 8 and report.rows_loaded == 2
    assert report.excluded["unparseable order date"].samples == ["row 5 '2024-02-31'"]
    rejects = report.rejects
    assert len(rejects) == 6
    assert set(rejects["reason"]) == set(counts)
    with pytest.raises(StrictModeError, match="6 rows would be excluded"):
        load_purchases([str(tmp_path / "p.csv")], LoadOptions(strict=True))


def test_identical_lines_without_order_id_are_kept_and_noted(tmp_path):
    text = "customer_id,date,amount\nC1,2024-01-05,10\nC1,2024-01-05,10\n"
    frame, report = load_purchases([str(write_text(tmp_path / "p.csv", text))])
    assert len(frame) == 2 and not report.excluded
    assert any("1 line identical to an earlier line; kept" in n for n in report.notes)


def test_identical_lines_left_out_are_not_noted_as_kept(tmp_path):
    """Identical lines without a customer id are excluded, both: the note counts the kept ones only."""
    text = "customer_id,date,amount\nC1,2024-01-05,10\n,2024-01-05,3\n,2024-01-05,3\nC2,2024-01-06,4\nC2,2024-01-06,4\n"
    frame, report = load_purchases([str(write_text(tmp_path / "p.csv", text))])
    assert len(frame) == 3 and report.excluded["no customer id"].count == 2
    assert [n for n in report.notes if "identical" in n] == [
        (f"{tmp_path / 'p.csv'}: 1 line identical to an earlier line; kept, since without an order id they can be "
         "separate purchases on the same day")]


def test_text_in_amount_column_is_an_error_with_samples(tmp_path):
    text = "customer_id,date,amount\nC1,2024-01-05,ten\nC2,2024-01-06,lots\nC3,2024-01-06,5\n"
    with pytest.raises(BadValuesError) as err:
        load_purchases([str(write_text(tmp_path / "p.csv", text))])
    message = str(err.value)
    assert "column 'amount' (amount)" in message and "'ten', 'lots'" in message and "--map amount=" in message


def test_decimal_comma_hint(tmp_path):
    text = "customer_id,date,amount\nC1,2024-01-05,\"12,5\"\nC2,2024-01-06,\"1,25\"\n"
    frame, _ = load_purchases([str(write_text(tmp_path / "p.csv", text))])
    assert frame["amount"].tolist() == [12.5, 1.25]  # detected from the digits after the comma
    with pytest.raises(BadValuesError, match=r"try --decimal , \(decimal comma\)"):
        load_purchases([str(tmp_path / "p.csv")], LoadOptions(decimal="."))


def test_duplicate_header_name_for_a_role_is_an_error(tmp_path):
    text = "customer_id,date,amount,amount\nC1,2024-01-05,1,2\n"
    with pytest.raises(BadValuesError, match="appears 2 times"):
        load_purchases([str(write_text(tmp_path / "p.csv", text))])


def test_contacts_repeated_customer_is_excluded(tmp_path):
    text = "customer_id,name,consent\nC1,Anna,yes\nC1,Anna B.,no\nC2,Boris,да\n"
    frame, report = load_contacts([str(write_text(tmp_path / "c.csv", text))])
    assert frame["name"].tolist() == ["Anna", "Boris"] and frame["consent"].tolist() == [True, True]
    assert report.excluded["repeated customer id"].count == 1


def test_lines_differing_only_in_an_unmapped_column_are_not_duplicates(tmp_path):
    text = ("order_id,customer_id,date,amount,note\n"
            "A1,C1,2024-01-05,10,gift wrap\n"
            "A1,C1,2024-01-05,10,no wrap\n"
            "A1,C1,2024-01-05,10,no wrap\n")
    frame, report = load_purchases([str(write_text(tmp_path / "p.csv", text))])
    assert len(frame) == 2 and report.excluded["duplicate line"].count == 1
    assert report.excluded["duplicate line"].samples == ["row 4"]


def test_report_title_above_the_table_is_skipped(tmp_path):
    from openpyxl import Workbook

    text = ("Отчет о продажах;;;\nПериод: 01.01.2024 - 31.12.2024;;;\n;;;\n"
            + text_table(["Номер заказа", "Клиент", "Дата", "Сумма"], lambda d: d.strftime("%d.%m.%Y"), ru_amount, ";"))
    report = assert_loads_expected(write_text(tmp_path / "1c.csv", text, "cp1251"))
    assert report.sources[0].rows == len(ROWS)
    book = Workbook()
    book.active.append(["Отчет о продажах"])
    book.active.append(["Период: 2024 год"])
    book.active.append([])
    book.active.append(["Номер заказа", "Клиент", "Дата", "Сумма"])
    for order, customer, day, amount in ROWS:
        book.active.append([order, customer, dt.datetime.combine(day, dt.time()), amount])
    book.save(tmp_path / "1c.xlsx")
    frame, xreport = load_purchases([str(tmp_path / "1c.xlsx")])
    pd.testing.assert_frame_equal(canonical(frame), EXPECTED, check_dtype=False)
    assert xreport.rejects is None


@given(st.lists(st.tuples(st.sampled_from(["C1", "C2"]), st.sampled_from(["A1", "A2", None]),
                          st.sampled_from(["2024-01-01", "2024-01-02"]), st.sampled_from([1.0, 2.5, float("nan")]),
                          st.sampled_from(["x", "y"])), max_size=30))
def test_duplicate_lines_equals_a_full_comparison(rows):
    from custlens.io.load import duplicate_lines

    raw = pd.DataFrame(rows, columns=["customer_id", "order_id", "order_date", "amount", "note"], dtype=object)
    parsed = raw.drop(columns="note").astype({"amount": "float64"})
    parsed["order_date"] = pd.to_datetime(parsed["order_date"])
    assert duplicate_lines(raw, parsed).tolist() == raw.duplicated(keep="first").tolist()


@pytest.mark.parametrize("text, encoding", [
    ("Клиент;Дата;Сумма\n" + "Иванов;01.01.2024;0,00\n" * 3, "cp1251"),
    ("Клиент;Дата;Сумма\nИванов;07/01/2024;779\u00a0186,88 руб.\nнет;02/05/2025;(307192,18)\n", "cp1251"),
    ("Клиент;Дата;Сумма\n" + "Иванов;01.01.2024;0,00\n" * 3, "koi8_r"),
    ("Клиент;Дата;Сумма\n" + "Иванов;01.01.2024;0,00\n" * 3, "cp866"),
    ("Клиент;Дата;Сумма\nИванов;01.01.2024;0,00\nПетров;02.01.2024;5,00\n", "mac_cyrillic"),
    ("Клиент;Дата;Сумма\r\nК1;01.02.2024;10,5\r\nК2;02.02.2024;7\r\n\r\n;03.02.2024;9\r\nК5;04.02.2024;1\r\n", "cp1251"),
    ("Клиент;Дата;Сумма\r\nК1;01.02.2024;10,5\r\nК2;02.02.2024;7\r\n\r\n;03.02.2024;9\r\nК5;04.02.2024;1\r\n",
     "mac_cyrillic"),
    ("Customer;Date;Amount\nJosé;01.01.2024;0,00\nMüller;02.01.2024;5,00\n", "cp1252"),
])
def test_a_few_lines_are_read_in_their_encoding(tmp_path, text, encoding):
    """A few lines of cp1251 had as little chaos to charset-normalizer as mac_cyrillic (the small
    letters are the same bytes), which read the header as 'лиент;ƒата;—умма'."""
    from custlens.io.read import detect_encoding

    assert detect_encoding(text.encode(encoding), "f.csv") == encoding
    path = tmp_path / "in.csv"
    path.write_bytes(text.encode(encoding))
    frame, _ = load_purchases([str(path)])
    assert frame["customer_id"].iloc[0] == text.split("\n")[1].split(";")[0]


CYRILLIC = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"


@given(st.lists(st.builds(lambda a, b: a.upper() + b, st.sampled_from(CYRILLIC), st.text(CYRILLIC, min_size=2, max_size=9)),
                min_size=1, max_size=8),
       st.sampled_from(["cp1251", "mac_cyrillic"]))
def test_cp1251_and_mac_cyrillic_are_told_apart_by_their_capitals(names, encoding):
    """A few lines of names: each encoding reads the other's capitals as signs or other letters
    (before, 99 of 300 random mac_cyrillic files were read as cp1251)."""
    from custlens.io.read import detect_encoding

    text = "Клиент;Дата;Сумма\n" + "".join(f"{n};0{i % 9 + 1}.02.2024;{i},5\n" for i, n in enumerate(names))
    assert detect_encoding(text.encode(encoding), "f.csv") == encoding


def test_mac_cyrillic_capitals_that_cp1251_reads_as_serbian_letters():
    """А, Б, Г, К, М, Н, О, П and Р in mac_cyrillic are Ђ, Ѓ, ѓ, Љ, Њ, Ќ, Ћ, Џ and ђ in cp1251:
    letters, but not Russian or Ukrainian ones."""
    from custlens.io.read import detect_encoding

    text = "Клиент;Номер;Павел\nАнна;Борис;Глеб\nКира;Мария;Нина\nОлег;Роман;Павел\n"
    assert detect_encoding(text.encode("mac_cyrillic"), "f.csv") == "mac_cyrillic"


def test_names_garbled_by_a_wrong_guess_of_the_encoding_point_to_encoding(tmp_path, monkeypatch):
    """Where the guess is wrong, the names come out with signs in them: the error names
    --encoding too; where the user gave the encoding, or the names are words, it does not."""
    from custlens.io import read as read_mod

    path = tmp_path / "p.csv"
    path.write_bytes("Клиент;Дата;Сумма\nИванов;01.01.2024;5,00\n".encode("cp1251"))
    monkeypatch.setattr(read_mod, "detect_encoding", lambda head, source: "mac_cyrillic")
    with pytest.raises(MissingColumnError) as e:
        load_purchases([str(path)])
    assert str(e.value).endswith(", or --encoding cp1251 if the names look garbled (the file was read as mac_cyrillic)")
    assert "'лиент', 'ƒата', '—умма'" in str(e.value)
    with pytest.raises(MissingColumnError) as e:
        load_purchases([str(path)], LoadOptions(encoding="mac_cyrillic"))
    assert "--encoding" not in str(e.value)
    path.write_bytes("Клиент;Дата;Сумма\nИванов;01.01.2024;5,00\n".encode("cp866"))
    monkeypatch.setattr(read_mod, "detect_encoding", lambda head, source: "cp1251")
    with pytest.raises(MissingColumnError) as e:
        load_purchases([str(path)])
    assert str(e.value).endswith(", or --encoding (e.g. cp866, mac_cyrillic) if the names look garbled (the file was "
                                 "read as cp1251)")
    monkeypatch.undo()
    path.write_text("Имя;Дата;Сумма, ₽\nИванов;01.01.2024;5,00\n", encoding="utf-8")  # UTF-8 is no guess
    with pytest.raises(MissingColumnError) as e:
        load_purchases([str(path)])
    assert "'Сумма, ₽'" in str(e.value) and "--encoding" not in str(e.value)
    path.write_bytes("Имя;Когда;Итого\nИванов;01.01.2024;5,00\n".encode("cp1251"))
    monkeypatch.setattr(read_mod, "detect_encoding", lambda head, source: "cp1251")
    with pytest.raises(MissingColumnError) as e:
        load_purchases([str(path)])
    assert "--encoding" not in str(e.value)
