"""What-if: transform the load and/or override the model, compare with the baseline run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from core.scaling.config import ScalingConfig, get_preset, parse_policy
from core.scaling.forecasting import RollingForecaster
from core.scaling.simulate import ScenarioResult, SimulationModel, prepare, run_meta, run_scenarios
from core.series import TrafficSeries

__all__ = ["LoadTransform", "SHAPES", "Spike", "WhatIfResult", "apply_transform", "parse_spike", "whatif"]

SHAPES = ("flat", "ramp", "decay")


@dataclass(frozen=True)
class Spike:
    """Extra load: demand is multiplied by up to ``magnitude`` during ``[start, start + duration)``.

    Shapes: ``flat`` (x magnitude throughout), ``ramp`` (rises linearly to the peak at
    mid-spike, then falls back), ``decay`` (jumps to the peak, then falls linearly).
    """

    start: pd.Timestamp | str
    duration_minutes: float
    magnitude: float
    shape: str = "flat"

    def __post_init__(self) -> None:
        try:
            pd.Timestamp(self.start)
        except (ValueError, TypeError):
            raise ValueError(
                f"spike start must be a timestamp such as '1995-08-25 12:00', got {self.start!r}"
            ) from None
        if not self.duration_minutes > 0:
            raise ValueError(f"spike duration_minutes must be > 0, got {self.duration_minutes}")
        if not self.magnitude >= 0:
            raise ValueError(f"spike magnitude (a multiplier of the demand) must be >= 0, got {self.magnitude}")
        if self.shape not in SHAPES:
            raise ValueError(f"spike shape must be one of {', '.join(SHAPES)}, got {self.shape!r}")


def parse_spike(text: str) -> Spike:
    """``START,DURATION_MIN,MAGNITUDE[,SHAPE]`` -> Spike."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) not in (3, 4):
        raise ValueError(f"spike must be START,DURATION_MIN,MAGNITUDE[,SHAPE], e.g. '1995-08-25 12:00,60,3,ramp'; "
                         f"got {text!r}")
    try:
        dur, mag = float(parts[1]), float(parts[2])
    except ValueError:
        raise ValueError(f"spike duration and magnitude must be numbers, got {text!r}") from None
    return Spike(parts[0], dur, mag, parts[3] if len(parts) == 4 else "flat")


@dataclass(frozen=True)
class LoadTransform:
    """multiplier x demand, x (1 + weekly_growth_pct / 100) ** weeks since the window start, x spikes."""

    multiplier: float = 1.0
    spikes: tuple[Spike, ...] = ()
    weekly_growth_pct: float = 0.0

    def __post_init__(self) -> None:
        if not self.multiplier >= 0:
            raise ValueError(f"multiplier must be >= 0, got {self.multiplier}")
        if not self.weekly_growth_pct > -100:
            raise ValueError(f"weekly_growth_pct must be > -100, got {self.weekly_growth_pct}")

    @property
    def is_identity(self) -> bool:
        return self.multiplier == 1.0 and not self.spikes and self.weekly_growth_pct == 0.0


def apply_transform(series: TrafficSeries, t: LoadTransform, anchor: pd.Timestamp | None = None) -> TrafficSeries:
    """The series with its requests transformed (history too, so forecasts see the same world)."""
    if t.is_identity:
        return series
    idx = series.index
    anchor = idx[0] if anchor is None else series._ts(anchor)
    factor = np.full(len(idx), float(t.multiplier))
    if t.weekly_growth_pct:
        weeks = (idx - anchor) / pd.Timedelta(days=7)
        factor *= np.power(1.0 + t.weekly_growth_pct / 100.0, np.asarray(weeks, float))
    for sp in t.spikes:
        s0 = series._ts(sp.start)
        dur = pd.Timedelta(minutes=sp.duration_minutes)
        x = np.asarray((idx - s0) / dur, float)  # 0 at the start, 1 at the end
        inside = (x >= 0) & (x < 1)
        if sp.shape == "flat":
            w = np.ones_like(x)
        elif sp.shape == "ramp":
            w = 1.0 - np.abs(2.0 * x - 1.0)
        else:
            w = 1.0 - x
        factor *= np.where(inside, 1.0 + (sp.magnitude - 1.0) * w, 1.0)
    frame = series.frame.copy()
    frame["requests"] = frame["requests"].to_numpy(float) * factor
    return replace(series, frame=frame)


@dataclass
class WhatIfResult:
    baseline: ScenarioResult
    scenario: ScenarioResult
    delta: dict
    meta: dict = field(default_factory=dict)

    def to_dict(self, timelines: bool = False) -> dict:
        return {"baseline": self.baseline.to_dict(timeline=timelines),
                "scenario": self.scenario.to_dict(timeline=timelines), "delta": self.delta, "meta": self.meta}


_DELTA_KEYS = ("cost", "overloaded_pct", "dropped_requests", "dropped_pct", "p95_latency_s", "scaling_actions",
               "peak_servers", "mean_servers")


def whatif(series: TrafficSeries, config: str | ScalingConfig = "balanced", policy="balanced",
           model: SimulationModel | None = None, *, transform: LoadTransform | None = None,
           overrides: dict | None = None,
           start=None, end=None, forecaster: RollingForecaster | None = None, timelines: bool = False,
           engine: str = "auto") -> WhatIfResult:
    """Run a configuration x policy on the load as it is and on the transformed load / overridden model.

    Args:
        series, config, policy, model, start, end, forecaster: as for ``simulate``.
        transform: load transform (multiplier, spikes, weekly growth).
        overrides: keyword arguments of ``SimulationModel.with_overrides`` (price_per_server_hour,
            capacity_per_server_rps, min_servers, max_servers, boot_delay_minutes).
        timelines: keep both per-period timelines.

    Returns:
        baseline and scenario totals with ``delta`` = scenario - baseline for cost, SLA and peak servers.
    """
    cfg, pol = get_preset(config), parse_policy(policy)
    model = model or SimulationModel()
    transform = transform or LoadTransform()
    try:
        model2 = model.with_overrides(**(overrides or {}))
    except TypeError as exc:
        raise ValueError(f"unknown override: {exc}; allowed: price_per_server_hour, capacity_per_server_rps, "
                         "min_servers, max_servers, boot_delay_minutes") from None
    prep0 = prepare(series, model, start=start, end=end, forecaster=forecaster)
    anchor = prep0.index[0]
    prep1 = prepare(apply_transform(series, transform, anchor), model2, start=start, end=end, forecaster=forecaster)
    base = run_scenarios(prep0, [(cfg, pol)], timelines=timelines, engine=engine)[0]
    scen = run_scenarios(prep1, [(cfg, pol)], timelines=timelines, engine=engine)[0]
    b, s = base.totals.to_dict(), scen.totals.to_dict()
    delta = {k: (None if b[k] is None or s[k] is None else s[k] - b[k]) for k in _DELTA_KEYS}
    delta["cost_pct"] = 100.0 * (s["cost"] - b["cost"]) / b["cost"] if b["cost"] else None
    meta = run_meta(prep1)
    meta["transform"] = {"multiplier": transform.multiplier, "weekly_growth_pct": transform.weekly_growth_pct,
                         "spikes": [{"start": str(sp.start), "duration_minutes": sp.duration_minutes,
                                     "magnitude": sp.magnitude, "shape": sp.shape} for sp in transform.spikes]}
    meta["overrides"] = dict(overrides or {})
    return WhatIfResult(baseline=base, scenario=scen, delta=delta, meta=meta)
