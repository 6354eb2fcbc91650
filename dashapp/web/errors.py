"""The one JSON error shape of /api, /upload and /export, and their 404/405 answers."""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

__all__ = ["init_page_not_found", "is_page_path", "json_error", "register_error_handlers", "unmatched_route"]

log = logging.getLogger(__name__)

OWN_BLUEPRINTS = ("api.", "upload.", "export.")  # endpoints whose errors are JSON


def json_error(status: int, message: str, field: str | None = None):
    """The API's one error shape."""
    from http import HTTPStatus

    body = {"status": status, "error": HTTPStatus(status).phrase, "message": message}
    if field:
        body["field"] = field
    resp = jsonify(body)
    resp.status_code = status
    return resp


def unmatched_route():
    """404, or 405 with ``Allow`` when the path exists for other methods (for /api, /upload, /export)."""
    adapter = current_app.url_map.bind("")
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        if method == request.method:
            continue
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint.startswith(OWN_BLUEPRINTS) and not endpoint.endswith("_unmatched"):
            allowed.append(method)
    if allowed:
        resp = json_error(405, f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}")
        resp.headers["Allow"] = ", ".join(allowed)
        return resp
    return json_error(404, f"no route {request.method} {request.path}; GET /api/openapi.json lists the routes")


def _wants_json() -> bool:
    p = request.path
    return p.startswith(("/api/", "/upload", "/export/")) or p == "/api"


def register_error_handlers(server: Flask) -> None:
    """JSON errors for /api, /upload and /export (other paths keep Flask's and Dash's own pages)."""

    def handle(exc: HTTPException):
        if not _wants_json():
            return exc
        msg = exc.description or exc.name
        if exc.code == 404:
            msg = f"no route {request.method} {request.path}; GET /api/openapi.json lists the routes"
        elif exc.code == 405:
            allowed = ", ".join(sorted(m for m in (exc.valid_methods or ()) if m not in ("HEAD", "OPTIONS")))
            msg = f"{request.method} is not allowed on {request.path}; use {allowed}"
        elif exc.code == 413:
            msg = "request body too large" + (f": {exc.description}" if exc.description else "")
        resp = json_error(exc.code, msg)
        if exc.code == 405 and exc.valid_methods:
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        return resp

    def handle_500(exc):
        if not _wants_json():
            return exc
        original = getattr(exc, "original_exception", None) or exc
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
        return json_error(500, "unexpected server error; the server log has the details")

    for code in (400, 404, 405, 413, 415):
        server.register_error_handler(code, handle)
    server.register_error_handler(500, handle_500)


def is_page_path(path: str, prefix: str = "/") -> bool:
    """Whether Dash's router shows a registered page at ``path`` (it compares paths without their outer
    slashes; a page with a ``path_template`` counts as matching anything, so it is never answered 404 here)."""
    import dash

    path_id = path[len(prefix):] if path.startswith(prefix) else path
    path_id = path_id.strip("/")
    return any(entry.get("path_template") or entry["path"].strip("/") == path_id
               for entry in dash.page_registry.values())


def init_page_not_found(app) -> None:
    """Answer 404 for a path that is no page.

    Dash serves its index from a catch-all route for every path, and its router shows "404 - Page not found"
    in the browser; the status stays 200, which monitors, crawlers and link checkers read as a page. The
    content stays Dash's; only the status changes.
    """
    prefix = app.config.routes_pathname_prefix
    catch_all = prefix + "<path:path>"  # the endpoint of Dash's catch-all route (Dash names it by its rule)

    @app.server.after_request
    def _page_status(resp):
        if request.endpoint == catch_all and resp.status_code == 200 and not is_page_path(request.path, prefix):
            resp.status_code = 404
        return resp
