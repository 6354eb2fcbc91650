"""What each page exports, computed exactly as the page computes it.

Each exporter parses the page's query string with :mod:`dashapp.state`, resolves it with the page's own
``resolve(parsed, store, rc)``, and reads the same cached results through :mod:`dashapp.services`, so a
download made after viewing the page is a cache hit and shows the same numbers. A page module may
override its exporter by defining ``export_bundle(query)`` itself.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pandas as pd

from core.errors import InputError
from core.scaling.recommend import recommend
from core.scaling.walkforward import choose
from core.store import DatasetStore
from dashapp import services
from dashapp import state as st
from dashapp.figures import (
    forecast_figure,
    label_gaps,
    matrix_figure,
    pareto_figure,
    simulation_figure,
    traffic_figure,
    whatif_figure,
)
from dashapp.runtime.backends import results
from dashapp.runtime.settings import current_settings
from dashapp.web.exports import ExportBundle

__all__ = ["PAGE_EXPORTERS", "POLICY_EXPORTERS", "page_module"]


def page_module(name: str):
    """The page module Dash loaded (by its short name); importing it again would register the page twice."""
    import dash

    for entry in dash.page_registry.values():
        module = sys.modules.get(entry.get("module", ""))
        if module is not None and module.__name__.rsplit(".", 1)[-1] == name:
            return module
    return None


def _context(page: str, query: dict):
    parsed = st.parse_query(page, query)
    settings = current_settings()
    rc = results(settings)
    module = page_module(page)
    ctx = module.resolve(parsed, DatasetStore(settings.data_dir), rc)
    return ctx, rc, parsed


def _head(ctx, parsed) -> dict:
    return {"page": parsed.page, "query": parsed.search(), "dataset": {"id": ctx.dataset.id, "name": ctx.dataset.name,
            "synthetic": ctx.dataset.synthetic}, "granularity_minutes": ctx.minutes, "warnings": list(parsed.warnings)}


def _notes(ctx, parsed) -> list[str]:
    kind = "synthetic (the built-in demo)" if ctx.dataset.synthetic else "real"
    return [f"Dataset {ctx.dataset.name} ({kind}), {ctx.minutes}-minute periods.",
            f"Page query: {parsed.search() or '(defaults)'}", *parsed.warnings]


def history_bundle(query: dict) -> ExportBundle:
    ctx, rc, parsed = _context("history", query)
    with rc:
        v = parsed.values
        w = ctx.series.window(ctx.lo, ctx.hi)
        sim = services.simulation_result(rc, ctx.dataset.id, ctx.series, v["config"], v["policy"], ctx.model,
                                         ctx.lo, ctx.hi)
    tl = sim.scenario.timeline
    frame = w.frame.join(tl.drop(columns=["demand"], errors="ignore"), how="left")
    gaps = label_gaps([g.to_dict() for g in w.gaps], services.event_list(ctx.lo, ctx.hi, ctx.dataset.events))
    values = services.metric_values(w, v["metric"])
    summary = {**_head(ctx, parsed), "window": {"start": ctx.lo.isoformat(), "end": ctx.hi.isoformat()},
               "scenario": sim.scenario.to_dict(), "static_peak": sim.baselines["static_peak"].totals.to_dict(),
               "savings_vs_static_peak": sim.savings["vs_static_peak"], "cost_report": sim.to_dict(),
               "meta": sim.meta, "gaps": gaps}
    figures = {f"Traffic ({v['metric']})": traffic_figure(w.index, values, v["metric"], gaps, rate=ctx.rate).figure,
               f"Simulation: {v['config']} / {v['policy']}": simulation_figure(tl, gaps, rate=ctx.rate).figure}
    return ExportBundle(title=f"History: {ctx.dataset.name}, {v['config']}/{v['policy']}",
                        filename=f"history-{ctx.dataset.id}", frame=frame, summary=summary, figures=figures,
                        notes=_notes(ctx, parsed))


def forecast_bundle(query: dict) -> ExportBundle:
    ctx, rc, parsed = _context("forecast", query)
    v = parsed.values
    with rc:
        bundle, tested = page_module("forecast").forecast_results(ctx, rc)
    frame = bundle.to_frame()
    if "actual" not in frame:
        frame["actual"] = np.nan
    summary = {**_head(ctx, parsed), "model": bundle.model, "label": bundle.label, "target": bundle.target,
               "origin": ctx.origin.isoformat(), "steps": ctx.steps, "levels": bundle.levels,
               "backtest": (tested or bundle).backtest, "notes": bundle.notes, "forecast": bundle.to_dict(arrays=False),
               "backtest_forecast": None if tested is None else tested.to_dict(arrays=False)}
    figures = {f"Forecast ({bundle.label})": forecast_figure(bundle, unit=v["unit"])}
    if tested is not None:  # a forecast from the end of the data: its model scored on the last week
        figures[f"Backtest ({tested.label}, trained before {tested.origin:%Y-%m-%d %H:%M})"] = forecast_figure(
            tested, unit=v["unit"])
    return ExportBundle(title=f"Forecast: {ctx.dataset.name}, {bundle.label}",
                        filename=f"forecast-{ctx.dataset.id}-{v['model']}", frame=frame, summary=summary,
                        figures=figures, notes=_notes(ctx, parsed) + list(bundle.notes))


def scenarios_bundle(query: dict) -> ExportBundle:
    ctx, rc, parsed = _context("scenarios", query)
    v = parsed.values
    with rc:
        res = services.scenarios_result(rc, ctx.dataset.id, ctx.series, ctx.model, ctx.lo, ctx.hi, v["budget"])
        try:
            ev = services.walkforward_result(rc, ctx.dataset.id, ctx.series, ctx.model)
        except InputError:
            ev = None  # too short for a held-out check
    matrix, front = res["matrix"], res["front"]
    md = matrix.to_dict()
    rec = recommend(matrix, sla_target_pct=v["sla"], cost_weight=v["weight"])
    rows = {r.name: {"kind": r.kind, **r.totals.to_dict()} for r in [*matrix.scenarios, *matrix.baselines.values()]}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "scenario"
    summary = {**_head(ctx, parsed), "window": {"start": ctx.lo.isoformat(), "end": ctx.hi.isoformat()},
               "held_out_recommendation": None if ev is None else choose(ev, 1.0 if v["sla"] is None else v["sla"]
                                                                         ).to_dict(),
               "in_sample_recommendation": rec.to_dict(), "recommendation": rec.to_dict(), "matrix": md,
               "optimizer": front.to_dict()}
    figures = {"Configurations x policies": matrix_figure(md),
               "Pareto front of cost vs overloaded periods": pareto_figure(
                   front.front, front.knee, md["scenarios"],
                   {k: b for k, b in md["baselines"].items() if k != "static_mean"})}
    return ExportBundle(title=f"Scenarios: {ctx.dataset.name}", filename=f"scenarios-{ctx.dataset.id}",
                        frame=frame, summary=summary, figures=figures,
                        notes=[*([] if ev is None else [summary["held_out_recommendation"]["reason"]]),
                               f"In-sample on the window shown: {rec.reason}", *_notes(ctx, parsed)])


def what_if_bundle(query: dict) -> ExportBundle:
    ctx, rc, parsed = _context("what_if", query)
    v = parsed.values
    with rc:
        res = services.whatif_result(rc, ctx.dataset.id, ctx.series, v["config"], v["policy"], ctx.transform,
                                     ctx.overrides, ctx.lo, ctx.hi)
    base, scen = res.baseline.timeline, res.scenario.timeline
    frame = base.add_prefix("baseline_").join(scen.add_prefix("scenario_"), how="outer")
    summary = {**_head(ctx, parsed), **res.to_dict()}
    return ExportBundle(title=f"What-if: {ctx.dataset.name}, {v['config']}/{v['policy']}",
                        filename=f"what-if-{ctx.dataset.id}", frame=frame, summary=summary,
                        figures={"Baseline vs scenario": whatif_figure(base, scen, rate=ctx.rate).figure},
                        notes=_notes(ctx, parsed))


def plan_bundle(query: dict) -> ExportBundle:
    ctx, rc, parsed = _context("plan", query)
    module = page_module("plan")
    with rc:
        plan = module.plan_of(ctx, rc)
    d = plan.to_dict()
    fan = d["forecast"]["fan"]
    frame = pd.DataFrame({k: v for k, v in fan.items() if k != "timestamps"},
                         index=pd.DatetimeIndex(pd.to_datetime(fan["timestamps"]), name="timestamp"))
    for p in plan.policies:  # each policy's hourly schedule beside the fan, at the hour's first period
        sched = pd.DataFrame(p.schedule).set_index("hour")
        sched.index = pd.DatetimeIndex(pd.to_datetime(sched.index))
        for col in ("servers_p50", "servers_p90"):
            frame[f"{p.role.replace(' ', '_')}_{col}"] = sched[col].reindex(frame.index)
    figs = module.figures(ctx, plan)
    summary = {**_head(ctx, parsed), **{k: v for k, v in d.items() if k != "forecast"},
               "forecast": {k: v for k, v in d["forecast"].items() if k != "fan"}}
    return ExportBundle(title=f"Plan: {ctx.dataset.name}, {plan.horizon} from {plan.origin:%Y-%m-%d %H:%M}",
                        filename=f"plan-{ctx.dataset.id}", frame=frame, summary=summary,
                        figures={"Forecast fan": figs["fan"], "Cost over the horizon": figs["costs"],
                                 "Server schedule": figs["schedule"]},
                        notes=[plan.reason, d["forecast"]["how"], *_notes(ctx, parsed)])


def plan_policy_export(query: dict, fmt: str):
    """The plan's recommended policy (re-tuned at the plan's origin) as autoscaler configuration, its p90 hourly
    schedule as scheduled actions (aws) or cron triggers (keda): ``core.scaling.deploy.export_policy``."""
    from core.scaling.deploy import export_policy

    ctx, rc, parsed = _context("plan", query)
    with rc:
        plan = page_module("plan").plan_of(ctx, rc)
    chosen = plan.policy(plan.recommended)
    return export_policy({"name": chosen.name, **chosen.policy}, fmt, interval_minutes=ctx.minutes,
                         schedule=chosen.schedule)


#: Page -> exporter of its chosen policy as autoscaler configuration (``/export/<page>/<hpa|keda|aws>``).
POLICY_EXPORTERS = {"plan": plan_policy_export}

#: Page (URL name or module name) -> exporter.
PAGE_EXPORTERS: dict[str, Callable[[dict], ExportBundle]] = {
    "history": history_bundle, "forecast": forecast_bundle, "scenarios": scenarios_bundle,
    "what_if": what_if_bundle, "what-if": what_if_bundle, "plan": plan_bundle,
}
