"""The policy forecaster (refit on a schedule), the quantile headroom and the short-history profile."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from core.forecast import make_model
from core.forecast.memo import ForecastMemo
from core.scaling.config import PRESETS, Policy, PredictiveSpec
from core.scaling.forecasting import (
    RobustProfileRolling,
    SeasonalNaiveRolling,
    forecast_leakage_check,
    window_max,
)
from core.scaling.headroom import QuantileHeadroom, error_lags, error_quantile
from core.scaling.policy_forecast import (
    PolicyForecaster,
    decision_horizon,
    refit_boundaries,
    select_policy_model,
)
from core.scaling.simulate import SimulationModel, prepare, threshold_row
from core.series import TrafficSeries
from tests.core.forecast.synth import make_series

FAST = {"arma_days": 3}  # a cheap Fourier+ARMA: the tests are about the schedule, not the model
HOUR = pd.Timedelta(hours=1)


@pytest.fixture(scope="module")
def s15() -> TrafficSeries:
    """Eight days at 15 minutes from Monday 1995-07-03 (UTC-04:00): midnights every 96 periods."""
    return make_series(days=8, step="15min", seed=4)


def values(s: TrafficSeries) -> np.ndarray:
    return np.where(s.gap_mask(), np.nan, s.requests)


def forecaster(s: TrafficSeries, **kw) -> PolicyForecaster:
    args = dict(start=s.start, window_start=s.index[96 * 5], refit="daily", min_history_days=3, params=FAST,
                memo=ForecastMemo())
    return PolicyForecaster("fourier_arma", **{**args, **kw})


# -- the schedule --------------------------------------------------------------------------------------
def test_boundaries_are_local_midnights_and_mondays(s15):
    daily = refit_boundaries(s15.start, s15.interval, len(s15), "daily")
    assert daily.tolist() == [96 * d for d in range(1, 8)]
    weekly = refit_boundaries(s15.start, s15.interval, len(s15), "weekly")
    assert weekly.tolist() == [96 * 7]  # 1995-07-10 is the next Monday
    assert refit_boundaries(s15.start, s15.interval, len(s15), "once").size == 0
    with pytest.raises(ValueError, match="refit must be one of daily, weekly, once, got 'hourly'"):
        refit_boundaries(s15.start, s15.interval, len(s15), "hourly")


def test_daily_refit_equals_a_manual_refit_at_each_midnight(s15):
    v, k = values(s15), 2
    f = forecaster(s15)
    out = f(v, k, s15.interval)
    expected = np.full(len(v), np.nan)
    for b in (96 * 5, 96 * 6, 96 * 7):  # the midnights of the window [day 5, end)
        model = make_model("fourier_arma", calibrate=False, **FAST).fit(TrafficSeries(s15.frame.iloc[:b], s15.interval))
        origins = np.arange(b, min(b + 96, len(v) - k + 1))  # decisions made during that day
        expected[origins + k - 1] = model.predict_paths(v, origins, k, level=None)["mean"][:, k - 1]
    window = slice(96 * 5 + k - 1, len(v))
    np.testing.assert_allclose(out[window], expected[window], rtol=1e-9)
    # The decision just before the window (its forecast lands in the window) uses the previous midnight's fit.
    model4 = make_model("fourier_arma", calibrate=False, **FAST).fit(TrafficSeries(s15.frame.iloc[:96 * 4],
                                                                                   s15.interval))
    o = 96 * 5 - 1
    assert out[o + k - 1] == pytest.approx(model4.predict_paths(v, np.array([o]), k, level=None)["mean"][0, k - 1])
    assert np.isnan(out[: o + k - 1]).all()  # nothing before: no fit is made for periods no one reads
    info = f.describe()
    assert (info["refits"], info["first_fit"], info["last_fit"]) == (
        4, s15.index[96 * 4].isoformat(), s15.index[96 * 7].isoformat())
    assert info["fallback"] is None
    assert "refitted at each local midnight" in info["reason"]


def test_it_is_honest_and_passes_the_simulators_check(s15):
    v, k = values(s15), 3
    f = forecaster(s15, warmup_days=1)
    out = f(v, k, s15.interval)
    forecast_leakage_check(f, v, k, s15.interval, out, cuts=(96 * 4 + 7, 96 * 5 + 50, 96 * 6, 96 * 7 - 1))
    # And by hand, on the whole series: demand changed from a cut on moves no forecast before cut + k.
    for cut in (96 * 5 + 10, 96 * 6 + 95):
        w = v.copy()
        w[cut:] = w[cut:] * 3 + 40
        out2 = forecaster(s15, warmup_days=1)(w, k, s15.interval)
        np.testing.assert_array_equal(out[: cut + k], out2[: cut + k])
        assert not np.array_equal(out[cut + k:], out2[cut + k:], equal_nan=True)


def test_each_fit_is_computed_once_across_windows(s15):
    memo, v = ForecastMemo(), values(s15)
    train = forecaster(s15, window_start=s15.index[96 * 4], window_end=s15.index[96 * 6], memo=memo)
    test = forecaster(s15, window_start=s15.index[96 * 6], memo=memo)
    a, b = train(v, 2, s15.interval), test(v, 2, s15.interval)
    # Training: the fits at midnights 3 (for the decision before its window), 4 and 5.
    assert (train.describe()["refits"], train.describe()["fits_computed"]) == (3, 3)
    # Test: midnight 5 again (reused from the memo), then 6 and 7.
    assert (test.describe()["refits"], test.describe()["fits_computed"]) == (3, 2)
    # A period both windows forecast gets the same forecast from both.
    assert a[96 * 6] == b[96 * 6]


def test_weekly_and_once(s15):
    v = values(s15)
    weekly = forecaster(s15, refit="weekly", window_start=s15.index[96 * 6])
    weekly(v, 1, s15.interval)
    # The first fit as soon as min_history_days (3) of data exist, then each Monday (day 7).
    assert (weekly.describe()["first_fit"], weekly.describe()["last_fit"]) == (
        s15.index[96 * 3].isoformat(), s15.index[96 * 7].isoformat())
    once = forecaster(s15, refit="once", warmup_days=1)
    once(v, 1, s15.interval)
    assert once.describe()["refits"] == 1
    assert once.describe()["first_fit"] == s15.index[96 * 4].isoformat()


# -- short history: what ran, and why ---------------------------------------------------------------------
def test_short_history_runs_the_robust_profile_and_says_why(s15):
    v = values(s15)
    f = forecaster(s15, window_start=s15.index[96], min_history_days=14)
    out = f(v, 2, s15.interval)
    info = f.describe()
    assert info["model"] == "robust_profile"
    assert info["refits"] == 0
    assert "less than 14 days of history (min_history_days)" in info["reason"]
    assert info["fallback"]["forecaster"] == "robust_profile"
    np.testing.assert_array_equal(out[96 + 1:], RobustProfileRolling()(v, 2, s15.interval)[96 + 1:])
    # Partly short: the profile until the first fit point (3 days in), the model after it.
    g = forecaster(s15, window_start=s15.index[96], window_end=s15.index[96 * 5])
    g(v, 2, s15.interval)
    gi = g.describe()
    assert gi["model"] == "fourier_arma"
    assert gi["fallback"]["periods"] == 96 * 2 + 1
    assert gi["fallback"]["until"] == s15.index[96 * 3].isoformat()


def test_the_profile_does_not_carry_a_one_off_burst_to_the_next_day():
    idx = pd.date_range("2024-01-01", periods=5 * 24, freq="1h", tz="UTC")
    base = 100 + 50 * np.sin(2 * np.pi * np.arange(len(idx)) / 24)
    once = base.copy()
    once[24 * 2 + 12] *= 5  # a burst on day 2 at noon only
    daily = base.copy()
    daily[12::24] *= 5  # a burst every day at noon
    f = RobustProfileRolling()
    j = 24 * 3 + 12  # day 3, noon
    assert f(once, 1, HOUR)[j] == pytest.approx(base[j], rel=0.1)
    assert f(daily, 1, HOUR)[j] == pytest.approx(daily[j], rel=0.1)  # the recurring burst is the pattern
    assert SeasonalNaiveRolling()(once, 1, HOUR)[j] == pytest.approx(once[j - 24])  # what it replaces copies it
    forecast_leakage_check(f, once, 2, HOUR, cuts=(30, 60, 90))


def test_with_one_day_of_history_a_short_burst_is_smoothed_away():
    five = pd.Timedelta(minutes=5)
    base = 100 + 50 * np.sin(2 * np.pi * np.arange(2 * 288) / 288)
    v = base.copy()
    v[144:148] *= 5  # 20 minutes on the first day
    out = RobustProfileRolling()(v, 1, five)
    assert out[288 + 145] == pytest.approx(base[288 + 145], rel=0.1)
    assert SeasonalNaiveRolling()(v, 1, five)[288 + 145] == v[145]


def test_the_profile_follows_a_level_step_within_the_hour():
    idx = np.arange(4 * 288)
    v = 100 + 40 * np.sin(2 * np.pi * idx / 288)
    v[3 * 288:] *= 2.5
    out = RobustProfileRolling()(v, 1, pd.Timedelta(minutes=5))
    assert out[3 * 288 + 12 + 6] == pytest.approx(v[3 * 288 + 12 + 6], rel=0.05)


# -- the quantile headroom ---------------------------------------------------------------------------------
def test_error_quantile_on_a_tiny_exact_case():
    step = pd.Timedelta(hours=6)  # 4 periods a day
    assert error_lags(1, step, days=1).tolist() == [1, 2, 3, 4]
    assert error_lags(2, step, days=1).tolist() == [2, 3, 4, 5]
    v = np.array([10, 11, 12, 13, 14, 15, np.nan, 17, 18], float)
    fc = np.full(9, 10.0)  # errors 0, 1, 2, 3, 4, 5, NaN, 7, 8
    q, count = error_quantile(v, fc, 1, step, level=50.0, days=1)
    assert np.isnan(q[:4]).all()
    assert count[:4].tolist() == [0, 1, 2, 3]
    assert q[4] == pytest.approx(1.5)  # median of 0, 1, 2, 3 (errors of periods 0..3, all known at 4)
    assert q[5] == pytest.approx(2.5)
    assert np.isnan(q[7])
    assert count[7] == 3
    assert np.isnan(q[8])
    assert count[8] == 3
    q3, _ = error_quantile(v, fc, 1, step, level=50.0, days=1, min_count=3)
    assert q3[8] == pytest.approx(5.0)  # errors 4, 5, 7: the gap is skipped
    q90, _ = error_quantile(v, fc, 1, step, level=90.0, days=1)
    assert q90[5] == pytest.approx(np.quantile([1, 2, 3, 4], 0.9))
    hr = QuantileHeadroom(lambda x, k, i: np.full(len(x), 10.0), level=50.0, days=1)
    out = hr(v, 1, step)
    assert out[4] == pytest.approx(11.5)
    assert out[0] == pytest.approx(12.5)
    assert hr.fallback_.tolist() == [True] * 4 + [False] * 3 + [True, True]


def test_the_global_quantile_is_refreshed_hourly_from_the_errors_before_the_hour():
    five = pd.Timedelta(minutes=5)
    rng = np.random.default_rng(1)
    v = rng.normal(100, 10, 3 * 288)
    fc = np.full(len(v), 100.0)
    q, _ = error_quantile(v, fc, 2, five, level=95.0, days=1)
    j = 2 * 288 + 30  # decided at j - 1 = 2 * 288 + 29, in the hour that starts at 2 * 288 + 24
    expected = np.quantile((v - fc)[2 * 288 + 24 - 288: 2 * 288 + 24], 0.95)
    assert q[j] == pytest.approx(expected)
    assert (q[2 * 288 + 25: 2 * 288 + 37] == q[j]).all()  # every decision of that hour
    every, _ = error_quantile(v, fc, 2, five, level=95.0, days=1, refresh_minutes=5)
    assert every[j] == pytest.approx(np.quantile((v - fc)[j - 2 - 287: j - 1], 0.95))


def test_headroom_reads_only_errors_known_at_the_decision():
    step = pd.Timedelta(minutes=5)
    rng = np.random.default_rng(0)
    v = rng.poisson(200, 3 * 288).astype(float)
    hr = QuantileHeadroom(SeasonalNaiveRolling(), level=95.0, days=1)
    forecast_leakage_check(hr, v, 2, step, cuts=(300, 400, 700))
    with pytest.raises(ValueError, match="headroom level must be within"):
        QuantileHeadroom(SeasonalNaiveRolling(), level=100)


def test_prepare_provisions_for_forecast_plus_quantile_and_drops_the_margin(s15):
    spec = PredictiveSpec(headroom="quantile", headroom_days=1.0, refit="daily", forecast_model="fourier_arma",
                          min_history_days=3)
    model = SimulationModel(predictive=spec)
    start = s15.index[96 * 5]
    prep = prepare(s15, model, start=start)
    k = decision_horizon(model.capacity, spec, s15.interval)
    point = PolicyForecaster("fourier_arma", start=s15.start, window_start=start, refit="daily", warmup_days=1.0,
                             min_history_days=3)
    manual = QuantileHeadroom(point, level=95.0, days=1.0)(values(s15), k, s15.interval)
    np.testing.assert_allclose(prep.fcmax, window_max(manual, k)[96 * 5:])
    assert threshold_row(PRESETS["aggressive"], Policy.PREDICTIVE, prep)["margin"] == 0.0
    margin = prepare(s15, dataclasses.replace(model, predictive=dataclasses.replace(spec, headroom="margin")),
                     start=start)
    assert threshold_row(PRESETS["aggressive"], Policy.PREDICTIVE, margin)["margin"] == 0.25
    info = prep.forecast_info
    assert info["refit"] == "daily"
    assert info["refits"] == 4
    assert "reason" in info
    assert info["headroom"]["level"] == 95.0
    assert info["headroom"]["fallback_periods"] == 0
    assert info["headroom"]["mean_headroom"] > 0


def test_predictive_spec_validates_the_new_settings():
    with pytest.raises(ValueError, match="refit must be 'once', 'daily' or 'weekly', got 'hourly'"):
        PredictiveSpec(refit="hourly")
    with pytest.raises(ValueError, match="headroom must be 'margin'"):
        PredictiveSpec(headroom="p95")
    with pytest.raises(ValueError, match="headroom_level must be within \\(0, 100\\) percent, got 100"):
        PredictiveSpec(headroom_level=100)
    with pytest.raises(ValueError, match="headroom_days must be within \\(0, 60\\], got 0"):
        PredictiveSpec(headroom_days=0)
    assert PredictiveSpec().kernel_margin == 0.25
    assert PredictiveSpec(headroom="quantile").kernel_margin == 0.0


# -- choosing the model ----------------------------------------------------------------------------------
def test_select_policy_model_scores_the_days_before_the_cut_only(s15):
    cut = s15.index[96 * 7]
    sel = select_policy_model(s15, 2, cut=cut, candidates=("seasonal_naive", "fourier_arma"), eval_days=2,
                              refit="daily", min_history_days=3, memo=ForecastMemo())
    assert sel.model in ("seasonal_naive", "fourier_arma")
    assert sel.model == min(sel.scores, key=lambda n: sel.scores[n]["mae"])
    assert sel.scores["fourier_arma"]["refits"] == 3
    assert sel.scores["seasonal_naive"]["n"] == 96 * 2
    changed = dataclasses.replace(s15, frame=s15.frame.assign(requests=np.where(
        np.arange(len(s15)) >= 96 * 7, s15.requests * 5, s15.requests)))
    again = select_policy_model(changed, 2, cut=cut, candidates=("seasonal_naive", "fourier_arma"), eval_days=2,
                                refit="daily", min_history_days=3, memo=ForecastMemo())
    assert again.scores == sel.scores  # nothing at or after the cut is read
    # A candidate that cannot be fitted before the window is not chosen on the fallback's score.
    short = select_policy_model(s15, 2, cut=s15.index[96 * 3], candidates=("fourier_arma", "seasonal_naive"),
                                eval_days=1, min_history_days=3, memo=ForecastMemo())
    assert short.model == "seasonal_naive"
    assert "error" in short.scores["fourier_arma"]
