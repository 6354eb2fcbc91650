"""Online calibration of rolling forecasts: a rolling conformal quantile plus an ACI integrator.

A fixed split-conformal calibrator (:mod:`core.forecast.intervals`) holds as long as the test period
resembles its calibration window; between weeks the level and spread of the errors shift and coverage
drifts (NASA, day-ahead, 15 min: LightGBM's 80% intervals covered 74% of one week and 96% of the week
before). Here the intervals of a rolling protocol follow the errors as the actuals arrive:

- **Rolling conformal quantile.** The fixed interval of level L at each step is the shape: its centre
  ``c0`` and half-widths in scaled-error units (``(y - mean) / sqrt(max(mean, floor))``, per horizon band).
  Each scored error becomes a ratio ``r`` = its distance from ``c0`` over the half-width on its side
  (``r > 1``: outside the fixed interval). The interval of a new path stretches both half-widths by
  ``c_L``, the split-conformal L-quantile (``ceil((n + 1) L) / n``) of the ratios of the last
  ``window_days`` of errors, pooled over horizon bands (the fixed shape already scales each band); until
  ``min_days`` of errors are known ``c_L = 1``: the fixed interval.
- **ACI integrator** (adaptive conformal inference, Gibbs & Candès, NeurIPS 2021, on the log of the
  width): ``theta_L += gamma / steps_per_day * (err - (1 - L))`` per scored error (``err`` = 1 outside),
  and the stretch is ``c_L * exp(theta_L)``. A window of a few days is noisy and lags level shifts; the
  integrator corrects the miscoverage that remains (over a long run the share of misses approaches
  ``1 - L`` whatever the data), ``gamma`` being per day of errors so that the speed is the same at 1, 5
  or 15 minutes.

The recipe is a conformal PID controller (Angelopoulos, Candès & Tibshirani, NeurIPS 2023) without its
scorecaster. No leakage: the interval of a path from origin ``o`` uses only the errors of periods before
``o`` (an actual of period ``p`` is known from the start of period ``p + 1``), the data its mean may use.
"""

from __future__ import annotations

import numpy as np

from core.forecast.intervals import ConformalCalibrator

__all__ = ["GAMMA", "MIN_DAYS", "WINDOW_DAYS", "adaptive_label", "fixed_label", "online_intervals"]

#: Days of recent errors behind the rolling quantile; days needed before it replaces the fixed interval.
WINDOW_DAYS = 2.0
MIN_DAYS = 1.0
#: Step of the integrator per day of scored errors. Chosen with WINDOW_DAYS on the validation split (train
#: to 08-15, test 08-16 .. 22), see ``docs/forecasting.md``.
GAMMA = 2.0


def adaptive_label(window_days: float = WINDOW_DAYS, gamma: float = GAMMA) -> str:
    """What a backtest row says about online intervals."""
    return f"adaptive (rolling: last {window_days:g} days of errors, ACI gamma={gamma:g} per day)"


def fixed_label(calibration_days: float) -> str:
    """What a backtest row says about fixed intervals."""
    return f"fixed (the last {calibration_days:g} days before the training end)"


def _level_key(level: float) -> str:
    return f"{level:g}"


def online_intervals(calibrator: ConformalCalibrator, mean: np.ndarray, origins: np.ndarray, y: np.ndarray,
                     levels, steps_per_day: int, *, window_days: float = WINDOW_DAYS,
                     min_days: float = MIN_DAYS, gamma: float = GAMMA) -> dict[str, np.ndarray]:
    """Intervals of rolling forecast paths, recalibrated online as the actuals arrive.

    Args:
        calibrator: the model's fitted conformal calibrator (the interval shape per horizon band).
        mean: ``(n_origins, h)`` mean paths; path ``i`` forecasts ``y[origins[i] .. origins[i] + h - 1]``.
        origins: strictly increasing positions.
        y: the true values on the same grid (NaN = no data: neither scored nor used).
        levels: interval levels in percent.
        steps_per_day: periods per day.
        window_days: days of recent errors behind the rolling quantile.
        min_days: days of errors needed before the rolling quantile is used (the fixed interval before).
        gamma: integrator step per day of scored errors; 0 turns the integrator off.
    Returns:
        ``{"lo-80": (n_origins, h), "hi-80": ..., ...}``; path ``i`` uses actuals of periods before
        ``origins[i]`` only.
    Raises:
        ValueError: origins not strictly increasing, a negative ``gamma``, or ``window_days <= 0``.
    """
    mean = np.asarray(mean, dtype=np.float64)
    origins = np.asarray(origins, dtype=np.int64)
    y = np.asarray(y, dtype=np.float64)
    if gamma < 0 or window_days <= 0:
        raise ValueError(f"gamma must be >= 0 and window_days > 0, got {gamma} and {window_days}")
    if origins.size > 1 and np.any(np.diff(origins) <= 0):
        raise ValueError("origins must be strictly increasing (online calibration follows time)")
    levels = [float(v) for v in levels]
    n_paths, h = mean.shape
    if not n_paths or not levels:
        return {f"{side}-{_level_key(lev)}": np.empty((n_paths, h)) for lev in levels for side in ("lo", "hi")}
    lo_all = np.empty((len(levels), n_paths, h))
    hi_all = np.empty((len(levels), n_paths, h))
    cover = np.array(levels) / 100
    q_lo, q_hi = (np.stack(b) for b in zip(*(calibrator.score_bounds(lev, h) for lev in levels), strict=True))
    centre = (q_lo + q_hi) / 2
    half_lo = np.maximum(centre - q_lo, 1e-9)
    half_hi = np.maximum(q_hi - centre, 1e-9)
    window = max(1, int(round(window_days * steps_per_day)))
    need = max(1, int(round(min_days * steps_per_day)))
    refresh = max(1, steps_per_day // 24)  # the rolling quantile is recomputed at most hourly
    first, last_origin = int(origins[0]), int(origins[-1])
    # Scored errors: the period from which each is known, and its ratio per level (levels x errors).
    known_at = np.empty(0, dtype=np.int64)
    ratios = np.empty((len(levels), 0))
    new_known: list[np.ndarray] = []  # errors scored since the last refresh
    new_ratios: list[np.ndarray] = []
    # theta_inc[a - first - 1]: the integrator's steps from errors known from period a on.
    theta_inc = np.zeros((last_origin - first + 1, len(levels)))
    theta = np.zeros(len(levels))
    stretch = np.ones(len(levels))
    applied, refreshed = first, None
    j = np.arange(h)
    for i, o in enumerate(origins):
        o = int(o)
        if o > applied:
            theta += theta_inc[applied - first:o - first].sum(axis=0)
            applied = o
        if refreshed is None or o - refreshed >= refresh:
            if new_known:  # gathered here, not per origin: one copy an hour at most
                known_at = np.concatenate([known_at, *new_known])
                ratios = np.concatenate([ratios, *new_ratios], axis=1)
                new_known, new_ratios = [], []
            recent = (known_at <= o) & (known_at > o - window)
            stretch = _conformal_quantile(ratios[:, recent], cover) if recent.sum() >= need else np.ones(len(levels))
            keep = known_at > o - window  # older errors can no longer enter a window
            known_at, ratios = known_at[keep], ratios[:, keep]
            refreshed = o
        m = mean[i]
        scale = np.sqrt(np.maximum(m, calibrator.floor))
        c = (stretch * np.exp(theta))[:, None]
        lo = np.maximum(m + (centre - c * half_lo) * scale, 0.0)
        hi = np.maximum(m + (centre + c * half_hi) * scale, lo)
        lo_all[:, i] = lo
        hi_all[:, i] = hi
        pos = o + j
        truth = np.full(h, np.nan)
        inside = pos < len(y)
        truth[inside] = y[pos[inside]]
        ok = np.isfinite(truth) & np.isfinite(m) & (pos + 1 <= last_origin)  # later errors serve no origin
        if not ok.any():
            continue
        d = (truth[ok] - m[ok]) / scale[ok] - centre[:, ok]
        new_known.append(pos[ok] + 1)
        new_ratios.append(np.where(d >= 0, d / half_hi[:, ok], -d / half_lo[:, ok]))
        if gamma > 0:
            miss = (truth[None, ok] < lo[:, ok]) | (truth[None, ok] > hi[:, ok])
            # One path's periods are distinct, so plain indexing adds each step once.
            theta_inc[pos[ok] - first] += (gamma / steps_per_day * (miss - (1 - cover)[:, None])).T
    out = {}
    for k, lev in enumerate(levels):
        out[f"lo-{_level_key(lev)}"], out[f"hi-{_level_key(lev)}"] = lo_all[k], hi_all[k]
    return out


def _conformal_quantile(ratios: np.ndarray, cover: np.ndarray) -> np.ndarray:
    """Per level (row), the ``ceil((n + 1) L) / n`` order statistic of its ratios (the largest if beyond n)."""
    n = ratios.shape[1]
    k = np.minimum(np.ceil((n + 1) * cover).astype(np.int64), n) - 1
    return np.sort(ratios, axis=1)[np.arange(len(cover)), k]
