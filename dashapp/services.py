"""What the pages compute, as plain functions over ``core`` with the shared result cache.

Pages and callbacks call these and render the results; the numbers all come
from ``core``. Each ``*_result`` function takes validated inputs (see
``state``), computes through ``ResultCache.get_or_compute`` and returns core
results (pickled in the cache, so later visits from any worker are hits).
Timelines are trimmed to the columns the charts use before caching.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from core.anomalies import detect_anomalies
from core.errors import InputError
from core.events import Event, builtin_events, events_digest, events_in_range
from core.forecast.cache import ModelCache
from core.forecast.result import ForecastResult, forecast_at
from core.scaling import Policy, SimulationModel
from core.scaling.matrix import run_matrix
from core.scaling.optimize import optimize
from core.scaling.plan import CapacityPlan, plan
from core.scaling.report import CostReport, cost_report
from core.scaling.simulate import prepare
from core.scaling.walkforward import Evaluation, evaluate
from core.scaling.whatif import LoadTransform, whatif
from core.selection import ModelChoice, select_model
from core.series import TrafficSeries
from core.store import DatasetStore
from dashapp.runtime.result_cache import ResultCache

__all__ = [
    "Dataset",
    "load_dataset",
    "load_series",
    "metric_problem",
    "metric_values",
    "anomaly_periods",
    "event_list",
    "simulation_result",
    "forecast_result",
    "scenarios_result",
    "walkforward_result",
    "whatif_result",
    "model_key",
    "SIM_COLUMNS",
]

SIM_COLUMNS = ("demand", "servers", "capacity", "dropped", "overloaded", "excluded", "p95_latency_s")


@dataclass(frozen=True)
class Dataset:
    """A dataset id with its metadata (what pages need before loading the series)."""

    id: str
    name: str
    interval_seconds: int
    start: pd.Timestamp
    end: pd.Timestamp
    synthetic: bool
    columns: tuple[str, ...]
    #: The dataset's custom events (``DatasetStore.events``): the forecasts' regressors and the charts' bands, with
    #: the built-in calendar.
    events: tuple[Event, ...] = ()


def load_dataset(store: DatasetStore, dataset_id: str) -> Dataset:
    info = store.info(dataset_id)
    start = pd.Timestamp(info.start)
    end = pd.Timestamp(info.end)
    if end <= start:  # meta end is the last period start for some sources
        end = start + pd.Timedelta(seconds=info.interval_seconds)
    return Dataset(info.id, info.name, info.interval_seconds, start, end, info.synthetic, tuple(info.columns),
                   store.events(dataset_id))


def load_series(rc: ResultCache, store: DatasetStore, dataset_id: str, minutes: int) -> TrafficSeries:
    """The dataset at ``minutes`` per period (unique-host pairs dropped: the pages do not chart them)."""

    def compute():
        s = replace(store.get(dataset_id), host_pairs=None)
        if minutes * 60 != int(s.interval.total_seconds()):
            s = s.resample(f"{minutes}min")
        return s

    return rc.get_or_compute(rc.key("series", dataset_id, {"minutes": minutes}), compute)[0]


def metric_problem(series: TrafficSeries, metric: str) -> str | None:
    """Why ``metric`` cannot be shown for this series, or None."""
    cols = series.frame.columns
    if metric == "bytes" and "bytes" not in cols:
        return "this dataset has no bytes column; showing requests"
    if metric == "error_rate" and not ({"errors_4xx", "errors_5xx"} & set(cols)):
        return "this dataset has no error counts; showing requests"
    return None


def metric_values(series: TrafficSeries, metric: str) -> np.ndarray:
    """Requests, bytes or error rate (% of requests answered 4xx/5xx) per period; NaN where absent."""
    f = series.frame
    if metric == "requests":
        return series.requests
    if metric == "bytes":
        if "bytes" not in f.columns:
            raise InputError("this dataset has no bytes column; choose requests")
        return f["bytes"].to_numpy(dtype=np.float64)
    if metric == "error_rate":
        cols = [c for c in ("errors_4xx", "errors_5xx") if c in f.columns]
        if not cols:
            raise InputError("this dataset has no error counts; choose requests")
        err = f[cols].to_numpy(dtype=np.float64).sum(axis=1)
        req = series.requests
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(req > 0, 100.0 * err / req, np.nan)
    raise InputError(f"unknown metric {metric!r}")


def anomaly_periods(rc: ResultCache, dataset_id: str, series: TrafficSeries, target: str = "requests",
                    end: pd.Timestamp | None = None, cached_only: bool = False) -> list[dict] | None:
    """Anomalous runs (start, end, method, score) from ``core.anomalies``, up to ``end`` if given. With
    ``cached_only`` returns None instead of computing."""
    params = {"minutes": series.interval_minutes, "target": target, "end": str(end) if end is not None else None}
    key = rc.key("anomalies", dataset_id, params)
    if cached_only:
        return rc.get(key)

    def compute():
        s = series if end is None else series.window(None, end)
        try:
            return detect_anomalies(s, target=target).periods
        except InputError:
            return []  # too short to score: nothing to mark

    return rc.get_or_compute(key, compute)[0]


def event_list(start, end, custom=()) -> list[dict]:
    """Built-in calendar events and the dataset's ``custom`` ones overlapping ``[start, end)``."""
    return events_in_range(builtin_events() + tuple(custom), start, end)


def model_key(model: SimulationModel) -> dict:
    return model.to_dict()


def _trim(result, columns=SIM_COLUMNS):
    if result.timeline is not None:
        result.timeline = result.timeline[[c for c in columns if c in result.timeline.columns]]
    return result


def simulation_result(rc: ResultCache, dataset_id: str, series: TrafficSeries, config: str, policy: str,
                      model: SimulationModel, start, end, cached_only: bool = False) -> CostReport | None:
    """One configuration x policy over ``[start, end)`` (whole series as forecast history) beside the
    baselines: core's :class:`~core.scaling.report.CostReport`, with the scenario's chart columns. With
    ``cached_only`` returns None instead of computing."""
    params = {"minutes": series.interval_minutes, "config": config, "policy": policy, "model": model_key(model),
              "start": str(start), "end": str(end)}
    key = rc.key("cost-report", dataset_id, params)
    if cached_only:
        return rc.get(key)

    def compute():
        return cost_report(prepare(series, model, start=start, end=end), config, policy,
                           timeline_columns=SIM_COLUMNS)

    return rc.get_or_compute(key, compute)[0]


def forecast_result(rc: ResultCache, dataset_id: str, series: TrafficSeries, *, model: str, target: str,
                    origin: pd.Timestamp, steps: int, levels: tuple[float, ...], anomalies: bool,
                    models_dir, progress=None, cached_only: bool = False, backtest: bool = True,
                    events: tuple[Event, ...] = ()) -> ForecastResult | None:
    """Core's :func:`~core.forecast.result.forecast_at` from ``origin`` with (``backtest``) its backtest (when
    the data goes on past the origin) and, with ``anomalies``, the anomalous runs of the history; through the
    result cache. ``events`` (the dataset's custom ones) are the model's regressors beside the built-in
    calendar, and part of the key. With ``cached_only`` returns None instead of computing."""
    params = {"minutes": series.interval_minutes, "model": model, "target": target, "origin": str(origin),
              "steps": steps, "levels": list(levels), "anomalies": anomalies, "backtest": backtest,
              "events": events_digest(events)}
    key = rc.key("forecast", dataset_id, params)
    if cached_only:
        return rc.get(key)

    def compute():
        out = forecast_at(series, model, steps=steps, target=target, levels=levels, origin=origin,
                          params={"events": tuple(events)}, cache=ModelCache(models_dir), dataset_id=dataset_id,
                          backtest=backtest, progress=progress)
        if anomalies:
            pos = int(series.index.searchsorted(origin))
            out.anomalies = anomaly_periods(rc, dataset_id, series, target, end=series.index[pos - 1]
                                            + series.interval)
        return out

    return rc.get_or_compute(key, compute)[0]


def model_choice(dataset_id: str, series: TrafficSeries, *, target: str, steps: int, origin: pd.Timestamp,
                 models_dir, cached_only: bool = False) -> ModelChoice | None:
    """Core's :func:`~core.selection.select_model` for a forecast of ``steps`` from ``origin`` (data before it
    only), cached beside the trained models; with ``cached_only`` None unless it is cached."""
    return select_model(series, steps, use="forecast", target=target, cut=origin, dataset_id=dataset_id,
                        cache_dir=Path(models_dir), cached_only=cached_only)


def scenarios_result(rc: ResultCache, dataset_id: str, series: TrafficSeries, model: SimulationModel, start, end,
                     budget: int, progress=None, cached_only: bool = False) -> dict | None:
    """The 3 x 3 matrix with baselines, and the optimizer's Pareto front: ``{"matrix", "front"}``."""
    params = {"minutes": series.interval_minutes, "model": model_key(model), "start": str(start), "end": str(end),
              "budget": budget}
    key = rc.key("scenarios", dataset_id, params)
    if cached_only:
        return rc.get(key)

    def compute():
        if progress is not None:
            progress(1, 100)
        matrix = run_matrix(series, model, start=start, end=end)
        if progress is not None:
            progress(10, 100)
        front = optimize(series, model, budget=budget, start=start, end=end,
                         progress=(lambda d, t: progress(10 + int(88 * d / max(t, 1)), 100)) if progress else None)
        return {"matrix": matrix, "front": front}

    return rc.get_or_compute(key, compute)[0]


def walkforward_result(rc: ResultCache, dataset_id: str, series: TrafficSeries, model: SimulationModel,
                       progress=None, cached_only: bool = False) -> Evaluation | None:
    """Core's walk-forward :func:`~core.scaling.walkforward.evaluate` over the whole series (the folds take
    the last weeks the data allow); independent of the SLA, which :func:`~core.scaling.walkforward.choose`
    applies. With ``cached_only`` returns None instead of computing."""
    key = rc.key("walkforward", dataset_id, {"minutes": series.interval_minutes, "model": model_key(model)})
    if cached_only:
        return rc.get(key)
    # The predictive policies run the forecaster a deployment would run ("auto"), as `recommend` does.
    return rc.get_or_compute(key, lambda: evaluate(series, model, forecaster="auto", progress=progress))[0]


def plan_result(rc: ResultCache, dataset_id: str, series: TrafficSeries, model: SimulationModel, *, horizon: str,
                origin, sla_pct: float, paths: int, progress=None, cached_only: bool = False) -> CapacityPlan | None:
    """Core's capacity :func:`~core.scaling.plan.plan` (the whole series: the walk-forward and the paths need its
    history). With ``cached_only`` returns None instead of computing."""
    params = {"minutes": series.interval_minutes, "model": model_key(model), "horizon": horizon,
              "origin": None if origin is None else str(origin), "sla": sla_pct, "paths": paths}
    key = rc.key("plan", dataset_id, params)
    if cached_only:
        return rc.get(key)
    return rc.get_or_compute(key, lambda: plan(series, model, horizon=horizon, origin=origin, sla_pct=sla_pct,
                                               paths=paths, progress=progress))[0]


def whatif_result(rc: ResultCache, dataset_id: str, series: TrafficSeries, config: str, policy: str,
                  transform: LoadTransform, overrides: dict, start, end, cached_only: bool = False):
    """Baseline (the load as it is, default model) vs scenario (transformed load, overridden model). With
    ``cached_only`` returns None instead of computing."""
    spikes = [(str(s.start), s.duration_minutes, s.magnitude, s.shape) for s in transform.spikes]
    params = {"minutes": series.interval_minutes, "config": config, "policy": policy,
              "mult": transform.multiplier, "growth": transform.weekly_growth_pct, "spikes": spikes,
              "overrides": overrides, "start": str(start), "end": str(end)}
    key = rc.key("whatif", dataset_id, params)
    if cached_only:
        return rc.get(key)

    def compute():
        res = whatif(series, config, Policy(policy), SimulationModel(), transform=transform, overrides=overrides,
                     start=start, end=end, timelines=True)
        cols = ("demand", "servers", "capacity", "overloaded", "excluded")
        _trim(res.baseline, cols)
        _trim(res.scenario, cols)
        return res

    return rc.get_or_compute(key, compute)[0]
