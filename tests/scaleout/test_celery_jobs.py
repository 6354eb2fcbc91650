"""TrafficCeleryManager against a real Redis and Celery app (no worker): one task per request, attach and
detach counts, lost jobs. The end-to-end behaviour with workers is in test_cluster.py."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from dashapp.runtime.job_errors import LOST_MESSAGE

# Celery's Redis result backend still calls redis-py's deprecated setex.
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated setex:DeprecationWarning")


@pytest.fixture
def manager(redis_server):
    from dashapp.runtime.celery_app import make_celery
    from dashapp.runtime.celery_jobs import TrafficCeleryManager

    m = TrafficCeleryManager(make_celery(redis_server.url), redis_server.url)
    m.redis.flushdb()
    return m


@pytest.fixture
def job_fn(manager):
    def callback(set_progress, value):
        return value

    return manager.make_job_fn(callback, True, key=f"test-{uuid.uuid4().hex[:8]}")


def test_simultaneous_identical_requests_start_one_task_and_count_their_users(manager, job_fn):
    key = "k" * 64
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def request():
        barrier.wait()
        ids.append(manager.call_job_fn(key, job_fn, [1], {}))

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(set(ids)) == 1
    task = ids[0]
    assert manager.redis.llen("traffic") == 1  # one message on the queue
    assert manager._task(task)["users"] == "8"
    assert manager.state(task) == "queued"
    assert manager.job_running(task)
    for _ in range(7):  # seven users cancel: the job stays for the eighth
        manager.terminate_job(task)
    assert manager.state(task) == "queued"
    manager.terminate_job(task)
    assert manager.state(task) == "cancelled"
    assert not manager.job_running(task)
    assert manager.call_job_fn(key, job_fn, [1], {}) != task  # the next request starts a new task


def test_a_lost_job_reports_the_failure_and_the_next_request_starts_again(manager, job_fn):
    key = "l" * 64
    task = manager.call_job_fn(key, job_fn, [1], {})
    manager.redis.hset(manager._task_key(task), "started", 1)  # started, and its heartbeat never came
    assert manager.state(task) == "lost"
    assert not manager.job_running(task)
    out = manager.get_result(key, task)
    assert out == {"background_callback_error": {"msg": LOST_MESSAGE, "tb": ""}}
    again = manager.call_job_fn(key, job_fn, [1], {})
    assert again != task
    assert manager.state(again) == "queued"


def test_results_and_progress_stay_readable_for_every_poller(manager, job_fn):
    key = "r" * 64
    task = manager.call_job_fn(key, job_fn, [1], {})
    manager.handle.backend.set(manager._make_progress_key(key), json.dumps([50, "50%"]))
    assert manager.get_progress(key) == [50, "50%"]
    assert manager.get_progress(key) == [50, "50%"]  # not consumed by the first reader
    manager.handle.backend.set(key, json.dumps(["result"]))
    assert manager.state(task) == "done"
    assert manager.get_result(key, task) == ["result"]
    assert manager.get_result(key, task) == ["result"]
    assert 0 < manager.redis.ttl(key) <= 600
    assert manager.call_job_fn(key, job_fn, [1], {}) == task  # a finished result is shared too
    manager.handle.backend.set(key, json.dumps({"background_callback_error": {"msg": "boom", "tb": ""}}))
    assert manager.call_job_fn(key, job_fn, [1], {}) != task  # but a failed one runs again
    assert manager.redis.get(key) is None  # and the old error no longer answers
