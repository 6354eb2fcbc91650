"""The simulator's default rolling forecaster: a registry model fitted once, before the simulated window.

:class:`ModelForecaster` is a ``core.scaling`` rolling forecaster
(``f(values, k, interval) -> out``, ``out[j]`` from ``values[: j - k + 1]``
only). It fits one model on the periods before its fit point, which is the
start of the simulated window (or, when the window has less than
``min_history_days`` of history before it, the first period after that much
data), and forecasts every later period ``k`` steps ahead with the model's
state updated by the true values as they arrive (as in a one-step backtest).
Periods the model cannot forecast (before its fit point) get the seasonal
naive forecast (one week earlier, else one day, else ``k`` periods earlier),
which is honest by construction too.

Fitting is the only expensive part, so fitted models are reused: through a
:class:`~core.forecast.cache.ModelCache` on disk when one is given (keyed by
dataset id, parameters and a hash of the training data), and through a small
in-process memo keyed the same way (the simulator calls the forecaster three
times per run to check it for leakage; a perturbation after the fit point
leaves the training data, hence the key, unchanged).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.backtest import rolling_forecast
from core.forecast.base import Forecaster, make_model
from core.forecast.naive import seasonal_naive_rolling
from core.series import TrafficSeries

__all__ = ["DEFAULT_FORECAST_MODEL", "ModelForecaster"]

#: The model the predictive policy uses unless told otherwise. Chosen on validation weeks inside
#: the training data (08-09..15 and 08-16..22 at 5 min; see docs/simulator.md): Fourier+ARMA was the
#: cheapest predictive scenario at <= 0.5% overloaded periods in both, and fits in about a second.
DEFAULT_FORECAST_MODEL = "sarima"

_MEMO: OrderedDict[str, Forecaster] = OrderedDict()
_MEMO_SIZE = 8
_OUT_MEMO: OrderedDict[str, tuple[np.ndarray, dict]] = OrderedDict()
_OUT_MEMO_SIZE = 24
_MEMO_LOCK = threading.Lock()


def _memo_key(name: str, params: dict, series: TrafficSeries) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"model": name, "params": params}, sort_keys=True, default=str).encode())
    h.update(f"{series.start.isoformat()}|{series.interval.value}|{len(series)}".encode())
    h.update(np.ascontiguousarray(series.frame["requests"].to_numpy(dtype=np.float64)).tobytes())
    return h.hexdigest()


class ModelForecaster:
    """A registry model as the predictive policy's rolling forecaster, fitted once and reused.

    Args:
        model: registry name (``"sarima"``, ``"lightgbm"``, ...; ``"seasonal_naive"`` fits nothing).
        start: timestamp of ``values[0]`` (calendar features need the clock).
        fit_until: first period the model forecasts, as a timestamp or a position
            (the start of the simulated window); the model is fitted on the periods before it.
        params: hyperparameters (default: no conformal calibration, which rolling means do not need,
            except for the ensemble, whose weights come from it).
        min_history_days: fit on at least this much calendar history; a window that starts
            earlier moves the fit point to ``start + min_history_days`` (seasonal naive before it).
        cache: optional :class:`~core.forecast.cache.ModelCache` (fitted models on disk).
        dataset_id: part of the cache key.
    """

    def __init__(self, model: str = DEFAULT_FORECAST_MODEL, *, start, fit_until=None, params: dict | None = None,
                 min_history_days: float = 14.0, cache=None, dataset_id: str | None = None):
        # Rolling means need no intervals; the ensemble's weights come from its calibration, though.
        self.params = {"calibrate": model == "ensemble", **(params or {})}
        make_model(model, **self.params)  # validate now, not inside the simulator
        if not min_history_days >= 0:
            raise InputError(f"min_history_days must be >= 0, got {min_history_days}")
        self.model = model
        self.name = model
        self.start = pd.Timestamp(start)
        self.fit_until = fit_until
        self.min_history_days = float(min_history_days)
        self.cache = cache
        self.dataset_id = dataset_id
        self.info: dict = {"model": model}

    def _fit_position(self, n: int, interval: pd.Timedelta) -> int:
        """Where the model's forecasts begin: the window start, but after ``min_history_days`` of data."""
        if self.fit_until is None:
            s = 0
        elif isinstance(self.fit_until, (int, np.integer)):
            s = int(self.fit_until)
        else:
            ts = pd.Timestamp(self.fit_until)
            if ts.tz is None and self.start.tz is not None:
                ts = ts.tz_localize(self.start.tz)
            s = int(np.ceil((ts - self.start) / interval - 1e-9))
        need = int(np.ceil(pd.Timedelta(days=self.min_history_days) / interval - 1e-9))
        return max(s, need, 1)

    def _fitted(self, train: TrafficSeries) -> tuple[Forecaster, str]:
        """The model fitted on ``train``: from the memo, the disk cache, or a fresh fit."""
        key = _memo_key(self.model, self.params, train) + f"|{self.dataset_id}"
        with _MEMO_LOCK:
            if key in _MEMO:
                _MEMO.move_to_end(key)
                return _MEMO[key], "memory"
        if self.cache is not None:
            fitted, hit = self.cache.get_or_fit(self.model, train, "requests", self.params, self.dataset_id)
            source = "disk" if hit else "fit"
        else:
            fitted, source = make_model(self.model, **self.params).fit(train), "fit"
        with _MEMO_LOCK:
            _MEMO[key] = fitted
            while len(_MEMO) > _MEMO_SIZE:
                _MEMO.popitem(last=False)
        return fitted, source

    def __call__(self, values: np.ndarray, k: int, interval: pd.Timedelta) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        interval = pd.Timedelta(interval)
        # The output depends on the values, k, the grid and the settings only: reuse it (a page
        # recomputing a matrix with another price asks for the same forecast, three times).
        h = hashlib.sha256(np.ascontiguousarray(v).tobytes())
        h.update(json.dumps([self.model, self.params, self.start.isoformat(), str(self.fit_until),
                             self.min_history_days, self.dataset_id, int(k), interval.value],
                            sort_keys=True, default=str).encode())
        key = h.hexdigest()
        with _MEMO_LOCK:
            if key in _OUT_MEMO:
                _OUT_MEMO.move_to_end(key)
                out, self.info = _OUT_MEMO[key]
                return out.copy()
        out = self._compute(v, int(k), interval)
        with _MEMO_LOCK:
            _OUT_MEMO[key] = (out.copy(), dict(self.info))
            while len(_OUT_MEMO) > _OUT_MEMO_SIZE:
                _OUT_MEMO.popitem(last=False)
        return out

    def _compute(self, v: np.ndarray, k: int, interval: pd.Timedelta) -> np.ndarray:
        n = len(v)
        out = seasonal_naive_rolling(v, k, interval)
        s = self._fit_position(n, interval)
        self.info = {"model": self.model, "fit_until": None, "source": None, "fit_seconds": 0.0}
        if self.model == "seasonal_naive" or s + k > n:
            self.info["model"] = "seasonal_naive"
            return out
        idx = pd.date_range(self.start, periods=n, freq=interval)
        series = TrafficSeries(frame=pd.DataFrame({"requests": v}, index=idx), interval=interval)
        train = TrafficSeries(series.frame.iloc[:s], interval)
        if np.count_nonzero(~np.isnan(v[:s])) < 2 * max(1, int(round(pd.Timedelta(days=1) / interval))):
            self.info["model"] = "seasonal_naive"
            return out
        t0 = time.perf_counter()
        fitted, source = self._fitted(train)
        self.info.update(fit_until=idx[s].isoformat(), source=source, fit_seconds=round(time.perf_counter() - t0, 3))
        model_out = rolling_forecast(series, fitted, k=k, start=s)
        have = ~np.isnan(model_out)
        out[have] = model_out[have]
        return out

    def describe(self) -> dict:
        """What the last call used: model, fit point, where the fit came from (fit/memory/disk)."""
        return dict(self.info)
