"""The JSON API blueprint under /api: thin routes over the same ``core`` calls as the pages.

Each route parses and validates its input (:mod:`dashapp.web.api_params`), calls
one ``core`` function and returns its ``to_dict()``. Bad input is a 4xx JSON
error ``{"status", "error", "message"[, "field"]}``, never a 500. Forecasts and
backtests are cached on disk for every worker, in the result cache the pages use (:mod:`dashapp.runtime.result_cache`).
The routes are documented in ``docs/api.md`` and by ``GET /api/openapi.json``.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, jsonify, request

from core.errors import InputError
from core.events import EventError, builtin_events, events_digest
from core.forecast import backtest, parse_horizon, parse_levels
from core.forecast.cache import ModelCache
from core.forecast.result import forecast_at
from core.forecast.split import MIN_HISTORY, default_test_start
from core.jsonable import to_jsonable
from core.registry import DEPLOY_FORMATS, PROTOCOLS, TARGETS, accepted_model_names, policy_names
from core.scaling import SimulationModel, parse_policy
from core.scaling.action import MAX_POINTS, recommend_action
from core.scaling.deploy import candidate_policies, export_policy, preset_policy, select_policy
from core.scaling.plan import MAX_PATHS, MIN_PATHS
from core.scaling.plan import plan as build_plan
from core.scaling.policy_config import from_policy_dict
from core.scaling.report import cost_report as build_cost_report
from core.scaling.simulate import prepare
from core.scaling.walkforward import walk_forward
from core.series import parse_granularity
from core.store import DatasetStore
from dashapp.runtime.auth import request_problem
from dashapp.runtime.backends import results
from dashapp.web.api_params import (
    MODEL_FIELDS,
    ApiError,
    Fields,
    dataset_id_of,
    dataset_series,
    model_from,
    read_json,
    scaling_config,
    series_from_list,
)
from dashapp.web.errors import json_error, unmatched_route
from dashapp.web.openapi import openapi_document

__all__ = ["cost_report_answer", "forecast_answer", "init_api", "metrics_answer"]

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api")

DEFAULT_METRIC_MODELS = ("seasonal_naive", "sarima", "lightgbm")
_POLICIES = policy_names()


def _settings():
    return current_app.config["TRAFFIC_SETTINGS"]


def _store() -> DatasetStore:
    return DatasetStore(_settings().data_dir)


def _cached(kind: str, ident: dict, params: dict, compute) -> tuple[dict, bool]:
    """``(value, hit)`` from the result cache the pages share (one computation per key across workers)."""
    with results(_settings()) as rc:  # files, or Redis with TRAFFIC_BACKEND=redis
        owner = ident.get("dataset") or f"series-{ident.get('series')}"
        return rc.get_or_compute(rc.key(f"api-{kind}", owner, {**ident, **params}), compute)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return json_error(exc.status, exc.message, exc.field)


@bp.errorhandler(InputError)
@bp.errorhandler(ValueError)
def _input_error(exc: ValueError):
    # core raises InputError / ValueError for bad input: the message names the value and the fix.
    return json_error(400, str(exc))


# -- routes --------------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi():
    settings = _settings()
    return jsonify(openapi_document(max_upload_bytes=int(settings.max_upload_mb * 1024 * 1024)))


@bp.get("/datasets")
def datasets():
    Fields(request.args.to_dict(), ())
    store = _store()
    default = store.default_id()
    out = [{**d.to_dict(), "default": d.id == default} for d in store.list()]
    return jsonify(datasets=out)


@bp.delete("/datasets/<dataset_id>")
def delete_dataset(dataset_id: str):
    """Delete a stored dataset by its id (with ``TRAFFIC_ADMINS`` set, only they may: dashapp/runtime/auth.py)."""
    denied = request_problem("delete")
    if denied:
        raise ApiError(403, denied)
    if dataset_id == "default":
        raise ApiError(400, "name the dataset to delete by its id (GET /api/datasets lists them), not 'default'",
                       "dataset_id")
    store = _store()
    store.delete(dataset_id_of(store, dataset_id))
    return jsonify(deleted=dataset_id)


def _events_answer(ds_id: str, events) -> dict:
    return {"dataset_id": ds_id, "events": [e.to_dict() for e in events],
            "builtin": [e.to_dict() for e in builtin_events()]}


@bp.get("/datasets/<dataset_id>/events")
def dataset_events(dataset_id: str):
    """The dataset's custom events (and, apart, the built-in calendar that applies to every dataset)."""
    Fields(request.args.to_dict(), ())
    store = _store()
    ds_id = dataset_id_of(store, dataset_id)
    return jsonify(_events_answer(ds_id, store.events(ds_id)))


@bp.put("/datasets/<dataset_id>/events")
def put_dataset_events(dataset_id: str):
    """Replace the dataset's custom events with the body's ``events`` list (uploaders only, when set)."""
    denied = request_problem("events")
    if denied:
        raise ApiError(403, denied)
    store = _store()
    ds_id = dataset_id_of(store, dataset_id)
    fields = Fields(read_json(request), ("events",))
    events = fields.raw("events")
    if not isinstance(events, list):
        raise ApiError(400, "events must be an array of {name, start, end, impact} objects (send [] to clear them), "
                            f"got {'nothing' if events is None else type(events).__name__}", "events")
    try:
        saved = store.set_events(ds_id, events)
    except EventError as exc:
        where = "events" if exc.index is None else f"events[{exc.index - 1}]"
        raise ApiError(400, str(exc), where + (f".{exc.field}" if exc.field else "")) from None
    return jsonify(_events_answer(ds_id, saved))


def _series_input(fields: Fields, granularity_default: str | None = "5min", window: bool = True):
    """``(cache identity, interval, load)`` for ``dataset_id`` or ``series`` + ``interval_minutes``.

    ``load()`` returns the series, resampled and (with ``window``) cut to
    ``start``/``end``. A stored dataset is only read by ``load()``, so a cache
    hit never touches it (dataset ids are content hashes: a hit cannot be stale).
    """
    has_ds, has_series = fields.has("dataset_id"), fields.has("series")
    if has_ds == has_series:
        raise ApiError(400, "give either dataset_id (GET /api/datasets lists them) or series "
                            "(an array of loads with interval_minutes), not both or neither")
    start, end = fields.string("start", max_len=40), fields.string("end", max_len=40)
    if has_ds:
        store = _store()
        ds_id = dataset_id_of(store, fields.raw("dataset_id"))
        gran = fields.string("granularity", granularity_default, max_len=20)
        ident = {"dataset": ds_id}
        base = None
    else:
        minutes = fields.number("interval_minutes", 5, lo=1 / 60, hi=1440)
        base, digest = series_from_list(fields.raw("series"), minutes)
        gran = fields.string("granularity", None, max_len=20)
        ident = {"series": digest}
    try:
        interval = parse_granularity(gran) if gran else base.interval
    except ValueError as exc:
        raise ApiError(400, f"granularity: {exc}", "granularity") from None
    ident.update(start=start, end=end, granularity_s=interval.total_seconds())

    def load():
        series = base if base is not None else dataset_series(store, ds_id)
        if window and (start or end):
            try:
                series = series.window(start, end)
            except (ValueError, TypeError) as exc:
                raise ApiError(400, f"start/end: {exc}") from None
        try:
            return series.resample(interval)
        except ValueError as exc:
            raise ApiError(400, f"granularity: {exc}", "granularity") from None

    return ident, interval, load


_FORECAST_FIELDS = ("dataset_id", "series", "interval_minutes", "granularity", "start", "end", "model", "horizon",
                    "level", "target")


@bp.post("/forecast")
def forecast():
    return forecast_answer(read_json(request))


def forecast_answer(body: dict):
    """``POST /api/forecast`` of a parsed body (also the original ``POST /forecast``: :mod:`dashapp.web.compat`)."""
    fields = Fields(body, _FORECAST_FIELDS)
    names = accepted_model_names()
    model = fields.string("model", "seasonal_naive", choices=names)
    target = fields.string("target", "requests", choices=TARGETS)
    horizon = fields.raw("horizon", "1d")
    if isinstance(horizon, bool) or not isinstance(horizon, (int, float, str)):
        raise ApiError(400, f"horizon must be a number of steps or a duration like '7d', got {horizon!r}", "horizon")
    if isinstance(horizon, float):
        if not horizon.is_integer():
            raise ApiError(400, f"horizon must be a whole number of steps, got {horizon}", "horizon")
        horizon = int(horizon)
    level = fields.raw("level", [80, 95])
    if isinstance(level, bool) or not isinstance(level, (int, float, list)) or (
            isinstance(level, list) and (len(level) > 10 or any(isinstance(v, bool) for v in level))):
        raise ApiError(400, f"level must be a number or an array of up to 10 numbers in (0, 100), got {level!r}",
                       "level")
    try:
        levels = parse_levels(level)
    except InputError as exc:
        raise ApiError(400, str(exc), "level") from None
    ident, interval, load = _series_input(fields)
    try:
        steps = parse_horizon(horizon, interval)
    except InputError as exc:
        raise ApiError(400, str(exc), "horizon") from None
    settings = _settings()
    # A dataset's custom events are the model's regressors; they are not its content (its id), so key on them.
    events = _store().events(ident["dataset"]) if "dataset" in ident else ()
    if events:
        ident["events"] = events_digest(events)

    def compute() -> dict:
        result = forecast_at(load(), model, steps=steps, target=target, levels=levels, params={"events": events},
                             cache=ModelCache(settings.models_dir), dataset_id=ident.get("dataset"))
        return to_jsonable(result.to_dict())

    value, hit = _cached("forecast", ident, {"model": model, "target": target, "steps": steps, "levels": levels},
                         compute)
    return jsonify({**value, "cached": hit})


_SCALING_FIELDS = ("predicted_load", "current_servers", "config", "policy", "sla_target", "interval_minutes",
                   "safety_margin", *MODEL_FIELDS)


@bp.post("/recommend-scaling")
def recommend_scaling():
    fields = Fields(read_json(request), _SCALING_FIELDS)
    load = fields.raw("predicted_load")
    if load is None:
        raise ApiError(400, "predicted_load is required: an array of predicted requests per period", "predicted_load")
    if not isinstance(load, list):
        raise ApiError(400, f"predicted_load must be an array of numbers, got {type(load).__name__}", "predicted_load")
    if len(load) > MAX_POINTS:
        raise ApiError(413, f"predicted_load holds {len(load):,} points; at most {MAX_POINTS:,} are accepted",
                       "predicted_load")
    if not fields.has("current_servers"):
        raise ApiError(400, "current_servers is required: the number of servers running now", "current_servers")
    current = fields.number("current_servers", lo=0, hi=1_000_000, integer=True)
    policy = fields.string("policy", "predictive", choices=_POLICIES)
    sla = fields.number("sla_target", lo=0, hi=100)
    minutes = fields.number("interval_minutes", 5, lo=0, lo_open=True, hi=1440)
    margin = fields.number("safety_margin", lo=0, hi=10)
    cfg = scaling_config(fields.raw("config"))
    model = model_from(fields)
    try:
        result = recommend_action(load, current, config=cfg, policy=policy, model=model, interval_minutes=minutes,
                                  sla_target_pct=sla, safety_margin=margin)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return jsonify(to_jsonable(result.to_dict()))


_METRIC_FIELDS = ("dataset_id", "models", "protocol", "granularity", "train_end", "test_end", "target")


@bp.get("/metrics")
def metrics():
    return metrics_answer(request.args.to_dict())


def metrics_answer(query: dict):
    """``GET /api/metrics`` of a parsed query (also the original ``GET /metrics``: :mod:`dashapp.web.compat`)."""
    fields = Fields(query, _METRIC_FIELDS, query=True)
    if not fields.has("dataset_id"):
        raise ApiError(400, "dataset_id is required, e.g. /api/metrics?dataset_id=default", "dataset_id")
    store = _store()
    ds_id = dataset_id_of(store, fields.raw("dataset_id"))
    gran = fields.string("granularity", "5min", max_len=20)
    try:
        interval = parse_granularity(gran)
    except ValueError as exc:
        raise ApiError(400, f"granularity: {exc}", "granularity") from None
    names = accepted_model_names()
    raw_models = fields.string("models", ",".join(DEFAULT_METRIC_MODELS), max_len=200)
    models = [m.strip().lower() for m in raw_models.split(",") if m.strip()]
    bad = [m for m in models if m not in names]
    if bad or not models or len(models) > len(names):
        raise ApiError(400, f"models must be a comma-separated list of {', '.join(names)}, got {raw_models!r}",
                       "models")
    protocol = fields.string("protocol", "one-step", choices=PROTOCOLS)
    target = fields.string("target", "requests", choices=TARGETS)
    train_end = fields.string("train_end", None, max_len=40)
    test_end = fields.string("test_end", None, max_len=40)

    def compute() -> dict:
        try:
            series = dataset_series(store, ds_id).resample(interval)
        except ValueError as exc:
            raise ApiError(400, f"granularity: {exc}", "granularity") from None
        report = backtest(series, models, train_end=train_end or _default_train_end(series), test_end=test_end,
                          protocol=protocol, target=target)
        return to_jsonable({"dataset_id": ds_id, **report.to_dict()})

    params = {"granularity_s": interval.total_seconds(), "models": models, "protocol": protocol, "target": target,
              "train_end": train_end, "test_end": test_end}
    value, hit = _cached("backtest", {"dataset": ds_id}, params, compute)
    return jsonify({**value, "cached": hit})


def _default_train_end(series) -> str:
    """The last training period of the default split (``core.forecast.split``), the same as the Forecast page's."""
    test_start = default_test_start(series.start, series.end)
    if test_start is None:
        raise ApiError(400, f"the series ({series.start} .. {series.end}) is too short for the default split "
                            f"(at least {MIN_HISTORY.days} days of training before the test days); give train_end",
                       "train_end")
    return series.index[max(0, series.index.searchsorted(test_start) - 1)].isoformat()


_COST_FIELDS = ("dataset_id", "series", "interval_minutes", "granularity", "start", "end", "config", "policy",
                "policy_config", *MODEL_FIELDS)


@bp.post("/cost-report")
def cost_report():
    return cost_report_answer(read_json(request))


def cost_report_answer(body: dict, query: bool = False):
    """``POST /api/cost-report`` of a parsed body, or (``query``) of a query string's values: the original
    ``GET /cost-report`` (:mod:`dashapp.web.compat`)."""
    fields = Fields(body, _COST_FIELDS, query=query)
    cfg = scaling_config(fields.raw("config"))
    policy = parse_policy(fields.string("policy", "balanced", choices=_POLICIES))
    model = model_from(fields)
    if fields.has("policy_config"):  # a recommendation's {"policy", "config"}, as `simulate --config-json`
        try:
            cfg, policy, model = from_policy_dict(fields.raw("policy_config"), model)
        except ValueError as exc:
            raise ApiError(400, f"policy_config: {exc}", "policy_config") from None
    _ident, _interval, load = _series_input(fields, window=False)
    series = load()
    # The window is cut by prepare(): periods before it remain the predictive policy's forecast history.
    try:
        prep = prepare(series, model, start=fields.string("start", max_len=40), end=fields.string("end", max_len=40))
    except (ValueError, TypeError) as exc:
        raise ApiError(400, f"start/end: {exc}") from None
    return jsonify(to_jsonable(build_cost_report(prep, cfg, policy).to_dict()))


_RECOMMEND_FIELDS = ("dataset_id", "granularity", "start", "end", "sla_pct", "folds", "test_start", "budget",
                     *MODEL_FIELDS)


@bp.post("/recommend")
def recommend_policy():
    """Walk-forward recommendation (``core.scaling.walkforward``), as ``python -m core recommend --json``."""
    fields = Fields(read_json(request), _RECOMMEND_FIELDS)
    if not fields.has("dataset_id"):
        raise ApiError(400, "dataset_id is required (GET /api/datasets lists them, or 'default')", "dataset_id")
    sla = fields.number("sla_pct", 1.0, lo=0, hi=100)
    folds = fields.number("folds", None, lo=1, hi=52, integer=True)
    budget = fields.number("budget", 2000, lo=9, hi=20_000, integer=True)
    test_start = fields.string("test_start", None, max_len=40)
    model = model_from(fields)
    ident, _interval, load = _series_input(fields)

    def compute() -> dict:  # core's InputError becomes a 400 through the blueprint's error handler
        rec = walk_forward(load(), model, sla_pct=sla, folds=folds, test_start=test_start, budget=budget)
        return to_jsonable(rec.to_dict())

    params = {"sla": sla, "folds": folds, "budget": budget, "test_start": test_start, "model": model.to_dict()}
    value, hit = _cached("recommend", ident, params, compute)
    return jsonify({**value, "cached": hit})


_PLAN_FIELDS = ("dataset_id", "granularity", "start", "end", "horizon", "origin", "sla_pct", "paths", "seed",
                "folds", "budget", "fan", *MODEL_FIELDS)


@bp.post("/plan")
def capacity_plan():
    """A capacity plan (``core.scaling.plan``), as ``python -m core plan --json``."""
    fields = Fields(read_json(request), _PLAN_FIELDS)
    if not fields.has("dataset_id"):
        raise ApiError(400, "dataset_id is required (GET /api/datasets lists them, or 'default')", "dataset_id")
    horizon = fields.string("horizon", "7d", max_len=20)
    origin = fields.string("origin", None, max_len=40)
    sla = fields.number("sla_pct", 1.0, lo=0, hi=100)
    paths = fields.number("paths", 200, lo=MIN_PATHS, hi=MAX_PATHS, integer=True)
    seed = fields.number("seed", 0, lo=0, hi=2**31 - 1, integer=True)
    folds = fields.number("folds", None, lo=1, hi=52, integer=True)
    budget = fields.number("budget", 2000, lo=9, hi=20_000, integer=True)
    fan = fields.raw("fan", False)
    if not isinstance(fan, bool):
        raise ApiError(400, f"fan must be true or false, got {fan!r}", "fan")
    model = model_from(fields)
    ident, _interval, load = _series_input(fields)

    def compute() -> dict:  # core's InputError becomes a 400 through the blueprint's error handler
        p = build_plan(load(), model, horizon=horizon, origin=origin, sla_pct=sla, paths=paths, seed=seed,
                       folds=folds, budget=budget)
        return to_jsonable(p.to_dict())

    params = {"horizon": horizon, "origin": origin, "sla": sla, "paths": paths, "seed": seed, "folds": folds,
              "budget": budget, "model": model.to_dict()}
    value, hit = _cached("plan", ident, params, compute)
    if not fan:
        value = {**value, "forecast": {k: v for k, v in value["forecast"].items() if k != "fan"}}
    return jsonify({**value, "cached": hit})
_EXPORT_POLICY_FIELDS = ("dataset", "format", "granularity", "policy", "sla_pct", "name", "namespace")


@bp.get("/export-policy")
def export_policy_file():
    """A scaling policy as autoscaler configuration (``core.scaling.deploy``), as ``python -m core export-policy``:
    a preset ``policy=CONFIG/POLICY``, else the walk-forward recommendation on ``dataset`` (or its candidate)."""
    fields = Fields(request.args.to_dict(), _EXPORT_POLICY_FIELDS, query=True)
    if not fields.has("format"):
        raise ApiError(400, f"format is required: one of {', '.join(DEPLOY_FORMATS)}", "format")
    fmt = fields.string("format", choices=DEPLOY_FORMATS)
    name = fields.string("policy", None, max_len=100)
    sla = fields.number("sla_pct", 1.0, lo=0, hi=100)
    try:
        interval = parse_granularity(fields.string("granularity", "5min", max_len=20))
    except ValueError as exc:
        raise ApiError(400, f"granularity: {exc}", "granularity") from None
    policy, warning = (preset_policy(name), None) if name else (None, None)  # InputError: a 400 with the fix
    if policy is None:
        if not fields.has("dataset"):
            raise ApiError(400, "dataset is required for the recommended policy or a candidate (GET /api/datasets "
                                "lists them), or give policy=CONFIG/POLICY, e.g. balanced/target_tracking", "dataset")
        store = _store()
        ds_id = dataset_id_of(store, fields.raw("dataset"))

        def compute() -> dict:
            try:
                series = dataset_series(store, ds_id).resample(interval)
            except ValueError as exc:
                raise ApiError(400, f"granularity: {exc}", "granularity") from None
            return to_jsonable(candidate_policies(walk_forward(series, SimulationModel(), sla_pct=sla)))

        cands, _hit = _cached("export-policy", {"dataset": ds_id}, {"granularity_s": interval.total_seconds(),
                                                                    "sla": sla}, compute)
        policy, warning = select_policy(name, cands)
    exp = export_policy(policy, fmt, name=fields.string("name", "web", max_len=63),
                        namespace=fields.string("namespace", "default", max_len=63),
                        interval_minutes=interval.total_seconds() / 60)
    resp = current_app.response_class(exp.text, mimetype=exp.media_type)
    resp.headers["Content-Disposition"] = f'attachment; filename="{exp.filename}"'
    if warning:
        resp.headers["X-Policy-Warning"] = warning
    return resp


@bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def _unmatched(rest: str):
    # Without this, Dash's catch-all page route would answer unknown /api paths (and GET on POST routes)
    # with the app's HTML and a 200.
    return unmatched_route()


# -- wiring --------------------------------------------------------------------------------------


def init_api(server: Flask, settings) -> None:
    """Register the /api blueprint on the Flask ``server``."""
    server.register_blueprint(bp)
