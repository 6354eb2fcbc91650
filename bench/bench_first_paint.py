"""First paint of a page whose results are not cached yet: how long the browser waits for the page's layout
response (Dash's page-content request), for the page to show, and for its chart to be drawn.

Run by hand (not in CI):

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_first_paint.py [--rounds 2]

Each round starts a fresh gunicorn (2 workers) on empty data and cache folders (only the built-in dataset,
stored at start-up), so every visit computes from scratch, then opens each URL once in headless Chromium.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from tests.conftest import LiveServer  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
CHART = ".js-plotly-plot .main-svg"
VISITS = (("History, 1 minute, two months", "/history?granularity=1", f"#history-sim-box {CHART}"),
          ("What-if, defaults", "/what-if", f"#what_if-graph-box {CHART}"))


def visit(browser, base: str, path: str, chart: str) -> dict:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(600_000)
    page = ctx.new_page()
    marks: dict[str, float] = {}

    def on_response(r):
        req = r.request
        if "_dash-update-component" in r.url and req.post_data and "_pages_content" in req.post_data:
            marks.setdefault("layout", time.perf_counter())

    page.on("response", on_response)
    t0 = time.perf_counter()
    page.goto(base + path)
    page.wait_for_selector("#_pages_content > *")
    marks["content"] = time.perf_counter()
    page.wait_for_selector(chart)
    marks["chart"] = time.perf_counter()
    ctx.close()
    return {k: v - t0 for k, v in marks.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        for r in range(args.rounds):
            server = LiveServer(Path(tempfile.mkdtemp(prefix="paint-"))).start().warm()
            try:
                # The index once, so the browser's cache holds the bundles: only the page's own work is timed.
                visit(browser, server.url, "/", "#data-table")
                for name, path, chart in VISITS:
                    m = visit(browser, server.url, path, chart)
                    rows.append((r, name, m))
                    print(f"round {r}: {name}: layout response {m.get('layout', float('nan')):.2f} s, page shown "
                          f"{m['content']:.2f} s, chart drawn {m['chart']:.2f} s", flush=True)
            finally:
                server.stop()
        browser.close()


if __name__ == "__main__":
    main()
