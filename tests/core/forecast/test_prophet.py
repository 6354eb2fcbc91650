"""Prophet's configuration: validated at construction, re-anchored at each origin, the validation choice holds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.forecast import make_model
from core.forecast.backtest import backtest
from core.forecast.prophet import ProphetConfig, ProphetForecaster
from core.series import TrafficSeries
from tests.core.forecast.synth import make_series

DAY = 96  # periods per day at 15 minutes


@pytest.mark.parametrize(
    ("field", "value", "msg"),
    [
        ("daily_order", 0, "daily_order must be an integer >= 1, got 0"),
        ("weekly_order", 2.5, "weekly_order must be an integer >= 1"),
        ("weekend_order", -1, "weekend_order must be an integer >= 0, got -1"),
        ("fit_minutes", True, "fit_minutes must be an integer >= 1"),
        ("seasonality_mode", "x", "seasonality_mode must be 'additive' or 'multiplicative'"),
        ("changepoint_prior_scale", 0, "changepoint_prior_scale must be > 0, got 0"),
        ("transform", "cube", "transform must be one of none, sqrt, log, got 'cube'"),
        ("growth", "logistic", "growth must be one of linear, flat"),
        ("window_days", 1.0, "window_days must be >= 3"),
        ("holidays", "yes", "holidays must be True or False"),
        ("level_days", -1.0, "level_days must be >= 0"),
        ("level_mode", "median", "level_mode must be one of additive, ratio"),
        ("level_weight", 1.5, r"level_weight must be in \[0, 1\]"),
    ],
)
def test_config_is_validated_at_construction(field, value, msg):
    with pytest.raises(InputError, match=msg):
        ProphetConfig(**{field: value})
    with pytest.raises(InputError, match=msg):
        make_model("prophet", **{field: value})


def test_config_is_frozen_and_given_one_way():
    cfg = ProphetConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.daily_order = 3  # type: ignore[misc]
    with pytest.raises(InputError, match="not both"):
        ProphetForecaster(config=cfg, daily_order=3)
    with pytest.raises(InputError, match="config must be a ProphetConfig"):
        ProphetForecaster(config={"daily_order": 3})
    by_config = ProphetForecaster(config=dataclasses.replace(cfg, daily_order=3), calibrate=False)
    assert by_config.get_params() == make_model("prophet", daily_order=3, calibrate=False).get_params()
    assert by_config.get_params()["daily_order"] == 3


def test_reanchoring_reads_recent_data_only_when_enabled():
    assert make_model("prophet").uses_recent_data
    assert not make_model("prophet", level_days=0.0).uses_recent_data
    assert not make_model("prophet", level_weight=0.0).uses_recent_data


def test_calibrated_on_its_own_fit(monkeypatch):
    """One Prophet fit, calibrated on its last two weeks (a held-out refit's one-shot intervals were too narrow)."""
    calls = []
    real = ProphetForecaster._fit
    monkeypatch.setattr(ProphetForecaster, "_fit", lambda self, y: calls.append(len(y)) or real(self, y))
    s = make_series(days=21)
    model = make_model("prophet").fit(s)
    assert calls == [len(s.frame)]
    assert model.calibrator_ is not None


@pytest.fixture(scope="module")
def level_shift():
    """Two weeks of traffic, then (two days after the fit ends) the level jumps by 60%."""
    series = make_series(days=21, seed=3)
    shift = 16 * DAY
    frame = series.frame.copy()
    frame.iloc[shift:, 0] = frame.iloc[shift:, 0] * 1.6
    series = TrafficSeries(frame, series.interval, series.gaps)
    model = make_model("prophet", calibrate=False).fit(TrafficSeries(frame.iloc[: 14 * DAY], series.interval))
    return series, model, shift


@pytest.mark.parametrize("mode", ["ratio", "additive"])
def test_reanchoring_follows_a_level_shift(level_shift, mode):
    """Day-ahead from the midnights after a shift: the re-anchored forecast follows it, the plain curve does not."""
    series, model, shift = level_shift
    y = series.requests
    anchored = model.reanchored(level_mode=mode)
    plain = model.reanchored(level_days=0.0)
    after = np.array([shift + DAY, shift + 2 * DAY])
    truth = np.array([y[o : o + DAY].mean() for o in after])
    got = anchored.predict_paths(y, after, DAY, level=None)["mean"].mean(axis=1)
    flat = plain.predict_paths(y, after, DAY, level=None)["mean"].mean(axis=1)
    np.testing.assert_allclose(got / truth, 1.0, atol=0.1)
    assert (flat / truth < 0.75).all()  # the curve fitted before the shift stays at the old level
    # From the shift's own midnight nothing of it has been seen: both forecasts agree.
    at = np.array([shift])
    np.testing.assert_allclose(anchored.predict_paths(y, at, DAY, level=None)["mean"],
                               plain.predict_paths(y, at, DAY, level=None)["mean"], rtol=0.1)


def test_reanchoring_skips_a_window_without_data(level_shift):
    """An origin right after a day of missing data falls back to the plain curve (no ratio of nothing)."""
    series, model, shift = level_shift
    y = series.requests.copy()
    y[shift : shift + DAY] = np.nan
    o = np.array([shift + DAY])
    np.testing.assert_allclose(model.predict_paths(y, o, 4, level=None)["mean"],
                               model.reanchored(level_days=0.0).predict_paths(y, o, 4, level=None)["mean"])


def test_reanchored_changes_only_the_reanchoring(level_shift):
    _, model, _ = level_shift
    with pytest.raises(InputError, match="only changes level_days"):
        model.reanchored(daily_order=3)
    with pytest.raises(InputError, match="level_mode must be"):
        model.reanchored(level_mode="x")
    assert model.reanchored(level_days=2.0).model_ is model.model_  # not refitted


def test_nasa_validation_week_beats_prophet_as_it_was(nasa5):
    """On the validation week (train to 08-15, day-ahead 08-16 .. 22; never the test week) the chosen
    defaults clearly beat Prophet as it was (orders 4/3, additive, no transform, no re-anchoring)."""
    old = {"daily_order": 4, "weekly_order": 3, "weekend_order": 0, "seasonality_mode": "additive",
           "transform": "none", "level_days": 0.0, "calibrate": False}
    rep = backtest(nasa5, ["prophet", "seasonal_naive"], train_end="1995-08-15 23:59", test_end="1995-08-22 23:59",
                   protocol="day-ahead", params={"prophet": {"calibrate": False}})
    was = backtest(nasa5, ["prophet"], train_end="1995-08-15 23:59", test_end="1995-08-22 23:59",
                   protocol="day-ahead", params={"prophet": old})
    now = rep.results["prophet"]["rmse"]
    assert now < 0.85 * was.results["prophet"]["rmse"]
    assert now < rep.results["seasonal_naive"]["rmse"]
    assert rep.results["prophet"]["fit_seconds"] < 30


def test_holidays_and_weekend_shape_reach_prophet():
    s = make_series(days=10)
    m = make_model("prophet", calibrate=False).fit(s).model_
    assert {"daily", "weekly", "daily_weekend"} <= set(m.seasonalities)
    assert m.seasonalities["daily_weekend"]["condition_name"] == "weekend"
    assert m.holidays is not None
    assert set(m.holidays["holiday"]) == {"high_traffic", "low_traffic"}
    m2 = make_model("prophet", calibrate=False, holidays=False, weekend_order=0).fit(s).model_
    assert m2.holidays is None
    assert "daily_weekend" not in m2.seasonalities
    assert pd.api.types.is_float_dtype(m.history["y"])
