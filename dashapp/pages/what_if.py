"""What-if: a configuration x policy on the load as it is (default model) and on a changed world
(multiplier, spike, weekly growth, price, capacity, min/max servers, boot delay), side by side with deltas.

Both simulations run as one background job (progress, cancel) unless they are cached; then the page renders at
once."""

from dataclasses import dataclass

import dash
from dash import dcc, html

from core.scaling.whatif import SHAPES, LoadTransform
from core.store import DatasetStore
from dashapp import ids, services
from dashapp import state as st
from dashapp.components.job import register_job
from dashapp.components.layout import control_panel, fmt_num, safe_layout, table
from dashapp.components.page import View, job_page, load_window, serve
from dashapp.components.resampled import register_zoom, resampled_graph
from dashapp.components.urlsync import register_url_writer
from dashapp.figures import Rate, local_index, whatif_columns, whatif_figure
from dashapp.labels import label
from dashapp.runtime.backends import results
from dashapp.runtime.result_cache import ResultCache
from dashapp.runtime.settings import current_settings

PAGE = "what_if"
TITLE = "What-if"
CTX = f"{PAGE}-ctx"
WHAT = "the baseline and the scenario"

#: The query parameters, in URL order; each has its control (``controls`` lays them out).
PARAMS = (
    st.DATASET, st.granularity("5"), *st.window("1995-08-01"), *st.RULE,
    st.Param("mult", "float", 1.0, 0.0, 100.0, label="Traffic multiplier"),
    st.Param("growth", "float", 0.0, -99.0, 1000.0, label="Weekly growth (%)"),
    st.Param("spike", "time", label="Spike start", placeholder="e.g. 1995-08-25T12:00 (empty: none)"),
    st.Param("spike_min", "float", 60.0, 1.0, 10_080.0, label="Spike duration (minutes)"),
    st.Param("spike_mag", "float", 3.0, 0.0, 1000.0, label="Spike magnitude (x demand)"),
    st.Param("spike_shape", "choice", "flat", choices=SHAPES, label="Spike shape"),
    *st.SERVERS, st.UNIT,
)

dash.register_page(__name__, path="/what-if", name=TITLE, title="What-if · Traffic workbench", order=4,
                   params=PARAMS)


@dataclass
class Context(View):
    transform: LoadTransform
    overrides: dict

    @property
    def rate(self) -> Rate:
        """The chart's unit (per second or per period) for this granularity."""
        return Rate.of(self.parsed.values["unit"], self.series.interval)


def resolve(parsed: st.Parsed, store: DatasetStore, rc: ResultCache) -> Context:
    view = load_window(parsed, store, rc)
    transform, overrides = st.whatif_inputs(parsed, view.series.start, view.series.end)
    return Context(**vars(view), transform=transform, overrides=overrides)


def _whatif(ctx: Context, rc: ResultCache, cached_only: bool = False):
    v = ctx.parsed.values
    return services.whatif_result(rc, ctx.dataset.id, ctx.series, v["config"], v["policy"], ctx.transform,
                                  ctx.overrides, ctx.lo, ctx.hi, cached_only=cached_only)


_ROWS = (("cost", "Cost ($)", 2), ("overloaded_pct", "Overloaded periods (%)", 2),
         ("dropped_pct", "Dropped requests (%)", 3), ("dropped_requests", "Dropped requests", 0),
         ("p95_latency_s", "p95 latency (s)", 2), ("scaling_actions", "Scaling actions", 0),
         ("peak_servers", "Peak servers", 0), ("mean_servers", "Mean servers", 2))


def comparison_rows(res) -> list[list]:
    """``metric, baseline, scenario, delta`` for cost, SLA and servers."""
    b, s = res.baseline.totals.to_dict(), res.scenario.totals.to_dict()
    rows = []
    for key, name, d in _ROWS:
        delta = res.delta.get(key)
        base, scen = b[key], s[key]
        if d == 0 and None not in (base, scen, delta):  # counts: whole requests, and a delta that adds up
            base, scen = round(base), round(scen)
            delta = scen - base
        sign = "+" if delta is not None and delta > 0 else ""
        rows.append([name, fmt_num(base, d), fmt_num(scen, d),
                     "n/a" if delta is None else f"{sign}{delta:,.{d}f}"])
    if res.delta.get("cost_pct") is not None:
        rows.append(["Cost change (%)", "", "", f"{res.delta['cost_pct']:+.1f}%"])
    return rows


def whatif_source(search: str):
    settings = current_settings()
    with results(settings) as rc:
        ctx = resolve(st.parse_query(PAGE, st.query_from_search(search)), DatasetStore(settings.data_dir), rc)
        res = _whatif(ctx, rc)
    return local_index(res.baseline.timeline.index), whatif_columns(res.baseline.timeline, res.scenario.timeline,
                                                                    ctx.rate)


def controls(parsed: st.Parsed) -> list:
    return control_panel(PAGE, parsed.values, [
        (None, ("config", "policy")),
        ("Load", ("mult", "growth", "spike", "spike_min", "spike_mag", "spike_shape")),
        ("Servers and price", ("price", "capacity", "min", "max", "boot")),
        (None, ("granularity", "unit", "start", "end")),
    ])


@safe_layout(PAGE, TITLE)
def layout(**query):
    return serve(PAGE, query, build)


def render(ctx: Context, res) -> list:
    """The comparison table and the chart of ``res`` (core's ``WhatIfResult``)."""
    v = ctx.parsed.values
    baseline_note = (f"Baseline: the {label(v['config'])} configuration with the {label(v['policy'])} policy on the "
                     "load as it is, with the default servers and price. Scenario: the same rule on the changed load "
                     "with the settings on the left.")
    return [
        html.P(baseline_note, className="small text-muted mb-1"),
        table(["", "baseline", "scenario", "delta"], comparison_rows(res), id_=ids.WHATIF_TABLE),
        resampled_graph("what_if-graph", whatif_figure(res.baseline.timeline, res.scenario.timeline, rate=ctx.rate),
                        ctx.parsed.search()),
    ]


def compute(progress, request: dict) -> list:
    """The background job: re-validate the request, simulate the baseline and the scenario (or read them), render."""
    settings = current_settings()
    parsed = st.parse_query(PAGE, st.query_from_search(request.get("search", "")))
    with results(settings) as rc:
        ctx = resolve(parsed, DatasetStore(settings.data_dir), rc)
        progress(10)
        res = _whatif(ctx, rc)
        progress(95)
    return render(ctx, res)


def build(parsed: st.Parsed, store: DatasetStore, rc: ResultCache):
    """The page with the comparison when both simulations are cached, else (``Uncacheable``) with the job."""
    ctx = resolve(parsed, store, rc)
    res = _whatif(ctx, rc, cached_only=True)
    return job_page(PAGE, TITLE, parsed, controls(parsed), dcc.Store(id=CTX, data={"dataset": ctx.dataset.id}),
                    None if res is None else render(ctx, res), what=WHAT,
                    pending="The baseline and the scenario, their costs and SLA side by side, appear here when the "
                            "job is done.")


register_url_writer(PAGE, CTX)
register_job(PAGE, compute, what=WHAT)
register_zoom("what_if-graph", whatif_source)
