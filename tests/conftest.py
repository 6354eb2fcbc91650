"""Fixtures shared by the whole suite: the shared NASA data and generated logs."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def shared_path() -> Path:
    """Where the read-only shared data lives (TRAFFIC_SHARED_DIR, default ../shared)."""
    return Path(os.environ.get("TRAFFIC_SHARED_DIR", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = shared_path()
    if not (path / "data" / "nasa-1995").is_dir():
        pytest.skip(f"shared NASA data not found at {path} (set TRAFFIC_SHARED_DIR to run this test)")
    return path


@pytest.fixture(scope="session")
def nasa_dir(shared_dir) -> Path:
    return shared_dir / "data" / "nasa-1995"


@pytest.fixture(scope="session")
def real_per_minute(nasa_dir):
    """The real NASA requests per minute (naive local timestamps, NaN where no log)."""
    import pandas as pd

    df = pd.read_csv(nasa_dir / "requests_per_minute.csv.gz", parse_dates=["timestamp"])
    return df.set_index("timestamp")["requests"]


def _make_log(shared_dir: Path, out: Path, *args: str) -> Path:
    tool = shared_dir / "tools" / "make_nasa_log.py"
    if not tool.exists():
        pytest.skip(f"log generator not found at {tool}")
    subprocess.run([sys.executable, str(tool), str(out), "-q", *args], check=True)
    return out


@pytest.fixture(scope="session")
def make_nasa_log(shared_dir):
    """``make_nasa_log(out_path, *generator_args)``: run the shared generator of realistic NASA logs."""
    return lambda out, *args: _make_log(shared_dir, Path(out), *args)


@pytest.fixture(scope="session")
def outage_log(shared_dir, tmp_path_factory) -> tuple[Path, Path]:
    """Three generated days around the hurricane outage, with 1% junk lines and their index."""
    d = tmp_path_factory.mktemp("outage")
    index = d / "junk.txt"
    log = _make_log(shared_dir, d / "aug01-03.log", "--start", "1995-08-01", "--end", "1995-08-03",
                   "--malformed", "0.01", "--malformed-index", str(index))
    return log, index


@pytest.fixture
def write_gz():
    def _write(path: Path, data: bytes) -> Path:
        with gzip.open(path, "wb") as f:
            f.write(data)
        return path

    return _write


# -- a real gunicorn ------------------------------------------------------------------------------


class LiveServer:
    """A gunicorn serving the app on 127.0.0.1 with its own data and cache folders."""

    def __init__(self, root: Path, workers: int = 2, conf: Path | None = None, **env: str) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.data_dir, self.cache_dir, self.models_dir = root / "data", root / "cache", root / "models"
        self.env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            TRAFFIC_BIND=f"127.0.0.1:{self.port}",
            TRAFFIC_DATA_DIR=str(self.data_dir),
            TRAFFIC_CACHE_DIR=str(self.cache_dir),
            TRAFFIC_MODELS_DIR=str(self.models_dir),
            TRAFFIC_ACCESS_LOG="",
            WEB_CONCURRENCY=str(workers),
            **env,
        )
        self.proc: subprocess.Popen | None = None
        self.log = root / "gunicorn.log"
        self.conf = conf or ROOT / "gunicorn.conf.py"  # another one: bench/bench_job_start.py

    def start(self, timeout: float = 180) -> LiveServer:
        import time
        import urllib.request

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(self.conf)],
            cwd=ROOT, env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"gunicorn did not become healthy in {timeout}s: {self.log.read_text()[-2000:]}")

    def warm(self, rounds: int = 4) -> LiveServer:
        """Fetch the index page and every script/stylesheet it links a few times (each worker then has
        its compressed bundles ready), so a browser's first page load does not pay for it under load."""
        import re
        import urllib.request

        for _ in range(rounds):
            try:
                with urllib.request.urlopen(self.url + "/", timeout=120) as r:
                    html = r.read().decode("utf-8", "replace")
                for ref in sorted(set(re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css)[^"]*)"', html))):
                    req = urllib.request.Request(self.url + ref, headers={"Accept-Encoding": "gzip, br"})
                    with urllib.request.urlopen(req, timeout=120) as r:
                        r.read()
            except OSError:
                pass  # warming is best effort; the tests report real failures
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory):
    """One shared gunicorn (2 workers) for the suite's HTTP and browser tests."""
    server = LiveServer(tmp_path_factory.mktemp("live")).start().warm()
    yield server
    server.stop()


@pytest.fixture
def server_factory(tmp_path):
    """Start extra gunicorn instances (own folders) for fault and restart tests; all stopped after."""
    started: list[LiveServer] = []

    def _start(root: Path | None = None, **env: str) -> LiveServer:
        root = root or tmp_path / f"srv{len(started)}"
        root.mkdir(parents=True, exist_ok=True)
        s = LiveServer(root, **env)
        started.append(s)
        return s.start()

    yield _start
    for s in started:
        s.stop()
