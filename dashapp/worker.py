"""Celery worker entry point for the Redis backend (see docs/scale-out.md)::

    TRAFFIC_BACKEND=redis REDIS_URL=redis://redis-host:6379/0 \\
    TRAFFIC_DATA_DIR=/mnt/traffic/data TRAFFIC_MODELS_DIR=/mnt/traffic/models \\
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \\
    celery -A dashapp.worker worker --concurrency 2 --loglevel INFO

It builds the same Dash app as the web hosts, so every page's background
callback (forecasts, scenario matrices and the optimizer, what-if runs) is
registered as a Celery task under the same name, and runs the same ``core``
code with the same progress reporting and the same result cache.
"""

from __future__ import annotations

import os
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one thread per job: worker processes are the parallelism

from core.store import DatasetStore  # noqa: E402
from core.warmup import warm_up  # noqa: E402
from dashapp.app import create_app  # noqa: E402
from dashapp.runtime.celery_app import make_celery  # noqa: E402
from dashapp.runtime.settings import Settings  # noqa: E402

__all__ = ["celery", "dash_app"]

settings = Settings.from_env()
if settings.backend != "redis":
    raise SystemExit("the Celery worker needs TRAFFIC_BACKEND=redis and REDIS_URL (see docs/scale-out.md)")
DatasetStore(settings.data_dir).default_id()  # as gunicorn does: the built-in dataset exists before any job
dash_app = create_app(settings)


def _warm_up() -> None:
    """Load numba, every compiled kernel (log parsers, simulator) and the default forecasters' libraries in the
    parent, before the pool forks: the job processes inherit them instead of paying for them in their first
    upload, simulation or forecast. A failure only costs that time.
    """
    try:
        done = warm_up(build=False, libraries=True)
    except Exception as exc:  # noqa: BLE001 - the jobs then load the kernels themselves
        sys.stderr.write(f"warm-up failed ({type(exc).__name__}: {exc}); the first jobs load the kernels\n")
        return
    spent = ", ".join(f"{k} {v:.1f} s" for k, v in done.seconds.items())
    sys.stderr.write(f"warm-up: compiled kernels loaded before the job processes fork ({spent})\n")

_warm_up()
#: What ``celery -A dashapp.worker`` finds: the Celery app the pages' callbacks were registered on.
celery = make_celery(settings.redis_url)
