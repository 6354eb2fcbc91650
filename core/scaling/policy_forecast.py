"""The predictive policy's forecaster: one object, refitted on a deployment's schedule, in tuning and in use.

:class:`PolicyForecaster` is a rolling forecaster (``f(values, k, interval) -> out``, ``out[j]`` from
``values[: j - k + 1]`` only; ``core.scaling.forecasting``) built from a registry model name and a
refit schedule:

- ``refit="daily"``: at each local midnight the model is refitted on all data before it, and the
  k-step forecasts *made* during the following day (decision times in ``[midnight, next midnight)``)
  come from that fit, their state updated by the actuals as they arrive (``ModelForecaster`` /
  ``Forecaster.predict_paths``, as a one-step backtest does). ``"weekly"``: the same at each Monday
  00:00. ``"once"``: a single fit, at the first period it forecasts.
- The daily and weekly schedules are the calendar's, not the window's: the forecast of a period is
  the same whichever window asks for it. A training window and the test window after it, or two
  overlapping folds, therefore see the very same forecasts where they overlap, and each fit (the
  same data up to the same boundary) is computed once per process: the fits are memoized by a hash
  of their training data (:data:`POLICY_MEMO`; a ``ModelCache`` on disk when given).
- It forecasts only what a simulation over ``[window_start, window_end)`` reads (plus
  ``warmup_days`` before it, whose errors set the quantile headroom, ``core.scaling.headroom``); the
  other periods are NaN. Fits after the window are never made.
- Where the schedule has no fit yet (less than ``min_history_days`` of data, or fewer than the two
  days any model needs), the forecast is :class:`~core.scaling.forecasting.RobustProfileRolling`, a
  daily profile that does not carry one day's burst into the next; ``info`` says so and why.

Use, e.g. from ``core/scaling/walkforward.py``::

    from core.scaling.policy_forecast import PolicyForecaster, decision_horizon, select_policy_model

    k = decision_horizon(model.capacity, model.predictive, series.interval)      # boot + buffer, periods
    sel = select_policy_model(series, k, cut=first_test_start)                  # optional: pick the model
    model = replace(model, predictive=replace(model.predictive, forecast_model=sel.model,
                                              refit="daily", headroom="quantile"))
    prep = prepare(series, model, start=..., end=...)   # builds the PolicyForecaster (default_forecaster)

or explicitly ``prepare(series, model, start=s, end=e, forecaster=PolicyForecaster(sel.model,
start=series.start, window_start=s, window_end=e, refit="daily", warmup_days=7))``: every window
(training, held-out, final) gets the same forecasts for the same periods. ``forecaster.info``
(``describe()``) says which model ran, how many fits, which fallback for how many periods, and why.

:data:`POLICY_MEMO`, like ``core.forecast.rolling.PROCESS_MEMO``, is one per process and holds only
values that are pure functions of their content-hashed keys (see that module for why it is safe); it
is larger because a walk-forward over two months refits at some 45 midnights.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.forecast.base import Grid, canonical_model_name, make_model
from core.forecast.memo import ForecastMemo, LRUMemo
from core.forecast.naive import season_steps, seasonal_naive_rolling
from core.scaling.config import CapacityModel, PredictiveSpec
from core.scaling.config import Grid as SimGrid
from core.scaling.forecasting import RobustProfileRolling
from core.series import TrafficSeries

__all__ = [
    "POLICY_MEMO",
    "REFITS",
    "PolicyForecaster",
    "PolicyModelSelection",
    "decision_horizon",
    "refit_boundaries",
    "select_policy_model",
]

#: Refit schedules: at each local midnight, at each Monday 00:00, or a single fit.
REFITS = ("daily", "weekly", "once")

#: Candidates of :func:`select_policy_model`: the baseline and the two models that fit in seconds
#: (Prophet and the ensemble take minutes per refit at 5 min).
DEFAULT_CANDIDATES = ("seasonal_naive", "fourier_arma", "lightgbm")

#: Fitted models (~0.4 MB each at 5 min on two months) and whole outputs, per process.
POLICY_MEMO = ForecastMemo(fits=LRUMemo(64), outputs=LRUMemo(16))

_DAY = pd.Timedelta(days=1)


def decision_horizon(capacity: CapacityModel, predictive: PredictiveSpec, interval: pd.Timedelta) -> int:
    """The predictive policy's horizon k in periods: boot delay + buffer, rounded up, at least 1."""
    grid = SimGrid(pd.Timedelta(interval).total_seconds())
    return max(1, grid.ceil_periods(capacity.boot_delay_minutes * 60.0 + predictive.buffer_minutes * 60.0))


def refit_boundaries(start, interval: pd.Timedelta, n: int, refit: str) -> np.ndarray:
    """Positions where a ``daily`` / ``weekly`` schedule refits: the first period of each local day / ISO
    week (Monday) after the first period. ``once`` has no calendar boundaries (empty).

    Raises:
        ValueError: an unknown schedule.
    """
    if refit not in REFITS:
        raise ValueError(f"refit must be one of {', '.join(REFITS)}, got {refit!r}")
    if refit == "once" or n < 2:
        return np.zeros(0, np.int64)
    day = Grid(pd.Timestamp(start), pd.Timedelta(interval)).day_number(np.arange(n))
    key = day if refit == "daily" else (day + 3) // 7  # 1970-01-01 was a Thursday: +3 starts weeks on Monday
    return (np.flatnonzero(np.diff(key) != 0) + 1).astype(np.int64)


def _position(value, start: pd.Timestamp, interval: pd.Timedelta, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, (int, np.integer)):
        return int(value)
    ts = pd.Timestamp(value)
    if ts.tz is None and start.tz is not None:
        ts = ts.tz_localize(start.tz)
    return int(math.ceil((ts - start) / interval - 1e-9))


class PolicyForecaster:
    """A registry model refitted on a schedule, as the predictive policy's rolling forecaster.

    See the module docstring for the schedule and what is computed.

    Args:
        model: registry name or alias (``"fourier_arma"``, ``"lightgbm"``, ...); ``"seasonal_naive"``
            fits nothing (the simulator's seasonal naive throughout).
        start: timestamp of ``values[0]`` (the calendar of the schedule and of the model's features).
        window_start, window_end: the simulated window (timestamps or positions; None: the whole series).
        refit: ``"daily"`` (default), ``"weekly"`` or ``"once"``.
        warmup_days: also forecast this many days before ``window_start`` (the errors the quantile
            headroom reads at the window's start).
        min_history_days: no fit on less history than this (the robust profile before).
        params: the model's hyperparameters (default: no conformal calibration, except the ensemble's).
        cache: optional ``core.forecast.cache.ModelCache`` (fits on disk), keyed with ``dataset_id``.
        dataset_id: part of the cache and memo keys.
        memo: in-process reuse of fits and outputs (default :data:`POLICY_MEMO`; None: none).

    Raises:
        ValueError: an unknown model or schedule, or a negative number of days (the message names the fix).
    """

    def __init__(self, model: str = "fourier_arma", *, start, window_start=None, window_end=None,
                 refit: str = "daily", warmup_days: float = 0.0, min_history_days: float = 14.0,
                 params: dict | None = None, cache=None, dataset_id: str | None = None,
                 memo: ForecastMemo | None = POLICY_MEMO):
        from core.errors import InputError

        try:
            self.canonical = canonical_model_name(model)
            self.params = {"calibrate": self.canonical == "ensemble", **(params or {})}
            make_model(self.canonical, **self.params)  # bad parameters fail here, not inside the simulator
        except InputError as exc:
            raise ValueError(str(exc)) from None
        if refit not in REFITS:
            raise ValueError(f"refit must be one of {', '.join(REFITS)}, got {refit!r}")
        for name, value in (("warmup_days", warmup_days), ("min_history_days", min_history_days)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a number of days >= 0, got {value!r}")
        self.model = model
        self.name = model
        self.start = pd.Timestamp(start)
        self.window_start = window_start
        self.window_end = window_end
        self.refit = refit
        self.warmup_days = float(warmup_days)
        self.min_history_days = float(min_history_days)
        self.cache = cache
        self.dataset_id = dataset_id
        self.memo = memo
        self.info: dict = {"model": model, "refit": refit}

    # -- the rolling-forecaster contract ---------------------------------------------------------
    def __call__(self, values: np.ndarray, k: int, interval: pd.Timedelta) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        interval = pd.Timedelta(interval)
        k = int(k)
        if self.memo is None:
            return self._compute(v, k, interval)
        h = hashlib.sha256(np.ascontiguousarray(v).tobytes())
        h.update(json.dumps(["policy", self.canonical, self.params, self.start.isoformat(), str(self.window_start),
                             str(self.window_end), self.refit, self.warmup_days, self.min_history_days,
                             self.dataset_id, k, interval.value], sort_keys=True, default=str).encode())
        key = h.hexdigest()
        if (hit := self.memo.outputs.get(key)) is not None:
            out, info = hit
            self.info = dict(info)
            return out.copy()
        out = self._compute(v, k, interval)
        self.memo.outputs.put(key, (out.copy(), dict(self.info)))
        return out

    def describe(self) -> dict:
        """What the last call ran (see :attr:`info`)."""
        return dict(self.info)

    def with_headroom(self, level: float = 95.0, days: float = 7.0, **kw):
        """This forecaster plus the ``level`` quantile of its own recent errors (``core.scaling.headroom``)."""
        from core.scaling.headroom import QuantileHeadroom

        return QuantileHeadroom(self, level=level, days=days, **kw)

    # -- the computation ---------------------------------------------------------------------------
    def _plan(self, v: np.ndarray, k: int, interval: pd.Timedelta) -> tuple[int, int, list[int], int]:
        """Origins to forecast ``[o_lo, o_hi)``, the fit boundaries they use, and the first usable fit point."""
        n = len(v)
        # Not clipped to n: the periods forecast must not depend on how many values follow them (the
        # leakage check passes shorter series).
        lo = max(_position(self.window_start, self.start, interval, 0), 0)
        hi = max(_position(self.window_end, self.start, interval, n), lo) if self.window_end is not None else n
        warm = int(math.ceil(pd.Timedelta(days=self.warmup_days) / interval - 1e-9))
        # Targets [lo - warm, hi + k - 1): decisions in the window read forecasts up to k - 1 periods ahead.
        o_lo = max(1, lo - warm - (k - 1))
        o_hi = min(hi, n - k + 1)
        spd = season_steps(interval, "day")
        need = max(1, int(math.ceil(pd.Timedelta(days=self.min_history_days) / interval - 1e-9)))
        seen = np.concatenate([[0], np.cumsum(~np.isnan(v))])
        # A fit point needs min_history_days of calendar and two days of data (Forecaster.fit's minimum).
        ok = np.flatnonzero(seen[need:] >= 2 * spd) if need <= n else np.zeros(0, np.int64)
        first_ok = need + int(ok[0]) if ok.size else n + 1
        if self.refit == "once":
            bounds = [max(lo - warm, first_ok)] if o_lo < o_hi else []
        else:
            # The first fit as soon as there is enough history, then on the schedule (as a deployment does).
            cal = refit_boundaries(self.start, interval, n, self.refit)
            cal = np.unique(np.concatenate([[first_ok], cal[cal > first_ok]])) if first_ok <= n else cal[:0]
            before = cal[cal <= o_lo]
            bounds = ([int(before[-1])] if before.size else []) + [int(b) for b in cal if o_lo < b < o_hi]
        bounds = [b for b in bounds if b < o_hi]
        return o_lo, o_hi, bounds, first_ok

    def _compute(self, v: np.ndarray, k: int, interval: pd.Timedelta) -> np.ndarray:
        from core.forecast.rolling import ModelForecaster

        n = len(v)
        out = np.full(n, np.nan)
        o_lo, o_hi, bounds, first_ok = self._plan(v, k, interval)
        idx = pd.date_range(self.start, periods=n + 1, freq=interval)

        def when(p: int) -> str:
            return idx[min(p, n)].isoformat()

        self.info = {"model": self.model, "refit": self.refit, "refits": 0, "first_fit": None, "last_fit": None,
                     "fallback": None, "fit_seconds": 0.0, "fits_computed": 0}
        if o_lo >= o_hi:
            self.info["reason"] = "nothing to forecast: the window holds no decision with k periods of data"
            return out
        targets = slice(o_lo + k - 1, o_hi + k - 1)
        if self.canonical == "seasonal_naive":  # fits nothing: the simulator's seasonal naive
            out[targets] = seasonal_naive_rolling(v[: o_hi + k - 1], k, interval)[targets]
            self.info["reason"] = "seasonal_naive fits nothing: the value a week (else a day) earlier"
            return out
        first_model = bounds[0] if bounds else o_hi
        if first_model > o_lo:
            # Decisions before the first fit point: the robust daily profile (no model to fit yet).
            stop = min(first_model, o_hi)
            prof = RobustProfileRolling()(v[: stop + k - 1], k, interval)
            out[o_lo + k - 1: stop + k - 1] = prof[o_lo + k - 1: stop + k - 1]
            why = (f"less than {self.min_history_days:g} days of history (min_history_days) or two days of data "
                   f"before {when(first_ok)}" if first_ok > o_lo else
                   f"the first {stop - o_lo} decision(s) precede the first fit point")
            self.info["fallback"] = {"forecaster": RobustProfileRolling.name, "periods": int(stop - o_lo),
                                     "until": when(stop) if bounds else None, "reason": why}
        inner = None if self.memo is None else ForecastMemo(fits=self.memo.fits, outputs=LRUMemo(0))
        t0 = time.perf_counter()
        for i, b in enumerate(bounds):
            seg_lo, seg_hi = max(b, o_lo), min(bounds[i + 1] if i + 1 < len(bounds) else o_hi, o_hi)
            if seg_lo >= seg_hi:
                continue
            mf = ModelForecaster(self.model, start=self.start, fit_until=int(b), params=self.params,
                                 min_history_days=0.0, cache=self.cache, dataset_id=self.dataset_id, memo=inner,
                                 naive_before_fit=False)
            # Values up to the last target of the segment: origins seg_lo .. seg_hi - 1, nothing later.
            seg = mf(v[: seg_hi + k - 1], k, interval)
            out[seg_lo + k - 1: seg_hi + k - 1] = seg[seg_lo + k - 1: seg_hi + k - 1]
            self.info["refits"] += 1
            self.info["fits_computed"] += int(mf.describe().get("source") == "fit")
        self.info["fit_seconds"] = round(time.perf_counter() - t0, 3)
        if bounds:
            self.info.update(first_fit=when(bounds[0]), last_fit=when(bounds[-1]))
            sched = {"daily": "at each local midnight", "weekly": "at each Monday 00:00",
                     "once": "once"}[self.refit]
            self.info["reason"] = (f"{self.model} refitted {sched} on all data before it: {self.info['refits']} "
                                   f"fit(s), {self.info['first_fit']} .. {self.info['last_fit']}")
            if self.info["fallback"]:
                self.info["reason"] += f"; {self.info['fallback']['forecaster']} before the first fit"
        else:
            self.info["model"] = RobustProfileRolling.name
            self.info["reason"] = (f"{self.model} was not fitted: {self.info['fallback']['reason']}; "
                                   f"{RobustProfileRolling.name} throughout")
        return out


@dataclass
class PolicyModelSelection:
    """The model :func:`select_policy_model` chose, and every candidate's score.

    Attributes:
        model: the chosen registry name (as given in the candidates).
        horizon_periods: k, the horizon scored.
        eval_start, cut: the scored window ``[eval_start, cut)`` (ISO timestamps).
        refit: the schedule each candidate ran with.
        scores: ``{name: {"mae", "rmse", "n", "refits", "fallback_periods", "ran"}}`` (and ``"error"`` for a
            candidate that could not be fitted before part of the window: it is not chosen).
        reason: one sentence.
    """

    model: str
    horizon_periods: int
    eval_start: str
    cut: str
    refit: str
    scores: dict = field(default_factory=dict)
    reason: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def select_policy_model(series: TrafficSeries, horizon_periods: int, *, cut=None,
                        candidates=DEFAULT_CANDIDATES, eval_days: float = 7.0, refit: str = "weekly",
                        min_history_days: float = 14.0, cache=None, dataset_id: str | None = None,
                        memo: ForecastMemo | None = POLICY_MEMO) -> PolicyModelSelection:
    """The candidate with the lowest k-step error on the ``eval_days`` before ``cut``, run as it would be used.

    Each candidate runs as a :class:`PolicyForecaster` with ``refit`` over ``[cut - eval_days, cut)`` on the
    data before ``cut`` only (nothing at or after it is read), and is scored by the mean absolute error of
    its k-step forecasts there (gap periods left out; RMSE reported beside it). Its fits are those the
    simulator will reuse from the memo for the same model and schedule. Pass as ``cut`` the start of the
    earliest held-out window, so that no held-out period informs the choice.

    Args:
        series: the traffic at the simulated granularity.
        horizon_periods: k (:func:`decision_horizon`).
        cut: end of the scored window (timestamp or position; default: the end of the series).
        candidates: registry names or aliases.
        eval_days: length of the scored window (> 0).
        refit, min_history_days, cache, dataset_id, memo: as for :class:`PolicyForecaster`.

    Returns:
        The choice and the scores; where no candidate could be scored, the first one, and the reason says so.

    Raises:
        ValueError: no candidates, an unknown name, or a window outside the series.
    """
    candidates = [candidates] if isinstance(candidates, str) else list(candidates)
    if not candidates:
        raise ValueError("candidates is empty; pass model names such as ('seasonal_naive', 'fourier_arma')")
    if not (isinstance(eval_days, (int, float)) and eval_days > 0):
        raise ValueError(f"eval_days must be > 0, got {eval_days!r}")
    k = int(horizon_periods)
    if k < 1:
        raise ValueError(f"horizon_periods must be >= 1, got {horizon_periods!r}")
    interval = series.interval
    c = _position(cut, series.start, interval, len(series))
    e0 = c - int(round(pd.Timedelta(days=eval_days) / interval))
    if not 0 < e0 < c <= len(series):
        raise ValueError(f"the scored window [cut - {eval_days:g} days, cut) must lie inside the series "
                         f"({series.start} .. {series.end}); got cut {cut!r}. Pass a later cut or fewer eval_days")
    values = np.where(series.gap_mask(), np.nan, series.requests)[:c]  # nothing at or after the cut
    scores: dict[str, dict] = {}
    for name in candidates:
        f = PolicyForecaster(name, start=series.start, window_start=e0, window_end=c, refit=refit,
                             min_history_days=min_history_days, cache=cache, dataset_id=dataset_id, memo=memo)
        fc = f(values, k, interval)
        err = (values - fc)[e0:c]
        err = err[~np.isnan(err)]
        info = f.describe()
        scores[name] = {"mae": float(np.mean(np.abs(err))) if err.size else None,
                        "rmse": float(np.sqrt(np.mean(err**2))) if err.size else None, "n": int(err.size),
                        "refits": info.get("refits", 0),
                        "fallback_periods": (info.get("fallback") or {}).get("periods", 0),
                        "ran": info.get("model")}
        if scores[name]["fallback_periods"]:
            # Its score would be the fallback's: this model itself cannot be judged on this window.
            scores[name]["error"] = (f"too little history to fit {name} before part of the scored window "
                                     f"({scores[name]['fallback_periods']} periods); not scored")
    scored = [n for n in candidates if scores[n]["mae"] is not None and not scores[n].get("error")]
    idx = pd.date_range(series.start, periods=len(series) + 1, freq=interval)
    sel = PolicyModelSelection(model=candidates[0], horizon_periods=k, eval_start=idx[e0].isoformat(),
                               cut=idx[c].isoformat(), refit=refit, scores=scores)
    if not scored:
        sel.reason = f"no candidate could be scored on {sel.eval_start} .. {sel.cut}; {candidates[0]} by default"
        return sel
    best = min(scored, key=lambda n: (scores[n]["mae"], candidates.index(n)))
    sel.model = best
    others = ", ".join(f"{n} {scores[n]['mae']:.3g}" for n in scored if n != best)
    sel.reason = (f"{best} has the lowest mean absolute {k}-step error on {sel.eval_start} .. {sel.cut} "
                  f"({scores[best]['mae']:.3g} requests per period{'; ' + others if others else ''}), "
                  f"refitted {refit}")
    unscored = [n for n in candidates if n not in scored]
    if unscored:
        sel.reason += f"; not scored (too little history to fit them there): {', '.join(unscored)}"
    return sel
