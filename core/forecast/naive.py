"""Seasonal naive: the value one season (a day or a week) earlier. The baseline."""

from __future__ import annotations

import numpy as np

from core.errors import InputError
from core.forecast.base import Forecaster, register

__all__ = ["SeasonalNaive", "seasonal_naive_paths"]


def seasonal_naive_paths(y: np.ndarray, origins: np.ndarray, h: int, season: int, fallback: float) -> np.ndarray:
    """``y[t - k*season]`` for the smallest ``k`` with that period observed before the origin.

    Missing periods (gaps) fall back to further seasons (up to four), then to ``fallback``.
    """
    j = np.arange(1, h + 1)
    t = origins[:, None] + j[None, :] - 1
    out = np.full(t.shape, np.nan)
    k_min = -(-j // season)  # smallest k with k*season >= j, so the lag is before the origin
    for extra in range(4):
        k = k_min + extra
        src = t - k[None, :] * season
        ok = src >= 0
        vals = np.where(ok, y[np.clip(src, 0, len(y) - 1)], np.nan)
        fill = np.isnan(out)
        out[fill] = vals[fill]
        if not np.isnan(out).any():
            break
    out[np.isnan(out)] = fallback
    return out


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
        return self.grid_.steps_per_day * (7 if self.season == "week" else 1)

    def _fit(self, y: np.ndarray) -> None:
        self.fallback_ = float(np.nanmedian(y))

    def _paths(self, y, origins, h):
        return seasonal_naive_paths(y, origins, h, self._season_steps(), self.fallback_)

    def _get_state(self):
        return {"fallback": self.fallback_}, {}, {}

    def _set_state(self, meta, arrays, texts):
        self.fallback_ = float(meta["fallback"])
