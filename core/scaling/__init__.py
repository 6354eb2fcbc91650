"""Autoscaling simulator: configurations x policies, baselines, matrix, optimizer, what-if.

See ``docs/simulator.md`` for the model and its equations.
"""

from core.scaling.config import (
    PRESETS,
    CapacityModel,
    CostModel,
    Policy,
    PredictiveSpec,
    QueueModel,
    ScalingConfig,
    get_preset,
    parse_policy,
)
from core.scaling.forecasting import RollingForecaster, SeasonalNaiveRolling, honest_forecast
from core.scaling.simulate import ScenarioResult, SimulationModel, Totals, default_forecaster, prepare, simulate

__all__ = [
    "PRESETS",
    "CapacityModel",
    "CostModel",
    "Policy",
    "PredictiveSpec",
    "QueueModel",
    "RollingForecaster",
    "ScalingConfig",
    "ScenarioResult",
    "SeasonalNaiveRolling",
    "SimulationModel",
    "Totals",
    "default_forecaster",
    "get_preset",
    "honest_forecast",
    "parse_policy",
    "prepare",
    "simulate",
]
