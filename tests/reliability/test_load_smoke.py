"""A short load smoke: bench/bench_load.py's mix (pages, cached scenario renders and exports, API calls,
two forecasts fitting at once) from 20 concurrent clients for ~20 s: zero errors.

The 5-minute run with p95 figures and worker memory is ``bench/bench_load.py`` (bench/results/load.md).
"""

from __future__ import annotations

import math

from bench.bench_load import run_load, warm


def test_twenty_clients_for_twenty_seconds_without_an_error(live_server):
    warm(live_server.url)
    # Cheap models for the two forecasting clients: CI's budget; the bench uses SARIMA and LightGBM too.
    result = run_load(live_server.url, clients=20, seconds=20, forecasters=2, seed=3,
                      forecast_models=("seasonal_naive", "sarima"))
    assert result.errors == {}
    for kind in ("page", "render", "export", "api"):
        assert len(result.latencies[kind]) >= 20, kind
        assert math.isfinite(result.percentile(kind, 0.95))
    assert len(result.latencies["forecast"]) >= 2
    assert result.percentile("api", 0.95) < 15  # seconds; a sanity bound on a shared 2-core machine
