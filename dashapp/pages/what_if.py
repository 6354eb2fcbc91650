"""What-if: a configuration x policy on the load as it is (default model) and on a changed world
(multiplier, spike, weekly growth, price, capacity, min/max servers, boot delay), side by side with deltas."""

from dataclasses import dataclass

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from core.scaling import PRESETS, Policy
from core.scaling.whatif import SHAPES, LoadTransform
from core.store import DatasetStore
from dashapp import ids, services
from dashapp import state as st
from dashapp.components.layout import field, fmt_num, number, page_frame, safe_layout, select, table, text
from dashapp.components.page import View, load_window, serve
from dashapp.components.resampled import register_zoom, resampled_graph
from dashapp.components.urlsync import register_url_writer
from dashapp.figures import local_index, whatif_columns, whatif_figure
from dashapp.runtime.backends import results
from dashapp.runtime.result_cache import ResultCache
from dashapp.runtime.settings import current_settings

PAGE = "what_if"
TITLE = "What-if"
CTX = f"{PAGE}-ctx"

dash.register_page(__name__, path="/what-if", name=TITLE, title="What-if · Traffic workbench", order=4)


@dataclass
class Context(View):
    transform: LoadTransform
    overrides: dict


def resolve(parsed: st.Parsed, store: DatasetStore, rc: ResultCache) -> Context:
    view = load_window(parsed, store, rc)
    transform, overrides = st.whatif_inputs(parsed, view.series.start, view.series.end)
    return Context(**vars(view), transform=transform, overrides=overrides)


def _whatif(ctx: Context, rc: ResultCache):
    v = ctx.parsed.values
    return services.whatif_result(rc, ctx.dataset.id, ctx.series, v["config"], v["policy"], ctx.transform,
                                  ctx.overrides, ctx.lo, ctx.hi)


_ROWS = (("cost", "Cost ($)", 2), ("overloaded_pct", "Overloaded periods (%)", 2),
         ("dropped_pct", "Dropped requests (%)", 3), ("dropped_requests", "Dropped requests", 0),
         ("p95_latency_s", "p95 latency (s)", 2), ("scaling_actions", "Scaling actions", 0),
         ("peak_servers", "Peak servers", 0), ("mean_servers", "Mean servers", 2))


def comparison_rows(res) -> list[list]:
    """``metric, baseline, scenario, delta`` for cost, SLA and servers."""
    b, s = res.baseline.totals.to_dict(), res.scenario.totals.to_dict()
    rows = []
    for key, label, d in _ROWS:
        delta = res.delta.get(key)
        sign = "+" if delta is not None and delta > 0 else ""
        rows.append([label, fmt_num(b[key], d), fmt_num(s[key], d),
                     "n/a" if delta is None else f"{sign}{delta:,.{d}f}"])
    if res.delta.get("cost_pct") is not None:
        rows.append(["Cost change (%)", "", "", f"{res.delta['cost_pct']:+.1f}%"])
    return rows


def whatif_source(search: str):
    settings = current_settings()
    with results(settings) as rc:
        ctx = resolve(st.parse_query(PAGE, st.query_from_search(search)), DatasetStore(settings.data_dir), rc)
        res = _whatif(ctx, rc)
    return local_index(res.baseline.timeline.index), whatif_columns(res.baseline.timeline, res.scenario.timeline)


def controls(parsed: st.Parsed) -> list:
    v = parsed.values
    c = lambda k: ids.control(PAGE, k)  # noqa: E731
    return [
        field("Configuration", select(c("config"), list(PRESETS), v["config"])),
        field("Policy", select(c("policy"), [p.value for p in Policy], v["policy"])),
        html.Hr(),
        html.H6("Load"),
        field("Traffic multiplier", number(c("mult"), v["mult"], 0, 100)),
        field("Weekly growth (%)", number(c("growth"), v["growth"], -99, 1000)),
        field("Spike start", text(c("spike"), v["spike"], "e.g. 1995-08-25T12:00 (empty: none)")),
        field("Spike duration (minutes)", number(c("spike_min"), v["spike_min"], 1, 10080)),
        field("Spike magnitude (x demand)", number(c("spike_mag"), v["spike_mag"], 0, 1000)),
        field("Spike shape", select(c("spike_shape"), list(SHAPES), v["spike_shape"])),
        html.Hr(),
        html.H6("Servers and price"),
        field("Price per server-hour ($)", number(c("price"), v["price"], 0, 1000)),
        field("Capacity (requests/min per server)", number(c("capacity"), v["capacity"], 0.01)),
        field("Min servers", number(c("min"), v["min"], 1, step=1)),
        field("Max servers", number(c("max"), v["max"], 1, step=1)),
        field("Boot delay (minutes)", number(c("boot"), v["boot"], 0, 1440)),
        html.Hr(),
        field("Granularity (minutes)", dbc.RadioItems(id=c("granularity"), value=v["granularity"], inline=True,
                                                      options=[{"label": g, "value": g} for g in st.GRANULARITIES])),
        field("Window start", text(c("start"), v["start"], "1995-08-01")),
        field("Window end", text(c("end"), v["end"], "(end of the data)")),
    ]


CONTROL_PROPS = [("config", "value"), ("policy", "value"), ("mult", "value"), ("growth", "value"),
                 ("spike", "value"), ("spike_min", "value"), ("spike_mag", "value"), ("spike_shape", "value"),
                 ("price", "value"), ("capacity", "value"), ("min", "value"), ("max", "value"), ("boot", "value"),
                 ("granularity", "value"), ("start", "value"), ("end", "value")]


@safe_layout(PAGE, TITLE)
def layout(**query):
    return serve(PAGE, query, build)


def build(parsed: st.Parsed, store: DatasetStore, rc: ResultCache) -> html.Div:
    """The whole page for ``parsed`` (computes both simulations if they are not cached yet)."""
    ctx = resolve(parsed, store, rc)
    res = _whatif(ctx, rc)
    v = parsed.values
    baseline_note = (f"Baseline: {v['config']}/{v['policy']} on the load as it is with the default servers and "
                     "price. Scenario: the same rule on the changed load with the settings on the left.")
    content = [
        html.P(baseline_note, className="small text-muted mb-1"),
        table(["", "baseline", "scenario", "delta"], comparison_rows(res), id_=ids.WHATIF_TABLE),
        resampled_graph("what_if-graph", whatif_figure(res.baseline.timeline, res.scenario.timeline),
                        parsed.search()),
    ]
    return page_frame(TITLE, parsed, controls(parsed), content,
                      store=dcc.Store(id=CTX, data={"dataset": ctx.dataset.id}))


register_url_writer(PAGE, CONTROL_PROPS, CTX)
register_zoom("what_if-graph", whatif_source)
