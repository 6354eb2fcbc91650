"""Sample paths: their per-step quantiles are the calibrated intervals; the same seed, the same paths."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.forecast import make_model
from core.forecast.intervals import ConformalCalibrator
from tests.core.forecast.synth import FAST, make_series


@pytest.fixture(scope="module")
def fitted():
    return make_model("fourier_arma", **FAST["fourier_arma"]).fit(make_series(days=21, step="15min"))


def test_per_step_quantiles_of_5000_paths_match_the_80_interval(fitted):
    # 5000 paths: the steps of one path share its day level, so their sampling errors move together
    paths = fitted.sample_paths("1d", n=5000, seed=1)
    fc = fitted.predict("1d", level=80)
    assert paths.shape == (5000, 96)
    assert (paths >= 0).all()
    below = (paths < fc["lo-80"]).mean(axis=0) * 100  # share of paths under the 10% bound, per step
    above = (paths > fc["hi-80"]).mean(axis=0) * 100
    assert np.abs(below - 10).max() <= 2
    assert np.abs(above - 10).max() <= 2
    # and the empirical 10% / 90% quantiles fall between the 8% and 12% (88% and 92%) calibrated quantiles
    cal = fitted.calibrator_
    lo, hi = np.quantile(paths, [0.1, 0.9], axis=0)
    assert (lo >= cal.quantile(fc["mean"], np.full(96, 0.08)) - 1e-9).all()
    assert (lo <= cal.quantile(fc["mean"], np.full(96, 0.12)) + 1e-9).all()
    assert (hi >= cal.quantile(fc["mean"], np.full(96, 0.88)) - 1e-9).all()
    assert (hi <= cal.quantile(fc["mean"], np.full(96, 0.92)) + 1e-9).all()


def test_paths_keep_the_persistence_of_errors_and_are_reproducible(fitted):
    rho = fitted.calibrator_.step_correlation
    assert 0 < rho < 1
    a = fitted.sample_paths(8, n=500, seed=3)
    np.testing.assert_array_equal(a, fitted.sample_paths(8, n=500, seed=3))
    assert not np.array_equal(a, fitted.sample_paths(8, n=500, seed=4))
    d = a - a.mean(axis=0)
    assert np.corrcoef(d[:, 3], d[:, 4])[0, 1] > 0


def test_paths_from_an_origin_ignore_the_data_after_it(fitted):
    y = fitted.y_.copy()
    origin = len(y) - 96
    a = fitted.sample_paths(12, n=100, seed=0, y=y, origin=origin)
    y[origin:] += 1000.0
    np.testing.assert_array_equal(a, fitted.sample_paths(12, n=100, seed=0, y=y, origin=origin))


def test_without_intervals_there_is_nothing_to_sample():
    m = make_model("seasonal_naive", calibrate=False).fit(make_series(days=7))
    with pytest.raises(InputError, match="no calibrated intervals"):
        m.sample_paths(4)


def test_step_correlation_survives_serialization(fitted):
    cal = ConformalCalibrator.from_dict(fitted.calibrator_.to_dict())
    assert cal.step_correlation == fitted.calibrator_.step_correlation


def _day_levels(days: int, seed: int):
    """``make_series`` whose every day is busier or quieter by a level that persists from day to day."""
    s = make_series(days=days, step="15min", seed=seed)
    rng = np.random.default_rng(seed + 100)
    level = np.zeros(days)
    for d in range(1, days):
        level[d] = 0.8 * level[d - 1] + 0.6 * rng.standard_normal() * 0.25
    factor = np.exp(np.repeat(level, 96))[: len(s)]
    frame = s.frame.copy()
    frame["requests"] = rng.poisson(frame["requests"].to_numpy() * factor).astype(float)
    return type(s)(frame=frame, interval=s.interval)


def test_a_day_level_in_the_errors_is_measured_and_widens_multi_day_totals(fitted):
    shifted = make_model("fourier_arma", **FAST["fourier_arma"]).fit(_day_levels(35, seed=2))
    plain = make_model("fourier_arma", **FAST["fourier_arma"]).fit(make_series(days=35, step="15min", seed=2))
    assert shifted.calibrator_.day_share > plain.calibrator_.day_share + 0.1
    assert shifted.calibrator_.day_correlation > 0
    # The same marginals, but totals over several days spread as the days' levels do.
    a = shifted.sample_paths("4d", n=1000, seed=0)
    cal = shifted.calibrator_
    share = cal.day_share
    cal.day_share = 0.0
    try:
        b = shifted.sample_paths("4d", n=1000, seed=0)
    finally:
        cal.day_share = share
    assert a.sum(axis=1).std() > 1.5 * b.sum(axis=1).std()
    fc = shifted.predict("4d", level=80)
    below = (a < fc["lo-80"]).mean(axis=0) * 100
    assert abs(below.mean() - 10) <= 2  # the marginals are still the intervals'


def test_day_factor_survives_serialization(fitted):
    c = fitted.calibrator_
    cal = ConformalCalibrator.from_dict(c.to_dict())
    assert (cal.day_share, cal.day_correlation) == (c.day_share, c.day_correlation)
