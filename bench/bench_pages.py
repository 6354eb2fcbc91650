"""Page speed under gunicorn: first loads, a cached scenario URL under 20 clients, History zoom at 1 minute.

Run by hand (not in CI):

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_pages.py [--seconds 15] [--clients 20] [--big 2000000]

Starts gunicorn (default workers/threads from gunicorn.conf.py) on 127.0.0.1 with its own
temporary data and cache folders, drives the pages with headless Chromium (Playwright, system
Chromium), replays the Dash requests the browser made with a bounded threaded HTTP load on
loopback, and writes a markdown section to bench/results/pages.md. Baselines measured in the
same run: GET /health (a trivial route) under the same load, and each page's uncached first visit.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from tests.browser.conftest import wait_js  # noqa: E402
from tests.conftest import LiveServer, shared_path  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
CHART = ".js-plotly-plot .main-svg"


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def add_datasets(server: LiveServer, big: int) -> dict[str, str]:
    """The real NASA per-minute trace (when the shared data is there) and a big synthetic series."""
    from core.store import DatasetStore

    store = DatasetStore(server.data_dir)
    out = {"default": store.default_id()}
    csv = shared_path() / "data" / "nasa-1995" / "requests_per_minute.csv.gz"
    if csv.exists():
        out["nasa"] = store.put(csv, name="NASA KSC requests per minute (real)").id
    if big:
        import numpy as np
        import pandas as pd

        path = Path(tempfile.mkdtemp()) / f"big{big}.csv"
        idx = pd.date_range("2020-01-01", periods=big, freq="1min")
        t = np.arange(big)
        y = np.random.default_rng(0).poisson(40 + 25 * np.sin(2 * np.pi * t / 1440))
        pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%dT%H:%M:00Z"), "requests": y}).to_csv(path, index=False)
        t0 = time.perf_counter()
        out["big"] = store.put(path, name=f"synthetic {big:,} minutes").id
        print(f"ingested {big:,} minutes in {time.perf_counter() - t0:.1f} s", flush=True)
    return out


class Browser:
    def __init__(self, pw, base: str):
        self.base = base
        self.browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)

    def context(self):
        ctx = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        ctx.set_default_timeout(300_000)
        return ctx

    def visit(self, page, path: str, ready: str) -> float:
        t0 = time.perf_counter()
        page.goto(self.base + path)
        page.wait_for_selector(ready)
        return time.perf_counter() - t0


def capture_post(page, marker: str, action) -> str | None:
    """The body of the first _dash-update-component request containing ``marker`` while ``action`` runs."""
    bodies = []

    def on_request(r):
        if "_dash-update-component" in r.url and r.post_data and marker in r.post_data:
            bodies.append(r.post_data)

    page.on("request", on_request)
    action()
    page.remove_listener("request", on_request)
    return bodies[0] if bodies else None


def timed_requests(base: str, plan, seconds: float, clients: int) -> list[float]:
    """``clients`` threads, each with a keep-alive connection, repeating ``plan`` (a list of (method, path,
    body)) for ``seconds``; one latency per completed plan."""
    u = urlparse(base)
    lat: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    errors = []

    def worker():
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                for method, path, body in plan:
                    headers = {"Content-Type": "application/json"} if body else {}
                    conn.request(method, path, body=body, headers=headers)
                    r = conn.getresponse()
                    r.read()
                    if r.status != 200:
                        errors.append(r.status)
            except (OSError, http.client.HTTPException) as exc:
                errors.append(str(exc))
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
                continue
            with lock:
                lat.append(time.perf_counter() - t0)
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print(f"  {len(errors)} errors, e.g. {errors[:3]}", flush=True)
    return lat


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15.0, help="duration of each load phase")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--big", type=int, default=2_000_000, help="minutes in the big synthetic dataset (0: none)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "pages.md"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    server = LiveServer(root)
    server.start()
    lines: list[str] = []
    try:
        ds = add_datasets(server, args.big)
        hist_ds = ds.get("nasa", ds["default"])
        pages = [
            ("Data", f"/?dataset={hist_ds}", "#data-table"),
            ("History (1 min, 2 months)", f"/history?dataset={hist_ds}&granularity=1", f"#history-sim-box {CHART}"),
            ("Forecast (seasonal naive, 15 min)", f"/forecast?dataset={hist_ds}", f"#forecast-graph {CHART}"),
            ("Scenarios (5 min, budget 500)", f"/scenarios?dataset={hist_ds}", f"#scenarios-pareto {CHART}"),
            ("What-if (5 min)", f"/what-if?dataset={hist_ds}&mult=1.5", f"#what_if-graph-box {CHART}"),
        ]
        with sync_playwright() as pw:
            br = Browser(pw, server.url)
            first = {}
            ctx0 = br.context()
            p0 = ctx0.new_page()
            for name, path, ready in pages:  # uncached: results computed (the baseline)
                first[name] = br.visit(p0, path, ready)
                print(f"uncached {name}: {first[name]:.2f} s", flush=True)
            ctx0.close()
            cold, warm, content = {}, {}, {}
            for name, path, ready in pages:
                ctx = br.context()  # a new visitor: empty HTTP cache, results cached on the server
                pg = ctx.new_page()
                t0 = time.perf_counter()
                content[name] = capture_post(pg, "_pages_content", lambda pg=pg, path=path, ready=ready:
                                             br.visit(pg, path, ready))
                cold[name] = time.perf_counter() - t0
                warm[name] = min(br.visit(pg, path, ready) for _ in range(3))  # same visitor again
                ctx.close()
                print(f"cached {name}: new visitor {cold[name]:.2f} s, returning {warm[name]:.2f} s", flush=True)
            # The Dash request that renders the cached scenarios page, to replay under load.
            ctx = br.context()
            pg = ctx.new_page()
            scen_path = pages[3][1]
            body = capture_post(pg, "_pages_content", lambda: br.visit(pg, scen_path, f"#scenarios-pareto {CHART}"))
            # History zoom at 1 minute: browser time from relayout to the new points drawn, and the callback.
            zoom_ms, zoom_bodies = [], []
            zoom_sets = [("hist", f"/history?dataset={hist_ds}&granularity=1", "history-traffic")]
            if "big" in ds:
                zoom_sets.append(("big", f"/history?dataset={ds['big']}&granularity=1&anomalies=0", "history-traffic"))
            zoom_results = {}
            for label, path, graph in zoom_sets:
                br.visit(pg, path, f"#history-sim-box {CHART}")
                sel = f"#{graph}-box .js-plotly-plot"
                # First x as a number (the figure's times are ISO with a T, the zoom patches' with a space).
                x0 = f"Date.parse(String(document.querySelector('{sel}').data[0].x[0]).replace(' ', 'T').slice(0, 19))"
                n0 = pg.evaluate(f"document.querySelector('{sel}').data[0].x.length")
                full_first = pg.evaluate(x0)
                span = pg.evaluate(f"[document.querySelector('{sel}').data[0].x[0], "
                                   f"document.querySelector('{sel}').data[0].x.slice(-1)[0]]")
                t_lo, t_hi = (time.mktime(time.strptime(v[:19].replace("T", " "), "%Y-%m-%d %H:%M:%S")) for v in span)
                zoom_ms = []
                for k in range(8):
                    lo = t_lo + (t_hi - t_lo) * (0.1 + 0.08 * k)
                    hi = lo + (t_hi - t_lo) * 0.02 * (k + 1)
                    r = [time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(v)) for v in (lo, hi)]
                    t0 = time.perf_counter()

                    def relayout(r=r, sel=sel, x0=x0, full_first=full_first):
                        pg.evaluate(f"Plotly.relayout(document.querySelector('{sel}'), "
                                    f"{{'xaxis.range[0]': '{r[0]}', 'xaxis.range[1]': '{r[1]}'}})")
                        # The patched trace starts one point before the new range (no longer the series start).
                        wait_js(pg, f"{x0} !== {full_first!r}")

                    try:
                        b = capture_post(pg, "relayoutData", relayout)
                    except AssertionError as exc:  # record and go on: the other numbers still count
                        print(f"zoom {label} failed: {exc}", flush=True)
                        break
                    zoom_ms.append(1000 * (time.perf_counter() - t0))
                    if b:
                        zoom_bodies.append(b)
                    pg.evaluate(f"Plotly.relayout(document.querySelector('{sel}'), {{'xaxis.autorange': true}})")
                    wait_js(pg, f"{x0} === {full_first!r}")
                server_ms = []
                for zb in zoom_bodies[-8:]:
                    u = urlparse(server.url)
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
                    for _ in range(3):
                        t0 = time.perf_counter()
                        conn.request("POST", "/_dash-update-component", body=zb,
                                     headers={"Content-Type": "application/json"})
                        resp = conn.getresponse()
                        resp.read()
                        server_ms.append(1000 * (time.perf_counter() - t0))
                    conn.close()
                if zoom_ms and server_ms:
                    zoom_results[label] = (n0, zoom_ms, server_ms)
                else:
                    continue
                zoom_bodies = []
                print(f"zoom {label}: browser p95 {pct(zoom_ms, 95):.0f} ms, callback p95 {pct(server_ms, 95):.0f} ms",
                      flush=True)
            ctx.close()
            br.browser.close()

        # Server side of a cached first load: the page HTML + the request that renders its content.
        server_load = {}
        for name, path, _ in pages:
            server_load[name] = timed_requests(server.url, [("GET", path, None),
                                                            ("POST", "/_dash-update-component", content[name])],
                                               3.0, 1)
        # Load: 20 clients on the cached scenario URL (the page's HTML + its content callback).
        plan = [("GET", scen_path, None), ("POST", "/_dash-update-component", body)]
        health = timed_requests(server.url, [("GET", "/health", None)], args.seconds / 3, args.clients)
        lat = timed_requests(server.url, plan, args.seconds, args.clients)
        print(f"load: {len(lat)} visits, p95 {1000 * pct(lat, 95):.0f} ms; /health p95 "
              f"{1000 * pct(health, 95):.0f} ms", flush=True)
    finally:
        server.stop()

    cpu = cpu_model()
    nproc = os.cpu_count()
    lines += [
        "## Pages under gunicorn (bench/bench_pages.py)",
        "",
        f"`OMP_NUM_THREADS=1 .venv/bin/python bench/bench_pages.py --seconds {args.seconds:g} --clients "
        f"{args.clients} --big {args.big}` on {nproc} cores ({cpu}), gunicorn with the default 2 workers x 4 "
        f"threads, headless Chromium {'(system)'}; the load generator and the browser share the machine.",
        "History dataset: " + ("the real NASA per-minute trace (89,280 minutes)." if "nasa" in ds
                               else "the built-in synthetic default (89,280 minutes)."),
        "",
        "| page | uncached first visit (computes; baseline) | cached: server (HTML + content callback), p50 / p95 "
        "| cached, browser, new visitor (cold browser cache) | cached, browser, returning visitor |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, _, _ in pages:
        sl = server_load[name]
        lines.append(f"| {name} | {first[name]:.2f} s | {1000 * pct(sl, 50):.0f} / {1000 * pct(sl, 95):.0f} ms | "
                     f"{cold[name]:.2f} s | {warm[name]:.2f} s |")
    lines += [
        "",
        "Time from navigation to the page's chart (or table) drawn. A new visitor downloads and parses the "
        "Dash/Plotly bundles (~5 MB) once; a returning visitor has them cached.",
        "",
        f"**Cached scenario URL, {args.clients} concurrent clients, {args.seconds:g} s** (each visit = the page HTML "
        "+ the Dash request that renders its content, keep-alive, loopback):",
        "",
        "| what | visits | p50 | p95 | p99 | max | visits/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| /scenarios (cached) | {len(lat)} | {1000 * pct(lat, 50):.0f} ms | {1000 * pct(lat, 95):.0f} ms | "
        f"{1000 * pct(lat, 99):.0f} ms | {1000 * max(lat):.0f} ms | {len(lat) / args.seconds:.0f} |",
        f"| GET /health (baseline) | {len(health)} | {1000 * pct(health, 50):.0f} ms | {1000 * pct(health, 95):.0f} ms "
        f"| {1000 * pct(health, 99):.0f} ms | {1000 * max(health):.0f} ms | {len(health) / (args.seconds / 3):.0f} |",
        "",
        f"p95 ratio scenario page / health route: {pct(lat, 95) / pct(health, 95):.1f}x.",
        "",
        "**History zoom** (1-minute data; the zoom callback re-slices the stored series and re-aggregates to "
        "2,000 points with MinMaxLTTB):",
        "",
        "| dataset | points | browser: relayout -> new points drawn, p50 / p95 | zoom callback alone, p50 / p95 |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, (n0, zb, zs) in zoom_results.items():
        n = 89_280 if label == "hist" else args.big
        lines.append(f"| {label} | {n:,} (shown: {n0:,}) | {statistics.median(zb):.0f} / {pct(zb, 95):.0f} ms | "
                     f"{statistics.median(zs):.0f} / {pct(zs, 95):.0f} ms |")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
