"""Every output format read back and compared with the frame that was written."""

import io
import json
import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from custlens import output
from custlens.errors import OutputError

FRAME = pd.DataFrame({
    "customer_id": pd.array(["C1", "=HYPERLINK(\"x\")", "-5", "Анна"], dtype="string"),
    "first_order": pd.to_datetime(["2024-01-01", "2024-02-29", "2024-12-31", "2025-01-01"]),
    "frequency": np.array([1, 2, 3, 40_000], dtype=np.int64),
    "monetary": [10.5, -2.25, 0.0, 1234567.89],
    "median_gap_days": [np.nan, 3.0, 4.5, 10.0],
})


def written(fmt):
    buffer = io.BytesIO()
    output.write(FRAME, fmt, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt, sep", [("csv", ","), ("tsv", "\t")])
def test_csv_and_tsv(fmt, sep):
    text = written(fmt).decode("utf-8")
    back = pd.read_csv(io.StringIO(text), sep=sep, dtype={"customer_id": str}, keep_default_na=False,
                       na_values=[""])
    assert back["customer_id"].tolist() == ["C1", "'=HYPERLINK(\"x\")", "'-5", "Анна"]  # formulas neutralised
    assert back["first_order"].tolist() == ["2024-01-01", "2024-02-29", "2024-12-31", "2025-01-01"]
    assert back["frequency"].tolist() == [1, 2, 3, 40000]
    assert back["monetary"].tolist() == [10.5, -2.25, 0.0, 1234567.89]  # numbers are never prefixed
    assert np.isnan(back["median_gap_days"][0])


def test_json_and_jsonl():
    records = json.loads(written("json"))
    lines = [json.loads(line) for line in written("jsonl").decode().splitlines()]
    assert records == lines
    assert records[0] == {"customer_id": "C1", "first_order": "2024-01-01", "frequency": 1, "monetary": 10.5,
                          "median_gap_days": None}
    assert records[3]["customer_id"] == "Анна"  # text as it is: JSON is not a spreadsheet


def test_parquet_keeps_types():
    back = pd.read_parquet(io.BytesIO(written("parquet")))
    pd.testing.assert_frame_equal(back, FRAME, check_dtype=False)
    assert back["first_order"].dtype.kind == "M" and back["frequency"].dtype.kind == "i"


def test_xlsx_numbers_dates_header_and_filter():
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(written("xlsx")))
    sheet = book.active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == tuple(FRAME.columns)
    assert rows[2][0] == "'=HYPERLINK(\"x\")"
    assert rows[1][1].date().isoformat() == "2024-01-01" and sheet["B2"].number_format == "yyyy-mm-dd"
    assert rows[4][2] == 40000 and isinstance(rows[4][3], float) and rows[4][3] == 1234567.89
    assert rows[1][4] is None
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:E5"
    assert sheet["A1"].font.bold and sheet.column_dimensions["A"].width >= len("customer_id")


def test_table_rendering_formats_cells():
    out = io.StringIO()
    output.render_table(FRAME, file=out)
    text = out.getvalue()
    assert "1,234,567.89" in text and "40,000" in text and "2024-02-29" in text
    assert "4.50" in text  # a column with a fraction keeps two decimals
    whole = io.StringIO()
    output.render_table(FRAME.assign(median_gap_days=[np.nan, 3.0, 4.0, 10.0]), file=whole)
    assert " 3 " in whole.getvalue() and "3.00" not in whole.getvalue()


@pytest.mark.parametrize("path, expected", [("a.csv", "csv"), ("a.TSV", "tsv"), ("a.json", "json"),
                                            ("a.jsonl", "jsonl"), ("a.parquet", "parquet"), ("a.xlsx", "xlsx")])
def test_format_from_extension(path, expected):
    assert output.choose_format(None, path, stdout_is_tty=True) == expected
    assert output.choose_format("json", path, stdout_is_tty=True) == "json"


def test_default_format_follows_the_terminal():
    assert output.choose_format(None, None, stdout_is_tty=True) == "table"
    assert output.choose_format(None, None, stdout_is_tty=False) == "csv"
    with pytest.raises(OutputError, match="extension '.doc'"):
        output.choose_format(None, "x.doc", stdout_is_tty=False)


def test_atomic_write_leaves_nothing_when_writing_fails(tmp_path):
    target = tmp_path / "out.csv"

    def broken(fh):
        fh.write(b"half a file")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        output.write_atomic(str(target), broken)
    assert os.listdir(tmp_path) == []
    target.write_text("old")
    with pytest.raises(RuntimeError):
        output.write_atomic(str(target), broken)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["out.csv"]


def test_emit_to_file_and_errors(tmp_path):
    assert output.emit(FRAME, path=str(tmp_path / "x.parquet")) == "parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "x.parquet"), FRAME, check_dtype=False)
    with pytest.raises(OutputError, match="does not exist"):
        output.emit(FRAME, path=str(tmp_path / "missing" / "x.csv"))
    with pytest.raises(OutputError, match="for the terminal"):
        output.emit(FRAME, fmt="table", path=str(tmp_path / "x.csv"))


def test_select_sorts_stably_and_limits():
    frame = pd.DataFrame({"id": ["a", "b", "c", "d"], "v": [2.0, np.nan, 2.0, 5.0]})
    assert output.select(frame, sort="-v")["id"].tolist() == ["d", "a", "c", "b"]  # ties keep order, NaN last
    assert output.select(frame, sort="v", limit=2)["id"].tolist() == ["a", "c"]
    assert output.select(frame, limit=0).empty
    with pytest.raises(OutputError, match="no column 'w'"):
        output.select(frame, sort="w")


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "jsonl", "parquet", "xlsx", "table"])
def test_an_empty_table_keeps_its_header(fmt):
    empty = FRAME.iloc[:0]
    buffer = io.BytesIO()
    output.write(empty, fmt, buffer)
    data = buffer.getvalue()
    if fmt in ("csv", "tsv"):
        assert data.decode().strip().split("," if fmt == "csv" else "\t") == list(FRAME.columns)
    elif fmt == "json":
        assert json.loads(data) == []
    elif fmt == "jsonl":
        assert data == b""
    elif fmt == "parquet":
        assert pd.read_parquet(io.BytesIO(data)).columns.tolist() == list(FRAME.columns)
    elif fmt == "xlsx":
        assert pd.read_excel(io.BytesIO(data)).columns.tolist() == list(FRAME.columns)
    else:
        assert "customer_id" in data.decode()


def test_written_files_get_ordinary_permissions(tmp_path):
    target = tmp_path / "out.csv"
    output.emit(FRAME, path=str(target))
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    target.chmod(0o640)
    output.emit(FRAME, path=str(target))
    assert target.stat().st_mode & 0o777 == 0o640  # an existing file keeps its mode


TEXT = st.text(alphabet=st.sampled_from(list("aZ09 ,;\t\"'\n\r#=+-@é Ж\\")), max_size=6) | st.sampled_from(
    ["", "nan", "NULL", "True", " x ", "-1.5"])
COLUMNS = {
    "float64": st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
        [1e16, 1e15, 9999999999999998.0, 1e-5, 1e-4, -0.0, 5e-324, 0.1 + 0.2, 1e22, 123456789.125])),
    "int64": st.lists(st.integers(-(2 ** 63), 2 ** 63 - 1)),
    "Int64": st.lists(st.none() | st.integers(-(2 ** 40), 2 ** 40)),
    "bool": st.lists(st.booleans()),
    "string": st.lists(st.none() | TEXT),
    "object": st.lists(TEXT),
    "category": st.lists(st.none() | st.sampled_from(["lapsed", "at_risk", "a,b", "#x", ""])),
    "category of numbers": st.lists(st.none() | st.sampled_from([1.5, 2.0])),
}


@st.composite
def frames(draw):
    kinds = draw(st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=5))
    rows = draw(st.integers(0, 12))
    data = {}
    for i, kind in enumerate(kinds):
        values = draw(COLUMNS[kind].filter(lambda v: len(v) >= rows)) if rows else []
        values = values[:rows]
        name = draw(st.sampled_from([f"c{i}", f"col {i}", f"c,{i}", f"#{i}"]))
        dtypes = {"object": object, "string": "string", "Int64": "Int64", "category of numbers": "category"}
        data[name] = pd.Series(values, dtype=dtypes.get(kind, kind))
    return pd.DataFrame(data)


@given(frame=frames(), fmt=st.sampled_from(["csv", "tsv"]))
@example(frame=pd.DataFrame({"c0": pd.array(["a,b", 'a"b', "a\nb", "a\tb", "", None], dtype="string"),
                              "c1": range(6)}), fmt="csv")  # quoted alike by both writers
@example(frame=pd.DataFrame({"c0": pd.array(["a,b", 'a"b', "a\nb", "a\tb", "x", None], dtype="string"),
                              "c1": range(6)}), fmt="tsv")
@example(frame=pd.DataFrame({"c0": pd.Categorical(["lapsed", None, "a,b", "lapsed"], categories=["lapsed", "a,b", "x"]),
                              "c1": range(4)}), fmt="csv")  # text categories: as text
@example(frame=pd.DataFrame({"c0": pd.Categorical([1.5, None, 2.0]), "c1": range(3)}), fmt="csv")
@example(frame=pd.DataFrame({"c0": pd.array(["#a", "b"], dtype="string")}), fmt="csv")
@example(frame=pd.DataFrame({"c0": pd.array(["a\rb", "b"], dtype="string")}), fmt="tsv")
def test_large_csv_from_duckdb_is_the_bytes_pandas_writes(frame, fmt):
    """Large tables are written by DuckDB: the same bytes as pandas' to_csv, or pandas writes
    them (a cell DuckDB might write differently: a carriage return, '#', mixed objects,
    categories of numbers)."""
    sep = "," if fmt == "csv" else "\t"
    expected = output.safe_cells(frame).to_csv(index=False, sep=sep, lineterminator="\n").encode("utf-8")
    buffer = io.BytesIO()
    fast = output._write_csv_fast(output.safe_cells(frame), sep, buffer)
    if fast:
        assert buffer.getvalue() == expected
    else:
        assert buffer.getvalue() == b""
    def plain_column(column):
        if isinstance(column.dtype, pd.CategoricalDtype):
            if not all(isinstance(c, str) for c in column.cat.categories):
                return False
            column = column.astype("string")
        if column.dtype == "string":
            return not column.str.contains("[\r#]").fillna(False).any()
        return column.dtype != object

    plain = all(plain_column(frame[c]) for c in frame.columns) and not any(
        ch in str(c) for c in frame.columns for ch in "\"#,\t")
    lone_empty = frame.shape[1] == 1 and (frame.iloc[:, 0].isna() | (frame.iloc[:, 0].astype("string") == "")).any()
    if plain and len(frame.columns) and not lone_empty:
        assert fast, "a table of plain cells goes to DuckDB"


def test_large_csv_goes_through_duckdb(monkeypatch):
    """From FAST_CSV_ROWS rows, output.write hands CSV to DuckDB (which writes pandas' bytes)."""
    calls = []
    real = output._write_csv_fast
    monkeypatch.setattr(output, "_write_csv_fast", lambda *a: calls.append(1) or real(*a))
    big = pd.concat([FRAME.iloc[[0, 2, 3]]] * (output.FAST_CSV_ROWS // 3 + 1), ignore_index=True)
    buffer = io.BytesIO()
    output.write(big, "csv", buffer)
    assert calls == [1]
    assert buffer.getvalue() == output.safe_cells(big).to_csv(index=False, lineterminator="\n",
                                                              date_format="%Y-%m-%d").encode("utf-8")


def test_mixed_objects_are_left_to_pandas():
    """A column of numbers next to text (a table of measures) is written by pandas, as it was."""
    frame = pd.DataFrame({"measure": ["a", "b"], "value": pd.Series([1.5, "n/a"], dtype=object)})
    buffer = io.BytesIO()
    assert output._write_csv_fast(frame, ",", buffer) is False and buffer.getvalue() == b""
    assert output._write_csv_fast(frame[["measure"]], ",", buffer) is True
    assert buffer.getvalue() == b"measure\na\nb\n"


# --- XLSX: the rows written as XML are the bytes XlsxWriter writes cell by cell ----------------

def _zip_parts(buffer) -> dict:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as book:
        return {name: book.read(name) for name in book.namelist() if name != "docProps/core.xml"}


def _xlsxwriter_cell_by_cell(frame) -> io.BytesIO:
    buffer = io.BytesIO()
    book = output.new_workbook(buffer)
    output.add_sheet(book, frame, "t")
    book.close()
    return buffer


_TEXT = st.one_of(st.sampled_from(["", " ", "a b", " lead", "trail ", "\u00a0nbsp", "x\u2003", "a&b<c>d", '"q"',
                                   "_x0041_", "_x00zz_", "tab\there", "line\nfeed", "cr\rx", "\x00\x07\x1f",
                                   "\ufffe\uffff", "=1+2", "-5", "+7", "@x", "Анна", "😀" * 3, "<r>x</r>x"]),
                   st.text(max_size=12))
_DATES = st.one_of(st.datetimes(min_value=pd.Timestamp("1700-01-01").to_pydatetime(),
                                max_value=pd.Timestamp("2200-12-31").to_pydatetime()),
                   st.sampled_from([pd.Timestamp(t).to_pydatetime() for t in
                                    ["1899-12-31", "1900-01-01 06:00", "1900-02-28", "1900-03-01", "2024-02-29 23:59:59.999999"]]))
_FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0.0, -0.0, 0.1, 0.3 + 0.0000000000000001, 1e-5, 1e15, 1e16, 2.0 ** 60, 12.345]))


@st.composite
def _frames(draw):
    rows = draw(st.integers(1, 25))
    column = {
        "text": lambda: pd.array(draw(st.lists(st.one_of(st.none(), _TEXT), min_size=rows, max_size=rows)), dtype="string"),
        "int": lambda: np.array(draw(st.lists(st.integers(-(2 ** 63), 2 ** 63 - 1), min_size=rows, max_size=rows)),
                                dtype="int64"),
        "Int64": lambda: pd.array(draw(st.lists(st.one_of(st.none(), st.integers(-10 ** 17, 10 ** 17)), min_size=rows,
                                                max_size=rows)), dtype="Int64"),
        "float": lambda: np.array(draw(st.lists(_FLOATS, min_size=rows, max_size=rows)), dtype="float64"),
        "date": lambda: pd.Series(draw(st.lists(st.one_of(st.none(), _DATES), min_size=rows, max_size=rows)),
                                  dtype="datetime64[us]"),
        "day": lambda: pd.Series(draw(st.lists(st.one_of(st.none(), st.dates(min_value=pd.Timestamp("1800-01-01").date(),
                                                                              max_value=pd.Timestamp("2200-01-01").date())),
                                               min_size=rows, max_size=rows)), dtype="datetime64[s]"),
        "bool": lambda: np.array(draw(st.lists(st.booleans(), min_size=rows, max_size=rows))),
        "boolean": lambda: pd.array(draw(st.lists(st.one_of(st.none(), st.booleans()), min_size=rows, max_size=rows)),
                                    dtype="boolean"),
        "category": lambda: pd.Categorical(draw(st.lists(st.sampled_from(["A", "B", " C"]), min_size=rows, max_size=rows))),
        "mixed": lambda: pd.Series(draw(st.lists(st.one_of(st.none(), st.booleans(), st.integers(-5, 5), _FLOATS, _TEXT),
                                                 min_size=rows, max_size=rows)), dtype=object),
    }
    kinds = draw(st.lists(st.sampled_from(sorted(column)), min_size=1, max_size=6))
    return pd.DataFrame({f"{kind}{i}": column[kind]() for i, kind in enumerate(kinds)})


@given(frame=_frames(), chunk=st.integers(1, 30))
@example(frame=pd.DataFrame({"a": pd.array([None, None, None], dtype="Int64"),  # styles numbered in order of use
                             "b": pd.Series([None, None, "1899-12-31"], dtype="datetime64[us]"),
                             "c": pd.array([None, 0, None], dtype="Int64")}), chunk=1)
@example(frame=pd.DataFrame({"x": [-0.0, 0.0, 1e16, 2.0 ** 60, 0.1 + 0.2, 5.0, np.inf, np.nan],
                             "whole": [-0.0, 1.0, -2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
                             "d": pd.Series(["1900-01-01 06:00", "1900-02-28", "1900-03-01", "1899-12-31",
                                             "1700-06-30 12:00:00.000001", None, "2024-02-29", "2200-01-01"],
                                            dtype="datetime64[us]"),
                             "b": pd.array([True, None, False, True, None, None, False, True], dtype="boolean"),
                             "t": pd.array([" a", "b\u00a0", "_x0041_", "\x01", "a&<>", "\r", "", None], dtype="string")}),
         chunk=3)
def test_xlsx_rows_are_the_bytes_xlsxwriter_writes(frame, chunk):
    """write_xlsx writes the data rows itself (10× faster); every part of the file, the rows
    included, must be what XlsxWriter writes cell by cell — for text with markup, control and
    space characters, numbers from -0 to 2**63, NaN and ±inf, dates from 1700 to 2200 (1900's
    odd days included), booleans with NA, mixed columns — in chunks of any size."""
    # XlsxWriter writes text of the form <r>…</r> as raw XML (its rich strings); custlens escapes it
    rich = frame.apply(lambda col: col.map(lambda v: isinstance(v, str) and v.startswith("<r>") and v.endswith("</r>")))
    if rich.to_numpy().any():
        return
    old, output.XLSX_CHUNK_ROWS = output.XLSX_CHUNK_ROWS, chunk
    try:
        fast = io.BytesIO()
        output.write_xlsx(frame, fast, title="t")
    finally:
        output.XLSX_CHUNK_ROWS = old
    assert _zip_parts(fast) == _zip_parts(_xlsxwriter_cell_by_cell(frame))


def test_xlsx_escapes_text_that_looks_like_a_rich_string():
    from openpyxl import load_workbook

    frame = pd.DataFrame({"name": pd.array(["<r><t>x</t></r>", "ok"], dtype="string")})
    buffer = io.BytesIO()
    output.write_xlsx(frame, buffer)
    assert [row[0].value for row in load_workbook(buffer).active.iter_rows(min_row=2)] == ["<r><t>x</t></r>", "ok"]


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"a": [1.0, np.nan], "b": pd.array(["x", None], dtype="string")}),  # the last row is empty
    # text is cut at 32,767 UTF-16 units, as XlsxWriter cuts it, never inside a character
    pd.DataFrame({"long": pd.array(["a" * 40_000, "b" * 32_767, "😀" * 16_384, "x" + "😀" * 16_383], dtype="string")}),
    pd.DataFrame({"a": [np.nan, np.nan]}),  # no cell at all
    pd.DataFrame({"a": pd.array([], dtype="string")}),
])
def test_xlsx_empty_rows_and_cells_as_xlsxwriter(frame):
    fast = io.BytesIO()
    output.write_xlsx(frame, fast, title="t")
    assert _zip_parts(fast) == _zip_parts(_xlsxwriter_cell_by_cell(frame))


def _records_cell_by_cell(frame) -> list[dict]:
    """The rows as JSON-ready dicts the slow, obvious way (custlens' first writer): every value
    through pandas' object conversion and _plain."""
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype.kind == "M":
            out[name] = output._date_text(out[name])
    rows = out.astype(object).where(out.notna(), None).to_dict(orient="records")
    return [{k: output._plain(v) for k, v in row.items()} for row in rows]


@given(frame=_frames())
def test_json_records_are_the_obvious_ones(frame):
    """records() is built column by column for speed (jsonl of 48,443 customers in 1.9 s instead
    of 4.0 s); it must give the dicts of the obvious row-by-row conversion, and JSON and JSON
    lines the same bytes, for every column type the XLSX test draws."""
    import json

    expected = _records_cell_by_cell(frame)
    got = output.records(frame)
    assert json.dumps(got, ensure_ascii=False) == json.dumps(expected, ensure_ascii=False)
    assert [[type(v) for v in row.values()] for row in got] == [[type(v) for v in row.values()] for row in expected]
    lines = io.BytesIO()
    output.write(frame, "jsonl", lines)
    assert lines.getvalue().decode("utf-8") == "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in expected)
