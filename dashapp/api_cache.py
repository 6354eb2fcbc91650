"""Interim result cache of the API until ``dashapp.jobs`` (the pages' shared cache) is committed.

Same contract as ``dashapp.jobs.ResultCache``: diskcache under the cache folder,
shared by every worker; a miss takes an exclusive ``flock`` on a per-key lock
file, so identical concurrent requests compute once and a dead worker's lock
is released with its process. To be replaced by ``dashapp.jobs`` (one cache).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import diskcache

import core

__all__ = ["ResultCache"]

_MISSING = object()


class ResultCache:
    """Computed results on disk, one computation per key at a time across processes."""

    def __init__(self, cache_dir: str | os.PathLike) -> None:
        self.root = Path(cache_dir) / "api-results"
        self.locks = self.root / "locks"
        self.locks.mkdir(parents=True, exist_ok=True)
        self.cache = diskcache.Cache(str(self.root / "values"), size_limit=2 * 2**30)

    def __enter__(self) -> ResultCache:
        return self

    def __exit__(self, *exc) -> None:
        self.cache.close()

    @staticmethod
    def key(kind: str, dataset_id: str, params: dict) -> str:
        blob = json.dumps({"kind": kind, "dataset": dataset_id, "params": params, "code": core.__version__},
                          sort_keys=True, default=str)
        return f"{kind}-{hashlib.sha256(blob.encode()).hexdigest()[:32]}"

    def get_or_compute(self, key: str, compute: Callable[[], object]) -> tuple[object, bool]:
        value = self.cache.get(key, _MISSING)
        if value is not _MISSING:
            return value, True
        with open(self.locks / f"{key}.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                value = self.cache.get(key, _MISSING)
                if value is not _MISSING:
                    return value, True
                value = compute()
                self.cache.set(key, value, expire=7 * 86400)
                return value, False
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
