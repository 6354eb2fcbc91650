"""Scale-out mode: forecast throughput with 1 vs 2 Celery worker processes, and what a cached result costs
through Redis vs the file cache.

Run by hand (not in CI; needs Debian's redis-server and celery[redis]):

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_scaleout.py [--rounds 2] [--reads 300]

1. Throughput: one gunicorn app host (Redis backend) and one Celery worker with ``--concurrency`` 1 or 2
   on a private redis-server. A fixed mix of forecast jobs (distinct models and origins, so every job
   fits) is submitted over HTTP the way the browser does, and polled until all are done; jobs per minute
   = jobs / (first submit .. last result). Redis and the models folder are emptied before each run;
   runs alternate 1, 2, 1, 2 ... so load from other work on the machine hits both alike.
2. Cached-result latency: the same pickled values (a forecast bundle, a 15-minute and a 1-minute series)
   read ``--reads`` times through ``RedisResultCache.get`` and the file cache's ``ResultCache.get``;
   then a cached forecast page rendered over HTTP by a Redis-mode host and a disk-mode host.

Writes a markdown section to bench/results/scaleout.md.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bench.common import cpu_model, tree_cpu_seconds  # noqa: E402
from tests.conftest import LiveServer  # noqa: E402
from tests.scaleout.conftest import CeleryWorker, RedisServer, scaleout_env  # noqa: E402
from tests.scaleout.dash_http import DashHTTP, find  # noqa: E402

#: The fixed mix: (model, granularity minutes, origin). Distinct origins: every job fits its own model.
MIX = [
    ("lightgbm", 15, "1995-08-14T00:00"), ("lightgbm", 15, "1995-08-16T00:00"), ("lightgbm", 15, "1995-08-18T00:00"),
    ("sarima", 15, "1995-08-15T00:00"), ("sarima", 15, "1995-08-17T00:00"), ("sarima", 15, "1995-08-19T00:00"),
    ("seasonal_naive", 5, "1995-08-15T00:00"), ("seasonal_naive", 5, "1995-08-17T00:00"),
]


def _query(model: str, minutes: int, origin: str) -> str:
    return f"model={model}&granularity={minutes}&horizon=12h&origin={origin}"


def _open(host: DashHTTP, query: str):
    end_id = host.page_load(f"/forecast?{query}")
    layout = host.render(end_id, "/forecast", f"?{query}")
    params = find(layout, "forecast-job-params")
    return end_id, (params["props"].get("data") if params else None)


def run_mix(host: DashHTTP, worker: CeleryWorker) -> float:
    """Seconds from the first submit to the last result."""
    t0 = time.monotonic()
    jobs = []
    for model, minutes, origin in MIX:
        end_id, request = _open(host, _query(model, minutes, origin))
        assert request, "expected an uncached forecast"
        jobs.append(host.start_job(end_id, "forecast", request))
    pending = list(jobs)
    while pending:
        for job in list(pending):
            status, data = host.poll(job)
            if status != 200 or (data and "response" in data):
                assert status == 200, (status, worker.log_text()[-2000:])
                assert find(data["response"]["forecast-job-result"]["children"], "forecast-summary"), data
                pending.remove(job)
        time.sleep(0.25)
    return time.monotonic() - t0


def throughput(root: Path, redis: RedisServer, rounds: int) -> tuple[dict, dict, dict, dict[str, bytes]]:
    import redis as redis_py

    data_dir = root / "shared" / "data"
    host = LiveServer(root / "app", workers=1)
    host.env.update(scaleout_env(redis.url, data_dir, root / "shared" / "models-app", host.cache_dir),
                    TRAFFIC_BIND=f"127.0.0.1:{host.port}", TRAFFIC_ACCESS_LOG="")
    host.start()
    client = DashHTTP(host.url)
    r = redis_py.Redis.from_url(redis.url)
    times: dict[int, list[float]] = {1: [], 2: []}
    cpus: dict[int, list[float]] = {1: [], 2: []}
    loads: dict[int, list[float]] = {1: [], 2: []}
    try:
        for i in range(rounds):
            for procs in (1, 2):
                r.flushdb()  # no cached results, no job records (the app host keeps its signing key in memory)
                models = root / "shared" / f"models-{i}-{procs}"
                worker = CeleryWorker(root / "w", scaleout_env(redis.url, data_dir, models, root / "w" / "cache"),
                                      name=f"w{i}{procs}", concurrency=procs).start()
                try:
                    cpu0 = _cpu_seconds(worker)
                    secs = run_mix(client, worker)
                    cpu = _cpu_seconds(worker) - cpu0
                finally:
                    worker.stop()
                times[procs].append(secs)
                cpus[procs].append(cpu / secs)
                loads[procs].append(os.getloadavg()[0])
                print(f"round {i + 1}: {procs} process(es): {len(MIX)} jobs in {secs:.1f} s "
                      f"= {60 * len(MIX) / secs:.1f} jobs/min; worker used {cpu / secs:.2f} cores; "
                      f"load {loads[procs][-1]:.1f}", flush=True)
        cached = {k.decode(): r.get(k) for k in r.scan_iter("traffic:result:*")}
    finally:
        host.stop()
    return times, cpus, loads, cached


def _cpu_seconds(worker: CeleryWorker) -> float:
    """CPU seconds used so far by the worker and its pool processes."""
    return tree_cpu_seconds(worker.proc.pid)


def _timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _ms(xs: list[float]) -> str:
    xs = sorted(xs)
    return f"{1000 * statistics.median(xs):.2f} / {1000 * xs[int(0.95 * (len(xs) - 1))]:.2f}"


def read_latency(root: Path, redis: RedisServer, cached: dict[str, bytes], reads: int) -> list[tuple]:
    """(what, bytes, redis median/p95 ms, file median/p95 ms) for a forecast bundle and two series."""
    from dashapp.runtime.redis_kv import RedisResultCache
    from dashapp.runtime.result_cache import ResultCache

    values = {}
    for name, raw in cached.items():
        kind = name.split(":", 2)[2].split("-", 1)[0]
        values.setdefault(kind, []).append(pickle.loads(raw))
    picks = [("forecast bundle", values["forecast"][0])]
    seen = set()
    for s in sorted(values.get("series", []), key=lambda s: -len(s.frame)):
        if len(s.frame) not in seen:
            seen.add(len(s.frame))
            picks.append((f"series, {int(s.interval_minutes)}-min ({len(s.frame):,} rows)", s))
    rows = []
    rc = RedisResultCache(redis.url)
    with ResultCache(root / "filecache") as fc:
        for what, value in picks:
            key = f"bench-{what.split()[0]}-{len(rows)}"
            rc.set(key, value)
            fc.set(key, value)
            assert rc.get(key) is not None
            assert fc.get(key) is not None
            r_t, f_t = [], []
            for _ in range(reads // 50):  # interleaved blocks: machine noise hits both alike
                r_t += _timed(lambda k=key: rc.get(k), 50)
                f_t += _timed(lambda k=key: fc.get(k), 50)
            size = len(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
            rows.append((what, size, _ms(r_t), _ms(f_t), statistics.median(r_t) / statistics.median(f_t)))
    return rows


def page_latency(root: Path, redis: RedisServer, n: int) -> list[tuple]:
    """A cached forecast page rendered by a Redis-mode host and a disk-mode host (median/p95 ms), interleaved."""
    data_dir = root / "shared" / "data"
    query = _query("seasonal_naive", 15, "1995-08-20T00:00")
    hosts = {mode: LiveServer(root / f"page-{mode}", workers=1) for mode in ("redis", "disk")}
    hosts["redis"].env.update(scaleout_env(redis.url, data_dir, root / "shared" / "models-p",
                                           hosts["redis"].cache_dir),
                              TRAFFIC_BIND=f"127.0.0.1:{hosts['redis'].port}", TRAFFIC_ACCESS_LOG="")
    worker = CeleryWorker(root / "w", scaleout_env(redis.url, data_dir, root / "shared" / "models-p",
                                                   root / "w" / "cache"), name="wp")
    try:
        for h in hosts.values():
            h.start()
        worker.start()
        clients = {}
        for mode, h in hosts.items():
            client = DashHTTP(h.url)
            end_id, request = _open(client, query)
            if request:
                assert client.wait(client.start_job(end_id, "forecast", request), timeout=120)[0] == 200
            assert _open(client, query)[1] is None  # now cached
            assert find(client.render(end_id, "/forecast", f"?{query}"), "forecast-summary")  # warm, and rendered
            clients[mode] = (client, end_id)
        times = {mode: [] for mode in clients}
        for _ in range(n // 5):  # interleaved blocks: machine noise hits both alike
            for mode, (client, end_id) in clients.items():
                times[mode] += _timed(lambda c=client, e=end_id: c.render(e, "/forecast", f"?{query}"), 5)
        return [(mode, _ms(ts), statistics.median(ts)) for mode, ts in times.items()]
    finally:
        worker.stop()
        for h in hosts.values():
            h.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "scaleout.md"))
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed (apt-get install redis-server)")
    load = os.getloadavg()
    root = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    redis = RedisServer(root / "redis").start()
    try:
        times, cpus, loads, cached = throughput(root, redis, args.rounds)
        reads = read_latency(root, redis, cached, args.reads)
        pages = page_latency(root, redis, args.pages)
    finally:
        redis.stop()
        shutil.rmtree(root, ignore_errors=True)

    cpu = cpu_model()
    jpm = {p: [60 * len(MIX) / t for t in ts] for p, ts in times.items()}
    mix = ", ".join(f"{m} {g} min origin {o[:10]}" for m, g, o in MIX)
    lines = [
        "## Scale-out mode (Celery + Redis)", "",
        f"Command: `OMP_NUM_THREADS=1 .venv/bin/python bench/bench_scaleout.py --rounds {args.rounds} "
        f"--reads {args.reads} --pages {args.pages}`  ",
        f"Machine: `nproc` = {os.cpu_count()}, {cpu}; load average at start {load[0]:.1f} and "
        f"{os.getloadavg()[0]:.1f} at the end. redis-server "
        f"{_redis_version()}, Celery {_version('celery')}, redis-py {_version('redis')} "
        f"({'with' if _hiredis() else 'without'} hiredis), one gunicorn app host (1 worker) on the same machine.", "",
        "### Forecast throughput, 1 vs 2 Celery worker processes", "",
        f"Fixed mix of {len(MIX)} forecast jobs, each a new fit (12 h horizon, backtest beside the seasonal "
        f"naive): {mix}. Submitted over HTTP as the browser does, all at once; time from the first submit to "
        "the last result. Redis and the models folder emptied before each run; runs alternate 1, 2, 1, 2.", "",
        "| worker processes | runs (s) | jobs/min (each run) | median jobs/min | cores the worker got | "
        "load average after |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for p in (1, 2):
        lines.append(f"| {p} | {', '.join(f'{t:.1f}' for t in times[p])} | "
                     f"{', '.join(f'{j:.1f}' for j in jpm[p])} | {statistics.median(jpm[p]):.1f} | "
                     f"{', '.join(f'{c:.2f}' for c in cpus[p])} | {', '.join(f'{x:.1f}' for x in loads[p])} |")
    ratio = statistics.median(jpm[2]) / statistics.median(jpm[1])
    lines += ["", f"2 processes / 1 process: **{ratio:.2f}x** jobs per minute (2 cores, shared). *Cores the worker "
              "got* = CPU seconds of the worker and its pool / wall time: 2 processes can only help as far as the "
              "other work on the machine leaves a second core free.", "",
              "### What a cached result costs: Redis vs the file cache", "",
              f"`get()` of the same pickled value, {args.reads} reads each, interleaved in blocks of 50 "
              "(median / p95 ms; Redis on loopback, diskcache on the local disk):", "",
              "| value | pickled bytes | Redis | file cache | Redis / file (median) |",
              "| --- | --- | --- | --- | --- |"]
    for what, size, r_ms, f_ms, rel in reads:
        lines.append(f"| {what} | {size:,} | {r_ms} | {f_ms} | {rel:.2f}x |")
    lines += ["", f"A cached forecast page (the pages router callback, {args.pages} requests, median / p95 ms):", "",
              "| backend | page from cache |", "| --- | --- |"]
    for mode, ms, _ in pages:
        lines.append(f"| {mode} | {ms} |")
    lines += ["", "Redis here is on loopback; across a network add one round trip per read plus the transfer "
              "time of the pickled value.", ""]
    text = "\n".join(lines)
    Path(args.out).write_text(text)
    print(text)


def _version(mod: str) -> str:
    from importlib.metadata import version

    return version(mod)


def _hiredis() -> bool:
    from redis.utils import HIREDIS_AVAILABLE

    return HIREDIS_AVAILABLE


def _redis_version() -> str:
    import subprocess

    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True, check=False).stdout
    return next((w.split("=", 1)[1] for w in out.split() if w.startswith("v=")), "?")


if __name__ == "__main__":
    main()
