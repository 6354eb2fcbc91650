"""Scenarios: one recommendation checked on held-out weeks (walk-forward: tuned before each cut, scored
after it), then, on the window shown, the 3 x 3 matrix (configurations x policies) as heatmaps beside the
baselines, the winners, the in-sample ranking by cost weight and SLA target, and the optimizer's Pareto front.
The walk-forward evaluation, the matrix and the optimizer run as one background job; weight and target only
re-rank the cached results."""

from dataclasses import dataclass

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from core.errors import InputError
from core.scaling import SimulationModel
from core.scaling.matrix import pick_winners
from core.scaling.recommend import recommend
from core.scaling.walkforward import choose, make_folds
from core.store import DatasetStore
from dashapp import ids, services
from dashapp import state as st
from dashapp.components.job import register_job
from dashapp.components.layout import control_panel, fmt_num, kpi_row, safe_layout, table
from dashapp.components.page import View, job_page, load_window, serve
from dashapp.components.urlsync import register_url_writer
from dashapp.figures import matrix_figure, pareto_figure
from dashapp.labels import scenario_label
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


def _held_out(ctx: Context, rc: ResultCache, progress=None, cached_only=False):
    """The walk-forward evaluation over the last weeks of the data (None if the data is too short for it)."""
    try:
        return services.walkforward_result(rc, ctx.dataset.id, ctx.series, ctx.model, progress=progress,
                                           cached_only=cached_only)
    except InputError:
        return None


def held_out_section(ev, sla: float | None) -> list:
    """The one answer: the recommendation chosen and scored on data it was not tuned on, fold by fold."""
    if ev is None:
        return [dbc.Alert("The data is too short for a held-out check (at least two days are needed): the "
                          "in-sample figures below are all there is.", color="warning", id=ids.SCEN_HELDOUT)]
    rec = choose(ev, 1.0 if sla is None else sla)
    d = rec.to_dict()
    head = ["fold", "trained on", "tested on", "cost", "x oracle", "overloaded (test)", "overloaded (training)",
            "static fleet (test)"]
    rows = [[f["role"], f"{f['train_start'][:10]} .. {f['train_end'][:10]}",
             f"{f['test_start'][:10]} .. {f['test_end'][:10]}", f"${f['cost']:,.2f}", fmt_num(f["cost_vs_oracle"], 2),
             fmt_num(f["overloaded_pct"], 2, "%"), fmt_num(f["in_sample_overloaded_pct"], 2, "%"),
             f"${f['static_cost']:,.2f} · {f['static_overloaded_pct']:.2f}%"] for f in d["folds"]]
    policy = d["recommended"]
    return [
        dbc.Alert([html.Strong("Recommendation, checked on held-out weeks: "), html.Span(d["reason"])],
                  id=ids.SCEN_HELDOUT, color="primary" if policy else "warning", className="py-2"),
        html.P(f"{d['folds_used']}. Candidate: {d['chosen'] or d['safest']}"
               + (f" ({policy['policy']} policy, scale out above {policy['config']['scale_out_threshold']:.2f}, "
                  f"in below {policy['config']['scale_in_threshold']:.2f}, cooldown "
                  f"{policy['config']['cooldown_minutes']:g} min)" if policy else "")
               + ". Folds use the whole dataset, not the window below.", className="small text-muted mb-1"),
        table(head, rows, id_=ids.SCEN_FOLDS),
    ]


def winner_cards(matrix, weight: float, sla: float | None) -> list[tuple]:
    w = pick_winners(matrix.scenarios, weight, 1.0 if sla is None else sla)
    cards = []
    for label, name in (("Best Cost", w.best_cost), ("Best SLA", w.best_sla),
                        (f"Best Balance (w={weight:g})", w.best_balance)):
        t = matrix.scenario(name).totals
        cards.append((label, scenario_label(name), f"${t.cost:,.2f} · {t.overloaded_pct:.2f}% overloaded · "
                                                   f"{t.dropped_pct:.3f}% dropped"))
    if sla is not None:
        name = w.cheapest_meeting_sla
        if name:
            t = matrix.scenario(name).totals
            cards.append((f"Cheapest with <= {sla:g}% overloaded", scenario_label(name), f"${t.cost:,.2f}"))
        else:
            cards.append((f"Cheapest with <= {sla:g}% overloaded", "none", "no scenario meets the target"))
    return cards


def baseline_rows(matrix) -> list[list]:
    return [[scenario_label(name), f"${b.totals.cost:,.2f}", fmt_num(b.totals.overloaded_pct, 2, "%"),
             fmt_num(b.totals.dropped_pct, 3, "%"), fmt_num(b.totals.p95_latency_s, 2, " s"),
             fmt_num(b.totals.scaling_actions)] for name, b in matrix.baselines.items()]


def render(ctx: Context, res: dict, ev=None) -> list:
    """The held-out recommendation, then on the window shown: heatmaps, baselines, winners, the in-sample
    ranking and the Pareto front."""
    v = ctx.parsed.values
    matrix, front = res["matrix"], res["front"]
    rec = recommend(matrix, sla_target_pct=v["sla"], cost_weight=v["weight"])
    md = matrix.to_dict()
    return [
        *held_out_section(ev, v["sla"]),
        html.H5("On the window shown (in-sample: chosen and scored on the same data)", className="mt-3"),
        html.P(f"{ctx.minutes}-minute periods · {st.format_time(ctx.lo)} .. {st.format_time(ctx.hi)} · "
               f"{front.evaluated:,} configurations searched", className="small text-muted mb-1",
               id="scenarios-summary"),
        dbc.Alert([html.Strong("In-sample ranking: "), html.Span(rec.reason, id="scenarios-reason")],
                  id=ids.SCEN_RECOMMENDATION, color="light", className="py-2"),
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
        res = _result(ctx, rc, progress=lambda d, t: progress(int(60 * d / max(t, 1)), 100))
        ev = _held_out(ctx, rc, progress=lambda d, t: progress(60 + int(40 * d / max(t, 1)), 100))
    return render(ctx, res, ev)


def controls(parsed: st.Parsed) -> list:
    return control_panel(PAGE, parsed.values, [
        ("Recommendation", ("weight", "sla")),
        ("Simulation", ("granularity", "start", "end", "budget", "price", "capacity", "min", "max", "boot")),
    ])


def build(parsed: st.Parsed, store: DatasetStore, rc: ResultCache):
    """The page with the cached result rendered, or (``Uncacheable``) with the job that computes it."""
    ctx = resolve(parsed, store, rc)
    res = _result(ctx, rc, cached_only=True)
    ev = _held_out(ctx, rc, cached_only=True)
    done = res is not None and (ev is not None or _too_short(ctx))
    return job_page(PAGE, TITLE, parsed, controls(parsed), dcc.Store(id=CTX, data={"dataset": ctx.dataset.id}),
                    render(ctx, res, ev) if done else None, what="the held-out check, the matrix and the optimizer",
                    pending="The held-out recommendation, the matrix and the Pareto front appear here when the job "
                            "is done.")


def _too_short(ctx: Context) -> bool:
    """No walk-forward fold fits in the data (then nothing is cached for it, and the page does not wait)."""
    try:
        make_folds(ctx.series)
    except InputError:
        return True
    return False


@safe_layout(PAGE, TITLE)
def layout(**query):
    return serve(PAGE, query, build)


register_url_writer(PAGE, CTX)
register_job(PAGE, compute, what="the held-out check, the matrix and the optimizer")
