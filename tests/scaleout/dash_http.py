"""Drive a Dash app over HTTP the way its renderer does (Dash 4): page load, callbacks, background polls.

- ``GET <page>``: the HTML's ``_dash-config`` holds the page load's signed ``end_id``.
- ``POST /_dash-update-component?endId=...`` with ``output``, ``outputs``,
  ``inputs``, ``state``, ``changedPropIds``. For a background callback the
  first answer is ``{"cacheKey", "job", ...}``; the renderer then re-posts
  every ``interval`` ms with ``&cacheKey=...&job=...`` (inputs and state
  nulled) and gets ``{"progress": ...}`` until an answer has ``response``
  (200), or a 204 (no update).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

import requests

_CONFIG = re.compile(r'<script id="_dash-config" type="application/json">(.*?)</script>', re.S)


def split_outputs(output: str) -> list[dict] | dict:
    """``..a.children...b.style@hash..`` -> ``[{"id": "a", "property": "children"}, ...]``; one output -> a dict."""
    if not output.startswith(".."):
        cid, prop = output.rsplit(".", 1)
        return {"id": cid, "property": prop}
    out = []
    for p in output[2:-2].split("..."):
        cid, prop = p.rsplit(".", 1)
        out.append({"id": cid, "property": prop})
    return out


def walk(node):
    """Every component (dict with ``props``) in a JSON layout."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, list):
            stack.extend(n)
        elif isinstance(n, dict):
            if "props" in n:
                yield n
                stack.append(n["props"].get("children"))
            else:
                stack.extend(n.values())


def find(node, id_):
    return next((c for c in walk(node) if c["props"].get("id") == id_), None)


@dataclass
class Job:
    """A background callback started through one page load; polled through any app host."""

    spec: dict
    payload: dict
    end_id: str
    cache_key: str
    job: str
    progress: list = field(default_factory=list)

    @property
    def task_id(self) -> str:
        """The handle's value (the Celery task id); the signature follows the last ``~``."""
        return self.job.rpartition("~")[0]


class DashHTTP:
    """One app host, seen by a renderer-like client."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self._deps = None

    def page_load(self, path: str) -> str:
        """GET a page; returns the page load's signed ``end_id``."""
        r = self.http.get(self.url + path, timeout=30)
        r.raise_for_status()
        return json.loads(_CONFIG.search(r.text).group(1))["end_id"]

    def spec(self, output_contains: str) -> dict:
        return next(c for c in self._deps_list()
                    if output_contains in c["output"] and not c.get("clientside_function"))

    def post(self, spec: dict, values: list, state: list, changed: list[str], params: dict) -> requests.Response:
        body = {
            "output": spec["output"], "outputs": split_outputs(spec["output"]),
            "inputs": [dict(i, value=v) for i, v in zip(spec["inputs"], values, strict=True)],
            "state": [dict(s, value=v) for s, v in zip(spec["state"], state, strict=True)],
            "changedPropIds": changed,
        }
        return self.http.post(self.url + "/_dash-update-component", params=params, json=body, timeout=60)

    def render(self, end_id: str, pathname: str, search: str) -> dict:
        """The page layout as the pages router callback returns it."""
        spec = self.spec("_pages_content.children")
        r = self.post(spec, [pathname, search], [], ["_pages_location.pathname"], {"endId": end_id})
        r.raise_for_status()
        return r.json()["response"]["_pages_content"]["children"]

    def start_job(self, end_id: str, prefix: str, request: dict, *, run_clicks: int | None = None) -> Job:
        """Start ``prefix``'s job panel callback (as the trigger store or the Run button does)."""
        spec = self.spec(f"{prefix}-job-result.children")
        changed = [f"{prefix}-job-run.n_clicks"] if run_clicks else [f"{prefix}-job-trigger.data"]
        values, state = [request, run_clicks], [request]
        r = self.post(spec, values, state, changed, {"endId": end_id})
        r.raise_for_status()
        data = r.json()
        assert "cacheKey" in data, data
        assert "job" in data, data
        return Job(spec, {"values": values, "state": state, "changed": changed}, end_id, data["cacheKey"], data["job"])

    def cancel(self, job: Job, prefix: str) -> int:
        """Press the panel's Cancel as the renderer does: Dash's cancel callback with ``cancelJob``."""
        spec = next(c for c in self._deps_list() if c["output"] == f"{prefix}-job-cancel.id")
        r = self.post(spec, [1], [], [f"{prefix}-job-cancel.n_clicks"], {"endId": job.end_id, "cancelJob": job.job})
        return r.status_code

    def _deps_list(self) -> list[dict]:
        if self._deps is None:
            self._deps = self.http.get(self.url + "/_dash-dependencies", timeout=30).json()
        return self._deps

    def poll(self, job: Job) -> tuple[int, dict | None]:
        """One poll: ``(status, json or None)``; progress answers are recorded on ``job``."""
        p = job.payload
        r = self.post(job.spec, [None] * len(p["values"]), [None] * len(p["state"]), p["changed"],
                      {"endId": job.end_id, "cacheKey": job.cache_key, "job": job.job})
        data = r.json() if r.status_code == 200 and r.content else None
        if data and "progress" in data:
            job.progress.append(data["progress"])
        return r.status_code, data

    def wait(self, job: Job, timeout: float = 120, interval: float = 0.4) -> tuple[int, dict | None]:
        """Poll until the job answers (``response``), a 204, or an error status."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, data = self.poll(job)
            if status != 200 or (data and "response" in data):
                return status, data
            time.sleep(interval)
        raise TimeoutError(f"job {job.task_id} did not finish in {timeout}s")
