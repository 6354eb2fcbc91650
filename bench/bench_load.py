"""Load: N concurrent clients against gunicorn (the production config) on 127.0.0.1.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_load.py [--clients 20] [--seconds 300] [--workers 2]

Starts gunicorn with ``gunicorn.conf.py`` on a free loopback port with its own temporary folders (the
built-in default dataset), warms the scenario results the clients will read (so they are cache hits, as
for a team sharing bookmarks), then runs ``--clients`` threads (plain ``http.client``, keep-alive, loopback
only) for ``--seconds``. Two of them run forecasts back to back, each a new one (a new training window:
the model is fitted, nothing is cached); the others loop over a mix of

- ``page``: what a browser fetches to open a page (the HTML, ``_dash-layout``, ``_dash-dependencies``, CSS);
- ``render``: Dash's page-routing callback POST for a cached scenario URL (history, what-if, scenarios,
  forecast), the server-side work of opening a bookmark;
- ``export``: ``/export/<page>/csv|json`` of the same cached results;
- ``api``: ``/api/datasets``, ``/health``, ``POST /api/recommend-scaling``, a cached ``POST /api/forecast``.

Records every status (an error is a status >= 400 or a failed connection), p50/p95/max per kind, and the
resident memory of each worker after warm-up and at the end (psutil). Prints markdown. Bounded: at most
64 clients and 15 minutes, and only a server this script started on 127.0.0.1.

``run_load(url, ...)`` is the same loop for tests/reliability/test_load_smoke.py (20-30 s in CI).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
MAX_CLIENTS, MAX_SECONDS = 64, 900

#: Scenario URLs the clients read (warmed first, then cache hits): (page path, query string).
SCENARIOS = [
    ("/history", "?granularity=15&start=1995-08-20&end=1995-08-27"),
    ("/what-if", "?granularity=15&start=1995-08-20&end=1995-08-27&mult=1.5"),
    ("/scenarios", "?granularity=15&start=1995-08-20&end=1995-08-27&budget=20"),
    ("/forecast", "?granularity=15&horizon=6h&origin=1995-08-20"),
]
PAGE_GETS = ["/", "/history", "/forecast?granularity=15&horizon=6h", "/_dash-layout", "/_dash-dependencies",
             "/assets/app.css"]
CACHED_FORECAST = {"dataset_id": "default", "model": "seasonal_naive", "horizon": "1d", "granularity": "15min"}
RECOMMEND = {"predicted_load": [120, 150, 180, 260, 240], "current_servers": 2}
FORECAST_MODELS = ("sarima", "seasonal_naive", "lightgbm")


def render_body(path: str, search: str) -> dict:
    """Dash's page-routing callback: what the browser posts to render ``path?search``."""
    return {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}


@dataclass
class LoadResult:
    """What a load run saw: latencies (s) and errors per kind."""

    seconds: float
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def add(self, kind: str, dt: float, error: str | None) -> None:
        self.latencies.setdefault(kind, []).append(dt)
        if error:
            self.errors.setdefault(kind, []).append(error)

    @property
    def error_count(self) -> int:
        return sum(len(v) for v in self.errors.values())

    def percentile(self, kind: str, q: float) -> float:
        xs = sorted(self.latencies.get(kind, []))
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    def table(self) -> str:
        rows = ["| kind | requests | errors | p50 (ms) | p95 (ms) | max (ms) |",
                "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for kind in sorted(self.latencies):
            xs = self.latencies[kind]
            rows.append(f"| {kind} | {len(xs):,} | {len(self.errors.get(kind, []))} | "
                        f"{1000 * self.percentile(kind, 0.5):,.0f} | {1000 * self.percentile(kind, 0.95):,.0f} | "
                        f"{1000 * max(xs):,.0f} |")
        total = sum(len(v) for v in self.latencies.values())
        rows.append(f"| all | {total:,} | {self.error_count} | | | |")
        return "\n".join(rows)


class _Client:
    """One keep-alive loopback connection; reconnects after a failure."""

    def __init__(self, url: str, timeout: float = 300) -> None:
        parts = urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"load runs on loopback only, got {url!r}")
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            self.conn.request(method, path, body=data, headers=headers)
            resp = self.conn.getresponse()
            payload = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            return resp.status, payload
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _timed(result: LoadResult, lock: threading.Lock, client: _Client, kind: str, method: str, path: str,
           body: dict | None = None) -> bytes | None:
    t0 = time.perf_counter()
    error, payload = None, None
    try:
        status, payload = client.request(method, path, body)
        if status >= 400:
            error = f"{status} {method} {path[:80]}: {payload[:160]!r}"
    except Exception as exc:  # noqa: BLE001 - every failure is counted, none stops the run
        error = f"{type(exc).__name__} {method} {path[:80]}: {exc}"
    with lock:
        result.add(kind, time.perf_counter() - t0, error)
    return payload


def warm(url: str) -> float:
    """Compute the scenario results once (exports and page renders), so the load reads cache hits."""
    client, result, lock = _Client(url), LoadResult(0), threading.Lock()
    t0 = time.perf_counter()
    for path, query in SCENARIOS:
        _timed(result, lock, client, "warm", "GET", f"/export{path}/json{query}")
        _timed(result, lock, client, "warm", "POST", "/_dash-update-component", render_body(path, query))
    _timed(result, lock, client, "warm", "POST", "/api/forecast", CACHED_FORECAST)
    client.close()
    if result.error_count:
        raise RuntimeError(f"warm-up failed: {result.errors}")
    return time.perf_counter() - t0


def run_load(url: str, clients: int = 20, seconds: float = 300, forecasters: int = 2, seed: int = 0,
             forecast_models: tuple[str, ...] = FORECAST_MODELS) -> LoadResult:
    """Drive ``clients`` threads for ``seconds`` against ``url`` (loopback); ``forecasters`` of them forecast.

    Raises:
        ValueError: more than MAX_CLIENTS clients or MAX_SECONDS seconds, or a non-loopback URL.
    """
    if not 1 <= clients <= MAX_CLIENTS or not 0 < seconds <= MAX_SECONDS or not 0 <= forecasters <= clients:
        raise ValueError(f"clients must be 1..{MAX_CLIENTS} (forecasters <= clients), seconds 0..{MAX_SECONDS}")
    _Client(url)  # validates the URL
    result, lock = LoadResult(seconds), threading.Lock()
    deadline = time.monotonic() + seconds
    counter = itertools.count()

    def mixed(i: int) -> None:
        rng = random.Random(seed * 1000 + i)
        client = _Client(url)
        while time.monotonic() < deadline:
            r = rng.random()
            if r < 0.25:
                _timed(result, lock, client, "page", "GET", rng.choice(PAGE_GETS))
            elif r < 0.50:
                path, query = rng.choice(SCENARIOS)
                _timed(result, lock, client, "render", "POST", "/_dash-update-component", render_body(path, query))
            elif r < 0.65:
                path, query = rng.choice(SCENARIOS)
                _timed(result, lock, client, "export", "GET", f"/export{path}/{rng.choice(['csv', 'json'])}{query}")
            else:
                choice = rng.randrange(4)
                if choice == 0:
                    _timed(result, lock, client, "api", "GET", "/api/datasets")
                elif choice == 1:
                    _timed(result, lock, client, "api", "GET", "/health")
                elif choice == 2:
                    _timed(result, lock, client, "api", "POST", "/api/recommend-scaling", RECOMMEND)
                else:
                    _timed(result, lock, client, "api", "POST", "/api/forecast", CACHED_FORECAST)
            time.sleep(rng.uniform(0, 0.05))  # think time: a person, not a tight loop
        client.close()

    def forecaster(i: int) -> None:
        client = _Client(url)
        while time.monotonic() < deadline:
            k = next(counter)
            # A new training window every time: a real fit, never a cache hit.
            end = f"1995-08-{10 + (k // 24) % 18:02d}T{k % 24:02d}:00"
            body = {"dataset_id": "default", "model": forecast_models[k % len(forecast_models)], "horizon": "6h",
                    "granularity": "15min", "start": f"1995-07-{3 + seed % 7:02d}", "end": end}  # seed: own windows
            payload = _timed(result, lock, client, "forecast", "POST", "/api/forecast", body)
            if payload and b'"cached":true' in payload.replace(b" ", b""):
                with lock:
                    result.errors.setdefault("forecast", []).append(f"unexpected cache hit for {end}")
        client.close()

    threads = [threading.Thread(target=forecaster if i < forecasters else mixed, args=(i,), daemon=True)
               for i in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 330)  # a forecast started just before the deadline may still finish
    result.seconds = time.monotonic() - t0
    return result


def worker_memory(master_pid: int) -> dict[int, float]:
    """Resident memory (MB) of each gunicorn worker (children of the master)."""
    import psutil

    return {w.pid: w.memory_info().rss / 2**20 for w in psutil.Process(master_pid).children()}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--settle", type=float, default=60,
                    help="seconds of the same load before memory is first measured (every worker has then "
                         "imported and served everything once)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.conftest import LiveServer

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    with tempfile.TemporaryDirectory() as tmp:
        server = LiveServer(Path(tmp) / "srv", workers=args.workers).start()
        try:
            mem_start = worker_memory(server.proc.pid)
            warm_s = warm(server.url)
            settle = run_load(server.url, clients=args.clients, seconds=args.settle, seed=1) if args.settle else None
            mem_warm = worker_memory(server.proc.pid)
            samples: list[tuple[float, dict[int, float]]] = []
            done = threading.Event()

            def sample() -> None:  # every worker's RSS through the run: a plateau, or a leak?
                t0 = time.monotonic()
                while not done.wait(args.seconds / 10):
                    samples.append((time.monotonic() - t0, worker_memory(server.proc.pid)))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            result = run_load(server.url, clients=args.clients, seconds=args.seconds)
            done.set()
            mem_end = worker_memory(server.proc.pid)
        finally:
            server.stop()
    print(f"`OMP_NUM_THREADS=1 .venv/bin/python bench/bench_load.py --clients {args.clients} "
          f"--seconds {args.seconds:g} --workers {args.workers}` on {os.cpu_count()} cores ({cpu}), "
          f"Python {platform.python_version()}; gunicorn.conf.py ({args.workers} workers x "
          f"{os.environ.get('TRAFFIC_THREADS', '4')} threads), warm-up {warm_s:.0f} s, then {args.settle:g} s of "
          f"the same load ({settle.error_count if settle else 0} errors) before memory is measured.\n")
    print(result.table())
    total = sum(len(v) for v in result.latencies.values())
    print(f"\n{total / result.seconds:.1f} requests/s over {result.seconds:.0f} s; "
          f"{len(result.latencies.get('forecast', []))} forecasts fitted (2 at a time).\n")
    print("| worker | RSS at start (MB) | after settling (MB) | at end (MB) | growth over the run |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for pid, end in mem_end.items():
        start, warmed = mem_start.get(pid, float("nan")), mem_warm.get(pid, float("nan"))
        print(f"| {pid} | {start:.0f} | {warmed:.0f} | {end:.0f} | {100 * (end - warmed) / warmed:+.0f}% |")
    if samples:
        pids = sorted(mem_end)
        print("\n| seconds into the run | " + " | ".join(f"worker {p} (MB)" for p in pids) + " |")
        print("| ---: | " + " | ".join("---:" for _ in pids) + " |")
        for t, mem in samples:
            print(f"| {t:.0f} | " + " | ".join(f"{mem.get(p, float('nan')):.0f}" for p in pids) + " |")
    if set(mem_end) != set(mem_start):
        print(f"\nworkers changed during the run: {sorted(mem_start)} -> {sorted(mem_end)}")
    if result.errors:
        print("\nerrors (first 10):")
        for kind, errs in result.errors.items():
            for e in errs[:10]:
                print(f"- {kind}: {e}")
    return 1 if result.error_count or (settle and settle.error_count) else 0


if __name__ == "__main__":
    sys.exit(main())
