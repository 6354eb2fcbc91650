"""Traffic generators: deterministic for a seed, on a tz-aware grid, with the shapes they claim."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.generators import daily_cycle, flash_bursts, peak_servers, short_history, step_change, trend
from core.scaling.config import CapacityModel

GENERATORS = {"flash_bursts": flash_bursts, "step_change": step_change, "trend": trend,
              "short_history": short_history}


def daily_totals(s):
    per_day = int(pd.Timedelta(days=1) / s.interval)
    return s.requests[: len(s) // per_day * per_day].reshape(-1, per_day).sum(axis=1)


@pytest.mark.parametrize("name", list(GENERATORS))
def test_deterministic_for_a_seed_on_a_tz_aware_grid(name):
    make = GENERATORS[name]
    a, b, c = make(seed=3), make(seed=3), make(seed=4)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert not np.array_equal(a.requests, c.requests)
    assert a.index.tz is not None
    assert a.interval == pd.Timedelta("5min")
    assert (np.diff(a.index.asi8) == a.interval.value).all()
    assert (a.requests >= 0).all()
    assert np.array_equal(a.requests, np.round(a.requests))  # counts


@pytest.mark.parametrize(("name", "days"), [("flash_bursts", 3), ("step_change", 5), ("trend", 9),
                                            ("short_history", 2)])
@pytest.mark.parametrize("interval", ["1min", "5min", "15min", "1h"])
def test_lengths_and_intervals(name, days, interval):
    s = GENERATORS[name](days, interval=interval)
    assert len(s) == days * pd.Timedelta(days=1) / pd.Timedelta(interval)
    assert s.interval == pd.Timedelta(interval)
    assert s.start == pd.Timestamp("2024-01-01", tz="UTC")


def test_flash_bursts_peak_at_the_burst_hour_at_the_factor_times_the_median():
    s = flash_bursts(5, interval="5min", level=40.0, burst_hour=12.0, burst_minutes=20.0, burst_factor=4.0)
    t = s.index
    in_burst = (t.hour == 12) & (t.minute < 20)
    assert in_burst.sum() == 5 * 4
    ratio = s.requests[in_burst].mean() / np.median(s.requests)
    assert ratio == pytest.approx(4.0, rel=0.08)
    # The busiest periods of every day are the burst's, and they are sharp: 2x the periods just before.
    for day in range(5):
        d = s.requests[day * 288:(day + 1) * 288]
        assert np.argmax(d) in range(144, 148)
        assert d[144:148].min() > 2 * d[140:144].max()


def test_step_change_jumps_by_the_factor_on_the_day():
    s = step_change(6, level=40.0, factor=2.5, step_day=3)
    days = daily_totals(s)
    assert days[3:].mean() / days[:3].mean() == pytest.approx(2.5, rel=0.03)
    assert np.ptp(days[:3]) / days[:3].mean() < 0.05  # flat on each side of the step
    down = daily_totals(step_change(6, factor=0.5, step_day=2))
    assert down[2:].mean() / down[:2].mean() == pytest.approx(0.5, rel=0.03)


@pytest.mark.parametrize(("kind", "growth"), [("linear", 0.05), ("linear", -0.04), ("exponential", 0.05),
                                              ("exponential", -0.05)])
def test_trend_slope_has_the_sign_and_size_of_the_growth(kind, growth):
    s = trend(14, level=40.0, growth_per_day=growth, kind=kind)
    days = daily_totals(s)
    slope = np.polyfit(np.arange(len(days)), days / days[0], 1)[0]
    assert np.sign(slope) == np.sign(growth)
    expected = 1 + growth * 13 if kind == "linear" else (1 + growth) ** 13
    # Day 13 over day 0: the trend's ratio (each day averages the growth over the day alike).
    assert days[13] / days[0] == pytest.approx(expected, rel=0.03)


def test_short_history_is_short():
    s = short_history()
    assert len(s) == 2 * 288
    assert s.end - s.start == pd.Timedelta(days=2)
    with pytest.raises(ValueError, match=r"less than a week of data, got days=7"):
        short_history(7)


def test_daily_cycle_has_median_one_and_peaks_at_the_hour():
    idx = pd.date_range("2024-01-01", periods=288, freq="5min", tz="UTC")
    m = daily_cycle(idx, 0.5, peak_hour=14.0)
    assert np.median(m) == pytest.approx(1.0, abs=0.02)
    assert idx[np.argmax(m)].hour == 14
    assert m.min() == pytest.approx(0.5)


def test_peak_servers_is_what_the_busiest_period_needs():
    s = flash_bursts(2, level=40.0, burst_factor=4.0)
    # 5 min at 1/3 request/s per server: 100 requests per server per period.
    assert peak_servers(s) == int(np.ceil(s.requests.max() / 100.0))
    assert peak_servers(s, CapacityModel(capacity_per_server_rps=2 / 3)) == int(np.ceil(s.requests.max() / 200.0))


@pytest.mark.parametrize(("make", "match"), [
    (lambda: flash_bursts(0), r"days must be a finite number > 0, got 0"),
    (lambda: flash_bursts(2, interval="7min"), r"interval must divide a day"),
    (lambda: flash_bursts(2, interval="soon"), r"granularity must be a positive duration"),
    (lambda: flash_bursts(2, burst_hour=24), r"burst_hour must be within \[0, 24\), got 24"),
    (lambda: flash_bursts(2, burst_factor=-1), r"burst_factor must be a finite number > 0, got -1"),
    (lambda: flash_bursts(2, amplitude=1.0), r"amplitude must be within \[0, 1\)"),
    (lambda: step_change(4, step_day=4), r"step_day must be within \(0, days=4\)"),
    (lambda: step_change(4, factor=0), r"factor must be a finite number > 0, got 0"),
    (lambda: trend(10, growth_per_day=-0.2), r"takes a linear trend to 0 within 10 days; use a value > -0.1"),
    (lambda: trend(10, kind="cubic"), r"kind must be 'linear' or 'exponential', got 'cubic'"),
    (lambda: short_history(2, level=float("nan")), r"level must be a finite number > 0, got nan"),
])
def test_bad_values_name_the_value_and_the_fix(make, match):
    with pytest.raises(ValueError, match=match):
        make()
