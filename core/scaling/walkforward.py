"""Walk-forward validation: every scaling recommendation is tuned before a cut and scored after it.

For each fold the candidates are tuned on the training window (the days before the test window) and
simulated on the test window they never saw:

- the presets (3 configurations x every policy: reactive, balanced, predictive, target tracking, hybrid);
- ``tuned (<= L% in training)``: the optimizer's cheapest rule whose overloaded periods on the training
  window stay within L%, for a ladder of levels L (aiming below the SLA leaves room for next week);
- ``static (<= L% in training)``: the smallest fixed fleet that met L% on the training window (what a team
  without autoscaling would run; the recommendation must beat the one sized for the SLA).

:func:`evaluate` simulates every candidate on every fold once; :func:`choose` picks for an SLA from those
figures, so another SLA costs no new simulation (the Scenarios page re-ranks a cached evaluation).

The folds are split in two roles. The candidate is chosen on the *selection* folds (all but the last):
the cheapest, as a multiple of the oracle, whose held-out overloaded periods met the SLA on every selection
fold. (An earlier rule asked for the SLA on average and within one point on each fold; on generated traces
it chose candidates that met it on average by one lucky week and missed it on the next: 2 of 12 final
folds over the SLA, against 0 of 12 with every fold, at 2-6% more cost on those two:
``bench/bench_choice_rule.py``.) The last fold is *final*: the chosen candidate is tuned on the data
before its test window and scored on it, so the figure shown is a held-out result of the whole procedure.
With a single fold the choice rests on the training window alone, and the result says so. The recommended
configuration is the one tuned before the final test window: re-simulating it
(``python -m core simulate --config-json``) on that window gives the final fold's figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd

from core.errors import InputError
from core.scaling.config import PRESETS, Policy, ScalingConfig
from core.scaling.optimize import optimize
from core.scaling.policy_config import to_policy_dict
from core.scaling.policy_forecast import decision_horizon
from core.scaling.simulate import Prepared, SimulationModel, Totals, prepare, run_scenarios
from core.selection import select_model
from core.series import TrafficSeries

__all__ = ["Evaluation", "Fold", "FoldResult", "Recommendation", "choose", "evaluate", "make_folds", "walk_forward"]

_FIXED_POLICIES = tuple(Policy)  # thresholds, target tracking and hybrid
_RULE_KEYS = tuple(f.name for f in fields(ScalingConfig) if f.name != "name")
#: How the predictive policies' forecaster runs in a recommendation (measured on the validation weeks before
#: the NASA test week: weekly refits cost the same as daily ones within 1% at a fifth of the time).
POLICY_REFIT = "weekly"
POLICY_HEADROOM_LEVEL = 95.0
#: Overloaded-period levels (%) the tuned and static candidates are sized for on each training window.
TUNE_LEVELS = (0.1, 0.25, 0.5, 0.75, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class Fold:
    """Train on ``[train_start, test_start)``, score on ``[test_start, test_end)``."""

    train_start: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    role: str  # "selection" or "final"


def make_folds(series: TrafficSeries, *, folds: int | None = None, test_start=None, test_days: float | None = None,
               train_days: float | None = None) -> tuple[list[Fold], str]:
    """The folds over ``series`` and a sentence saying what was used.

    Default: weekly folds (7 test days after 14 training days) over the last four weeks the data allow; for
    data shorter than three weeks, daily folds (1 test day after up to 7 training days).

    Args:
        folds: how many folds (default 4).
        test_start: start of the last fold's test window (default: the data's end minus one test window,
            at midnight); the last fold runs to the end of the data.
        test_days, train_days: window lengths in days.

    Raises:
        InputError: ``folds`` < 1, or data too short for one fold (the message says how much is needed).
    """
    n_folds = 4 if folds is None else int(folds)
    if n_folds < 1:
        raise InputError(f"folds must be >= 1, got {folds}; use 1 for a single train/test split")
    span = series.end - series.start
    weekly = span >= pd.Timedelta(days=21)
    test = pd.Timedelta(days=test_days if test_days is not None else (7 if weekly else 1))
    train = pd.Timedelta(days=train_days if train_days is not None else (14 if weekly else 7))
    if test <= pd.Timedelta(0) or train <= pd.Timedelta(0):
        raise InputError(f"test_days and train_days must be > 0, got {test_days} and {train_days}")
    min_train = min(train, pd.Timedelta(days=1))
    last = series._ts(test_start) if test_start is not None else (series.end - test).normalize()
    if not series.start + min_train <= last < series.end:
        raise InputError(f"the last test window must start after at least {min_train} of data and before the end "
                         f"({series.start} .. {series.end}); got {last}. Give more data or a later --test-start")
    out = []
    for i in range(n_folds):
        t0 = last - i * test
        t1 = series.end if i == 0 else last - (i - 1) * test
        s0 = max(series.start, t0 - train)
        if t0 - s0 < min_train:
            break
        out.append(Fold(s0, t0, t1, "final" if i == 0 else "selection"))
    if not out:
        raise InputError(f"the data ({span}) is too short for one fold: it needs {min_train} of training before "
                         f"a test window; give more data or fewer --folds")
    out.reverse()
    kind = "weekly" if test == pd.Timedelta(days=7) else ("daily" if test == pd.Timedelta(days=1) else f"{test}")
    why = "" if test_days is not None or weekly else " (the data is shorter than three weeks)"
    text = (f"{len(out)} {kind} folds{why}: each tuned on up to {train.days} days before its test window; "
            + (f"the choice is made on the first {len(out) - 1} and scored on the last" if len(out) > 2 else
               "the choice is made on the first and scored on the second") if len(out) > 1 else
            f"1 {kind} fold{why}: the choice rests on its training window only")
    if len(out) < n_folds:
        text += f" (asked for {n_folds}; the data holds {len(out)})"
    return out, text


@dataclass
class Candidate:
    """One scaling rule as tuned on a fold's training window."""

    name: str
    config: ScalingConfig
    policy: Policy
    model: SimulationModel
    in_sample: Totals | None = None
    held_out: Totals | None = None


@dataclass
class FoldResult:
    fold: Fold
    candidates: dict[str, Candidate]
    oracle_cost: float
    oracle_overloaded_pct: float
    in_sample_oracle_cost: float
    cap_binds_periods: int
    forecaster: dict


@dataclass
class Recommendation:
    """What to deploy, why, and how it did on data it was not chosen on."""

    sla_pct: float
    folds: list[FoldResult]
    folds_text: str
    chosen: str | None
    safest: str
    reason: str
    scores: dict[str, dict] = field(default_factory=dict)
    static: str = ""  # the static candidate sized for the SLA (the one to beat)
    forecaster_choice: dict | None = None  # how the predictive policies' forecaster was chosen (walk_forward)

    @property
    def final(self) -> FoldResult:
        return self.folds[-1]

    def recommended(self) -> dict | None:
        """``{"policy", "config"}`` of the chosen candidate as tuned before the final test window."""
        if self.chosen is None:
            return None
        c = self.final.candidates[self.chosen]
        return {"name": self.chosen, **to_policy_dict(c.config, c.policy, c.model)}

    def to_dict(self) -> dict:
        name = self.chosen or self.safest
        folds = []
        for fr in self.folds:
            c = fr.candidates[name]
            folds.append({
                "role": fr.fold.role, "train_start": fr.fold.train_start.isoformat(),
                "train_end": fr.fold.test_start.isoformat(), "test_start": fr.fold.test_start.isoformat(),
                "test_end": fr.fold.test_end.isoformat(), "candidate": name,
                "policy": to_policy_dict(c.config, c.policy, c.model),
                "cost": c.held_out.cost, "oracle_cost": fr.oracle_cost,
                "cost_vs_oracle": c.held_out.cost / fr.oracle_cost if fr.oracle_cost > 0 else None,
                "overloaded_pct": c.held_out.overloaded_pct, "in_sample_cost": c.in_sample.cost,
                "in_sample_overloaded_pct": c.in_sample.overloaded_pct,
                "static_cost": fr.candidates[self.static].held_out.cost,
                "static_overloaded_pct": fr.candidates[self.static].held_out.overloaded_pct,
                "oracle_overloaded_pct": fr.oracle_overloaded_pct, "cap_binds_periods": fr.cap_binds_periods,
            })
        return {"sla_pct": self.sla_pct, "recommended": self.recommended(), "chosen": self.chosen,
                "safest": self.safest, "reason": self.reason, "folds_used": self.folds_text, "folds": folds,
                "candidates": self.scores,
                "forecaster": {**self.final.forecaster, **({"chosen": self.forecaster_choice}
                                                           if self.forecaster_choice else {})}}


def _static_size(prep: Prepared, sla_pct: float) -> tuple[int, Totals]:
    """The smallest fixed fleet whose overloaded periods on ``prep`` stay within ``sla_pct`` (else the cap)."""
    cap = prep.model.capacity

    def totals(n: int) -> Totals:
        m = replace(prep.model, capacity=replace(cap, min_servers=n, max_servers=n, initial_servers=n))
        return run_scenarios(replace(prep, model=m), [(PRESETS["balanced"], Policy.REACTIVE)])[0].totals

    lo, hi = cap.min_servers, cap.max_servers
    best = totals(hi)
    if best.overloaded_pct > sla_pct:
        return hi, best
    while lo < hi:  # overloaded periods never grow with more servers
        mid = (lo + hi) // 2
        t = totals(mid)
        if t.overloaded_pct <= sla_pct:
            hi, best = mid, t
        else:
            lo = mid + 1
    return hi, best


def _level(level: float) -> str:
    return f"{level:g}%"


def _tuned(series: TrafficSeries, train: Prepared, levels, budget: int,
           seed: int) -> dict[str, tuple[ScalingConfig, Policy, SimulationModel]]:
    """The optimizer's cheapest rule within each level of overloaded periods on the training window ``train``."""
    model = train.model
    front = optimize(series, model, budget=budget, seed=seed, policies=_FIXED_POLICIES, prep=train).front
    out = {}
    for level in levels:
        ok = [f for f in front if f["overloaded_pct"] <= level]
        f = min(ok, key=lambda e: e["cost"]) if ok else min(front, key=lambda e: e["overloaded_pct"])
        cfg = ScalingConfig(name=f"tuned-{level:g}", **{k: f[k] for k in _RULE_KEYS if k in f})
        m = model if f["safety_margin"] is None else replace(
            model, predictive=replace(model.predictive, safety_margin=f["safety_margin"]))
        out[f"tuned (<= {_level(level)} in training)"] = (cfg, Policy(f["policy"]), m)
    return out


def _simulate(prep: Prepared, cands: dict[str, Candidate], attr: str) -> None:
    """Fill ``attr`` (in_sample / held_out) of every candidate on ``prep``."""
    for n, r in simulate_candidates(prep, cands).items():
        setattr(cands[n], attr, r.totals)


def tune_candidates(series: TrafficSeries, train: Prepared, levels, budget: int = 2000,
                    seed: int = 0) -> dict[str, Candidate]:
    """Every candidate as tuned on the training window ``train`` (presets, tuned rules, static fleets)."""
    model = train.model
    cands = {f"{c}/{p.value}": Candidate(f"{c}/{p.value}", cfg, p, model)
             for c, cfg in PRESETS.items() for p in _FIXED_POLICIES}
    for name, (cfg, pol, m) in _tuned(series, train, levels, budget, seed).items():
        cands[name] = Candidate(name, cfg, pol, m)
    for level in levels:
        n, _ = _static_size(train, level)
        static_model = replace(model, capacity=replace(model.capacity, min_servers=n, max_servers=n,
                                                       initial_servers=n))
        name = f"static (<= {_level(level)} in training)"
        cands[name] = Candidate(name, replace(PRESETS["balanced"], name=f"static-{n}"), Policy.REACTIVE, static_model)
    return cands


def simulate_candidates(prep: Prepared, cands: dict[str, Candidate], *, timelines: bool = False) -> dict:
    """``{name: ScenarioResult}`` of every candidate on ``prep``, one kernel pass per simulation model."""
    groups: dict[SimulationModel, list[str]] = {}
    for name, c in cands.items():
        groups.setdefault(c.model, []).append(name)
    out = {}
    for model, names in groups.items():
        p = prep if model == prep.model else replace(prep, model=model)
        res = run_scenarios(p, [(cands[n].config, cands[n].policy) for n in names], timelines=timelines)
        out.update(zip(names, res, strict=True))
    return out


def _fold(series: TrafficSeries, model: SimulationModel, fold: Fold, levels, budget: int,
          seed: int) -> FoldResult:
    train = prepare(series, model, start=fold.train_start, end=fold.test_start)
    cands = tune_candidates(series, train, levels, budget, seed)
    _simulate(train, cands, "in_sample")
    test = prepare(series, model, start=fold.test_start, end=fold.test_end)
    _simulate(test, cands, "held_out")
    oracle = {r.name: r for r in run_scenarios(test, [], baselines=True)}["oracle"].totals
    oracle_in = {r.name: r for r in run_scenarios(train, [], baselines=True)}["oracle"].totals
    info = {"name": test.forecaster, "horizon_periods": test.horizon_periods, **test.forecast_info}
    return FoldResult(fold, cands, oracle.cost, oracle.overloaded_pct, oracle_in.cost, test.cap_binds_periods, info)


def _score(folds: list[FoldResult], sla_pct: float) -> dict[str, dict]:
    """Per candidate: mean held-out overloaded % and cost / oracle over the selection folds, and whether it held
    the SLA on every one of them.

    With one fold there is nothing held out to choose on: the training window's figures are used.
    """
    sel = [f for f in folds if f.fold.role == "selection"]
    attr = "held_out" if sel else "in_sample"
    sel = sel or folds
    out = {}
    for name in folds[-1].candidates:
        over = [getattr(f.candidates[name], attr).overloaded_pct for f in sel]
        ratio = [getattr(f.candidates[name], attr).cost / (f.oracle_cost if attr == "held_out" else
                                                           f.in_sample_oracle_cost) for f in sel]
        ratio = [r if math.isfinite(r) else float("inf") for r in ratio]
        out[name] = {"mean_overloaded_pct": float(np.mean(over)), "max_overloaded_pct": float(np.max(over)),
                     "mean_cost_vs_oracle": float(np.mean(ratio)),
                     "held": bool(max(over) <= sla_pct),
                     "scored_on": attr.replace("_", "-")}
    return out


def _why_impossible(folds: list[FoldResult], model: SimulationModel, sla_pct: float) -> str:
    binds = [f for f in folds if f.oracle_overloaded_pct > sla_pct]
    if binds:
        worst = max(binds, key=lambda f: f.oracle_overloaded_pct)
        return (f"max_servers {model.capacity.max_servers} binds: even the oracle, which knows the future, is "
                f"overloaded {worst.oracle_overloaded_pct:.2f}% of the test window starting "
                f"{worst.fold.test_start:%Y-%m-%d}; raise max_servers or the capacity per server")
    return (f"the boot delay of {model.capacity.boot_delay_minutes:g} min lets bursts through before new servers "
            "serve; a shorter boot delay, a higher minimum fleet or a looser SLA would")


@dataclass
class Evaluation:
    """Every candidate simulated on every fold, tuned before and scored after each cut."""

    folds: list[FoldResult]
    folds_text: str
    levels: tuple[float, ...]
    model: SimulationModel
    forecaster_choice: dict | None = None  # how the predictive policies' forecaster was chosen, if it was


def evaluate(series: TrafficSeries, model: SimulationModel | None = None, *, levels=TUNE_LEVELS,
             folds: int | None = None, test_start=None, test_days: float | None = None,
             train_days: float | None = None, budget: int = 2000, seed: int = 0, forecaster: str = "spec",
             progress=None) -> Evaluation:
    """Tune the candidates on each fold's training window and simulate them on its test window.

    Args:
        series: the traffic at the simulated granularity (all of it: history feeds the forecasts).
        model: servers, billing and predictive settings.
        levels: overloaded-period levels (%) the tuned and static candidates are sized for.
        folds, test_start, test_days, train_days: see :func:`make_folds`.
        budget: configurations the optimizer evaluates per fold (>= 9).
        seed: the optimizer's seed.
        forecaster: ``"auto"``: the predictive policies run :func:`policy_model`'s forecaster (recorded in
            ``forecaster_choice``); ``"spec"``: exactly ``model.predictive`` as given.
        progress: ``progress(done, total)`` per fold.

    Raises:
        InputError: folds < 1, data too short for one fold, or an unknown forecaster.
    """
    if forecaster not in ("auto", "spec"):
        raise InputError(f"forecaster must be 'auto' or 'spec', got {forecaster!r}")
    chosen_by = None
    if forecaster == "auto":
        model, chosen_by = policy_model(series, model, folds=folds, test_start=test_start, test_days=test_days,
                                        train_days=train_days)
    model = model or SimulationModel()
    fold_list, text = make_folds(series, folds=folds, test_start=test_start, test_days=test_days,
                                 train_days=train_days)
    levels = tuple(sorted({float(v) for v in levels}))
    results = []
    for i, f in enumerate(fold_list):
        results.append(_fold(series, model, f, levels, int(budget), seed))
        if progress is not None:
            progress(i + 1, len(fold_list))
    return Evaluation(results, text, levels, model, forecaster_choice=chosen_by)


def _check_sla(sla_pct) -> float:
    if isinstance(sla_pct, bool) or not isinstance(sla_pct, (int, float)) or not 0 <= sla_pct <= 100:
        raise InputError(f"sla_pct must be within 0-100 (percent of overloaded periods), got {sla_pct}")
    return float(sla_pct)


def choose(ev: Evaluation, sla_pct: float) -> Recommendation:
    """The cheapest candidate that held ``sla_pct`` on the selection folds, and its final fold (see module doc)."""
    sla_pct = _check_sla(sla_pct)
    results, model = ev.folds, ev.model
    scores = _score(results, sla_pct)
    static_level = max([v for v in ev.levels if v <= sla_pct] or [min(ev.levels)])
    static_name = f"static (<= {_level(static_level)} in training)"
    held = [n for n, s in scores.items() if s["held"]]
    safest = min(scores, key=lambda n: (scores[n]["max_overloaded_pct"], scores[n]["mean_overloaded_pct"],
                                        scores[n]["mean_cost_vs_oracle"]))
    final = results[-1]
    basis = ("each of the selection folds' held-out windows" if scores[safest]["scored_on"] == "held-out"
             else "the training window only (one fold: nothing was held out to choose on)")
    if held:
        chosen = min(held, key=lambda n: scores[n]["mean_cost_vs_oracle"])
        c, sc = final.candidates[chosen].held_out, scores[chosen]
        static = final.candidates[static_name].held_out
        reason = (f"{chosen} is the cheapest candidate that met {sla_pct:g}% overloaded periods on {basis} "
                  f"(at most {sc['max_overloaded_pct']:.2f}%, {sc['mean_overloaded_pct']:.2f}% on average, "
                  f"{sc['mean_cost_vs_oracle']:.2f}x the oracle). "
                  f"Tuned before {final.fold.test_start:%Y-%m-%d} and run on "
                  f"{final.fold.test_start:%Y-%m-%d} .. {final.fold.test_end:%Y-%m-%d}, which no choice saw: "
                  f"${c.cost:,.2f}, {c.overloaded_pct:.2f}% overloaded"
                  + (f", {c.cost / final.oracle_cost:.2f}x the oracle" if final.oracle_cost > 0 else "")
                  + f" (a fixed fleet sized on the training window for {static_level:g}%: ${static.cost:,.2f}, "
                    f"{static.overloaded_pct:.2f}% overloaded).")
    else:
        chosen = None
        s = scores[safest]
        reason = (f"No policy met {sla_pct:g}% overloaded periods on {basis}; the safest was {safest} at "
                  f"{s['max_overloaded_pct']:.2f}% at worst, {s['mean_overloaded_pct']:.2f}% on average "
                  f"({s['mean_cost_vs_oracle']:.2f}x the oracle). "
                  f"Why: {_why_impossible(results, model, sla_pct)}.")
    return Recommendation(sla_pct=sla_pct, folds=results, folds_text=ev.folds_text, chosen=chosen, safest=safest,
                          reason=reason, scores=scores, static=static_name, forecaster_choice=ev.forecaster_choice)


def policy_model(series: TrafficSeries, model: SimulationModel | None = None, *, folds: int | None = None,
                 test_start=None, test_days: float | None = None,
                 train_days: float | None = None) -> tuple[SimulationModel, dict]:
    """``model`` with the predictive policy's forecaster as a deployment would run it, and what was chosen.

    The model is chosen by a rolling backtest at the decision horizon (boot delay + buffer) on the week
    before the *earliest* test window (:func:`core.selection.select_model`, ``use="policy"``), refitted
    every week on the data before each Monday, and its headroom is the 95% quantile of its own recent errors
    at that horizon: the same forecaster in tuning, held-out scoring and the final simulation.
    """
    model = model or SimulationModel()
    fold_list, _ = make_folds(series, folds=folds, test_start=test_start, test_days=test_days,
                              train_days=train_days)
    k = decision_horizon(model.capacity, model.predictive, series.interval)
    cut = fold_list[0].test_start
    # Score on up to a week before the earliest test window, leaving at least as much before it to fit on.
    eval_days = min(7.0, (cut - series.start) / pd.Timedelta(days=1) / 2)
    name, selection = model.predictive.forecast_model, None
    if eval_days >= 1:
        sel = select_model(series, k, use="policy", cut=cut, refit=POLICY_REFIT, eval_days=eval_days)
        name = sel.model
        scores = dict(sel.scores)
        window = scores.pop("_window")
        selection = {"eval_start": window["eval_start"], "cut": window["cut"], "scores": scores,
                     "reason": sel.reason}
    spec = replace(model.predictive, forecast_model=name, refit=POLICY_REFIT, headroom="quantile",
                   headroom_level=POLICY_HEADROOM_LEVEL)
    info = {"model": name, "horizon_periods": k, "refit": POLICY_REFIT,
            "headroom": f"{POLICY_HEADROOM_LEVEL:g}% quantile of its recent errors",
            "selection": selection or {"reason": f"less than two days before {cut:%Y-%m-%d} to choose on: "
                                                 f"{name} (with its short-history fallback) runs"}}
    return replace(model, predictive=spec), info


def walk_forward(series: TrafficSeries, model: SimulationModel | None = None, *, sla_pct: float = 1.0,
                 folds: int | None = None, test_start=None, test_days: float | None = None,
                 train_days: float | None = None, budget: int = 2000, seed: int = 0, forecaster: str = "auto",
                 progress=None) -> Recommendation:
    """Recommend a scaling policy by walk-forward validation: :func:`evaluate` (with the SLA among the
    levels) then :func:`choose`.

    Args:
        forecaster: ``"auto"`` (default): the predictive policies run :func:`policy_model`'s forecaster;
            ``"spec"``: exactly ``model.predictive`` as given.

    Raises:
        InputError: an SLA outside 0-100, folds < 1, data too short for one fold, or an unknown forecaster.
    """
    sla_pct = _check_sla(sla_pct)
    ev = evaluate(series, model, levels=(*TUNE_LEVELS, sla_pct), folds=folds, test_start=test_start,
                  test_days=test_days, train_days=train_days, budget=budget, seed=seed, forecaster=forecaster,
                  progress=progress)
    return choose(ev, sla_pct)
