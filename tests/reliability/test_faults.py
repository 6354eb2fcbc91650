"""Faults: a restart loses and recomputes nothing; a killed worker or job process hurts no one else.

Each test starts its own gunicorn (``server_factory``) on its own folders.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.reliability.helpers import JOB_PENDING, datasets, render_page, traffic_csv, upload

CHART = ".js-plotly-plot .main-svg"


def sources_version() -> str:
    """The code version cached results are keyed by (the hash of core/ and dashapp/), computed afresh."""
    from dashapp.runtime.result_cache import code_version

    return code_version.__wrapped__()


def skip_if_sources_changed(before: str) -> None:
    """A restarted or respawned worker loads the sources anew: if someone edited them meanwhile (a shared
    working tree), every result key changes and a recomputation is right, so the test cannot judge."""
    if sources_version() != before:
        pytest.skip("core/ or dashapp/ sources changed while the test ran; cached results are keyed by them")


def result_store_times(cache_dir: Path) -> dict[str, float]:
    """``{key: store_time}`` of the shared result cache (read-only): a recomputation rewrites store_time."""
    db = cache_dir / "results" / "cache.db"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        return dict(con.execute("SELECT key, store_time FROM Cache").fetchall())


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (inode, mtime_ns)}`` of every file under ``root``: any rewrite changes it."""
    out = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.name.endswith((".lock", "-wal", "-shm")):
            st = p.stat()
            out[str(p.relative_to(root))] = (st.st_ino, st.st_mtime_ns)
    return out


def test_restart_keeps_everything_and_recomputes_nothing(server_factory, tmp_path):
    root = tmp_path / "srv"
    version = sources_version()
    first = server_factory(root)
    _, job = upload(first.url, traffic_csv(days=14, seed=3), name="two weeks.csv")
    assert job["state"] == "done", job
    ds = job["dataset_id"]
    forecast_body = {"dataset_id": ds, "model": "sarima", "horizon": "1d", "granularity": "15min"}
    pages = [("/history", f"?dataset={ds}&granularity=15"), ("/what-if", f"?dataset={ds}&granularity=15&mult=1.5"),
             ("/forecast", f"?dataset={ds}&granularity=15&horizon=6h")]

    t0 = time.monotonic()
    fc = requests.post(first.url + "/api/forecast", json=forecast_body, timeout=300)
    assert fc.status_code == 200, fc.text
    assert fc.json()["cached"] is False
    # The forecast page's result: its export computes it exactly as the page's background job would.
    export = requests.get(f"{first.url}/export/forecast/json{pages[2][1]}", timeout=300)
    assert export.status_code == 200, export.text
    rendered = {p: render_page(first.url, p, q) for p, q in pages}
    cold_s = time.monotonic() - t0
    assert all(r.status_code == 200 and JOB_PENDING not in r.text for r in rendered.values())
    before = {
        "datasets": datasets(first.url),
        "report": requests.get(first.url + job["status_url"], timeout=30).json()["report"],
        "results": result_store_times(first.cache_dir),
        "files": {d: tree_state(getattr(first, d)) for d in ("data_dir", "models_dir")},
    }
    assert len(before["results"]) >= 4
    assert any(before["files"]["models_dir"])  # a trained model on disk
    first.stop()

    second = server_factory(root)  # the same folders, a new master and new workers
    t0 = time.monotonic()
    again = requests.post(second.url + "/api/forecast", json=forecast_body, timeout=300)
    rendered_again = {p: render_page(second.url, p, q) for p, q in pages}
    export_again = requests.get(f"{second.url}/export/forecast/json{pages[2][1]}", timeout=300)
    warm_s = time.monotonic() - t0
    skip_if_sources_changed(version)

    assert again.json()["cached"] is True
    assert {k: v for k, v in again.json().items() if k != "cached"} == \
        {k: v for k, v in fc.json().items() if k != "cached"}
    assert export_again.content == export.content
    for p, r in rendered_again.items():
        assert r.status_code == 200
        assert JOB_PENDING not in r.text, p  # rendered from the cache, no job started
        assert r.json() == rendered[p].json(), p
    assert datasets(second.url) == before["datasets"]
    assert requests.get(second.url + job["status_url"], timeout=30).json()["report"] == before["report"]
    # Nothing was recomputed or rewritten: every cached result keeps its store time, no new entry appeared,
    # and no dataset or model file was touched.
    assert result_store_times(second.cache_dir) == before["results"]
    assert {d: tree_state(getattr(second, d)) for d in ("data_dir", "models_dir")} == before["files"]
    assert warm_s < cold_s / 3, (warm_s, cold_s)


def _job_processes(server) -> list:
    """Background-job processes: children of the gunicorn workers (``multiprocess`` children)."""
    psutil = pytest.importorskip("psutil")
    master = psutil.Process(server.proc.pid)
    return [job for worker in master.children() for job in worker.children(recursive=True)]


class _OtherUser(threading.Thread):
    """Another user reading pages and the API in a loop while the fault happens."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.statuses: list[int] = []
        self.connection_errors = 0

    def run(self) -> None:
        paths = ["/api/datasets", "/", "/health", "/upload"]
        i = 0
        while not self.stop.is_set():
            try:
                r = requests.get(self.url + paths[i % len(paths)], timeout=30)
                self.statuses.append(r.status_code)
            except requests.ConnectionError:
                self.connection_errors += 1  # a request the killed worker was holding
            i += 1
            time.sleep(0.05)


def _wait_for_job(server, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = _job_processes(server)
        if jobs:
            return jobs[0]
        time.sleep(0.1)
    raise AssertionError("the forecast job process never started")


def slow_forecast(origin: str) -> str:
    """A forecast page whose job takes ~5 s (LightGBM at 15 minutes, a day ahead, with its backtests).

    Each test uses its own origin, so none reads another's cached result.
    """
    return f"/forecast?model=lightgbm&granularity=15&horizon=1d&origin={origin}"


@pytest.fixture(scope="module")
def jobs_server(tmp_path_factory):
    """One gunicorn (2 workers) for the job fault tests; a killed worker is replaced by gunicorn."""
    from tests.conftest import LiveServer

    server = LiveServer(tmp_path_factory.mktemp("jobs")).start()
    yield server
    server.stop()


@pytest.mark.browser
def test_killing_a_worker_during_a_background_forecast(jobs_server, web_factory):
    import psutil

    server = jobs_server
    url = slow_forecast("1995-08-24")
    version = sources_version()
    web = web_factory(server.url)
    other = _OtherUser(server.url)
    other.start()
    page = web.open(url)
    page.wait_for_selector("#forecast-job-bar", state="visible")
    job = _wait_for_job(server)
    worker = job.parent()
    os.kill(worker.pid, signal.SIGKILL)  # the worker that started the job, mid-job
    time.sleep(0.2)
    assert job.is_running(), "the job finished before the kill: pick a slower forecast"
    # The job outlives its worker, its result lands in the shared job store, and the page's polling
    # (answered by the other worker, then by the worker gunicorn starts instead) picks it up.
    page.wait_for_selector(f"#forecast-graph {CHART}", timeout=240_000)
    other.stop.set()
    other.join(30)
    assert not psutil.pid_exists(worker.pid) or psutil.Process(worker.pid).status() == psutil.STATUS_ZOMBIE
    assert "one-step" in web.text("#forecast-backtest")
    assert [s for s in other.statuses if s >= 500] == []
    assert other.statuses.count(200) > 10
    assert other.connection_errors <= 1  # at most the one request the killed worker held
    # The cache is whole: the result is served to a newcomer from it, and the job store checks clean.
    r = render_page(server.url, "/forecast", url.split("/forecast")[1])
    assert r.status_code == 200
    skip_if_sources_changed(version)  # the replacement worker would key results differently
    assert JOB_PENDING not in r.text, (sorted(result_store_times(server.cache_dir)), server.log.read_text()[-3000:])
    import diskcache

    for name in ("results", "jobs"):
        with diskcache.Cache(str(server.cache_dir / name)) as c:
            assert c.check() == [], name


@pytest.mark.browser
def test_a_killed_job_process_is_reported_and_can_be_rerun(jobs_server, web_factory):
    server = jobs_server
    web = web_factory(server.url)
    page = web.open(slow_forecast("1995-08-23"))
    page.wait_for_selector("#forecast-job-bar", state="visible")
    job = _wait_for_job(server)
    os.kill(job.pid, signal.SIGKILL)
    page.wait_for_selector(".job-failed", timeout=8_000)
    page.wait_for_selector("#forecast-job-run", state="visible")
    page.click("#forecast-job-run")
    page.wait_for_selector(f"#forecast-graph {CHART}", timeout=240_000)


@pytest.mark.browser
def test_a_killed_job_process_reruns_on_reload_and_the_cache_is_whole(jobs_server, web_factory):
    server = jobs_server
    web = web_factory(server.url)
    page = web.open(slow_forecast("1995-08-22"))
    page.wait_for_selector("#forecast-job-bar", state="visible")
    job = _wait_for_job(server)
    os.kill(job.pid, signal.SIGKILL)
    page.wait_for_selector("#forecast-job-bar", state="hidden", timeout=30_000)
    assert not page.is_visible("#forecast-graph")
    page.reload()  # the result was never stored: the page starts the job again
    page.wait_for_selector(f"#forecast-graph {CHART}", timeout=240_000)
    import diskcache

    with diskcache.Cache(str(server.cache_dir / "results")) as c:
        assert c.check() == []


def test_identical_forecast_jobs_from_two_users_compute_once(jobs_server):
    """Two users ask for the same forecast at the same moment: both get it, it is computed once."""
    server = jobs_server
    search = "?model=sarima&granularity=15&horizon=12h&origin=1995-08-20"
    known = set(result_store_times(server.cache_dir)) if (server.cache_dir / "results").exists() else set()
    barrier = threading.Barrier(2)
    out: list = [None, None]

    def user(i):
        barrier.wait()
        out[i] = requests.get(f"{server.url}/export/forecast/json{search}", timeout=300)

    threads = [threading.Thread(target=user, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert [r.status_code for r in out] == [200, 200]
    assert out[0].content == out[1].content
    stamps = result_store_times(server.cache_dir)
    forecasts = [k for k in set(stamps) - known if k.startswith("forecast-")]
    assert len(forecasts) == 1, stamps  # one result ...
    models = [p for p in (server.models_dir / "sarima").iterdir() if not p.name.startswith(".")]
    assert len(models) == 1  # ... from one trained model
    model_files = tree_state(server.models_dir)
    # A third user afterwards: a hit, nothing rewritten.
    assert requests.get(f"{server.url}/export/forecast/json{search}", timeout=300).content == out[0].content
    assert result_store_times(server.cache_dir) == stamps
    assert tree_state(server.models_dir) == model_files
