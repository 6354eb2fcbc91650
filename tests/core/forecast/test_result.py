"""forecast_at / ForecastResult: the one forecast-at-origin result, and the one default split."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.forecast.result import forecast_at
from core.forecast.split import default_test_start
from core.jsonable import to_jsonable
from core.series import TrafficSeries
from tests.core.forecast.synth import make_series


def test_forecast_from_the_end_of_the_data():
    s = make_series(days=10)
    r = forecast_at(s, "seasonal_naive", steps=96, levels=(80, 95))
    assert r.start == s.end
    assert r.end == s.end + 96 * s.interval
    assert len(r.timestamps) == 96
    assert r.levels == [80, 95]
    assert len(r.actual[0]) == 0
    assert r.backtest is None
    assert np.all(r.prediction["lo-80"] <= r.mean)
    assert np.all(r.mean <= r.prediction["hi-80"])
    d = json.loads(json.dumps(to_jsonable(r.to_dict()), allow_nan=False))
    assert d["points"] == 96
    assert d["horizon_steps"] == 96
    assert d["granularity_minutes"] == 15
    assert d["summary"]["max"] == pytest.approx(float(r.mean.max()))
    assert len(d["timestamps"]) == len(d["mean"]) == len(d["hi-95"]) == 96
    assert "timestamps" not in r.to_dict(arrays=False)


def test_a_past_origin_keeps_actuals_and_backtests_the_fitted_model():
    s = make_series(days=10)
    origin = s.index[8 * 96]
    r = forecast_at(s, "seasonal_naive", steps=96, origin=origin, backtest=True)
    assert r.origin == origin
    assert len(r.actual[0]) == 96
    assert r.history[0][-1] == origin - s.interval
    assert set(r.backtest) == {"one-step", "day-ahead", "one-shot"}
    frame = r.to_frame()
    assert list(frame.columns[:1]) == ["mean"]
    assert frame["actual"].notna().all()


def test_nothing_after_the_origin_reaches_the_forecast():
    s = make_series(days=10)
    origin = s.index[8 * 96]
    changed = s.frame.copy()
    changed.iloc[8 * 96:, 0] = changed.iloc[8 * 96:, 0] * 3 + 50
    a = forecast_at(s, "sarima", steps=48, origin=origin, params={"arma_days": 5})
    b = forecast_at(TrafficSeries(changed, s.interval, s.gaps), "sarima", steps=48, origin=origin,
                    params={"arma_days": 5})
    assert np.array_equal(a.mean, b.mean)


def test_an_origin_without_history_is_refused():
    s = make_series(days=3)
    with pytest.raises(InputError, match="origin"):
        forecast_at(s, "seasonal_naive", steps=4, origin=s.start)


@pytest.mark.parametrize(("days", "expected"), [
    (62, pd.Timestamp("1995-08-25", tz="-04:00")),   # NASA's two months: the last 7 days, from midnight
    (10, pd.Timestamp("1995-07-10", tz="-04:00")),   # 30% of 10 days = 3 days (from 07-03)
    (3.5, None),                                     # less than 3 days of history would remain
])
def test_the_default_split(days, expected):
    start = pd.Timestamp("1995-07-01", tz="-04:00") if days == 62 else pd.Timestamp("1995-07-03", tz="-04:00")
    end = start + pd.Timedelta(days=days)
    assert default_test_start(start, end) == expected
