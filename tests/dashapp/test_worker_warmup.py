"""A fresh gunicorn serves a browser's burst of parallel bundle requests (Dash's per-worker setup ran first)."""

from __future__ import annotations

import re
import threading
import urllib.request


def _bundle_urls(dash_app) -> list[str]:
    html = dash_app.server.test_client().get("/").get_data(as_text=True)
    return re.findall(r'<script src="(/_dash-component-suites/[^"]+)"', html)


def test_a_fresh_server_answers_parallel_first_requests(server_factory, dash_app):
    urls = _bundle_urls(dash_app)  # same packages, same fingerprints as the server's
    assert len(urls) >= 5
    server = server_factory()
    statuses: list = []
    barrier = threading.Barrier(8 * len(urls))

    def get(url):
        barrier.wait()
        try:
            with urllib.request.urlopen(server.url + url, timeout=60) as r:
                statuses.append(r.status)
        except urllib.error.HTTPError as exc:
            statuses.append(exc.code)

    threads = [threading.Thread(target=get, args=(u,)) for u in urls * 8]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert statuses == [200] * len(threads), sorted(set(statuses))
    assert "Exception on" not in server.log.read_text()
