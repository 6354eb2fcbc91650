"""The one adapter from a registry model to a rolling forecaster, used by the simulator by default.

:class:`ModelForecaster` is a ``core.scaling`` rolling forecaster
(``f(values, k, interval) -> out``, ``out[j]`` from ``values[: j - k + 1]``
only). It fits one model on the periods before its fit point, which is the
start of the simulated window (or, when the window has less than
``min_history_days`` of history before it, the first period after that much
data), and forecasts every later period ``k`` steps ahead with the model's
state updated by the true values as they arrive (as in a one-step backtest).
Periods the model cannot forecast (before its fit point) get the seasonal
naive forecast (one week earlier, else one day, else ``k`` periods earlier),
which is honest by construction too; ``naive_before_fit=False`` leaves them
NaN instead, as :func:`~core.forecast.backtest.rolling_forecast` does.

Fitting is the only expensive part, so fitted models are reused: through a
:class:`~core.forecast.cache.ModelCache` on disk when one is given (keyed by
dataset id, parameters and a hash of the training data), and through an
in-memory :class:`~core.forecast.memo.ForecastMemo` keyed the same way (the
simulator calls the forecaster three times per run to check it for leakage; a
perturbation after the fit point leaves the training data, hence the key,
unchanged).

:data:`PROCESS_MEMO` is that memo's default: one per process, the single
exception to "no mutable module globals for data", kept because a page or CLI
run that simulates the same window twice (matrix, then optimizer) would
otherwise refit the model each time (the scaling tests take 29 s with it,
154 s without). It is safe because:

- every entry is a pure function of its key, a SHA-256 of everything it depends
  on (model, parameters, dataset id, grid and the values themselves): a hit is
  never stale, and gunicorn workers holding different entries differ in speed,
  never in results;
- it holds no user state beyond those content-keyed numbers and is bounded
  (8 fitted models, 24 forecasts; least recently used evicted first);
- a lock guards it (simulator jobs run on threads).

Pass ``memo=None`` for no memo, or your own :class:`ForecastMemo`.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.backtest import rolling_forecast
from core.forecast.base import Forecaster, canonical_model_name, make_model
from core.forecast.memo import ForecastMemo
from core.forecast.naive import seasonal_naive_rolling
from core.series import TrafficSeries

__all__ = ["DEFAULT_FORECAST_MODEL", "PROCESS_MEMO", "ModelForecaster"]

#: The model the predictive policy uses unless told otherwise: Fourier regression + ARMA errors
#: (``fourier_arma``). Chosen on validation weeks inside the training data (08-09..15 and 08-16..22
#: at 5 min; see docs/simulator.md): it was the cheapest predictive scenario at <= 0.5% overloaded
#: periods in both, and fits in about a second. Spelled with its alias ``sarima`` because results
#: echo the name asked for (a simulation's ``forecast.name``, the CLI's ``model``) and clients read it.
DEFAULT_FORECAST_MODEL = "sarima"

#: The in-process memo ModelForecaster uses unless given another (see the module docstring).
PROCESS_MEMO = ForecastMemo()


def _memo_key(name: str, params: dict, series: TrafficSeries) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"model": name, "params": params}, sort_keys=True, default=str).encode())
    h.update(f"{series.start.isoformat()}|{series.interval.value}|{len(series)}".encode())
    h.update(np.ascontiguousarray(series.frame["requests"].to_numpy(dtype=np.float64)).tobytes())
    return h.hexdigest()


class ModelForecaster:
    """A registry model as a rolling forecaster, fitted once on the periods before its fit point.

    Args:
        model: registry name or alias (``"fourier_arma"``, ``"lightgbm"``, ...; ``"seasonal_naive"``
            fits nothing); ``name`` and ``describe()`` report it as given.
        start: timestamp of ``values[0]`` (calendar features need the clock).
        fit_until: first period the model forecasts, as a timestamp or a position
            (the start of the simulated window); the model is fitted on the periods before it.
        params: hyperparameters (default: no conformal calibration, which rolling means do not need,
            except for the ensemble, whose weights come from it).
        min_history_days: fit on at least this much calendar history; a window that starts
            earlier moves the fit point to ``start + min_history_days`` (seasonal naive before it).
        cache: optional :class:`~core.forecast.cache.ModelCache` (fitted models on disk).
        dataset_id: part of the cache key.
        memo: in-memory reuse of fits and forecasts (default :data:`PROCESS_MEMO`; None: none,
            every call fits afresh).
        naive_before_fit: fill the periods the model cannot forecast with the seasonal naive
            (default); False leaves them NaN.

    Raises:
        InputError: an unknown model, bad parameters or a negative ``min_history_days``.
    """

    def __init__(self, model: str = DEFAULT_FORECAST_MODEL, *, start, fit_until=None, params: dict | None = None,
                 min_history_days: float = 14.0, cache=None, dataset_id: str | None = None,
                 memo: ForecastMemo | None = PROCESS_MEMO, naive_before_fit: bool = True):
        canonical = canonical_model_name(model)  # validate now, not inside the simulator
        # Rolling means need no intervals; the ensemble's weights come from its calibration, though.
        self.params = {"calibrate": canonical == "ensemble", **(params or {})}
        make_model(canonical, **self.params)
        if not min_history_days >= 0:
            raise InputError(f"min_history_days must be >= 0, got {min_history_days}")
        self.model = model
        self.canonical = canonical  # what is fitted, cached and memoized: one model under any of its names
        self.name = model
        self.start = pd.Timestamp(start)
        self.fit_until = fit_until
        self.min_history_days = float(min_history_days)
        self.cache = cache
        self.dataset_id = dataset_id
        self.memo = memo
        self.naive_before_fit = bool(naive_before_fit)
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
        key = _memo_key(self.canonical, self.params, train) + f"|{self.dataset_id}"
        if self.memo is not None and (hit := self.memo.fits.get(key)) is not None:
            return hit, "memory"
        if self.cache is not None:
            fitted, hit = self.cache.get_or_fit(self.canonical, train, "requests", self.params, self.dataset_id)
            source = "disk" if hit else "fit"
        else:
            fitted, source = make_model(self.canonical, **self.params).fit(train), "fit"
        if self.memo is not None:
            self.memo.fits.put(key, fitted)
        return fitted, source

    def __call__(self, values: np.ndarray, k: int, interval: pd.Timedelta) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        interval = pd.Timedelta(interval)
        if self.memo is None:
            return self._compute(v, int(k), interval)
        # The output depends on the values, k, the grid and the settings only: reuse it (a page
        # recomputing a matrix with another price asks for the same forecast, three times).
        h = hashlib.sha256(np.ascontiguousarray(v).tobytes())
        h.update(json.dumps([self.model, self.params, self.start.isoformat(), str(self.fit_until),
                             self.min_history_days, self.dataset_id, int(k), interval.value,
                             self.naive_before_fit], sort_keys=True, default=str).encode())
        key = h.hexdigest()
        if (hit := self.memo.outputs.get(key)) is not None:
            out, info = hit
            self.info = dict(info)
            return out.copy()
        out = self._compute(v, int(k), interval)
        self.memo.outputs.put(key, (out.copy(), dict(self.info)))
        return out

    def _compute(self, v: np.ndarray, k: int, interval: pd.Timedelta) -> np.ndarray:
        n = len(v)
        naive = seasonal_naive_rolling(v, k, interval)
        out = naive.copy() if self.naive_before_fit else np.full(n, np.nan)
        s = self._fit_position(n, interval)
        first = s + k - 1  # the first period forecast from the fit point on, k steps ahead
        self.info = {"model": self.model, "fit_until": None, "source": None, "fit_seconds": 0.0}
        if self.canonical == "seasonal_naive":  # fits nothing: the seasonal naive from the fit point on too
            out[first:] = naive[first:]
            self.info["model"] = "seasonal_naive"
            return out
        spd = max(1, int(round(pd.Timedelta(days=1) / interval)))
        if s + k > n or np.count_nonzero(~np.isnan(v[:s])) < 2 * spd:  # nothing to forecast or to fit on
            if self.naive_before_fit:
                self.info["model"] = "seasonal_naive"
            return out
        idx = pd.date_range(self.start, periods=n, freq=interval)
        series = TrafficSeries(frame=pd.DataFrame({"requests": v}, index=idx), interval=interval)
        train = TrafficSeries(series.frame.iloc[:s], interval)
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
