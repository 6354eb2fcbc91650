"""gzip for the app's static files (Dash/Plotly bundles, ``assets/``, Swagger UI), compressed once per worker.

A new visitor downloads ~5 MB of JavaScript (plotly.js alone is ~4.6 MB); gzip
makes that ~1.5 MB. Dash's ``compress=True`` needs flask-compress, which is not
a dependency here and would also compress every callback answer on each
request (CPU on the hot path); these files never change while the server
runs, so each is compressed once per worker process and kept in memory
(a few MB in all). Callback answers are left as they are: on the loopback and
LAN links the app serves, compressing them would cost more than it saves.

Dash already serves its fingerprinted bundles with a one-year ``max-age``;
``assets/`` files carry Dash's ``?m=<mtime>`` cache buster, so they get a
long ``max-age`` here too (a changed file gets a new URL).
"""

from __future__ import annotations

import gzip
import hashlib
import threading

from flask import Flask, Response, request

__all__ = ["init_compression", "STATIC_PREFIXES"]

STATIC_PREFIXES = ("/_dash-component-suites/", "/assets/", "/api/docs/static/")  # the last: Swagger UI (apidocs)
_TYPES = ("javascript", "css", "json", "svg", "text/plain", "map")
_MIN_BYTES = 1024
_LEVEL = 6
_YEAR = 31536000


def init_compression(server: Flask) -> None:
    """gzip the static routes' responses (when the browser accepts it) and let browsers keep assets."""
    memo: dict[tuple[str, str], bytes] = {}
    lock = threading.Lock()

    @server.after_request
    def _compress(resp: Response) -> Response:
        path = request.path
        if not path.startswith(STATIC_PREFIXES) or resp.status_code != 200:
            return resp
        if path.startswith("/assets/") and request.args.get("m"):
            resp.cache_control.public = True
            resp.cache_control.max_age = _YEAR
            resp.cache_control.no_cache = None
        resp.vary.add("Accept-Encoding")
        if ("gzip" not in request.headers.get("Accept-Encoding", "") or resp.content_encoding
                or not any(t in (resp.mimetype or "") for t in _TYPES)):
            return resp
        resp.direct_passthrough = False  # send_file streams; we need the bytes
        data = resp.get_data()
        if len(data) < _MIN_BYTES:
            return resp
        key = (path, hashlib.blake2b(data, digest_size=16).hexdigest())
        with lock:
            packed = memo.get(key)
        if packed is None:
            packed = gzip.compress(data, compresslevel=_LEVEL, mtime=0)
            with lock:
                memo[key] = packed
        resp.set_data(packed)
        resp.content_encoding = "gzip"
        resp.headers["Content-Length"] = str(len(packed))
        return resp
