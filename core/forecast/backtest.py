"""Backtests (one-step, day-ahead, one-shot), metrics, and rolling k-step forecasts.

Every forecast here comes from ``Forecaster.predict_paths``, which reads only
data before each origin; models are fitted on the training window only. Gap
periods (no data, outages) are left out of training and of scoring.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.base import (
    MAX_HORIZON,
    Forecaster,
    canonical_model_name,
    make_model,
    model_aliases,
    model_names,
    target_values,
)
from core.forecast.online import adaptive_label, fixed_label, online_intervals
from core.series import TrafficSeries

__all__ = [
    "CALIBRATIONS",
    "CRPS_TAUS",
    "PROTOCOLS",
    "BacktestReport",
    "backtest",
    "backtest_protocols",
    "crps_from_quantiles",
    "metrics",
    "pinball_loss",
    "rolling_forecast",
    "split_series",
    "mase_scale",
]

PROTOCOLS = ("one-step", "day-ahead", "one-shot")
#: Interval calibration of the rolling protocols (one-shot is always fixed): ``adaptive`` recalibrates online
#: as actuals arrive (:mod:`core.forecast.online`), ``fixed`` keeps the fit-time calibration.
CALIBRATIONS = ("adaptive", "fixed")
DEFAULT_CALIBRATION = "adaptive"
_LEVELS = (80, 95)
#: Quantile levels behind the CRPS: the midpoints of 50 equal slices of (0, 1) (0.01, 0.03, ..., 0.99).
#: Symmetric around 0.5, so the CRPS of a point forecast (every quantile = the mean) is exactly its MAE.
CRPS_TAUS = (np.arange(50) + 0.5) / 50
#: The central interval levels whose bounds are those quantiles (98, 94, ..., 2 percent).
_CRPS_LEVELS = tuple(round((1 - 2 * t) * 100, 6) for t in CRPS_TAUS[:25])


def _inclusive_end(series: TrafficSeries, value) -> int:
    """Number of periods starting at or before ``value`` (a date alone means that whole day)."""
    text = str(value).strip()
    ts = pd.Timestamp(text)
    if ts.tz is None:
        ts = ts.tz_localize(series.index.tz)
    if len(text) <= 10 and ts == ts.normalize():
        ts = ts + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    return int(series.index.searchsorted(ts, side="right"))


def split_series(series: TrafficSeries, train_end, test_end=None) -> tuple[int, int]:
    """Positions ``(m, n)``: training is ``[0, m)``, test ``[m, n)`` (both ends inclusive of the given times).

    Raises:
        InputError: an empty training or test window.
    """
    try:
        m = _inclusive_end(series, train_end)
        n = len(series) if test_end is None else _inclusive_end(series, test_end)
    except (ValueError, TypeError) as exc:
        raise InputError(f"train_end/test_end must be timestamps like '1995-08-22 23:59': {exc}") from exc
    if m < 1 or m >= len(series):
        raise InputError(
            f"train_end {train_end!r} leaves no training or no test data; the series covers "
            f"{series.start} .. {series.end}"
        )
    if n <= m:
        raise InputError(f"test_end {test_end!r} must be after train_end {train_end!r}")
    return m, n


def mase_scale(y_train: np.ndarray, steps_per_day: int) -> float:
    """In-sample MAE of the one-day seasonal naive forecast (pairs touching a gap skipped)."""
    d = np.abs(y_train[steps_per_day:] - y_train[:-steps_per_day])
    d = d[~np.isnan(d)]
    return float(d.mean()) if d.size else float("nan")


def pinball_loss(truth, q, tau: float) -> float:
    """Mean pinball (quantile) loss of the ``tau`` quantile forecast ``q``; NaN truth or forecast ignored.

    ``tau * (y - q)`` when the truth is above the quantile, ``(1 - tau) * (q - y)`` when below.
    """
    y, q = np.asarray(truth, dtype=np.float64), np.asarray(q, dtype=np.float64)
    ok = ~np.isnan(y) & ~np.isnan(q)
    d = y[ok] - q[ok]
    return float(np.mean(np.maximum(tau * d, (tau - 1) * d))) if d.size else float("nan")


def crps_from_quantiles(truth, quantiles: dict) -> float:
    """CRPS approximated from quantile forecasts: ``2 * mean over tau of the pinball loss``.

    The CRPS is ``2 * integral over (0, 1) of the pinball loss of the tau quantile``; with ``quantiles``
    at the midpoints of equal slices of (0, 1) (:data:`CRPS_TAUS`) this is the midpoint rule. Exact for
    a point forecast (every quantile equal: the CRPS is the absolute error).

    Args:
        truth: observed values (NaN ignored).
        quantiles: ``{tau: array of the tau quantile}``, same shape as ``truth``.
    """
    y = np.asarray(truth, dtype=np.float64)
    ok = ~np.isnan(y)
    if not quantiles or not ok.any():
        return float("nan")
    return float(2 * np.mean([pinball_loss(y[ok], np.asarray(q)[ok], tau) for tau, q in quantiles.items()]))


def metrics(truth, mean, lo=None, hi=None, scale: float | None = None, quantiles: dict | None = None) -> dict:
    """RMSE, MSE, MAE, MAPE (zero truth excluded), sMAPE, MASE, R², interval coverage and probabilistic scores.

    ``r2`` is the coefficient of determination over the scored periods, ``1 - SSE / SST`` with SST
    around the mean of the truth (1 is perfect, 0 no better than that mean, negative worse); None
    when the truth does not vary.

    ``lo``/``hi`` map a level (80, 95) to bound arrays: the bounds of an L% interval are the
    ``(1 -/+ L/100) / 2`` quantiles, so ``pinball_80`` is the mean of the pinball losses of ``lo[80]``
    (tau 0.1) and ``hi[80]`` (tau 0.9), ``pinball_95`` of ``lo[95]`` (0.025) and ``hi[95]`` (0.975).
    ``quantiles`` maps tau to quantile arrays (:data:`CRPS_TAUS`) for the ``crps``
    (:func:`crps_from_quantiles`). Scores without their inputs are None. NaN truth is ignored.
    """
    truth = np.asarray(truth, dtype=np.float64)
    mean = np.asarray(mean, dtype=np.float64)
    ok = ~np.isnan(truth) & ~np.isnan(mean)
    y, f = truth[ok], mean[ok]
    e = y - f
    out = {"n": int(ok.sum())}
    if not y.size:
        return out | {k: None for k in ("rmse", "mse", "mae", "mape", "smape", "mase", "r2", "crps",
                                        *(f"pinball_{lev}" for lev in _LEVELS))}
    out["mse"] = float(np.mean(e**2))
    out["rmse"] = float(np.sqrt(out["mse"]))
    out["mae"] = float(np.mean(np.abs(e)))
    nz = y != 0
    out["mape"] = float(np.mean(np.abs(e[nz] / y[nz])) * 100) if nz.any() else None
    out["mape_excluded_zero_truth"] = int((~nz).sum())
    den = np.abs(y) + np.abs(f)
    out["smape"] = float(np.mean(np.where(den > 0, 2 * np.abs(e) / np.where(den > 0, den, 1), 0.0)) * 100)
    out["mase"] = float(out["mae"] / scale) if scale and np.isfinite(scale) and scale > 0 else None
    sst = float(np.sum((y - y.mean()) ** 2))
    out["r2"] = 1.0 - float(np.sum(e**2)) / sst if sst > 0 else None
    for lev in _LEVELS:
        if lo is not None and lev in lo:
            lo_v, hi_v = np.asarray(lo[lev])[ok], np.asarray(hi[lev])[ok]
            out[f"coverage_{lev}"] = float(np.mean((y >= lo_v) & (y <= hi_v)) * 100)
        else:
            out[f"coverage_{lev}"] = None
        if lo is not None and lev in lo:
            tau = (1 - lev / 100) / 2
            out[f"pinball_{lev}"] = (pinball_loss(y, lo_v, tau) + pinball_loss(y, hi_v, 1 - tau)) / 2
        else:
            out[f"pinball_{lev}"] = None
    out["crps"] = crps_from_quantiles(y, {t: np.asarray(q)[ok] for t, q in quantiles.items()}) if quantiles else None
    return out


def protocol_origins(protocol: str, m: int, n: int, grid) -> tuple[np.ndarray, int, np.ndarray]:
    """Origins, path length and the number of steps scored from each origin."""
    if protocol == "one-step":
        origins = np.arange(m, n)
        return origins, 1, np.ones(len(origins), dtype=np.int64)
    if protocol == "day-ahead":
        spd = grid.steps_per_day
        pos = np.arange(m, n)
        midnights = pos[grid.tod(pos) == 0]
        origins = np.unique(np.concatenate([[m], midnights]))
        stops = np.append(origins[1:], n)
        return origins, spd, np.minimum(stops - origins, spd)
    if protocol == "one-shot":
        if (n - m) * grid.step > MAX_HORIZON:
            raise InputError("one-shot test windows are limited to 30 days; pass an earlier test_end")
        return np.array([m]), n - m, np.array([n - m])
    raise InputError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")


@dataclass
class BacktestReport:
    """Scores of several models under one protocol on one split."""

    protocol: str
    target: str
    granularity_minutes: float
    train: tuple[str, str]
    test: tuple[str, str]
    periods: int
    poisson_floor: float | None
    mase_scale: float
    results: dict[str, dict] = field(default_factory=dict)
    forecasts: dict[str, dict] = field(default_factory=dict, repr=False)

    def to_dict(self, include_forecasts: bool = False) -> dict:
        d = {
            "protocol": self.protocol,
            "target": self.target,
            "granularity_minutes": self.granularity_minutes,
            "train": {"start": self.train[0], "end": self.train[1]},
            "test": {"start": self.test[0], "end": self.test[1]},
            "periods": self.periods,
            "poisson_floor": self.poisson_floor,
            "mase_scale": self.mase_scale,
            "notes": "MAPE excludes periods with zero truth; MASE divides by the in-sample MAE of the "
            "one-day seasonal naive; gap periods are neither trained on nor scored; crps: 2 x the mean pinball "
            "loss of the calibrated quantiles at tau 0.01, 0.03, ..., 0.99; pinball_80/95: mean pinball loss of "
            "the interval bounds (tau 0.1 and 0.9 / 0.025 and 0.975)",
            "results": self.results,
        }
        if include_forecasts:
            d["forecasts"] = {k: {kk: _jsonable(v) for kk, v in f.items()} for k, f in self.forecasts.items()}
        return d


def _jsonable(v):
    if isinstance(v, pd.DatetimeIndex):
        return [t.isoformat() for t in v]
    if isinstance(v, np.ndarray):
        return [None if not np.isfinite(x) else float(x) for x in v]
    return v


def backtest(
    series: TrafficSeries,
    models=("seasonal_naive",),
    train_end="1995-08-22 23:59",
    test_end=None,
    protocol: str = "one-step",
    target: str = "requests",
    params: dict | None = None,
    progress=None,
    calibration: str = DEFAULT_CALIBRATION,
) -> BacktestReport:
    """Fit each model on the training window and score it on the test window.

    Args:
        series: the whole series (training then test), at the wanted granularity.
        models: registry names or aliases; results are keyed by the names as given.
        train_end, test_end: inclusive ends of training and test.
        protocol: ``one-step`` (true values arrive, no refit), ``day-ahead``
            (24 h from each local midnight) or ``one-shot`` (one path over the test).
        params: optional ``{model_name: {hyperparameter: value}}``.
        progress: ``progress(done, total)`` after each model.
        calibration: intervals of the rolling protocols (one-step, day-ahead): ``adaptive`` (recalibrated
            online as actuals arrive) or ``fixed`` (the fit-time calibration); one-shot is always fixed.
            Each result says which in ``calibration``.
    Returns:
        A :class:`BacktestReport`; its ``forecasts`` hold the scored paths.
    """
    return backtest_protocols(series, models, train_end, test_end, (protocol,), target, params, progress,
                              calibration=calibration)[protocol]


def backtest_protocols(
    series: TrafficSeries,
    models=("seasonal_naive",),
    train_end="1995-08-22 23:59",
    test_end=None,
    protocols=PROTOCOLS,
    target: str = "requests",
    params: dict | None = None,
    progress=None,
    fitted: dict | None = None,
    calibration: str = DEFAULT_CALIBRATION,
) -> dict[str, BacktestReport]:
    """Like :func:`backtest` for several protocols, fitting each model once.

    Args:
        fitted: ``{name: model}`` already fitted with default parameters on
            exactly the training window (e.g. the forecast a page just made):
            used as they are instead of fitting again. A model fitted on other
            data is refused (it would not be this backtest's model).
        calibration: as for :func:`backtest`.
    Returns:
        ``{protocol: BacktestReport}``; ``fit_seconds`` is the one shared fit
        (for a model passed in ``fitted``: its own fit, 0 if it was loaded
        from the model cache, with ``fit_reused`` set).
    """
    protocols = [protocols] if isinstance(protocols, str) else list(protocols)
    if calibration not in CALIBRATIONS:
        raise InputError(f"unknown calibration {calibration!r}; choose one of {', '.join(CALIBRATIONS)}")
    for protocol in protocols:
        if protocol not in PROTOCOLS:
            raise InputError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    models = [models] if isinstance(models, str) else list(models)
    if not models:
        raise InputError(f"no models given; choose from {', '.join(model_names())}")
    params = params or {}
    m, n = split_series(series, train_end, test_end)
    full = series if n == len(series) else TrafficSeries(series.frame.iloc[:n], series.interval, series.gaps)
    train = TrafficSeries(series.frame.iloc[:m], series.interval, series.gaps)
    y = target_values(full, target)
    built = [make_model(name, **_params_for(params, name)) for name in models]  # validate names first
    for name, model in (fitted or {}).items():
        _check_reusable(name, model, train, target, y[:m], params)
    given = {canonical_model_name(name): model for name, model in (fitted or {}).items()}
    truth_all = y[m:n]
    scored = truth_all[~np.isnan(truth_all)]
    reports = {
        p: BacktestReport(
            protocol=p,
            target=target,
            granularity_minutes=series.interval_minutes,
            train=(series.index[0].isoformat(), series.index[m - 1].isoformat()),
            test=(series.index[m].isoformat(), series.index[n - 1].isoformat()),
            periods=int(scored.size),
            poisson_floor=float(np.sqrt(scored.mean())) if target == "requests" and scored.size else None,
            mase_scale=float("nan"),
        )
        for p in protocols
    }
    for i, (name, model) in enumerate(zip(models, built, strict=True)):
        reused = model.name in given
        if reused:
            model = given[model.name]
            fit_s = float(model.fit_seconds_)
        else:
            t0 = time.perf_counter()
            model.fit(train, target=target)
            fit_s = time.perf_counter() - t0
        grid = model.grid_
        for protocol, report in reports.items():
            report.mase_scale = mase_scale(y[:m], grid.steps_per_day)
            origins, h, keep = protocol_origins(protocol, m, n, grid)
            t0 = time.perf_counter()
            # calibrate=False: no intervals, hence no quantiles and no probabilistic scores.
            levels = _LEVELS + _CRPS_LEVELS if model.calibrator_ is not None else None
            online = levels is not None and calibration == "adaptive" and protocol != "one-shot"
            paths = model.predict_paths(y, origins, h, None if online else levels)
            if online:
                paths |= online_intervals(model.calibrator_, paths["mean"], origins, y, levels, grid.steps_per_day)
            pred_s = time.perf_counter() - t0
            j = np.arange(h)[None, :]
            take = j < keep[:, None]
            pos = (origins[:, None] + j)[take]
            flat = {k: v[take] for k, v in paths.items()}
            quantiles = _crps_quantiles(flat)
            flat = {k: v for k, v in flat.items() if k == "mean" or k[3:] in {f"{lev:g}" for lev in _LEVELS}}
            truth = y[pos]
            lo = {lev: flat[f"lo-{lev}"] for lev in _LEVELS if f"lo-{lev}" in flat}
            hi = {lev: flat[f"hi-{lev}"] for lev in _LEVELS if f"hi-{lev}" in flat}
            res = metrics(truth, flat["mean"], lo, hi, report.mase_scale, quantiles)
            res.update(fit_seconds=round(fit_s, 3), predict_seconds=round(pred_s, 3), label=model.label)
            res["calibration"] = (None if levels is None else adaptive_label() if online
                                  else fixed_label(model.calibration_days))
            if callable(getattr(model, "weights", None)):
                res["ensemble"] = model.weights()  # the combination behind the scores, per horizon band
            if reused:
                res["fit_reused"] = True
            # Keyed by the name the caller used (an alias stays an alias): the report answers the request.
            report.results[name] = res
            report.forecasts[name] = {"timestamps": grid.times(pos), "truth": truth, **flat}
        if progress:
            progress(i + 1, len(built))
    return reports


def _crps_quantiles(paths: dict) -> dict | None:
    """``{tau: quantile array}`` at :data:`CRPS_TAUS` from the bounds of the :data:`_CRPS_LEVELS` intervals."""
    out = {}
    for tau in CRPS_TAUS:
        key = f"{round(abs(1 - 2 * tau) * 100, 6):g}"
        side = "lo" if tau < 0.5 else "hi"
        if f"{side}-{key}" not in paths:
            return None
        out[float(tau)] = paths[f"{side}-{key}"]
    return out


def _params_for(params: dict, name: str) -> dict:
    """The hyperparameters of ``name`` in ``params``, keyed by that name or another name of the same model."""
    if name in params:
        return params[name]
    aliases = model_aliases()
    canonical = aliases.get(name, name)
    return next((v for k, v in params.items() if aliases.get(k, k) == canonical), {})


def _check_reusable(name: str, model, train: TrafficSeries, target: str, y_train: np.ndarray, params: dict) -> None:
    """Refuse a pre-fitted model that is not exactly what this backtest would fit."""
    if getattr(model, "name", None) != canonical_model_name(name):
        raise InputError(f"fitted[{name!r}] is a {getattr(model, 'name', type(model).__name__)} model")
    if _params_for(params, name):
        raise InputError(f"fitted[{name!r}] cannot be combined with params for {name!r}; pass one or the other")
    if make_model(name).get_params() != model.get_params():
        raise InputError(f"fitted[{name!r}] has non-default parameters; fit it with the defaults or let the "
                         "backtest fit it")
    y_fit = getattr(model, "y_", None)
    same = (y_fit is not None and getattr(model, "target_", None) == target and model.grid_.start == train.start
            and model.grid_.step == train.interval and len(y_fit) == len(y_train)
            and np.array_equal(y_fit, y_train, equal_nan=True))
    if not same:
        raise InputError(f"fitted[{name!r}] was not fitted on this backtest's training window "
                         f"({train.start} .. {train.end}, target {target}); fit it there or let the backtest fit it")


def rolling_forecast(
    series: TrafficSeries,
    model: str | Forecaster = "seasonal_naive",
    k: int = 1,
    start=None,
    *,
    target: str = "requests",
    params: dict | None = None,
) -> np.ndarray:
    """The rolling k-step-ahead forecast series, for a simulator's predictive policy.

    No-leakage guarantee: ``out[t]`` is the forecast of period ``t`` made at
    decision time ``t - k + 1`` (the start of period ``t - k + 1``), from the
    values of periods ``< t - k + 1`` only, by a model fitted on periods
    before ``start`` only. ``k = 1`` is the one-step-ahead forecast. Changing
    any value at or after period ``p`` changes no ``out[t]`` with ``t < p + k``.

    Args:
        series: the whole series; the model is fitted on ``[0, start)``.
        model: a registry name (fitted here) or a model already fitted on a
            prefix of ``series`` that ends at or before ``start``.
        k: steps ahead (>= 1).
        start: first period forecast, as a timestamp or position; default:
            the first period of the last 30% of the series (at least 2 days fitted).
        target: ``requests`` or ``bytes``.
        params: hyperparameters when ``model`` is a name.
    Returns:
        float array of ``len(series)``; NaN before ``start + k - 1`` (no forecast).
    """
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be an integer >= 1, got {k!r}")
    n = len(series)
    if start is None:
        s = max(int(n * 0.7), 2 * max(1, int(pd.Timedelta(days=1) / series.interval)))
    elif isinstance(start, (int, np.integer)):
        s = int(start)
    else:
        s = _inclusive_end(series, pd.Timestamp(start) - pd.Timedelta(1, "ns"))
    if not 1 <= s < n:
        raise InputError(f"start must fall inside the series ({series.start} .. {series.end}), got {start!r}")
    if isinstance(model, str):
        model = make_model(model, **(params or {}))
        model.fit(TrafficSeries(series.frame.iloc[:s], series.interval, series.gaps), target=target)
    elif len(model.y_) > s:
        raise InputError("the fitted model has seen data after start; fit it on the periods before start")
    y = target_values(series, model.target_)
    out = np.full(n, np.nan)
    origins = np.arange(s, n - k + 1)
    for chunk in np.array_split(origins, max(1, len(origins) // 20_000 + 1)):
        if chunk.size:
            paths = model.predict_paths(y, chunk, k, level=None)["mean"]
            out[chunk + k - 1] = paths[:, k - 1]
    return out
