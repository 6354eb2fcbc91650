"""ModelForecaster: the simulator's default forecast, fitted once before the window and reused."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import InputError
from core.forecast import ModelForecaster, make_model, rolling_forecast
from core.forecast import rolling as rolling_mod
from core.forecast.cache import ModelCache
from core.scaling.forecasting import SeasonalNaiveRolling, forecast_leakage_check
from core.series import TrafficSeries


@pytest.fixture
def fresh_memo():
    rolling_mod.PROCESS_MEMO.clear()
    yield
    rolling_mod.PROCESS_MEMO.clear()


def test_model_after_the_fit_point_seasonal_naive_before(series15, fresh_memo):
    v = series15.requests
    fit_at = 96 * 10
    f = ModelForecaster("sarima", start=series15.start, fit_until=series15.index[fit_at], params={"arma_days": 5},
                        min_history_days=3)
    out = f(v, 2, series15.interval)
    naive = SeasonalNaiveRolling()(v, 2, series15.interval)
    assert np.array_equal(out[: fit_at + 1], naive[: fit_at + 1], equal_nan=True)
    model = make_model("sarima", calibrate=False, arma_days=5).fit(
        TrafficSeries(series15.frame.iloc[:fit_at], series15.interval))
    expected = rolling_forecast(series15, model, k=2, start=fit_at)
    assert np.allclose(out[fit_at + 1:], expected[fit_at + 1:])
    assert f.describe()["source"] == "fit"
    # The simulator's own check: perturbing after cuts on both sides of the fit point moves nothing early.
    forecast_leakage_check(f, v, 2, series15.interval, cuts=(fit_at - 50, fit_at + 50))
    assert f.describe()["source"] == "memory"  # the cut after the fit point reuses the fitted model


def test_short_history_moves_the_fit_point(series15, fresh_memo):
    f = ModelForecaster("sarima", start=series15.start, fit_until=series15.index[96], params={"arma_days": 5},
                        min_history_days=7)
    f(series15.requests, 1, series15.interval)
    assert f.describe()["fit_until"] == series15.index[7 * 96].isoformat()
    never = ModelForecaster("sarima", start=series15.start, min_history_days=30)
    out = never(series15.requests, 1, series15.interval)
    assert never.describe()["model"] == "seasonal_naive"
    assert np.array_equal(out, SeasonalNaiveRolling()(series15.requests, 1, series15.interval), equal_nan=True)


def test_fitted_models_are_reused_from_disk(series15, tmp_path, fresh_memo):
    cache = ModelCache(tmp_path / "models")
    kw = dict(start=series15.start, fit_until=series15.index[96 * 10], params={"arma_days": 5}, cache=cache,
              dataset_id="ds1", min_history_days=3)
    first = ModelForecaster("sarima", **kw)
    a = first(series15.requests, 2, series15.interval)
    assert first.describe()["source"] == "fit"
    assert any((tmp_path / "models" / "sarima").iterdir())
    rolling_mod.PROCESS_MEMO.clear()
    second = ModelForecaster("sarima", **kw)
    b = second(series15.requests, 2, series15.interval)
    assert second.describe()["source"] == "disk"
    assert np.allclose(a, b, equal_nan=True)


def test_bad_settings_name_the_fix():
    with pytest.raises(InputError, match="unknown model 'crystal_ball'"):
        ModelForecaster("crystal_ball", start="1995-07-01")
    with pytest.raises(InputError, match="min_history_days must be >= 0"):
        ModelForecaster("sarima", start="1995-07-01", min_history_days=-1)
