"""Page speed under gunicorn: first loads, a cached scenario URL under 20 clients, History zoom at 1 minute.

Run by hand (not in CI):

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_pages.py [--seconds 15] [--clients 20] [--big 2000000]

Starts gunicorn (default workers/threads from gunicorn.conf.py) on 127.0.0.1 twice on the same temporary
data and cache folders: first with the rendered-page cache off (``TRAFFIC_PAGE_CACHE=0``: every visit
rebuilds the page from the cached results, the baseline), then on. Drives the pages with headless
Chromium (Playwright, system Chromium), replays the Dash requests the browser made with a bounded
threaded HTTP load on loopback (keep-alive), and counts the CPU seconds the gunicorn processes spend per
visit. Writes a markdown section to bench/results/pages.md. Baselines measured in the same run: GET
/health (a trivial route) under the same load, each page's uncached first visit, and the server with
the page cache off.
"""

from __future__ import annotations

import argparse
import http.client
import os
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

from bench.common import cpu_model, tree_cpu_seconds  # noqa: E402
from tests.browser.conftest import wait_js  # noqa: E402
from tests.conftest import LiveServer, shared_path  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
CHART = ".js-plotly-plot .main-svg"
#: JS: a graph's first-trace x values as numbers (a list, or plotly's base64 typed-array spec).
XS = ("(x => x.bdata ? Array.from(new Float64Array(Uint8Array.from(atob(x.bdata), c => c.charCodeAt(0)).buffer))"
      " : Array.from(x))(G.data[0].x)")


def pct(values, q):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def server_cpu(server: LiveServer) -> float:
    """CPU seconds (user + system) used so far by the gunicorn master and its workers."""
    return tree_cpu_seconds(server.proc.pid)


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
        ctx.set_default_timeout(600_000)
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
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
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
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
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


def load(server: LiveServer, plan, seconds: float, clients: int) -> tuple[list[float], float]:
    """Latencies of ``plan`` under ``clients`` concurrent clients, and the server's CPU ms per visit."""
    c0 = server_cpu(server)
    lat = timed_requests(server.url, plan, seconds, clients)
    return lat, 1000 * (server_cpu(server) - c0) / max(1, len(lat))


def once(server: LiveServer, plan) -> tuple[float, float]:
    """One visit: (seconds, server CPU ms)."""
    u = urlparse(server.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    c0, t0 = server_cpu(server), time.perf_counter()
    for method, path, body in plan:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        conn.getresponse().read()
    out = time.perf_counter() - t0, 1000 * (server_cpu(server) - c0)
    conn.close()
    return out


def zoom_in_browser(pg, path: str, graph: str, label: str, server_url: str) -> tuple[int, list, list] | None:
    """Browser time from relayout to the re-aggregated points drawn (measured in the page: plotly_afterplot of
    the redraw with the new data), and the zoom callback alone replayed over HTTP."""
    pg.goto(server_url + path)
    pg.wait_for_selector(f"#{graph}-box {CHART}")
    gd = f"document.querySelector('#{graph}-box .js-plotly-plot')"
    xs = XS.replace("G", gd)
    n0 = pg.evaluate(f"{xs}.length")
    full_first = pg.evaluate(f"{xs}[0]")
    lo_ms, hi_ms = pg.evaluate(f"(a => [a[0], a[a.length - 1]])({xs})")
    pg.wait_for_load_state("networkidle")
    pg.evaluate(f"""(() => {{ const gd = {gd}; window.__zoom = null;
        gd.on('plotly_afterplot', () => {{
            const z = window.__zoom;
            if (z && !z.done && ({xs})[0] !== z.before) z.done = performance.now();
        }}); }})()""")
    browser_ms, bodies = [], []
    for k in range(8):
        lo = lo_ms + (hi_ms - lo_ms) * (0.1 + 0.08 * k)
        hi = lo + (hi_ms - lo_ms) * 0.02 * (k + 1)
        r = [time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(v / 1000)) for v in (lo, hi)]

        def relayout(r=r):
            pg.evaluate(f"window.__zoom = {{before: {full_first!r}, t0: performance.now(), done: null}};"
                        f"Plotly.relayout({gd}, {{'xaxis.range[0]': '{r[0]}', 'xaxis.range[1]': '{r[1]}'}})")
            wait_js(pg, "window.__zoom.done !== null", timeout=300, interval=0.02)

        try:
            b = capture_post(pg, "rs-zoom", relayout)
        except AssertionError as exc:  # record and go on: the other numbers still count
            print(f"zoom {label} failed: {exc}", flush=True)
            break
        browser_ms.append(pg.evaluate("window.__zoom.done - window.__zoom.t0"))
        if b:
            bodies.append(b)
        pg.evaluate(f"Plotly.relayout({gd}, {{'xaxis.autorange': true}})")
        wait_js(pg, f"({xs})[0] === {full_first!r} && ({xs}).length === {n0}", timeout=300, interval=0.02)
        pg.wait_for_load_state("networkidle")
    server_ms = []
    u = urlparse(server_url)
    for zb in bodies:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        for _ in range(3):
            t0 = time.perf_counter()
            conn.request("POST", "/_dash-update-component", body=zb, headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            server_ms.append(1000 * (time.perf_counter() - t0))
        conn.close()
    if not browser_ms or not server_ms:
        return None
    print(f"zoom {label}: browser p50 {statistics.median(browser_ms):.0f} ms, callback p50 "
          f"{statistics.median(server_ms):.0f} ms", flush=True)
    return n0, browser_ms, server_ms


def browser_loads(br, pages) -> tuple[dict, dict, dict]:
    """Per page: a new visitor (empty browser cache), the same visitor again (best of 3), and the Dash request
    that rendered the page content (to replay)."""
    cold, warm, content = {}, {}, {}
    for name, path, ready in pages:
        ctx = br.context()
        pg = ctx.new_page()
        t0 = time.perf_counter()
        content[name] = capture_post(pg, "_pages_content", lambda pg=pg, path=path, ready=ready:
                                     br.visit(pg, path, ready))
        cold[name] = time.perf_counter() - t0
        warm[name] = min(br.visit(pg, path, ready) for _ in range(3))
        ctx.close()
        print(f"  {name}: new visitor {cold[name]:.2f} s, returning {warm[name]:.2f} s", flush=True)
    return cold, warm, content


def server_side(server: LiveServer, pages, content) -> dict:
    """Per page, one client: latency of (page HTML + content request) for 3 s, and CPU ms per visit."""
    out = {}
    for name, path, _ in pages:
        out[name] = load(server, [("GET", path, None), ("POST", "/_dash-update-component", content[name])], 3.0, 1)
    return out


def main() -> None:  # noqa: C901 - a linear script
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=15.0, help="duration of each load phase")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--big", type=int, default=2_000_000, help="minutes in the big synthetic dataset (0: none)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "pages.md"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    root = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    before = LiveServer(root, TRAFFIC_PAGE_CACHE="0").start()
    ds = add_datasets(before, args.big)
    hist_ds = ds.get("nasa", ds["default"])
    pages = [
        ("Data", f"/?dataset={hist_ds}", "#data-table"),
        ("History (1 min, 2 months)", f"/history?dataset={hist_ds}&granularity=1", f"#history-sim-box {CHART}"),
        ("Forecast (seasonal naive, 15 min)", f"/forecast?dataset={hist_ds}", f"#forecast-graph {CHART}"),
        ("Scenarios (5 min, budget 500)", f"/scenarios?dataset={hist_ds}", f"#scenarios-pareto {CHART}"),
        ("What-if (5 min)", f"/what-if?dataset={hist_ds}&mult=1.5", f"#what_if-graph-box {CHART}"),
    ]
    scen, hist = pages[3], pages[1]
    res: dict[str, dict] = {"before": {}, "after": {}}
    try:
        with sync_playwright() as pw:
            # -- page cache off: the baseline -------------------------------------------------------
            br = Browser(pw, before.url)
            ctx0 = br.context()
            p0 = ctx0.new_page()
            first = {}
            for name, path, ready in pages:  # uncached: results computed
                first[name] = br.visit(p0, path, ready)
                print(f"uncached {name}: {first[name]:.2f} s", flush=True)
            ctx0.close()
            print("page cache off:", flush=True)
            r = res["before"]
            r["cold"], r["warm"], content = browser_loads(br, pages)
            br.browser.close()
            r["server"] = server_side(before, pages, content)
            r["health"] = load(before, [("GET", "/health", None)], args.seconds / 3, args.clients)
            for key, page in (("scen", scen), ("hist", hist)):
                plan = [("GET", page[1], None), ("POST", "/_dash-update-component", content[page[0]])]
                r[key] = load(before, plan, args.seconds, args.clients)
                print(f"  load {key}: {len(r[key][0])} visits, p95 {1000 * pct(r[key][0], 95):.0f} ms, "
                      f"{r[key][1]:.1f} CPU ms/visit", flush=True)
            before.stop()
            # -- page cache on ----------------------------------------------------------------------
            after = LiveServer(root).start()
            try:
                r = res["after"]
                r["first_render"] = {}
                for name, path, _ in pages:  # results cached, page not rendered yet: the first visit renders it
                    r["first_render"][name] = once(after, [("GET", path, None),
                                                           ("POST", "/_dash-update-component", content[name])])
                print("page cache on:", flush=True)
                br = Browser(pw, after.url)
                r["cold"], r["warm"], _ = browser_loads(br, pages)
                r["server"] = server_side(after, pages, content)
                r["health"] = load(after, [("GET", "/health", None)], args.seconds / 3, args.clients)
                for key, page in (("scen", scen), ("hist", hist)):
                    plan = [("GET", page[1], None), ("POST", "/_dash-update-component", content[page[0]])]
                    r[key] = load(after, plan, args.seconds, args.clients)
                    print(f"  load {key}: {len(r[key][0])} visits, p95 {1000 * pct(r[key][0], 95):.0f} ms, "
                          f"{r[key][1]:.1f} CPU ms/visit", flush=True)
                ctx = br.context()
                pg = ctx.new_page()
                zooms = {}
                sets = [("hist", hist[1], "history-traffic"), ("hist, simulation chart", hist[1], "history-sim")]
                if "big" in ds:
                    sets.append(("big", f"/history?dataset={ds['big']}&granularity=1&anomalies=0", "history-traffic"))
                for label, path, graph in sets:
                    z = zoom_in_browser(pg, path, graph, label, after.url)
                    if z:
                        zooms[label] = z
                ctx.close()
                br.browser.close()
            finally:
                after.stop()
    finally:
        before.stop()
    write(args, ds, pages, first, res, zooms)


def write(args, ds, pages, first, res, zooms) -> None:
    b, a = res["before"], res["after"]
    ms = lambda v: f"{1000 * v:.0f}"  # noqa: E731
    lines = [
        "## Pages under gunicorn (bench/bench_pages.py)",
        "",
        f"`OMP_NUM_THREADS=1 .venv/bin/python bench/bench_pages.py --seconds {args.seconds:g} --clients "
        f"{args.clients} --big {args.big}` on {os.cpu_count()} cores ({cpu_model()}), gunicorn with the default "
        "2 workers x 4 threads, headless Chromium (system); the load generator and the browser share the "
        f"machine with the server (load average at the end: {os.getloadavg()[0]:.1f}). "
        "Before = the same server with the rendered-page cache off (`TRAFFIC_PAGE_CACHE=0`: each visit rebuilds "
        "the page from the cached results); after = on. Both on the same data and result cache, in one run.",
        "History dataset: " + ("the real NASA per-minute trace (89,280 minutes)." if "nasa" in ds
                               else "the built-in synthetic default (89,280 minutes)."),
        "",
        "**First loads with cached results.** Server = the page HTML + the Dash request that renders its "
        "content, one client, p50 / p95 (and the gunicorn CPU per visit); browser = navigation to the chart "
        "(or table) drawn.",
        "",
        "| page | uncached first visit (computes) | server, before: p50 / p95 (CPU) | server, after: first render "
        "| server, after: p50 / p95 (CPU) | browser new visitor, before / after | browser returning visitor, "
        "before / after |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, _, _ in pages:
        sb, cb = b["server"][name]
        sa, ca = a["server"][name]
        fr, fc = a["first_render"][name]
        lines.append(
            f"| {name} | {first[name]:.2f} s | {ms(pct(sb, 50))} / {ms(pct(sb, 95))} ms ({cb:.0f} ms) | "
            f"{ms(fr)} ms ({fc:.0f} ms) | {ms(pct(sa, 50))} / {ms(pct(sa, 95))} ms ({ca:.0f} ms) | "
            f"{b['cold'][name]:.2f} / {a['cold'][name]:.2f} s | {b['warm'][name]:.2f} / {a['warm'][name]:.2f} s |")
    lines += [
        "",
        f"**Cached scenario URL, {args.clients} concurrent clients, {args.seconds:g} s each** (each visit = the page "
        "HTML + the Dash request that renders its content, keep-alive, loopback; CPU = gunicorn's CPU seconds "
        "during the phase / visits):",
        "",
        "| what | page cache | visits | p50 | p95 | p99 | max | visits/s | server CPU per visit |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in (("scen", "/scenarios (cached results)"), ("hist", "/history 1 min (cached results)"),
                       ("health", "GET /health (baseline)")):
        for tag, r in (("off (before)", b), ("on (after)", a)):
            lat, cpu = r[key]
            secs = args.seconds / 3 if key == "health" else args.seconds
            lines.append(f"| {label} | {tag} | {len(lat)} | {ms(pct(lat, 50))} ms | {ms(pct(lat, 95))} ms | "
                         f"{ms(pct(lat, 99))} ms | {ms(max(lat))} ms | {len(lat) / secs:.0f} | {cpu:.1f} ms |")
    lines += [
        "",
        f"p95 ratio scenario page / health route, after: {pct(a['scen'][0], 95) / pct(a['health'][0], 95):.1f}x "
        f"(before: {pct(b['scen'][0], 95) / pct(b['health'][0], 95):.1f}x).",
        "",
        "**History zoom** (1-minute data; relayout -> the zoom callback re-slices the stored series and "
        "re-aggregates the visible range with MinMaxLTTB -> the new points drawn; browser time measured in the "
        "page, from `Plotly.relayout` to the `plotly_afterplot` of the redraw with the new data):",
        "",
        "| dataset | points | browser: relayout -> new points drawn, p50 / p95 | zoom callback alone, p50 / p95 |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, (n0, zb, zs) in zooms.items():
        n = args.big if label == "big" else 89_280
        lines.append(f"| {label} | {n:,} (shown: {n0:,}) | {statistics.median(zb):.0f} / {pct(zb, 95):.0f} ms | "
                     f"{statistics.median(zs):.0f} / {pct(zs, 95):.0f} ms |")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
