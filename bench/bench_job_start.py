"""How long a background forecast job takes in a fresh gunicorn (disk backend), for one or more gunicorn configs.

Usage (run by hand; one heavy job at a time on the shared 2-core machine):

    git show HEAD~1:gunicorn.conf.py > /tmp/before.conf.py
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_job_start.py --conf gunicorn.conf.py --conf /tmp/before.conf.py

Each round starts gunicorn with each config in turn (new data, cache and models folders, so nothing is cached),
then drives four Forecast-page jobs over HTTP as the browser does (``tests/scaleout/dash_http.py``): LightGBM
and Fourier+ARMA ("sarima"), 15-minute periods, 12 h ahead, each from its own origin. The figure is the time
from starting the job to its result (polled every 0.1 s). Every job runs in a process forked from a gunicorn
worker, so what that worker loaded before it served (``post_worker_init``) is what the job does not load again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import LiveServer  # noqa: E402
from tests.scaleout.dash_http import DashHTTP  # noqa: E402
from tests.scaleout.test_cluster import _open_forecast  # noqa: E402

JOBS = (("lightgbm", "08-14"), ("sarima", "08-15"), ("lightgbm", "08-16"), ("sarima", "08-17"))


def _jobs(url: str) -> dict[str, list[float]]:
    host = DashHTTP(url)
    out: dict[str, list[float]] = {}
    for model, day in JOBS:
        query = f"model={model}&granularity=15&horizon=12h&origin=1995-{day}T00:00"
        end_id, _, request = _open_forecast(host, query)
        if not request:
            raise SystemExit(f"{query}: no job (cached?)")
        t0 = time.perf_counter()
        job = host.start_job(end_id, "forecast", request)
        status, _ = host.wait(job, timeout=300, interval=0.1)
        if status != 200:
            raise SystemExit(f"{query}: the job answered {status}")
        out.setdefault(model, []).append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conf", action="append", type=Path, required=True, help="a gunicorn config (repeatable)")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    res: dict[tuple[str, str], list[float]] = {}
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        for conf in args.conf:
            root = Path(tempfile.mkdtemp(prefix="jobstart-"))
            server = LiveServer(root, conf=conf.resolve(), OMP_NUM_THREADS="1").start()
            try:
                for model, secs in _jobs(server.url).items():
                    res.setdefault((str(conf), model), []).extend(secs)
            finally:
                server.stop()
                shutil.rmtree(root, ignore_errors=True)
    print(f"{os.cpu_count()} cores; load average {load:.1f} -> {os.getloadavg()[0]:.1f}; "
          f"{args.rounds} rounds x 2 jobs per model")
    print("| gunicorn config | model | job start to result, s: median (min..max) |\n|---|---|---:|")
    for (conf, model), v in res.items():
        print(f"| `{conf}` | {model} | {statistics.median(v):.2f} ({min(v):.2f}..{max(v):.2f}) |")


if __name__ == "__main__":
    main()
