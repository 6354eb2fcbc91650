"""What the pages compute, as plain functions over ``core`` with the shared result cache.

Pages and callbacks call these and render the results; the numbers all come
from ``core``. Each ``*_result`` function takes validated inputs (see
``state``), computes through ``ResultCache.get_or_compute`` and returns core
results (pickled in the cache, so later visits from any worker are hits).
Timelines are trimmed to the columns the charts use before caching.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from core.anomalies import detect_anomalies
from core.errors import InputError
from core.events import builtin_events, events_in_range
from core.forecast import backtest_protocols
from core.forecast.base import target_values
from core.forecast.cache import ModelCache
from core.scaling import Policy, SimulationModel, get_preset, parse_policy
from core.scaling.matrix import run_matrix
from core.scaling.optimize import optimize
from core.scaling.simulate import prepare, run_meta, run_scenarios
from core.scaling.whatif import LoadTransform, whatif
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


def load_dataset(store: DatasetStore, dataset_id: str) -> Dataset:
    info = store.info(dataset_id)
    start = pd.Timestamp(info.start)
    end = pd.Timestamp(info.end)
    if end <= start:  # meta end is the last period start for some sources
        end = start + pd.Timedelta(seconds=info.interval_seconds)
    return Dataset(info.id, info.name, info.interval_seconds, start, end, info.synthetic, tuple(info.columns))


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
                    end: pd.Timestamp | None = None) -> list[dict]:
    """Anomalous runs (start, end, method, score) from ``core.anomalies``, up to ``end`` if given."""
    params = {"minutes": series.interval_minutes, "target": target, "end": str(end) if end is not None else None}

    def compute():
        s = series if end is None else series.window(None, end)
        try:
            return detect_anomalies(s, target=target).periods
        except InputError:
            return []  # too short to score: nothing to mark

    return rc.get_or_compute(rc.key("anomalies", dataset_id, params), compute)[0]


def event_list(start, end) -> list[dict]:
    """Built-in calendar events overlapping ``[start, end)``."""
    return events_in_range(builtin_events(), start, end)


def model_key(model: SimulationModel) -> dict:
    return model.to_dict()


def _trim(result, columns=SIM_COLUMNS):
    if result.timeline is not None:
        result.timeline = result.timeline[[c for c in columns if c in result.timeline.columns]]
    return result


def simulation_result(rc: ResultCache, dataset_id: str, series: TrafficSeries, config: str, policy: str,
                      model: SimulationModel, start, end) -> dict:
    """One configuration x policy over ``[start, end)`` (whole series as forecast history) with the
    static-peak baseline for "savings vs static". Returns ``{"result", "static_peak", "meta"}``."""
    params = {"minutes": series.interval_minutes, "config": config, "policy": policy, "model": model_key(model),
              "start": str(start), "end": str(end)}

    def compute():
        prep = prepare(series, model, start=start, end=end)
        res = run_scenarios(prep, [(get_preset(config), parse_policy(policy))], baselines=True, timelines=True)
        main = _trim(res[0])
        static = next(r for r in res if r.name == "static_peak")
        return {"result": main, "static_peak": static.totals.to_dict(), "meta": run_meta(prep)}

    return rc.get_or_compute(rc.key("simulation", dataset_id, params), compute)[0]


def forecast_result(rc: ResultCache, dataset_id: str, series: TrafficSeries, *, model: str, target: str,
                    origin: pd.Timestamp, steps: int, levels: tuple[float, ...], anomalies: bool,
                    models_dir, progress=None, cached_only: bool = False) -> dict | None:
    """Fit ``model`` on the history before ``origin``, forecast ``steps`` periods with intervals, and
    backtest it beside the seasonal naive on ``[origin, origin + steps)`` under every protocol.

    Returns a dict with ``history``/``actual`` (timestamps, values), ``forecast`` (core's predict dict),
    ``backtest`` (``{protocol: report.to_dict()}`` or None when there is no data after the origin),
    ``anomalies``, ``notes``. With ``cached_only`` returns None instead of computing.
    """
    params = {"minutes": series.interval_minutes, "model": model, "target": target, "origin": str(origin),
              "steps": steps, "levels": list(levels), "anomalies": anomalies}
    key = rc.key("forecast", dataset_id, params)
    if cached_only:
        return rc.get(key)

    def report(done: float) -> None:
        if progress is not None:
            progress(min(100, int(done)), 100)

    def compute():
        notes = []
        y_all = target_values(series, target)
        pos = int(series.index.searchsorted(origin))
        train = TrafficSeries(series.frame.iloc[:pos], series.interval, series.gaps)
        report(2)
        fitted, hit = ModelCache(models_dir).get_or_fit(
            model, train, target=target, dataset_id=dataset_id,
            progress=lambda d, t: report(5 + 35 * d / max(t, 1)))
        try:
            pred = fitted.predict(steps, level=levels)
        except InputError as exc:
            notes.append(f"No prediction intervals: {exc}")
            pred = fitted.predict(steps, level=None)
        report(45)
        hist_n = max(int(pd.Timedelta(days=7) / series.interval), 3 * steps)
        lo = max(0, pos - hist_n)
        end_pos = min(len(series), pos + steps)
        out = {
            "model": model, "label": fitted.label, "target": target, "from_model_cache": hit,
            "history": (series.index[lo:pos], y_all[lo:pos]),
            "actual": (series.index[pos:end_pos], y_all[pos:end_pos]),
            "forecast": pred, "levels": [lv for lv in levels if f"lo-{lv:g}" in pred],
            "backtest": None, "anomalies": [], "notes": notes,
        }
        if end_pos > pos:
            models = [model] if model == "seasonal_naive" else [model, "seasonal_naive"]
            train_end = (series.index[pos - 1]).isoformat()
            test_end = (series.index[end_pos - 1]).isoformat()
            try:
                # The model just fitted on the history before the origin is the backtest's model too.
                reps = backtest_protocols(series, models, train_end=train_end, test_end=test_end, target=target,
                                          progress=lambda d, t: report(45 + 45 * d / max(t, 1)),
                                          fitted={model: fitted})
                out["backtest"] = {p: r.to_dict() for p, r in reps.items()}
            except InputError as exc:
                notes.append(f"Backtest skipped: {exc}")
        else:
            notes.append("No data after the origin: pick an earlier origin to backtest and compare.")
        if anomalies:
            out["anomalies"] = anomaly_periods(rc, dataset_id, series, target, end=series.index[pos - 1]
                                               + series.interval)
        report(100)
        return out

    return rc.get_or_compute(key, compute)[0]


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


def whatif_result(rc: ResultCache, dataset_id: str, series: TrafficSeries, config: str, policy: str,
                  transform: LoadTransform, overrides: dict, start, end):
    """Baseline (the load as it is, default model) vs scenario (transformed load, overridden model)."""
    spikes = [(str(s.start), s.duration_minutes, s.magnitude, s.shape) for s in transform.spikes]
    params = {"minutes": series.interval_minutes, "config": config, "policy": policy,
              "mult": transform.multiplier, "growth": transform.weekly_growth_pct, "spikes": spikes,
              "overrides": overrides, "start": str(start), "end": str(end)}

    def compute():
        res = whatif(series, config, Policy(policy), SimulationModel(), transform=transform, overrides=overrides,
                     start=start, end=end, timelines=True)
        cols = ("demand", "servers", "capacity", "overloaded", "excluded")
        _trim(res.baseline, cols)
        _trim(res.scenario, cols)
        return res

    return rc.get_or_compute(rc.key("whatif", dataset_id, params), compute)[0]
