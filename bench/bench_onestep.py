"""Fourier+ARMA one-step (and day-ahead) RMSE with a hyperparameter changed, on validation or test splits.

Usage (one heavy job at a time on the shared 2-core machine):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/bench_onestep.py \\
        --splits val-jul,val-aug --granularities 15,5,1 --variant '{"level_clip": null}'

Splits (local time, UTC-04:00): ``val-jul`` trains to 07-18 and tests 07-19 .. 07-27, ``val-aug`` trains to
08-08 and tests 08-09 .. 08-15 (the validation windows, both before 08-16, on which changes are chosen);
``week-earlier`` (test 08-16 .. 22) and ``standard`` (test 08-23 .. 31) are scored once a change is fixed.
Each row: the default model and the variant, fitted on the same training window, scored through
``core.forecast.backtest`` (the rolling protocols: a forecast of period t reads data before t only).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, load_nasa  # noqa: E402
from core.forecast.backtest import backtest_protocols  # noqa: E402

SPLITS = {  # name: (train end, test end)
    "val-jul": ("1995-07-18 23:59", "1995-07-27 23:59"),
    "val-aug": ("1995-08-08 23:59", "1995-08-15 23:59"),
    "week-earlier": ("1995-08-15 23:59", "1995-08-22 23:59"),
    "standard": ("1995-08-22 23:59", "1995-08-31 23:59"),
}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", default="val-jul,val-aug")
    ap.add_argument("--granularities", default="15,5,1", help="minutes, comma-separated")
    ap.add_argument("--protocols", default="one-step,day-ahead")
    ap.add_argument("--variant", default='{"level_clip": null}', help="fourier_arma parameters, JSON")
    ap.add_argument("--shared", default=None)
    args = ap.parse_args(argv)
    variant = json.loads(args.variant)
    protocols = args.protocols.split(",")
    series1 = load_nasa(args.shared)
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; variant {variant}")
    print("| gran. | split | protocol | default RMSE | variant RMSE |")
    print("|---|---|---|---:|---:|")
    for minutes in (int(g) for g in args.granularities.split(",")):
        s = series1 if minutes == 1 else series1.resample(f"{minutes}min")
        for split in args.splits.split(","):
            train_end, test_end = SPLITS[split]
            out = {}
            for key, params in (("default", {}), ("variant", variant)):
                reps = backtest_protocols(s, ["fourier_arma"], train_end, test_end, protocols,
                                          params={"fourier_arma": params})
                out[key] = {p: reps[p].results["fourier_arma"]["rmse"] for p in protocols}
            for p in protocols:
                print(f"| {minutes} min | {split} | {p} | {out['default'][p]:.3f} | {out['variant'][p]:.3f} |",
                      flush=True)


if __name__ == "__main__":
    main()
