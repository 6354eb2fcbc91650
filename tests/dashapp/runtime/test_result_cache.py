"""The shared result cache: keys, hits, and one computation for concurrent identical requests."""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from pathlib import Path

from dashapp.runtime.result_cache import ResultCache, code_version


def test_keys_depend_on_kind_dataset_params_and_code():
    k = ResultCache.key("forecast", "ds1", {"a": 1, "b": [1, 2]})
    assert k == ResultCache.key("forecast", "ds1", {"b": [1, 2], "a": 1})  # canonical: key order ignored
    assert k != ResultCache.key("forecast", "ds2", {"a": 1, "b": [1, 2]})
    assert k != ResultCache.key("forecast", "ds1", {"a": 2, "b": [1, 2]})
    assert k != ResultCache.key("scenarios", "ds1", {"a": 1, "b": [1, 2]})
    assert len(code_version()) == 16
    assert code_version() == code_version()


def test_get_or_compute_computes_once_and_hits_after(tmp_path):
    calls = []
    with ResultCache(tmp_path) as rc:
        key = rc.key("x", "ds", {})
        assert rc.get(key) is None
        assert key not in rc
        v, hit = rc.get_or_compute(key, lambda: calls.append(1) or {"answer": 42})
        assert (v, hit) == ({"answer": 42}, False)
    with ResultCache(tmp_path) as rc2:  # a new handle, as another worker would open
        v, hit = rc2.get_or_compute(key, lambda: calls.append(1) or {"answer": 0})
        assert (v, hit) == ({"answer": 42}, True)
    assert calls == [1]


def _slow_compute(root: str, marker: str, out: str) -> None:
    def compute():
        with open(marker, "a") as fh:
            fh.write("x")
        time.sleep(1.0)
        return "done"

    with ResultCache(root) as rc:
        value, hit = rc.get_or_compute(rc.key("slow", "ds", {"p": 1}), compute)
    Path(out).write_text(f"{value} {hit}")


def test_two_processes_with_the_same_request_compute_once(tmp_path):
    marker = tmp_path / "computed"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_slow_compute, args=(str(tmp_path / "c"), str(marker), str(tmp_path / f"o{i}")))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert marker.read_text() == "x"  # one computation
    outs = sorted((tmp_path / f"o{i}").read_text() for i in range(2))
    assert outs == ["done False", "done True"]  # the second waited and read the first's result


def test_a_killed_holder_releases_the_lock(tmp_path):
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=_slow_compute, args=(str(tmp_path / "c"), str(tmp_path / "m"), str(tmp_path / "o")))
    p.start()
    deadline = time.monotonic() + 30
    while not (tmp_path / "m").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    p.kill()  # as a cancelled background job is killed
    p.join()
    with ResultCache(tmp_path / "c") as rc:
        t0 = time.monotonic()
        value, hit = rc.get_or_compute(rc.key("slow", "ds", {"p": 1}), lambda: "recomputed")
    assert (value, hit) == ("recomputed", False)
    assert time.monotonic() - t0 < 5


def test_one_cache_handle_per_process_and_folder(tmp_path, monkeypatch):
    """Opening diskcache costs more than a cached page: handles are shared by a process's threads, never
    across a fork (a forked worker must not use its parent's sqlite connection)."""
    a, b = ResultCache(tmp_path / "one"), ResultCache(tmp_path / "one")
    assert a.cache is b.cache
    assert ResultCache(tmp_path / "two").cache is not a.cache
    a.close()  # closing a handle leaves the shared connection usable
    b.set("k", 1)
    assert b.get("k") == 1
    real = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: real + 1)  # as in a forked child
    child = ResultCache(tmp_path / "one")
    assert child.cache is not a.cache
    assert child.get("k") == 1  # same folder, same data
