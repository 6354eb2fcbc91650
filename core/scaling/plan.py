"""Plan ahead: what the next hours to 30 days will cost under each policy, with cost and risk bands.

From an origin (default: the end of the data) the plan

1. chooses the policy by walk-forward validation on the data before the origin
   (:func:`core.scaling.walkforward.evaluate` + ``choose``) and re-tunes the candidates on the 14 days
   just before the origin, as a team deploying today would;
2. fits the model with the sharpest calibrated intervals at the plan's horizon (up to a day ahead;
   :func:`_path_model`) on all data before the origin and draws sample paths of the next ``horizon``
   (:meth:`core.forecast.base.Forecaster.sample_paths`: each step's marginal is the calibrated interval's
   distribution; a Gaussian copula with a day-level factor and an AR(1) step process, both measured on the
   calibration window's errors, keeps busy days busy and quiet weeks quiet); for horizons of a day or more,
   each path's level is then spread as far as the traffic's level has moved from one week to the next in
   the history, with Student-t tails for a spread measured on few weeks (:func:`level_spread`): the
   14-day calibration window cannot see week-to-week shifts;
3. simulates on every path the recommended policy, the best target-tracking preset and the static fleet
   sized for the SLA, and reports per policy the cost p10/p50/p90, the probability of missing the SLA, the
   expected overloaded periods, the peak servers and an hourly server schedule (p50 and p90 of each hour's
   peak), which can become scheduled scaling actions for known peaks;
4. when the data covers the horizon (a plan made at a past origin), simulates the same policies on the
   traffic that actually came and sets the realized cost and overloaded periods against the bands.

Inside the plan the predictive policy's model is fitted once, at the origin's warm-up start: its weekly
refit would otherwise refit on each sampled path. The backtest runs it the same way, so plan and reality
are compared like for like.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.base import make_model, parse_horizon
from core.scaling.policy_config import to_policy_dict
from core.scaling.policy_forecast import PolicyForecaster
from core.scaling.simulate import SimulationModel, prepare
from core.scaling.walkforward import (
    TUNE_LEVELS,
    Candidate,
    _check_sla,
    choose,
    evaluate,
    simulate_candidates,
    tune_candidates,
)
from core.selection import select_model
from core.series import TrafficSeries

__all__ = ["CapacityPlan", "PolicyPlan", "plan"]

MIN_HORIZON = pd.Timedelta(hours=1)
MAX_HORIZON = pd.Timedelta(days=30)
MIN_PATHS, MAX_PATHS = 10, 5000
#: History the origin needs: two weeks to tune on and fit the forecast.
MIN_HISTORY = pd.Timedelta(days=14)
#: Days before the origin the candidates are re-tuned on.
TUNE_DAYS = 14
_QUANTILES = (5, 10, 50, 90, 95)


@dataclass
class PolicyPlan:
    """One policy's figures over the sample paths (and, in a backtest, on the real traffic)."""

    name: str  # the candidate's name, e.g. "tuned (<= 0.5% in training)" or "balanced/target_tracking"
    role: str  # "recommended", "target tracking" or "static"
    policy: dict  # the deployable {"policy", "config"} as re-tuned before the origin
    cost: dict  # {"p10", "p50", "p90", "mean"} in $
    p_sla_miss: float  # share of paths whose overloaded periods exceed the SLA
    overloaded_pct_expected: float  # mean over paths
    overloaded_pct: dict  # {"p50", "p90"}
    peak_servers: int  # p90 over paths of the peak
    peak_servers_p50: int
    schedule: list[dict]  # [{"hour", "servers_p50", "servers_p90"}]
    realized: dict | None = None  # {"cost", "overloaded_pct", "peak_servers", "cost_in_band"} in a backtest

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d.update(policy=self.policy["policy"], config=self.policy["config"])
        return d


@dataclass
class CapacityPlan:
    """A capacity plan from ``origin`` over ``horizon`` (see the module docstring)."""

    origin: pd.Timestamp
    end: pd.Timestamp
    horizon: str
    granularity_minutes: float
    sla_pct: float
    paths: int
    seed: int
    recommended: str  # name of the recommended policy (a PolicyPlan.name)
    reason: str
    policies: list[PolicyPlan]
    forecast: dict  # model, how the paths were drawn, the fan (timestamps, mean, quantiles)
    walk_forward: dict  # the held-out choice behind the recommendation
    backtest: dict | None = None
    seconds: dict = field(default_factory=dict)

    def policy(self, name: str) -> PolicyPlan:
        return next(p for p in self.policies if p.name == name)

    def to_dict(self, arrays: bool = True) -> dict:
        fc = dict(self.forecast)
        if not arrays:
            fc.pop("fan", None)
        return {"origin": self.origin.isoformat(), "end": self.end.isoformat(), "horizon": self.horizon,
                "granularity_minutes": self.granularity_minutes, "sla_pct": self.sla_pct, "paths": self.paths,
                "seed": self.seed, "recommended": self.recommended, "reason": self.reason,
                "policies": [p.to_dict() for p in self.policies], "forecast": fc,
                "walk_forward": self.walk_forward, "backtest": self.backtest, "seconds": self.seconds}


def _horizon(horizon, interval: pd.Timedelta) -> tuple[int, pd.Timedelta]:
    try:
        steps = parse_horizon(horizon, interval)
    except InputError as exc:
        raise InputError(f"horizon: {exc}") from None
    span = steps * interval
    if not MIN_HORIZON <= span <= MAX_HORIZON:
        raise InputError(f"horizon must be between 1 hour and 30 days, got {horizon!r} ({span}); "
                         "e.g. --horizon 7d")
    return steps, span


def _origin(series: TrafficSeries, origin) -> pd.Timestamp:
    if origin is None:
        return series.end
    try:
        ts = series._ts(origin)
    except (ValueError, TypeError):
        raise InputError(f"origin {origin!r} is not a timestamp; e.g. --origin 1995-08-23") from None
    if ts > series.end:
        raise InputError(f"origin {origin!r} is after the data's end {series.end}; plan from the end (no --origin)")
    # Snap to the grid: the first period starting at or after the origin.
    pos = int(series.index.searchsorted(ts, side="left"))
    ts = series.index[pos] if pos < len(series) else series.end
    if ts - series.start < MIN_HISTORY:
        raise InputError(f"origin {origin!r} leaves {ts - series.start} of history before it; a plan needs "
                         f"{MIN_HISTORY.days} days to tune and fit on: choose an origin on or after "
                         f"{(series.start + MIN_HISTORY):%Y-%m-%d %H:%M}")
    return ts


def _q(values: np.ndarray, qs=(10, 50, 90)) -> dict:
    return {f"p{q}": float(v) for q, v in zip(qs, np.percentile(values, qs), strict=True)}


def _plan_policies(rec, cands: dict[str, Candidate]) -> dict[str, tuple[str, Candidate]]:
    """The planned policies: ``{name: (role, candidate)}`` (recommended, best target tracking, static)."""
    scores = rec.scores
    chosen = rec.chosen or rec.safest
    tt = [n for n in scores if n.endswith("/target_tracking")]
    held = [n for n in tt if scores[n]["held"]]
    best_tt = (min(held, key=lambda n: scores[n]["mean_cost_vs_oracle"]) if held else
               min(tt, key=lambda n: (scores[n]["mean_overloaded_pct"], scores[n]["mean_cost_vs_oracle"])))
    out = {chosen: ("recommended", cands[chosen])}
    out.setdefault(best_tt, ("target tracking", cands[best_tt]))
    out.setdefault(rec.static, ("static", cands[rec.static]))
    return out


def _path_model(history: TrafficSeries, steps: int):
    """The model with the narrowest calibrated interval at the plan's horizon (:func:`core.selection.select_model`,
    ``use="forecast"``), fitted with its intervals on all of ``history``, and how it was chosen. (The predictive
    policy's model is chosen at its decision horizon, minutes ahead; there the seasonal naive can win, but
    its paths carry last week's noise on top of this week's.)"""
    choice = select_model(history, steps, use="forecast")
    fm = choice.fitted or make_model(choice.model, calibrate=True).fit(history)
    return fm, {"model": choice.model, "scores": choice.scores, "reason": choice.reason}


#: Fewest week-over-week volume changes :func:`level_spread` measures a spread on.
MIN_LEVEL_PAIRS = 3


def level_spread(history: TrafficSeries, span: pd.Timedelta) -> dict:
    """How far the traffic volume of a window like the plan's moved from one week to the next in ``history``.

    The volume of every run of ``d = min(ceil(span in days), 7)`` whole days (days with more than 10% of
    periods missing are left out) against the same run a week earlier; ``sigma`` is the root mean square of
    the log ratios (no drift assumed). A horizon under a day gets ``sigma`` 0: the calibrated intervals
    already hold there, and the level is anchored by the latest data.

    ``dof``: the number of independent comparisons behind ``sigma`` (``pairs / d``: runs a day apart
    overlap by ``d - 1`` days; at least 1). A scale measured on a few weeks is itself uncertain: the next
    week's log ratio is Student-t with ``dof`` degrees of freedom, not normal (the predictive distribution
    of a new observation when the scale is estimated from ``dof`` zero-mean ones). ``sigma_80`` is the
    normal spread with that t's 10%-90% range, which the plan's cost band reports: on 18 days of history
    (1 degree of freedom) 2.4 ``sigma``, on seven weeks (3) 1.3 ``sigma``.
    """
    if span < pd.Timedelta(days=1):
        return {"sigma": 0.0, "sigma_80": 0.0, "dof": 0.0, "pairs": 0, "window_days": 0,
                "why": "the horizon is under a day"}
    d = min(int(math.ceil(span / pd.Timedelta(days=1))), 7)
    y = pd.Series(np.where(history.gap_mask(), np.nan, history.requests), index=history.index)
    per_day = y.resample("1D")
    daily = per_day.sum().where(per_day.count() >= 0.9 * per_day.size().max())
    vol = daily.rolling(d).sum()  # NaN when any day of the run is missing or incomplete
    ratio = np.log(vol / vol.shift(7)).replace([np.inf, -np.inf], np.nan).dropna()
    if len(ratio) < MIN_LEVEL_PAIRS:
        return {"sigma": 0.0, "sigma_80": 0.0, "dof": 0.0, "pairs": int(len(ratio)), "window_days": d,
                "why": f"fewer than {MIN_LEVEL_PAIRS} whole {d}-day runs a week apart in the history"}
    from scipy.stats import norm, t  # imported here: scipy.stats is slow to import

    sigma = float(np.sqrt(np.mean(ratio.to_numpy() ** 2)))
    dof = max(1.0, len(ratio) / d)
    return {"sigma": sigma, "pairs": int(len(ratio)), "window_days": d, "dof": dof,
            "sigma_80": sigma * float(t.ppf(0.9, dof) / norm.ppf(0.9))}


def _spread_levels(sample: np.ndarray, level: dict, seed: int) -> dict:
    """Scale each path of ``sample`` (in place) by a lognormal level factor so that the spread of the paths'
    log volume is at least ``level["sigma_80"]`` (:func:`level_spread`); returns ``level`` with the spread
    before and the factor's."""
    tot = sample.sum(axis=1)
    before = float(np.std(np.log(tot[tot > 0]))) if (tot > 0).sum() > 1 else 0.0
    extra = math.sqrt(max(level["sigma_80"] ** 2 - before**2, 0.0))
    if extra > 0:
        z = np.random.default_rng([int(seed), 7]).standard_normal(sample.shape[0])
        sample *= np.exp(extra * z)[:, None]
    return {**level, "paths_sigma_before": before, "added_sigma": extra}


def _hour_blocks(index: pd.DatetimeIndex) -> tuple[np.ndarray, pd.DatetimeIndex]:
    """Start positions of each clock hour in ``index`` and the hours."""
    hours = index.floor("h")
    starts = np.flatnonzero(np.r_[True, hours[1:] != hours[:-1]])
    return starts, hours[starts]


def _series_with(history: TrafficSeries, idx: pd.DatetimeIndex, values: np.ndarray) -> TrafficSeries:
    frame = pd.DataFrame({"requests": np.concatenate([history.requests, values])},
                         index=history.index.append(idx))
    return TrafficSeries(frame, history.interval, gaps=history.gaps)


def plan(series: TrafficSeries, model: SimulationModel | None = None, *, horizon="7d", origin=None,
         sla_pct: float = 1.0, paths: int = 200, seed: int = 0, folds: int | None = None, budget: int = 2000,
         forecaster: str = "auto", progress=None) -> CapacityPlan:
    """A capacity plan from ``origin`` (default: the end of the data) over ``horizon``.

    Args:
        series: the traffic at the planned granularity (all of it; with a past origin the data after it is
            only read by the backtest).
        model: servers, billing and predictive settings.
        horizon: steps or a duration ("1h" .. "30d").
        origin: the plan's first period (default: the end of the data); needs 14 days of history before it.
        sla_pct: the SLA, % of overloaded periods.
        paths: sample paths (10 .. 5000).
        seed: seed of the paths and the optimizer.
        folds, budget, forecaster: of the walk-forward behind the recommendation
            (:func:`core.scaling.walkforward.evaluate`; ``"auto"`` chooses the predictive policy's model by
            backtest, ``"spec"`` runs ``model.predictive`` as given). The plan's paths come from that model.
        progress: ``progress(done, total)``.

    Raises:
        InputError: a horizon outside 1 hour .. 30 days, paths outside 10 .. 5000, an origin after the data or
            with less than 14 days of history, or an SLA outside 0-100 (each message says the fix).
    """
    t_all = time.perf_counter()
    interval = series.interval
    steps, span = _horizon(horizon, interval)
    if isinstance(paths, bool) or not isinstance(paths, (int, np.integer)) or not MIN_PATHS <= paths <= MAX_PATHS:
        raise InputError(f"paths must be an integer within {MIN_PATHS}-{MAX_PATHS}, got {paths!r}; "
                         "200 gives bands stable to a few percent")
    _check_sla(sla_pct)
    t0 = _origin(series, origin)
    history = series.window(None, t0)
    idx = pd.date_range(t0, periods=steps, freq=interval)
    end = idx[-1] + interval
    total = int(paths) + 4
    done = 0

    def tick(n: int = 1) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(min(done, total), total)

    seconds = {}
    # 1. The held-out choice on the data before the origin, then every candidate re-tuned just before it.
    t = time.perf_counter()
    ev = evaluate(history, model, levels=(*TUNE_LEVELS, float(sla_pct)), folds=folds, budget=budget, seed=seed,
                  forecaster=forecaster)
    rec = choose(ev, sla_pct)
    base = ev.model
    train = prepare(history, base, start=max(history.start, t0 - pd.Timedelta(days=TUNE_DAYS)), end=t0)
    cands = tune_candidates(history, train, ev.levels, budget, seed)
    planned = _plan_policies(rec, cands)
    seconds["recommend"] = round(time.perf_counter() - t, 2)
    tick()

    # 2. The forecast's sample paths.
    t = time.perf_counter()
    spec = base.predictive
    fm, choice = _path_model(history, steps)
    name = fm.name
    sample = fm.sample_paths(steps, n=int(paths), seed=seed)
    level = _spread_levels(sample, level_spread(history, span), seed)
    mean = fm.predict(steps, level=None)["mean"]
    seconds["forecast"] = round(time.perf_counter() - t, 2)
    tick()

    # 3. Every planned policy on every path.
    t = time.perf_counter()
    warm = spec.headroom_days if spec.headroom == "quantile" else 0.0

    def forecaster() -> PolicyForecaster:
        return PolicyForecaster(spec.forecast_model, start=series.start, window_start=t0, window_end=end,
                                refit="once", warmup_days=warm, min_history_days=spec.min_history_days)

    sel = {n: c for n, (_, c) in planned.items()}
    starts, hours = _hour_blocks(idx)
    cost = {n: np.empty(paths) for n in sel}
    over = {n: np.empty(paths) for n in sel}
    peak = {n: np.empty(paths) for n in sel}
    hourly = {n: np.empty((paths, len(starts))) for n in sel}
    for i in range(int(paths)):
        sp = _series_with(history, idx, sample[i])
        prep = prepare(sp, base, start=t0, forecaster=forecaster(), check_forecast=False)
        for n, r in simulate_candidates(prep, sel, timelines=True).items():
            cost[n][i], over[n][i], peak[n][i] = r.totals.cost, r.totals.overloaded_pct, r.totals.peak_servers
            hourly[n][i] = np.maximum.reduceat(r.timeline["servers"].to_numpy(), starts)
        tick()
    seconds["paths"] = round(time.perf_counter() - t, 2)

    policies = []
    for n, (role, c) in planned.items():
        h50, h90 = np.percentile(hourly[n], [50, 90], axis=0)
        policies.append(PolicyPlan(
            name=n, role=role, policy=to_policy_dict(c.config, c.policy, c.model),
            cost={**_q(cost[n]), "mean": float(cost[n].mean())},
            p_sla_miss=float(np.mean(over[n] > sla_pct)), overloaded_pct_expected=float(over[n].mean()),
            overloaded_pct=_q(over[n], (50, 90)), peak_servers=int(math.ceil(np.percentile(peak[n], 90))),
            peak_servers_p50=int(math.ceil(np.percentile(peak[n], 50))),
            schedule=[{"hour": h.isoformat(), "servers_p50": int(math.ceil(a)), "servers_p90": int(math.ceil(b))}
                      for h, a, b in zip(hours, h50, h90, strict=True)]))

    # 4. The plan against what came, when the data covers the horizon.
    backtest = None
    t = time.perf_counter()
    if end <= series.end:
        prep = prepare(series, base, start=t0, end=end, forecaster=forecaster())
        real = simulate_candidates(prep, sel)
        for p in policies:
            tot = real[p.name].totals
            p.realized = {"cost": tot.cost, "overloaded_pct": tot.overloaded_pct, "peak_servers": tot.peak_servers,
                          "cost_in_band": bool(p.cost["p10"] <= tot.cost <= p.cost["p90"])}
        actual = np.where(series.gap_mask(), np.nan, series.requests)[
            series.index.searchsorted(t0): series.index.searchsorted(t0) + steps]
        ok = ~np.isnan(actual)
        backtest = {"realized_cost": {p.name: p.realized["cost"] for p in policies},
                    "realized_overloaded_pct": {p.name: p.realized["overloaded_pct"] for p in policies},
                    "cost_in_band": {p.name: p.realized["cost_in_band"] for p in policies},
                    "actual_requests": float(actual[ok].sum()),
                    "planned_requests": _q(sample[:, ok].sum(axis=1)),
                    "excluded_periods": int((~prep.include).sum())}
    elif t0 < series.end:
        backtest = {"reason": f"the data covers {series.end - t0} of the {span} horizon: no backtest"}
    seconds["backtest"] = round(time.perf_counter() - t, 2)
    tick(2)

    chosen = next(p for p in policies if p.role == "recommended")
    fan_q = np.percentile(sample, _QUANTILES, axis=0)
    forecast = {
        "model": name, "fit_until": t0.isoformat(), "paths": int(paths),
        "how": ("sample paths of the calibrated predictive distribution: each step's marginal is the conformal "
                "interval's; a Gaussian copula with a day-level factor (share "
                f"{fm.calibrator_.day_share:.2f}, day-to-day correlation {fm.calibrator_.day_correlation:.2f}) "
                f"and AR(1) steps (correlation {fm.calibrator_.step_correlation:.2f}) measured on the "
                "calibration window's errors" + _level_text(level)),
        "level": level,
        "chosen_by": choice,
        "policy_forecaster": rec.forecaster_choice,
        "fan": {"timestamps": [t.isoformat() for t in idx], "mean": mean,
                **{f"p{q}": fan_q[i] for i, q in enumerate(_QUANTILES)}},
    }
    span_txt = _span_text(span)
    held = rec.final.candidates[chosen.name].held_out
    reason = (f"{chosen.name}: {'chosen' if rec.chosen else 'no policy met the SLA on held-out weeks; the safest'} "
              f"by walk-forward validation before {t0:%Y-%m-%d %H:%M} (held-out week "
              f"{rec.final.fold.test_start:%m-%d}..{rec.final.fold.test_end:%m-%d}: ${held.cost:,.2f}, "
              f"{held.overloaded_pct:.2f}% overloaded). Over the next {span_txt} it costs "
              f"${chosen.cost['p50']:,.0f} (p10-p90 ${chosen.cost['p10']:,.0f}-${chosen.cost['p90']:,.0f}) with a "
              f"{100 * chosen.p_sla_miss:.0f}% chance of exceeding {sla_pct:g}% overloaded periods.")
    if backtest and "realized_cost" in backtest:
        r = chosen.realized
        reason += (f" The plan made on {t0:%m-%d} predicted ${chosen.cost['p50']:,.0f}, p10-p90 "
                   f"${chosen.cost['p10']:,.0f}-${chosen.cost['p90']:,.0f}; the real {span_txt} cost "
                   f"${r['cost']:,.0f}, overloaded {r['overloaded_pct']:.2f}%.")
    seconds["total"] = round(time.perf_counter() - t_all, 2)
    wf = rec.to_dict()
    return CapacityPlan(origin=t0, end=end, horizon=span_txt, granularity_minutes=series.interval_minutes,
                        sla_pct=float(sla_pct), paths=int(paths), seed=int(seed), recommended=chosen.name,
                        reason=reason, policies=policies, forecast=forecast,
                        walk_forward={k: wf[k] for k in ("chosen", "safest", "reason", "folds_used", "recommended")},
                        backtest=backtest, seconds=seconds)


def _level_text(level: dict) -> str:
    if level["sigma"] <= 0:
        return f"; no level spread added ({level['why']})"
    if level["added_sigma"] <= 0:
        return (f"; the paths' volumes already spread as far ({level['paths_sigma_before']:.3f} in log) as "
                f"{level['window_days']}-day volumes moved week over week in the history ({level['sigma']:.3f}, "
                f"{level['sigma_80']:.3f} with the uncertainty of a spread measured on {level['dof']:.1f} weeks)")
    return (f"; each path's level then scaled by a lognormal factor (sigma {level['added_sigma']:.3f}) so its "
            f"volume spreads as far as {level['window_days']}-day volumes moved week over week in the history "
            f"(root mean square of {level['pairs']} log ratios: {level['sigma']:.3f}, widened to "
            f"{level['sigma_80']:.3f}, a Student-t's 10%-90% range, as only {level['dof']:.1f} independent weekly "
            f"changes measured it; the paths alone spread {level['paths_sigma_before']:.3f})")


def _span_text(span: pd.Timedelta) -> str:
    days = span / pd.Timedelta(days=1)
    if days >= 1 and float(days).is_integer():
        return f"{int(days)} day{'s' if days != 1 else ''}"
    hours = span / pd.Timedelta(hours=1)
    return f"{hours:g} hour{'s' if hours != 1 else ''}"
