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
