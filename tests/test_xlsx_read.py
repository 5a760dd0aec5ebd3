"""XLSX is read by python-calamine, cell for cell as openpyxl (the reader before it, kept for sheets with
error cells) reads it: random workbooks written by openpyxl and by XlsxWriter give the same table both ways."""

import datetime as dt
import io
import math
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custlens.errors import EmptyInputError, InputError
from custlens.io import read

TEXT = st.sampled_from(["", " ", "C1", "Клиент", "00123", "#n/a", "1 234,50", "12.03.2024", "-", "TRUE", " x "])
NUMBER = st.one_of(
    st.integers(-10**6, 10**6),
    st.integers(-2**62, 2**62),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([0.0, -0.0, 5.0, 1e15, 1e16, 9999999999999998.0, 1e-7, 28.97, 45000.0, 45000.5]),
)
MOMENT = st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(9999, 12, 31))
CELL = st.one_of(st.none(), TEXT, NUMBER, st.booleans(), MOMENT,
                 st.dates(dt.date(1900, 3, 1), dt.date(9999, 12, 31)), st.times(),
                 st.sampled_from([dt.timedelta(hours=30, minutes=5), dt.timedelta(0)]))


def blank(value) -> bool:
    return value is None or isinstance(value, str) and not value.strip()


def same_cell(ours, theirs, spaces: bool) -> bool:
    """openpyxl gives '' for an empty text cell where calamine gives nothing. Where the writer did not
    mark a cell of spaces alone to keep them (``spaces``: openpyxl does not), calamine reads it as ''.
    Both are blank to the loader. Times may differ by a millisecond: both readers round Excel's
    fraction of a day to milliseconds, in different ways."""
    if ours is None and theirs == "" or spaces and blank(ours) and blank(theirs):
        return True
    if type(ours) is type(theirs) and isinstance(ours, (dt.datetime, dt.time)):
        if isinstance(ours, dt.time):
            ours, theirs = (dt.datetime.combine(dt.date(2000, 1, 1), t) for t in (ours, theirs))
        return abs(ours - theirs) <= dt.timedelta(milliseconds=1)
    if isinstance(ours, float) and isinstance(theirs, float) and math.isnan(ours) and math.isnan(theirs):
        return True
    return type(ours) is type(theirs) and ours == theirs


def assert_same_table(ours, theirs, spaces: bool):
    """The same table; with ``spaces``, rows of spaces alone (empty to calamine) are left out of both."""
    assert ours.header_names == theirs.header_names
    assert list(ours.frame.columns) == list(theirs.frame.columns)
    assert ours.first_data_row == theirs.first_data_row
    mine_rows = [row for row in ours.frame.itertuples(index=False) if not (spaces and all(map(blank, row)))]
    other_rows = [row for row in theirs.frame.itertuples(index=False) if not (spaces and all(map(blank, row)))]
    assert len(mine_rows) == len(other_rows) and ours.frame.shape[1] == theirs.frame.shape[1]
    for mine, other in zip(mine_rows, other_rows):
        assert all(same_cell(a, b, spaces) for a, b in zip(mine, other)), (mine, other)


def before_1904(value) -> bool:
    """A date Excel cannot hold in a workbook of the 1904 date system (openpyxl writes it, a negative serial)."""
    return isinstance(value, dt.date) and (value if isinstance(value, dt.datetime)
                                           else dt.datetime.combine(value, dt.time())) < dt.datetime(1904, 1, 2)


def write_openpyxl(path, sheets, date_1904=False):
    from openpyxl import Workbook
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    book = Workbook()
    if date_1904:
        book.epoch = CALENDAR_MAC_1904
    book.remove(book.active)
    for name, rows in sheets:
        sheet = book.create_sheet(name)
        for r, row in enumerate(rows, start=1):
            for c, value in enumerate(row, start=1):
                if value is not None and not (date_1904 and before_1904(value)):
                    sheet.cell(r, c, value)
    book.save(path)


def write_xlsxwriter(path, sheets, date_1904=False):
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"date_1904": date_1904})
    formats = {dt.datetime: book.add_format({"num_format": "dd.mm.yyyy hh:mm:ss.000"}),
               dt.date: book.add_format({"num_format": "dd.mm.yyyy"}),
               dt.time: book.add_format({"num_format": "hh:mm:ss"}),
               dt.timedelta: book.add_format({"num_format": "[h]:mm:ss"})}
    for name, rows in sheets:
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None or date_1904 and before_1904(value):
                    continue
                if type(value) in formats:
                    sheet.write_datetime(r, c, value, formats[type(value)])
                elif isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                elif isinstance(value, str):
                    sheet.write_string(r, c, value)
                elif abs(value) < 1e300:  # XlsxWriter refuses larger numbers
                    sheet.write_number(r, c, value)
    book.close()


@st.composite
def workbooks(draw):
    width = draw(st.integers(1, 5))
    left = draw(st.integers(0, 2))
    rows = [[None] * width for _ in range(draw(st.integers(0, 3)))]  # empty rows above
    if draw(st.booleans()):
        rows.append([draw(st.sampled_from(["Отчёт о продажах", "Report"]))] + [None] * (width - 1))
    rows.append([f"col{i}" if draw(st.integers(0, 5)) else draw(CELL) for i in range(width)])
    rows += draw(st.lists(st.lists(CELL, min_size=0, max_size=width + 1), min_size=0, max_size=12))
    rows = [[None] * left + list(row) for row in rows]
    sheets = [("Данные", rows)]
    if draw(st.booleans()):
        sheets.insert(draw(st.integers(0, 1)), ("Notes", [["not this sheet"]]))
    return sheets


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sheets=workbooks(), writer=st.sampled_from([write_openpyxl, write_xlsxwriter]), by_name=st.booleans(),
       date_1904=st.booleans())
def test_calamine_reads_every_cell_as_openpyxl(tmp_path, sheets, writer, by_name, date_1904):
    path = tmp_path / "book.xlsx"
    writer(path, sheets, date_1904)
    index = [name for name, _ in sheets].index("Данные")
    sheet = "Данные" if by_name else str(index + 1)
    spaces = writer is write_openpyxl and any(isinstance(v, str) and v and not v.strip()
                                               for _, rows in sheets for row in rows for v in row)
    try:
        theirs = read._read_xlsx_openpyxl(path, sheet, str(path))
    except InputError as e:  # an empty sheet, or column names without rows: the same error
        with pytest.raises(InputError) as ours:
            read._read_xlsx(path, sheet)
        assert type(ours.value) is type(e)
        return
    with zipfile.ZipFile(path) as archive:
        assert not read._has_error_cells(archive, index)
    try:
        ours = read._read_xlsx(path, sheet)
    except EmptyInputError:  # the rows below the header were cells of spaces, which calamine read as empty
        assert spaces
        return
    if spaces and ours.first_data_row != theirs.first_data_row:
        return  # the header was a row of spaces
    assert_same_table(ours, theirs, spaces)
    assert_same_table(read._read_xlsx(io.BytesIO(path.read_bytes()), sheet, source=str(path)), theirs, spaces)


def test_sheet_with_error_cells_is_read_by_openpyxl_keeping_their_text(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Notes"
    book.active.append(["#N/A"])
    sheet = book.create_sheet("Orders")
    sheet.append(["customer_id", "order_date", "amount"])
    sheet.append(["C1", dt.datetime(2024, 1, 5), "#DIV/0!"])  # openpyxl writes error codes as error cells
    sheet.append(["C2", dt.datetime(2024, 1, 6), 5])
    path = tmp_path / "errors.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        assert read._has_error_cells(archive, 1) and read._has_error_cells(archive, 0)
    table = read._read_xlsx(path, "Orders")
    assert table.frame["amount"].tolist() == ["#DIV/0!", 5]
    assert table.frame["customer_id"].tolist() == ["C1", "C2"]


def test_error_cells_in_another_sheet_do_not_send_this_one_to_openpyxl(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["#REF!"])
    book.create_sheet("Orders").append(["customer_id"])
    path = tmp_path / "other.xlsx"
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        assert read._has_error_cells(archive, 0) and not read._has_error_cells(archive, 1)


def test_a_zip_that_is_not_a_workbook_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(InputError, match=r"notes.xlsx: cannot be read as XLSX"):
        read._read_xlsx(path, None)


def test_header_cells_are_named_as_openpyxl_gives_them():
    """A whole number in the header row is '5' (calamine's 5.0 is openpyxl's 5), a date its midnight datetime."""
    rows = [["", "", ""], ["id", 5.0, dt.date(2024, 1, 5), "", ""], ["a", 1.0, 2.5, "", ""], ["", "", "", "", ""]]
    table = read._xlsx_table("s.xlsx", "S", rows, value=read._openpyxl_value)
    assert table.header_names == ["id", "5", "2024-01-05 00:00:00"]
    assert table.frame.values.tolist() == [["a", 1, 2.5]] and type(table.frame.iloc[0, 1]) is int
    assert table.first_data_row == 3


def test_ragged_rows_are_cut_or_padded_to_the_header():
    """openpyxl's rows have their own lengths where a sheet does not state its size."""
    table = read._xlsx_table("s.xlsx", "S", [(None,), ("h1", "h2", "h3"), ("a",), (), ("b", "c", "d", "e")])
    assert table.frame.values.tolist() == [["a", None, None], ["b", "c", "d"]]
    assert table.first_data_row == 3


def test_empty_rows_below_the_head_are_left_out():
    rows = [["id", "amount", ""]] + [[f"C{i}", float(i), ""] for i in range(40)] + [["", "", ""], ["C40", "", ""],
                                                                               ["", "", "right of the table"]]
    table = read._xlsx_table("s.xlsx", "S", rows, value=read._openpyxl_value)
    assert table.frame["id"].tolist() == [f"C{i}" for i in range(41)]
    assert table.frame["amount"].tolist() == list(range(40)) + [None]


def test_gzipped_workbook_from_a_path_and_from_stdin(tmp_path, monkeypatch):
    import gzip

    path = tmp_path / "orders.xlsx"
    write_xlsxwriter(path, [("Orders", [["customer_id", "amount"], ["C1", 5.0], ["C2", 2.5]])])
    packed = tmp_path / "orders.xlsx.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    monkeypatch.setattr("sys.stdin", type("Stdin", (), {"buffer": io.BytesIO(packed.read_bytes())})())
    for table in (read.read_table(str(packed)), read.read_table("-")):
        assert table.frame.values.tolist() == [["C1", 5], ["C2", 2.5]]
    assert read.read_table(str(packed)).source == str(packed)


@pytest.mark.parametrize("error_cells", [False, True])
def test_chart_sheets_are_not_counted_among_the_sheets(tmp_path, error_cells):
    """openpyxl's ``worksheets`` leave chart sheets out: ``--sheet 2`` is the second sheet of data."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference

    book = Workbook()
    first = book.active
    first.title = "Data0"
    first.append(["customer_id", "amount"])
    first.append(["C1", 5])
    chart = BarChart()
    chart.add_data(Reference(first, min_col=2, min_row=1, max_row=2))
    book.create_chartsheet("Chart", 0).add_chart(chart)
    second = book.create_sheet("Data1")
    second.append(["customer_id", "amount"])
    second.append(["C2", "#N/A" if error_cells else 7])
    path = tmp_path / "charts.xlsx"
    book.save(path)
    assert read._read_xlsx(path, None).frame["customer_id"].tolist() == ["C1"]
    assert read._read_xlsx(path, "1").frame["customer_id"].tolist() == ["C1"]
    for sheet in ("2", "Data1"):
        assert read._read_xlsx(path, sheet).frame.values.tolist() == [["C2", "#N/A" if error_cells else 7]]
    with pytest.raises(InputError, match=r"no sheet 'Chart'; the sheets are 'Data0', 'Data1'"):
        read._read_xlsx(path, "Chart")


FORMATS = ["mmm-yy", 'yyyy"г."', "[$-F800]dddd, mmmm dd, yyyy", "m/d/yy h:mm", 14, 22, "dd/mm/yyyy;@", "0.00%",
           "#,##0.00 ₽", "[Red]-0.00", '"Date: "dd.mm.yyyy', "h:mm AM/PM", "mm:ss.0", "[mm]:ss", "General", "@",
           "yyyy-mm-ddThh:mm", "DD.MM.YYYY", "d-mmm", "[$-419]d mmmm yyyy", "0", "# ?/?", 45, 46, 47, "yy", "ddd"]


def test_number_formats_make_dates_times_and_numbers_alike(tmp_path):
    """Whether a number is a date, a time, a duration or a number comes from its format, built in or written."""
    import xlsxwriter

    path = tmp_path / "formats.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["format", "whole", "fraction", "time of day"])
    for row, fmt in enumerate(FORMATS, start=1):
        sheet.write_string(row, 0, str(fmt))
        for column, value in enumerate((45296, 45296.5123, 0.25), start=1):
            sheet.write_number(row, column, value, book.add_format({"num_format": fmt}))
    book.close()
    theirs = read._read_xlsx_openpyxl(path, None, str(path))
    assert_same_table(read._read_xlsx(path, None), theirs, spaces=False)
    kinds = {type(v).__name__ for v in theirs.frame["fraction"]}
    assert kinds == {"datetime", "float", "timedelta"}


def test_error_scan_finds_the_sheet_in_strict_namespaces_and_sends_the_unfound_to_openpyxl(tmp_path):
    path = tmp_path / "plain.xlsx"
    write_xlsxwriter(path, [("A", [["customer_id"], ["C1"]]), ("B", [["customer_id"], ["C2"]])])

    def rewritten(name, change):
        out = tmp_path / name
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
            for item in source.infolist():
                data = source.read(item.filename)
                target.writestr(item, change(item.filename, data))
        return zipfile.ZipFile(out)

    strict = rewritten("strict.xlsx", lambda name, data: data.replace(
        b"http://schemas.openxmlformats.org/spreadsheetml/2006/main", b"http://purl.oclc.org/ooxml/spreadsheetml/main")
        .replace(b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                 b"http://purl.oclc.org/ooxml/officeDocument/relationships") if name == "xl/workbook.xml" else
        data.replace(b'<c r="A2" t="s">', b'<c r="A2" t="e">') if name == "xl/worksheets/sheet2.xml" else data)
    assert not read._has_error_cells(strict, 0) and read._has_error_cells(strict, 1)
    lost = rewritten("lost.xlsx", lambda name, data: data.replace(b'Id="rId1"', b'Id="rId9"')
                     if name == "xl/_rels/workbook.xml.rels" else data)
    assert read._has_error_cells(lost, 0) and not read._has_error_cells(lost, 1)
