"""Forecasting: one protocol over seasonal naive, Prophet, Fourier+ARMA, LightGBM and an ensemble.

Importing the package registers every model; Prophet itself is imported
only when a Prophet model is fitted.
"""

from core.forecast import ensemble, fourier_arma, lgbm, naive, prophet  # noqa: F401  (registers the models)
from core.forecast.backtest import (
    PROTOCOLS,
    BacktestReport,
    backtest,
    backtest_protocols,
    metrics,
    rolling_forecast,
)
from core.forecast.base import (
    Forecaster,
    Grid,
    accepted_model_names,
    canonical_model_name,
    make_model,
    model_aliases,
    model_label,
    model_names,
    parse_horizon,
    parse_levels,
    registered,
    unregister,
)
from core.forecast.memo import ForecastMemo
from core.forecast.rolling import DEFAULT_FORECAST_MODEL, ModelForecaster

__all__ = [
    "DEFAULT_FORECAST_MODEL",
    "PROTOCOLS",
    "BacktestReport",
    "ForecastMemo",
    "Forecaster",
    "Grid",
    "ModelForecaster",
    "accepted_model_names",
    "backtest",
    "backtest_protocols",
    "canonical_model_name",
    "make_model",
    "metrics",
    "model_aliases",
    "model_label",
    "model_names",
    "parse_horizon",
    "parse_levels",
    "registered",
    "rolling_forecast",
    "unregister",
]
