"""Seasonal naive: the value one season (a day or a week) earlier. The baseline.

The lag logic lives here once: :func:`first_observed` picks, for each target
period, the value at the first lag in a list whose period is observed. The
registry model (:class:`SeasonalNaive`, paths from an origin) and the
simulator's rolling forecast (:func:`seasonal_naive_rolling`, one k-step-ahead
value per period) differ only in the lags they pass it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import InputError
from core.forecast.base import Forecaster, register

__all__ = ["SeasonalNaive", "first_observed", "season_steps", "seasonal_naive_paths", "seasonal_naive_rolling"]

#: Further seasons tried when a period is missing (a gap), before the fallback.
_MAX_SEASONS = 4


def season_steps(step: pd.Timedelta, season: str) -> int:
    """Periods in one ``"day"`` or ``"week"`` on a grid of ``step``: whole periods per day (at least 1)."""
    per_day = max(1, int(round(pd.Timedelta(days=1) / pd.Timedelta(step))))
    return per_day * (7 if season == "week" else 1)


def first_observed(y: np.ndarray, t: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """``y[t - lag]`` for the first lag (along the last axis of ``lags``) whose period is observed.

    A lag is skipped when its period lies outside ``y`` or is NaN (a gap); NaN where none is left.
    The caller passes only lags that end before the forecast's origin: this function cannot leak,
    and cannot tell.

    Args:
        y: the values (NaN = no data).
        t: target positions, any shape.
        lags: candidates in order of preference, shape ``(..., n_lags)`` broadcastable against ``t``.

    Returns:
        float array of the broadcast shape of ``t`` and ``lags[..., 0]``.
    """
    y = np.asarray(y, dtype=np.float64)
    lags = np.asarray(lags, dtype=np.int64)
    t = np.asarray(t, dtype=np.int64)
    out = np.full(np.broadcast_shapes(t.shape, lags.shape[:-1]), np.nan)
    if len(y) == 0:
        return out
    for i in range(lags.shape[-1]):
        src = t - lags[..., i]
        vals = np.where((src >= 0) & (src < len(y)), y[np.clip(src, 0, len(y) - 1)], np.nan)
        fill = np.isnan(out)
        out[fill] = vals[fill]
        if not np.isnan(out).any():
            break
    return out


def seasonal_naive_paths(y: np.ndarray, origins: np.ndarray, h: int, season: int, fallback: float) -> np.ndarray:
    """``y[t - k*season]`` for the smallest ``k`` with that period observed before the origin.

    Missing periods (gaps) fall back to further seasons (up to four), then to ``fallback``.
    """
    j = np.arange(1, h + 1)
    t = origins[:, None] + j[None, :] - 1
    k_min = -(-j // season)  # smallest k with k*season >= j, so the lag is before the origin
    lags = season * (k_min[:, None] + np.arange(_MAX_SEASONS)[None, :])  # (h, seasons)
    out = first_observed(y, t, lags)
    out[np.isnan(out)] = fallback
    return out


def seasonal_naive_rolling(values: np.ndarray, k: int, interval: pd.Timedelta) -> np.ndarray:
    """The rolling k-step-ahead seasonal naive forecast: ``out[j]`` from ``values[: j - k + 1]`` only.

    ``out[j]`` is the value one week earlier, else one day earlier, else ``k`` periods earlier,
    skipping missing (NaN) periods; lags shorter than ``k`` are never used (they would need data
    after the decision time). NaN where no lag has data.
    """
    v = np.asarray(values, dtype=np.float64)
    k = int(k)
    lags = [lag for lag in (season_steps(interval, "week"), season_steps(interval, "day"), k) if lag >= k]
    return first_observed(v, np.arange(len(v)), np.asarray(lags, dtype=np.int64))


@register
class SeasonalNaive(Forecaster):
    """Repeat the last observed season.

    Args:
        season: ``"week"`` (default; the better one on web traffic) or ``"day"``.
    """

    name = "seasonal_naive"
    label = "Seasonal naive"

    def __init__(self, season: str = "week", **kw):
        super().__init__(**kw)
        if season not in ("day", "week"):
            raise InputError(f"season must be 'day' or 'week', got {season!r}")
        self.season = season

    def get_params(self) -> dict:
        return {**super().get_params(), "season": self.season}

    def _season_steps(self) -> int:
        return season_steps(self.grid_.step, self.season)

    def _fit(self, y: np.ndarray) -> None:
        self.fallback_ = float(np.nanmedian(y))

    def _paths(self, y, origins, h):
        return seasonal_naive_paths(y, origins, h, self._season_steps(), self.fallback_)

    def _get_state(self):
        return {"fallback": self.fallback_}, {}, {}

    def _set_state(self, meta, arrays, texts):
        self.fallback_ = float(meta["fallback"])
