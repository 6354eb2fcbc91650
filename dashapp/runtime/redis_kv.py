"""Redis pieces shared by the app hosts and Celery workers (scale-out mode, ``TRAFFIC_BACKEND=redis``).

A pooled client per process, the deployment's signing key, the result cache on Redis
(``RedisResultCache``, the same interface as the file one) and ``RedisKV`` (the part of diskcache's API
the upload job table uses). ``redis`` is imported lazily: the default backend needs no redis package.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pickle
import secrets
from urllib.parse import urlsplit, urlunsplit

from dashapp.runtime.periodic import repeating
from dashapp.runtime.result_cache import ResultCache

__all__ = ["LOCK_TTL_S", "PREFIX", "RESULT_TTL_S", "RedisKV", "RedisResultCache", "redacted", "redis_client",
           "redis_secret"]

log = logging.getLogger(__name__)

#: Every key this app writes in Redis starts with this (the Celery broker and results use their own keys).
PREFIX = "traffic:"
RESULT_TTL_S = 7 * 86400
LOCK_TTL_S = 15.0


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@functools.cache
def _clients(url: str, pid: int):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)


def redis_client(url: str):
    """A pooled client for ``url`` (one pool per process: a forked worker must not share its parent's sockets)."""
    return _clients(url, os.getpid())


def redis_secret(url: str) -> str:
    """The deployment's random signing key, created once in Redis so every host agrees on it."""
    import redis

    r = redis_client(url)
    key = PREFIX + "secret_key"
    try:
        r.set(key, secrets.token_hex(32), nx=True)  # the first host wins; the others read its key
        value = r.get(key)
    except redis.RedisError as exc:
        raise RuntimeError(f"cannot reach Redis at {redacted(url)} ({exc}); start Redis or fix REDIS_URL") from None
    return value.decode()


class RedisResultCache(ResultCache):
    """``ResultCache`` on Redis: the same keys and ``get_or_compute``, shared by every host.

    Values are pickled (as diskcache does), written with one ``SET`` (atomic:
    a reader sees a whole value or none) and expire after ``ttl`` seconds
    without a read. The per-key lock is a redis-py ``Lock`` (``SET NX`` with
    an expiry) that its holder renews every ``lock_ttl / 3`` seconds: a holder
    killed mid-computation (a worker lost with its host) frees the key within
    ``lock_ttl`` seconds and the next request computes it again.

    Redis must be as private as the cache folder is in the default mode:
    whoever can write to it can make the app unpickle their data.
    """

    def __init__(self, url: str, ttl: float = RESULT_TTL_S, lock_ttl: float = LOCK_TTL_S) -> None:
        self.url = url
        self.redis = redis_client(url)
        self.ttl = int(ttl)
        self.lock_ttl = float(lock_ttl)

    def close(self) -> None:
        pass  # the connection pool is shared by the process

    def _k(self, key: str) -> str:
        return f"{PREFIX}result:{key}"

    def get(self, key: str, default=None):
        import redis

        try:
            raw = self.redis.getex(self._k(key), ex=self.ttl)  # a read keeps the entry alive (LRU-like)
        except redis.RedisError:
            log.warning("result cache: Redis read failed for %s", key, exc_info=True)
            return default
        if raw is None:
            return default
        try:
            return pickle.loads(raw)
        except Exception:  # noqa: BLE001 - an unreadable entry (other code version) is a miss, never a crash
            self.redis.delete(self._k(key))
            return default

    def set(self, key: str, value) -> None:
        import redis

        try:
            self.redis.set(self._k(key), pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), ex=self.ttl)
        except redis.RedisError as exc:  # e.g. Redis out of memory: the result is still returned, as with files
            log.warning("result %s not cached (%s)", key, exc)

    def delete(self, key: str) -> None:
        self.redis.delete(self._k(key))

    @contextlib.contextmanager
    def lock(self, key: str):
        """Exclusive lock on ``key`` across hosts, renewed while held, expiring if the holder dies."""
        lock = self.redis.lock(f"{PREFIX}lock:{key}", timeout=self.lock_ttl, sleep=0.05, thread_local=False)
        lock.acquire(blocking=True)

        def renew() -> bool:
            try:
                lock.reacquire()
                return True
            except Exception:  # noqa: BLE001 - lost (expired) or Redis away: the holder still finishes
                log.warning("result cache: lock %s could not be renewed", key, exc_info=True)
                return False

        try:
            with repeating(self.lock_ttl / 3, renew, name=f"lock-{key[:24]}"):
                yield
        finally:
            with contextlib.suppress(Exception):  # expired meanwhile: nothing to release
                lock.release()


class RedisKV:
    """The part of diskcache's ``Cache`` API the upload job table uses, on Redis (pickled values).

    ``transact()`` serializes read-modify-write sequences of every host with one short Redis lock.
    """

    def __init__(self, url: str, prefix: str) -> None:
        self.redis = redis_client(url)
        self.prefix = prefix

    @staticmethod
    def _ex(expire: float | None) -> int | None:
        return None if expire is None else max(1, int(expire))

    def get(self, key: str, default=None):
        raw = self.redis.get(self.prefix + key)
        return default if raw is None else pickle.loads(raw)

    def set(self, key: str, value, expire: float | None = None) -> bool:
        self.redis.set(self.prefix + key, pickle.dumps(value), ex=self._ex(expire))
        return True

    def add(self, key: str, value, expire: float | None = None) -> bool:
        return bool(self.redis.set(self.prefix + key, pickle.dumps(value), ex=self._ex(expire), nx=True))

    def touch(self, key: str, expire: float | None = None) -> bool:
        if expire is None:
            return bool(self.redis.persist(self.prefix + key))
        return bool(self.redis.expire(self.prefix + key, self._ex(expire)))

    def delete(self, key: str) -> bool:
        return bool(self.redis.delete(self.prefix + key))

    @contextlib.contextmanager
    def transact(self):
        with self.redis.lock(self.prefix + "transact", timeout=10, sleep=0.01, thread_local=False):
            yield
