"""Where background jobs run and where results are shared: one host (default) or several (Redis).

``TRAFFIC_BACKEND`` (see ``Settings``) picks one of two wirings; no code
changes between them:

- ``disk`` (default, nothing to install): Dash's ``DiskcacheManager`` runs
  background callbacks in subprocesses of the gunicorn workers, and results
  are cached in a diskcache folder under ``TRAFFIC_CACHE_DIR`` with an
  ``flock`` per key (``dashapp.jobs.ResultCache``). One host.
- ``redis`` (``REDIS_URL``): background callbacks are Celery tasks run by
  ``celery -A dashapp.worker worker`` on any number of hosts
  (``dashapp.celery_jobs``), and results are cached in Redis with a Redis
  lock per key (``RedisResultCache``), so every app host and worker shares
  them and identical requests compute once across hosts.

Datasets (``TRAFFIC_DATA_DIR``) and fitted models (``TRAFFIC_MODELS_DIR``)
stay on files in both modes; with several hosts they must be one shared
folder (a network mount): see docs/scale-out.md.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import pickle
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from dashapp.jobs import ResultCache
from dashapp.periodic import repeating
from dashapp.settings import Settings

__all__ = [
    "LOST_MESSAGE",
    "RedisResultCache",
    "job_error_message",
    "RedisKV",
    "make_background_manager",
    "make_result_store",
    "make_upload_table",
    "redacted",
    "redis_client",
    "redis_secret",
    "start_ingest",
]

log = logging.getLogger(__name__)

#: Every key this app writes in Redis starts with this (the Celery broker and results use their own keys).
PREFIX = "traffic:"
RESULT_TTL_S = 7 * 86400
LOCK_TTL_S = 15.0
#: How long an upload may wait in the Celery queue before its job reads as failed.
QUEUE_GRACE_S = 3600.0
#: What a user sees when the process running their job was lost (a Celery worker, or a job subprocess).
LOST_MESSAGE = ("the process running this job stopped before it finished (killed, out of memory, or its "
                "worker restarted); nothing was saved. Press Run to start it again.")


def job_error_message(err: Exception) -> str:
    """What to tell a user about a failed background job (never a traceback: that goes to the log)."""
    if LOST_MESSAGE in str(err):
        return LOST_MESSAGE
    log.error("background job failed: %s", err)
    return "the job failed with an internal error (the server log has details). Press Run to try again."


def make_background_manager(settings: Settings):
    """The Dash background-callback manager of ``settings.backend``."""
    if settings.backend == "redis":
        from dashapp.celery_jobs import TrafficCeleryManager, make_celery

        return TrafficCeleryManager(make_celery(settings.redis_url), settings.redis_url)
    import diskcache

    # One diskcache folder for every gunicorn worker: a per-worker temp dir would lose job results.
    return _disk_manager_class()(diskcache.Cache(str(settings.cache_dir / "jobs")))


@functools.cache
def _disk_manager_class():
    from dash import DiskcacheManager

    class TrafficDiskcacheManager(DiskcacheManager):
        """Dash's ``DiskcacheManager``, reporting a job process that died without a result as failed.

        Dash's manager shows a job subprocess killed by the OOM killer or a signal as "no output": the
        progress bar goes and nothing says why. A poll that finds no result and the process gone (and
        not cancelled by the user) gets ``LOST_MESSAGE`` as the job's error instead.
        """

        def terminate_job(self, job):
            if job is not None:
                self.handle.set(f"cancelled:{job}", 1, expire=3600)
            return super().terminate_job(job)

        def get_result(self, key, job):
            result = super().get_result(key, job)
            if (result is self.UNDEFINED and job is not None and not self.job_running(job)
                    and self.handle.get(f"cancelled:{job}") is None and self.handle.get(key) is None):
                return {"background_callback_error": {"msg": LOST_MESSAGE, "tb": ""}}
            return result

    return TrafficDiskcacheManager


def make_result_store(settings: Settings) -> ResultCache:
    """A handle on the shared result cache of ``settings.backend`` (same interface in both modes)."""
    if settings.backend == "redis":
        return RedisResultCache(settings.redis_url)
    return ResultCache(settings.cache_dir)


def make_upload_table(settings: Settings):
    """The upload job table (``dashapp.upload.JobTable``): diskcache under ``cache_dir``, or Redis.

    With several app hosts an upload is ingested by the host that received it, and its status must be
    readable from every host (the browser's polls may reach any of them).
    """
    from dashapp.upload import JobTable

    if settings.backend != "redis":
        return JobTable(settings.cache_dir / "uploads")

    class RedisJobTable(JobTable):
        def __init__(self, url: str) -> None:  # the table's methods only use ``self.cache``
            self.cache = RedisKV(url, f"{PREFIX}upload:")

    return RedisJobTable(settings.redis_url)


def start_ingest(settings: Settings, upload_id: str, name: str, digest: str, limit: int) -> None:
    """Ingest a received upload in the background: a thread of this process, or a Celery worker (Redis).

    The upload is already in ``<data_dir>/.uploads/<upload_id>.part`` and its job in the upload table.
    A worker finds the file under its own ``data_dir`` (the shared folder) and takes over the job's
    heartbeat; while the job waits in the queue, its record stays "alive" for ``QUEUE_GRACE_S``.
    """
    from dashapp import upload

    if settings.backend == "redis":
        from dashapp.celery_jobs import INGEST_TASK, make_celery

        upload.jobs_table(settings).update(upload_id, pid=None, heartbeat=time.time() + QUEUE_GRACE_S)
        make_celery(settings.redis_url).send_task(INGEST_TASK, args=(upload_id, name, digest, limit),
                                                  ignore_result=True)
        return
    part = Path(settings.data_dir) / ".uploads" / f"{upload_id}.part"
    threading.Thread(target=upload._ingest_job, args=(settings, upload_id, part, name, digest, limit),
                     name=f"ingest-{upload_id}", daemon=True).start()


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
