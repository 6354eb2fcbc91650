"""Small helpers shared by the reliability tests: generated inputs, uploads, Dash page renders."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import requests

TIMEOUT = 60


def traffic_csv(days: int = 14, seed: int = 0, minutes: int = 5, offset: str = "-04:00") -> bytes:
    """A CSV of ``days`` of per-``minutes`` requests with a daily cycle (timestamps with a UTC offset)."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-03-04", periods=days * 1440 // minutes, freq=f"{minutes}min")
    hours = (idx.hour + idx.minute / 60).to_numpy()
    load = rng.poisson(200 + 150 * np.clip(np.sin((hours - 6) / 24 * 2 * np.pi), -0.8, 1))
    stamps = idx.strftime("%Y-%m-%dT%H:%M:%S") + offset
    return ("timestamp,requests\n" + "\n".join(f"{t},{v}" for t, v in zip(stamps, load, strict=True)) + "\n").encode()


def upload(url: str, data, name: str = "upload.csv", wait: bool = True, **headers) -> tuple[requests.Response, dict]:
    """POST ``data`` to /upload; with ``wait``, poll the job until it is done or failed. Returns (response, job)."""
    r = requests.post(f"{url}/upload", params={"name": name}, data=data, headers=headers, timeout=TIMEOUT)
    if r.status_code != 202 or not wait:
        return r, r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    job = r.json()
    deadline = time.monotonic() + 120
    while job["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        job = requests.get(url + job["status_url"], timeout=TIMEOUT).json()
    return r, job


def datasets(url: str) -> dict[str, dict]:
    return {d["id"]: d for d in requests.get(f"{url}/api/datasets", timeout=TIMEOUT).json()["datasets"]}


def render_page(url: str, path: str, search: str = "", session: requests.Session | None = None) -> requests.Response:
    """What the browser does when it opens ``path?search``: Dash's page-routing callback renders the layout."""
    body = {"output": ".._pages_content.children..._pages_store.data..",
            "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
            "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                       {"id": "_pages_location", "property": "search", "value": search}],
            "changedPropIds": ["_pages_location.pathname"], "state": []}
    return (session or requests).post(f"{url}/_dash-update-component", json=body, timeout=300)


#: What a page shows while its result is being computed in the background (dashapp/components/job.py).
JOB_PENDING = "appears here when the job is done"
