"""Fixtures for the forecasting tests (helpers live in synth.py)."""

from __future__ import annotations

import os

import pytest

from core.series import TrafficSeries
from tests.core.forecast.synth import make_series, nasa_series

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


@pytest.fixture(scope="session")
def series15() -> TrafficSeries:
    return make_series()


@pytest.fixture(scope="session")
def nasa5(nasa_dir) -> TrafficSeries:
    return nasa_series(nasa_dir).resample("5min")
