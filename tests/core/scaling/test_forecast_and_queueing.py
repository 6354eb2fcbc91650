"""The predictive policy cannot see the future; Erlang C figures against closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.scaling.config import PredictiveSpec
from core.scaling.forecasting import SeasonalNaiveRolling, honest_forecast, window_max
from core.scaling.kernel import has_numba
from core.scaling.queueing import erlang_c, response_times
from core.scaling.simulate import SimulationModel, simulate
from core.series import TrafficSeries

FIVE = pd.Timedelta(minutes=5)


def series(values, minutes=5):
    idx = pd.date_range(pd.Timestamp("2024-01-01", tz="-04:00"), periods=len(values), freq=f"{minutes}min")
    return TrafficSeries(frame=pd.DataFrame({"requests": np.asarray(values, float)}, index=idx),
                         interval=pd.Timedelta(minutes=minutes))


def weekly(n_days=15, seed=0):
    rng = np.random.default_rng(seed)
    n = n_days * 288
    t = np.arange(n) / 288
    return rng.poisson(200 * (1 + 0.7 * np.sin(2 * np.pi * t))).astype(float)


def test_seasonal_naive_uses_last_week_then_last_day():
    v = np.arange(3000, dtype=float)
    out = SeasonalNaiveRolling()(v, 2, FIVE)
    week, day = 2016, 288
    assert out[week + 5] == v[5]
    assert out[day + 5] == v[5]  # no week of history yet: one day earlier
    assert out[3] == v[1]  # not even a day: last value seen k = 2 periods earlier
    v[5] = np.nan
    assert SeasonalNaiveRolling()(v, 2, FIVE)[week + 5] == v[week + 5 - day]


def test_decisions_never_depend_on_the_future():
    values = weekly()
    s = series(values)
    start = s.index[288 * 8]
    base = simulate(s, "aggressive", "predictive", start=start).timeline
    t = 288 * 11 + 50  # a period inside the window
    changed = values.copy()
    changed[t + 1:] = changed[t + 1:] * 3 + 500
    alt = simulate(series(changed), "aggressive", "predictive", start=start).timeline
    cut = t - 288 * 8  # position in the window
    # decisions at periods <= t + 1 only used data up to t
    for col in ("servers", "scaling_delta", "ready_servers"):
        assert base[col].iloc[: cut + 2].tolist() == alt[col].iloc[: cut + 2].tolist(), col
    assert base["servers"].tolist() != alt["servers"].tolist()  # the change did matter later


class Peeking:
    """Leaks: 'forecasts' period j from the true value of period j."""

    name = "peeking"

    def __call__(self, values, k, interval):
        return np.asarray(values, float).copy()


def test_a_leaking_forecaster_is_refused():
    s = series(weekly(3))
    with pytest.raises(ValueError, match="leaks"):
        simulate(s, "balanced", "predictive", forecaster=Peeking())
    with pytest.raises(ValueError, match="leaks"):
        honest_forecast(Peeking(), weekly(3), 2, FIVE)


def test_honest_forecast_contract_checks():
    with pytest.raises(ValueError, match="k must be >= 1"):
        honest_forecast(None, np.ones(10), 0, FIVE)
    with pytest.raises(ValueError, match="shape"):
        honest_forecast(lambda v, k, i: np.ones(3), np.ones(10), 1, FIVE)


def test_window_max_looks_ahead_k_periods():
    fc = np.array([1.0, 5.0, np.nan, 2.0, 0.0])
    assert window_max(fc, 2).tolist() == [5.0, 5.0, 2.0, 2.0, 0.0]
    assert window_max(fc, 1).tolist() == [1.0, 5.0, 0.0, 2.0, 0.0]


def test_erlang_c_known_values():
    assert erlang_c(np.array([2.0]), np.array([1.0]))[0] == pytest.approx(1 / 3)
    assert erlang_c(np.array([1.0]), np.array([0.5]))[0] == pytest.approx(0.5)  # M/M/1: P(wait) = rho


@pytest.mark.parametrize("engine", ["numpy"] + (["numba"] if has_numba() else []))
def test_response_times_match_closed_forms(engine):
    mu, dt = 1 / 3, 300.0
    rho = np.array([0.1, 0.5, 0.9])
    work = rho * mu * dt  # one server
    mean, p95 = response_times(work, np.ones(3), np.zeros(3), mu=mu, period_s=dt, queue_limit_s=1e9, engine=engine)
    # M/M/1: response time ~ Exp(mu - lambda)
    np.testing.assert_allclose(mean, 1 / (mu - rho * mu), rtol=1e-9)
    np.testing.assert_allclose(p95, np.log(20) / (mu - rho * mu), rtol=1e-6)
    # saturated: backlog delay
    m2, p2 = response_times(np.array([200.0]), np.array([1.0]), np.array([20.0]), mu=mu, period_s=dt,
                            queue_limit_s=60, engine=engine)
    assert m2[0] == pytest.approx(60 + 3)
    assert p2[0] == pytest.approx(60 + 3 * np.log(20))


def test_response_time_p95_solves_the_tail_equation():
    from core.scaling.queueing import _survival

    rng = np.random.default_rng(5)
    c = rng.integers(1, 40, 200).astype(float)
    rho = rng.uniform(0.05, 0.99, 200)
    mu = 0.5
    work = rho * c * mu * 60
    _, p95 = response_times(work, c, np.zeros(200), mu=mu, period_s=60, queue_limit_s=1e9, engine="numpy")
    cw = erlang_c(c, rho * c)
    tail, _ = _survival(p95, np.full(200, mu), c * mu - rho * c * mu, cw)
    np.testing.assert_allclose(tail, 0.05, atol=1e-6)
    if has_numba():
        _, p95b = response_times(work, c, np.zeros(200), mu=mu, period_s=60, queue_limit_s=1e9, engine="numba")
        np.testing.assert_allclose(p95b, p95, rtol=1e-6)


class FittedOnEverything:
    """Leaks the way a careless pipeline does: one model fitted on the whole series, window included."""

    name = "fitted_on_everything"

    def __init__(self, start):
        self.start = start

    def __call__(self, values, k, interval):
        from core.forecast import make_model

        s = TrafficSeries(frame=pd.DataFrame({"requests": np.asarray(values, float)},
                                             index=pd.date_range(self.start, periods=len(values), freq=interval)),
                          interval=interval)
        model = make_model("sarima", calibrate=False, arma_days=3).fit(s)
        out = np.full(len(values), np.nan)
        origins = np.arange(1, len(values) - k + 1)
        out[origins + k - 1] = model.predict_paths(np.asarray(values, float), origins, k, level=None)["mean"][:, -1]
        return out


def test_a_model_fitted_on_the_simulated_window_is_refused():
    s = series(weekly(16))
    with pytest.raises(ValueError, match="leaks"):
        simulate(s, "balanced", "predictive", start=s.index[288 * 14], forecaster=FittedOnEverything(s.start))


def test_the_default_forecast_is_fitted_on_the_history_before_the_window():
    s = series(weekly(16))
    start = s.index[288 * 14]
    res = simulate(s, "aggressive", "predictive", start=start, timeline=False)
    fc = res.meta["forecast"]
    assert (fc["name"], fc["model"]) == ("sarima", "sarima")
    assert pd.Timestamp(fc["fit_until"]) == start
    naive = SimulationModel(predictive=PredictiveSpec(forecast_model="seasonal_naive"))
    res2 = simulate(s, "aggressive", "predictive", naive, start=start, timeline=False)
    assert res2.meta["forecast"]["name"] == "seasonal_naive"
    assert res2.totals.cost != res.totals.cost  # the forecast drives the floor


def test_a_short_history_falls_back_to_seasonal_naive_without_fitting():
    s = series(weekly(6))
    res = simulate(s, "aggressive", "predictive", start=s.index[288 * 3], timeline=False)
    assert res.meta["forecast"]["name"] == "seasonal_naive"
    same = simulate(s, "aggressive", "predictive", start=s.index[288 * 3], forecaster=SeasonalNaiveRolling(),
                    timeline=False)
    assert same.totals.cost == res.totals.cost


def test_forecast_model_setting_is_validated():
    with pytest.raises(ValueError, match="forecast_model must be a model name"):
        PredictiveSpec(forecast_model="")
    with pytest.raises(ValueError, match="min_history_days must be >= 0"):
        PredictiveSpec(min_history_days=-1)
    bad = SimulationModel(predictive=PredictiveSpec(forecast_model="crystal_ball"))
    with pytest.raises(ValueError, match="unknown model 'crystal_ball'"):
        simulate(series(weekly(16)), "balanced", "predictive", bad, start=series(weekly(16)).index[288 * 14])


def test_default_forecaster_with_a_model_cache_stores_the_fit_on_disk(tmp_path):
    from core.forecast.cache import ModelCache
    from core.scaling.matrix import run_matrix
    from core.scaling.simulate import default_forecaster

    s = series(weekly(16, seed=3))
    start = s.index[288 * 14]
    f = default_forecaster(s, start=start, cache=ModelCache(tmp_path / "models"), dataset_id="ds-test")
    m = run_matrix(s, start=start, forecaster=f)
    assert m.meta["forecast"]["model"] == "sarima"
    assert list((tmp_path / "models" / "sarima").iterdir())  # one fitted model, in safe formats
    plain = run_matrix(s, start=start)  # same model, same data: same decisions
    assert [r.totals.cost for r in plain.scenarios] == [r.totals.cost for r in m.scenarios]
