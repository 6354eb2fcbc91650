"""Fourier+ARMA specifics: the level term's clipping of bursts."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.forecast.fourier_arma import FourierARMA
from core.series import TrafficSeries
from tests.core.forecast.synth import make_series


def _burst_shift(level_clip):
    """How far a 45-minute burst moves the one-step forecasts 2..6 hours later (mean absolute change)."""
    s = make_series(days=14, step="15min", scale=200.0, seed=3)
    m = 12 * 96
    train = TrafficSeries(s.frame.iloc[:m], s.interval, s.gaps)
    model = FourierARMA(arma_days=5, level_clip=level_clip, calibrate=False).fit(train)
    y = s.requests.copy()
    b = m + 40  # the burst: three periods at 4x the traffic, in the test part
    burst = y.copy()
    burst[b:b + 3] *= 4.0
    origins = np.arange(b + 8, b + 24)
    base = model.predict_paths(y, origins, 1, level=None)["mean"][:, 0]
    lifted = model.predict_paths(burst, origins, 1, level=None)["mean"][:, 0]
    return float(np.mean(np.abs(lifted - base)))


def test_level_clip_damps_a_burst():
    # The ARMA still reacts to the burst; through the level term (a 6-hour mean) it no longer does in full.
    clipped, unclipped = _burst_shift(3.0), _burst_shift(None)
    assert unclipped > 5.0
    assert clipped < 0.5 * unclipped


def test_level_clip_leaves_ordinary_data_nearly_unchanged():
    s = make_series(days=14, step="15min", scale=200.0, seed=4)
    m = 12 * 96
    train = TrafficSeries(s.frame.iloc[:m], s.interval, s.gaps)
    origins = np.arange(m, len(s))
    preds = [FourierARMA(arma_days=5, level_clip=c, calibrate=False).fit(train)
             .predict_paths(s.requests, origins, 1, level=None)["mean"][:, 0] for c in (3.0, None)]
    np.testing.assert_allclose(preds[0], preds[1], rtol=0.02)


@pytest.mark.parametrize("bad", [0, -1.0])
def test_level_clip_must_be_positive(bad):
    with pytest.raises(InputError, match="level_clip must be > 0"):
        FourierARMA(level_clip=bad)


def test_level_clip_in_params():
    assert FourierARMA().get_params()["level_clip"] == 3.0
    assert FourierARMA(level_clip=None).get_params()["level_clip"] is None


def _arma_series(days=24, seed=5):
    """15-minute counts whose sqrt-scale residual is a strong AR(3) (the orders on offer must find it)."""
    s = make_series(days=days, step="15min", scale=400.0, seed=seed)
    rng = np.random.default_rng(seed)
    n = len(s)
    a = np.zeros(n)
    eps = rng.normal(0.0, 1.5, n)
    for t in range(3, n):
        a[t] = 0.3 * a[t - 1] + 0.2 * a[t - 2] + 0.4 * a[t - 3] + eps[t]
    y = (np.sqrt(s.frame["requests"].to_numpy()) + a).clip(0) ** 2
    frame = s.frame.assign(requests=np.round(y))
    return TrafficSeries(frame, s.interval, s.gaps)


def test_order_is_chosen_on_the_holdout():
    s = _arma_series()
    fixed = FourierARMA(p=1, q=0, order_candidates=(), calibrate=False).fit(s)
    chosen = FourierARMA(p=1, q=0, order_candidates=((3, 0),), calibrate=False).fit(s)
    assert (len(fixed.phi_), len(fixed.theta_)) == (1, 0)
    assert (len(chosen.phi_), len(chosen.theta_)) == (3, 0)
    assert FourierARMA().get_params()["order_candidates"] == []  # off by default: it triples the fit


def test_short_series_keep_the_given_order():
    s = _arma_series(days=14)  # under three 7-day holdouts: no selection
    model = FourierARMA(p=1, q=0, order_candidates=((3, 0),), calibrate=False).fit(s)
    assert (len(model.phi_), len(model.theta_)) == (1, 0)


def test_order_selection_reads_training_data_only():
    """Changing data after the training end changes no order choice and no forecast made before it."""
    s = _arma_series(days=30)
    m = 24 * 96
    train = TrafficSeries(s.frame.iloc[:m], s.interval, s.gaps)
    y = s.requests.copy()
    y2 = y.copy()
    y2[m + 50:] *= 3.0
    model = FourierARMA(arma_days=5, calibrate=False).fit(train)
    origins = np.arange(m, m + 50)
    a = model.predict_paths(y, origins, 4, level=None)["mean"]
    b = model.predict_paths(y2, origins, 4, level=None)["mean"]
    np.testing.assert_array_equal(a[:-4], b[:-4])


@pytest.mark.parametrize("bad", [((0, 0),), ((-1, 2),), ("ab",)])
def test_bad_order_candidates(bad):
    with pytest.raises(InputError, match="order_candidates"):
        FourierARMA(order_candidates=bad)
