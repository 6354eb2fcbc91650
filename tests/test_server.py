"""The app under a real gunicorn: it starts, serves the health route and the first page."""

from __future__ import annotations

import json
import urllib.request


def test_gunicorn_serves_health_and_the_data_page(live_server):
    with urllib.request.urlopen(live_server.url + "/health", timeout=10) as r:
        assert r.status == 200
        assert json.loads(r.read())["status"] == "ok"
    with urllib.request.urlopen(live_server.url + "/", timeout=30) as r:
        assert r.status == 200
        assert b"<div id=\"react-entry-point\">" in r.read()
