"""Fixtures of the scaling tests: tiny hand-made series and (when present) the NASA trace."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.series import Gap, TrafficSeries

REPO = Path(__file__).resolve().parents[3]


def make_series(values, minutes: int = 1, start: str = "2024-01-01 00:00", gaps=()) -> TrafficSeries:
    """A series of ``values`` requests per period at ``minutes`` granularity (UTC-04:00)."""
    idx = pd.date_range(pd.Timestamp(start, tz="-04:00"), periods=len(values), freq=f"{minutes}min")
    frame = pd.DataFrame({"requests": np.asarray(values, dtype=float)}, index=idx)
    return TrafficSeries(frame=frame, interval=pd.Timedelta(minutes=minutes), gaps=tuple(gaps))


def shared_dir() -> Path:
    return Path(os.environ.get("TRAFFIC_SHARED_DIR", REPO.parent / "shared"))


def load_nasa_minutes(path: Path) -> TrafficSeries:
    df = pd.read_csv(path)
    idx = pd.DatetimeIndex(pd.to_datetime(df["timestamp"])).tz_localize("-04:00")
    tz = idx.tz
    gaps = (
        Gap(pd.Timestamp("1995-07-28 13:33", tz=tz), pd.Timestamp("1995-08-01 00:00", tz=tz), "missing"),
        Gap(pd.Timestamp("1995-08-01 14:52", tz=tz), pd.Timestamp("1995-08-03 04:37", tz=tz), "silent"),
    )
    frame = pd.DataFrame({"requests": df["requests"].to_numpy(float)}, index=idx)
    return TrafficSeries(frame=frame, interval=pd.Timedelta("1min"), gaps=gaps)


@pytest.fixture(scope="session")
def nasa_minutes() -> TrafficSeries:
    path = shared_dir() / "data" / "nasa-1995" / "requests_per_minute.csv.gz"
    if not path.exists():
        pytest.skip(f"NASA trace not found at {path} (set TRAFFIC_SHARED_DIR to the shared folder)")
    return load_nasa_minutes(path)


@pytest.fixture(scope="session")
def nasa_5min(nasa_minutes) -> TrafficSeries:
    return nasa_minutes.resample("5min")
