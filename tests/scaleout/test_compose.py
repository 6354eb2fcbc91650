"""docker-compose.yml (Docker cannot run here): it parses and wires app, worker and Redis as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_runs_app_worker_and_redis_on_the_redis_backend():
    yaml = pytest.importorskip("yaml")
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    assert set(services) == {"app", "worker", "redis"}
    assert services["worker"]["command"][:4] == ["celery", "-A", "dashapp.worker", "worker"]
    assert "volatile-lru" in services["redis"]["command"]  # eviction never touches the job queue
    for name in ("app", "worker"):
        env = services[name]["environment"]
        assert env["TRAFFIC_BACKEND"] == "redis"
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        # Datasets and models on the volume both share; the cache folder per container.
        assert env["TRAFFIC_DATA_DIR"].startswith("/var/lib/traffic/")
        assert env["TRAFFIC_MODELS_DIR"].startswith("/var/lib/traffic/")
        assert not env["TRAFFIC_CACHE_DIR"].startswith("/var/lib/traffic/")
        assert "traffic-shared:/var/lib/traffic" in services[name]["volumes"]
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["app"]["image"] == services["worker"]["image"]
    for name in ("app", "worker"):  # the kernels compiled into the image at build time are the ones used
        assert "NUMBA_CACHE_DIR" not in services[name]["environment"]
