"""Server-side result cache shared by every gunicorn worker.

Results (forecasts, matrices, optimizer fronts, simulations, resampled
series) are stored in a diskcache folder under the cache directory, keyed by
kind + dataset id + canonical parameters + the code version. A miss takes an
exclusive ``flock`` on a per-key lock file before computing, so two
identical requests (any workers, any background jobs) compute once; the
second waits and reads the first's result. A killed job (cancel) releases
its lock with its process, so nothing stays locked.

No state lives in module globals: a ``ResultCache`` is a thin handle opened
per use on the shared folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import diskcache

import core

__all__ = ["ResultCache", "code_version"]

log = logging.getLogger(__name__)
_MISSING = object()
_HERE = Path(__file__).resolve().parents[1]  # dashapp/


@functools.cache
def code_version() -> str:
    """Hash of the sources of ``core`` and ``dashapp``: a code change invalidates cached results.

    Computed once per process (the sources do not change under a running server).
    """
    h = hashlib.sha256(core.__version__.encode())
    for root in (_HERE.parent / "core", _HERE):
        for path in sorted(root.rglob("*.py")):
            h.update(str(path.relative_to(root.parent)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=8)
def _open_cache(path: str, size_limit: int, pid: int) -> diskcache.Cache:
    """One diskcache handle per folder and process, shared by its threads (diskcache is thread-safe).

    Opening one costs ~10-20 ms (sqlite connection, pragmas, and a checkpoint on close): more than a cached
    page. ``pid`` is in the key so that a forked worker never uses its parent's sqlite connection.
    """
    return diskcache.Cache(path, size_limit=size_limit, eviction_policy="least-recently-used")


class ResultCache:
    """Computed results on disk, shared by processes; one computation per key at a time."""

    def __init__(self, cache_dir: str | os.PathLike, size_limit: int = 4 * 2**30) -> None:
        self.root = Path(cache_dir)
        self.locks = self.root / "locks"
        self.locks.mkdir(parents=True, exist_ok=True)
        try:
            self.cache = _open_cache(str(self.root / "results"), size_limit, os.getpid())
        except (sqlite3.Error, OSError) as exc:
            # A full or failing cache disk: compute without caching rather than fail every page and API call.
            log.warning("result cache %s unavailable (%s); computing without it", self.root, exc)
            self.cache = None

    def close(self) -> None:
        pass  # the handle is shared by the process's threads (see ``_open_cache``)

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @staticmethod
    def key(kind: str, dataset_id: str, params: dict) -> str:
        """Key of a result: kind, dataset, canonical parameters and the code version."""
        blob = json.dumps({"kind": kind, "dataset": dataset_id, "params": params, "code": code_version()},
                          sort_keys=True, default=str)
        return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:32]}"

    def get(self, key: str, default=None):
        if self.cache is None:
            return default
        try:
            return self.cache.get(key, default)
        except (sqlite3.Error, OSError):
            return default  # the disk, not the entry (an LRU read writes its access time): a miss
        except Exception:  # noqa: BLE001 - an unreadable entry is a miss, never a crash
            with contextlib.suppress(sqlite3.Error, OSError):
                self.cache.delete(key)
            return default

    def __contains__(self, key: str) -> bool:
        return self.get(key, _MISSING) is not _MISSING

    def set(self, key: str, value) -> None:
        if self.cache is None:
            return
        try:
            self.cache.set(key, value)
        except (sqlite3.Error, OSError) as exc:  # e.g. the disk is full: the result is still returned
            log.warning("result %s not cached (%s)", key, exc)

    @contextlib.contextmanager
    def lock(self, key: str):
        """Exclusive lock on ``key`` across processes (released when the holder dies)."""
        path = self.locks / f"{key}.lock"
        with open(path, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def get_or_compute(self, key: str, compute: Callable[[], object]) -> tuple[object, bool]:
        """The cached value, or ``compute()`` stored under the key; returns ``(value, was_cached)``."""
        value = self.get(key, _MISSING)
        if value is not _MISSING:
            return value, True
        with self.lock(key):
            value = self.get(key, _MISSING)  # another process may have finished meanwhile
            if value is not _MISSING:
                return value, True
            value = compute()
            self.set(key, value)
            return value, False
