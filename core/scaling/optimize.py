"""Search scaling configurations: Pareto front of cost vs overloaded periods, and its knee.

All candidates run in one vectorized kernel pass per batch (no traces kept);
only the front is re-simulated with traces for its latency figures. The
threshold policies are searched by default; ``policies=`` adds target tracking
(target utilization, tolerance, scale-in stabilization window) and hybrid
(those and the safety margin).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from core.scaling.config import PRESETS, THRESHOLD_POLICIES, Policy, ScalingConfig, parse_policy
from core.scaling.forecasting import RollingForecaster
from core.scaling.kernel import ScenarioParams, run_kernel
from core.scaling.params import kernel_columns, rule_columns
from core.scaling.simulate import Prepared, SimulationModel, prepare, run_meta, run_scenarios
from core.series import TrafficSeries

__all__ = ["OptimizeResult", "SearchSpace", "knee_point", "optimize", "pareto_front"]

_POLICIES = THRESHOLD_POLICIES
_MARGIN_POLICIES = (Policy.PREDICTIVE, Policy.HYBRID)  # the policies that read the safety margin


@dataclass(frozen=True)
class SearchSpace:
    """Ranges ``(lo, hi)`` sampled uniformly (integers inclusive); ``cooldown_minutes``, ``target_tolerance``
    and ``scale_in_stabilization_minutes`` list the values to choose from.

    Every candidate draws every number; its policy reads those it uses (thresholds, periods,
    cooldown and steps for the threshold policies; target utilization, tolerance and stabilization
    for target tracking and hybrid; the margin for predictive and hybrid).
    """

    scale_out_threshold: tuple[float, float] = (0.50, 0.95)
    scale_in_gap: tuple[float, float] = (0.10, 0.60)  # scale_in = scale_out - gap, floored at 0.02
    scale_out_periods: tuple[int, int] = (1, 6)
    scale_in_periods: tuple[int, int] = (1, 15)
    cooldown_minutes: tuple[float, ...] = (0, 1, 2, 3, 5, 10, 15, 20, 30)
    step_out: tuple[int, int] = (1, 4)
    step_in: tuple[int, int] = (1, 3)
    safety_margin: tuple[float, float] = (0.0, 0.5)
    policies: tuple[Policy, ...] = _POLICIES
    target_utilization: tuple[float, float] = (0.40, 0.90)
    target_tolerance: tuple[float, ...] = (0.1,)  # choices; the HPA's default only, unless widened
    scale_in_stabilization_minutes: tuple[float, ...] = (0, 1, 2, 3, 5, 10, 15, 20, 30)  # choices


def _sample(space: SearchSpace, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` random rules as columns (``core.scaling.params``); the draws' order is part of the seed's meaning
    (the target-tracking numbers are drawn last, so the threshold rules of a seed are those drawn before them)."""
    up = np.round(rng.uniform(*space.scale_out_threshold, n), 2)
    down = np.maximum(np.round(up - rng.uniform(*space.scale_in_gap, n), 2), 0.02)
    pol = np.array(space.policies, dtype=object)[rng.integers(0, len(space.policies), n)]
    margin = np.round(rng.uniform(*space.safety_margin, n), 2)  # read by the predictive policy only
    return dict(
        policy=pol, scale_out_threshold=up, scale_in_threshold=down,
        scale_out_periods=rng.integers(space.scale_out_periods[0], space.scale_out_periods[1] + 1, n),
        scale_in_periods=rng.integers(space.scale_in_periods[0], space.scale_in_periods[1] + 1, n),
        cooldown_minutes=np.asarray(space.cooldown_minutes, float)[rng.integers(0, len(space.cooldown_minutes), n)],
        step_out=rng.integers(space.step_out[0], space.step_out[1] + 1, n),
        step_in=rng.integers(space.step_in[0], space.step_in[1] + 1, n),
        safety_margin=margin,
        target_utilization=np.round(rng.uniform(*space.target_utilization, n), 2),
        target_tolerance=_choice(space.target_tolerance, n, rng),
        scale_in_stabilization_minutes=_choice(space.scale_in_stabilization_minutes, n, rng),
    )


def _choice(values: tuple[float, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(values, float)[rng.integers(0, len(values), n)]


def _presets(default_margin: float, policies: tuple[Policy, ...] = _POLICIES) -> dict[str, np.ndarray]:
    """The preset rules (3 configurations x the policies: 9 by default) as columns, with the model's margin."""
    return rule_columns([(c, p) for c in PRESETS.values() for p in policies], default_margin)


def pareto_front(cost: np.ndarray, sla: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points (minimize both), ordered by cost."""
    order = np.lexsort((sla, cost))
    keep, best = [], np.inf
    for i in order:
        if sla[i] < best - 1e-12:
            keep.append(i)
            best = sla[i]
    return np.asarray(keep, dtype=np.int64)


def knee_point(cost: np.ndarray, sla: np.ndarray) -> int:
    """Position (in the given front order) of the knee: farthest below the chord between the ends.

    Both axes are min-max normalized; with fewer than 3 points, the smallest sum of normalized values.
    """
    c, s = np.asarray(cost, float), np.asarray(sla, float)
    if len(c) == 0:
        raise ValueError("empty front")
    cn = (c - c.min()) / (np.ptp(c) or 1.0)
    sn = (s - s.min()) / (np.ptp(s) or 1.0)
    if len(c) < 3:
        return int(np.argmin(cn + sn))
    # Chord from (0, 1) to (1, 0): distance of (x, y) below it is proportional to 1 - x - y.
    return int(np.argmax(1.0 - cn - sn))


@dataclass
class OptimizeResult:
    front: list[dict]
    knee: dict
    evaluated: int
    seconds: float
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"front": self.front, "knee": self.knee, "evaluated": self.evaluated, "seconds": self.seconds,
                "meta": self.meta}


def optimize(series: TrafficSeries, model: SimulationModel | None = None, *, budget: int = 10_000, start=None,
             end=None, space: SearchSpace | None = None, seed: int = 0, batch: int = 4096,
             forecaster: RollingForecaster | None = None, engine: str = "auto", progress=None,
             policies=None, prep: Prepared | None = None) -> OptimizeResult:
    """Evaluate ``budget`` configurations (the presets first, then random ones) and return the front.

    Args:
        series, model, start, end, forecaster: as for ``simulate``.
        budget: number of configurations to evaluate (>= the presets: 3 x the policies, 9 by default).
        space: the ranges searched.
        policies: the policies searched (names or ``Policy``), replacing ``space.policies``
            (default: the threshold policies; ``tuple(Policy)`` adds target tracking and hybrid).
        seed: random seed (the search is deterministic for a seed).
        batch: configurations per kernel pass.
        engine: kernel engine.
        progress: optional ``progress(done, total)`` over configurations.
        prep: the window already prepared with ``model`` (``start``, ``end`` and ``forecaster`` are then
            unused): a caller that simulates the same window does not compute its forecast twice.

    Returns:
        The Pareto front of cost vs overloaded periods (each with its parameters and
        totals), the knee, how many were evaluated and the wall time.
    """
    space = space or SearchSpace()
    pols = space.policies if policies is None else policies
    space = replace(space, policies=tuple(dict.fromkeys(parse_policy(p) for p in pols)))
    if not space.policies:
        raise ValueError("policies must name at least one policy, e.g. ('balanced', 'target_tracking')")
    n_presets = len(PRESETS) * len(space.policies)
    if int(budget) < n_presets:
        raise ValueError(f"budget must be >= {n_presets} (the presets are always evaluated), got {budget}")
    t0 = time.perf_counter()
    model = model or SimulationModel()
    if prep is None:
        prep = prepare(series, model, start=start, end=end, forecaster=forecaster)
    rng = np.random.default_rng(seed)
    pres = _presets(model.predictive.kernel_margin, space.policies)
    measured = model.predictive.headroom != "margin"
    if measured:  # the headroom is in prep.fcmax already (a quantile of measured errors): no margin to search
        space = replace(space, safety_margin=(0.0, 0.0))
    rnd = _sample(space, int(budget) - n_presets, rng)
    cand = {k: np.concatenate([pres[k], rnd[k]]) for k in pres}
    n = len(cand["policy"])
    cap = model.capacity
    cols = kernel_columns(cand, grid=prep.grid, capacity=cap, init=prep.initial_servers())
    server_periods = np.zeros(n)
    topup = np.zeros(n)
    overloaded = np.zeros(n, np.int64)
    for lo in range(0, n, batch):
        sl = slice(lo, min(n, lo + batch))
        params = ScenarioParams.from_columns({k: v[sl] for k, v in cols.items()}, sl.stop - sl.start)
        kr = run_kernel(prep.demand, prep.include, params, server_cap=prep.server_cap,
                        queue_cap=model.queue.queue_limit_seconds * cap.capacity_per_server_rps, boot_p=prep.boot_p,
                        period_s=prep.grid.period_s, min_billed_s=model.cost.min_billed_seconds, fcmax=prep.fcmax,
                        record=False, engine=engine)
        server_periods[sl], topup[sl], overloaded[sl] = kr.server_periods, kr.topup_s, kr.overloaded
        if progress is not None:
            progress(sl.stop, n)
    n_inc = max(1, int(prep.include.sum()))
    cost = model.cost.cost(server_periods, topup, prep.grid.period_s)
    over_pct = 100.0 * overloaded / n_inc
    idx = pareto_front(cost, over_pct)
    preset_names = [f"{c}/{p.value}" for c in PRESETS for p in space.policies]
    configs = []
    for i in idx:
        configs.append((ScalingConfig(
            name=preset_names[i] if i < n_presets else f"candidate-{int(i)}",
            scale_out_threshold=float(cand["scale_out_threshold"][i]),
            scale_out_periods=int(cand["scale_out_periods"][i]),
            scale_in_threshold=float(cand["scale_in_threshold"][i]),
            scale_in_periods=int(cand["scale_in_periods"][i]), cooldown_minutes=float(cand["cooldown_minutes"][i]),
            step_out=int(cand["step_out"][i]), step_in=int(cand["step_in"][i]),
            target_utilization=float(cand["target_utilization"][i]),
            target_tolerance=float(cand["target_tolerance"][i]),
            scale_in_stabilization_minutes=float(cand["scale_in_stabilization_minutes"][i])), cand["policy"][i],
            float(cand["safety_margin"][i])))
    front = []
    # Re-simulate the front with traces, per distinct safety margin, for its latency figures.
    for cfg, pol, margin in configs:
        p2 = prep
        if pol in _MARGIN_POLICIES and margin != model.predictive.kernel_margin:
            p2 = replace(prep, model=replace(model, predictive=replace(model.predictive, safety_margin=margin)))
        res = run_scenarios(p2, [(cfg, pol)], engine=engine)[0]
        preset = cfg.name
        entry = {"policy": pol.value, **{k: v for k, v in cfg.to_dict().items() if k != "name"},
                 "safety_margin": margin if pol in _MARGIN_POLICIES and not measured else None, "candidate": preset,
                 **res.totals.to_dict()}
        front.append(entry)
    k = knee_point(np.array([f["cost"] for f in front]), np.array([f["overloaded_pct"] for f in front]))
    meta = run_meta(prep)
    meta["presets_included"] = n_presets
    meta["policies"] = [p.value for p in space.policies]
    meta["seed"] = seed
    return OptimizeResult(front=front, knee=front[k], evaluated=n, seconds=time.perf_counter() - t0, meta=meta)
