"""Row numbers in the loader's samples and in --rejects are the file's own: a spreadsheet's row of
the record (the header is row 1; empty lines and skipped records count; a quoted value over several
lines is one record), on both engines, for CSV, XLSX and tables lined up with spaces."""

import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custlens import engine
from custlens.io import LoadOptions, load_purchases
from custlens.io import read as read_mod
from custlens.io.read import csv_gaps, has_inner_empty_line, line_gaps, rows_after_gaps

HEADER = "customer_id,date,amount,note"
WIDE = "wrong number of fields (expected 4, got 5)"
#: a record of each kind (i: a number that makes it unique) and the reason the loader excludes it for
RECORDS = {
    "ok": (lambda i: f"C{i % 7},2025-01-{i % 28 + 1:02d},{i}.5,n{i}", None),
    "multiline": (lambda i: f'C{i % 5},2025-02-{i % 28 + 1:02d},{i},"two\nlines {i}"', None),
    "bad date": (lambda i: f"C{i},2025-02-30,5,x", "unparseable order date"),
    "bad amount": (lambda i: f"C{i},2025-01-05,{i}abc,x", "unparseable amount"),
    "guest": (lambda i: f",2025-01-05,{i},x", "no customer id"),
    "no fields": (lambda i: ",,,", "no customer id"),
    "empty": (lambda i: "", None),
    "wide": (lambda i: f"C{i},2025-01-05,3,x,extra{i}", WIDE),
}


def export(kinds: list[str], newline: str = "\n") -> tuple[str, list[tuple[int, str]]]:
    """A CSV file of these records after the header, and the (row, reason) of each record the
    loader excludes, counted by hand: record k (from 0) below the header is row k + 2."""
    lines, expected = [HEADER], []
    for k, kind in enumerate(kinds):
        make, reason = RECORDS[kind]
        lines.append(make(k))
        if reason:
            expected.append((k + 2, reason))
    return newline.join(lines) + newline, expected


def loaded_rows(path) -> tuple[list[tuple[int, str]], dict[str, list[str]]]:
    report = load_purchases([str(path)])[1]
    rejects = report.rejects
    rows = [] if rejects is None else list(zip(rejects["row"].astype(int), rejects["reason"]))
    return rows, {reason: e.samples for reason, e in report.excluded.items()}


def engine_rows(path) -> tuple[list[tuple[int, str]], dict[str, list[str]]]:
    result = engine.summarize(engine.open_source([str(path)], LoadOptions(), rejects="x.csv"))
    rejects = engine.rejected_rows(result)
    return list(zip(rejects["row"].astype(int), rejects["reason"])), {r: s for r, (_, s) in result.excluded.items()}


def samples_of(expected: list[tuple[int, str]]) -> dict[str, list[str]]:
    """The loader's samples: the first three rows of each reason, with the value for a bad one."""
    shown = {"unparseable order date": lambda k: " '2025-02-30'",
             "unparseable amount": lambda k: f" '{k}abc'",
             WIDE: lambda k: f" {RECORDS['wide'][0](k)!r}"}
    samples: dict[str, list[str]] = {}
    for row, reason in expected:
        samples.setdefault(reason, [])
        if len(samples[reason]) < 3:
            samples[reason].append(f"row {row}" + shown.get(reason, lambda k: "")(row - 2))
    return samples


def test_rows_after_gaps_by_hand():
    assert rows_after_gaps(range(4), 2, []).tolist() == [2, 3, 4, 5]
    assert rows_after_gaps(range(4), 2, [2]).tolist() == [3, 4, 5, 6]  # an empty line under the header
    assert rows_after_gaps(range(4), 2, [4, 5, 9]).tolist() == [2, 3, 6, 7]
    assert rows_after_gaps([0, 3], 5, [6, 7]).tolist() == [5, 10]


@given(st.lists(st.booleans(), max_size=60), st.integers(1, 5))
def test_rows_after_gaps_is_counting_the_rows_that_hold_data(holds, first):
    """Rows first, first + 1, …: the ones that hold data, numbered one by one (the rule, by a loop)."""
    rows = [first + k for k, held in enumerate(holds) if held]
    gaps = [first + k for k, held in enumerate(holds) if not held]
    assert rows_after_gaps(range(len(rows)), first, gaps).tolist() == rows


@pytest.mark.parametrize("text, inner", [
    ("a\nb\n", False), ("a\nb\n\n\n", False), ("a\r\nb\r\n\r\n", False), ("a\n\nb\n", True),
    ("a\r\n\r\nb", True), ("\n\na\n", True), ("a\rb\r\rc\r", True), ("a\r\nb\r\n", False),
])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1251"])
def test_an_empty_line_inside_the_file_is_found_across_chunks(tmp_path, monkeypatch, text, inner, encoding):
    path = tmp_path / "t.csv"
    path.write_bytes(text.encode(encoding))
    for chunk in (1, 2, 3, 1 << 24):  # every boundary between two characters (or bytes)
        monkeypatch.setattr(read_mod, "TEXT_CHUNK", chunk)
        assert has_inner_empty_line(str(path), encoding) is inner


def test_csv_gaps_counts_records_not_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('h1,h2\na,"b\n\nc"\n\nd,e,f\ng,h\n\n', encoding="utf-8")
    records, empty, wide = csv_gaps(str(path), "utf-8", ",", skip=1, width=2)
    assert (records, empty, wide) == (5, [3, 6], {4: ("d", "e", "f")})


@given(st.lists(st.sampled_from(["a,b", "", "c,d", ",", '"e",f']), max_size=12), st.sampled_from(["\n", "\r\n"]),
       st.sampled_from(["", "\n", "\n\n"]), st.sampled_from([1, 2, 3, 5, 1 << 24]))
def test_line_gaps_are_csv_gaps_where_records_are_lines(tmp_path_factory, lines, newline, end, chunk):
    """Without values over several lines, the lines found in bytes are csv's records, whatever the
    line breaks, the end of the file and the chunks it is read in."""
    path = tmp_path_factory.mktemp("lines") / "p.csv"
    path.write_bytes((newline.join(["h1,h2", *lines]) + end.replace("\n", newline)).encode())
    records, empty, _ = csv_gaps(str(path), "utf-8", ",", skip=1, width=2)
    read_mod.TEXT_CHUNK, chunk = chunk, read_mod.TEXT_CHUNK
    try:
        assert line_gaps(str(path), skip=1) == (records - len(empty), empty)
    finally:
        read_mod.TEXT_CHUNK = chunk


def test_line_gaps_refuse_lone_carriage_returns_and_count_a_value_over_lines_as_two(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"h1,h2\ra,b\r\rc,d\r")
    assert line_gaps(str(path), skip=1) is None
    path.write_bytes(b'h1,h2\na,"b\nc"\n\nd,e\n')
    assert line_gaps(str(path), skip=1) == (3, [4])  # three lines hold text: not csv's two records
    assert csv_gaps(str(path), "utf-8", ",", skip=1, width=2) == (3, [3], {})
    path.write_bytes(b"title\n\nh1,h2\na,b\n")  # an empty line among those skipped is none of the table's
    assert line_gaps(str(path), skip=3) == (1, []) and csv_gaps(str(path), "utf-8", ",", skip=3, width=2) == (1, [], {})


@given(st.lists(st.sampled_from(sorted(RECORDS)), max_size=25), st.sampled_from(["\n", "\r\n"]))
def test_rows_are_the_file_s_own_on_both_engines(tmp_path_factory, kinds, newline):
    """Random exports of good, bad, blank and wide records, empty lines and values over two lines:
    every excluded record is named by its own row, in --rejects and in the samples, by the pandas
    loader and (where it reads the file: no wide records) by DuckDB."""
    bad = sum(RECORDS[k][1] is not None for k in kinds)
    kinds = ["ok"] * (3 * bad + 1) + kinds  # most values read: the loader takes the columns
    text, expected = export(kinds, newline)
    path = tmp_path_factory.mktemp("rows") / "p.csv"
    path.write_bytes(text.encode())
    assert loaded_rows(path) == (expected, samples_of(expected))
    if "wide" in kinds:
        with pytest.raises(engine.Unsupported):
            engine_rows(path)
    else:
        assert engine_rows(path) == (expected, samples_of(expected))


def test_rows_by_hand_on_both_engines(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("customer_id,date,amount\nC1,2024-01-01,10\n\nC2,notadate,5\n\n\nC3,2024-01-02,3\n"
                    "C5,2024-01-04,-x\nC6,2024-01-05,7\n,2024-01-05,8\nC8,2024-01-05,9\n\n", encoding="utf-8")
    expected = [(4, "unparseable order date"), (8, "unparseable amount"), (10, "no customer id")]
    samples = {"unparseable order date": ["row 4 'notadate'"], "unparseable amount": ["row 8 '-x'"],
               "no customer id": ["row 10"]}
    assert loaded_rows(path) == (expected, samples)
    assert engine_rows(path) == (expected, samples)


def test_rows_without_a_customer_id_alone_by_hand_on_both_engines(tmp_path):
    """The only rows excluded have no customer id: DuckDB finds their samples without --rejects."""
    path = tmp_path / "p.csv"
    path.write_text("customer_id,date,amount\nC1,2024-01-01,10\n\n,2024-01-05,8\nC3,2024-01-02,3\n\n\n"
                    "C6,2024-01-05,7\n,2024-01-05,9\n", encoding="utf-8")
    report = load_purchases([str(path)])[1]
    result = engine.summarize(engine.open_source([str(path)], LoadOptions()))
    assert report.excluded["no customer id"].samples == result.excluded["no customer id"][1] == ["row 4", "row 9"]


def test_a_skipped_record_is_named_by_its_row_in_file_order(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("customer_id,date,amount\nC1,2024-01-01,10\nC4,2024-01-03,1,extra\n\nC2,2024-01-04,x\n"
                    "C5,2024-01-05,2\nC6,2024-01-05,3\nC7,2024-01-05,4\n", encoding="utf-8")
    rows, samples = loaded_rows(path)
    assert rows == [(3, "wrong number of fields (expected 3, got 4)"), (5, "unparseable amount")]
    assert samples["wrong number of fields (expected 3, got 4)"] == ["row 3 'C4,2024-01-03,1,extra'"]


def test_xlsx_rows_are_the_sheet_s_rows(tmp_path):
    """Title rows, empty rows under the header, between rows and at the end: the sheet's row numbers."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in (["Sales report"], [], ["customer_id", "date", "amount"], [], ["C1", "2024-01-01", 10], [],
                ["C2", "bad", 5], ["C3", "2024-01-02", "x"], [], [], [None, "2024-01-02", 3], ["C4", "2024-01-03", 2],
                ["C5", "2024-01-03", 2], ["C6", "2024-01-03", 2], [], []):
        sheet.append(row)
    path = tmp_path / "p.xlsx"
    book.save(path)
    rows, samples = loaded_rows(path)
    assert rows == [(7, "unparseable order date"), (8, "unparseable amount"), (11, "no customer id")]
    assert samples == {"unparseable order date": ["row 7 'bad'"], "unparseable amount": ["row 8 'x'"],
                       "no customer id": ["row 11"]}


@pytest.mark.parametrize("off", ["records", "wide"])
def test_records_that_do_not_match_the_reader_s_leave_the_rows_numbered_one_by_one(tmp_path, monkeypatch, off):
    """Where csv's records are not those the reader read (one record more, or one of another width
    DuckDB would not have read), the rows are numbered as the reader counts them, on both engines."""
    path = tmp_path / "p.csv"
    path.write_text("customer_id,date,amount\nC1,2024-01-01,10\n\n,2024-01-05,8\nC2,2024-01-02,3\n", encoding="utf-8")

    def mismatched(*args, **kwargs):
        records, empty, wide = csv_gaps(*args, **kwargs)
        return (records + 1, empty, wide) if off == "records" else (records, empty, {99: ("x",)})

    monkeypatch.setattr(read_mod, "csv_gaps", mismatched)
    monkeypatch.setattr(engine, "csv_gaps", mismatched)
    def one_line_more(*args, **kwargs):
        lines, empty = line_gaps(*args, **kwargs)
        return lines + 1, empty

    monkeypatch.setattr(engine, "line_gaps", one_line_more)
    result = engine.summarize(engine.open_source([str(path)], LoadOptions(), rejects="x.csv"))
    assert engine.rejected_rows(result)["row"].tolist() == [3]
    assert loaded_rows(path) == ([(3, "no customer id")], {"no customer id": ["row 3"]})


@pytest.mark.parametrize("encoding", ["utf-8", "cp1251", "utf-16"])
def test_rows_from_stdin_and_gzip_in_any_encoding(run, tmp_path, encoding):
    """Standard input and a gzipped file, in a Russian export's encodings: the same rows."""
    import gzip

    text = ("Клиент;Дата;Сумма\r\nК1;01.02.2024;10,5\r\n\r\nК2;слово;5\r\nК3;02.02.2024;7\r\nК4;03.02.2024;8\r\n"
            "\r\n;03.02.2024;9\r\nК5;04.02.2024;1\r\n")
    data = text.encode(encoding)
    (tmp_path / "p.csv.gz").write_bytes(gzip.compress(data))
    for path, stdin in (("-", data), (tmp_path / "p.csv.gz", None)):
        done = run("summary", path, "--format", "csv", "--rejects", tmp_path / "r.csv", "--encoding", encoding,
                   input=stdin)
        assert done.exit_code == 0, done.stderr
        assert "unparseable order date: row 4 'слово'" in done.stderr and "no customer id: row 8" in done.stderr
        assert pd.read_csv(tmp_path / "r.csv")["row"].tolist() == [4, 8]


def test_whitespace_separated_rows_count_their_empty_lines(tmp_path):
    """A table of columns lined up with spaces (read by pandas): empty lines and lines of spaces
    are rows too, above and between the data."""
    path = tmp_path / "p.txt"
    path.write_text("customer_id  order_date  amount\n\nC1  2024-01-01  10\n\nC2  bad  5\n   \nC3  2024-01-02  7\n"
                    "C4 2024-01-02 7\n   C5 2024-01-02 x\n\n", encoding="utf-8")
    assert loaded_rows(path) == ([(5, "unparseable order date"), (9, "unparseable amount")],
                                 {"unparseable order date": ["row 5 'bad'"], "unparseable amount": ["row 9 'x'"]})
    assert load_purchases([str(path)])[1].rows_read == 5


SHEET_ROWS = {  # a sheet row of each kind (i: a number that makes it unique) and the reason it is excluded for
    "ok": (lambda i: [f"C{i % 7}", f"2025-01-{i % 28 + 1:02d}", i + 0.5], None),
    "bad date": (lambda i: [f"C{i}", "someday", 5], "unparseable order date"),
    "bad amount": (lambda i: [f"C{i}", "2025-01-05", f"{i}abc"], "unparseable amount"),
    "guest": (lambda i: [None, "2025-01-05", i], "no customer id"),
    "empty": (lambda i: [], None),
    "blank cells": (lambda i: [None, None, None], None),
}


@given(st.lists(st.sampled_from(sorted(SHEET_ROWS)), max_size=20), st.integers(0, 3))
def test_xlsx_rows_are_the_sheet_s_own(tmp_path_factory, kinds, titles):
    """Random sheets of good, bad, guest and empty rows under title rows: every excluded row is
    named by its row in the sheet (the header's row + 1 + its place below it)."""
    bad = sum(SHEET_ROWS[k][1] is not None for k in kinds)
    kinds = ["ok"] * (3 * bad + 1) + kinds
    book = openpyxl.Workbook()
    sheet = book.active
    for t in range(titles):
        sheet.append([f"Report, part {t}"] if t % 2 == 0 else [])
    sheet.append(["customer_id", "date", "amount"])
    header_row = titles + 1
    expected = []
    for k, kind in enumerate(kinds):
        make, reason = SHEET_ROWS[kind]
        sheet.append(make(k))
        if reason:
            expected.append((header_row + 1 + k, reason))
    path = tmp_path_factory.mktemp("sheet") / "p.xlsx"
    book.save(path)
    shown = {"unparseable order date": lambda k: " 'someday'", "unparseable amount": lambda k: f" '{k}abc'"}
    samples: dict[str, list[str]] = {}
    for row, reason in expected:
        if len(samples.setdefault(reason, [])) < 3:
            samples[reason].append(f"row {row}" + shown.get(reason, lambda k: "")(row - header_row - 1))
    assert loaded_rows(path) == (expected, samples)
