"""Plan: what the next hours to 30 days will cost under each policy, from the end of the data (or a past origin,
where the plan is set against the traffic that came). The recommended policy (walk-forward), the best
target-tracking preset and the static fleet sized for the SLA are simulated on sample paths of the forecast:
cost p10/p50/p90, the chance of missing the SLA, the hourly server schedule. One background job
(``core.scaling.plan``)."""

from dataclasses import dataclass

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import dcc, html

from core.scaling import SimulationModel
from core.scaling.plan import MIN_HISTORY, MIN_HORIZON
from core.store import DatasetStore
from dashapp import ids, services
from dashapp import state as st
from dashapp.components.job import register_job
from dashapp.components.layout import control_panel, fmt_num, kpi_row, safe_layout, table
from dashapp.components.page import job_page, load_view
from dashapp.components.page import serve as serve_page
from dashapp.components.urlsync import register_url_writer
from dashapp.figures import Rate, plan_cost_figure, plan_fan_figure, plan_schedule_figure
from dashapp.runtime.backends import results
from dashapp.runtime.result_cache import ResultCache
from dashapp.runtime.settings import current_settings

PAGE = "plan"
TITLE = "Plan"
CTX = f"{PAGE}-ctx"
#: History shown before the origin on the fan chart.
HISTORY_DAYS = 7

PARAMS = (
    st.DATASET, st.granularity("15"),
    st.Param("horizon", "horizon", "7d", label="Horizon", placeholder="1h .. 30d, e.g. 7d"),
    st.Param("origin", "time", label="Origin", placeholder="(the end of the data)",
             help="empty: plan the future; a past origin sets the plan against the traffic that came"),
    st.Param("sla", "float", 1.0, 0.0, 100.0, label="SLA (% overloaded periods)"),
    st.Param("paths", "int", 200, 10, 5000, label="Sample paths"),
    *st.SERVERS, st.UNIT,
)

dash.register_page(__name__, path="/plan", name=TITLE, title="Plan · Traffic workbench", order=5, params=PARAMS)


@dataclass
class Context:
    parsed: st.Parsed
    dataset: services.Dataset
    minutes: int
    series: object
    model: SimulationModel
    origin: pd.Timestamp | None  # None: the end of the data
    horizon: str


def _horizon(parsed: st.Parsed, interval: pd.Timedelta) -> str:
    steps = st.resolve_horizon(parsed, interval)
    if steps * interval < MIN_HORIZON:
        parsed.warn(f"horizon {st.shown(parsed.values['horizon'])} ignored: a plan covers at least 1 hour; "
                    "using 1d.")
        parsed.values["horizon"] = "1d"
    return parsed.values["horizon"]


def _origin(parsed: st.Parsed, series) -> pd.Timestamp | None:
    v = parsed.values.get("origin")
    if v is None:
        return None
    t = st.resolve_origin(parsed, series.start, series.end, series.interval)
    if parsed.values.get("origin") is None:  # resolve_origin warned and fell back to the end
        return None
    if t - series.start < MIN_HISTORY:
        parsed.warn(f"origin {v} leaves less than {MIN_HISTORY.days} days of history to tune and fit on; planning "
                    f"from the end of the data ({st.format_time(series.end)}).")
        parsed.values["origin"] = None
        return None
    return t


def resolve(parsed: st.Parsed, store: DatasetStore, rc: ResultCache) -> Context:
    ds, minutes, series = load_view(parsed, store, rc)
    return Context(parsed, ds, minutes, series, st.sim_model(parsed), _origin(parsed, series),
                   _horizon(parsed, series.interval))


def plan_of(ctx: Context, rc: ResultCache, progress=None, cached_only: bool = False):
    v = ctx.parsed.values
    return services.plan_result(rc, ctx.dataset.id, ctx.series, ctx.model, horizon=ctx.horizon, origin=ctx.origin,
                                sla_pct=v["sla"], paths=v["paths"], progress=progress, cached_only=cached_only)


def _history(ctx: Context, origin: pd.Timestamp) -> tuple:
    w = ctx.series.window(max(ctx.series.start, origin - pd.Timedelta(days=HISTORY_DAYS)), origin)
    return w.index, np.where(w.gap_mask(), np.nan, w.requests)


def _actual(ctx: Context, origin: pd.Timestamp, end: pd.Timestamp) -> tuple | None:
    if origin >= ctx.series.end:
        return None
    w = ctx.series.window(origin, min(end, ctx.series.end))
    return w.index, np.where(w.gap_mask(), np.nan, w.requests)


def figures(ctx: Context, plan) -> dict:
    d = plan.to_dict()
    rate = Rate.of(ctx.parsed.values["unit"], ctx.series.interval)
    return {"fan": plan_fan_figure(_history(ctx, plan.origin), d["forecast"]["fan"],
                                   _actual(ctx, plan.origin, plan.end), rate=rate),
            "schedule": plan_schedule_figure(d["policies"]), "costs": plan_cost_figure(d["policies"])}


def policy_rows(plan) -> list[list]:
    rows = []
    for p in plan.policies:
        c = p.cost
        real = (f"${p.realized['cost']:,.0f} · {p.realized['overloaded_pct']:.2f}%"
                + (" (in band)" if p.realized["cost_in_band"] else " (outside p10-p90)") if p.realized else "-")
        rows.append([p.role, p.name, f"${c['p50']:,.0f}", f"${c['p10']:,.0f} - ${c['p90']:,.0f}",
                     f"{100 * p.p_sla_miss:.0f}%", fmt_num(p.overloaded_pct_expected, 2, "%"),
                     f"{p.peak_servers_p50} / {p.peak_servers}", real])
    return rows


def render(ctx: Context, plan) -> list:
    figs = figures(ctx, plan)
    chosen = plan.policy(plan.recommended)
    head = ["role", "policy", "cost p50", "cost p10 - p90", "P(miss SLA)", "overloaded (expected)",
            "peak servers p50 / p90", "real (past origin)"]
    f = plan.forecast
    bt = plan.backtest or {}
    return [
        dbc.Alert([html.Strong("Plan: "), html.Span(plan.reason)], id=ids.PLAN_REASON,
                  color="primary" if plan.walk_forward.get("chosen") else "warning", className="py-2"),
        html.P(f"{st.format_time(plan.origin)} .. {st.format_time(plan.end)} ({plan.horizon}) · {ctx.minutes}-minute "
               f"periods · {plan.paths} sample paths of {f['model']} · SLA {plan.sla_pct:g}% overloaded periods. "
               f"{f['how'][0].upper()}{f['how'][1:]}.", className="small text-muted mb-1"),
        kpi_row([("Recommended", chosen.name, chosen.policy["policy"]),
                 ("Cost (p50)", f"${chosen.cost['p50']:,.0f}",
                  f"p10-p90 ${chosen.cost['p10']:,.0f} - ${chosen.cost['p90']:,.0f}"),
                 ("Chance of missing the SLA", f"{100 * chosen.p_sla_miss:.0f}%",
                  f"expected {chosen.overloaded_pct_expected:.2f}% overloaded"),
                 ("Peak servers", f"{chosen.peak_servers_p50} (p90 {chosen.peak_servers})", "")],
                value_class="fs-6"),
        table(head, policy_rows(plan), id_=ids.PLAN_POLICIES),
        html.Div([html.Span(f"Deploy {chosen.name} (as re-tuned before the origin) to your autoscaler:",
                            className="small text-muted me-1"),
                  *[html.A(label, href=f"/export/plan/{fmt}{ctx.parsed.search()}", download="",
                           id=ids.plan_deploy(fmt), className="btn btn-outline-primary btn-sm")
                    for fmt, label in (("hpa", "Kubernetes HPA"), ("keda", "KEDA ScaledObject"),
                                       ("aws", "AWS Auto Scaling (+ scheduled actions)"))]],
                 className="d-flex flex-wrap gap-1 align-items-center mb-2"),
        *([html.P(bt["reason"], className="small text-muted", id=ids.PLAN_BACKTEST)] if "reason" in bt else []),
        html.H5("Forecast fan"),
        dcc.Graph(id=ids.PLAN_FAN, figure=figs["fan"], config={"displaylogo": False}),
        html.H5("Cost over the horizon"),
        dcc.Graph(id=ids.PLAN_COSTS, figure=figs["costs"], config={"displaylogo": False}),
        html.H5("Server schedule (peak of each hour; solid p50, dotted p90)"),
        html.P("The p90 line can become scheduled scaling actions for known peaks.", className="small text-muted mb-1"),
        dcc.Graph(id=ids.PLAN_SCHEDULE, figure=figs["schedule"], config={"displaylogo": False}),
    ]


def compute(progress, request: dict) -> list:
    settings = current_settings()
    parsed = st.parse_query(PAGE, st.query_from_search(request.get("search", "")))
    with results(settings) as rc:
        ctx = resolve(parsed, DatasetStore(settings.data_dir), rc)
        p = plan_of(ctx, rc, progress=lambda d, t: progress(int(100 * d / max(t, 1)), 100))
    return render(ctx, p)


def controls(parsed: st.Parsed) -> list:
    return control_panel(PAGE, parsed.values, [
        ("Plan", ("horizon", "origin", "sla", "paths", "granularity", "unit")),
        ("Servers", ("price", "capacity", "min", "max", "boot")),
    ])


def build(parsed: st.Parsed, store: DatasetStore, rc: ResultCache):
    ctx = resolve(parsed, store, rc)
    p = plan_of(ctx, rc, cached_only=True)
    return job_page(PAGE, TITLE, parsed, controls(parsed), dcc.Store(id=CTX, data={"dataset": ctx.dataset.id}),
                    render(ctx, p) if p is not None else None, what="the plan",
                    pending="The plan (forecast fan, cost bands per policy, server schedule) appears here when the "
                            "job is done.")


@safe_layout(PAGE, TITLE)
def layout(**query):
    return serve_page(PAGE, query, build)


register_url_writer(PAGE, CTX)
register_job(PAGE, compute, what="the plan")
