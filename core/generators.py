"""Synthetic traffic unlike NASA's, for testing scaling decisions on shapes that trace lacks.

Each generator builds a rate (requests per minute) on a regular tz-aware grid and draws Poisson counts
around it with ``np.random.default_rng(seed)``: the same arguments give the same series. Rates are
given per minute so that one shape can be drawn at any interval.

- :func:`flash_bursts` — a daily cycle plus a sharp burst at a fixed hour, ~4x the median.
- :func:`step_change` — a daily cycle whose level jumps by a factor on a given day.
- :func:`trend` — a daily cycle on slow linear or exponential growth (or decline).
- :func:`short_history` — only a few days of a daily cycle (less than the forecast models want).
- :func:`peak_servers` — servers the peak period needs, to set a ``max_servers`` that binds.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core.scaling.config import CapacityModel, Grid
from core.series import TrafficSeries, parse_granularity

__all__ = ["daily_cycle", "flash_bursts", "peak_servers", "short_history", "step_change", "trend"]

_DAY = pd.Timedelta(days=1)


def _positive(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _grid(days: float, interval, start, tz: str) -> tuple[pd.DatetimeIndex, pd.Timedelta]:
    step = parse_granularity(interval)
    _positive("days", days)
    if _DAY % step != pd.Timedelta(0):
        raise ValueError(f"interval must divide a day (1, 5, 15 min, 1 h, ...), got {step}")
    n = int(round(pd.Timedelta(days=days) / step))
    if n < 1:
        raise ValueError(f"days={days} holds no period of {step}; ask for at least one interval")
    return pd.date_range(pd.Timestamp(start), periods=n, freq=step, tz=tz), step


def daily_cycle(index: pd.DatetimeIndex, amplitude: float = 0.5, peak_hour: float = 14.0) -> np.ndarray:
    """Multiplier ``1 + amplitude * cos(2 pi (hour - peak_hour) / 24)``: median 1, trough 12 h from the peak.

    Raises:
        ValueError: for an amplitude outside [0, 1) (the rate would reach 0 or below).
    """
    if not 0 <= amplitude < 1:
        raise ValueError(f"amplitude must be within [0, 1) (a rate never reaching 0), got {amplitude}")
    hour = index.hour.to_numpy() + index.minute.to_numpy() / 60.0 + index.second.to_numpy() / 3600.0
    return 1.0 + amplitude * np.cos(2 * np.pi * (hour - peak_hour) / 24.0)


def _draw(rate_per_minute: np.ndarray, index: pd.DatetimeIndex, step: pd.Timedelta, seed: int) -> TrafficSeries:
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate_per_minute * (step / pd.Timedelta(minutes=1))).astype(np.float64)
    return TrafficSeries(frame=pd.DataFrame({"requests": counts}, index=index), interval=step)


def flash_bursts(days: float = 4, *, interval="5min", level: float = 40.0, burst_hour: float = 12.0,
                 burst_minutes: float = 20.0, burst_factor: float = 4.0, amplitude: float = 0.5, seed: int = 0,
                 start="2024-01-01", tz: str = "UTC") -> TrafficSeries:
    """A daily cycle of median ``level`` requests/minute, plus every day a burst of ``burst_factor`` x that
    median from ``burst_hour`` for ``burst_minutes``, rising and ending within one period (sharp).

    Args:
        days: length of the series.
        interval: the grid step (``"5min"``, 5, a Timedelta); it must divide a day.
        level: median rate in requests per minute (the daily cycle's midline).
        burst_hour: local hour of the burst's start (0 <= h < 24).
        burst_minutes: burst length (> 0, at most a day).
        burst_factor: the burst's rate as a multiple of ``level`` (> 0).
        amplitude: relative amplitude of the daily cycle (see :func:`daily_cycle`).
        seed: seed of the Poisson draws.
        start, tz: first period and time zone of the grid.

    Returns:
        The series (requests only, no gaps).

    Raises:
        ValueError: naming a bad value and the accepted range.
    """
    index, step = _grid(days, interval, start, tz)
    level = _positive("level", level)
    _positive("burst_factor", burst_factor)
    if not 0 <= burst_hour < 24:
        raise ValueError(f"burst_hour must be within [0, 24), got {burst_hour}")
    if not 0 < burst_minutes <= 1440:
        raise ValueError(f"burst_minutes must be within (0, 1440], got {burst_minutes}")
    rate = level * daily_cycle(index, amplitude)
    since = (index - index.normalize()) / pd.Timedelta(minutes=1) - burst_hour * 60.0
    since = np.mod(np.asarray(since, dtype=np.float64), 1440.0)  # minutes since today's burst start
    rate = np.where(since < burst_minutes, level * burst_factor, rate)
    return _draw(rate, index, step, seed)


def step_change(days: float = 6, *, interval="5min", level: float = 40.0, factor: float = 2.5, step_day: int = 3,
                amplitude: float = 0.5, seed: int = 0, start="2024-01-01", tz: str = "UTC") -> TrafficSeries:
    """A daily cycle of median ``level`` requests/minute that jumps to ``factor`` x that level from the
    start of day ``step_day`` (0 = the first day) on: a launch, a migration, a lost customer (factor < 1).

    Raises:
        ValueError: naming a bad value (factor <= 0, step_day outside the series).
    """
    index, step = _grid(days, interval, start, tz)
    level = _positive("level", level)
    factor = _positive("factor", factor)
    if not 0 < step_day < days:
        raise ValueError(f"step_day must be within (0, days={days}) so there is traffic on both sides, got {step_day}")
    day = np.asarray((index - index[0]) / _DAY, dtype=np.float64)
    rate = level * daily_cycle(index, amplitude) * np.where(day >= step_day, factor, 1.0)
    return _draw(rate, index, step, seed)


def trend(days: float = 14, *, interval="5min", level: float = 40.0, growth_per_day: float = 0.05,
          kind: str = "linear", amplitude: float = 0.5, seed: int = 0, start="2024-01-01",
          tz: str = "UTC") -> TrafficSeries:
    """A daily cycle on a slow trend: ``level * (1 + g t)`` (linear) or ``level * (1 + g) ** t`` (exponential)
    requests/minute, t in days since the start; a negative ``growth_per_day`` declines.

    Raises:
        ValueError: an unknown kind, or a growth that takes the rate to 0 or below within the series.
    """
    index, step = _grid(days, interval, start, tz)
    level = _positive("level", level)
    t = np.asarray((index - index[0]) / _DAY, dtype=np.float64)
    if kind == "linear":
        if 1 + growth_per_day * days <= 0:
            raise ValueError(f"growth_per_day={growth_per_day} takes a linear trend to 0 within {days} days; "
                             f"use a value > {-1 / days:.4g} or kind='exponential'")
        shape = 1 + growth_per_day * t
    elif kind == "exponential":
        if growth_per_day <= -1:
            raise ValueError(f"growth_per_day must be > -1 for an exponential trend, got {growth_per_day}")
        shape = (1 + growth_per_day) ** t
    else:
        raise ValueError(f"kind must be 'linear' or 'exponential', got {kind!r}")
    return _draw(level * daily_cycle(index, amplitude) * shape, index, step, seed)


def short_history(days: float = 2, *, interval="5min", level: float = 40.0, amplitude: float = 0.5, seed: int = 0,
                  start="2024-01-01", tz: str = "UTC") -> TrafficSeries:
    """Only ``days`` days (default 2) of a daily cycle of median ``level`` requests/minute: no week to learn
    from, far from the 14 days the default forecast model is fitted on.

    Raises:
        ValueError: for ``days`` of a week or more (use another generator for long series).
    """
    if days >= 7:
        raise ValueError(f"short_history is for less than a week of data, got days={days}; use trend() or "
                         "step_change() for longer series")
    index, step = _grid(days, interval, start, tz)
    level = _positive("level", level)
    return _draw(level * daily_cycle(index, amplitude), index, step, seed)


def peak_servers(series: TrafficSeries, capacity: CapacityModel | None = None) -> int:
    """Servers the busiest period's demand needs at ``capacity`` (default ``CapacityModel()``): a
    ``max_servers`` below this binds (the oracle and every policy are overloaded there).

    Returns:
        ``ceil(max requests per period / requests one server serves per period)``, at least 0.
    """
    cap = Grid(series.interval.total_seconds()).server_capacity(capacity or CapacityModel())
    peak = float(np.nanmax(series.requests)) if len(series) and not np.isnan(series.requests).all() else 0.0
    return max(0, math.ceil(peak / cap - 1e-9))
