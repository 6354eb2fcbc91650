"""Scale-out fixtures: a private redis-server, Celery workers and gunicorn app hosts on the Redis backend.

Everything runs on 127.0.0.1 with random ports and temporary folders, and is
stopped by the fixtures. Skipped with a reason when Debian's ``redis-server``
or PyPI's ``celery[redis]`` is not installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT, LiveServer


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """``redis-server`` on a random port, no persistence, in its own folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> RedisServer:
        import redis

        self.root.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.root)],
            stdout=open(self.root / "redis.log", "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return self
            except redis.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer in {timeout}s: {(self.root / 'redis.log').read_text()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class CeleryWorker:
    """``celery -A dashapp.worker worker`` in its own process group (so SIGKILL takes its pool too)."""

    def __init__(self, root: Path, env: dict[str, str], name: str = "w1", concurrency: int = 1) -> None:
        self.root = root
        self.env = env
        self.name = name
        self.concurrency = concurrency
        self.log = root / f"worker-{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> CeleryWorker:
        self.root.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dashapp.worker", "worker", "--loglevel", "INFO",
             "--concurrency", str(self.concurrency), "-n", f"{self.name}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=self.env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"celery worker exited: {self.log.read_text()[-3000:]}")
            if " ready." in self.log.read_text(errors="replace")[offset:]:
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"celery worker not ready in {timeout}s: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once, as a lost host or the OOM killer would."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _redis_or_skip() -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server); the scale-out "
                    "tests start their own on a random port")
    for mod in ("celery", "redis"):
        try:
            __import__(mod)
        except ImportError:
            pytest.skip(f"the Python package {mod!r} is not installed (pip install 'celery[redis]')")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    _redis_or_skip()
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


def scaleout_env(redis_url: str, data_dir: Path, models_dir: Path, cache_dir: Path) -> dict[str, str]:
    """The environment of a host in the Redis mode: shared data and models folders, its own cache folder."""
    return {
        **os.environ, "PYTHONPATH": str(ROOT), "TRAFFIC_BACKEND": "redis", "REDIS_URL": redis_url,
        "TRAFFIC_DATA_DIR": str(data_dir), "TRAFFIC_MODELS_DIR": str(models_dir), "TRAFFIC_CACHE_DIR": str(cache_dir),
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }


class Cluster:
    """Two app hosts (A, B) and one Celery worker on one Redis; data and models on one shared folder."""

    def __init__(self, root: Path, redis: RedisServer) -> None:
        self.root, self.redis = root, redis
        self.data_dir, self.models_dir = root / "shared" / "data", root / "shared" / "models"
        self.hosts: list[LiveServer] = []
        for name in ("a", "b"):
            host = LiveServer(root / name, workers=1)
            # Data and models on the "network mount"; each host keeps its own (unused) cache folder.
            host.env.update(scaleout_env(redis.url, self.data_dir, self.models_dir, host.cache_dir),
                            TRAFFIC_BIND=f"127.0.0.1:{host.port}", TRAFFIC_ACCESS_LOG="")
            host.data_dir, host.models_dir = self.data_dir, self.models_dir
            self.hosts.append(host)
        self.worker = CeleryWorker(root / "w", scaleout_env(redis.url, self.data_dir, self.models_dir,
                                                            root / "w" / "cache"))

    def start(self) -> Cluster:
        with ThreadPoolExecutor(3) as pool:  # start all three at once: most of each start is imports
            futures = [pool.submit(h.start) for h in self.hosts] + [pool.submit(self.worker.start)]
            for f in futures:
                f.result()
        return self

    def stop(self) -> None:
        self.worker.stop()
        for h in self.hosts:
            h.stop()


@pytest.fixture(scope="module")
def cluster(redis_server, tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("cluster"), redis_server)
    try:
        c.start()
    except BaseException:
        c.stop()
        raise
    yield c
    c.stop()
