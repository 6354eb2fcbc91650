"""Synthetic and real series for the forecasting and anomaly tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.series import Gap, TrafficSeries

#: Cheap settings per model, so the contract runs over every model in seconds.
FAST = {
    "seasonal_naive": {},
    "fourier_arma": {"arma_days": 5},
    "lightgbm": {"n_estimators": 25},
    "prophet": {},
    "ensemble": {"members": ("seasonal_naive", "sarima", "lightgbm"),
                 "member_params": {"lightgbm": {"n_estimators": 25}}},
}
FAST["sarima"] = FAST["fourier_arma"]  # the alias, for the tests that ask by the old name


def rate(index: pd.DatetimeIndex, scale: float) -> np.ndarray:
    """Expected requests per period: daily cycle, quieter weekends."""
    tod = ((index.hour * 60 + index.minute) / 1440.0).to_numpy()
    daily = 1.0 + 0.8 * np.sin(2 * np.pi * (tod - 0.3))
    weekday = np.where(index.day_of_week.to_numpy() < 5, 1.0, 0.55)
    return scale * daily * weekday


def make_series(days: float = 14, step: str = "15min", scale: float = 60.0, seed: int = 0,
                start: str = "1995-07-03", gaps: tuple = (), with_bytes: bool = False) -> TrafficSeries:
    """Poisson counts around :func:`rate`; ``gaps`` are ``(start, end)`` pairs of missing data."""
    n = int(pd.Timedelta(days=days) / pd.Timedelta(step))
    idx = pd.date_range(start, periods=n, freq=step, tz="-04:00")
    lam = rate(idx, scale)
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"requests": rng.poisson(lam).astype(float)}, index=idx)
    if with_bytes:
        frame["bytes"] = frame["requests"] * rng.gamma(4.0, 5000.0, n)
    gap_objs = []
    for a, b in gaps:
        a, b = pd.Timestamp(a, tz="-04:00"), pd.Timestamp(b, tz="-04:00")
        frame.loc[(frame.index >= a) & (frame.index < b)] = np.nan
        gap_objs.append(Gap(a, b, "missing"))
    return TrafficSeries(frame=frame, interval=pd.Timedelta(step), gaps=tuple(gap_objs))



def nasa_series(nasa_dir) -> TrafficSeries:
    """The real per-minute NASA series, in its local offset (-04:00), with its two known gaps."""
    df = pd.read_csv(nasa_dir / "requests_per_minute.csv.gz")
    idx = pd.DatetimeIndex(pd.to_datetime(df["timestamp"])).tz_localize("-04:00")
    tz = idx.tz
    gaps = (Gap(pd.Timestamp("1995-07-28 13:33", tz=tz), pd.Timestamp("1995-08-01 00:00", tz=tz), "missing"),
            Gap(pd.Timestamp("1995-08-01 14:52", tz=tz), pd.Timestamp("1995-08-03 04:37", tz=tz), "silent"))
    frame = pd.DataFrame({"requests": df["requests"].to_numpy(float)}, index=idx)
    return TrafficSeries(frame=frame, interval=pd.Timedelta("1min"), gaps=gaps)
