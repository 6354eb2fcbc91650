"""One contract over every model: fit/predict shape, grid continuation, intervals, no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import NotFittedError
from core.forecast import make_model, model_names, rolling_forecast
from core.series import TrafficSeries
from tests.core.forecast.synth import FAST

MODELS = model_names()


def test_registry_holds_every_model():
    assert set(MODELS) == {"seasonal_naive", "prophet", "fourier_arma", "lightgbm", "ensemble"}


@pytest.fixture(scope="module")
def fitted(series15):
    return {name: make_model(name, **FAST[name]).fit(series15) for name in MODELS}


@pytest.mark.parametrize("name", MODELS)
def test_contract(name, fitted, series15):
    model = fitted[name]
    assert model.name == name
    assert model.label
    with pytest.raises(NotFittedError):
        make_model(name, **FAST[name]).predict(4)
    h = 2 * 96 + 5  # over two days, at 15 minutes
    out = model.predict(h, level=(80, 95))
    assert list(out) == ["timestamps", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    ts = out["timestamps"]
    # The grid continues from the series' own last timestamp, in its own offset.
    assert ts[0] == series15.index[-1] + series15.interval
    assert (ts[1:] - ts[:-1] == series15.interval).all()
    assert str(ts.tz) == str(series15.index.tz)
    assert len(ts) == h
    for key in ("mean", "lo-80", "hi-80", "lo-95", "hi-95"):
        assert out[key].shape == (h,)
        assert np.isfinite(out[key]).all()
    assert (out["mean"] >= 0).all()
    assert (out["lo-95"] >= 0).all()
    assert (out["lo-95"] <= out["lo-80"] + 1e-9).all()
    assert (out["lo-80"] <= out["hi-80"]).all()
    assert (out["hi-80"] <= out["hi-95"] + 1e-9).all()
    # Forecasts are of the right size: the synthetic mean is ~55 per period.
    assert 20 < out["mean"].mean() < 100
    # A duration works the same as steps.
    assert len(model.predict("1d", level=None)["mean"]) == 96
    # Sample paths: one row per path, inside the 95% interval about 95% of the time.
    paths = model.sample_paths(h, n=400, seed=0)
    assert paths.shape == (400, h)
    assert (paths >= 0).all()
    inside = ((paths >= out["lo-95"]) & (paths <= out["hi-95"])).mean()
    assert 0.9 < inside < 0.99


@pytest.mark.parametrize("name", MODELS)
def test_no_leakage_after_cutoff(name, series15):
    """Perturb the series after a cutoff: no forecast made at or before the cutoff may change."""
    m = 10 * 96
    train = TrafficSeries(series15.frame.iloc[:m], series15.interval, series15.gaps)
    model = make_model(name, **FAST[name]).fit(train)
    y = series15.requests.copy()
    cutoff = m + 150
    y2 = y.copy()
    y2[cutoff:] = y2[cutoff:] * 5 + 1000  # the future changes wildly
    origins = np.arange(m, cutoff + 1, 7)
    for h in (1, 20, 200):
        a = model.predict_paths(y, origins, h)
        b = model.predict_paths(y2, origins, h)
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name} {key} h={h} leaked the future")
    # ...while forecasts made after the cutoff do see the new data (when the model reads recent data;
    # the weekly seasonal naive would need a week after the cutoff, longer than this series).
    later = np.array([cutoff + 10])
    changed = not np.allclose(model.predict_paths(y, later, 3)["mean"], model.predict_paths(y2, later, 3)["mean"])
    if name != "seasonal_naive":
        assert changed == model.uses_recent_data


@pytest.mark.parametrize("name", MODELS)
def test_rolling_forecast_has_no_leakage(name, series15):
    k = 3
    start = 10 * 96
    a = rolling_forecast(series15, name, k=k, start=start, params=FAST[name])
    assert np.isnan(a[: start + k - 1]).all()
    assert np.isfinite(a[start + k - 1 :]).all()
    frame = series15.frame.copy()
    p = start + 100
    frame.iloc[p:, 0] = frame.iloc[p:, 0] * 3 + 500
    b = rolling_forecast(TrafficSeries(frame, series15.interval), name, k=k, start=start, params=FAST[name])
    np.testing.assert_array_equal(a[: p + k], b[: p + k])  # out[t] uses periods < t - k + 1 only


def test_one_step_error_is_not_below_the_noise(series15):
    """On Poisson data the best possible RMSE is sqrt(mean rate): beating it clearly means leakage."""
    from core.forecast import backtest

    rep = backtest(series15, ["sarima", "lightgbm"], train_end="1995-07-13 23:59", protocol="one-step",
                   params={k: FAST[k] for k in ("sarima", "lightgbm")})
    for name, r in rep.results.items():
        assert r["rmse"] > 0.9 * rep.poisson_floor, name


def test_bytes_target_and_missing_column(series15):
    from core.errors import InputError
    from tests.core.forecast.synth import make_series

    s = make_series(days=10, with_bytes=True)
    out = make_model("sarima").fit(s, target="bytes").predict(10)
    assert out["mean"].mean() > 1e5  # bytes, not requests
    with pytest.raises(InputError, match="no 'bytes' column"):
        make_model("sarima").fit(series15, target="bytes")


def test_forecast_starts_after_a_trailing_gap():
    """A series ending in a gap still forecasts from its own last timestamp."""
    from tests.core.forecast.synth import make_series

    s = make_series(days=10, gaps=(("1995-07-12 20:00", "1995-07-13 00:00"),))
    for name in ("seasonal_naive", "sarima", "lightgbm"):
        out = make_model(name, **FAST[name]).fit(s).predict(8)
        assert out["timestamps"][0] == pd.Timestamp("1995-07-13 00:00", tz="-04:00")
        assert np.isfinite(out["mean"]).all()


@pytest.mark.parametrize("name", ["seasonal_naive", "sarima"])
def test_rolling_model_passes_the_simulators_leakage_check(name, series15):
    scaling = pytest.importorskip("core.scaling.forecasting", reason="the simulator is not there yet")
    from core.forecast import ModelForecaster

    # As rolling_forecast does: all history, refit on every call, no forecast before the fit point.
    f = ModelForecaster(name, start=series15.start, fit_until=10 * 96, params=FAST[name], min_history_days=0,
                        memo=None, naive_before_fit=False)
    out = scaling.honest_forecast(f, series15.requests, 2, series15.interval, check=True)
    assert np.isnan(out[: 10 * 96 + 1]).all()
    assert np.isfinite(out[10 * 96 + 1 :]).all()
