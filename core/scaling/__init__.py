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
from core.scaling.forecasting import RobustProfileRolling, RollingForecaster, SeasonalNaiveRolling, honest_forecast
from core.scaling.headroom import QuantileHeadroom
from core.scaling.policy_forecast import PolicyForecaster, select_policy_model
from core.scaling.simulate import ScenarioResult, SimulationModel, Totals, default_forecaster, prepare, simulate

__all__ = [
    "PRESETS",
    "CapacityModel",
    "CostModel",
    "Policy",
    "PolicyForecaster",
    "PredictiveSpec",
    "QuantileHeadroom",
    "QueueModel",
    "RobustProfileRolling",
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
    "select_policy_model",
    "simulate",
]
