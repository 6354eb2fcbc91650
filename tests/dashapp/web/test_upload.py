"""Streaming uploads over HTTP against a real gunicorn: limits before reading, hostile names, dedup,
background ingest with progress, failures that stay visible."""

from __future__ import annotations

import bz2
import gzip
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from dashapp.web.upload import sanitize_name

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def make_log(days: int = 1, per_minute: int = 3, junk_every: int = 0, seed: int = 0) -> bytes:
    """A small Apache Common log: a few requests every minute, optionally a junk line now and then."""
    lines = []
    n = 0
    for minute in range(days * 1440):
        d, rest = divmod(minute, 1440)
        h, m = divmod(rest, 60)
        for k in range(per_minute + (minute * 7 + seed) % 3):
            n += 1
            if junk_every and n % junk_every == 0:
                lines.append("this is not a log line")
                continue
            lines.append(f'host{(minute + k) % 17}.example.com - - [{1 + d:02d}/{MONTHS[6]}/1995:{h:02d}:{m:02d}:'
                         f'{k % 60:02d} -0400] "GET /page{k}.html HTTP/1.0" 200 {100 + k}')
    return ("\n".join(lines) + "\n").encode()


def upload(server, data: bytes, name: str | None = None, **kw) -> requests.Response:
    params = {"name": name} if name is not None else None
    r = requests.post(server.url + "/upload", data=data, params=params, timeout=60,
                      headers={"Content-Type": "application/octet-stream"}, **kw)
    assert r.status_code != 500, r.text
    return r


def wait_job(server, upload_id: str, timeout: float = 60) -> dict:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = requests.get(f"{server.url}/upload/{upload_id}", timeout=10)
        assert r.status_code == 200, r.text
        job = r.json()
        seen.append(job["progress"])
        if job["state"] in ("done", "failed"):
            job["_progress_seen"] = seen
            return job
        time.sleep(0.1)
    raise AssertionError(f"upload {upload_id} did not finish in {timeout}s: {job}")


def upload_and_wait(server, data: bytes, name: str | None = None) -> dict:
    r = upload(server, data, name)
    assert r.status_code == 202, r.text
    return wait_job(server, r.json()["upload_id"])


def uploads_dir(server) -> Path:
    return server.data_dir / ".uploads"


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    """A gunicorn with a 0.5 MB upload limit (its own folders)."""
    from tests.conftest import LiveServer

    server = LiveServer(tmp_path_factory.mktemp("small"), workers=1, TRAFFIC_MAX_UPLOAD_MB="0.5").start()
    yield server
    server.stop()


# -- size limits ---------------------------------------------------------------------------------


def _raw(server, head: str, body: bytes, timeout: float = 20) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(head.encode() + b"\r\n")
        try:
            s.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data and data.rstrip().endswith(b"}"):
                break
    return data


def test_size_limit_is_enforced_before_the_body_is_read(small_server):
    # Announce 2 GB and send 64 KiB: the refusal must arrive at once, without the server reading the rest.
    head = "POST /upload?name=big.log HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" \
           f"Content-Length: {2 * 1024**3}\r\n"
    t0 = time.monotonic()
    resp = _raw(small_server, head, b"x" * 65536)
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert time.monotonic() - t0 < 10
    assert b"exceeds the limit of 0.5 MB" in resp
    assert not list(uploads_dir(small_server).glob("*.part"))
    assert requests.get(small_server.url + "/health", timeout=10).status_code == 200


def test_chunked_upload_stops_at_the_limit(small_server):
    sent = []

    def body():
        for _ in range(400):  # up to 40 MB, far past 0.5 MB
            sent.append(1)
            yield b"7\n" * 50_000

    try:
        r = requests.post(small_server.url + "/upload", data=body(), timeout=60)
    except requests.ConnectionError:
        pytest.fail("the server reset the connection instead of answering 413")
    assert r.status_code == 413
    assert "exceeds the limit" in r.json()["message"]
    assert len(sent) < 400  # the client was stopped long before sending everything
    assert not list(uploads_dir(small_server).glob("*.part"))
    assert requests.get(small_server.url + "/health", timeout=10).status_code == 200


def test_under_the_limit_is_accepted_and_a_gzip_bomb_is_refused_by_ingest(small_server):
    job = upload_and_wait(small_server, gzip.compress(make_log(days=1)), "day.log.gz")
    assert job["state"] == "done", job
    bomb = gzip.compress(b"1\n" * (2 * 1024 * 1024))  # 4 MB inflated from a few KB
    job = upload_and_wait(small_server, bomb, "bomb.txt.gz")
    assert job["state"] == "failed"
    assert "size limit" in job["error"]


def test_limits_route(small_server):
    r = requests.get(small_server.url + "/upload", timeout=10)
    assert r.json()["max_bytes"] == 512 * 1024


# -- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("C:\\Users\\evil\\..\\access.log", "access.log"),
        ("a\x00b.csv", "ab.csv"),
        ("..", "upload"),
        ("", "upload"),
        ("   ", "upload"),
        ("\u202egol.exe", "gol.exe"),
        ("x" * 1000 + ".log.gz", "x" * 297 + ".gz"),
    ],
)
def test_sanitize_name(raw, shown):
    assert sanitize_name(raw) == shown
    assert len(sanitize_name(raw)) <= 300


def test_hostile_names_are_display_only(live_server):
    data = b"requests\n" + b"\n".join(str(i % 40).encode() for i in range(700))
    before = {p.name for p in live_server.data_dir.iterdir()}
    for i, name in enumerate(["../../../../tmp/pwned.csv", "/abs/path.csv", "a\x00b.csv", "x" * 2000,
                              "..\\..\\win.csv"]):
        job = upload_and_wait(live_server, data + f"\n{i}".encode(), name)
        assert job["state"] == "done", job
        assert "/" not in job["name"]
        assert "\\" not in job["name"]
        assert "\x00" not in job["name"]
        assert len(job["name"]) <= 300
        assert job["dataset"]["name"] == job["name"]
    assert not Path("/tmp/pwned.csv").exists()
    new = {p.name for p in live_server.data_dir.iterdir()} - before
    assert all(len(n) == 16 and all(c in "0123456789abcdef" for c in n) for n in new), new
    assert not list(uploads_dir(live_server).glob("*.part"))


def test_name_from_header_and_multipart(live_server):
    data = b"load\n" + b"\n".join(str(10 + i % 30).encode() for i in range(900))
    r = requests.post(live_server.url + "/upload", data=data, timeout=30,
                      headers={"X-File-Name": "%2E%2E%2Fcaf%C3%A9.csv"})
    assert r.status_code == 202
    assert r.json()["name"] == "café.csv"
    # Waited for, so that no job of this test is still storing a dataset when the next test counts them.
    assert wait_job(live_server, r.json()["upload_id"])["state"] == "done"
    r = requests.post(live_server.url + "/upload", files={"file": ("../weekly load.csv", data + b"\n1")}, timeout=30)
    assert r.status_code == 202, r.text
    job = wait_job(live_server, r.json()["upload_id"])
    assert job["state"] == "done", job
    assert job["name"] == "weekly load.csv"


# -- dedup ---------------------------------------------------------------------------------------


def _count_datasets(server) -> int:
    return len(requests.get(server.url + "/api/datasets", timeout=10).json()["datasets"])


def test_the_same_file_twice_is_one_dataset(live_server):
    log = make_log(days=1, seed=1)
    n0 = _count_datasets(live_server)
    first = upload_and_wait(live_server, log, "a.log")
    assert first["state"] == "done", first
    assert first["duplicate"] is False
    second = upload_and_wait(live_server, log, "b.log")
    assert second["dataset_id"] == first["dataset_id"]
    assert second["duplicate"] is True
    # The same content compressed is the same dataset too (the id hashes the decompressed content).
    third = upload_and_wait(live_server, bz2.compress(log), "a.log.bz2")
    assert third["dataset_id"] == first["dataset_id"]
    assert third["duplicate"] is True
    assert _count_datasets(live_server) == n0 + 1


def test_simultaneous_identical_uploads_give_one_dataset(live_server):
    log = gzip.compress(make_log(days=2, seed=2))
    n0 = _count_datasets(live_server)
    barrier = threading.Barrier(3)

    def go(i):
        barrier.wait()
        r = upload(live_server, log, f"same-{i}.log.gz")
        assert r.status_code == 202, r.text
        return wait_job(live_server, r.json()["upload_id"])

    with ThreadPoolExecutor(3) as pool:
        jobs = list(pool.map(go, range(3)))
    assert [j["state"] for j in jobs] == ["done"] * 3, [j["error"] for j in jobs]
    assert len({j["dataset_id"] for j in jobs}) == 1
    assert sum(not j["duplicate"] for j in jobs) == 1
    assert _count_datasets(live_server) == n0 + 1


# -- ingest results and failures -----------------------------------------------------------------


def test_log_upload_reports_lines_and_rejects(live_server):
    job = upload_and_wait(live_server, gzip.compress(make_log(days=1, junk_every=500, seed=3)), "junk.log.gz")
    assert job["state"] == "done", job
    rep = job["report"]
    assert rep["format"] == "apache"
    assert rep["compression"] == "gzip"
    assert rep["lines_rejected"] == rep["lines_total"] // 500
    assert rep["rejected_examples"][0]["text"] == "this is not a log line"
    assert job["progress"] == 1.0
    assert all(0 <= p <= 1 for p in job["_progress_seen"])
    listed = requests.get(live_server.url + "/api/datasets", timeout=10).json()["datasets"]
    assert job["dataset_id"] in {d["id"] for d in listed}


def test_generated_nasa_log_upload(live_server, make_nasa_log, tmp_path):
    log = make_nasa_log(tmp_path / "nasa.log", "--start", "1995-07-03", "--end", "1995-07-03")
    job = upload_and_wait(live_server, gzip.compress(log.read_bytes()), "nasa.log.gz")
    assert job["state"] == "done", job
    assert job["report"]["lines_parsed"] > 1000
    assert job["dataset"]["start"].startswith("1995-07-03")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "PNG image"),
        (b"\x1f\x8b\x08\x00garbage-not-gzip", "corrupt"),
        (b"requests\n1\n-5\n", "negative"),
        (b"hello world, this is prose\nnot a series at all\n", "unrecognised format"),
    ],
)
def test_bad_files_fail_with_the_ingest_message(live_server, data, fragment):
    job = upload_and_wait(live_server, data, "bad.bin")
    assert job["state"] == "failed"
    assert fragment in job["error"]
    assert job["dataset_id"] is None


def test_empty_upload_and_bad_ids(live_server):
    r = upload(live_server, b"")
    assert r.status_code == 400
    assert "empty" in r.json()["message"]
    assert requests.get(live_server.url + "/upload/..%2F..%2Fetc", timeout=10).status_code in (400, 404)
    r = requests.get(live_server.url + "/upload/not-an-id", timeout=10)
    assert r.status_code == 400
    r = requests.get(live_server.url + "/upload/" + "0" * 24, timeout=10)
    assert r.status_code == 404
    assert "unknown upload id" in r.json()["message"]
    r = requests.delete(live_server.url + "/upload", timeout=10)
    assert r.status_code == 405


def test_a_job_whose_worker_died_reads_as_failed(live_server):
    from dashapp.runtime.ingest_jobs import JobTable

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    table = JobTable(live_server.cache_dir / "uploads")
    job_id = "ab" * 12
    now = time.time()
    table.put({"upload_id": job_id, "state": "running", "name": "x.log", "bytes": 1, "progress": 0.3,
               "dataset_id": None, "duplicate": False, "report": None, "dataset": None, "error": None,
               "created": now, "pid": dead.pid, "host": socket.gethostname(), "heartbeat": now})
    job = requests.get(f"{live_server.url}/upload/{job_id}", timeout=10).json()
    assert job["state"] == "failed"
    assert "stopped" in job["error"]
    # A job on another host is judged by its heartbeat alone.
    table.put({**job, "upload_id": "cd" * 12, "state": "running", "host": "elsewhere", "heartbeat": now - 120})
    assert requests.get(f"{live_server.url}/upload/{'cd' * 12}", timeout=10).json()["state"] == "failed"


# -- the upload widget (assets/upload.js) in headless Chromium ---------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.mark.browser
def test_upload_widget_streams_polls_and_reports(live_server, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    good = tmp_path / "widget.log.gz"
    good.write_bytes(gzip.compress(make_log(days=1, junk_every=700, seed=9)))
    bad = tmp_path / "picture.log"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            # A path without a page: the app (and its assets, upload.js among them) loads, no widget is there yet.
            page.goto(live_server.url + "/no-such-page-widget-test", wait_until="load", timeout=60_000)
            assert page.query_selector("script[src*='upload.js']") is not None
            assert page.query_selector("#upload-widget") is None
            # The DOM contract: any element with id upload-widget (here added late, as Dash renders pages).
            page.evaluate("""() => { const d = document.createElement('div'); d.id = 'upload-widget';
                                     d.setAttribute('data-target-input', 'new-id');
                                     const i = document.createElement('input'); i.id = 'new-id';
                                     document.body.append(d, i); }""")
            page.wait_for_selector("#upload-widget .upload-file", timeout=10_000)
            page.wait_for_function("document.querySelector('#upload-widget .upload-hint').textContent.includes('MB')")
            page.set_input_files("#upload-widget .upload-file", str(good))
            page.click("#upload-widget .upload-button")
            page.wait_for_selector("#upload-widget[data-state=done]", timeout=60_000)
            dataset_id = page.get_attribute("#upload-widget", "data-dataset-id")
            assert dataset_id
            assert page.input_value("#new-id") == dataset_id
            report = page.inner_text("#upload-widget .upload-report")
            assert "rejected" in report
            assert "line " in report  # the first rejected examples
            assert page.get_attribute("#upload-widget .upload-progress", "value") in ("100", None)
            assert page.evaluate("document.querySelector('#upload-widget .upload-progress').value") == 100
            page.set_input_files("#upload-widget .upload-file", str(bad))
            page.click("#upload-widget .upload-button")
            page.wait_for_selector("#upload-widget .upload-row[data-state=failed]", timeout=60_000)
            assert "PNG image" in page.inner_text("#upload-widget .upload-row[data-state=failed] .upload-status")
            assert errors == []
        finally:
            browser.close()
    listed = requests.get(live_server.url + "/api/datasets", timeout=10).json()["datasets"]
    assert dataset_id in {d["id"] for d in listed}


def test_killing_the_worker_mid_ingest_leaves_a_failed_job_and_no_dataset(server_factory, make_nasa_log, tmp_path):
    import os
    import signal

    import psutil

    log = make_nasa_log(tmp_path / "week.log", "--start", "1995-07-01", "--end", "1995-07-07")  # ~60 MB, ~1 s
    root = tmp_path / "srv"
    root.mkdir()  # server_factory does not create its default folder
    server = server_factory(root, workers=1)
    before = {d["id"] for d in requests.get(server.url + "/api/datasets", timeout=10).json()["datasets"]}
    with open(log, "rb") as f:
        r = requests.post(server.url + "/upload?name=week.log", data=f, timeout=120)
    assert r.status_code == 202
    worker = psutil.Process(server.proc.pid).children()[0]
    os.kill(worker.pid, signal.SIGKILL)  # the ingest thread dies with its worker
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            job = requests.get(server.url + r.json()["status_url"], timeout=10).json()
            break
        except requests.ConnectionError:
            time.sleep(0.5)  # the master is starting a new worker
    assert job["state"] == "failed", job
    assert "stopped" in job["error"]
    after = {d["id"] for d in requests.get(server.url + "/api/datasets", timeout=10).json()["datasets"]}
    assert after == before
    assert not list((server.data_dir / ".uploads").glob("*.part"))
    store_dirs = [p for p in server.data_dir.iterdir() if not p.name.startswith(".")]
    assert all((p / "meta.json").exists() for p in store_dirs)  # nothing half-written is visible
