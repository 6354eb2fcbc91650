"""Where background jobs run and where results are shared: one host (default) or several (Redis).

``TRAFFIC_BACKEND`` (see ``Settings``) picks one of two wirings; no code
changes between them:

- ``disk`` (default, nothing to install): Dash's ``DiskcacheManager`` runs
  background callbacks in subprocesses of the gunicorn workers, and results
  are cached in a diskcache folder under ``TRAFFIC_CACHE_DIR`` with an
  ``flock`` per key (``dashapp.runtime.result_cache.ResultCache``). One host.
- ``redis`` (``REDIS_URL``): background callbacks are Celery tasks run by
  ``celery -A dashapp.worker worker`` on any number of hosts
  (``dashapp.runtime.celery_jobs``), and results are cached in Redis with a Redis
  lock per key (``RedisResultCache``), so every app host and worker shares
  them and identical requests compute once across hosts.

Datasets (``TRAFFIC_DATA_DIR``) and fitted models (``TRAFFIC_MODELS_DIR``)
stay on files in both modes; with several hosts they must be one shared
folder (a network mount): see docs/scale-out.md.
"""

from __future__ import annotations

import functools
import threading
import time
from pathlib import Path

from dashapp.runtime import ingest_jobs
from dashapp.runtime.job_errors import LOST_MESSAGE
from dashapp.runtime.redis_kv import RedisResultCache
from dashapp.runtime.result_cache import ResultCache
from dashapp.runtime.settings import Settings, current_settings

__all__ = ["make_background_manager", "make_result_store", "results", "start_ingest"]

#: How long an upload may wait in the Celery queue before its job reads as failed.
QUEUE_GRACE_S = 3600.0


def make_background_manager(settings: Settings):
    """The Dash background-callback manager of ``settings.backend``."""
    if settings.backend == "redis":
        from dashapp.runtime.celery_app import make_celery
        from dashapp.runtime.celery_jobs import TrafficCeleryManager

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



def results(settings: Settings | None = None) -> ResultCache:
    """A handle on the shared result cache of ``settings`` (default: the running app's)."""
    settings = settings or current_settings()
    return make_result_store(settings)  # files under cache_dir, or Redis (TRAFFIC_BACKEND=redis)


def start_ingest(settings: Settings, upload_id: str, name: str, digest: str, limit: int) -> None:
    """Ingest a received upload in the background: a thread of this process, or a Celery worker (Redis).

    The upload is already in ``<data_dir>/.uploads/<upload_id>.part`` and its job in the upload table.
    A worker finds the file under its own ``data_dir`` (the shared folder) and takes over the job's
    heartbeat; while the job waits in the queue, its record stays "alive" for ``QUEUE_GRACE_S``.
    """
    if settings.backend == "redis":
        from dashapp.runtime.celery_app import INGEST_TASK, make_celery

        ingest_jobs.jobs_table(settings).update(upload_id, pid=None, heartbeat=time.time() + QUEUE_GRACE_S)
        make_celery(settings.redis_url).send_task(INGEST_TASK, args=(upload_id, name, digest, limit),
                                                  ignore_result=True)
        return
    part = Path(settings.data_dir) / ".uploads" / f"{upload_id}.part"
    threading.Thread(target=ingest_jobs.ingest_job, args=(settings, upload_id, part, name, digest, limit),
                     name=f"ingest-{upload_id}", daemon=True).start()


