"""Services: the forecast job's model is fitted once and is also the model its backtest scores."""

from __future__ import annotations

import pandas as pd

from dashapp import services
from dashapp.runtime.result_cache import ResultCache
from tests.core.forecast.synth import make_series


def test_the_forecast_job_backtests_the_model_it_just_fitted(tmp_path):
    series = make_series(days=10)
    origin = pd.Timestamp("1995-07-09 00:00", tz=series.start.tz)
    with ResultCache(tmp_path / "cache") as rc:
        out = services.forecast_result(rc, "synthetic", series, model="sarima", target="requests", origin=origin,
                                       steps=96, levels=(80, 95), anomalies=False, models_dir=tmp_path / "models")
    assert out.backtest is not None
    for protocol, rep in out.backtest.items():
        ours, naive = rep["results"]["sarima"], rep["results"]["seasonal_naive"]
        assert ours["fit_reused"] is True, protocol  # no second fit of the same model on the same data
        assert "fit_reused" not in naive
        assert ours["rmse"] is not None
