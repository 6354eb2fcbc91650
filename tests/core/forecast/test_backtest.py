"""Metrics, protocols, gap handling and interval coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InputError
from core.forecast import backtest, metrics
from core.forecast.backtest import CRPS_TAUS, crps_from_quantiles, pinball_loss, protocol_origins, split_series
from core.forecast.base import Grid
from tests.core.forecast.synth import FAST, make_series


def test_metrics_by_hand():
    truth = np.array([10.0, 0.0, 20.0, np.nan])
    mean = np.array([12.0, 1.0, 16.0, 5.0])
    lo = {80: np.array([9.0, 0.0, 17.0, 0.0]), 95: np.array([8.0, 0.0, 15.0, 0.0])}
    hi = {80: np.array([11.0, 2.0, 19.0, 9.0]), 95: np.array([13.0, 2.0, 21.0, 9.0])}
    m = metrics(truth, mean, lo, hi, scale=2.0)
    assert m["n"] == 3
    assert m["mse"] == pytest.approx((4 + 1 + 16) / 3)
    assert m["rmse"] == pytest.approx(np.sqrt(7))
    assert m["mae"] == pytest.approx(7 / 3)
    assert m["mape"] == pytest.approx((0.2 + 0.2) / 2 * 100)  # the zero-truth period is excluded
    assert m["mape_excluded_zero_truth"] == 1
    assert m["smape"] == pytest.approx((2 * 2 / 22 + 2 * 1 / 1 + 2 * 4 / 36) / 3 * 100)
    assert m["mase"] == pytest.approx(7 / 6)
    assert m["r2"] == pytest.approx(1 - 21 / 200)  # SSE 4 + 1 + 16; SST around the mean 10: 0 + 100 + 100
    assert m["coverage_80"] == pytest.approx(200 / 3)  # 20 is outside [17, 19]
    assert m["coverage_95"] == pytest.approx(100.0)


def test_r2_is_none_when_the_truth_is_flat_and_negative_when_worse_than_its_mean():
    assert metrics(np.array([5.0, 5.0, 5.0]), np.array([4.0, 5.0, 6.0]))["r2"] is None
    assert metrics(np.array([1.0, 3.0]), np.array([3.0, 1.0]))["r2"] == pytest.approx(1 - 8 / 2)
    assert metrics(np.array([np.nan]), np.array([1.0]))["r2"] is None


def test_pinball_loss_by_hand():
    truth = np.array([10.0, 4.0, np.nan])
    q = np.array([8.0, 6.0, 1.0])
    # tau 0.9: 0.9 * (10 - 8) above, 0.1 * (6 - 4) below; the NaN truth is ignored.
    assert pinball_loss(truth, q, 0.9) == pytest.approx((1.8 + 0.2) / 2)
    assert pinball_loss(truth, q, 0.1) == pytest.approx((0.2 + 1.8) / 2)
    lo = {80: np.array([8.0, 6.0, 0.0]), 95: np.array([7.0, 3.0, 0.0])}
    hi = {80: np.array([12.0, 7.0, 0.0]), 95: np.array([13.0, 9.0, 0.0])}
    m = metrics(truth, np.array([10.0, 5.0, 0.0]), lo, hi)
    # tau 0.1 at lo-80: 0.1*2 + 0.9*2; tau 0.9 at hi-80: 0.1*2 + 0.1*3
    assert m["pinball_80"] == pytest.approx(((0.2 + 1.8) / 2 + (0.2 + 0.3) / 2) / 2)
    # tau 0.025 at lo-95: 0.025*3 + 0.025*1; tau 0.975 at hi-95: 0.025*3 + 0.025*5
    assert m["pinball_95"] == pytest.approx(((0.075 + 0.025) / 2 + (0.075 + 0.125) / 2) / 2)
    assert m["crps"] is None  # no quantiles given


def test_crps_of_a_point_forecast_is_its_mae():
    truth = np.array([10.0, 0.0, 20.0, np.nan])
    mean = np.array([12.0, 1.0, 16.0, 5.0])
    m = metrics(truth, mean, quantiles={t: mean for t in CRPS_TAUS})
    assert m["crps"] == pytest.approx(m["mae"])
    # The 50-quantile rule against the closed form for a normal forecast scored on its own draws.
    rng = np.random.default_rng(0)
    y = rng.normal(100, 10, 20_000)
    from scipy.stats import norm

    q = {t: np.full_like(y, 100 + 10 * norm.ppf(t)) for t in CRPS_TAUS}
    exact = 10 / np.sqrt(np.pi)  # mean CRPS of N(mu, s^2) over its own draws: s / sqrt(pi)
    assert crps_from_quantiles(y, q) == pytest.approx(exact, rel=0.01)
    assert crps_from_quantiles(y, q) < np.mean(np.abs(y - 100))  # below the MAE of the median (s * 0.80)


def test_split_is_inclusive_and_a_date_means_the_whole_day():
    s = make_series(days=4)
    m, n = split_series(s, "1995-07-04 23:59")
    assert s.index[m - 1] == pd.Timestamp("1995-07-04 23:45", tz="-04:00")
    assert n == len(s)
    assert split_series(s, "1995-07-04") == (m, n)
    with pytest.raises(InputError, match="leaves no training or no test data"):
        split_series(s, "1995-08-30")


def test_protocol_origins():
    g = Grid(pd.Timestamp("1995-07-03", tz="-04:00"), pd.Timedelta("15min"))
    m, n = 5 * 96 + 10, 8 * 96
    o, h, keep = protocol_origins("day-ahead", m, n, g)
    assert o[0] == m
    assert (g.tod(o[1:]) == 0).all()
    assert h == 96
    assert keep[0] == 86
    assert keep.sum() == n - m
    o, h, keep = protocol_origins("one-shot", m, n, g)
    assert list(o) == [m]
    assert h == n - m
    o, h, keep = protocol_origins("one-step", m, n, g)
    assert len(o) == n - m
    assert h == 1
    with pytest.raises(InputError, match="unknown protocol"):
        protocol_origins("two-step", m, n, g)


def test_gaps_are_neither_trained_on_nor_scored():
    gaps = (("1995-07-08 06:00", "1995-07-09 02:00"), ("1995-07-15 10:00", "1995-07-15 14:00"))
    s = make_series(days=14, gaps=gaps)
    rep = backtest(s, ["seasonal_naive", "sarima", "lightgbm"], train_end="1995-07-13 23:59",
                   protocol="day-ahead", params=FAST)
    assert rep.periods == 3 * 96 - 16  # three test days minus the four-hour gap
    for name, r in rep.results.items():
        assert r["n"] == rep.periods, name
        for key in ("rmse", "mae", "mase", "smape", "coverage_80", "coverage_95"):
            assert r[key] is not None, (name, key)
            assert np.isfinite(r[key]), (name, key)
        assert r["rmse"] < 3 * rep.poisson_floor, name  # the gap did not poison the fit
    assert "gap" in rep.to_dict()["notes"]


def test_interval_coverage_on_known_noise():
    """Poisson noise around a known rate: conformal 80/95% intervals cover about 80/95%."""
    s = make_series(days=28, step="15min", scale=80.0, seed=3)
    rep = backtest(s, ["sarima"], train_end="1995-07-23 23:59", protocol="one-step", params=FAST)
    r = rep.results["sarima"]
    assert rep.periods == 7 * 96
    assert abs(r["coverage_80"] - 80) <= 5  # 672 points: one binomial s.d. is 1.5 points
    assert abs(r["coverage_95"] - 95) <= 3
    rep = backtest(s, ["seasonal_naive"], train_end="1995-07-23 23:59", protocol="one-shot")
    r = rep.results["seasonal_naive"]
    assert abs(r["coverage_80"] - 80) <= 5
    assert abs(r["coverage_95"] - 95) <= 3


def test_report_to_dict_is_json_safe():
    import json

    s = make_series(days=9)
    rep = backtest(s, "seasonal_naive", train_end="1995-07-10 23:59", protocol="one-shot")
    d = rep.to_dict(include_forecasts=True)
    json.dumps(d, allow_nan=False)
    assert d["results"]["seasonal_naive"]["fit_seconds"] >= 0
    assert d["poisson_floor"] > 0


def test_a_model_fitted_on_the_training_window_is_reused_and_scores_the_same():
    from core.forecast import backtest_protocols, make_model
    from core.series import TrafficSeries

    s = make_series(days=10)
    train_end = "1995-07-08 23:59"
    m, _ = split_series(s, train_end, None)
    train = TrafficSeries(s.frame.iloc[:m], s.interval, s.gaps)
    model = make_model("sarima").fit(train)
    fresh = backtest_protocols(s, ["sarima", "seasonal_naive"], train_end=train_end)
    reused = backtest_protocols(s, ["sarima", "seasonal_naive"], train_end=train_end, fitted={"sarima": model})
    for protocol, rep in fresh.items():
        a, b = rep.results["sarima"], reused[protocol].results["sarima"]
        for key in ("rmse", "mae", "coverage_80", "coverage_95"):
            assert b[key] == pytest.approx(a[key]), (protocol, key)
        assert b["fit_reused"] is True
        assert b["fit_seconds"] == pytest.approx(model.fit_seconds_, abs=1e-3)
        assert "fit_reused" not in reused[protocol].results["seasonal_naive"]


def test_a_model_fitted_on_other_data_is_refused():
    from core.forecast import backtest_protocols, make_model
    from core.series import TrafficSeries

    s = make_series(days=10)
    m, _ = split_series(s, "1995-07-08 23:59", None)
    longer = make_model("seasonal_naive").fit(TrafficSeries(s.frame.iloc[: m + 5], s.interval, s.gaps))
    with pytest.raises(InputError, match="not fitted on this backtest's training window"):
        backtest_protocols(s, ["seasonal_naive"], train_end="1995-07-08 23:59", fitted={"seasonal_naive": longer})
    other = make_model("seasonal_naive").fit(TrafficSeries(s.frame.iloc[:m], s.interval, s.gaps))
    with pytest.raises(InputError, match="is a seasonal_naive model"):
        backtest_protocols(s, ["sarima"], train_end="1995-07-08 23:59", fitted={"sarima": other})
