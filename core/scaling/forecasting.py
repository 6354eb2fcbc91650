"""Honest forecasts for the predictive policy.

The predictive policy never takes a forecast array from the caller. It takes a
*rolling forecaster*, a callable ``f(values, k, interval) -> array`` with the
contract

    out[j] is the forecast of period j made from values[: j - k + 1] only
    (data up to the end of period j - k, a k-step-ahead forecast),

and the simulator calls it itself on the series, then checks the contract by
perturbing the values after a cut and verifying that no forecast for a period
up to cut + k - 1 moved (:func:`honest_forecast`). A forecast fitted on the
simulated window, or any array computed elsewhere, cannot reach the policy.
A forecaster that keeps a model fitted elsewhere must refit inside the call.

:class:`RobustProfileRolling` is the forecast for series too short for a model:
a daily profile that does not copy one day's burst into the next.
"""

from __future__ import annotations

import warnings
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from core.forecast.naive import season_steps, seasonal_naive_rolling

__all__ = [
    "RobustProfileRolling",
    "RollingForecaster",
    "SeasonalNaiveRolling",
    "forecast_leakage_check",
    "honest_forecast",
    "robust_profile_rolling",
    "window_max",
]


@runtime_checkable
class RollingForecaster(Protocol):
    """``__call__(values, k, interval) -> out`` with out[j] from values[: j - k + 1] only."""

    def __call__(self, values: np.ndarray, k: int, interval: pd.Timedelta) -> np.ndarray: ...


class SeasonalNaiveRolling:
    """The seasonal naive forecast as a rolling forecaster (the lag logic is ``core.forecast.naive``'s).

    Same time one week earlier, falling back to one day earlier, then to the
    last value seen ``k`` periods earlier; NaN values (gaps) are skipped to the
    next fallback. Lags shorter than ``k`` are never used (they would need data
    after the decision time).
    """

    name = "seasonal_naive"

    def __call__(self, values: np.ndarray, k: int, interval: pd.Timedelta) -> np.ndarray:
        return seasonal_naive_rolling(values, k, interval)


def _nanmedian_rows(a: np.ndarray, lower: bool = False) -> np.ndarray:
    """Median of each row ignoring NaN (NaN for an all-NaN row); ``lower``: the lower middle value of an
    even count instead of the mean of the two middle ones."""
    srt = np.sort(a, axis=1)  # NaN sort last
    cnt = (~np.isnan(a)).sum(axis=1)
    rows = np.arange(len(a))
    lo = np.maximum(cnt - 1, 0) // 2
    hi = np.where(lower, lo, cnt // 2)
    if a.shape[1] == 0:
        return np.full(len(a), np.nan)
    med = 0.5 * (srt[rows, lo] + srt[rows, np.minimum(hi, a.shape[1] - 1)])
    return np.where(cnt > 0, med, np.nan)


def robust_profile_rolling(values: np.ndarray, k: int, interval: pd.Timedelta, *, days: int = 7,
                           level_minutes: float = 60.0, smooth_minutes: float = 60.0) -> np.ndarray:
    """A daily profile that never carries one day's burst into the next: ``out[j]`` from ``values[: j - k + 1]``.

    For period ``j`` (decided at ``o = j - k + 1``, data before ``o`` known):

    - the *profile* is, over the last ``days`` days whose same time of day is known at ``o``, the
      **lower median** of those values: a burst seen on one day of two or more is left out, a burst that
      recurs at the same time every day is kept. With a single such day there is nothing to tell a
      burst from the pattern, so that day is smoothed instead (median over ``smooth_minutes`` around the
      same time): a burst shorter than half of it is not copied;
    - the *level* is the median, over the last ``level_minutes`` before ``o``, of the observed values
      divided by their own profile (from the days before each): a step change or a trend moves the
      forecast within that hour, a burst shorter than half of it does not (clipped to 1/4 .. 4);
    - ``out[j] = profile x level``; before a day of history, the median of the last ``level_minutes``
      of values (a level without a daily shape). NaN where nothing is known.

    Args:
        values: the series (NaN = no data).
        k: steps ahead (>= 1).
        interval: the grid step.
        days: days of history the profile reads (>= 1).
        level_minutes: the window of the level correction.
        smooth_minutes: the smoothing window with a single day of history.
    """
    v = np.asarray(values, dtype=np.float64)
    n, k = len(v), int(k)
    if n == 0:
        return np.zeros(0)
    spd = season_steps(interval, "day")
    m_level = max(1, int(round(pd.Timedelta(minutes=level_minutes) / pd.Timedelta(interval))))
    half = max(0, int(round(pd.Timedelta(minutes=smooth_minutes) / pd.Timedelta(interval))) // 2)
    t = np.arange(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # Profile of each period from the days strictly before it (lag >= 1 day): for the level correction.
        d_min = max(1, -(-k // spd))  # same time of day, at least k periods back (known at the decision)

        def profile(first_day: int) -> np.ndarray:
            lags = spd * np.arange(first_day, first_day + days)
            src = t[:, None] - lags[None, :]
            day_vals = np.where(src >= 0, v[np.clip(src, 0, max(n - 1, 0))], np.nan)
            cnt = (~np.isnan(day_vals)).sum(axis=1)
            out = _nanmedian_rows(day_vals, lower=True)
            # One day known: its median around the same time of day (a short burst is not the pattern).
            one = cnt == 1
            if one.any() and half > 0:
                lag1 = lags[np.argmax(~np.isnan(day_vals[one]), axis=1)]
                centre = t[one] - lag1
                offs = np.arange(-half, half + 1)
                # Only values known at the decision: at most the centre + half <= o - 1 is not guaranteed
                # for lags near k, so the window is cut at o - 1.
                idx = centre[:, None] + offs[None, :]
                known = (idx >= 0) & (idx <= (t[one] - k)[:, None])
                win = np.where(known, v[np.clip(idx, 0, max(n - 1, 0))], np.nan)
                out[one] = _nanmedian_rows(win)
            return out

        prof = profile(d_min)
        prof_level = prof if d_min == 1 else profile(1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(prof_level > 0, v / prof_level, np.nan)
        # Windows of m_level values ending at o - 1 = j - k, for every j.
        end = t - k  # last known position
        w_idx = end[:, None] - np.arange(m_level)[None, :]
        ok = w_idx >= 0
        level = _nanmedian_rows(np.where(ok, ratio[np.clip(w_idx, 0, max(n - 1, 0))], np.nan))
        level = np.clip(np.where(np.isnan(level), 1.0, level), 0.25, 4.0)
        recent = _nanmedian_rows(np.where(ok, v[np.clip(w_idx, 0, max(n - 1, 0))], np.nan))
    return np.where(np.isnan(prof), recent, prof * level)


class RobustProfileRolling:
    """:func:`robust_profile_rolling` as a rolling forecaster: the forecast for series too short for a model."""

    name = "robust_profile"

    def __call__(self, values: np.ndarray, k: int, interval: pd.Timedelta) -> np.ndarray:
        return robust_profile_rolling(values, k, interval)


def forecast_leakage_check(forecaster: RollingForecaster, values: np.ndarray, k: int, interval: pd.Timedelta,
                           out: np.ndarray | None = None, cuts=None) -> None:
    """Raise if any forecast moved when only data after its decision time changed.

    For each cut the forecaster is run on the values with those from the cut on changed
    (``x 1.7 + 13``) and the series ending at ``cut + k`` (the last period whose forecast
    must not move): an honest forecast of period ``j`` reads ``values[: j - k + 1]`` only, so
    neither change may move it, and a forecaster that reads later values (a fit on the whole
    series, a look-ahead) sees both. Ending there also keeps the check as cheap as the forecasts
    it compares: a forecaster that refits on a schedule does no fit after the cut. A forecast
    "moved" when it differs by more than rounding (``1e-9``, relative and absolute): BLAS rounds
    the last rows of a matrix product over a shorter series differently, in the last bits, while
    a leak moves a forecast by a share of the perturbation.

    Args:
        cuts: positions after which the values are perturbed (default: half and
            three quarters of the series). The simulator passes cuts inside the
            simulated window: a forecast fitted on that window moves when they do.

    Raises:
        ValueError: naming the forecaster and the first period that leaked.
    """
    v = np.asarray(values, dtype=np.float64)
    n = len(v)
    if out is None:
        out = np.asarray(forecaster(v, k, interval), dtype=np.float64)
    for cut in sorted(set(cuts) if cuts is not None else {n // 2, (3 * n) // 4}):
        if cut <= 0 or cut >= n:
            continue
        lim = min(n, cut + k)
        w = v[:lim].copy()
        w[cut:] = w[cut:] * 1.7 + 13.0
        out2 = np.asarray(forecaster(w, k, interval), dtype=np.float64)
        if out2.shape != w.shape:
            raise ValueError(f"forecaster returned shape {out2.shape} for {lim} values (one value per period)")
        a, b = out[:lim], out2[:lim]
        same = np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
        if not same.all():
            j = int(np.flatnonzero(~same)[0])
            raise ValueError(
                f"forecaster {getattr(forecaster, 'name', type(forecaster).__name__)!r} leaks: its forecast for "
                f"period {j} changed when only data from period {cut} on changed (k={k}); a rolling forecaster "
                "must use values[: j - k + 1] only, fitting inside the call"
            )


def honest_forecast(forecaster: RollingForecaster | None, values: np.ndarray, k: int, interval: pd.Timedelta,
                    check: bool = True, cuts=None) -> np.ndarray:
    """Run ``forecaster`` (default :class:`SeasonalNaiveRolling`) and verify its contract.

    ``cuts``: where :func:`forecast_leakage_check` perturbs the values (default: n/2, 3n/4).

    Returns:
        out[j]: forecast of period j from data up to period j - k (NaN where none).
    """
    if k < 1:
        raise ValueError(f"forecast horizon k must be >= 1 period, got {k}")
    f = forecaster if forecaster is not None else SeasonalNaiveRolling()
    if not callable(f):
        raise ValueError(f"forecaster must be a callable f(values, k, interval), got {type(f).__name__}")
    v = np.asarray(values, dtype=np.float64)
    out = np.asarray(f(v, k, interval), dtype=np.float64)
    if out.shape != v.shape:
        raise ValueError(f"forecaster returned shape {out.shape}, expected {v.shape} (one value per period)")
    if check:
        forecast_leakage_check(f, v, k, interval, out, cuts=cuts)
    return out


def window_max(fc: np.ndarray, k: int) -> np.ndarray:
    """out[p] = max(fc[p : p + k]) ignoring NaN (0 where all NaN).

    At decision time p (data up to p - 1), every fc[j] with j <= p + k - 1 was made
    from data up to j - k <= p - 1, so the policy may use all of them.
    """
    x = np.nan_to_num(np.asarray(fc, dtype=np.float64), nan=0.0)
    n = len(x)
    pad = np.concatenate([x, np.zeros(k - 1)]) if k > 1 else x
    if k == 1:
        return x.copy()
    win = np.lib.stride_tricks.sliding_window_view(pad, k)
    return win.max(axis=1)[:n]
