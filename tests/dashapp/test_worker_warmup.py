"""A fresh gunicorn serves a browser's burst of parallel bundle requests (Dash's per-worker setup ran first),
and its workers load what background jobs need before they serve."""

from __future__ import annotations

import re
import threading
import time
import urllib.request
from pathlib import Path


def _bundle_urls(dash_app) -> list[str]:
    html = dash_app.server.test_client().get("/").get_data(as_text=True)
    return re.findall(r'<script src="(/_dash-component-suites/[^"]+)"', html)


def test_a_fresh_server_answers_parallel_first_requests(server_factory, dash_app):
    urls = _bundle_urls(dash_app)  # same packages, same fingerprints as the server's
    assert len(urls) >= 5
    server = server_factory()
    statuses: list = []
    barrier = threading.Barrier(8 * len(urls))

    def get(url):
        barrier.wait()
        try:
            with urllib.request.urlopen(server.url + url, timeout=60) as r:
                statuses.append(r.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)

    threads = [threading.Thread(target=get, args=(u,)) for u in urls * 8]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert statuses == [200] * len(threads), sorted(set(statuses))
    assert "Exception on" not in server.log.read_text()


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:  # the field after the state is the parent pid
            out.append(int(stat.parent.name))
    return out


def test_each_worker_loads_the_forecasters_libraries_before_it_serves(server_factory):
    # Background jobs run in processes forked from the worker: what it loaded once, no job loads again
    # (a Fourier+ARMA forecast job 1.2 -> 0.35 s, LightGBM 2.1 -> 1.5 s; docs/scale-out.md has the Celery side).
    server = server_factory()
    workers = _children(server.proc.pid)
    assert workers, "no gunicorn worker found"
    for pid in workers:
        deadline = time.monotonic() + 60  # a worker serves /health only after post_worker_init, but only one
        while True:  # worker may have answered it: wait for each one's maps
            maps = Path(f"/proc/{pid}/maps").read_text()
            if "lib_lightgbm" in maps and "statsmodels" in maps:
                break
            assert time.monotonic() < deadline, f"worker {pid} has not loaded LightGBM and statsmodels"
            time.sleep(0.5)
    assert "warming up the kernels and forecasters failed" not in server.log.read_text()
