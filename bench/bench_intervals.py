"""Fixed vs adaptive (rolling quantile + ACI) intervals in the rolling protocols, on the real NASA series.

Run by hand (not in CI), one heavy job at a time on the shared 2-core machine:

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        .venv/bin/python bench/bench_intervals.py [--granularities 15,5] \\
        [--models seasonal_naive,fourier_arma,lightgbm] [--out bench/results/intervals.md]

Two splits (local time, UTC-04:00): the standard one (train to 08-22, test 08-23 .. 08-31) and the one a
week earlier (train to 08-15, test 08-16 .. 08-22, the validation split on which the online calibration's
window and ``gamma`` were chosen). Each model is fitted once per split and granularity; the same fit is
scored with the fixed calibration and with the online one (``core.forecast.online``), day-ahead and
one-step. Coverage of the 80% / 95% intervals (goal: within +-3 points of nominal), mean pinball loss
of their bounds and the CRPS (lower is better).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, load_nasa  # noqa: E402
from core.forecast import make_model  # noqa: E402
from core.forecast.backtest import CALIBRATIONS, backtest_protocols, split_series  # noqa: E402
from core.series import TrafficSeries  # noqa: E402

SPLITS = {  # name: (train end, test end)
    "standard (test 08-23 .. 31)": ("1995-08-22 23:59", "1995-08-31 23:59"),
    "week earlier (test 08-16 .. 22)": ("1995-08-15 23:59", "1995-08-22 23:59"),
}
PROTOCOLS = ("day-ahead", "one-step")


def fmt(v, nd=1) -> str:
    return "–" if v is None else f"{v:.{nd}f}"


def measure(series: TrafficSeries, minutes: int, models, log) -> list[dict]:
    """One row per (split, protocol, model, calibration)."""
    s = series.resample(f"{minutes}min")
    rows = []
    for split, (train_end, test_end) in SPLITS.items():
        m, _ = split_series(s, train_end, test_end)
        train = TrafficSeries(s.frame.iloc[:m], s.interval, s.gaps)
        for name in models:
            t0 = time.perf_counter()
            fitted = make_model(name).fit(train)
            fit_s = time.perf_counter() - t0
            for calibration in CALIBRATIONS[::-1]:  # fixed first
                reps = backtest_protocols(s, [name], train_end, test_end, PROTOCOLS, fitted={name: fitted},
                                          calibration=calibration)
                for protocol in PROTOCOLS:
                    r = reps[protocol].results[name]
                    rows.append({"minutes": minutes, "split": split, "protocol": protocol, "model": name,
                                 "calibration": calibration,
                                 "label": r["calibration"], **{k: r[k] for k in (
                                     "rmse", "coverage_80", "coverage_95", "pinball_80", "pinball_95", "crps")}})
                    log(f"{minutes:>2} min {split[:12]:12s} {protocol:9s} {name:15s} {rows[-1]['calibration']:16s} "
                        f"cov {r['coverage_80']:.1f}/{r['coverage_95']:.1f}  pinball {r['pinball_80']:.2f}/"
                        f"{r['pinball_95']:.2f}  CRPS {r['crps']:.2f}")
            log(f"   ({name} fitted in {fit_s:.1f} s)")
    return rows


def table(rows: list[dict], protocol: str) -> list[str]:
    """Fixed and adaptive side by side, one line per granularity, split and model."""
    out = ["| gran. | split | model | cov80/95 fixed | cov80/95 adaptive | pinball 80 fixed -> adaptive | "
           "pinball 95 fixed -> adaptive | CRPS fixed -> adaptive | RMSE |",
           "|---|---|---|---|---|---|---|---|---|"]
    pairs: dict[tuple, dict] = {}
    for r in rows:
        if r["protocol"] == protocol:
            pairs.setdefault((r["minutes"], r["split"], r["model"]), {})[r["calibration"]] = r
    for (minutes, split, model), p in pairs.items():
        f, a = p["fixed"], p["adaptive"]
        out.append(f"| {minutes} min | {split} | {model} | {cov(f)} | {cov(a)} | "
                   + " | ".join(f"{fmt(f[k], 2)} -> {fmt(a[k], 2)}" for k in ("pinball_80", "pinball_95", "crps"))
                   + f" | {fmt(f['rmse'], 2)} |")
    return out


def cov(r: dict) -> str:
    """``80.1 / 94.2``, in bold when both levels are within +-3 points of nominal."""
    text = f"{fmt(r['coverage_80'])} / {fmt(r['coverage_95'])}"
    ok = all(r[f"coverage_{lev}"] is not None and abs(r[f"coverage_{lev}"] - lev) <= 3 for lev in (80, 95))
    return f"**{text}**" if ok else text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--granularities", default="15,5", help="minutes, comma-separated (default 15,5)")
    ap.add_argument("--models", default="seasonal_naive,fourier_arma,lightgbm")
    ap.add_argument("--shared", default=None, help="the shared folder (default ../shared)")
    ap.add_argument("--out", default=None, help="write the markdown result here")
    args = ap.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    series = load_nasa(args.shared)
    t0 = time.perf_counter()
    rows = []
    for minutes in (int(g) for g in args.granularities.split(",")):
        rows += measure(series, minutes, models, lambda msg: print(msg, flush=True))  # noqa: T201
    elapsed = time.perf_counter() - t0
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    cmd = "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python bench/bench_intervals.py " + \
        " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        "## Interval calibration: fixed vs adaptive (rolling conformal quantile + ACI) in the rolling protocols",
        "",
        f"Command: `{cmd.strip()}`  ",
        f"Date: {dt.date.today().isoformat()}; commit {commit}; machine: `nproc` = {os.cpu_count()}, "
        f"CPU {cpu_model()}; whole run {elapsed / 60:.1f} min.  ",
        "Series: NASA requests per minute through `core.ingest`, resampled. Each model fitted once per split "
        "and granularity (default parameters); the same fit scored with the fixed calibration and with the "
        "online one. Coverage in bold: both levels within +-3 points of "
        "nominal. Pinball: mean pinball loss of the interval bounds; CRPS from 50 calibrated quantiles "
        "(both from the row's calibration); lower is better. RMSE does not depend on the calibration.",
        "",
        *sorted({f"- {r['calibration']}: `{r['label']}`" for r in rows}),
        "",
    ]
    for protocol in PROTOCOLS:
        lines += [f"### {protocol}", "", *table(rows, protocol), ""]
    text = "\n".join(lines)
    print(text)  # noqa: T201
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
