"""Simulate scaling configurations x policies (and the baselines) over a traffic series."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from core.scaling.baselines import BaselineSpec, OraclePlan, oracle_need, oracle_plan, static_count
from core.scaling.config import (
    CapacityModel,
    CostModel,
    Grid,
    Policy,
    PredictiveSpec,
    QueueModel,
    ScalingConfig,
    get_preset,
    parse_policy,
)
from core.scaling.elasticity import demanded_servers, elasticity
from core.scaling.forecasting import (
    RollingForecaster,
    SeasonalNaiveRolling,
    forecast_leakage_check,
    honest_forecast,
    window_max,
)
from core.scaling.headroom import QuantileHeadroom
from core.scaling.kernel import MODE_HPA, MODE_SCHEDULE, ScenarioParams, run_kernel
from core.scaling.params import kernel_columns, rule_columns
from core.scaling.policy_forecast import PolicyForecaster, decision_horizon
from core.scaling.queueing import response_times
from core.series import TrafficSeries

__all__ = [
    "BASELINES",
    "Prepared",
    "ScenarioResult",
    "SimulationModel",
    "Totals",
    "default_forecaster",
    "prepare",
    "run_scenarios",
    "simulate",
    "threshold_row",
]

BASELINES = ("static_peak", "static_mean", "target_tracking", "oracle")


@dataclass(frozen=True)
class SimulationModel:
    """Everything but the scaling rule: servers, billing, queue, predictive and baseline settings."""

    capacity: CapacityModel = field(default_factory=CapacityModel)
    cost: CostModel = field(default_factory=CostModel)
    queue: QueueModel = field(default_factory=QueueModel)
    predictive: PredictiveSpec = field(default_factory=PredictiveSpec)
    baselines: BaselineSpec = field(default_factory=BaselineSpec)

    def with_overrides(self, *, price_per_server_hour: float | None = None,
                       capacity_per_server_rps: float | None = None, min_servers: int | None = None,
                       max_servers: int | None = None, boot_delay_minutes: float | None = None) -> SimulationModel:
        """A copy with the given values replaced (None keeps the current one); validated."""
        cap = {k: v for k, v in dict(capacity_per_server_rps=capacity_per_server_rps, min_servers=min_servers,
                                     max_servers=max_servers, boot_delay_minutes=boot_delay_minutes).items()
               if v is not None}
        model = replace(self, capacity=replace(self.capacity, **cap))
        if price_per_server_hour is not None:
            model = replace(model, cost=replace(model.cost, price_per_server_hour=price_per_server_hour))
        return model

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Prepared:
    """A simulation window with its demand, gap mask and honest forecast."""

    index: pd.DatetimeIndex
    demand: np.ndarray  # NaN where no data
    include: np.ndarray  # False inside gaps / no data
    grid: Grid
    model: SimulationModel
    fcmax: np.ndarray  # what the predictive policy provisions for at each decision
    horizon_periods: int
    forecaster: str
    forecast_info: dict = field(default_factory=dict)  # what the default forecaster used (model, fit point)

    @property
    def server_cap(self) -> float:
        return self.grid.server_capacity(self.model.capacity)

    @property
    def boot_p(self) -> int:
        return self.grid.boot_periods(self.model.capacity)

    @property
    def queue_cap(self) -> float:
        """Backlog limit per ready server, in requests."""
        return self.model.queue.queue_limit_seconds * self.model.capacity.capacity_per_server_rps

    @property
    def excluded_periods(self) -> int:
        return int((~self.include).sum())

    def oracle_plan(self) -> OraclePlan:
        """The oracle's schedule over this window (``core.scaling.baselines.oracle_plan``)."""
        cap = self.model.capacity
        return oracle_plan(self.demand, self.include, self.server_cap, self.queue_cap, self.boot_p,
                           cap.min_servers, cap.max_servers)

    @property
    def cap_binds_periods(self) -> int:
        """Included periods whose demand + backlog exceed what ``max_servers`` serve: the oracle's overloaded
        periods (see ``core.scaling.baselines.OraclePlan.cap_binds``)."""
        cap = self.model.capacity
        _, binds = oracle_need(self.demand, self.server_cap, self.queue_cap, cap.min_servers, cap.max_servers)
        return int((binds & self.include).sum())

    def initial_servers(self) -> int:
        cap = self.model.capacity
        if cap.initial_servers is not None:
            return cap.initial_servers
        d0 = float(np.nan_to_num(self.demand[0])) if len(self.demand) else 0.0
        return int(np.clip(math.ceil(d0 / (self.server_cap * 0.7) - 1e-9), cap.min_servers, cap.max_servers))


def prepare(series: TrafficSeries, model: SimulationModel | None = None, *, start=None, end=None,
            forecaster: RollingForecaster | None = None, check_forecast: bool = True) -> Prepared:
    """Cut the window ``[start, end)`` and compute the predictive policy's honest forecast.

    The forecaster sees the whole series (history before ``start`` included, gap
    periods as NaN) and is checked for leakage by perturbing the values after two
    points inside the window; see ``core.scaling.forecasting``. Without a
    forecaster, ``model.predictive.forecast_model`` is fitted on the history
    before the window (:func:`default_forecaster`). With
    ``model.predictive.headroom == "quantile"`` the forecaster (given or default) is
    wrapped in ``core.scaling.headroom.QuantileHeadroom``, so ``fcmax`` is the window
    max of forecast + the quantile of its measured errors, and the leakage check covers both.
    """
    model = model or SimulationModel()
    idx = series.index
    lo = 0 if start is None else int(idx.searchsorted(series._ts(start), side="left"))
    hi = len(idx) if end is None else int(idx.searchsorted(series._ts(end), side="left"))
    if hi <= lo:
        raise ValueError(f"window {start} .. {end} holds no periods; the series covers {series.start} .. {series.end}")
    grid = Grid(series.interval.total_seconds())
    values = series.requests
    gaps = series.gap_mask()
    hist = np.where(gaps, np.nan, values)
    spec = model.predictive
    k = decision_horizon(model.capacity, spec, series.interval)
    if forecaster is None:
        forecaster = default_forecaster(series, model, start=idx[lo], end=idx[hi] if hi < len(idx) else None)
    if spec.headroom == "quantile":
        forecaster = QuantileHeadroom(forecaster, level=spec.headroom_level, days=spec.headroom_days)
    # Perturb inside the window: a forecast fitted on the simulated periods moves, an honest one does not.
    cuts = {lo + (hi - lo) // 2, lo + (3 * (hi - lo)) // 4}
    fc = honest_forecast(forecaster, hist, k, series.interval, check=False)
    # What ran, read before the check calls the forecaster again on perturbed, shorter values.
    info = forecaster.describe() if hasattr(forecaster, "describe") else None
    head = _headroom_info(forecaster, lo, hi) if spec.headroom == "quantile" else None
    if check_forecast:
        forecast_leakage_check(forecaster, hist, k, series.interval, fc, cuts=cuts)
    fcmax = window_max(fc, k)[lo:hi]
    name = getattr(forecaster, "name", type(forecaster).__name__)
    prep = Prepared(index=idx[lo:hi], demand=values[lo:hi], include=~gaps[lo:hi], grid=grid, model=model,
                    fcmax=fcmax, horizon_periods=k, forecaster=name)
    if info is not None:
        # Deterministic fields only: results are cached and compared across runs.
        keys = ("model", "fit_until", "refit", "refits", "first_fit", "last_fit", "fallback", "reason")
        prep.forecast_info = {key: info[key] for key in keys if key in info}
        if head is not None:
            prep.forecast_info["headroom"] = {**info.get("headroom", {}), **head}
        prep.forecaster = info.get("model", name)  # "seasonal_naive" when the model could not be fitted
    return prep


def _headroom_info(forecaster: QuantileHeadroom, lo: int, hi: int) -> dict:
    """How much the quantile headroom added over the window's forecasts, and where it fell back to the margin."""
    point, head, fb = forecaster.point_, forecaster.headroom_, forecaster.fallback_
    sl = slice(lo, hi)
    ok = ~np.isnan(point[sl]) & ~np.isnan(head[sl])
    mean_fc = float(np.mean(point[sl][ok])) if ok.any() else None
    mean_head = float(np.mean(head[sl][ok])) if ok.any() else None
    return {"mean_forecast": mean_fc, "mean_headroom": mean_head,
            "headroom_pct_of_forecast": 100.0 * mean_head / mean_fc if mean_fc else None,
            "fallback_periods": int(fb[sl].sum())}


def default_forecaster(series: TrafficSeries, model: SimulationModel | None = None, *, start=None, end=None,
                       cache=None, dataset_id: str | None = None) -> RollingForecaster:
    """The predictive policy's forecaster when none is given: ``model.predictive.forecast_model``.

    With ``refit="once"`` and the margin headroom (the defaults), a registry model (default
    Fourier+ARMA) is fitted once on the periods before ``start`` (at least ``min_history_days``
    of them; seasonal naive before that point) and reused through ``cache`` (a
    ``core.forecast.cache.ModelCache``, keyed by ``dataset_id`` and the training data) and an
    in-process memo. ``"seasonal_naive"`` fits nothing. Otherwise it is a
    ``core.scaling.policy_forecast.PolicyForecaster`` on the model's refit schedule over
    ``[start, end)``, forecasting also the ``headroom_days`` before ``start`` when the headroom is
    the quantile of its errors (those errors set it at the window's start).

    Raises:
        ValueError: an unknown model name, listing the known ones.
    """
    spec = (model or SimulationModel()).predictive
    if spec.refit != "once" or spec.headroom != "margin":
        warmup = spec.headroom_days if spec.headroom == "quantile" else 0.0
        try:
            return PolicyForecaster(spec.forecast_model, start=series.start, window_start=start, window_end=end,
                                    refit=spec.refit, warmup_days=warmup, min_history_days=spec.min_history_days,
                                    cache=cache, dataset_id=dataset_id)
        except ValueError as exc:
            raise ValueError(f"predictive.forecast_model: {exc}") from None
    if spec.forecast_model == "seasonal_naive" and cache is None:
        return SeasonalNaiveRolling()
    # Too short to fit anything after min_history_days: the seasonal naive, no model to build.
    lo = 0 if start is None else int(series.index.searchsorted(series._ts(start), side="left"))
    need = math.ceil(pd.Timedelta(days=spec.min_history_days) / series.interval - 1e-9)
    if max(lo, need) >= len(series) - 1:
        return SeasonalNaiveRolling()
    from core.errors import InputError
    from core.forecast.rolling import ModelForecaster

    try:
        return ModelForecaster(spec.forecast_model, start=series.start, fit_until=start,
                               min_history_days=spec.min_history_days, cache=cache, dataset_id=dataset_id)
    except InputError as exc:
        raise ValueError(f"predictive.forecast_model: {exc}") from None


def threshold_row(config: ScalingConfig, policy: Policy, prep: Prepared, *, safety_margin: float | None = None) -> dict:
    """Kernel parameters of one configuration x policy, any policy (the mapping is
    :func:`core.scaling.params.kernel_columns`).

    Args:
        config: the configuration's numbers.
        policy: how the policy uses them.
        prep: the simulation window (grid, server bounds, initial servers).
        safety_margin: the predictive and hybrid margin (default: the model's ``kernel_margin``, 0 under
            the quantile headroom).

    Returns:
        ``{ScenarioParams field: value}`` for ``ScenarioParams.from_rows``.
    """
    margin = prep.model.predictive.kernel_margin if safety_margin is None else safety_margin
    cols = kernel_columns(rule_columns([(config, policy)], margin), grid=prep.grid,
                          capacity=prep.model.capacity, init=prep.initial_servers())
    return {k: v[0].item() for k, v in cols.items()}


def _baseline_rows(prep: Prepared) -> tuple[list[dict], np.ndarray, OraclePlan]:
    cap, bs = prep.model.capacity, prep.model.baselines
    lo, hi = cap.min_servers, cap.max_servers
    peak = static_count(prep.demand, prep.include, prep.server_cap, 1.0, "peak", lo, hi)
    mean = static_count(prep.demand, prep.include, prep.server_cap, bs.static_mean_utilization, "mean", lo, hi)
    plan = prep.oracle_plan()
    oracle = plan.servers
    schedules = np.column_stack([np.full(len(oracle), peak), np.full(len(oracle), mean), oracle])
    stab = prep.grid.stabilization_periods(bs.hpa_stabilization_minutes)
    common = dict(min_s=lo, max_s=hi)
    rows = [
        dict(mode=MODE_SCHEDULE, sched_col=0, init=peak, **common),
        dict(mode=MODE_SCHEDULE, sched_col=1, init=mean, **common),
        dict(mode=MODE_HPA, hpa_target=bs.hpa_target, hpa_tol=bs.hpa_tolerance, stab_p=stab,
             init=prep.initial_servers(), **common),
        dict(mode=MODE_SCHEDULE, sched_col=2, init=int(oracle[0]) if len(oracle) else lo, **common),
    ]
    return rows, schedules, plan


@dataclass
class Totals:
    """Cost, SLA and elasticity figures of one scenario over the included (non-gap) periods.

    The elasticity metrics (SPEC RG; ``core.scaling.elasticity``) compare ready servers with the
    servers the demand needs: ``accuracy_under/over_pct`` (θ_U, θ_O: mean relative shortage / excess),
    ``timeshare_under/over_pct`` (τ_U, τ_O: % of periods short / in excess) and ``instability_pct``
    (υ: % of steps where supply does not move the way demand does). None where undefined.
    """

    cost: float
    server_hours: float
    overloaded_periods: int
    overloaded_pct: float
    dropped_requests: float
    dropped_pct: float
    p95_latency_s: float | None  # mean over periods of the per-period p95
    mean_latency_s: float | None
    p95_over_target_periods: int | None
    p95_over_target_pct: float | None
    scaling_actions: int
    peak_servers: int
    mean_servers: float
    periods: int
    excluded_periods: int
    accuracy_under_pct: float | None = None
    accuracy_over_pct: float | None = None
    timeshare_under_pct: float | None = None
    timeshare_over_pct: float | None = None
    instability_pct: float | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


@dataclass
class ScenarioResult:
    """One simulated scenario: a configuration x policy, or a baseline."""

    name: str
    kind: str  # "policy" or "baseline"
    config: str | None
    policy: str | None
    totals: Totals
    timeline: pd.DataFrame | None = field(default=None, repr=False)
    meta: dict = field(default_factory=dict)

    def to_dict(self, timeline: bool = False) -> dict:
        out = {"name": self.name, "kind": self.kind, "config": self.config, "policy": self.policy,
               **self.totals.to_dict()}
        if self.meta:
            out["meta"] = self.meta
        if timeline and self.timeline is not None:
            tl = self.timeline.reset_index()
            tl["timestamp"] = tl["timestamp"].map(pd.Timestamp.isoformat)
            out["timeline"] = {c: [None if isinstance(v, float) and not math.isfinite(v) else v
                                   for v in tl[c].tolist()] for c in tl.columns}
        return out


def _summaries(kr, prep: Prepared, latency: tuple[np.ndarray, np.ndarray] | None) -> list[Totals]:
    inc = prep.include
    n_inc = int(inc.sum())
    dem = float(np.nansum(np.where(inc, prep.demand, 0.0)))
    billing = prep.model.cost
    server_hours = billing.server_hours(kr.server_periods, kr.topup_s, prep.grid.period_s)
    cost = billing.cost(kr.server_periods, kr.topup_s, prep.grid.period_s)
    target = prep.model.queue.p95_target(prep.model.capacity)
    need = demanded_servers(prep.demand, prep.server_cap, prep.model.queue.elasticity_utilization)
    elastic = elasticity(kr.ready, need, inc)  # [S] arrays, one pass over every scenario
    out = []
    for s in range(len(kr.server_periods)):
        if latency is not None and n_inc:
            mean_l, p95_l = latency[0][inc, s], latency[1][inc, s]
            p95m, meanm = float(p95_l.mean()), float(mean_l.mean())
            over = int((p95_l > target).sum())
            over_pct = 100.0 * over / n_inc
        else:
            p95m = meanm = over_pct = None
            over = None
        out.append(Totals(
            cost=float(cost[s]), server_hours=float(server_hours[s]), overloaded_periods=int(kr.overloaded[s]),
            overloaded_pct=100.0 * float(kr.overloaded[s]) / n_inc if n_inc else 0.0,
            dropped_requests=float(kr.dropped[s]), dropped_pct=100.0 * float(kr.dropped[s]) / dem if dem else 0.0,
            p95_latency_s=p95m, mean_latency_s=meanm, p95_over_target_periods=over, p95_over_target_pct=over_pct,
            scaling_actions=int(kr.actions[s]), peak_servers=int(kr.peak[s]),
            mean_servers=float(kr.server_periods[s]) / n_inc if n_inc else 0.0, periods=len(prep.demand),
            excluded_periods=prep.excluded_periods,
            **{k: (float(v[s]) if math.isfinite(v[s]) else None) for k, v in elastic.items()},
        ))
    return out


def _timeline(kr, s: int, prep: Prepared, latency) -> pd.DataFrame:
    cap = kr.ready[:, s] * prep.server_cap
    return pd.DataFrame({
        "demand": prep.demand, "servers": kr.total[:, s], "ready_servers": kr.ready[:, s], "capacity": cap,
        "work": kr.work[:, s], "served": kr.served[:, s], "backlog": kr.backlog[:, s], "dropped": kr.dropped_t[:, s],
        "utilization": kr.served[:, s] / cap, "mean_latency_s": latency[0][:, s], "p95_latency_s": latency[1][:, s],
        "overloaded": kr.work[:, s] > cap * (1 + 1e-9) + 1e-9, "scaling_delta": kr.delta[:, s],
        "excluded": ~prep.include,
    }, index=pd.Index(prep.index, name="timestamp"))


def run_scenarios(prep: Prepared, scenarios: list[tuple[ScalingConfig, Policy]], *, baselines: bool = False,
                  timelines: bool = False, engine: str = "auto", progress=None) -> list[ScenarioResult]:
    """Simulate each (config, policy) and optionally the four baselines, in one kernel pass."""
    rows = [threshold_row(c, p, prep) for c, p in scenarios]
    names = [(f"{c.name}/{p.value}", "policy", c.name, p.value) for c, p in scenarios]
    schedules = None
    metas = [{} for _ in rows]
    if baselines:
        brow, schedules, plan = _baseline_rows(prep)
        rows += brow
        names += [(b, "baseline", None, None) for b in BASELINES]
        metas += [{} for _ in brow]
        # The oracle's overloaded periods are exactly those: a page can say why it is not zero.
        metas[-1] = {"cap_binds_periods": plan.binding_periods(prep.include)}
    params = ScenarioParams.from_rows(rows)
    cap, q = prep.model.capacity, prep.model.queue
    kr = run_kernel(prep.demand, prep.include, params, server_cap=prep.server_cap,
                    queue_cap=prep.queue_cap, boot_p=prep.boot_p,
                    period_s=prep.grid.period_s, min_billed_s=prep.model.cost.min_billed_seconds, fcmax=prep.fcmax,
                    schedules=schedules, record=True, engine=engine, progress=progress)
    latency = response_times(kr.work, kr.ready, kr.backlog, mu=cap.capacity_per_server_rps,
                             period_s=prep.grid.period_s, queue_limit_s=q.queue_limit_seconds, engine=engine)
    totals = _summaries(kr, prep, latency)
    return [ScenarioResult(name=n, kind=kind, config=c, policy=p, totals=t,
                           timeline=_timeline(kr, s, prep, latency) if timelines else None, meta=meta)
            for s, ((n, kind, c, p), t, meta) in enumerate(zip(names, totals, metas, strict=True))]


def simulate(series: TrafficSeries, config: str | ScalingConfig = "balanced", policy: str | Policy = "balanced",
             model: SimulationModel | None = None, *, start=None, end=None,
             forecaster: RollingForecaster | None = None, timeline: bool = True, engine: str = "auto",
             progress=None) -> ScenarioResult:
    """Simulate one configuration x policy over ``[start, end)`` of ``series``.

    Args:
        series: the traffic; periods before ``start`` serve as forecast history.
        config: preset name or a ScalingConfig.
        policy: a ``Policy`` name (``core.registry.policy_names()``): "reactive", "balanced",
            "predictive", "target_tracking" or "hybrid".
        model: servers, billing, queue and predictive settings (defaults if None).
        start, end: the simulated window (end exclusive).
        forecaster: rolling forecaster for the predictive and hybrid policies (default: the model's
            ``predictive.forecast_model``).
        timeline: keep the per-period timeline.
        engine: kernel engine ("auto", "numba", "numpy").
        progress: optional ``progress(done, total)``.

    Returns:
        The scenario's totals (and timeline), with ``meta`` describing the run.

    Raises:
        ValueError: bad preset, policy or parameter, naming the value and the fix.
    """
    cfg, pol = get_preset(config), parse_policy(policy)
    prep = prepare(series, model, start=start, end=end, forecaster=forecaster)
    res = run_scenarios(prep, [(cfg, pol)], timelines=timeline, engine=engine, progress=progress)[0]
    res.meta = run_meta(prep)
    return res


def run_meta(prep: Prepared) -> dict:
    """What a reader needs to interpret the numbers (window, grid, exclusions, model)."""
    return {
        "start": prep.index[0].isoformat() if len(prep.index) else None,
        "end": (prep.index[-1] + pd.Timedelta(seconds=prep.grid.period_s)).isoformat() if len(prep.index) else None,
        "granularity_s": prep.grid.period_s,
        "periods": len(prep.index),
        "excluded_periods": prep.excluded_periods,
        "excluded_note": "periods inside gaps/outages (or without data) are simulated with demand 0 "
                         "and left out of cost and SLA statistics",
        "boot_delay_periods": prep.boot_p,
        # Where demand + backlog exceed what max_servers serve: why even the oracle is overloaded.
        "cap_binds_periods": prep.cap_binds_periods,
        "forecast": {"name": prep.forecaster, "horizon_periods": prep.horizon_periods, **prep.forecast_info},
        "p95_target_s": prep.model.queue.p95_target(prep.model.capacity),
        "model": prep.model.to_dict(),
    }
