"""Order days from 64-bit keys in NumPy (custlens.order_days) and the DuckDB summary that uses them."""

from __future__ import annotations

import statistics
from itertools import pairwise
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_engine import LINES, START, SUMMARY_COLUMNS, open_source, random_export

from custlens import engine, order_days
from custlens.io import LoadOptions, load_purchases
from custlens.summary import customers

#: customers as keys hold them (the top bits of a 64-bit hash: up to 2**58 - 1 with 6 bits for the days)
CUSTOMERS = st.sampled_from([0, 1, 2, 7, 12, 2**40, 2**56 + 12345, 2**57, 2**58 - 2, 2**58 - 1])
PAIRS = st.lists(st.tuples(CUSTOMERS, st.integers(0, 40)), min_size=1, max_size=80)


def by_hand(pairs) -> dict:
    """customer -> (first day, last day, distinct days, median gap or None), from sorted sets."""
    days: dict[int, set] = {}
    for customer, day in pairs:
        days.setdefault(customer, set()).add(day)
    found = {}
    for customer, own in days.items():
        ordered = sorted(own)
        gaps = [b - a for a, b in pairwise(ordered)]
        found[customer] = (ordered[0], ordered[-1], len(ordered), statistics.median(gaps) if gaps else None)
    return found


@given(pairs=PAIRS, spare=st.integers(0, 21))
def test_order_days_are_the_sorted_distinct_days_of_each_customer(pairs, spare):
    span = max(day for _, day in pairs) + spare  # the days run from 0 to span
    bits = order_days.day_bits(span)
    keys = np.array([(c << bits) | d for c, d in pairs], dtype=np.uint64)
    found = order_days.order_days(keys, bits)
    expected = by_hand(pairs)
    assert found.customer.tolist() == sorted(expected)
    for i, customer in enumerate(found.customer.tolist()):
        first, last, days, median = expected[customer]
        assert (found.first[i], found.last[i], found.days[i]) == (first, last, days)
        assert np.isnan(found.median_gap[i]) if median is None else found.median_gap[i] == median


@pytest.mark.parametrize("span", [0, 1, 2, 3, 6, 7, 8, 1000, 213_503])
def test_every_day_and_gap_is_below_the_mark_of_a_first_day(span):
    bits = order_days.day_bits(span)
    assert span < (1 << bits) - 1  # a gap is at most the span; the mark is 2**bits - 1
    assert bits == 1 or span >= (1 << (bits - 1)) - 1  # and no bit more than that needs


def test_a_customer_whose_gap_is_the_whole_span():
    """Two days at 0 and the span: the gap equals the span, one below the first day's mark."""
    bits = order_days.day_bits(7)
    found = order_days.order_days(np.array([(5 << bits) | 7, 5 << bits, 5 << bits], dtype=np.uint64), bits)
    assert (found.first.tolist(), found.last.tolist(), found.days.tolist(), found.median_gap.tolist()) == (
        [0], [7], [2], [7.0])


def fast_and_pandas(path, as_of):
    """The DuckDB summary of ``path`` (no lifecycle gaps: the summary's own path) and pandas'."""
    result = engine.summarize(open_source([path]), as_of)
    return engine.to_pandas(result).customers, customers(load_purchases([str(path)])[0], as_of=as_of).customers


def assert_summaries_equal(fast, expected):
    assert list(fast.columns) == SUMMARY_COLUMNS
    exact = [c for c in SUMMARY_COLUMNS if c not in ("monetary", "avg_order_value")]
    pd.testing.assert_frame_equal(fast[exact], expected[exact])
    for money in ("monetary", "avg_order_value"):
        np.testing.assert_allclose(fast[money], expected[money], rtol=1e-9, atol=0)


def summarise_random_parquet(tmp_path_factory, lines, as_of_day):
    """(fast, pandas, whether the keys filled the days) for LINES as typed Parquet without order ids."""
    as_of = None if as_of_day is None else (START + pd.Timedelta(days=as_of_day)).date()
    _, path = random_export(tmp_path_factory.mktemp("keys"), lines, with_orders=False)
    with mock.patch.object(engine, "_key_days", wraps=engine._key_days) as key_days:
        try:
            fast, expected = fast_and_pandas(path, as_of)
        except engine.Unsupported as e:  # as in test_engine.test_random_exports_give_the_same_summary
            assert "no row has a customer id" in str(e), e
            return None
        except Exception as e:  # noqa: BLE001 - pandas refuses too (no usable rows, nothing up to as-of)
            with pytest.raises(type(e)):
                customers(load_purchases([str(path)])[0], as_of=as_of)
            return None
    return fast, expected, key_days.called


@given(lines=LINES, as_of_day=st.one_of(st.none(), st.integers(0, 45)))
def test_random_parquet_exports_get_the_loader_s_order_days_from_keys(tmp_path_factory, lines, as_of_day):
    found = summarise_random_parquet(tmp_path_factory, lines, as_of_day)
    if found is not None:
        fast, expected, keyed = found
        assert keyed, "the summary of a Parquet file without order ids finds its days from keys"
        assert_summaries_equal(fast, expected)


@given(lines=LINES, as_of_day=st.one_of(st.none(), st.integers(0, 45)))
def test_colliding_keys_fall_back_to_listed_days(tmp_path_factory, lines, as_of_day):
    """With 62 bits for the day, a key keeps 2 bits of the hash: more than 4 customers collide,
    and the days are listed in SQL instead, with the same summary."""
    with mock.patch.object(order_days, "day_bits", return_value=62), \
            mock.patch.object(engine, "_group_sql", wraps=engine._group_sql) as group_sql:
        found = summarise_random_parquet(tmp_path_factory, lines, as_of_day)
    if found is not None:
        fast, expected, _ = found
        assert_summaries_equal(fast, expected)
        if len(fast) > 4:  # four values of the top bits for five customers or more: some collide
            assert True in [call.kwargs.get("listed") for call in group_sql.call_args_list]


def test_ten_customers_in_four_values_of_the_top_bits_list_their_days(tmp_path):
    days = [0, 3, 10, 11, 30]
    frame = pd.DataFrame({"customer_id": [f"C{i}" for i in range(10) for _ in days],
                          "order_date": [START + pd.Timedelta(days=d + i) for i in range(10) for d in days],
                          "amount": 5.0})
    frame.to_parquet(tmp_path / "lines.parquet", index=False)
    with mock.patch.object(order_days, "day_bits", return_value=62), \
            mock.patch.object(engine, "_group_sql", wraps=engine._group_sql) as group_sql:
        fast, expected = fast_and_pandas(tmp_path / "lines.parquet", None)
    assert [call.kwargs["listed"] for call in group_sql.call_args_list if "listed" in call.kwargs] == [False, True]
    assert_summaries_equal(fast, expected)
    assert fast["median_gap_days"].tolist() == [5.0] * 10  # gaps 3, 7, 1, 19


@pytest.mark.parametrize("lines, keys", [(lambda limit: 999, False), (lambda limit: 1000, True),
                                         (lambda limit: limit, True), (lambda limit: limit + 1, False)])
def test_keys_are_used_from_enough_lines_where_they_fit_in_the_memory_limit(tmp_path, monkeypatch, lines, keys):
    """From KEY_MIN_LINES lines (here 1,000) up to the memory limit / KEY_BYTES; the same summary either way."""
    monkeypatch.setattr(engine, "KEY_MIN_LINES", 1000)
    frame = pd.DataFrame({"customer_id": ["A", "B", "A"], "amount": [1.0, 2.0, 3.0],
                          "order_date": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-09"])})
    frame.to_parquet(tmp_path / "lines.parquet", index=False)
    summaries = []
    for as_if, expected in ((lines, keys), (lambda limit: 999, False)):
        source = engine.open_source([str(tmp_path / "lines.parquet")], LoadOptions(), memory_limit="1GB")
        source.lines = as_if(engine._memory_limit(source.con) // engine.KEY_BYTES)  # as if it had that many lines
        with mock.patch.object(engine, "_key_days", wraps=engine._key_days) as key_days:
            summaries.append(engine.to_pandas(engine.summarize(source)).customers)
        assert key_days.called == expected
    pd.testing.assert_frame_equal(summaries[0], summaries[1])
    assert summaries[0]["median_gap_days"].tolist()[0] == 8.0 and np.isnan(summaries[0]["median_gap_days"].tolist()[1])


@pytest.mark.parametrize("limit, expected", [("1GB", 953.6 * 2**20), ("2GB", 1.8 * 2**30), ("512MB", 488.2 * 2**20)])
def test_the_memory_limit_in_bytes(limit, expected):
    con = engine.connect(limit)
    assert engine._memory_limit(con) == pytest.approx(expected, rel=1e-3)


def test_without_gaps_the_median_gap_stays_empty(tmp_path):
    """rfm and pareto do not show the median gap (gaps=False): it stays empty, the rest is the same."""
    _, path = random_export(tmp_path, [("C1", 0, 5.0, ""), ("C1", 4, 5.0, ""), ("C1", 10, 5.0, ""), ("C2", 3, 1.0, "")],
                            with_orders=False)
    full, bare = (engine.to_pandas(engine.summarize(open_source([path]), gaps=gaps)).customers for gaps in (True, False))
    assert full["median_gap_days"].tolist()[0] == 5.0 and bare["median_gap_days"].isna().all()
    pd.testing.assert_frame_equal(full.drop(columns="median_gap_days"), bare.drop(columns="median_gap_days"))


@pytest.mark.parametrize("zone, session", [("Pacific/Kiritimati", "Pacific/Pago_Pago"), ("Pacific/Pago_Pago", "Pacific/Kiritimati"),
                                           ("+05:45", "UTC"), ("UTC", "Pacific/Kiritimati")])
def test_instants_near_midnight_at_both_ends_of_the_files(tmp_path, zone, session):
    """Keys read before the aggregate take their day range from the Parquet statistics of the
    instants: the first and last lines' local days in the file's zone lie a day off their UTC
    days, and off DuckDB's session zone; the summary is still the loader's."""
    utc = pd.to_datetime(["2025-01-01 00:30", "2025-01-01 23:30", "2025-01-05 12:00", "2025-01-09 23:50",
                          "2025-01-10 00:10", "2025-01-03 10:00"]).tz_localize("UTC")
    frame = pd.DataFrame({"customer_id": ["A", "A", "A", "B", "B", "C"], "amount": [5.0, 5.0, 5.0, 2.0, 2.0, 1.0],
                          "order_date": utc.tz_convert(zone)})
    frame.to_parquet(tmp_path / "lines.parquet", index=False)
    source = open_source([tmp_path / "lines.parquet"])
    source.con.execute(f"SET TimeZone = '{session}'")
    with mock.patch.object(engine, "_read_keys", wraps=engine._read_keys) as read_keys:
        fast = engine.to_pandas(engine.summarize(source)).customers
    assert read_keys.call_count == 1  # before the aggregate, and no second time
    assert_summaries_equal(fast, customers(load_purchases([str(tmp_path / "lines.parquet")])[0]).customers)


@pytest.mark.parametrize("end", ["lowest", "highest"])
def test_keys_whose_days_do_not_cover_the_groups_are_read_again(tmp_path, end):
    """Statistics that would miss a day (a range a day short at either end) leave the keys read
    before the aggregate unused: they are read again over the groups' days."""
    _, path = random_export(tmp_path, [("C1", 0, 5.0, ""), ("C1", 4, 5.0, ""), ("C1", 10, 5.0, ""), ("C2", 3, 1.0, ""),
                                       ("C2", 10, 1.0, "")], with_orders=False)
    start_keys = engine._start_keys

    def short(*args, **kwargs):
        keys = start_keys(*args, **kwargs)
        setattr(keys, end, getattr(keys, end) + pd.Timedelta(days=1 if end == "lowest" else -1).to_pytimedelta())
        return keys

    with mock.patch.object(engine, "_start_keys", side_effect=short), \
            mock.patch.object(engine, "_read_keys", wraps=engine._read_keys) as read_keys:
        fast = engine.to_pandas(engine.summarize(open_source([path]))).customers
    assert read_keys.call_count == 2
    assert_summaries_equal(fast, customers(load_purchases([str(path)])[0]).customers)


def test_the_keys_are_read_under_a_bar_of_their_own(tmp_path, progress_labels):
    """With a progress label (as the CLI summarises), the keys' statement runs through
    run_with_progress under "<label>: order days", before the summary's own."""
    _, path = random_export(tmp_path, [("C1", 0, 5.0, ""), ("C1", 4, 5.0, ""), ("C2", 3, 1.0, "")], with_orders=False)
    fast = engine.to_pandas(engine.summarize(open_source([path]), progress="summarising lines.parquet")).customers
    assert progress_labels == ["summarising lines.parquet: order days", "summarising lines.parquet"]
    assert fast["frequency"].tolist() == [2, 1] and fast["median_gap_days"].tolist()[0] == 4.0
