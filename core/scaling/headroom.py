"""Headroom as a quantile of measured forecast errors, for the predictive policy.

Instead of provisioning for ``forecast x (1 + margin)``, the policy can provision for
``forecast + q``, where ``q`` is the ``level`` quantile (e.g. 95%) of the forecaster's own
recent k-step errors ``actual - forecast``. The errors are those a deployment has seen at the
decision time: for the forecast of period ``j`` (decided at ``j - k + 1``, data up to ``j - k``
known), the errors of the periods ``i <= j - k`` within the last ``days`` days (recomputed every
hour, as a deployment would: from the errors before the last full hour). Each such error
needs the actual of ``i`` (known, ``i <= j - k``) and the forecast of ``i`` (made at
``i - k + 1``), so the upper forecast ``forecast + q`` obeys the rolling-forecaster contract of
``core.scaling.forecasting`` and the simulator's leakage check covers it.

Which errors: by default all of the last 7 days (*global*), not only those at the same time of
day. Errors grow with the level of traffic, so a time-of-day window would follow that, but it
holds few errors (a 1-hour window: 13 periods a day at 5 minutes, 91 in a week): one burst of
half an hour fills its top 5% and the headroom then provisions for that burst at that hour for a
week. Measured on NASA's two validation weeks before the test week (08-09..15, 08-16..22, 5 min,
daily refits, 95%, predictive policy), the global quantile was the cheapest for the conservative
and balanced presets (a +-30 or +-90 min window, or errors scaled by the forecast or its square
root, cost 3-11% more) and within 0.5% of the cheapest for the aggressive one (+-90 min: 0.4%
less on average over the two weeks), at the same or fewer overloaded periods (docs/simulator.md).
``window_minutes`` keeps the time-of-day variant available.

Before one day's worth of errors is known (a short series, the first day), the quantile is
not estimated: the forecast gets the fixed margin ``fallback_margin`` (the validated 0.25 by
default), and ``describe()`` says for how many periods.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.forecast.naive import season_steps
from core.scaling.forecasting import RollingForecaster

__all__ = ["FALLBACK_MARGIN", "QuantileHeadroom", "error_lags", "error_quantile"]

#: The margin used where too few errors are known to estimate their quantile: the fixed margin chosen
#: on NASA's validation weeks (``PredictiveSpec.safety_margin``'s default; docs/simulator.md).
FALLBACK_MARGIN = 0.25

#: Rows x lags sorted at once (bounded memory: 2M floats = 16 MB).
_CHUNK = 2_000_000


def error_lags(k: int, interval: pd.Timedelta, days: float, window_minutes: float | None = None) -> np.ndarray:
    """Lags ``j - i`` of the errors that set the headroom of the forecast of period ``j``, recomputed every period
    (the time-of-day window; the global quantile is refreshed hourly instead, see :func:`error_quantile`).

    Every lag is at least ``k`` (the error of ``i <= j - k`` is known at the decision ``j - k + 1``)
    and below ``k + days`` of periods.

    Args:
        k: steps ahead of the forecast (>= 1).
        interval: the grid step.
        days: how far back errors are read (> 0).
        window_minutes: None: every period in those days; else only periods within half this
            window of the same time of day as ``j`` (on each earlier day, and the same day).

    Returns:
        Sorted int64 lags.
    """
    k = int(k)
    span = max(1, int(round(pd.Timedelta(days=days) / pd.Timedelta(interval))))
    if window_minutes is None:
        return np.arange(k, k + span, dtype=np.int64)
    spd = season_steps(interval, "day")
    half = max(0, int(round(pd.Timedelta(minutes=window_minutes) / pd.Timedelta(interval))) // 2)
    d = np.arange(0, int(math.ceil(days)) + 2)
    lags = (d[:, None] * spd + np.arange(-half, half + 1)[None, :]).ravel()
    return np.unique(lags[(lags >= k) & (lags < k + span)]).astype(np.int64)


def _quantiles(err: np.ndarray, anchors: np.ndarray, lags: np.ndarray, p: float) -> tuple[np.ndarray, np.ndarray]:
    """For each anchor ``a``: the ``p`` quantile of ``err[a - lags]`` ignoring NaN, and how many were not NaN."""
    n = len(err)
    q = np.full(len(anchors), np.nan)
    count = np.zeros(len(anchors), np.int64)
    step = max(1, _CHUNK // max(1, len(lags)))
    for lo in range(0, len(anchors), step):
        a = anchors[lo:lo + step]
        src = a[:, None] - lags[None, :]
        e = np.where(src >= 0, err[np.clip(src, 0, max(n - 1, 0))], np.nan)
        e.sort(axis=1)  # NaN last
        c = (~np.isnan(e)).sum(axis=1)
        pos = p * np.maximum(c - 1, 0)  # linear interpolation, as np.quantile's default
        i0 = np.floor(pos).astype(np.int64)
        i1 = np.minimum(i0 + 1, np.maximum(c - 1, 0))
        r = np.arange(len(a))
        q[lo:lo + step] = e[r, i0] + (e[r, i1] - e[r, i0]) * (pos - i0)
        count[lo:lo + step] = c
    return q, count


def error_quantile(values: np.ndarray, forecast: np.ndarray, k: int, interval: pd.Timedelta, *,
                   level: float = 95.0, days: float = 7.0, window_minutes: float | None = None,
                   refresh_minutes: float = 60.0, min_count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per period ``j``: the ``level`` quantile of the errors ``values - forecast`` known at its decision.

    Global (``window_minutes=None``): the errors of the ``days`` before the last refresh point ``r <= j - k + 1``
    (one every ``refresh_minutes``, counted from the first period): periods ``r - days .. r - 1``, all known at
    the decision ``j - k + 1``. Recomputing every hour rather than every period changes the quantile of a
    week of errors by little and divides the work by the periods in an hour (60 at 1 minute). With a
    time-of-day window: the errors at :func:`error_lags` before ``j``, for every period.

    Args:
        values: the actuals (NaN = no data; such periods give no error).
        forecast: the k-step rolling forecast (``out[i]`` made from ``values[: i - k + 1]``).
        k, interval, days, window_minutes: see :func:`error_lags`.
        level: the quantile in percent (0 < level < 100), linear interpolation as ``np.quantile``.
        refresh_minutes: how often the global quantile is recomputed (at least every period).
        min_count: fewest errors for an estimate (default: one day's worth).

    Returns:
        ``(q, count)``: the quantile (NaN where fewer than ``min_count`` errors are known, or where
        ``forecast`` is NaN) and the number of errors it read.
    """
    v = np.asarray(values, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    n, k = len(v), int(k)
    err = v - f
    rows = np.flatnonzero(~np.isnan(f))
    p = float(level) / 100.0
    q = np.full(n, np.nan)
    count = np.zeros(n, np.int64)
    if window_minutes is None:
        span = max(1, int(round(pd.Timedelta(days=days) / pd.Timedelta(interval))))
        every = max(1, int(round(pd.Timedelta(minutes=refresh_minutes) / pd.Timedelta(interval))))
        asof = np.maximum(rows - k + 1, 0) // every * every
        anchors, which = np.unique(asof, return_inverse=True)
        qa, ca = _quantiles(err, anchors, np.arange(1, span + 1, dtype=np.int64), p)
        q[rows], count[rows] = qa[which], ca[which]
        per_day = span / max(days, 1.0)
    else:
        lags = error_lags(k, interval, days, window_minutes)
        q[rows], count[rows] = _quantiles(err, rows, lags, p)
        per_day = len(lags) / max(days, 1.0)
    if min_count is None:
        min_count = max(1, int(math.ceil(per_day)))
    q[count < min_count] = np.nan
    return q, count


class QuantileHeadroom:
    """A rolling forecaster plus the quantile of its own recent errors: ``forecast + q`` (never below 0).

    Wraps any rolling forecaster (``f(values, k, interval)``); the result is one too, honest when the
    wrapped one is (see the module docstring), so the simulator's leakage check covers the headroom.

    Args:
        forecaster: the point forecast.
        level: quantile of the errors in percent (0 < level < 100).
        days: days of errors read before each decision (> 0).
        window_minutes: None (default): all errors of those days; else those within half this window of
            the same time of day.
        refresh_minutes: how often the global quantile is recomputed (default hourly).
        fallback_margin: where fewer than a day's worth of errors are known, ``forecast x (1 + this)``.

    Raises:
        ValueError: a level, window or margin out of range (the message names it and the fix).
    """

    def __init__(self, forecaster: RollingForecaster, *, level: float = 95.0, days: float = 7.0,
                 window_minutes: float | None = None, refresh_minutes: float = 60.0,
                 fallback_margin: float = FALLBACK_MARGIN):
        if not (isinstance(level, (int, float)) and 0 < level < 100):
            raise ValueError(f"headroom level must be within (0, 100) percent, got {level!r}; e.g. 95")
        if not (isinstance(days, (int, float)) and math.isfinite(days) and days > 0):
            raise ValueError(f"headroom days must be > 0, got {days!r}; e.g. 7 (a week of errors)")
        if window_minutes is not None and not (math.isfinite(window_minutes) and window_minutes > 0):
            raise ValueError(f"window_minutes must be > 0 or None (every time of day), got {window_minutes!r}")
        if not (math.isfinite(refresh_minutes) and refresh_minutes > 0):
            raise ValueError(f"refresh_minutes must be > 0, got {refresh_minutes!r}; e.g. 60 (hourly)")
        if not (math.isfinite(fallback_margin) and 0 <= fallback_margin <= 10):
            raise ValueError(f"fallback_margin must be within [0, 10], got {fallback_margin!r}")
        self.forecaster = forecaster
        self.level = float(level)
        self.days = float(days)
        self.window_minutes = None if window_minutes is None else float(window_minutes)
        self.fallback_margin = float(fallback_margin)
        self.refresh_minutes = float(refresh_minutes)
        self.name = getattr(forecaster, "name", type(forecaster).__name__)
        self.point_: np.ndarray | None = None
        self.headroom_: np.ndarray | None = None
        self.fallback_: np.ndarray | None = None

    def __call__(self, values: np.ndarray, k: int, interval: pd.Timedelta) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        fc = np.asarray(self.forecaster(v, k, interval), dtype=np.float64)
        q, _ = error_quantile(v, fc, k, interval, level=self.level, days=self.days,
                              window_minutes=self.window_minutes, refresh_minutes=self.refresh_minutes)
        fallback = ~np.isnan(fc) & np.isnan(q)
        head = np.where(fallback, fc * self.fallback_margin, q)
        # The arrays of the last call: prepare() reads them over its window (how much headroom, where).
        self.point_, self.headroom_, self.fallback_ = fc, head, fallback
        return np.maximum(fc + head, 0.0)

    def describe(self) -> dict:
        """The wrapped forecaster's ``describe()`` (if any) and the headroom's settings."""
        inner = self.forecaster.describe() if hasattr(self.forecaster, "describe") else {"model": self.name}
        window = "all" if self.window_minutes is None else f"+-{self.window_minutes / 2:g} min of the time of day"
        return {**inner, "headroom": {"kind": "quantile", "level": self.level, "days": self.days, "errors": window,
                                      "refresh_minutes": self.refresh_minutes,
                                      "fallback_margin": self.fallback_margin}}
