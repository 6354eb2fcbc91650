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
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from core.forecast.naive import seasonal_naive_rolling

__all__ = ["RollingForecaster", "SeasonalNaiveRolling", "forecast_leakage_check", "honest_forecast", "window_max"]


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


def forecast_leakage_check(forecaster: RollingForecaster, values: np.ndarray, k: int, interval: pd.Timedelta,
                           out: np.ndarray | None = None, cuts=None) -> None:
    """Raise if any forecast moved when only data after its decision time changed.

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
        w = v.copy()
        w[cut:] = w[cut:] * 1.7 + 13.0
        out2 = np.asarray(forecaster(w, k, interval), dtype=np.float64)
        lim = min(n, cut + k)
        a, b = out[:lim], out2[:lim]
        same = (a == b) | (np.isnan(a) & np.isnan(b))
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
