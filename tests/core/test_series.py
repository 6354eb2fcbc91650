"""TrafficSeries: validation, windows, resampling by sums, exact unique hosts at any grain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.series import Gap, TrafficSeries, parse_granularity


def _series(values, freq="1min", start="1995-07-01 23:50", tz="-04:00", pairs=None, gaps=()):
    idx = pd.date_range(start, periods=len(values), freq=freq, tz=tz)
    cols = {"requests": np.asarray(values, dtype=float)}
    if pairs is not None:
        cols["unique_hosts"] = np.bincount(pairs[:, 0], minlength=len(values)).astype(float)
    return TrafficSeries(pd.DataFrame(cols, index=idx), pd.Timedelta(freq), gaps=gaps, host_pairs=pairs)


def test_resample_sums_and_aligns_to_local_midnight():
    s = _series(range(20))  # 23:50 .. 00:09 local
    r = s.resample("5min")
    assert r.index[0] == pd.Timestamp("1995-07-01 23:50", tz="-04:00")
    assert r.requests.tolist() == [sum(range(0, 5)), sum(range(5, 10)), sum(range(10, 15)), sum(range(15, 20))]
    r15 = s.resample(15)
    assert r15.index[0] == pd.Timestamp("1995-07-01 23:45", tz="-04:00")  # a partial first period
    assert r15.requests.tolist() == [sum(range(0, 10)), sum(range(10, 20))]


def test_resample_keeps_missing_as_missing():
    s = _series([np.nan] * 5 + [1, np.nan, 2, np.nan, np.nan], start="1995-07-01 00:00")
    r = s.resample("5min")
    assert np.isnan(r.requests[0])
    assert r.requests[1] == 3.0


def test_unique_hosts_are_recounted_exactly_at_coarser_grains():
    # host 7 is seen in minutes 0 and 1, host 8 in minute 1, host 9 in minute 5.
    pairs = np.array([[0, 7], [1, 7], [1, 8], [5, 9]])
    s = _series([1, 2, 0, 0, 0, 1], start="1995-07-01 00:00", pairs=pairs)
    assert s.frame["unique_hosts"].tolist() == [1, 2, 0, 0, 0, 1]
    r = s.resample("5min")
    assert r.frame["unique_hosts"].tolist() == [2.0, 1.0]  # not 3: host 7 counted once


def test_host_keys_past_2_31_count_the_same_as_int32_bit_patterns_or_int64():
    """Ingest stores 32-bit host keys in int32 (they may read as negative); older datasets hold int64."""
    keys = np.array([7, 2**31 + 5, 2**32 - 1, 2**31 + 5])
    minutes = np.array([0, 1, 1, 6])
    wide = np.column_stack([minutes, keys]).astype(np.int64)
    narrow = np.empty((4, 2), dtype=np.int32)
    narrow[:, 0] = minutes
    np.copyto(narrow[:, 1], keys, casting="unsafe")
    assert (narrow[:, 1] < 0).any()
    counts = []
    for pairs in (wide, narrow):
        s = _series([1, 2, 0, 0, 0, 0, 1, 0, 0, 0], start="1995-07-01 00:00", pairs=pairs)
        r5 = s.resample("5min")
        counts.append((r5.frame["unique_hosts"].tolist(), r5.resample("10min").frame["unique_hosts"].tolist()))
    assert counts[0] == counts[1] == ([3.0, 1.0], [3.0])


def test_window_and_gap_mask():
    gap = Gap(pd.Timestamp("1995-07-01 00:02", tz="-04:00"), pd.Timestamp("1995-07-01 00:04", tz="-04:00"), "silent")
    s = _series([1, 1, 0, 0, 1, np.nan], start="1995-07-01 00:00", gaps=(gap,))
    assert s.gap_mask().tolist() == [False, False, True, True, False, True]
    w = s.window("1995-07-01 00:01", "1995-07-01 00:05")
    assert len(w) == 4
    assert w.gaps == (gap,)
    with pytest.raises(ValueError, match="holds no periods"):
        s.window("1996-01-01", None)


@pytest.mark.parametrize("bad", ["0", -5, "fast", "", "1 parsec"])
def test_bad_granularity_names_the_accepted_forms(bad):
    with pytest.raises(ValueError, match="granularity must be a positive duration"):
        parse_granularity(bad)


def test_resample_rejects_non_multiples():
    with pytest.raises(ValueError, match="whole multiple"):
        _series(range(10), freq="5min").resample("7min")


def test_invalid_frames_are_refused():
    idx = pd.date_range("2024-01-01", periods=3, freq="1min")
    with pytest.raises(ValueError, match="tz-aware"):
        TrafficSeries(pd.DataFrame({"requests": [1, 2, 3]}, index=idx), pd.Timedelta("1min"))
    idx = idx.tz_localize("UTC")
    with pytest.raises(ValueError, match="regular grid"):
        TrafficSeries(pd.DataFrame({"requests": [1, 2, 3]}, index=idx[[0, 1, 2]]), pd.Timedelta("2min"))
    with pytest.raises(ValueError, match="unknown columns"):
        TrafficSeries(pd.DataFrame({"requests": [1, 2, 3], "x": 1}, index=idx), pd.Timedelta("1min"))
