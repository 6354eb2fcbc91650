"""The 3 configurations x 3 policies matrix, its baselines and its winners.

By default the columns are the threshold policies (``THRESHOLD_POLICIES``); ``policies=`` adds target
tracking and hybrid (or any subset), each configuration's numbers read by each policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from core.scaling.config import PRESETS, THRESHOLD_POLICIES, Policy, ScalingConfig, get_preset, parse_policy
from core.scaling.forecasting import RollingForecaster
from core.scaling.simulate import ScenarioResult, SimulationModel, prepare, run_meta, run_scenarios
from core.series import TrafficSeries

__all__ = ["MatrixResult", "Winners", "pick_winners", "run_matrix"]


@dataclass
class Winners:
    """Names of the winning scenarios (``config/policy``) and why."""

    best_cost: str
    best_sla: str
    best_balance: str
    cheapest_meeting_sla: str | None
    cost_weight: float
    sla_target_pct: float

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _sla_key(r: ScenarioResult):
    t = r.totals
    return (t.overloaded_pct, t.dropped_pct, t.p95_latency_s if t.p95_latency_s is not None else math.inf, t.cost)


def pick_winners(scenarios: list[ScenarioResult], cost_weight: float = 0.5, sla_target_pct: float = 1.0) -> Winners:
    """Best Cost, Best SLA, Best Balance and the cheapest scenario meeting the SLA target.

    Best Balance minimizes ``w * cost_n + (1 - w) * sla_n`` where both are min-max
    normalized over the scenarios (SLA = overloaded periods %). Ties go to the
    earlier scenario in matrix order.

    Raises:
        ValueError: for a weight outside [0, 1] or no scenarios.
    """
    if not 0 <= cost_weight <= 1:
        raise ValueError(f"cost_weight must be within [0, 1] (0 = SLA only, 1 = cost only), got {cost_weight}")
    if not scenarios:
        raise ValueError("no scenarios to rank")
    costs = [r.totals.cost for r in scenarios]
    slas = [r.totals.overloaded_pct for r in scenarios]

    def norm(v, lo, hi):
        return 0.0 if hi <= lo else (v - lo) / (hi - lo)

    score = [cost_weight * norm(c, min(costs), max(costs)) + (1 - cost_weight) * norm(s, min(slas), max(slas))
             for c, s in zip(costs, slas, strict=True)]
    best_cost = min(scenarios, key=lambda r: (r.totals.cost, r.totals.overloaded_pct))
    best_sla = min(scenarios, key=_sla_key)
    best_bal = scenarios[min(range(len(scenarios)), key=lambda i: score[i])]
    meeting = [r for r in scenarios if r.totals.overloaded_pct <= sla_target_pct + 1e-12]
    cheapest = min(meeting, key=lambda r: (r.totals.cost, r.totals.overloaded_pct)).name if meeting else None
    return Winners(best_cost=best_cost.name, best_sla=best_sla.name, best_balance=best_bal.name,
                   cheapest_meeting_sla=cheapest, cost_weight=cost_weight, sla_target_pct=sla_target_pct)


@dataclass
class MatrixResult:
    """Every configuration x every policy asked for (nine by default), four baselines, winners."""

    scenarios: list[ScenarioResult]
    baselines: dict[str, ScenarioResult]
    winners: Winners
    meta: dict = field(default_factory=dict)

    def scenario(self, name: str) -> ScenarioResult:
        for r in self.scenarios:
            if r.name == name:
                return r
        raise KeyError(name)

    def to_dict(self, timelines: bool = False) -> dict:
        oracle = self.baselines["oracle"].totals.cost
        scen = []
        for r in self.scenarios:
            d = r.to_dict(timeline=timelines)
            d["cost_vs_oracle"] = r.totals.cost / oracle if oracle > 0 else None
            scen.append(d)
        return {
            "scenarios": scen,
            "baselines": {k: v.to_dict(timeline=timelines) for k, v in self.baselines.items()},
            "winners": self.winners.to_dict(),
            "meta": self.meta,
        }


def run_matrix(series: TrafficSeries, model: SimulationModel | None = None, *, configs=None, start=None, end=None,
               forecaster: RollingForecaster | None = None, cost_weight: float = 0.5,
               sla_target_pct: float | None = None, timelines: bool = False, engine: str = "auto",
               progress=None, policies=None) -> MatrixResult:
    """Simulate every configuration x every policy plus the baselines, in one kernel pass.

    Args:
        series: the traffic (periods before ``start`` are forecast history).
        model: servers, billing, queue and predictive settings.
        configs: the configurations (default: the three presets).
        policies: the policies (names or ``Policy``; default ``THRESHOLD_POLICIES``, the 3 x 3 matrix;
            ``tuple(Policy)`` adds target tracking and hybrid). Scenarios run configuration-major.
        start, end: the simulated window.
        forecaster: rolling forecaster for the predictive policy.
        cost_weight: weight of cost in Best Balance (0..1, default 0.5).
        sla_target_pct: overloaded-periods target for "cheapest meeting the SLA"
            (default: the model's ``queue.sla_overloaded_pct``).
        timelines: keep per-period timelines.
        engine: kernel engine.
        progress: optional ``progress(done, total)``.
    """
    model = model or SimulationModel()
    cfgs: list[ScalingConfig] = [get_preset(c) for c in (configs or PRESETS.values())]
    prep = prepare(series, model, start=start, end=end, forecaster=forecaster)
    pols: list[Policy] = list(dict.fromkeys(parse_policy(p) for p in (policies or THRESHOLD_POLICIES)))
    pairs = [(c, p) for c in cfgs for p in pols]
    results = run_scenarios(prep, pairs, baselines=True, timelines=timelines, engine=engine, progress=progress)
    scen, base = results[: len(pairs)], results[len(pairs):]
    target = model.queue.sla_overloaded_pct if sla_target_pct is None else sla_target_pct
    winners = pick_winners(scen, cost_weight, target)
    meta = {**run_meta(prep), "policies": [p.value for p in pols]}
    return MatrixResult(scenarios=scen, baselines={b.name: b for b in base}, winners=winners, meta=meta)
