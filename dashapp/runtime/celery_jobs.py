"""Background callbacks as Celery tasks on Redis: one job per request across hosts, dead jobs reported.

Dash's ``CeleryManager`` runs each background callback as a Celery task and
keeps its progress and result in the Celery result backend. It assumes one
browser per job and a worker that never dies: it deletes a result once read,
starts a task for every request, and shows a job whose worker was killed as
running forever. ``TrafficCeleryManager`` keeps its protocol (any app host
answers any poll) and adds, with a few Redis keys under ``traffic:bg:``:

- **One job per request.** Dash's cache key hashes the callback and its
  arguments (the page's query string), so identical requests from any users
  on any hosts get the same key. The first starts a task and records it
  (``SET NX``); the others attach to it and poll the same progress and
  result, which stay readable for ``result_ttl`` seconds instead of being
  deleted by the first reader. A cancel detaches; the task is revoked only
  when no one else waits for it.
- **Dead jobs fail visibly.** A running task refreshes a heartbeat key every
  ``heartbeat_s`` seconds. A started task whose heartbeat expired
  (``stale_s``) without a result was lost with its worker (SIGKILL, OOM,
  host gone): polls then get a ``background_callback_error`` (the job
  panel's ``on_error`` shows it with a Run button) and the next request
  starts a new task. Tasks are acknowledged when they start (Celery's
  default), so a lost task is never replayed behind the user's back.
- **Nothing half-written.** A result (or an error) is written with one
  ``SET`` when the callback returns; a killed task writes nothing, and the
  result cache (``RedisResultCache``) stores only finished values.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
import uuid

from dash import CeleryManager
from dash.exceptions import PreventUpdate

from dashapp.runtime.celery_app import MAX_JOB_S
from dashapp.runtime.job_errors import LOST_MESSAGE
from dashapp.runtime.periodic import repeating
from dashapp.runtime.redis_kv import PREFIX, redis_client

__all__ = ["TrafficCeleryManager"]

log = logging.getLogger(__name__)

# Compare-and-set on the key naming a request's task: only the caller that saw the old value wins.
_CAS = """
local cur = redis.call('get', KEYS[1])
if (cur == false and ARGV[1] == '') or cur == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""
_DEL_IF = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class TrafficCeleryManager(CeleryManager):
    """Dash's ``CeleryManager`` with shared jobs per request and visible failures (see the module doc)."""

    def __init__(self, celery_app, redis_url: str, *, heartbeat_s: float = 2.0, stale_s: float = 10.0,
                 result_ttl: float = 600.0) -> None:
        # Set before super().__init__, which registers the pages' callbacks through make_job_fn.
        self.redis = redis_client(redis_url)
        self.heartbeat_s = heartbeat_s
        self.stale_s = stale_s
        self.result_ttl = int(result_ttl)
        self._cas = self.redis.register_script(_CAS)
        self._del_if = self.redis.register_script(_DEL_IF)
        super().__init__(celery_app)

    # -- keys ------------------------------------------------------------------------------------

    @staticmethod
    def _request_key(cache_key: str) -> str:
        return f"{PREFIX}bg:request:{cache_key}"

    @staticmethod
    def _task_key(task_id: str) -> str:
        return f"{PREFIX}bg:task:{task_id}"

    @staticmethod
    def _alive_key(task_id: str) -> str:
        return f"{PREFIX}bg:alive:{task_id}"

    def _task(self, task_id: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.redis.hgetall(self._task_key(task_id)).items()}

    def state(self, task_id: str) -> str:
        """``queued``, ``running``, ``done`` (result or error written), ``cancelled`` or ``lost``."""
        info = self._task(task_id)
        cache_key = info.get("cache_key")
        if cache_key and self.redis.exists(cache_key):  # Dash's result key (in the same Redis database)
            return "done"
        if info.get("cancelled"):
            return "cancelled"
        if info.get("started"):
            return "running" if self.redis.exists(self._alive_key(task_id)) else "lost"
        return "queued"

    # -- starting and attaching ------------------------------------------------------------------

    def call_job_fn(self, key, job_fn, args, context):
        rkey = self._request_key(key)
        for _ in range(5):
            current = self.redis.get(rkey)
            current = current.decode() if current else ""
            if current and self._attachable(current, key):
                self.redis.hincrby(self._task_key(current), "users", 1)
                log.info("background job %s: attached to the running task %s", key[:12], current)
                return current
            # The new task's record exists before the request points at it (an attacher counts itself in it),
            # and a previous run of this request (lost, cancelled, failed) no longer answers for it.
            task_id = str(uuid.uuid4())
            tkey = self._task_key(task_id)
            with self.redis.pipeline() as p:
                p.hset(tkey, mapping={"cache_key": key, "users": 1, "created": time.time()})
                p.expire(tkey, MAX_JOB_S).delete(key, self._make_progress_key(key)).execute()
            if self._cas(keys=[rkey], args=[current, task_id, MAX_JOB_S]):
                job_fn.apply_async(args=(key, self._make_progress_key(key), args, context), task_id=task_id)
                return task_id
            self.redis.delete(tkey)  # another request started it first: attach to theirs
        raise RuntimeError("could not start or join the background job (Redis contention); try again")

    def _attachable(self, task_id: str, cache_key: str) -> bool:
        state = self.state(task_id)
        if state in ("queued", "running"):
            return True
        if state == "done":  # a finished result is shared too, unless it is an error: that request runs again
            head = self.redis.getrange(cache_key, 0, 63)
            return bool(head) and b"background_callback_error" not in head
        return False

    # -- the task side ---------------------------------------------------------------------------

    def make_job_fn(self, fn, progress, key=None):
        manager = self

        @functools.wraps(fn)
        def tracked(*args, **kwargs):
            from celery import current_task

            task_id = current_task.request.id
            with manager._heartbeat(task_id):
                return fn(*args, **kwargs)

        return super().make_job_fn(tracked, progress, key)

    @contextlib.contextmanager
    def _heartbeat(self, task_id: str):
        tkey, akey = self._task_key(task_id), self._alive_key(task_id)
        if self.redis.hget(tkey, "cancelled"):
            raise PreventUpdate  # cancelled while queued: do not run
        if self.redis.hget(tkey, "started"):
            raise PreventUpdate  # delivered twice (a lost worker's message restored): its users saw it fail
        ttl = max(1, int(self.stale_s))
        with self.redis.pipeline() as p:  # started and alive together: never "started but lost" in between
            p.hset(tkey, "started", time.time()).set(akey, 1, ex=ttl).execute()

        def beat() -> None:
            try:
                self.redis.set(akey, 1, ex=ttl)
            except Exception:  # noqa: BLE001 - a missed beat is retried; stale_s allows several
                log.warning("background job %s: heartbeat failed", task_id, exc_info=True)

        try:
            with repeating(self.heartbeat_s, beat, name=f"beat-{task_id[:8]}"):
                yield
        finally:
            # Dash writes the result right after the callback returns: stay "alive" until then.
            self.redis.set(akey, 1, ex=max(ttl, 60))

    # -- polling ---------------------------------------------------------------------------------

    def job_running(self, job):
        return bool(job) and self.state(str(job)) in ("queued", "running")

    def get_progress(self, key):
        raw = self.handle.backend.get(self._make_progress_key(key))
        return json.loads(raw) if raw else None  # kept: every attached poller sees it

    def get_result(self, key, job):
        raw = self.handle.backend.get(key)
        if raw is None:
            if job and self.state(str(job)) == "lost":
                self._forget(key, str(job))
                return {"background_callback_error": {"msg": LOST_MESSAGE, "tb": ""}}
            return self.UNDEFINED
        # Kept for the other pollers of this request (not deleted on read as CeleryManager does).
        self.handle.backend.expire(key, self.result_ttl)
        return json.loads(raw)

    def get_updated_props(self, key):
        raw = self.handle.backend.get(self._make_set_props_key(key))
        return json.loads(raw) if raw else {}

    # -- cancelling ------------------------------------------------------------------------------

    def terminate_job(self, job):
        if not job:
            return
        task_id = str(job)
        tkey = self._task_key(task_id)
        if self.redis.hincrby(tkey, "users", -1) > 0:
            return  # someone else still waits for this job
        info = self._task(task_id)
        if info.get("cache_key") and self.redis.exists(info["cache_key"]):
            return  # finished: nothing to stop
        self.redis.hset(tkey, "cancelled", 1)
        if info.get("cache_key"):
            self._forget(info["cache_key"], task_id)
        super().terminate_job(task_id)

    def terminate_unhealthy_job(self, job):
        if job and self.state(str(job)) == "lost":
            info = self._task(str(job))
            if info.get("cache_key"):
                self._forget(info["cache_key"], str(job))
            return True
        return False

    def _forget(self, cache_key: str, task_id: str) -> None:
        """The request no longer maps to ``task_id`` (the next identical request starts a new task)."""
        self._del_if(keys=[self._request_key(cache_key)], args=[task_id])
