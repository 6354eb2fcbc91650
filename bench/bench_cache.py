"""Why the result cache is diskcache + a per-key flock and not flask-caching: identical requests at once.

Eight processes (as gunicorn workers and background jobs are) ask at the same moment for the same result,
which takes ``--compute`` seconds to compute. Measured for each store:

- ``flask-caching`` (``FileSystemCache`` through ``flask_caching.Cache.memoize``, the decorator its docs
  suggest): how many processes computed, and the wall time;
- the project's ``dashapp.runtime.result_cache.ResultCache.get_or_compute``: the same.

A cache without a per-key lock computes once per process that missed (a "thundering herd"): eight
forecasts instead of one on a 2-core machine. Also measured: the time of a cached read (hit) in each.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_cache.py [--procs 8] [--compute 1.0]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cpu_model  # noqa: E402


def _work(seconds: float) -> bytes:
    """``seconds`` of CPU, as a forecast or a simulation takes (sleeping would hide the 2 cores' contention)."""
    t = time.process_time()
    while time.process_time() - t < seconds:
        sum(range(1000))
    return b"x" * 100_000


def _flask_caching(folder: str, compute_s: float, barrier, counter) -> float:
    from flask import Flask
    from flask_caching import Cache

    app = Flask("bench", root_path=folder)
    cache = Cache(app, config={"CACHE_TYPE": "FileSystemCache", "CACHE_DIR": folder, "CACHE_DEFAULT_TIMEOUT": 0})

    @cache.memoize()
    def result(key: str) -> bytes:
        with counter.get_lock():
            counter.value += 1
        return _work(compute_s)

    with app.app_context():
        barrier.wait()
        t = time.perf_counter()
        result("forecast-1")
        return time.perf_counter() - t


def _result_cache(folder: str, compute_s: float, barrier, counter) -> float:
    from dashapp.runtime.result_cache import ResultCache

    def compute() -> bytes:
        with counter.get_lock():
            counter.value += 1
        return _work(compute_s)

    with ResultCache(folder) as rc:
        barrier.wait()
        t = time.perf_counter()
        rc.get_or_compute("forecast-1", compute)
        return time.perf_counter() - t


def _worker(kind, folder, compute_s, barrier, counter, out) -> None:
    out.put((_flask_caching if kind == "flask-caching" else _result_cache)(folder, compute_s, barrier, counter))


def run(kind: str, procs: int, compute_s: float) -> tuple[int, float, float]:
    folder = tempfile.mkdtemp(prefix=f"bench-cache-{kind}-")
    ctx = mp.get_context("spawn")
    barrier, counter, out = ctx.Barrier(procs), ctx.Value("i", 0), ctx.Queue()
    ps = [ctx.Process(target=_worker, args=(kind, folder, compute_s, barrier, counter, out)) for _ in range(procs)]
    for p in ps:
        p.start()
    times = [out.get(timeout=300) for _ in ps]
    for p in ps:
        p.join()
    # A read once the result is there (one more process, nothing computed).
    hit_barrier = ctx.Barrier(1)
    q = ctx.Queue()
    p = ctx.Process(target=_worker, args=(kind, folder, compute_s, hit_barrier, counter, q))
    p.start()
    hit = q.get(timeout=60)
    p.join()
    return counter.value, max(times), hit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--compute", type=float, default=1.0, help="CPU seconds one computation takes")
    args = ap.parse_args()
    print(f"# Result cache: {args.procs} identical requests at once\n\nmachine: {cpu_model()}\n")
    print("| store | computations (of 1 needed) | slowest request, s | cached read, ms |\n| --- | --- | --- | --- |")
    rows = {}
    for kind in ("flask-caching", "result-cache"):
        n, slowest, hit = run(kind, args.procs, args.compute)
        rows[kind] = n
        print(f"| {kind} | {n} | {slowest:.2f} | {1000 * hit:.1f} |")
    print(f"\nflask-caching computed {rows['flask-caching']}x, the result cache {rows['result-cache']}x "
          f"({args.compute:g} CPU s of work each, on this 2-core machine).")


if __name__ == "__main__":
    main()
