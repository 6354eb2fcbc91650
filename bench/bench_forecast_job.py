"""The Forecast page's job with and without reusing its fitted model for the backtest (session 2).

Usage: OMP_NUM_THREADS=1 .venv/bin/python bench/bench_forecast_job.py [SHARED_DIR]

What the job does (dashapp/services.forecast_result, without the result cache): fit the model on the history
before the origin (fresh model cache), forecast 9 days with intervals, backtest the model beside the seasonal
naive on the 9 days after the origin under the three protocols; "refit" fits the model again inside the
backtest (before), "reuse" passes the fitted model (now). 5-minute NASA trace, origin 1995-08-23.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.forecast import backtest_protocols  # noqa: E402
from core.forecast.cache import ModelCache  # noqa: E402
from core.series import TrafficSeries  # noqa: E402
from core.store import DatasetStore  # noqa: E402


def main() -> None:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TRAFFIC_SHARED_DIR", ROOT.parent / "shared"))
    store = DatasetStore(tempfile.mkdtemp())
    info = store.put(shared / "data" / "nasa-1995" / "requests_per_minute.csv.gz", tz="-04:00")
    s = store.get(info.id).resample("5min")
    pos = int(s.index.searchsorted(pd.Timestamp("1995-08-23", tz=s.start.tz)))
    train = TrafficSeries(s.frame.iloc[:pos], s.interval, s.gaps)
    print(f"load average {os.getloadavg()[0]:.1f}")
    for model in ["lightgbm", "sarima"]:
        for reuse in (False, True, False, True):
            t0 = time.perf_counter()
            m, _ = ModelCache(tempfile.mkdtemp()).get_or_fit(model, train)
            m.predict(2592, level=(80, 95))
            reps = backtest_protocols(s, [model, "seasonal_naive"], train_end=s.index[pos - 1].isoformat(),
                                      fitted={model: m} if reuse else None)
            rmse = reps["one-step"].results[model]["rmse"]
            print(f"{model} {'reuse' if reuse else 'refit'}: {time.perf_counter() - t0:.2f} s, "
                  f"one-step RMSE {rmse:.2f}", flush=True)


if __name__ == "__main__":
    main()
