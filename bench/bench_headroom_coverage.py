"""The predictive policy's intervals in the simulator: recalibrated online (the rolling error quantile) against a
fixed calibration (the same quantile frozen at the test window's start), on both NASA splits (issue #14 item 1).

The predictive policy provisions for ``forecast + q``: ``q`` the level quantile of the forecaster's own k-step
errors of the last 7 days, recomputed hourly as actuals arrive (``core.scaling.headroom``). That is an online
calibration of a one-sided interval. This measures its coverage (share of test periods with actual <=
forecast + q) at the decision horizon against the fixed alternative: q from the 7 days before the test window,
kept for the whole window. The forecaster is the one the recommendation runs (Fourier+ARMA, refitted weekly).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_headroom_coverage.py`` (about a minute).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cpu_model, load_nasa  # noqa: E402
from core.scaling.headroom import error_quantile  # noqa: E402
from core.scaling.policy_forecast import PolicyForecaster, decision_horizon  # noqa: E402
from core.scaling.simulate import SimulationModel  # noqa: E402
from core.scaling.walkforward import POLICY_REFIT  # noqa: E402

SPLITS = (("standard", "1995-08-23", "1995-09-01"), ("week earlier", "1995-08-16", "1995-08-23"))
LEVELS = (80.0, 95.0)


def main() -> None:
    print(f"# The predictive policy's interval: online against fixed calibration\n\nmachine: {cpu_model()}\n")
    print("| granularity | split | k (periods) | level | online coverage | fixed coverage | online mean headroom | "
          "fixed headroom |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    nasa = load_nasa()
    m = SimulationModel()
    for gran in ("5min", "15min"):
        s = nasa.resample(gran)
        k = decision_horizon(m.capacity, m.predictive, s.interval)
        values = np.where(s.gap_mask(), np.nan, s.requests)
        for split, t0, t1 in SPLITS:
            tz = s.index.tz
            a = int(s.index.searchsorted(pd.Timestamp(t0, tz=tz)))
            b = int(s.index.searchsorted(pd.Timestamp(t1, tz=tz)))
            w = int(pd.Timedelta(days=7) / s.interval)
            f = PolicyForecaster("fourier_arma", start=s.start, window_start=a - w, window_end=b, refit=POLICY_REFIT)
            fc = np.asarray(f(values, k, s.interval), dtype=np.float64)
            test = slice(a, b)
            ok = ~np.isnan(values[test]) & ~np.isnan(fc[test])
            for level in LEVELS:
                q, _ = error_quantile(values, fc, k, s.interval, level=level, days=7.0)
                err = (values - fc)[a - w:a]
                q_fixed = float(np.nanquantile(err, level / 100.0))
                y, f_t, q_t = values[test][ok], fc[test][ok], q[test][ok]
                online = float(np.mean(y <= f_t + q_t)) * 100
                fixed = float(np.mean(y <= f_t + q_fixed)) * 100
                print(f"| {gran} | {split} ({t0[5:]} .. {t1[5:]}) | {k} | {level:g}% | {online:.1f}% | {fixed:.1f}% | "
                      f"{np.mean(q_t):.1f} | {q_fixed:.1f} |", flush=True)


if __name__ == "__main__":
    main()
