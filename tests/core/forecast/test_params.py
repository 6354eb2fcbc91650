"""Bad parameters fail early with messages that name the fix."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import InputError
from core.forecast import make_model, parse_horizon, parse_levels

FIVE = pd.Timedelta("5min")


def test_horizon_in_steps_and_durations():
    assert parse_horizon(1, FIVE) == 1
    assert parse_horizon("7d", FIVE) == 7 * 288
    assert parse_horizon("90min", FIVE) == 18
    assert parse_horizon("30D", FIVE) == 30 * 288


@pytest.mark.parametrize(
    ("h", "msg"),
    [(0, "at least 1 step"), (-3, "at least 1 step"), ("31d", "exceeds 30 days; pass at most '30d'"),
     (30 * 288 + 1, "exceeds 30 days"), ("2min", "shorter than one step"), ("soon", "duration like '7d'")],
)
def test_bad_horizons(h, msg):
    with pytest.raises(InputError, match=msg):
        parse_horizon(h, FIVE)


def test_levels():
    assert parse_levels("95,80") == (80.0, 95.0)
    assert parse_levels(90) == (90.0,)
    for bad in (0, 100, -5, 150, "x", "80,100"):
        with pytest.raises(InputError, match=r"level must be .*\(0, 100\)"):
            parse_levels(bad)


def test_unknown_model_lists_the_choices():
    with pytest.raises(InputError, match="unknown model 'xgboost'; choose one of seasonal_naive"):
        make_model("xgboost")


@pytest.mark.parametrize(
    ("name", "params", "msg"),
    [
        ("seasonal_naive", {"season": "month"}, "season must be 'day' or 'week'"),
        ("sarima", {"p": 0, "q": 0}, "p \\+ q must be >= 1"),
        ("sarima", {"transform": "log"}, "transform must be"),
        ("lightgbm", {"strategy": "sideways"}, "strategy must be 'direct' or 'recursive'"),
        ("lightgbm", {"n_estimators": 0}, "n_estimators must be an integer >= 1"),
        ("prophet", {"seasonality_mode": "x"}, "seasonality_mode must be"),
        ("ensemble", {"members": ("sarima", "ensemble")}, "ensemble members must be among"),
        ("sarima", {"calibration_days": 0}, "calibration_days must be > 0"),
        ("sarima", {"bogus": 1}, "bad parameters for model 'sarima'"),
    ],
)
def test_bad_model_parameters(name, params, msg):
    with pytest.raises(InputError, match=msg):
        make_model(name, **params)


def test_too_little_data(series15):
    from core.series import TrafficSeries

    short = TrafficSeries(series15.frame.iloc[:100], series15.interval)
    with pytest.raises(InputError, match="needs at least 2 days of data"):
        make_model("sarima").fit(short)


def test_level_without_calibration(series15):
    model = make_model("seasonal_naive", calibrate=False).fit(series15)
    assert list(model.predict(3, level=None)) == ["timestamps", "mean"]
    with pytest.raises(InputError, match="pass level=None"):
        model.predict(3)
