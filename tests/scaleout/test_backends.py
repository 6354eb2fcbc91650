"""Backend selection and the Redis result cache (one computation per key across processes, dead holders)."""

from __future__ import annotations

import multiprocessing as mp
import pickle
import time
from pathlib import Path

import pytest

from dashapp.runtime.backends import make_background_manager, make_result_store
from dashapp.runtime.redis_kv import RedisResultCache, redacted
from dashapp.runtime.result_cache import ResultCache
from dashapp.runtime.settings import Settings


def _settings(tmp_path: Path, **kw) -> Settings:
    return Settings.from_env(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", models_dir=tmp_path / "m", **kw)


def test_default_backend_is_diskcache_and_files(tmp_path, monkeypatch):
    from dash import DiskcacheManager

    monkeypatch.delenv("TRAFFIC_BACKEND", raising=False)
    s = _settings(tmp_path, secret_key="k")
    assert s.backend == "disk"
    assert isinstance(make_background_manager(s), DiskcacheManager)
    with make_result_store(s) as rc:
        assert type(rc) is ResultCache
        assert rc.root == s.cache_dir


@pytest.mark.parametrize(("env", "message"), [
    ({"TRAFFIC_BACKEND": "memcached"}, "TRAFFIC_BACKEND must be one of disk, redis, got 'memcached'"),
    ({"TRAFFIC_BACKEND": "redis"}, "TRAFFIC_BACKEND=redis needs REDIS_URL"),
])
def test_bad_backend_settings_name_the_value_and_the_fix(tmp_path, monkeypatch, env, message):
    monkeypatch.delenv("REDIS_URL", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError, match=message):
        _settings(tmp_path)


def test_unreachable_redis_is_one_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("redis")
    monkeypatch.delenv("TRAFFIC_SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match=r"cannot reach Redis at redis://:\*\*\*@127.0.0.1:1/0 .*fix REDIS_URL"):
        _settings(tmp_path, backend="redis", redis_url="redis://:hunter2@127.0.0.1:1/0")


def test_redacted_hides_only_the_password():
    assert redacted("redis://u:pw@h:6380/1") == "redis://u:***@h:6380/1"
    assert redacted("redis://h:6379/0") == "redis://h:6379/0"


def test_hosts_without_a_configured_key_share_one_from_redis(tmp_path, monkeypatch, redis_server):
    monkeypatch.delenv("TRAFFIC_SECRET_KEY", raising=False)
    one = _settings(tmp_path / "host1", backend="redis", redis_url=redis_server.url)
    two = _settings(tmp_path / "host2", backend="redis", redis_url=redis_server.url)
    assert one.secret_key == two.secret_key
    assert len(one.secret_key) == 64
    assert not (tmp_path / "host1" / "c" / "secret_key").exists()


def test_redis_cache_keeps_the_result_cache_interface(redis_server):
    key = RedisResultCache.key("forecast", "ds1", {"a": 1})
    assert key == ResultCache.key("forecast", "ds1", {"a": 1})  # same keys in both modes
    calls = []
    with RedisResultCache(redis_server.url) as rc:
        assert rc.get(key) is None
        assert key not in rc
        value, hit = rc.get_or_compute(key, lambda: calls.append(1) or {"answer": [1.5, None]})
        assert (value, hit) == ({"answer": [1.5, None]}, False)
    with RedisResultCache(redis_server.url) as rc2:  # another handle, as another host opens
        assert rc2.get_or_compute(key, lambda: calls.append(1) or "other") == ({"answer": [1.5, None]}, True)
        assert rc2.redis.ttl(f"traffic:result:{key}") > 6 * 86400
        rc2.redis.set(f"traffic:result:{key}", b"\x80\x05garbage")  # unreadable (other version): a miss
        assert rc2.get(key, "miss") == "miss"
        assert rc2.redis.get(f"traffic:result:{key}") is None
    assert calls == [1]


def _slow(url: str, marker: str, out: str, lock_ttl: float, seconds: float) -> None:
    def compute():
        with open(marker, "a") as fh:
            fh.write("x")
        time.sleep(seconds)
        return "done"

    rc = RedisResultCache(url, lock_ttl=lock_ttl)
    value, hit = rc.get_or_compute(rc.key("slow", "ds", {"out": Path(marker).name}), compute)
    Path(out).write_text(f"{value} {hit}")


def test_identical_requests_in_two_processes_compute_once_even_past_the_lock_expiry(tmp_path, redis_server):
    # The computation takes 2.5x the lock's expiry: the holder's renewals keep the second one waiting.
    marker = tmp_path / "m1"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_slow, args=(redis_server.url, str(marker), str(tmp_path / f"o{i}"), 1.0, 2.5))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert marker.read_text() == "x"
    assert sorted((tmp_path / f"o{i}").read_text() for i in range(2)) == ["done False", "done True"]


def test_a_killed_holder_frees_the_key_within_the_lock_expiry(tmp_path, redis_server):
    marker = tmp_path / "m2"
    p = mp.get_context("spawn").Process(target=_slow, args=(redis_server.url, str(marker), str(tmp_path / "o"),
                                                            2.0, 30))
    p.start()
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    p.kill()  # a worker lost mid-computation
    p.join()
    rc = RedisResultCache(redis_server.url, lock_ttl=2.0)
    key = rc.key("slow", "ds", {"out": "m2"})
    t0 = time.monotonic()
    assert rc.get_or_compute(key, lambda: "recomputed") == ("recomputed", False)
    assert time.monotonic() - t0 < 5
    assert pickle.loads(rc.redis.get(f"traffic:result:{key}")) == "recomputed"


def _sleepy(set_progress, seconds):
    time.sleep(seconds)
    return ["done"]


def test_disk_mode_reports_a_killed_job_process_but_not_a_cancelled_one(tmp_path, monkeypatch):
    import os
    import signal

    monkeypatch.delenv("TRAFFIC_BACKEND", raising=False)
    manager = make_background_manager(_settings(tmp_path, secret_key="k"))
    job_fn = manager.make_job_fn(_sleepy, True)

    def start(key: str) -> str:
        pid = manager.call_job_fn(key, job_fn, [30], {})
        deadline = time.monotonic() + 20
        while not manager.job_running(pid):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return str(pid)

    killed = start("killed")
    assert manager.get_result("killed", killed) is manager.UNDEFINED  # running: nothing yet
    os.kill(int(killed), signal.SIGKILL)  # the OOM killer, say
    deadline = time.monotonic() + 20
    while manager.job_running(killed):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    out = manager.get_result("killed", killed)
    assert out["background_callback_error"]["msg"].startswith("the process running this job stopped")

    cancelled = start("cancelled")
    manager.terminate_job(cancelled)  # the user pressed Cancel
    assert not manager.job_running(cancelled)
    assert manager.get_result("cancelled", cancelled) is manager.UNDEFINED  # Dash's "no output", as before
