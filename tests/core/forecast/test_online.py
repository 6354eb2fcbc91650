"""Online calibration of the rolling protocols: the update rule, no leakage, the default and the label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.forecast import backtest, make_model
from core.forecast.backtest import CALIBRATIONS, backtest_protocols
from core.forecast.base import Grid
from core.forecast.intervals import _QGRID, ConformalCalibrator, horizon_band_edges
from core.forecast.online import adaptive_label, fixed_label, online_intervals
from tests.core.forecast.synth import FAST, make_series

SPD = 96  # 15-minute steps per day


def normal_calibrator() -> ConformalCalibrator:
    """A calibrator whose scaled errors are standard normal at every horizon."""
    grid = Grid(pd.Timestamp("1995-07-03", tz="-04:00"), pd.Timedelta("15min"))
    edges = horizon_band_edges(grid)
    q = np.quantile(np.random.default_rng(1).standard_normal(200_000), _QGRID)
    return ConformalCalibrator(edges, [q] + [None] * (len(edges) - 1), [200_000] + [0] * (len(edges) - 1), 1.0)


def shifted(days_before: int, days_after: int, sd_after: float, seed: int = 0, level_after: float = 0.0) -> np.ndarray:
    """Truth around a flat forecast of 100 (scaled-error s.d. 1); then the error s.d. becomes ``sd_after`` and
    the level moves by ``level_after`` (in scaled-error units)."""
    rng = np.random.default_rng(seed)
    sd = np.r_[np.ones(days_before * SPD), np.full(days_after * SPD, sd_after)]
    level = np.r_[np.zeros(days_before * SPD), np.full(days_after * SPD, level_after)]
    return 100 + 10 * (level + sd * rng.standard_normal(sd.size))  # scale sqrt(100) = 10


def coverage(y, out, origins, h, level, start) -> float:
    """Share of the periods at or after ``start`` inside the ``level`` intervals of the paths."""
    pos = origins[:, None] + np.arange(h)[None, :]
    inside = (y[pos] >= out[f"lo-{level}"]) & (y[pos] <= out[f"hi-{level}"])
    return float(inside[pos >= start].mean() * 100)


@pytest.mark.parametrize(("sd_after", "level_after"), [(2.5, 0.0), (0.4, 0.0), (1.0, 1.5)],
                         ids=["errors-grow", "errors-shrink", "level-shift"])
@pytest.mark.parametrize("protocol", ["day-ahead", "one-step"])
def test_coverage_recovers_after_a_shift_where_the_fixed_calibration_does_not(sd_after, level_after, protocol):
    cal = normal_calibrator()
    before, after = 4, 24
    y = shifted(before, after, sd_after, level_after=level_after)
    if protocol == "day-ahead":
        origins, h = np.arange(SPD, len(y), SPD), SPD
    else:
        origins, h = np.arange(SPD, len(y)), 1
    mean = np.full((len(origins), h), 100.0)
    adaptive = online_intervals(cal, mean, origins, y, (80, 95), SPD)
    fixed = online_intervals(cal, mean, origins, y, (80, 95), SPD, gamma=0.0, min_days=1e9)  # never adapts
    settled = (before + 4) * SPD  # four days after the shift
    for level in (80, 95):
        fixed_cov = coverage(y, fixed, origins, h, level, settled)
        adaptive_cov = coverage(y, adaptive, origins, h, level, settled)
        assert abs(fixed_cov - level) > 10 if level == 80 else abs(fixed_cov - level) > 4, (level, fixed_cov)
        assert abs(adaptive_cov - level) <= 3, (level, adaptive_cov, fixed_cov)


def test_before_any_actual_arrives_the_interval_is_the_fixed_one():
    cal = normal_calibrator()
    y = shifted(2, 2, 3.0)
    origins = np.array([SPD, 2 * SPD])
    mean = np.full((2, SPD), 100.0) + np.linspace(0, 50, SPD)
    out = online_intervals(cal, mean, origins, y, (80, 95), SPD)
    for level in (80, 95):
        lo, hi = cal.interval(mean[0], level)
        np.testing.assert_allclose(out[f"lo-{level}"][0], lo)
        np.testing.assert_allclose(out[f"hi-{level}"][0], hi)
        assert not np.allclose(out[f"hi-{level}"][1], cal.interval(mean[1], level)[1])  # the errors moved it


def test_an_interval_never_depends_on_actuals_at_or_after_its_origin():
    cal = normal_calibrator()
    y = shifted(3, 6, 2.0)
    origins = np.arange(SPD, len(y) - SPD, 7)  # origins off the day grid, with overlapping paths
    h = SPD
    mean = np.full((len(origins), h), 100.0)
    out = online_intervals(cal, mean, origins, y, (80, 95), SPD)
    for p in (3 * SPD + 5, 5 * SPD + 50):
        z = y.copy()
        z[p:] = np.random.default_rng(p).uniform(0, 1000, len(z) - p)  # another future
        other = online_intervals(cal, mean, origins, z, (80, 95), SPD)
        before = origins <= p
        for key in out:
            np.testing.assert_array_equal(out[key][before], other[key][before])
        assert not np.array_equal(out["hi-80"][~before], other["hi-80"][~before])  # the test can fail


def test_no_leakage_through_a_backtest():
    s = make_series(days=21, seed=4)
    y = s.frame["requests"].to_numpy(float)
    p = 17 * SPD  # a midnight inside the test window (it starts at day 14)
    z = y.copy()
    z[p:] = z[p:] * 3 + 50
    other = type(s)(frame=s.frame.assign(requests=z), interval=s.interval, gaps=s.gaps)
    train_end = "1995-07-16 23:59"
    for protocol, last_unchanged in (("one-step", p), ("day-ahead", p + SPD)):
        a = backtest(s, ["seasonal_naive"], train_end=train_end, protocol=protocol).forecasts["seasonal_naive"]
        b = backtest(other, ["seasonal_naive"], train_end=train_end, protocol=protocol).forecasts["seasonal_naive"]
        pos = 14 * SPD + np.arange(len(a["mean"]))  # test positions, in order
        same = pos < last_unchanged
        for key in ("mean", "lo-80", "hi-80", "lo-95", "hi-95"):
            np.testing.assert_array_equal(a[key][same], b[key][same], err_msg=f"{protocol} {key}")
        assert not np.array_equal(a["hi-80"][~same], b["hi-80"][~same]), protocol


def test_rolling_protocols_default_to_adaptive_and_every_row_says_which_calibration():
    s = make_series(days=21, seed=2)
    train_end = "1995-07-16 23:59"
    reps = backtest_protocols(s, ["seasonal_naive", "sarima"], train_end, protocols=("one-step", "day-ahead",
                                                                                       "one-shot"), params=FAST)
    days = make_model("seasonal_naive").calibration_days
    for name in ("seasonal_naive", "sarima"):
        assert reps["one-step"].results[name]["calibration"] == adaptive_label()
        assert reps["day-ahead"].results[name]["calibration"] == adaptive_label()
        assert reps["one-shot"].results[name]["calibration"] == fixed_label(days)  # one-shot stays fixed
        assert reps["day-ahead"].to_dict()["results"][name]["calibration"].startswith("adaptive (rolling")
    fixed = backtest_protocols(s, ["seasonal_naive"], train_end, protocols=("day-ahead",), calibration="fixed")
    r = fixed["day-ahead"]
    assert r.results["seasonal_naive"]["calibration"] == fixed_label(days) == "fixed (the last 14 days before the " \
        "training end)"
    # Fixed intervals are the model's own calibrated ones.
    model = make_model("seasonal_naive").fit(type(s)(s.frame.iloc[:14 * SPD], s.interval, s.gaps))
    own = model.predict_paths(s.frame["requests"].to_numpy(float), np.arange(14 * SPD, 21 * SPD, SPD), SPD)
    np.testing.assert_allclose(r.forecasts["seasonal_naive"]["hi-80"], own["hi-80"].ravel())
    assert adaptive_label() == "adaptive (rolling: last 2 days of errors, ACI gamma=2 per day)"
    assert CALIBRATIONS == ("adaptive", "fixed")


def test_unknown_calibration_and_uncalibrated_models():
    s = make_series(days=21)
    with pytest.raises(InputError, match="unknown calibration 'sliding'; choose one of adaptive, fixed"):
        backtest(s, ["seasonal_naive"], train_end="1995-07-16 23:59", calibration="sliding")
    rep = backtest(s, ["seasonal_naive"], train_end="1995-07-16 23:59", protocol="day-ahead",
                   params={"seasonal_naive": {"calibrate": False}})
    assert rep.results["seasonal_naive"]["calibration"] is None
    assert rep.results["seasonal_naive"]["coverage_80"] is None


def test_bad_arguments():
    cal = normal_calibrator()
    mean = np.full((2, 1), 100.0)
    y = np.full(10, 100.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        online_intervals(cal, mean, np.array([5, 5]), y, (80,), SPD)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        online_intervals(cal, mean, np.array([4, 5]), y, (80,), SPD, gamma=-1)
