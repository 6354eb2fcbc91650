"""Production server settings: ``gunicorn -c gunicorn.conf.py``.

Workers and threads come from the environment; every worker shares the data
and cache folders (see dashapp/runtime/settings.py), so any worker can answer any
request and background jobs survive a worker's death.
"""

import os

wsgi_app = "dashapp.wsgi:server"
bind = os.environ.get("TRAFFIC_BIND", "127.0.0.1:8050")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("TRAFFIC_THREADS", "4"))
# Uploads of hundreds of MB and long page builds need more than the default 30 s.
timeout = int(os.environ.get("TRAFFIC_TIMEOUT", "300"))
graceful_timeout = 30
keepalive = 5
# Scenario URLs carry every parameter in the query string; 0 = gunicorn's own 1 MB cap instead of 4094
# bytes, so an over-long value reaches the app (which warns and falls back) instead of a bare 414.
limit_request_line = 0
# gunicorn 27 opens a control socket in ~/.gunicorn by default; several instances (tests) would clash.
control_socket_disable = True
accesslog = os.environ.get("TRAFFIC_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"


def on_starting(server):
    """Build the default dataset once, in the master, before the workers fork."""
    from core.store import DatasetStore
    from dashapp.runtime.settings import Settings

    DatasetStore(Settings.from_env().data_dir).default_id()


def post_worker_init(worker):
    """Run Dash's one-time setup before the worker serves anyone.

    Dash sets it up on a worker's first request and marks it done before it has finished, so the other
    threads' first requests (a browser fetches a dozen bundles at once) found no registered bundles
    (500, a blank page) or callbacks. One request through the app here does the setup on one thread.
    """
    try:
        worker.wsgi.test_client().get("/health")
    except Exception:  # noqa: BLE001 - the worker still serves; Dash then sets up on its first request
        worker.log.exception("warming up the app failed")
    try:
        from dashapp.runtime.settings import Settings

        if Settings.from_env().backend == "disk":
            # Uploads are ingested on a thread of this worker, and every background job (forecast, scenarios,
            # what-if) runs in a process forked from it: load the compiled kernels (log parsers, simulator)
            # and import the default forecasters' libraries now, once, so that no job pays for them again
            # (~0.3 s of kernels and ~0.7 s of statsmodels + LightGBM per job otherwise). With Redis, Celery
            # workers run the jobs and do the same before their pool forks (dashapp/worker.py).
            from core.warmup import warm_up

            warm_up(build=False, libraries=True)
    except Exception:  # noqa: BLE001 - the first upload or job then loads them
        worker.log.exception("warming up the kernels and forecasters failed")
