"""The Celery app of the scale-out mode (``TRAFFIC_BACKEND=redis``) and its one named task, ingesting an upload.

``celery`` is imported lazily: the default backend needs no Celery.
"""

from __future__ import annotations

import functools
import time

__all__ = ["INGEST_TASK", "MAX_JOB_S", "make_celery"]

MAX_JOB_S = 6 * 3600
#: The Celery task that ingests an upload (``dashapp.runtime.backends.start_ingest``).
INGEST_TASK = "traffic.ingest_upload"


@functools.cache
def make_celery(url: str):
    """The Celery app on ``url`` (broker and results); one per process so the worker and Dash share it."""
    from celery import Celery

    app = Celery("traffic", broker=url, backend=url)
    app.conf.update(
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_default_queue="traffic",
        # A worker takes a task only when one of its processes is free: queued jobs go to whichever worker
        # frees up first, and a killed worker loses only the jobs it was running (Redis broker only).
        worker_prefetch_multiplier=1,
        worker_disable_prefetch=True,
        task_acks_late=False,
        # Job state lives in Dash's result keys and ours (traffic:bg:*), not in Celery's task results; storing
        # those would also subscribe every app process to a pub/sub channel per task it started.
        task_ignore_result=True,
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": MAX_JOB_S},
        worker_hijack_root_logger=False,
    )
    app.task(name=INGEST_TASK, ignore_result=True)(_ingest_upload)
    return app


def _ingest_upload(upload_id: str, name: str, digest: str, limit: int) -> None:
    """On a worker: ingest an upload received by an app host (the same code as the single-host thread)."""
    import os
    import socket
    from pathlib import Path

    from dashapp.runtime import ingest_jobs
    from dashapp.runtime.settings import Settings

    settings = Settings.from_env()
    table = ingest_jobs.jobs_table(settings)
    job = table.get(upload_id)
    if job is None or job.get("state") != "queued":
        return  # reported failed while it waited, or delivered twice
    table.update(upload_id, pid=os.getpid(), host=socket.gethostname(), heartbeat=time.time())
    part = Path(settings.data_dir) / ".uploads" / f"{upload_id}.part"  # from this host's view of the shared folder
    ingest_jobs.ingest_job(settings, upload_id, part, name, digest, limit)


