"""The cost report of one configuration x policy: cost, savings against static fleets, cost against the
oracle, and the SLA figures, built once here for the History page, ``/api/cost-report`` and the exports."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.scaling.config import Policy, ScalingConfig, get_preset, parse_policy
from core.scaling.simulate import Prepared, ScenarioResult, run_meta, run_scenarios

__all__ = ["SLA_KEYS", "CostReport", "cost_report"]

#: The SLA figures a report names (all from the scenario's totals).
SLA_KEYS = ("overloaded_periods", "overloaded_pct", "dropped_requests", "dropped_pct", "p95_latency_s",
            "p95_over_target_periods", "p95_over_target_pct")


def _saving(reference: float, cost: float) -> dict:
    """What running the scenario instead of ``reference`` saves: dollars, and percent of the reference."""
    return {"dollars": reference - cost, "pct": 100.0 * (reference - cost) / reference if reference > 0 else None}


@dataclass
class CostReport:
    """One scenario beside the baselines simulated on the same window in the same kernel pass.

    Attributes:
        config, policy: what was simulated.
        scenario: its result (with a timeline when asked for).
        baselines: ``static_peak``, ``static_mean``, ``target_tracking``, ``oracle`` (totals only).
        meta: the simulation's window and settings (``run_meta``).
    """

    config: ScalingConfig
    policy: Policy
    scenario: ScenarioResult
    baselines: dict[str, ScenarioResult] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    @property
    def cost(self) -> float:
        return self.scenario.totals.cost

    @property
    def savings(self) -> dict[str, dict]:
        """``{"vs_static_peak": {"dollars", "pct"}, "vs_static_mean": {...}}`` (negative: autoscaling costs more)."""
        return {f"vs_{name}": _saving(self.baselines[name].totals.cost, self.cost)
                for name in ("static_peak", "static_mean") if name in self.baselines}

    @property
    def cost_vs_oracle(self) -> float | None:
        """Cost as a multiple of the oracle's (None without the oracle or when it costs nothing)."""
        oracle = self.baselines.get("oracle")
        return self.cost / oracle.totals.cost if oracle is not None and oracle.totals.cost > 0 else None

    @property
    def sla(self) -> dict:
        totals = self.scenario.totals.to_dict()
        return {k: totals[k] for k in SLA_KEYS}

    def to_dict(self) -> dict:
        return {
            "config": self.config.to_dict(), "policy": self.policy.value,
            "scenario": self.scenario.to_dict(),
            "baselines": {k: v.to_dict() for k, v in self.baselines.items()},
            "savings": self.savings,
            "cost_vs_oracle": self.cost_vs_oracle,
            "sla": self.sla,
            "meta": self.meta,
        }


def cost_report(prep: Prepared, config: str | ScalingConfig, policy: str | Policy, *,
                timeline_columns: tuple[str, ...] | None = None) -> CostReport:
    """Simulate ``config`` x ``policy`` and the baselines on ``prep``'s window in one kernel pass.

    Args:
        prep: the prepared window (``core.scaling.prepare``).
        config: a preset name or a configuration.
        policy: a ``Policy`` name (``core.registry.policy_names()``).
        timeline_columns: keep the scenario's per-period timeline with these columns (None: no timeline).
            Baselines never keep theirs (the report is cached and only the scenario is charted).
    """
    cfg, pol = get_preset(config), parse_policy(policy)
    results = run_scenarios(prep, [(cfg, pol)], baselines=True, timelines=timeline_columns is not None)
    scenario = results[0]
    if scenario.timeline is not None:
        scenario.timeline = scenario.timeline[[c for c in timeline_columns if c in scenario.timeline.columns]]
    baselines = {}
    for r in results[1:]:
        r.timeline = None
        baselines[r.name] = r
    return CostReport(config=cfg, policy=pol, scenario=scenario, baselines=baselines, meta=run_meta(prep))
