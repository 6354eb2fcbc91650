"""Forecast: a model fitted on the history before the origin, its forecast with bands continuing the
history, and the backtest table (protocols x metrics, the seasonal naive and the Poisson floor beside it).

By default the forecast starts at the end of the data (the future), and beside it the same model, trained
before the default split's test window (``core.forecast.split``: the last week), is scored on that week.
With an ``origin`` in the URL the forecast starts there and is scored on the data after it.
Fitting runs as a background job with progress and cancel; results are cached for every worker."""

from dataclasses import dataclass, field, replace

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from core.forecast import model_aliases, model_names
from core.forecast.result import ForecastResult
from core.forecast.split import default_test_start
from core.registry import TARGETS
from core.series import TrafficSeries
from core.store import DatasetStore
from dashapp import ids, services
from dashapp import state as st
from dashapp.components.job import register_job
from dashapp.components.layout import control_panel, fmt_num, safe_layout, table
from dashapp.components.page import job_page, load_view, serve
from dashapp.components.urlsync import register_url_writer
from dashapp.figures import forecast_figure
from dashapp.labels import labels, plural
from dashapp.runtime.backends import results
from dashapp.runtime.result_cache import ResultCache
from dashapp.runtime.settings import current_settings

PAGE = "forecast"
TITLE = "Forecast"
CTX = f"{PAGE}-ctx"
GRAPH = "forecast-graph"

#: The default model: chosen per dataset, target, granularity and horizon by :func:`core.selection.select_model`.
AUTO = "auto"
AUTO_LABEL = "Auto (best by backtest)"

#: The query parameters, in URL order; each has its control, shown in this order.
PARAMS = (
    st.DATASET,
    st.Param("model", "choice", AUTO, choices=(AUTO, *model_names()), label="Model",
             aliases=tuple(model_aliases().items()), choice_labels=(AUTO_LABEL, *labels(model_names())),
             help="Auto: the model with the narrowest calibrated interval at this horizon on the 14 days before "
                  "the origin (core.selection)"),
    st.Param("target", "choice", "requests", choices=TARGETS, label="Target"),
    st.granularity("15"),
    st.Param("horizon", "horizon", "1d", label="Horizon", placeholder="steps, or 90min, 12h, 7d (max 30d)"),
    st.Param("level", "levels", (80.0, 95.0), label="Interval levels (%)", placeholder="80,95"),
    st.Param("origin", "time", label="Origin", placeholder="(the end of the data)",
             help="history before it trains the model; empty: forecast the future and backtest the last week"),
    st.EVENTS, replace(st.ANOMALIES, default=False), st.UNIT,
)

dash.register_page(__name__, path="/forecast", name=TITLE, title="Forecast · Traffic workbench", order=2,
                   params=PARAMS)


@dataclass
class Context:
    parsed: st.Parsed
    dataset: services.Dataset
    minutes: int
    series: TrafficSeries
    origin: pd.Timestamp
    steps: int
    #: ``(origin, steps)`` of the backtest shown beside a forecast from the end of the data (None with an explicit
    #: origin, or when the data is too short for the default split).
    backtest: tuple[pd.Timestamp, int] | None = None
    #: ``{origin: ModelChoice}`` when the model is "auto": each forecast's model is chosen on data before its origin.
    choices: dict = field(default_factory=dict)


def last_week(series: TrafficSeries) -> tuple[pd.Timestamp, int] | None:
    """The default split's test window (``core.forecast.split.default_test_start``: the last week, or the last
    30% of a shorter series) as ``(first period, periods)``, or None when the data is too short for it."""
    start = default_test_start(series.start, series.end)
    if start is None:
        return None
    start = series.start + ((start - series.start) // series.interval) * series.interval  # on the grid
    return start, int((series.end - start) // series.interval)


def resolve(parsed: st.Parsed, store: DatasetStore, rc: ResultCache) -> Context:
    ds, minutes, series = load_view(parsed, store, rc)
    target = parsed.values["target"]
    if target not in series.frame.columns:
        parsed.warn(f"target {target}: this dataset has no such column; forecasting requests.")
        parsed.values["target"] = "requests"
    steps = st.resolve_horizon(parsed, series.interval)
    origin = st.resolve_origin(parsed, series.start, series.end, series.interval)
    backtest = last_week(series) if parsed.values.get("origin") is None else None
    return Context(parsed, ds, minutes, series, origin, steps, backtest)


def forecast_results(ctx: Context, rc: ResultCache, progress=None, cached_only: bool = False
                     ) -> tuple[ForecastResult, ForecastResult | None] | None:
    """``(forecast, last-week backtest or None)``; with ``cached_only`` None unless both are cached.

    The forecast from an explicit origin carries its own backtest (on the data after it); one from the end of
    the data has none, and the same model fitted before the last week, forecasting that week, is the backtest.
    """
    v = ctx.parsed.values
    settings = current_settings()

    def run(origin, steps, backtest, lo, hi):
        part = None if progress is None else (lambda d, t: progress(lo + (hi - lo) * d / max(t, 1), 100))
        model = v["model"]
        if model == AUTO:
            choice = services.model_choice(ctx.dataset.id, ctx.series, target=v["target"], steps=steps,
                                           origin=origin, models_dir=settings.models_dir, cached_only=cached_only)
            if choice is None:
                return None
            ctx.choices[origin] = choice
            model = choice.model
        return services.forecast_result(
            rc, ctx.dataset.id, ctx.series, model=model, target=v["target"], origin=origin, steps=steps,
            levels=tuple(v["level"]), anomalies=v["anomalies"], models_dir=settings.models_dir, progress=part,
            cached_only=cached_only, backtest=backtest, events=ctx.dataset.events)

    if ctx.backtest is None:
        bundle = run(ctx.origin, ctx.steps, True, 0, 100)
        return None if bundle is None else (bundle, None)
    bundle = run(ctx.origin, ctx.steps, False, 0, 40)
    if bundle is None and cached_only:
        return None
    tested = run(*ctx.backtest, True, 40, 100)
    return None if tested is None else (bundle, tested)


_METRICS = (("rmse", "RMSE", 1), ("mae", "MAE", 1), ("mape", "MAPE %", 1), ("smape", "sMAPE %", 1),
            ("mase", "MASE", 3), ("r2", "R²", 3), ("coverage_80", "cover 80 %", 1), ("coverage_95", "cover 95 %", 1))


def backtest_rows(backtest: dict) -> list[list]:
    """Rows ``protocol, model, n, metrics...`` with a Poisson-floor row under each protocol."""
    rows = []
    for protocol, rep in backtest.items():
        for name, res in rep["results"].items():
            rows.append([protocol, res.get("label", name), fmt_num(res.get("n"))]
                        + [fmt_num(res.get(k), d) for k, _, d in _METRICS])
        if rep.get("poisson_floor") is not None:
            rows.append([protocol, html.Em("Poisson floor (RMSE >= sqrt(mean))"), "",
                         fmt_num(rep["poisson_floor"], 1)] + [""] * (len(_METRICS) - 1))
    return rows


def _figure(ctx: Context, bundle: ForecastResult):
    v = ctx.parsed.values
    hx = bundle.history[0]
    end = bundle.timestamps[-1] if len(bundle.timestamps) else bundle.origin
    events = services.event_list(hx[0], end, ctx.dataset.events) if v["events"] and len(hx) else []
    return forecast_figure(bundle, events=events, show_anomalies=v["anomalies"], unit=v["unit"])


def render(ctx: Context, bundle: ForecastResult, tested: ForecastResult | None = None) -> list:
    """The forecast chart, the backtest (``tested``: the last week, in a chart beside it; else the forecast's
    own, on the data after its origin) as a table, and the notes."""
    v = ctx.parsed.values
    graph = dcc.Graph(id=GRAPH, figure=_figure(ctx, bundle), config={"displaylogo": False})
    out = [
        html.P(f"{bundle.label} · {v['target']} · {ctx.minutes}-minute periods · origin "
               f"{st.format_time(ctx.origin)}{' (the end of the data)' if ctx.origin >= ctx.series.end else ''} · "
               f"{ctx.steps:,} steps" + (" · model loaded from the model cache" if bundle.model_cached else "")
               + (f" · {plural(len(ctx.dataset.events), 'custom event')} of the dataset as regressors"
                  if ctx.dataset.events else ""),
               className="small text-muted mb-1", id="forecast-summary"),
    ]
    if tested is None:
        out.append(graph)
    else:
        out.append(dbc.Row([
            dbc.Col([html.H6("Forecast from the end of the data"), graph], lg=6),
            dbc.Col([html.H6(f"Backtest: the same model on the last {_span(tested)}, trained before it"),
                     dcc.Graph(id=ids.FORECAST_BACKTEST_GRAPH, figure=_figure(ctx, tested),
                               config={"displaylogo": False})], lg=6),
        ], className="g-2"))
    chosen = ctx.choices.get(ctx.origin)
    if chosen is not None:
        out.append(html.P(f"Model chosen automatically: {chosen.reason}."
                          + (" The backtest's model was chosen the same way on the data before its own origin."
                             if tested is not None else ""), className="small text-muted mb-1", id="forecast-choice"))
    scored = (tested or bundle).backtest
    if scored:
        head = ["protocol", "model", "n"] + [label for _, label, _ in _METRICS]
        first = next(iter(scored.values()))
        out += [html.H5("Backtest", className="mt-2"),
                html.P(f"Trained up to {first['train']['end'][:16]}, scored {first['test']['start'][:16]} .. "
                       f"{first['test']['end'][:16]}. {first['notes']}", className="small text-muted"),
                table(head, backtest_rows(scored), id_=ids.FORECAST_BACKTEST)]
    notes = list(bundle.notes) + [n for n in (tested.notes if tested else []) if n not in bundle.notes]
    out += [dbc.Alert(n, color="info", className="py-2 small") for n in notes]
    return out


def _span(result: ForecastResult) -> str:
    days = result.steps * result.interval / pd.Timedelta(days=1)
    return "week" if days == 7 else f"{days:g} days"


def compute(progress, request: dict) -> list:
    """The background job: re-validate the request, compute (or read) the forecast and its backtest, render."""
    settings = current_settings()
    parsed = st.parse_query(PAGE, st.query_from_search(request.get("search", "")))
    with results(settings) as rc:
        ctx = resolve(parsed, DatasetStore(settings.data_dir), rc)
        bundle, tested = forecast_results(ctx, rc, progress=progress)
    return render(ctx, bundle, tested)


def controls(parsed: st.Parsed) -> list:
    return control_panel(PAGE, parsed.values)


def build(parsed: st.Parsed, store: DatasetStore, rc: ResultCache):
    """The page with the cached result rendered, or (``Uncacheable``) with the job that computes it."""
    ctx = resolve(parsed, store, rc)
    done = forecast_results(ctx, rc, cached_only=True)
    return job_page(PAGE, TITLE, parsed, controls(parsed), dcc.Store(id=CTX, data={"dataset": ctx.dataset.id}),
                    None if done is None else render(ctx, *done), what="the forecast",
                    pending="The forecast appears here when the job is done.")


@safe_layout(PAGE, TITLE)
def layout(**query):
    return serve(PAGE, query, build)


register_url_writer(PAGE, CTX)
register_job(PAGE, compute, what="the forecast")
