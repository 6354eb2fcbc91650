"""Scenarios: the 3 x 3 matrix (configurations x policies) as heatmaps beside the baselines, the winners,
the recommendation driven by the cost weight and SLA target, and the optimizer's Pareto front with its knee.
The matrix and the optimizer run as one background job; weight and target only re-rank the cached result."""

from dataclasses import dataclass

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from core.scaling import SimulationModel
from core.scaling.matrix import pick_winners
from core.scaling.recommend import recommend
from core.store import DatasetStore
from dashapp import ids, services
from dashapp import state as st
from dashapp.components.job import register_job
from dashapp.components.layout import control_panel, fmt_num, kpi_row, safe_layout, table
from dashapp.components.page import View, job_page, load_window, serve
from dashapp.components.urlsync import register_url_writer
from dashapp.figures import matrix_figure, pareto_figure
from dashapp.runtime.backends import results
from dashapp.runtime.result_cache import ResultCache
from dashapp.runtime.settings import current_settings

PAGE = "scenarios"
TITLE = "Scenarios"
CTX = f"{PAGE}-ctx"

#: The query parameters, in URL order; each has its control (``controls`` lays them out).
PARAMS = (
    st.DATASET, st.granularity("5"), *st.window("1995-07-10"),
    st.Param("weight", "float", 0.5, 0.0, 1.0, label="Cost weight (0 = SLA only, 1 = cost only)", control="slider",
             step=0.05, marks=((0, "SLA"), (0.5, "0.5"), (1, "cost"))),
    st.Param("sla", "float", None, 0.0, 100.0, label="SLA target (% overloaded periods)",
             help="empty: best balance by weight"),
    st.Param("budget", "int", 500, 9, 5000, label="Optimizer budget (configurations)"),
    *st.SERVERS,
)

dash.register_page(__name__, path="/scenarios", name=TITLE, title="Scenarios · Traffic workbench", order=3,
                   params=PARAMS)


@dataclass
class Context(View):
    model: SimulationModel


def resolve(parsed: st.Parsed, store: DatasetStore, rc: ResultCache) -> Context:
    return Context(**vars(load_window(parsed, store, rc)), model=st.sim_model(parsed))


def _result(ctx: Context, rc: ResultCache, progress=None, cached_only=False):
    return services.scenarios_result(rc, ctx.dataset.id, ctx.series, ctx.model, ctx.lo, ctx.hi,
                                     ctx.parsed.values["budget"], progress=progress, cached_only=cached_only)


def winner_cards(matrix, weight: float, sla: float | None) -> list[tuple]:
    w = pick_winners(matrix.scenarios, weight, 1.0 if sla is None else sla)
    cards = []
    for label, name in (("Best Cost", w.best_cost), ("Best SLA", w.best_sla),
                        (f"Best Balance (w={weight:g})", w.best_balance)):
        t = matrix.scenario(name).totals
        cards.append((label, name, f"${t.cost:,.2f} · {t.overloaded_pct:.2f}% overloaded · {t.dropped_pct:.3f}% "
                                   "dropped"))
    if sla is not None:
        name = w.cheapest_meeting_sla
        if name:
            t = matrix.scenario(name).totals
            cards.append((f"Cheapest with <= {sla:g}% overloaded", name, f"${t.cost:,.2f}"))
        else:
            cards.append((f"Cheapest with <= {sla:g}% overloaded", "none", "no scenario meets the target"))
    return cards


def baseline_rows(matrix) -> list[list]:
    return [[name, f"${b.totals.cost:,.2f}", fmt_num(b.totals.overloaded_pct, 2, "%"),
             fmt_num(b.totals.dropped_pct, 3, "%"), fmt_num(b.totals.p95_latency_s, 2, " s"),
             fmt_num(b.totals.scaling_actions)] for name, b in matrix.baselines.items()]


def render(ctx: Context, res: dict) -> list:
    """Heatmaps, baselines, winners, the recommendation and the Pareto front."""
    v = ctx.parsed.values
    matrix, front = res["matrix"], res["front"]
    rec = recommend(matrix, sla_target_pct=v["sla"], cost_weight=v["weight"])
    md = matrix.to_dict()
    return [
        html.P(f"{ctx.minutes}-minute periods · {st.format_time(ctx.lo)} .. {st.format_time(ctx.hi)} · "
               f"{front.evaluated:,} configurations searched", className="small text-muted mb-1",
               id="scenarios-summary"),
        dbc.Alert([html.Strong("Recommendation: "), html.Span(rec.reason, id="scenarios-reason")],
                  id=ids.SCEN_RECOMMENDATION, color="primary", className="py-2"),
        kpi_row(winner_cards(matrix, v["weight"], v["sla"]), id_=ids.SCEN_WINNERS, value_class="fs-6"),
        dcc.Graph(id="scenarios-matrix", figure=matrix_figure(md), config={"displaylogo": False}),
        html.H5("Baselines"),
        table(["baseline", "cost", "overloaded", "dropped", "p95 latency", "scaling actions"], baseline_rows(matrix),
              id_="scenarios-baselines"),
        html.H5("Optimizer: Pareto front of cost vs overloaded periods"),
        html.P(f"Knee: {front.knee['policy']} policy, scale out above {front.knee['scale_out_threshold']:.2f} for "
               f"{front.knee['scale_out_periods']} period(s), in below {front.knee['scale_in_threshold']:.2f}, "
               f"cooldown {front.knee['cooldown_minutes']:g} min: ${front.knee['cost']:,.2f}, "
               f"{front.knee['overloaded_pct']:.2f}% overloaded.", className="small", id="scenarios-knee"),
        dcc.Graph(id="scenarios-pareto", config={"displaylogo": False},
                  figure=pareto_figure(front.front, front.knee, md["scenarios"],
                                       {k: b for k, b in md["baselines"].items() if k != "static_mean"})),
    ]


def compute(progress, request: dict) -> list:
    settings = current_settings()
    parsed = st.parse_query(PAGE, st.query_from_search(request.get("search", "")))
    with results(settings) as rc:
        ctx = resolve(parsed, DatasetStore(settings.data_dir), rc)
        res = _result(ctx, rc, progress=progress)
    return render(ctx, res)


def controls(parsed: st.Parsed) -> list:
    return control_panel(PAGE, parsed.values, [
        ("Recommendation", ("weight", "sla")),
        ("Simulation", ("granularity", "start", "end", "budget", "price", "capacity", "min", "max", "boot")),
    ])


def build(parsed: st.Parsed, store: DatasetStore, rc: ResultCache):
    """The page with the cached result rendered, or (``Uncacheable``) with the job that computes it."""
    ctx = resolve(parsed, store, rc)
    res = _result(ctx, rc, cached_only=True)
    return job_page(PAGE, TITLE, parsed, controls(parsed), dcc.Store(id=CTX, data={"dataset": ctx.dataset.id}),
                    None if res is None else render(ctx, res), what="the matrix and the optimizer",
                    pending="The matrix and the Pareto front appear here when the job is done.")


@safe_layout(PAGE, TITLE)
def layout(**query):
    return serve(PAGE, query, build)


register_url_writer(PAGE, CTX)
register_job(PAGE, compute, what="the matrix and the optimizer")
