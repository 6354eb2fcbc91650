"""Speed and decision quality of the scaling simulator on the NASA trace.

Run: OMP_NUM_THREADS=1 .venv/bin/python bench/bench_scaling.py [--out bench/results/scaling.md]

Speed is compared with a straightforward per-scenario Python loop measured in the same run
(on a slice, extrapolated linearly; the loop is the same model, one scalar step at a time).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.scaling.config import PRESETS, Policy  # noqa: E402
from core.scaling.kernel import ScenarioParams, _loop_scalar, has_numba  # noqa: E402
from core.scaling.matrix import run_matrix  # noqa: E402
from core.scaling.optimize import optimize  # noqa: E402
from core.scaling.simulate import prepare, threshold_row  # noqa: E402
from core.series import Gap, TrafficSeries  # noqa: E402


def load(shared: Path) -> TrafficSeries:
    df = pd.read_csv(shared / "data" / "nasa-1995" / "requests_per_minute.csv.gz")
    idx = pd.DatetimeIndex(pd.to_datetime(df["timestamp"])).tz_localize("-04:00")
    tz = idx.tz
    gaps = (Gap(pd.Timestamp("1995-07-28 13:33", tz=tz), pd.Timestamp("1995-08-01", tz=tz), "missing"),
            Gap(pd.Timestamp("1995-08-01 14:52", tz=tz), pd.Timestamp("1995-08-03 04:37", tz=tz), "silent"))
    return TrafficSeries(frame=pd.DataFrame({"requests": df["requests"].to_numpy(float)}, index=idx),
                         interval=pd.Timedelta("1min"), gaps=gaps)


def best_of(fn, n=5):
    times = []
    out = None
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times)), out


def python_loop_seconds(prep, n_scen: int, periods: int) -> float:
    """The same model as a plain per-scenario Python loop (kernel twin run uncompiled), on ``periods``."""
    rows = [threshold_row(c, p, prep) for c in PRESETS.values() for p in Policy][:n_scen]
    P = ScenarioParams.from_rows(rows)
    d = np.nan_to_num(prep.demand[:periods])
    S = len(P)
    acc_f, acc_i = np.zeros((3, S)), np.zeros((3, S), np.int64)
    rec_i, rec_f = np.zeros((3, periods, S), np.int64), np.zeros((4, periods, S))
    t = time.perf_counter()
    _loop_scalar(d, prep.include[:periods], prep.fcmax[:periods], np.zeros((periods, 1), np.int64), P.mode,
                 P.up_thr, P.down_thr, P.up_n, P.down_n, P.cooldown_p, P.step_up, P.step_down, P.use_fc, P.margin,
                 P.hpa_target, P.hpa_tol, P.stab_p, P.min_s, P.max_s, P.init, P.sched_col, prep.server_cap,
                 20.0, prep.boot_p, np.zeros(max(prep.boot_p, 1)), True, acc_f, acc_i, rec_i, rec_f)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None, help="write the markdown section here")
    ap.add_argument("--shared", default=os.environ.get("TRAFFIC_SHARED_DIR", str(REPO.parent / "shared")))
    args = ap.parse_args()
    minutes = load(Path(args.shared))
    five = minutes.resample("5min")
    lines = []
    cpu = subprocess.run(["bash", "-c", "lscpu | grep 'Model name' | sed 's/.*: *//'"], capture_output=True,
                         text=True).stdout.strip()
    lines.append(f"Machine: `nproc` = {os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}, "
                 f"numba {'yes' if has_numba() else 'no'}; shared with "
                 "other jobs (best of 5 runs, median in brackets).")
    lines.append("")

    # 1. full matrix at 1 minute over both months
    run_matrix(minutes)  # warm-up (numba compile / cache load)
    tmin, tmed, m = best_of(lambda: run_matrix(minutes))
    prep = prepare(minutes)
    T = len(prep.demand)
    tk = {}
    for eng in ("numba", "numpy") if has_numba() else ("numpy",):
        from core.scaling.simulate import run_scenarios

        sc = [(c, p) for c in PRESETS.values() for p in Policy]
        if eng == "numpy":
            t0 = time.perf_counter()
            run_scenarios(prep, sc, baselines=True, engine="numpy")
            tk[eng] = time.perf_counter() - t0
        else:
            tk[eng] = best_of(lambda sc=sc: run_scenarios(prep, sc, baselines=True, engine="numba"), 3)[0]
    slice_n = 5000
    py = python_loop_seconds(prep, 9, slice_n) * T / slice_n
    lines.append("| what | periods | scenarios | time | vs Python loop |")
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    lines.append(f"| full matrix (9 + 4 baselines, incl. Erlang C latencies), 1 min, 07-01..08-31 | {T:,} | 13 | "
                 f"{tmin:.3f} s ({tmed:.3f}) | {py / tmin:.0f}x |")
    for eng, t in tk.items():
        lines.append(f"| same, engine={eng} | {T:,} | 13 | {t:.3f} s | {py / t:.0f}x |")
    lines.append(f"| straightforward per-scenario Python loop (9 scenarios, timed on {slice_n:,} periods, "
                 f"extrapolated) | {T:,} | 9 | {py:.1f} s | 1x |")

    # 2. optimizer on the test week at 5 minutes
    kw = dict(start="1995-08-23", end="1995-09-01")
    optimize(five, budget=200, **kw)
    omin, omed, o = best_of(lambda: optimize(five, budget=10_000, **kw), 3)
    prep5 = prepare(five, **kw)
    py5 = python_loop_seconds(prep5, 9, len(prep5.demand)) / 9 * 10_000
    lines.append(f"| optimizer, 10,000 configs, 5 min, test week | {len(prep5.demand):,} | 10,000 | "
                 f"{omin:.2f} s ({omed:.2f}) | {py5 / omin:.0f}x |")
    if has_numba():
        t0 = time.perf_counter()
        optimize(five, budget=10_000, engine="numpy", **kw)
        lines.append(f"| same, engine=numpy | {len(prep5.demand):,} | 10,000 | {time.perf_counter() - t0:.2f} s | "
                     f"{py5 / (time.perf_counter() - t0):.0f}x |")
    lines.append(f"| Python loop for 10,000 configs (extrapolated from 9) | {len(prep5.demand):,} | 10,000 | "
                 f"{py5:.0f} s | 1x |")
    lines.append("")
    lines.append(f"Optimizer front: {len(o.front)} configurations; knee: {o.knee['policy']} "
                 f"(out {o.knee['scale_out_threshold']:.2f} x{o.knee['scale_out_periods']}, in "
                 f"{o.knee['scale_in_threshold']:.2f} x{o.knee['scale_in_periods']}, cooldown "
                 f"{o.knee['cooldown_minutes']:g} min, +{o.knee['step_out']}/-{o.knee['step_in']}) "
                 f"${o.knee['cost']:.2f}, {o.knee['overloaded_pct']:.2f}% overloaded.")
    lines.append("")

    # 3. decision quality on the test week at 5 minutes, defaults
    mq = run_matrix(five, **kw)
    oracle = mq.baselines["oracle"].totals.cost
    lines.append("Decision quality, test week 1995-08-23..08-31 at 5 min, defaults (seasonal-naive forecast):")
    lines.append("")
    lines.append("| scenario | cost | x oracle | overloaded % | dropped % | mean p95 (s) | actions | peak |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in [*mq.scenarios, *mq.baselines.values()]:
        t = r.totals
        lines.append(f"| {r.name} | ${t.cost:.2f} | {t.cost / oracle:.2f} | {t.overloaded_pct:.2f} | "
                     f"{t.dropped_pct:.3f} | {t.p95_latency_s:.1f} | {t.scaling_actions} | {t.peak_servers} |")
    w = mq.winners
    lines.append("")
    lines.append(f"Winners: best cost {w.best_cost}, best SLA {w.best_sla}, best balance {w.best_balance}, "
                 f"cheapest with <= 1% overloaded: {w.cheapest_meeting_sla}.")
    text = "\n".join(lines)
    sys.stdout.write(text + "\n")
    if args.out:
        Path(args.out).write_text(
            "## Scaling simulator\n\nCommand: `OMP_NUM_THREADS=1 .venv/bin/python bench/bench_scaling.py "
            "--out bench/results/scaling.md`\n\n" + text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
