"""History: the traffic (requests, bytes, error rate) with gaps, events and anomalies, and one simulation
of the chosen configuration and policy below it (servers vs demand, KPIs).

The anomaly scores and the simulation run as one background job (progress, cancel) unless both are cached;
then the page renders at once."""

from dataclasses import dataclass

import dash
import pandas as pd
from dash import dcc, html

from core.scaling import SimulationModel
from core.scaling.report import CostReport
from core.store import DatasetStore
from dashapp import ids, services
from dashapp import state as st
from dashapp.components.job import register_job
from dashapp.components.layout import control_panel, fmt_num, kpi_row, safe_layout
from dashapp.components.page import View, job_page, load_window, serve
from dashapp.components.resampled import register_zoom, resampled_graph
from dashapp.components.urlsync import register_url_writer
from dashapp.figures import (
    Marks,
    Rate,
    label_gaps,
    local_index,
    metric_rate,
    sim_columns,
    simulation_figure,
    traffic_figure,
)
from dashapp.labels import label, plural
from dashapp.runtime.backends import results
from dashapp.runtime.result_cache import ResultCache
from dashapp.runtime.settings import current_settings

PAGE = "history"
TITLE = "History"
CTX = f"{PAGE}-ctx"
WHAT = "the traffic chart and the simulation"

#: The query parameters, in URL order; each has its control (``controls`` lays them out).
PARAMS = (
    st.DATASET, st.granularity("5"),
    st.Param("metric", "choice", "requests", choices=st.METRICS, label="Metric",
             choice_labels=("requests", "bytes", "error rate")),
    *st.window("1995-07-10 or 1995-07-10T12:00"), st.EVENTS, st.ANOMALIES, st.UNIT, *st.RULE, *st.SERVERS,
)

dash.register_page(__name__, path="/history", name=TITLE, title="History · Traffic workbench", order=1,
                   params=PARAMS)


@dataclass
class Context(View):
    """Everything the page shows, resolved and validated."""

    model: SimulationModel

    @property
    def rate(self) -> Rate:
        """The charts' unit (per second or per period) for this granularity."""
        return Rate.of(self.parsed.values["unit"], self.series.interval)


def resolve(parsed: st.Parsed, store: DatasetStore, rc: ResultCache) -> Context:
    view = load_window(parsed, store, rc)
    metric = parsed.values["metric"]
    problem = services.metric_problem(view.series, metric)
    if problem:
        parsed.warn(f"metric {metric}: {problem}.")
        parsed.values["metric"] = "requests"
    return Context(**vars(view), model=st.sim_model(parsed))


def _context_from_search(search: str) -> tuple[Context, ResultCache]:
    settings = current_settings()
    rc = results(settings)
    return resolve(st.parse_query(PAGE, st.query_from_search(search)), DatasetStore(settings.data_dir), rc), rc


def traffic_source(search: str):
    """Full-resolution traffic of the page's window and its anomaly marks (for the zoom callback)."""
    ctx, rc = _context_from_search(search)
    try:
        w = ctx.series.window(ctx.lo, ctx.hi)
        metric = ctx.parsed.values["metric"]
        x, values = local_index(w.index), metric_rate(ctx.rate, metric)(services.metric_values(w, metric))
        return x, {"value": values, "anomalies": Marks.anomalies(x, values, _anomalies(ctx, rc))}
    finally:
        rc.close()


def _anomalies(ctx: Context, rc: ResultCache, cached_only: bool = False) -> list[dict] | None:
    """The anomalous runs in the window (marked on the requests chart only); with ``cached_only`` None unless
    they are cached."""
    v = ctx.parsed.values
    if not (v["anomalies"] and v["metric"] == "requests"):
        return []
    periods = services.anomaly_periods(rc, ctx.dataset.id, ctx.series, cached_only=cached_only)
    if periods is None:
        return None
    return [a for a in periods if ctx.lo <= pd.Timestamp(a["start"]) < ctx.hi]


def simulation_source(search: str):
    """Full-resolution simulation timeline (for the zoom callback)."""
    ctx, rc = _context_from_search(search)
    try:
        sim = _simulate(ctx, rc)
        tl = sim.scenario.timeline
        return local_index(tl.index), sim_columns(tl, ctx.rate)
    finally:
        rc.close()


def _simulate(ctx: Context, rc: ResultCache, cached_only: bool = False) -> CostReport | None:
    v = ctx.parsed.values
    return services.simulation_result(rc, ctx.dataset.id, ctx.series, v["config"], v["policy"], ctx.model,
                                      ctx.lo, ctx.hi, cached_only=cached_only)


def kpis(sim: CostReport) -> list[tuple]:
    """The KPI cards: cost, savings vs static, overloaded %, dropped %, p95 latency, scaling actions."""
    t = sim.scenario.totals
    static = sim.baselines["static_peak"].totals.cost
    saving, pct = sim.savings["vs_static_peak"]["dollars"], sim.savings["vs_static_peak"]["pct"]
    return [
        ("Cost", f"${t.cost:,.2f}", f"{t.server_hours:,.0f} server-hours"),
        ("Savings vs static", f"{'-' if saving < 0 else ''}${abs(saving):,.2f}",
         f"{fmt_num(pct, 1)}% of static peak (${static:,.2f})"),
        ("Overloaded", fmt_num(t.overloaded_pct, 2, "%"), plural(t.overloaded_periods, "period")),
        ("Dropped", fmt_num(t.dropped_pct, 3, "%"), plural(round(t.dropped_requests), "request")),
        ("p95 latency", fmt_num(t.p95_latency_s, 2, " s"), f"{fmt_num(t.p95_over_target_pct, 1)}% over target"),
        ("Scaling actions", f"{t.scaling_actions:,}", f"peak {plural(t.peak_servers, 'server')}"),
    ]


def controls(parsed: st.Parsed) -> list:
    return control_panel(PAGE, parsed.values, [
        ("Traffic", ("granularity", "metric", "unit", "start", "end", "events", "anomalies")),
        ("Simulation", ("config", "policy", "price", "capacity", "min", "max", "boot")),
    ])


def body(ctx: Context, anomalies: list[dict], sim: CostReport) -> list:
    """The page's content from its computed parts (the anomalous runs in the window, the simulation)."""
    v = ctx.parsed.values
    search = ctx.parsed.search()
    w = ctx.series.window(ctx.lo, ctx.hi)
    values = services.metric_values(w, v["metric"])
    calendar = services.event_list(ctx.lo, ctx.hi, ctx.dataset.events)
    events = calendar if v["events"] else []
    gaps = label_gaps([g.to_dict() for g in w.gaps], calendar)  # "outage" only where the calendar has one
    traffic = traffic_figure(w.index, values, v["metric"], gaps, events, anomalies, rate=ctx.rate)
    simfig = simulation_figure(sim.scenario.timeline, gaps, rate=ctx.rate)
    kind = "synthetic" if ctx.dataset.synthetic else "real"
    meta = sim.meta
    return [
        html.P([html.Strong(ctx.dataset.name), f" ({kind}) · {ctx.minutes}-minute periods · "
                f"{st.format_time(ctx.lo)} .. {st.format_time(ctx.hi)} · {plural(len(w), 'period')} · "
                f"{plural(len(anomalies), 'anomaly', 'anomalies')} · {plural(len(gaps), 'gap')}"],
               className="small text-muted mb-1", id="history-summary"),
        resampled_graph("history-traffic", traffic, search),
        html.H5(f"Simulation: {label(v['config'])} configuration, {label(v['policy'])} policy", className="mt-3"),
        kpi_row(kpis(sim), id_=ids.HISTORY_KPIS),
        resampled_graph("history-sim", simfig, search),
        html.P(f"{meta['excluded_periods']:,} periods inside gaps are simulated with demand 0 and left out of cost "
               f"and SLA figures; p95 target {meta['p95_target_s']:.1f} s.", className="small text-muted"),
    ]


def compute(progress, request: dict) -> list:
    """The background job: re-validate the request, score the anomalies, simulate (or read them), render."""
    settings = current_settings()
    parsed = st.parse_query(PAGE, st.query_from_search(request.get("search", "")))
    with results(settings) as rc:
        ctx = resolve(parsed, DatasetStore(settings.data_dir), rc)
        progress(5)
        anomalies = _anomalies(ctx, rc)
        progress(45)
        sim = _simulate(ctx, rc)
        progress(95)
    return body(ctx, anomalies, sim)


def build(parsed: st.Parsed, store: DatasetStore, rc: ResultCache):
    """The page with its charts when the anomalies and the simulation are cached, else (``Uncacheable``) with the
    job that computes them."""
    ctx = resolve(parsed, store, rc)
    anomalies = _anomalies(ctx, rc, cached_only=True)
    sim = _simulate(ctx, rc, cached_only=True) if anomalies is not None else None
    return job_page(PAGE, TITLE, parsed, controls(parsed), dcc.Store(id=CTX, data={"dataset": ctx.dataset.id}),
                    body(ctx, anomalies, sim) if sim is not None else None, what=WHAT,
                    pending="The traffic chart, the simulation and its figures appear here when the job is done.")


@safe_layout(PAGE, TITLE)
def layout(**query):
    return serve(PAGE, query, build)


register_url_writer(PAGE, CTX)
register_job(PAGE, compute, what=WHAT)
register_zoom("history-traffic", traffic_source)
register_zoom("history-sim", simulation_source)
