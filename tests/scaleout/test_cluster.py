"""Two gunicorn app hosts and a Celery worker on one Redis, driven over HTTP as the browser drives Dash.

Each test uses its own forecast origin, so its requests are new to the
shared caches whatever ran before.
"""

from __future__ import annotations

import json
import re
import time

from tests.scaleout.dash_http import DashHTTP, find, walk

FAILED = "Failed: the process running this job stopped"


def _open_forecast(host: DashHTTP, query: str) -> tuple[str, dict, dict | None]:
    """A page load of the forecast page: ``(end_id, layout, job request or None when cached)``."""
    end_id = host.page_load(f"/forecast?{query}")
    layout = host.render(end_id, "/forecast", f"?{query}")
    params = find(layout, "forecast-job-params")
    return end_id, layout, params["props"].get("data") if params else None


def _texts(node) -> str:
    out = []
    for c in walk(node):
        ch = c["props"].get("children")
        out += [ch] if isinstance(ch, str) else [x for x in (ch or []) if isinstance(x, str)]
    return " ".join(out)


def _received(worker_log: str) -> list[str]:
    return re.findall(r"Task background_callback_\w+\[([0-9a-f-]+)\] received", worker_log)


def test_a_forecast_started_on_host_a_is_one_job_seen_with_progress_and_result_on_host_b(cluster):
    a, b = (DashHTTP(h.url) for h in cluster.hosts)
    query = "model=sarima&granularity=15&horizon=12h&origin=1995-08-21T00:00"
    before = len(_received(cluster.worker.log_text()))

    end_a, _, request = _open_forecast(a, query)
    assert request, "a new forecast must start a background job"
    job_a = a.start_job(end_a, "forecast", request)
    # A second user opens the same forecast on host B while it runs: attached, not started again.
    end_b, _, request_b = _open_forecast(b, query)
    assert request_b == request
    job_b = b.start_job(end_b, "forecast", request_b)
    assert job_b.task_id == job_a.task_id

    # Host B answers the polls of the job started through host A: progress, then the result.
    status, data = b.wait(job_a, timeout=90)
    assert status == 200, status
    values = [p["forecast-job-progress.value"] for p in job_a.progress]
    assert any(0 < v < 100 for v in values), values  # progress seen while it ran, through the other host
    assert values == sorted(values)
    result = data["response"]["forecast-job-result"]["children"]
    assert find(result, "forecast-backtest") is not None
    summary = find(result, "forecast-summary")["props"]["children"]
    assert "15-minute periods" in summary
    assert "48 steps" in summary

    # The second user's handles (issued by B) are answered by A with the same result.
    status, data_b = a.wait(job_b, timeout=30)
    assert status == 200
    assert json.dumps(data_b["response"]["forecast-job-result"]) == json.dumps(data["response"]["forecast-job-result"])

    # One Celery task ran for the two requests.
    received = _received(cluster.worker.log_text())
    assert len(received) - before == 1, received[before:]
    assert received[-1] == job_a.task_id

    # A third visit, on host B: rendered from the Redis result cache at once, no job.
    _, layout, request_c = _open_forecast(b, query)
    assert request_c is None
    assert find(layout, "forecast-summary")["props"]["children"] == summary
    for host in cluster.hosts:  # results went to Redis, not to the hosts' cache folders
        assert not (host.cache_dir / "results").exists()


def test_a_worker_killed_mid_job_fails_it_visibly_and_a_rerun_completes_after_restart(cluster):
    a, b = (DashHTTP(h.url) for h in cluster.hosts)
    query = "model=lightgbm&granularity=15&horizon=12h&origin=1995-08-22T00:00"
    end_a, _, request = _open_forecast(a, query)
    job = a.start_job(end_a, "forecast", request)

    deadline = time.monotonic() + 60
    while not (job.progress and job.progress[-1]["forecast-job-progress.value"] >= 5):  # fitting
        assert time.monotonic() < deadline, "the job never reported progress"
        status, data = b.poll(job)
        assert status == 200, status
        assert "response" not in data, data
        time.sleep(0.3)
    cluster.worker.kill()  # SIGKILL, worker and pool at once

    t0 = time.monotonic()
    status, data = b.wait(job, timeout=40)
    assert status == 200, status
    lost_after = time.monotonic() - t0
    out = data["response"]
    assert FAILED in _texts(out["forecast-job-note"]["children"])
    assert out["forecast-job-run"]["style"] == {"display": "inline-block"}  # the Run button is offered
    # Nothing half-done is shown, and the result area no longer says the result will appear.
    assert out["forecast-job-result"]["children"] is None
    assert lost_after < 20, lost_after  # heartbeat stale after 10 s

    # Nothing was stored: the page still has no result to show and offers a job again.
    end_b, _, again = _open_forecast(b, query)
    assert again == request

    # The user presses Run (the worker is still down: the job waits in the queue).
    rerun = a.start_job(end_a, "forecast", request, run_clicks=1)
    assert rerun.task_id != job.task_id
    # Another identical request does not attach to the lost job either.
    fresh = b.start_job(end_b, "forecast", again)
    assert fresh.task_id != job.task_id
    status, data = a.poll(rerun)
    assert status == 200
    assert "response" not in data

    cluster.worker.start()
    status, data = b.wait(rerun, timeout=120)
    assert status == 200, status
    result = data["response"]["forecast-job-result"]["children"]
    assert "LightGBM" in find(result, "forecast-summary")["props"]["children"]
    assert data["response"]["forecast-job-note"]["children"] is None
    status, data = a.wait(fresh, timeout=60)
    assert status == 200
    assert find(data["response"]["forecast-job-result"]["children"], "forecast-backtest")


def test_an_upload_received_by_host_a_is_ingested_by_the_worker_and_followed_through_host_b(cluster):
    import requests

    a, b = cluster.hosts
    rows = "\n".join(f"2024-03-0{1 + i // 288}T{(i % 288) // 12:02d}:{5 * (i % 12):02d}:00Z,{100 + i % 37}"
                     for i in range(288 * 4))
    r = requests.post(a.url + "/upload", data=f"timestamp,requests\n{rows}\n".encode(),
                      params={"name": "four days.csv"}, headers={"Content-Type": "application/octet-stream"},
                      timeout=60)
    assert r.status_code == 202, r.text
    upload_id = r.json()["upload_id"]
    deadline = time.monotonic() + 60
    while True:  # the status polls go to the other host
        job = requests.get(f"{b.url}/upload/{upload_id}", timeout=10).json()
        if job["state"] in ("done", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["state"] == "done", job
    assert job["report"]["periods"] == 288 * 4
    listed = requests.get(b.url + "/api/datasets", timeout=10).json()["datasets"]
    assert job["dataset_id"] in [d["id"] for d in listed]  # stored on the shared folder
    # Ingested by the Celery worker, not by the app host that received the bytes.
    assert re.search(r"Task traffic.ingest_upload\[[0-9a-f-]+\] succeeded", cluster.worker.log_text())
    assert not list((cluster.data_dir / ".uploads").glob("*.part"))


def test_cancel_detaches_a_user_and_stops_the_job_only_when_nobody_else_follows_it(cluster):
    a, b = (DashHTTP(h.url) for h in cluster.hosts)
    query = "model=lightgbm&granularity=15&horizon=12h&origin=1995-08-23T00:00"
    end_a, _, request = _open_forecast(a, query)
    job_a = a.start_job(end_a, "forecast", request)
    end_b, _, _ = _open_forecast(b, query)
    job_b = b.start_job(end_b, "forecast", request)
    assert job_b.task_id == job_a.task_id
    assert a.cancel(job_a, "forecast") in (200, 204)  # user A leaves; user B still waits for the job
    status, data = b.wait(job_b, timeout=120)
    assert status == 200
    assert find(data["response"]["forecast-job-result"]["children"], "forecast-summary")

    query = "model=lightgbm&granularity=15&horizon=12h&origin=1995-08-24T00:00"
    end_a, _, request = _open_forecast(a, query)
    job = a.start_job(end_a, "forecast", request)
    deadline = time.monotonic() + 60
    while not job.progress:  # running
        assert time.monotonic() < deadline
        a.poll(job)
        time.sleep(0.2)
    assert a.cancel(job, "forecast") in (200, 204)  # the only user: the task is revoked and stopped
    deadline = time.monotonic() + 30
    while f"Terminating {job.task_id}" not in cluster.worker.log_text():
        assert time.monotonic() < deadline, cluster.worker.log_text()[-2000:]
        time.sleep(0.2)
    # The same request later starts a new job: the cancelled one is not reused.
    end_b, _, again = _open_forecast(b, query)
    assert again == request
    fresh = b.start_job(end_b, "forecast", again)
    assert fresh.task_id != job.task_id
    assert b.cancel(fresh, "forecast") in (200, 204)


def test_the_json_api_shares_its_results_between_hosts(cluster):
    import requests

    a, b = cluster.hosts
    body = {"dataset_id": "default", "model": "seasonal_naive", "horizon": "6h", "level": [80]}
    first = requests.post(a.url + "/api/forecast", json=body, timeout=120)
    assert first.status_code == 200, first.text
    second = requests.post(b.url + "/api/forecast", json=body, timeout=120)
    assert second.status_code == 200, second.text
    assert first.json()["cached"] is False
    assert second.json()["cached"] is True  # computed by host A, read by host B from Redis
    assert {k: v for k, v in second.json().items() if k != "cached"} == \
        {k: v for k, v in first.json().items() if k != "cached"}


def test_the_scenarios_job_runs_on_the_worker_too(cluster):
    a, b = (DashHTTP(h.url) for h in cluster.hosts)
    query = "granularity=15&start=1995-08-21T00:00&end=1995-08-24T00:00&budget=60"
    end_id = a.page_load(f"/scenarios?{query}")
    layout = a.render(end_id, "/scenarios", f"?{query}")
    request = find(layout, "scenarios-job-params")["props"]["data"]
    before = len(_received(cluster.worker.log_text()))
    job = a.start_job(end_id, "scenarios", request)
    status, data = b.wait(job, timeout=120)
    assert status == 200, status
    assert data["response"]["scenarios-job-result"]["children"]
    assert job.task_id in _received(cluster.worker.log_text())[before:]


def test_the_worker_loads_the_compiled_kernels_before_its_job_processes_fork(cluster):
    # Each job process inherits them; otherwise its first simulation or upload paid numba's start-up and the
    # kernels' load (measured 3-5 s in a fresh container). The warm-up runs at import, before "ready".
    log = cluster.worker.log_text()
    line = next((ln for ln in log.splitlines() if ln.startswith("warm-up: compiled kernels loaded")), None)
    assert line is not None, log[-2000:]
    assert "log parsers" in line
    assert "simulator" in line
    assert "ahead of time" not in line  # a server process loads what the build made; it builds nothing
    assert log.index(line) < log.index(" ready.")
