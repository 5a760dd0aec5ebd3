"""The fast helpers agree with pandas."""

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from custlens.fast import isin

ids = st.one_of(st.none(), st.sampled_from(["a", "b", "C1", "Анна", "", "007"]))


@given(st.lists(ids, max_size=30), st.lists(ids, max_size=10))
def test_isin_matches_pandas(values, members):
    series = pd.Series(values, dtype="string")
    expected = series.isin([m for m in members if m is not None]).fillna(False).to_numpy(dtype=bool)
    expected = expected & series.notna().to_numpy()
    assert isin(series, members).tolist() == expected.tolist()


def test_isin_on_numbers_and_objects():
    assert isin(pd.Series([1, 2, 3]), [2, 3]).tolist() == [False, True, True]
    assert isin(pd.Series(["x", None], dtype=object), pd.Series(["x"])).tolist() == [True, False]
