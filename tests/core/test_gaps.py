"""Gap detection: long silences where traffic is expected; quiet nights are not outages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.gaps import find_gaps


def _days(n_days=3, night_rate=0.0, day_rate=50.0):
    idx = pd.date_range("2024-01-01", periods=n_days * 1440, freq="1min", tz="UTC")
    hours = idx.hour.to_numpy()
    rate = np.where((hours >= 8) & (hours < 20), day_rate, night_rate)
    req = np.random.default_rng(0).poisson(rate).astype(float)
    return idx, req


def test_outage_in_busy_hours_is_found_with_exact_bounds():
    idx, req = _days()
    req[1440 + 600 : 1440 + 700] = 0  # day 2, 10:00 .. 11:40
    gaps = find_gaps(req, idx, pd.Timedelta("1min"))
    assert len(gaps) == 1
    assert gaps[0].start == idx[1440 + 600]
    assert gaps[0].end == idx[1440 + 700]
    assert gaps[0].kind == "silent"
    assert gaps[0].to_dict()["minutes"] == 100


def test_silent_nights_of_a_small_site_are_not_outages():
    idx, req = _days(night_rate=0.0)
    assert find_gaps(req, idx, pd.Timedelta("1min")) == ()


def test_short_silences_are_ignored_and_missing_runs_always_count():
    idx, req = _days()
    req[600:620] = 0  # 20 minutes < 30
    req[100:160] = np.nan  # an hour with no data at night
    gaps = find_gaps(req, idx, pd.Timedelta("1min"))
    assert [(g.kind, g.start) for g in gaps] == [("missing", idx[100])]


def test_gap_at_the_end_runs_to_the_end_of_the_series():
    idx, req = _days(n_days=1)
    req[700:] = 0
    (g,) = find_gaps(req, idx, pd.Timedelta("1min"))
    assert g.end == idx[-1] + pd.Timedelta("1min")


def test_threshold_must_be_positive():
    idx, req = _days(n_days=1)
    with pytest.raises(ValueError, match="must be > 0 minutes"):
        find_gaps(req, idx, pd.Timedelta("1min"), min_minutes=0)
