"""The DuckDB engine reads dates and amounts written as text as the pandas loader does:
decimal commas, thousands separators, currency marks, dd.mm.yyyy and other date formats,
cp1251 and other encodings, ``--decimal`` and ``--date-format`` (custlens.textvalues).

Each case runs both engines on the same file and compares the summary and what they say.
"""

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_engine import NO_AMOUNT, PURCHASES, SHOPIFY, assert_same, both

from custlens import engine, textvalues
from custlens.errors import CustlensError
from custlens.io import LoadOptions, load_purchases
from custlens.io.parse import parse_dates
from custlens.summary import customers


def same_report(run, command, path) -> str:
    """``command`` on ``path`` by both engines: the same bytes and the same words on stderr but for
    the engine's name; returns the DuckDB engine's stderr."""
    fast = run(command[0], path, *command[1:], "--format", "csv", "--engine", "duckdb")
    slow = run(command[0], path, *command[1:], "--format", "csv", "--engine", "pandas")
    assert fast.exit_code == slow.exit_code == 0, fast.stderr + slow.stderr
    assert fast.stdout == slow.stdout and len(fast.stdout) > 100
    assert fast.stderr.replace("; DuckDB engine", "") == slow.stderr
    return fast.stderr


def same_words(messages, expected):
    """The same lines on stderr, but for the engine's name and the note on identical lines
    without an order id, which only the pandas loader counts (README, "Two engines")."""
    expected = [m for m in expected if "identical to an earlier line; kept" not in m[1]]
    assert [(level, text.replace("; DuckDB engine", "")) for level, text in messages] == expected


CASES = {
    "decimal comma": ("customer_id;date;amount\nC1;2025-01-02;12,50\nC2;2025-01-03;7,10\nC1;2025-02-03;-3,25\n",
                      "utf-8", {}),
    "thousands": ('customer_id,date,amount\nC1,2025-01-02,"1,250.00"\nC2,2025-01-03,7\nC1,2025-03-01,"$2,000.5"\n',
                  "utf-8", {}),
    "russian export": (("Номер заказа;Клиент;Дата;Сумма\nA1;Иванов;02.01.2025;1 234,50 руб.\n"
                        "A2;Петров;03.01.2025;1\u00a0000,00\nA3;Иванов;15.02.2025;(12,50)\nA4;;16.02.2025;99,90\n"
                        "A5;Петров;20.03.2025;12,50-\nA6;Иванов; 21.03.2025 ;7\n"), "cp1251", {}),
    "times": ("customer_id;date;amount\nC1;02.01.2025 10:15;12,5\nC1;02.01.2025 18:40;3,5\nC2;13.01.2025 09:00;7\n",
              "utf-8", {}),
    "ambiguous day and month": ("customer_id,date,amount\nC1,02/01/2025,12\nC2,03/01/2025,7\nC1,05/02/2025,3\n",
                                "utf-8", {}),
    "month first": ("customer_id,date,amount\nC1,01/13/2025,12\nC2,02/01/2025,7\nC1,02/15/2025,3\n", "utf-8", {}),
    "yyyymmdd": ("customer_id,date,amount\nC1,20250102,12\nC2,20250103,7\nC1,20250301,3\n", "utf-8", {}),
    "excel serials": ("customer_id,date,amount\nC1,45658,12\nC2,45659,7\nC1,45700,3\n", "utf-8", {}),
    "two formats": ("customer_id;date;amount\nC1;2025-01-02;12,5\nC2;03.01.2025;7\nC1;2025-03-01;3\n", "utf-8", {}),
    "month names": ("customer_id,date,amount\nC1,5 Mar 2025,12\nC2,6 Mar 2025,7\nC1,1 Apr 2025,3\n", "utf-8", {}),
    "utf-16": ("Клиент;Дата;Сумма\nК1;02.01.2025;12,5\nК2;03.01.2025;7\nК1;01.03.2025;3\n", "utf-16", {}),
    "cp866": ("Клиент;Дата;Сумма\nК1;02.01.2025;12,5\nК2;03.01.2025;7\nК1;01.03.2025;3\n", "cp866",
              {"encoding": "cp866"}),
    "--decimal ,": ('customer_id,date,amount\nC1,2025-01-02,"12,5"\nC2,2025-01-03,7\nC1,2025-03-01,"1.000,25"\n',
                    "utf-8", {"decimal": ","}),
    "--date-format": ("customer_id;date;amount\nC1;01.02.2025;12\nC2;03.01.2025;7\nC1;04.01.2025;3\n", "utf-8",
                      {"date_format": "%m.%d.%Y"}),
    "plain head, comma later": ("customer_id;date;amount\n" + "".join(f"C1;2025-01-02;{i}\n" for i in range(1200))
                                + "C2;2025-01-05;7,25\n", "utf-8", {}),
    # DuckDB's strptime gives 1900-01-01 00:00 for 'epoch' and 'infinity': the engine reads that time as the loader does
    "ISO head, a real 1900-01-01 later": ("customer_id;date;amount\n" + "".join(f"C1;2025-01-02;{i}\n" for i in range(1200))
                                          + "C2;1900-01-01;7\nC2;1900-01-01 00:00:00;3\nC2;2025-01-05;1\n", "utf-8", {}),
    "ISO head, dd.mm.yyyy later": ("customer_id;date;amount\n" + "".join(f"C1;2025-01-02;{i}\n" for i in range(1200))
                                   + "C2;05.01.2025;7\n", "utf-8", {}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_text_dates_and_amounts_read_as_pandas_reads_them(tmp_path, name):
    content, encoding, options = CASES[name]
    path = tmp_path / "in.csv"
    path.write_bytes(content.encode(encoding))
    fast, reference, messages, expected = both(path, options=LoadOptions(**options))
    assert_same(fast, reference)
    same_words(messages, expected)


def test_the_russian_example_reads_the_same_through_both_engines():
    fast, reference, messages, expected = both(PURCHASES.parent / "ru" / "purchases.csv")
    assert_same(fast, reference)
    same_words(messages, expected)
    assert "cp1251, delimiter ';', decimal ',', order_date %d.%m.%Y; DuckDB engine" in messages[0][1]


def test_files_in_different_formats_are_read_each_its_own_way(tmp_path):
    """The loader chooses formats file by file: one file of dd.mm.yyyy and decimal commas, one
    of ISO dates and "1.000" (a thousand in the first file's way, one in the second's)."""
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_bytes("customer_id;date;amount\nC1;02.01.2025;1.000\nC2;03.01.2025;7,5\n".encode("cp1251"))
    second.write_text("customer_id;date;amount\nC1;2025-02-01;1.000\nC3;2025-02-03;2.5\n", encoding="utf-8")
    fast, reference, _, _ = both([first, second])
    assert_same(fast, reference)
    assert reference.customers.set_index("customer_id").loc["C1", "monetary"] == 1001.0


def test_the_decimal_mark_comes_from_the_first_distinct_amounts_in_file_order(tmp_path):
    """The loader looks at the first 20,000 distinct amounts. Here they are whole numbers, so it
    takes '.', and "1.234" later is 1.234; counted over every amount (the comma in "2,345" in a
    ';' file) the choice would be ',', and "1.234" would be 1234."""
    lines = [f"C{i % 50};2025-01-{1 + i % 28:02d};{i}" for i in range(1, textvalues.DECIMAL_SAMPLE + 1)]
    lines += ["C1;2025-02-01;1.234", "C2;2025-02-02;2,345"]
    path = tmp_path / "in.csv"
    path.write_text("customer_id;date;amount\n" + "\n".join(lines) + "\n", encoding="utf-8")
    fast, reference, messages, expected = both(path)
    assert_same(fast, reference)
    same_words(messages, expected)
    assert "decimal '.'" in messages[0][1]


def test_more_distinct_dates_than_the_loader_looks_at_go_to_pandas_unless_the_format_is_given(tmp_path):
    """Names of months (05 Jan 2025): the loader decides from its sample of 5,000 distinct dates
    between them and other formats, so beyond that only --date-format keeps them on this engine."""
    stamps = pd.date_range("2025-01-01", periods=textvalues.DATE_SAMPLE + 1, freq="37min")
    path = tmp_path / "in.csv"
    path.write_text("customer_id;date;amount\n" + "".join(f"C{i % 7};{t:%d %b %Y %H:%M};{i},5\n"
                                                           for i, t in enumerate(stamps)), encoding="utf-8")
    with pytest.raises(engine.DatesNeedAFormat, match="5,001 distinct dates that are not ISO, more than the 5,000"):
        engine.summarize(engine.open_source([str(path)], LoadOptions()))
    fast, reference, messages, expected = both(path, options=LoadOptions(date_format="%d %b %Y %H:%M"))
    assert_same(fast, reference)
    same_words(messages, expected)


def test_a_summary_says_that_a_date_format_would_let_duckdb_read_the_dates(run, tmp_path):
    stamps = pd.date_range("2025-01-01", periods=textvalues.DATE_SAMPLE + 1, freq="37min")
    path = tmp_path / "in.csv"
    path.write_text("customer_id;date;amount\n" + "".join(f"C{i % 7};{t:%d %b %Y %H:%M};{i},5\n"
                                                           for i, t in enumerate(stamps)), encoding="utf-8")
    slow = run("summary", path, "--format", "csv")
    fast = run("summary", path, "--format", "csv", "--date-format", "%d %b %Y %H:%M")
    assert slow.exit_code == fast.exit_code == 0 and slow.stdout == fast.stdout
    assert ("using the pandas engine: 5,001 distinct dates that are not ISO, more than the 5,000 the pandas loader "
            "chooses their format from; --date-format names it, and lets the DuckDB engine read them") in slow.stderr
    assert "using the pandas engine" not in fast.stderr and "DuckDB engine)" in fast.stderr
    assert "using the pandas engine" not in run("summary", path, "-q", "--format", "csv").stderr


AMOUNT = st.tuples(st.integers(-999_999, 999_999), st.integers(0, 99),
                   st.sampled_from(["{sign}{int}{dec}", "{sign}{int_sp} {dec}", "({int}{dec})", "{int}{dec}-",
                                    "{sign}{int_nbsp}{dec} руб.", "{sign}{int}{dec} р."]))
DAY = st.integers(0, 700)
ID = st.sampled_from(["Иванов", "Петров", "C3", " C4", "", "нет", "Ж5", "10"])


def russian_export(rows, date_style: str) -> str:
    out = ["Клиент;Дата;Сумма"]
    for customer, day, (whole, cents, style) in rows:
        sign = "-" if whole < 0 else ""
        digits = f"{abs(whole):,}"
        text = style.format(sign=sign, int=str(abs(whole)), int_sp=digits.replace(",", " "),
                            int_nbsp=digits.replace(",", "\u00a0"), dec=f",{cents:02d}")
        when = pd.Timestamp("2024-01-01") + pd.Timedelta(days=day)
        out.append(f"{customer};{when.strftime(date_style)};{text}")
    return "\n".join(out) + "\n"


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.tuples(ID, DAY, AMOUNT), min_size=1, max_size=40),
       date_style=st.sampled_from(["%d.%m.%Y", "%d.%m.%y", "%d/%m/%Y", "%Y-%m-%d", "%d.%m.%Y %H:%M", "%d/%m/%y",
                                   "%d.%m.%Y %H:%M:%S", "%d-%m-%Y"]),
       encoding=st.sampled_from(["cp1251", "utf-8"]))
def test_random_russian_exports_give_the_same_summary(tmp_path_factory, rows, date_style, encoding):
    path = tmp_path_factory.mktemp("ru") / "in.csv"
    path.write_bytes(russian_export(rows, date_style).encode(encoding))
    assert_same_or_both_refuse(path)


def assert_same_or_both_refuse(path):
    """Both engines give the same summary and words, or the DuckDB engine leaves the file to pandas
    for a reason pandas reports row by row (no customer id in any row), or both refuse it (the loader
    refuses a column most of whose values it cannot read, or finds no usable row). ``path``: a
    file, or a list of files (the engine names them in one line, the loader one line each)."""
    paths = [str(p) for p in (path if isinstance(path, list) else [path])]
    try:
        fast, reference, messages, expected = both(paths)
    except engine.Unsupported as e:
        assert any(r in str(e) for r in ("no row has a customer id", "loader refuses",
                                         "cannot be read", "no usable row")), e
        if "cannot be read" in str(e) or "no usable row" in str(e):  # the loader refuses the file, and says why
            with pytest.raises(CustlensError, match="cannot be read|no usable rows"):
                load_purchases(paths)
        if "loader refuses" in str(e):
            with pytest.raises(CustlensError):
                load_purchases(paths)
        return
    except Exception as e:  # noqa: BLE001 - pandas refuses too
        with pytest.raises(type(e)):
            customers(load_purchases(paths)[0])
        return
    assert_same(fast, reference)
    if len(paths) == 1:
        same_words(messages, expected)
    else:
        same_words(messages[1:], expected[len(paths):])
        assert messages[0][1].startswith(f"{len(paths)} files: ")
    # and --rejects: the same rows, reasons and columns
    rejects = engine.rejected_rows(engine.summarize(engine.open_source(paths, LoadOptions(), rejects="x.csv")))
    expected_rejects = load_purchases(paths)[1].rejects
    if expected_rejects is None:
        assert rejects.empty
    else:
        pd.testing.assert_frame_equal(rejects, expected_rejects)


@pytest.mark.parametrize("command", [
    ["summary"], ["rfm"], ["pareto", "--summary"], ["lifecycle"], ["lapsed"], ["cohorts", "--metric", "revenue"],
    ["clv"], ["clv", "--holdout", "26w"], ["kpi", "--split", "2025-01-01", "--window", "90d"],
    ["kpi", "--split", "2025-07-01", "--window", "60d", "--stages"],
    ["kpi", "--split", "2025-01-01", "--window", "90d", "--by", "channel"],
    ["lapsed", "--new-since", "60d"], ["lifecycle", "--from", "2025-03-01", "--shares"],
    ["lapsed", "--by", "probability", "--new-since", "60d"],
])
def test_reports_on_a_russian_export_are_the_same_bytes_from_both_engines(run, tmp_path, command):
    raw = pd.read_csv(PURCHASES.parent / "ru" / "purchases.csv", sep=";", encoding="cp1251", dtype=str,
                      keep_default_na=False)
    path = tmp_path / "выгрузка.csv"  # no product or category: no report here reads the lines with pandas
    raw.drop(columns=["Товар", "Категория"]).drop_duplicates().to_csv(path, sep=";", index=False, encoding="cp1251")
    said = same_report(run, command, path)
    assert "cp1251, delimiter ';', decimal ',', order_date %d.%m.%Y; DuckDB engine" in said


def test_more_distinct_texts_than_are_read_one_by_one_go_to_pandas(tmp_path, monkeypatch):
    monkeypatch.setattr(textvalues, "MOST_TEXTS", 2)
    path = tmp_path / "in.csv"
    path.write_text("customer_id;date;amount\nC1;02 Jan 2025;1,5\nC2;03 Jan 2025;2,5\nC1;04 Jan 2025;1,5\n")
    with pytest.raises(engine.Unsupported, match="3 distinct dates that are not ISO, too many to read one by one"):
        engine.summarize(engine.open_source([str(path)], LoadOptions()))


def test_parquet_with_dates_and_amounts_as_text(tmp_path):
    path = tmp_path / "in.parquet"
    pd.DataFrame({"Клиент": ["К1", "К2", "К1", None], "Дата": ["02.01.2025", "03.01.2025", "01.03.2025", "04.03.2025"],
                  "Сумма": ["1 234,50", "7,10", "-3,25", "5"]}).to_parquet(path, index=False)
    fast, reference, messages, expected = both(path)
    assert_same(fast, reference)
    same_words(messages, expected)
    assert "decimal ','" in messages[0][1]


EN_AMOUNT = st.tuples(st.integers(-99_999, 99_999), st.integers(0, 99),
                      st.sampled_from(["{sign}{int}{dec}", "{sign}{int_c}{dec}", "({int_c}{dec})", "{sign}${int_c}{dec}",
                                       "{sign}{int}{dec} USD", "{sign}{int}"]))


def english_export(rows, date_style: str) -> str:
    out = ["customer_id,order_date,amount"]
    for customer, day, (whole, cents, style) in rows:
        sign = "-" if whole < 0 else ""
        text = style.format(sign=sign, int=str(abs(whole)), int_c=f"{abs(whole):,}", dec=f".{cents:02d}")
        when = pd.Timestamp("2024-01-01") + pd.Timedelta(days=day)
        out.append(f'{customer},{when.strftime(date_style)},"{text}"')
    return "\n".join(out) + "\n"


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.tuples(ID, DAY, EN_AMOUNT), min_size=1, max_size=40),
       date_style=st.sampled_from(["%m/%d/%Y", "%d %b %Y", "%Y%m%d", "%Y-%m-%dT%H:%M", "%b %d %Y",
                                   "%m/%d/%Y %I:%M %p", "%m/%d/%y", "%m-%d-%Y %I:%M:%S %p"]))
def test_random_english_exports_give_the_same_summary(tmp_path_factory, rows, date_style):
    """Thousands commas, dollar signs, codes and accounting negatives; month-first and named months."""
    path = tmp_path_factory.mktemp("en") / "in.csv"
    path.write_text(english_export(rows, date_style), encoding="utf-8")
    assert_same_or_both_refuse(path)


#: what exports put where a date or an amount should be: blanks, 'no value' marks, words, impossible dates
BAD_DATE = st.sampled_from(["", "  ", "n/a", "-", "—", "\t", "Дата", "TBD", "31.02.2025", "2025-13-40", "00.00.0000"])
BAD_AMOUNT = st.sampled_from(["", " ", "N/A", "—", "none", "Сумма", "abc", "-"])
SPOIL = st.lists(st.tuples(st.integers(0, 39), st.sampled_from(["date", "amount", "header", "footer"]),
                           BAD_DATE, BAD_AMOUNT), min_size=1, max_size=5)


def spoil_export(text: str, spoils, delimiter: str) -> str:
    """``text`` (an export of customer, date, amount lines) with bad dates or amounts put in, the
    header line repeated (two exports joined with `cat`), or a line of totals without a customer."""
    header, *body = text.splitlines()
    for at, what, bad_date, bad_amount in spoils:
        i = at % len(body)
        customer, day, amount = body[i].split(delimiter, 2)
        if what == "header":
            body.insert(i, header)
        elif what == "footer":
            body.append(delimiter.join(["Итого", bad_date, amount]))
        else:
            body[i] = delimiter.join([customer, bad_date, amount] if what == "date" else [customer, day, bad_amount])
    return "\n".join([header, *body]) + "\n"


@settings(max_examples=40, deadline=None)
# found by this test at 1,500 examples: an impossible ISO date ('2025-13-40') among ISO dates keeps
# the loader's name of the format ISO8601 (every value has the shape of ISO text)
@example(rows=[("Иванов", 0, (0, 0, "{sign}{int}{dec}"))] * 3, spoils=[(0, "date", "2025-13-40", "")],
         date_style="%Y-%m-%d", english=False, split=0)
# and at 1,200 (with two files): a file of no date at all has no order of day and month to warn of
@example(rows=[("Ж5", 192, (-5457, 23, "{sign}{int}{dec}")), ("C3", 19, (-429, 72, "{sign}{int}{dec}"))],
         spoils=[(3, "footer", "n/a", "—"), (3, "footer", "n/a", "—")], date_style="%d/%m/%y", english=False,
         split=2)
@given(rows=st.lists(st.tuples(ID, DAY, AMOUNT), min_size=1, max_size=40), spoils=SPOIL,
       date_style=st.sampled_from(["%d.%m.%Y", "%d.%m.%Y %H:%M:%S", "%Y-%m-%d", "%d/%m/%y", "%Y-%m-%d %H:%M:%S"]),
       english=st.booleans(), split=st.integers(0, 39))
def test_random_exports_with_bad_rows_exclude_the_same_rows(tmp_path_factory, rows, spoils, date_style, english,
                                                            split):
    """Blank or unreadable dates and amounts, repeated header lines and lines of totals in random
    exports: the engine excludes the rows the loader excludes, under the same reasons with the same
    sample rows, file by file (a ``split`` of the lines into two files), or leaves the file to
    pandas for a reason above; and summarises the rest alike."""
    if english:
        en_rows = [(c, d, (whole, cents, "{sign}{int}{dec}")) for c, d, (whole, cents, _) in rows]
        text = spoil_export(english_export(en_rows, date_style.replace(".", "/")), spoils, ",")
    else:
        text = spoil_export(russian_export(rows, date_style), spoils, ";")
    header, *body = text.splitlines(keepends=True)
    parts = [body[:split], body[split:]] if 0 < split < len(body) else [body]
    folder = tmp_path_factory.mktemp("spoiled")
    paths = [folder / f"in{i}.csv" for i in range(len(parts))]
    for path, part in zip(paths, parts):
        path.write_text(header + "".join(part), encoding="utf-8")
    assert_same_or_both_refuse(paths)


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(ID, st.sampled_from(["A", "B", "", "n/a"]), st.integers(0, 60),
                               st.sampled_from(["12.50", "-3", "7", "0", "99.99", "1.05", "", "TBD"]),
                               st.sampled_from(["2025-01-{:02d}"] * 6 + ["", "TBD"])), min_size=1, max_size=30),
       copies=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=10),
       spaces=st.booleans(), split=st.integers(0, 40))
def test_random_exports_with_repeated_lines_exclude_the_same_rows(tmp_path_factory, rows, copies, spaces, split):
    """Exports with an order id where lines are copied (exports joined with overlaps), also lines
    with blank or unreadable values and their copies, over one or two files (a copy in the
    other file is no repeat): the same rows excluded ('duplicate line' and the rest, with the same
    sample rows), the same summary; a copy with a space after its id is no repeat either."""
    body = [f"{c},{o},{d.format(day % 28 + 1)},{a}" for c, o, day, a, d in rows]
    for source, at in copies:
        line = body[source % len(body)]
        body.insert(at % (len(body) + 1), line.replace(",", " ,", 1) if spaces and source % 3 == 0 else line)
    parts = [body[:split], body[split:]] if 0 < split < len(body) else [body]
    folder = tmp_path_factory.mktemp("repeats")
    paths = [folder / f"in{i}.csv" for i in range(len(parts))]
    for path, part in zip(paths, parts):
        path.write_text("customer_id,order_id,date,amount\n" + "".join(line + "\n" for line in part),
                        encoding="utf-8")
    assert_same_or_both_refuse(paths)


#: an amount, quantity or unit price as exports write them: blank, a 'no value' mark, a word,
#: numbers with a decimal point or comma (the loader chooses the mark per column and file)
PART = st.sampled_from(["", "", "", " ", "-", "n/a", "two", "1", "2", "3", "0", "1,5", "2.25", "12,00", "-1", "1 000,50"])


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.tuples(st.sampled_from(["C1", "C2", " C3", "", "Ж4"]), st.sampled_from(["A", "B", "", "C"]),
                               st.integers(0, 60), PART, PART, PART), min_size=1, max_size=30),
       copies=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), max_size=4),
       orders=st.booleans(), amounts=st.booleans(), split=st.integers(0, 40))
def test_random_exports_with_quantities_and_prices_fill_the_same_amounts(tmp_path_factory, rows, copies, orders,
                                                                         amounts, split):
    """Exports where an amount may be blank next to a quantity and a unit price (Shopify writes
    the total on an order's first line only): the engine fills the same amounts with quantity ×
    unit price as the loader, excludes the same rows (with copied lines, where the files have an
    order id), and says the same (the note of amounts filled, the warnings of quantities that are
    no numbers), file by file; or both refuse the file (most quantities are words). Without an
    amount column (``amounts`` False), every amount is quantity × unit price."""
    body = [";".join([c, *([o] if orders else []), f"{day % 28 + 1:02d}.01.2025", *([a] if amounts else []), q, p])
            for c, o, day, a, q, p in [("C9", "Z", 0, "", "2", "3"), *rows]]  # a blank amount: the engine fills
    # (else it does not read the quantities and prices, nor warn of them: README, "Two engines")
    for source, at in copies:
        body.insert(at % (len(body) + 1), body[source % len(body)])
    parts = [body[:split], body[split:]] if 0 < split < len(body) else [body]
    folder = tmp_path_factory.mktemp("parts")
    paths = [folder / f"in{i}.csv" for i in range(len(parts))]
    header = ";".join(["Клиент", *(["Заказ"] if orders else []), "Дата", *(["Сумма"] if amounts else []), "Количество",
                       "Цена"])
    for path, part in zip(paths, parts):
        path.write_text(header + "\n" + "".join(line + "\n" for line in part), encoding="utf-8")
    assert_same_or_both_refuse(paths)  # both refuse where most quantities or prices of a file are words


@pytest.mark.parametrize("fmt, shapes", [("%d.%m.%Y %H:%M:%S", 1), ("%Y-%m-%d %H:%M:%S", 1), ("%Y-%m-%d %H:%M", 2)])
def test_words_and_blanks_among_many_distinct_dates_stay_in_sql(tmp_path, fmt, shapes):
    """More distinct dates than the loader's parsers read one by one (a 1C export's times), with a
    repeated header in the first lines, blanks, words and a line of totals: the words' lines are
    excluded and the dates stay read in SQL, as the loader reads them. ISO times next to a word:
    whether the loader names them ISO8601 or a strptime format depends on whether its sample of
    5,000 holds a word, so they go to pandas."""
    stamps = pd.date_range("2024-01-01", periods=textvalues.DATE_SAMPLE + 500, freq="97min")
    lines = [f"C{i % 40};{t.strftime(fmt) if i % 2 or shapes == 1 else f'{t:%Y-%m-%d %H:%M:%S}'};{i % 13},5"
             for i, t in enumerate(stamps)]
    lines[3] = "Клиент;Дата;Сумма"
    lines[5] = "C1;;4,5"
    lines[10] = "C2;TBD;4,5"
    lines[2000] = "C3; н/д ;1,5"
    path = tmp_path / "in.csv"
    path.write_text("Клиент;Дата;Сумма\n" + "\n".join(lines) + "\nИтого;;100,00\n", encoding="utf-8")
    if fmt.startswith("%Y"):
        with pytest.raises(engine.Unsupported, match="distinct dates"):
            engine.summarize(engine.open_source([str(path)], LoadOptions()))
        return
    fast, reference, messages, expected = both(path)
    assert_same(fast, reference)
    same_words(messages, expected)
    # "Итого" is a customer id to the loader: the line of totals has no date
    assert messages[1][1] == ("excluded 5 of 5,501 rows: 1 repeated header line; 2 unparseable order date; "
                              "2 no order date")
    assert "unparseable order date: row 12 'TBD', row 2002 ' н/д '" in messages[3][1]  # lines[i] is row i + 2


def test_no_room_for_the_utf8_copy_goes_to_pandas_and_says_why(tmp_path, monkeypatch, run):
    path = tmp_path / "in.csv"
    path.write_bytes("Клиент;Дата;Сумма\nК1;02.01.2025;12,5\nК2;03.01.2025;7\n".encode("cp1251"))
    full = tmp_path / "full"
    full.write_text("a file where a folder should be: writing into it fails as a full disk does")
    monkeypatch.setattr(engine.tempfile, "mkdtemp", lambda prefix="": str(full / f"{prefix}x"))
    monkeypatch.setattr(engine, "_UTF8_COPIES", {})
    with pytest.raises(engine.Unsupported, match=f"no room for a UTF-8 copy of {path} in {full}.*TMPDIR"):
        engine.open_source([str(path)], LoadOptions(encoding="cp1251"))
    auto = run("summary", path, "--format", "csv", "--encoding", "cp1251")
    assert auto.exit_code == 0 and "К1" in auto.stdout and "DuckDB engine" not in auto.stderr


def test_iso_timestamps_with_offsets_are_read_however_many(tmp_path):
    """Shopify writes 2025-01-02T10:15:00+03:00: ISO, which the loader reads as ISO whatever it
    samples, so more than 5,000 distinct ones still go through the DuckDB engine."""
    stamps = pd.date_range("2025-01-01", periods=textvalues.DATE_SAMPLE + 500, freq="53min", tz="Europe/Moscow")
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,created_at,total\n" + "".join(f"C{i % 13},{t.isoformat()},{i % 50}.5\n"
                                                              for i, t in enumerate(stamps)), encoding="utf-8")
    fast, reference, messages, expected = both(path)
    assert_same(fast, reference)
    same_words(messages, expected)
    assert "order_date ISO8601; DuckDB engine" in messages[0][1]


@pytest.mark.parametrize("name, passes", [("russian export", 1), ("decimal comma", 1), ("plain head, comma later", 2),
                                          ("ISO head, dd.mm.yyyy later", 2)])
def test_the_first_lines_choose_the_way_and_later_lines_redo_it(tmp_path, monkeypatch, name, passes):
    """A file whose first lines show regional text is summarised once, through the tables of
    texts; one whose regional text starts further down is summarised again that way."""
    content, encoding, options = CASES[name]
    path = tmp_path / "in.csv"
    path.write_bytes(content.encode(encoding))
    statements = []
    run = engine._run
    monkeypatch.setattr(engine, "_run", lambda con, sql, label: (statements.append(sql), run(con, sql, label)))
    engine.summarize(engine.open_source([str(path)], LoadOptions(**options)))
    assert sum("TEMP TABLE groups" in s for s in statements) == passes


def test_copying_a_large_file_to_utf8_shows_progress_on_a_terminal(tmp_path):
    import os
    import subprocess
    import sys

    from conftest import ROOT, stderr_on_a_terminal

    path = tmp_path / "big.csv"
    path.write_bytes(("Клиент;Дата;Сумма\n" + "К1;02.01.2025;12,5\n" * 2000).encode("cp1251"))
    code = ("from custlens import engine; engine.COPY_PROGRESS_BYTES = 0; "
            f"engine._utf8_copies({{{str(path)!r}: 'cp1251'}})")
    seen = stderr_on_a_terminal(code)
    assert f"copying {path} to UTF-8".encode() in seen and b"%" in seen
    # not a terminal: nothing
    quiet = subprocess.run([sys.executable, "-c", code], capture_output=True, check=False,
                           env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert quiet.returncode == 0 and quiet.stderr == b""


def inspections(paths, options=None):
    """(the DuckDB engine's inspection, the pandas loader's) of the same files."""
    from custlens.cli import inspect_fast
    from custlens.io.inspect import inspect

    paths, options = [str(p) for p in paths], options or LoadOptions()
    fast = inspect_fast(paths, options)
    assert fast is not None and fast.pop("engine") == "duckdb"
    return fast, inspect(paths, options)


@pytest.mark.parametrize("name", ["russian export", "ambiguous day and month", "thousands", "utf-16"])
def test_inspect_by_duckdb_says_what_the_loader_says(tmp_path, name):
    content, encoding, options = CASES[name]
    path = tmp_path / "in.csv"
    path.write_bytes(content.encode(encoding))
    fast, slow = inspections([path], LoadOptions(**options))
    assert fast == slow


@pytest.mark.parametrize("path", [PURCHASES, PURCHASES.parent / "ru" / "purchases.csv"])
def test_inspect_of_the_examples_by_duckdb(path):
    fast, slow = inspections([path])
    assert fast == slow
    assert fast["customers"] == 2000 and fast["problems"][0].startswith("35 rows excluded: no customer id")


@pytest.mark.parametrize("content, kept", [
    (("Клиент;Дата;Сумма\nК1;03.09.2025 09:39:47;1 234,50\nК2;;99,90\nК4;TBD;5\nК3;04.09.2025 10:00:00;\n"
      "Клиент;Дата;Сумма\nК1;15.09.2025 18:05:01;10,00\nИтого;;1 349,40\n"), 1),
    ("customer_id,date,amount\nC1,2025-01-02,4\nC9,2025-01-03,abc\nC2,n/a,5\nC2,2025-01-04,7\n,2025-01-05,1\n", 2),
])
def test_inspect_of_rows_the_loader_excludes_by_duckdb(tmp_path, content, kept):
    """The excluded rows are problems with the loader's reasons and samples; a customer none of
    whose lines is kept (К2, К3, К4, Итого; C9) is not counted."""
    path = tmp_path / "in.csv"
    path.write_text(content, encoding="utf-8")
    fast, slow = inspections([path])
    assert fast == slow and fast["customers"] == kept and len(fast["problems"]) >= 3


def test_warnings_come_in_the_order_of_the_columns_whenever_found(tmp_path):
    """The first lines fill a blank amount (the quantities read first: 'two' is no number); dates
    in another format further down are read by the loader's parsers in a second pass, which warns
    of their order of day and month: the loader warns of the date column first, and so does the
    engine."""
    path = tmp_path / "in.csv"
    path.write_text("customer_id,date,amount,quantity,unit_price\nC1,2025-01-02,,two,3\n"
                    + "C2,2025-01-03,7,1,7\n" * engine.HEAD_LINES + "C3,05/03/2025,4,1,4\nC3,06/04/2025,4,1,4\n",
                    encoding="utf-8")
    fast, reference, messages, expected = both([path])
    assert_same(fast, reference)
    same_words(messages, expected)
    warnings = [text for _, text in messages if text.startswith("warning: ")]
    assert len(warnings) == 2 and "column 'date'" in warnings[0] and "column 'quantity'" in warnings[1]


@pytest.mark.parametrize("content", [SHOPIFY, NO_AMOUNT])
def test_inspect_of_amounts_from_quantity_and_price_by_duckdb(tmp_path, content):
    """Blank amounts filled, or no amount column: the same problems, warnings and notes."""
    path = tmp_path / "in.csv"
    path.write_text(content, encoding="utf-8")
    fast, slow = inspections([path])
    assert fast == slow and any("quantity × unit_price" in n for n in fast["notes"])


def test_inspect_of_typed_parquet_by_duckdb(tmp_path):
    path = tmp_path / "lines.parquet"
    frame = pd.DataFrame({"customer_id": ["C1", "C2", None, "C1", "C3"],
                          "order_date": pd.to_datetime(["2025-01-02 10:00", "2025-01-03 00:00", "2025-01-04 00:00",
                                                        "2025-02-01 09:30", "2025-03-01 00:00"]),
                          "amount": [12.5, -3.0, 7.0, 1e6 + 0.125, -1.0]})
    frame.to_parquet(path, index=False)
    fast, slow = inspections([path])
    assert fast == slow
    assert fast["return_lines"] == 2 and fast["customers"] == 3 and fast["total_amount"] == round(12.5 - 3 + 1e6 + 0.125 - 1, 2)


def test_inspect_of_what_duckdb_cannot_take_is_the_loaders(run, tmp_path):
    import json

    titled = tmp_path / "titled.csv"
    titled.write_text("Sales report\ncustomer_id,date,amount\nC1,2025-01-02,12\n", encoding="utf-8")
    shown = json.loads(run("inspect", titled, "--format", "json").stdout)
    assert shown["engine"] == "pandas (title or blank lines above the header)" and shown["customers"] == 1
    contacts = json.loads(run("inspect", PURCHASES.parent / "contacts.csv", "--format", "json").stdout)
    assert contacts["kind"] == "contacts" and "engine" not in contacts


# --- dates in one of engine.SURE_FORMATS: read in SQL whatever their number ------------------

def _render(fmt: str, stamp, padded: bool) -> str:
    """``stamp`` written in ``fmt`` (of numbers and separators), with or without leading zeros."""
    fields = {"%Y": f"{stamp.year:04d}", "%y": stamp.year % 100, "%m": stamp.month, "%d": stamp.day, "%H": stamp.hour,
              "%I": (stamp.hour - 1) % 12 + 1, "%M": stamp.minute, "%S": stamp.second,
              "%p": "AM" if stamp.hour < 12 else ("pm" if padded else "PM")}
    text = fmt
    for code, value in fields.items():
        text = text.replace(code, value if isinstance(value, str) else f"{value:02d}" if padded else str(value))
    return text


def test_the_sure_formats_are_the_loader_s_formats_of_numbers():
    """Every format the loader tries that SQL reads (but ISO's): SURE_FORMATS, and the pairs of
    DAY_MONTH_FORMATS, in the loader's order of times."""
    from custlens.io.parse import _DAY_MONTH_PAIRS, DATE_FORMATS, TIME_FORMATS

    paired = {f for pair in _DAY_MONTH_PAIRS for f in pair}
    sql = [t for t in TIME_FORMATS if re.fullmatch(engine.SQL_DATE_FORMAT, "%d" + t)]
    assert [d + t for d in DATE_FORMATS for t in sql if re.fullmatch(engine.SQL_DATE_FORMAT, d)
            and d != "%Y-%m-%d" and d not in paired] == list(engine.SURE_FORMATS)
    assert sorted((d + t, m + t) for d, m in _DAY_MONTH_PAIRS for t in sql
                  if re.fullmatch(engine.SQL_DATE_FORMAT, d)) == sorted(engine.DAY_MONTH_FORMATS)


SURE_TEXTS = st.lists(st.tuples(st.integers(-100_000, 85_000), st.integers(0, 86399), st.booleans(),
                                st.sampled_from(["", " ", "\t"])), min_size=1, max_size=40)


PAIRED = [f for pair in engine.DAY_MONTH_FORMATS for f in pair]


@settings(max_examples=100, deadline=None)
@given(fmt=st.sampled_from(engine.SURE_FORMATS + tuple(PAIRED)), stamps=SURE_TEXTS, extra=st.lists(st.sampled_from(
    ["31.02.2025", "2025/02/30", "20251301", "03.09.2025 24:00:00", "01.01.1900 00:00", "1900.01.01", "12.04.2262",
     "03.09.2025T9:5", "2025.9.3 9:5:7", "3.9.2025 9:05", "03.09.0025", "13/01/2025", "01/13/2025 10:00",
     "31-12-2025", "12-31-2025 10:00:00", "5/6/2025T10:00"]), max_size=3), data=st.data())
def test_the_loader_chooses_a_sure_format_from_any_sample_of_dates_it_reads(fmt, stamps, extra, data):
    """Where SQL reads every date in one of SURE_FORMATS (engine._fixed_time_sql), no format the
    loader tries before it reads any of them, and that format reads all: whatever sample of them
    the loader looks at, it chooses this format, without a warning, and reads what SQL reads.
    For a day-first / month-first pair (DAY_MONTH_FORMATS) no format before the pair reads any,
    and whether a day above 12 exists decides, as engine._check_date_order decides."""
    from custlens.io.parse import DATE_FORMATS, ISO_DATE_TEXT, TIME_FORMATS, _date_part, _try, detect_date_format

    start = pd.Timestamp("2000-01-01")
    texts = [space + _render(fmt, start + pd.Timedelta(days=d, seconds=s), padded) + space
             for d, s, padded, space in stamps] + extra
    con = engine.connect()
    read = con.execute(f"SELECT t, {engine._fixed_time_sql('t', fmt)} FROM unnest(?::VARCHAR[]) u(t)", [texts]).fetchall()
    texts = [t for t, time in read if time is not None]
    if not texts:
        return
    values = pd.Series(texts, dtype="string").str.strip()
    date_part = next(d for d in sorted(DATE_FORMATS, key=len, reverse=True) if fmt.startswith(d))
    time_part = fmt[len(date_part):]
    expected, warned = fmt, False
    if fmt in PAIRED:
        day_first = next(p for p in engine.DAY_MONTH_FORMATS if fmt in p)[0]
        big = any(time.day > 12 for _, time in read if time is not None)
        expected, warned = (fmt, fmt == day_first and not big) if big or fmt == day_first else (day_first, True)
        date_part = next(d for d in DATE_FORMATS if day_first.startswith(d))  # the pair's first
    for earlier in DATE_FORMATS[:DATE_FORMATS.index(date_part)]:
        assert _try(_date_part(values, earlier), earlier).isna().all(), earlier
    for earlier in TIME_FORMATS[:TIME_FORMATS.index(time_part)]:
        assert _try(values, fmt[:-len(time_part) or None] + earlier).isna().all(), earlier
    assert not values.str.fullmatch(ISO_DATE_TEXT).any() and not values.str.fullmatch(r"\d{5}(?:\.\d+)?").any()
    sample = data.draw(st.lists(st.sampled_from(texts), min_size=1, max_size=len(texts), unique=True))
    chosen, warning = detect_date_format(pd.Series(sample, dtype="string"), column="d", source="f", every=values)
    assert chosen == expected and (warning is not None) == warned
    parsed = parse_dates(pd.Series(texts, dtype="string"))
    assert parsed.formats == (expected,) and not parsed.bad.any()
    if expected == fmt:
        assert list(parsed.values) == [time for _, time in read if time is not None]


@pytest.mark.parametrize("fmt", ["%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%Y/%m/%d", "%Y.%m.%dT%H:%M:%S", "%Y%m%d",
                                 "%d.%m.%y %H:%M", "%d.%m.%Y %I:%M:%S %p"])
def test_dates_in_a_sure_format_stay_on_this_engine_however_many(tmp_path, fmt):
    """1C's dd.mm.yyyy HH:MM:SS: every line a distinct text, more than the 5,000 the loader
    chooses a format from; in one of SURE_FORMATS the loader chooses it from any sample, so this
    engine reads the dates in SQL, without --date-format, with the same results and words."""
    stamps = pd.date_range("2024-01-01", periods=textvalues.DATE_SAMPLE + 500, freq="97min")
    lines = [f"C{i % 40};{t.strftime(fmt)};{i % 13},5" for i, t in enumerate(stamps)]
    lines[3] = f"C1; {stamps[3].strftime(fmt)} ;-2,5"  # spaces around it, a return
    path = tmp_path / "in.csv"
    path.write_text("Клиент;Дата;Сумма\n" + "\n".join(lines) + "\n", encoding="utf-8")
    fast, reference, messages, expected = both(path)
    source = engine.open_source([str(path)], LoadOptions())
    engine.summarize(source)
    assert source.sql_date_format == fmt and source.date_format_guessed and not source.text_dates
    assert_same(fast, reference)
    same_words(messages, expected)
    assert f"order_date {fmt}; DuckDB engine" in messages[0][1]


@pytest.mark.parametrize("odd, distinct", [("2024-03-01 10:00:00", 5500), ("01.03.2024 10:00", 5500),
                                           ("", 5500), ("2024-03-01 10:00:00", 300)])
def test_a_date_further_down_in_another_format_goes_to_the_loader_s_parsers(tmp_path, odd, distinct):
    """The first lines only guess the format; a line further down in another one leaves the
    choice to the loader: through the table of distinct dates up to 5,000 of them (the same
    results and words), else on the pandas engine (--date-format would not help). A blank date
    is no other format: its line is excluded, the dates stay read in SQL."""
    stamps = pd.date_range("2024-01-01", periods=distinct, freq="97min")
    lines = [f"C{i % 40};{t:%d.%m.%Y %H:%M:%S};{i % 13},5" for i, t in enumerate(stamps)]
    lines[-7] = f"C3;{odd};4,5"
    path = tmp_path / "in.csv"
    path.write_text("customer_id;date;amount\n" + "\n".join(lines) + "\n", encoding="utf-8")
    if odd == "":
        fast, reference, messages, expected = both(path)
        assert_same(fast, reference)
        same_words(messages, expected)
        assert "order_date %d.%m.%Y %H:%M:%S; DuckDB engine" in messages[0][1] and "1 no order date" in messages[1][1]
        return
    if distinct > textvalues.DATE_SAMPLE:
        with pytest.raises(engine.Unsupported) as e:
            engine.summarize(engine.open_source([str(path)], LoadOptions()))
        assert type(e.value) is engine.Unsupported  # not DatesNeedAFormat: no hint to name a format
        assert str(e.value) == (f"{distinct:,} distinct dates, not all in the format "
                                "%d.%m.%Y %H:%M:%S of the first lines: the pandas loader chooses how to read the others")
        return
    fast, reference, messages, expected = both(path)
    assert_same(fast, reference)
    same_words(messages, expected)
    assert "order_date %d.%m.%Y %H:%M:%S + ISO8601; DuckDB engine" in messages[0][1]


def test_text_dates_in_a_sure_format_in_parquet_stay_on_this_engine(tmp_path):
    stamps = pd.date_range("2024-01-01", periods=textvalues.DATE_SAMPLE + 500, freq="97min")
    path = tmp_path / "in.parquet"
    pd.DataFrame({"customer_id": [f"C{i % 40}" for i in range(len(stamps))],
                  "date": stamps.strftime("%d.%m.%Y %H:%M:%S"), "amount": [i % 13 + 0.5 for i in range(len(stamps))]}
                 ).to_parquet(path, index=False)
    fast, reference, messages, expected = both(path)
    assert_same(fast, reference)
    same_words(messages, expected)
    assert "order_date %d.%m.%Y %H:%M:%S; DuckDB engine" in messages[0][1]


def _order_export(path, fmt: str, *, early_days_only: bool = False, shuffled: bool = True, start="2024-01-01"):
    """6,000+ lines of distinct times in ``fmt``, in time order or shuffled; only days 1–12 of
    each month when ``early_days_only`` (nothing tells the day from the month)."""
    stamps = pd.date_range(start, periods=textvalues.DATE_SAMPLE + 1000, freq="97min")
    if early_days_only:
        stamps = stamps[stamps.day <= 12]
    if shuffled:
        stamps = stamps[np.random.default_rng(3).permutation(len(stamps))]
    lines = [f"C{i % 40};{t.strftime(fmt)};{i % 13},5" for i, t in enumerate(stamps)]
    path.write_text("customer_id;date;amount\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt, early_days_only, shuffled, read_as", [
    ("%d/%m/%Y %H:%M", False, True, "%d/%m/%Y %H:%M"),  # UK / Ukrainian Excel
    ("%m/%d/%Y %H:%M", False, True, "%m/%d/%Y %H:%M"),  # US Excel: a day above 12 in the first lines
    ("%m/%d/%Y %H:%M", False, False, "%m/%d/%Y %H:%M"),  # in time order: the first lines could be either
    ("%d-%m-%Y", False, False, "%d-%m-%Y"),
    ("%m/%d/%Y %I:%M %p", False, True, "%m/%d/%Y %I:%M %p"),  # US, with AM/PM
    ("%m/%d/%y %H:%M", False, False, "%m/%d/%y %H:%M"),  # two-digit years
    ("%d/%m/%Y %H:%M:%S", True, True, "%d/%m/%Y %H:%M:%S"),  # no day above 12: day first, with the warning
    ("%m/%d/%Y", True, True, "%d/%m/%Y"),  # the same, whichever order wrote it
])
def test_dates_in_day_month_order_stay_on_this_engine_however_many(tmp_path, fmt, early_days_only, shuffled, read_as):
    """dd/mm/yyyy and mm/dd/yyyy: the loader decides the order by whether any date has a day
    above 12 (custlens.io.parse.detect_date_format); this engine reads the dates in SQL in the
    first lines' order (day first where they do not tell, then month first where that reads
    every date), and finds that fact in each file (engine._check_date_order): the same results
    and words as the loader, without --date-format."""
    path = _order_export(tmp_path / "in.csv", fmt, early_days_only=early_days_only, shuffled=shuffled)
    fast, reference, messages, expected = both(path)
    assert_same(fast, reference)
    same_words(messages, expected)
    assert f"order_date {read_as}; DuckDB engine" in messages[0][1]
    assert any("every day is 12 or less" in text for _, text in messages) == early_days_only
    source = engine.open_source([str(path)], LoadOptions())
    engine.summarize(source)
    assert source.sql_date_format == read_as and source.date_format_guessed and not source.text_dates


def test_each_file_decides_its_order_of_day_and_month(tmp_path):
    """The loader decides file by file: a second export of the first days of a month only is read
    day first with the warning (also on this engine); month-first lines there would be read day
    first by the loader, so this engine leaves such files to pandas."""
    first = _order_export(tmp_path / "a.csv", "%d/%m/%Y %H:%M")
    second = _order_export(tmp_path / "b.csv", "%d/%m/%Y %H:%M", early_days_only=True, start="2026-01-01")
    fast, reference, messages, expected = both([first, second])
    assert_same(fast, reference)
    warnings = [m for m in messages if m[0] == "warning"]
    assert warnings == [m for m in expected if m[0] == "warning"] and len(warnings) == 1
    assert warnings[0][1].startswith(f"warning: {second}: column 'date': every day is 12 or less")
    us = _order_export(tmp_path / "c.csv", "%m/%d/%Y %H:%M")
    us_early = _order_export(tmp_path / "d.csv", "%m/%d/%Y %H:%M", early_days_only=True, start="2026-01-01")
    with pytest.raises(engine.Unsupported, match="d.csv: no day above 12, so the pandas loader reads its dates day first"):
        engine.summarize(engine.open_source([str(us), str(us_early)], LoadOptions()))


@pytest.mark.parametrize("command", [["lapsed", "--new-since", "30d"], ["lifecycle", "--from", "2025-06-30"],
                                     ["kpi", "--split", "2025-07-01", "--window", "60d", "--stages"],
                                     ["cohorts", "--metric", "revenue", "--period", "week"], ["clv", "--holdout", "26w"],
                                     ["lapsed", "--by", "probability"], ["pareto", "--summary"]])
def test_reports_of_a_second_summary_read_a_guessed_format_too(run, tmp_path, command):
    """The stages at an earlier date come from a second summary of the same files, which must read
    the dates in the format the first one guessed (it tried the loader's table of every distinct
    date instead, too many, and failed); the reports that read the lines read them so too."""
    from test_engine import raw_csv

    raw = raw_csv()
    raw = raw[[c for c in raw.columns if c in {"customer_id", "order_id", "date", "amount"}]]
    raw["date"] = (pd.to_datetime(raw["date"]) + pd.to_timedelta(np.arange(len(raw)) % 86400, unit="s")
                   ).dt.strftime("%d.%m.%Y %H:%M:%S")
    raw["amount"] = raw["amount"].str.replace(".", ",")
    assert raw["date"].nunique() > textvalues.DATE_SAMPLE
    path = tmp_path / "lines.csv"
    raw.to_csv(path, index=False, sep=";")
    assert "order_date %d.%m.%Y %H:%M:%S; DuckDB engine" in same_report(run, command, path)
