"""How low can a one-step RMSE go on the test window? A bound from a smoother that sees the future.

Usage: .venv/bin/python bench/bench_smoother_bound.py [SHARED_DIR]

For each granularity, least squares on the training split (07-01 .. 08-22) predicts y[t] from its K
neighbours on *both* sides (y[t-K..t-1] and y[t+1..t+K]) plus daily Fourier terms and weekday dummies, and
is scored on the test split (08-23 .. 08-31); the gaps ``core.ingest`` finds (the no-log stretch, the
hurricane outage, two shorter silences) are neither trained on nor scored. A one-step forecast sees only
the left side, so it cannot be expected to beat this two-sided filter; the same regression with the left
side only is printed beside it for reference.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import load_nasa  # noqa: E402


def features(v: np.ndarray, index: pd.DatetimeIndex, k: int) -> tuple[list, list, list]:
    n = len(v)
    past = [np.r_[np.full(j, np.nan), v[:-j]] for j in range(1, k + 1)]
    future = [np.r_[v[j:], np.full(j, np.nan)] for j in range(1, k + 1)]
    tod = (index.hour * 60 + index.minute).to_numpy() / 1440.0
    dow = index.day_of_week.to_numpy()
    calendar = [f(2 * np.pi * h * tod) for h in range(1, 5) for f in (np.sin, np.cos)]
    calendar += [(dow == d).astype(float) for d in range(6)] + [np.ones(n)]
    return past, future, calendar


def main() -> None:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("TRAFFIC_SHARED_DIR", ROOT.parent / "shared"))
    series = load_nasa(shared)  # local time (-04:00), with the gaps core.ingest finds
    y1 = pd.Series(np.where(series.gap_mask(), np.nan, series.requests), index=series.index)  # gaps: no data
    print("| granularity | K each side | two-sided smoother (sees the future) | left side only | test periods |")
    print("|---|---:|---:|---:|---:|")
    for minutes, k in [(1, 30), (5, 12), (15, 8)]:
        y = y1 if minutes == 1 else y1.resample(f"{minutes}min").sum(min_count=minutes)
        v = y.to_numpy(float)
        past, future, calendar = features(v, y.index, k)
        both = np.column_stack(past + future + calendar)
        ok = ~np.isnan(both).any(axis=1) & ~np.isnan(v)
        train, test = ok & (y.index < "1995-08-23"), ok & (y.index >= "1995-08-23")
        out = []
        for x in (both, np.column_stack(past + calendar)):
            beta, *_ = np.linalg.lstsq(x[train], v[train], rcond=None)
            out.append(float(np.sqrt(np.mean((v[test] - x[test] @ beta) ** 2))))
        print(f"| {minutes} min | {k} | {out[0]:.2f} | {out[1]:.2f} | {int(test.sum())} |")


if __name__ == "__main__":
    main()
