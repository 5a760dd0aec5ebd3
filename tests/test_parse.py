"""Number, date, id and flag parsing, each against hand-worked values."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from custlens.errors import BadValuesError
from custlens.io.parse import (
    detect_decimal,
    parse_dates,
    parse_flags,
    parse_ids,
    parse_numbers,
    reads_no_date,
    reads_no_number,
)


def numbers(values, **kw):
    parsed, bad, decimal = parse_numbers(pd.Series(values, dtype="string"), **kw)
    return [None if np.isnan(v) else v for v in parsed], bad.tolist(), decimal


@pytest.mark.parametrize("values, expected, decimal", [
    (["12.50", "3", "-4.25"], [12.5, 3.0, -4.25], "."),
    (["12,50", "3", "-4,25"], [12.5, 3.0, -4.25], ","),
    (["1 234,50", "1\u00a0234,50", "1\u202f234,5"], [1234.5, 1234.5, 1234.5], ","),
    (["1.234,50", "2.000.000,01"], [1234.5, 2000000.01], ","),
    (["$1,234.50", "€99.90", "1,000,000.00"], [1234.5, 99.9, 1_000_000.0], "."),
    (["1 234,50 ₽", "99,90 руб.", "12 грн"], [1234.5, 99.9, 12.0], ","),
    (["(12.50)", "7.00"], [-12.5, 7.0], "."),
    (["1'234.50", "5.5"], [1234.5, 5.5], "."),
])
def test_numbers_in_many_styles(values, expected, decimal):
    parsed, bad, found = numbers(values)
    assert parsed == pytest.approx(expected)
    assert not any(bad)
    assert found == decimal


def test_bad_numbers_are_flagged_not_guessed():
    parsed, bad, _ = numbers(["12,50", "n/a", "", "abc", "1.2.3,4"])
    assert parsed[0] == 12.5
    # n/a and "" are blanks; 'abc' is bad, and so is '1.2.3,4' (not a thousands pattern under ',')
    assert bad == [False, False, False, True, True]
    assert parsed[4] is None


def test_mixed_decimal_styles_under_comma_do_not_silently_scale():
    # Under decimal ',', '12.50' is not a thousands group: it must not become 1250.
    parsed, bad, decimal = numbers(["1,5", "2,25", "3,75", "12.50"])
    assert decimal == ","
    assert parsed[3] is None and bad[3]


@pytest.mark.parametrize("values, delimiter, expected", [
    (["1,234", "2,500"], ",", "."),  # groups of three in a comma file: thousands
    (["1,234", "2,500"], ";", ","),  # the same in a semicolon file: decimal comma
    (["100", "200"], ";", "."),
])
def test_decimal_tie_break_by_delimiter(values, delimiter, expected):
    assert detect_decimal(pd.Series(values), delimiter) == expected


def test_typed_numbers_pass_through():
    parsed, bad, _ = parse_numbers(pd.Series([1, 2, 3]))
    assert parsed.tolist() == [1.0, 2.0, 3.0] and not bad.any()
    objects = pd.Series([1.5, "2,5", None], dtype=object)
    parsed, bad, _ = parse_numbers(objects, decimal=",")
    assert parsed[:2].tolist() == [1.5, 2.5] and not bad.any()


def dates(values, **kw):
    result = parse_dates(pd.Series(values, dtype="string"), column="d", source="f.csv", **kw)
    return [None if pd.isna(v) else pd.Timestamp(v).to_pydatetime() for v in result.values], result


@pytest.mark.parametrize("values, expected", [
    (["2024-03-05", "2024-12-31"], [dt.datetime(2024, 3, 5), dt.datetime(2024, 12, 31)]),
    (["05.03.2024", "31.12.2024"], [dt.datetime(2024, 3, 5), dt.datetime(2024, 12, 31)]),
    (["05.03.24", "31.12.24"], [dt.datetime(2024, 3, 5), dt.datetime(2024, 12, 31)]),
    (["05/03/2024", "31/12/2024"], [dt.datetime(2024, 3, 5), dt.datetime(2024, 12, 31)]),
    (["03/05/2024", "12/31/2024"], [dt.datetime(2024, 3, 5), dt.datetime(2024, 12, 31)]),
    (["20240305", "20241231"], [dt.datetime(2024, 3, 5), dt.datetime(2024, 12, 31)]),
    (["5 Mar 2024", "31 Dec 2024"], [dt.datetime(2024, 3, 5), dt.datetime(2024, 12, 31)]),
    (["05.03.2024 14:05", "31.12.2024 9:00"], [dt.datetime(2024, 3, 5, 14, 5), dt.datetime(2024, 12, 31, 9)]),
    (["05.03.2024 14:05:09", "31.12.2024 0:00:00"], [dt.datetime(2024, 3, 5, 14, 5, 9), dt.datetime(2024, 12, 31)]),
    (["12/1/2010 8:26", "1/13/2011 10:05"], [dt.datetime(2010, 12, 1, 8, 26), dt.datetime(2011, 1, 13, 10, 5)]),
    (["2024-03-05T14:05:09+03:00", "2024-12-31T00:00:00+03:00"],
     [dt.datetime(2024, 3, 5, 14, 5, 9), dt.datetime(2024, 12, 31)]),
    (["45356", "45657"], [dt.datetime(2024, 3, 5), dt.datetime(2024, 12, 31)]),  # Excel serials
])
def test_dates_in_many_styles(values, expected):
    parsed, result = dates(values)
    assert parsed == expected
    assert not result.bad.any()


def test_day_month_order_is_decided_by_the_data():
    _, result = dates(["13/01/2024", "02/01/2024"])
    assert result.formats == ("%d/%m/%Y",)
    parsed, result = dates(["01/13/2024", "01/02/2024"])
    assert result.formats == ("%m/%d/%Y",) and parsed[1] == dt.datetime(2024, 1, 2)


def test_ambiguous_order_reads_day_first_and_warns():
    parsed, result = dates(["01/02/2024", "03/04/2024"])
    assert parsed[0] == dt.datetime(2024, 2, 1)
    assert "ambiguous" in result.warning and "--date-format" in result.warning


def test_conflicting_orders_are_an_error():
    with pytest.raises(BadValuesError, match="day-first .* month-first"):
        dates(["13/01/2024", "01/13/2024", "02/02/2024"])


def _many_early_days(fmt: str, odd: list[str]) -> list[str]:
    """60,000 distinct times, twelve times the loader's sample, all on days 1–12 of a month, then ``odd``
    (which the sample misses, at random_state=0)."""
    stamps = pd.date_range("2024-01-01", periods=200_000, freq="3min")
    return list(stamps[stamps.day <= 12][:60_000].strftime(fmt)) + odd


@pytest.mark.parametrize("odd, fmt, warned", [
    (["13/01/2025 10:00"], "%d/%m/%Y %H:%M", False),  # one day above 12: day first, no warning
    (["01/13/2025 10:00"], "%m/%d/%Y %H:%M", False),  # one month-first date: month first for all
    ([], "%d/%m/%Y %H:%M", True),  # none: day first, with the warning
])
def test_the_order_of_day_and_month_is_decided_by_every_date_not_the_sample(odd, fmt, warned):
    """The loader scores formats on a sample of 5,000 distinct values; whether a day above 12
    exists is a fact about the whole column, so one such date decides (a sample missed it:
    the column was read day first with a warning that was not true, or half month first)."""
    values = _many_early_days(fmt, odd)
    parsed, result = dates(values)
    assert result.formats == (fmt,) and (result.warning is not None) == warned
    assert parsed == list(pd.to_datetime(pd.Series(values), format=fmt).dt.to_pydatetime())


def test_day_first_and_month_first_dates_anywhere_in_a_column_are_an_error():
    values = _many_early_days("%d/%m/%Y %H:%M", ["13/01/2025 10:00", "01/13/2025 10:00"])
    with pytest.raises(BadValuesError, match=r"day-first \('13/01/2025'\) and month-first \('01/13/2025'\)"):
        dates(values)


@given(st.lists(st.text(alphabet="01/.:- T\nab", max_size=12), max_size=20))
def test_the_date_part_of_one_token_is_what_splitting_gives(texts):
    from custlens.io.parse import _date_part

    values = pd.Series(texts, dtype="string")
    split = values.str.split(r"[ T]", regex=True).str[:1].str.join(" ")
    assert _date_part(values, "%d/%m/%Y").tolist() == split.tolist()


def test_two_unambiguous_formats_in_one_column():
    parsed, result = dates(["2024-03-05", "31.12.2024", "2024-01-01"])
    assert parsed == [dt.datetime(2024, 3, 5), dt.datetime(2024, 12, 31), dt.datetime(2024, 1, 1)]
    assert set(result.formats) == {"%Y-%m-%d", "%d.%m.%Y"}


@pytest.mark.parametrize("times", [[f"2024-01-{d:02d}T00:30:00+03:00" for d in range(1, 29)],
                                   [f"2024-01-{d:02d} 23:30:00Z" for d in range(1, 29)]])
def test_one_bad_value_among_times_with_offsets_is_one_bad_value(times):
    """Times with a UTC offset next to one value that is not a date: every time was unreadable
    (the dates alone chose '%Y-%m-%d', which reads none of them)."""
    parsed, result = dates([*times, "soon"])
    assert result.formats == ("ISO8601",) and result.bad.tolist() == [False] * len(times) + [True]
    assert parsed[:-1] == [pd.Timestamp(t[:19]).to_pydatetime() for t in times]  # the local time kept


def test_bad_dates_are_flagged():
    parsed, result = dates(["05.03.2024", "31.02.2024", "", "soon"])
    assert parsed[0] == dt.datetime(2024, 3, 5) and parsed[1] is None and parsed[2] is None
    assert result.bad.tolist() == [False, True, False, True]


@pytest.mark.parametrize("texts, fmt", [
    (["2024-03-05", "0001-01-05", "2024-03-06", "1500-01-02", "2300-01-01"], None),
    (["05.03.2024", "05.01.0001", "06.03.2024", "02.01.1500", "01.01.2300"], None),
    (["05.03.2024", "05.01.0001", "06.03.2024", "02.01.1500", "01.01.2300"], "%d.%m.%Y"),
    ([dt.date(2024, 3, 5), dt.date(1, 1, 5), dt.datetime(2024, 3, 6), dt.datetime(1500, 1, 2), dt.date(2300, 1, 1)],
     None),
])
def test_dates_outside_the_nanosecond_range_are_unreadable_not_a_crash(texts, fmt):
    """pandas parses these at a coarser unit; the table keeps nanoseconds (1677-09-21 to 2262-04-11)."""
    result = parse_dates(pd.Series(texts, dtype=object if fmt is None and not isinstance(texts[0], str)
                                   else "string"), fmt=fmt, column="d", source="x")
    assert result.values.dtype == "datetime64[ns]"
    assert result.bad.tolist() == [False, True, False, True, True]
    assert list(result.values[[0, 2]]) == [pd.Timestamp("2024-03-05"), pd.Timestamp("2024-03-06")]


def test_typed_dates_and_excel_serials_outside_the_nanosecond_range_are_unreadable():
    typed = pd.Series(np.array(["2024-03-05", "3000-01-05", "NaT", "0001-01-05"], dtype="datetime64[us]"))
    result = parse_dates(typed, column="d", source="x.parquet")
    assert result.values.dtype == "datetime64[ns]" and result.bad.tolist() == [False, True, False, True]
    assert result.values[0] == pd.Timestamp("2024-03-05")
    serials = parse_dates(pd.Series([45356, 2958465, None], dtype="Int64"), column="d", source="x.parquet")
    assert serials.bad.tolist() == [False, True, False] and serials.values[0] == pd.Timestamp("2024-03-05")


def test_explicit_format_wins():
    parsed, _ = dates(["01/02/2024"], fmt="%m/%d/%Y")
    assert parsed == [dt.datetime(2024, 1, 2)]


def test_typed_and_excel_object_dates():
    series = pd.Series([dt.datetime(2024, 3, 5, 10, 0), 45657.0, "01.01.2024", None], dtype=object)
    result = parse_dates(series, column="d", source="x.xlsx")
    assert list(result.values[:3]) == [pd.Timestamp("2024-03-05 10:00"), pd.Timestamp("2024-12-31"),
                                       pd.Timestamp("2024-01-01")]
    assert pd.isna(result.values[3]) and not result.bad.any()


def test_ids_lose_excel_float_suffix_and_blanks():
    assert parse_ids(pd.Series([12345.0, 17850.0, np.nan])).tolist()[:2] == ["12345", "17850"]
    ids = parse_ids(pd.Series([" C1 ", "", "null", "007"], dtype="string"))
    assert ids[0] == "C1" and ids[3] == "007" and ids[1:3].isna().all()


def test_flags():
    values, bad = parse_flags(pd.Series(["yes", "нет", "Да", "0", "TRUE", "", "maybe"], dtype="string"))
    assert values[:5].tolist() == [True, False, True, False, True]
    assert pd.isna(values[5]) and bad.tolist() == [False] * 6 + [True]


@pytest.mark.parametrize("layout", ["iso seconds", "dotted days"])
def test_many_distinct_timestamps_parse_as_few_repeated_ones(layout):
    """Over 100,000 values, mostly distinct (timestamps with seconds), are parsed without first
    finding the distinct ones; the result is the same as pandas' own parse of every value, with
    blanks and a bad value left empty."""
    rng = np.random.default_rng(0)
    n = 150_000
    stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 2 * 365 * 86400, n), unit="s")
    if layout == "iso seconds":
        text = pd.Series(stamps.strftime("%Y-%m-%d %H:%M:%S"), dtype="string")
        expected = stamps.to_series(index=text.index)
    else:  # few distinct days: the distinct values are found first, as before
        text = pd.Series(stamps.strftime("%d.%m.%Y"), dtype="string")
        expected = stamps.normalize().to_series(index=text.index)
    text.iloc[[5, 70_000]] = ["", "not a date"]
    parsed = parse_dates(text, column="order_date", source="x.csv")
    expected = expected.astype("datetime64[ns]").where(~text.index.isin([5, 70_000]))
    pd.testing.assert_series_equal(parsed.values.astype("datetime64[ns]"), expected, check_names=False,
                                   check_freq=False)


@pytest.mark.parametrize("texts, fmt, none", [
    (["TBD", "Дата", "Итого"], None, True),
    (["31.02.2025", "2025-13-40", "00.00.0000"], None, True),  # dates that do not exist
    (["2025-01-05"], None, False), (["05.01.2025 10:00"], None, False), (["5 Mar 2025"], None, False),
    (["45000"], None, False),  # a column of only such numbers is read as Excel serial dates
    (["20250105"], None, False), (["2025-01-05T10:00:00+03:00"], None, False),
    (["05.01.2025 25:00:00"], None, False),  # the date part reads: it would count for that format
    (["05.01.2025"], "%d.%m.%Y %H:%M:%S", True), (["05.01.2025 10:00:00"], "%d.%m.%Y %H:%M:%S", False),
])
def test_reads_no_date(texts, fmt, none):
    """Text the loader reads in no column: the parse of a column with it and without it differs only
    in it (checked below on a column of each kind)."""
    assert reads_no_date(pd.Series(texts, dtype="string"), fmt) is none


@pytest.mark.parametrize("column", [["05.01.2025", "06.01.2025", "13.02.2025"], ["2025-01-05 10:00:00", "2025-02-01 09:00:00"],
                                    ["01/13/2025", "02/01/2025"], ["5 Mar 2025", "6 Apr 2025"]])
@pytest.mark.parametrize("words", [["TBD"], ["Дата", "31.02.2025"], ["2025-13-40", "Итого", "00.00.0000"]])
def test_words_no_format_reads_change_nothing_in_a_column(column, words):
    assert reads_no_date(pd.Series(words, dtype="string"))
    alone = parse_dates(pd.Series(column, dtype="string"))
    both = parse_dates(pd.Series(column + words, dtype="string"))
    pd.testing.assert_series_equal(both.values[: len(column)], alone.values)
    assert both.bad[len(column):].all() and not both.bad[: len(column)].any()


@pytest.mark.parametrize("texts, none", [
    (["abc", "Сумма", "N/A x"], True), (["inf"], False), (["-Infinity"], False), (["1,5"], False),
    (["12 руб."], False), (["twelve"], True), (["-nan"], False),
])
def test_reads_no_number(texts, none):
    assert reads_no_number(pd.Series(texts, dtype="string")) is none
    if none:  # and a column of plain numbers reads the same with them
        column = ["12.5", "-3", "7"]
        values, bad, decimal = parse_numbers(pd.Series(column + texts, dtype="string"))
        assert values[:3].tolist() == [12.5, -3.0, 7.0] and bad[3:].all() and decimal == "."


# --- object columns (XLSX cells): masks asked per type give what the per-value rules gave -------

OBJECT_CELL = st.one_of(
    st.none(), st.just(float("nan")), st.just(pd.NaT),
    st.sampled_from(["", " ", "n/a", "NULL", "#N/A", "—", "C1", "12,5", "2024-01-05", "None"]),
    st.integers(-10**12, 10**12), st.floats(allow_nan=False), st.booleans(),
    st.sampled_from([np.int64(7), np.float64(2.5), np.bool_(True)]),
    st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)), st.dates(), st.times(),
    st.just(dt.timedelta(hours=5)), st.just(pd.Timestamp("2024-01-05 10:00")),
    st.just(dt.datetime(2024, 1, 5, 10, tzinfo=dt.timezone.utc)),
)


@given(st.lists(OBJECT_CELL, max_size=30))
def test_object_column_masks_by_type_are_the_per_value_rules(values):
    from custlens.io import parse
    from custlens.schema import MISSING_TEXT

    series = pd.Series(values, dtype=object)
    text = series.astype("string").str.strip().str.lower()
    assert parse.blank_mask(series).tolist() == (text.isna() | text.isin(MISSING_TEXT)).tolist()
    number = parse.by_type(series, lambda kind: issubclass(kind, (int, float, np.number)) and kind is not bool)
    assert number.tolist() == [isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values]
    typed = parse.by_type(series, lambda kind: hasattr(kind, "year") and hasattr(kind, "month"))
    assert typed.tolist() == [hasattr(v, "year") and hasattr(v, "month") for v in values]
    one_by_one = series.map(parse._id_text, na_action="ignore").astype("string").str.strip()
    assert parse_ids(series).equals(one_by_one.mask(parse.blank_mask(one_by_one)))


@given(st.lists(st.one_of(st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)), st.dates(),
                          st.just(pd.Timestamp("2024-01-05 10:00")),
                          st.just(dt.datetime(2024, 1, 5, 10, tzinfo=dt.timezone(dt.timedelta(hours=3)))),
                          st.just(dt.datetime(2024, 1, 5, 10, tzinfo=dt.timezone.utc))),
                min_size=1, max_size=30))
def test_typed_dates_in_one_pass_are_those_read_one_by_one(values):
    from custlens.io import parse

    series = pd.Series(values, dtype=object)
    try:
        one_by_one = parse._within_nanoseconds(pd.to_datetime(series.map(pd.Timestamp), errors="coerce"))
    except (ValueError, TypeError) as e:  # zones mixed with naive times: the same refusal
        with pytest.raises(type(e)):
            parse._within_nanoseconds(parse._typed_dates(series))
        return
    ours = parse._within_nanoseconds(parse._typed_dates(series))
    assert ours.dtype == one_by_one.dtype and ours.equals(one_by_one)
