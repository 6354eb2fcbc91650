"""HTTP hardening that belongs to no page: response headers, a cross-site guard, Dash's callback route.

``init_security(server, settings, app)`` adds to every response:

- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``,
  ``Cross-Origin-Opener-Policy`` / ``Cross-Origin-Resource-Policy: same-origin`` and a
  ``Permissions-Policy`` that turns off device APIs the app never uses;
- ``X-Frame-Options: DENY`` and CSP ``frame-ancestors 'none'`` (``TRAFFIC_FRAME_ANCESTORS``
  lists origins allowed to embed the app, e.g. a Grafana host; X-Frame-Options is then dropped);
- a Content-Security-Policy: for the app's HTML pages, scripts only from the app itself plus the
  SHA-256 hashes of Dash's own inline scripts (the renderer bootstrap and the clientside
  callbacks, from ``Dash.csp_hashes()``), so an injected inline script or a script from another
  origin never runs; no ``'unsafe-eval'`` (every page was loaded in headless Chromium under this
  policy with zero violations, see tests/reliability/test_security_browser.py). Styles keep
  ``'unsafe-inline'``: plotly.js and React set inline styles. Every other response gets
  ``default-src 'none'`` (JSON, CSV and downloads are never rendered as pages);
- ``Cache-Control: no-store`` on the JSON routes (/api, /upload), so a shared proxy never serves
  one user's answer to another.

Before a request it refuses (403 JSON) state-changing requests that a browser marks as
cross-site (``Sec-Fetch-Site: cross-site``, or an ``Origin`` of another host when the browser
sends no fetch metadata): the app has no accounts of its own, so authentication sits in a proxy
in front, and without this check any web page a signed-in user visits could post uploads or start
expensive jobs with the user's credentials. Clients that are not browsers (curl, scripts) send
neither header and pass. ``TRAFFIC_ALLOWED_ORIGINS`` lists extra origins allowed to post.

Dash's callback route (``/_dash-update-component``) gets a 1 MB body limit (the app's callback
bodies are a few kB; the global limit is the upload size), a shape check (a JSON object naming a
registered callback), and a last line of defence: an exception a crafted body provokes inside a
callback (TypeError, ValueError, KeyError, ...) becomes a 400 JSON answer instead of a 500; it is
logged with its traceback, so a real bug stays visible.
"""

from __future__ import annotations

import functools
import logging
import os
from urllib.parse import urlsplit

from dash.exceptions import UnsupportedRelativePath
from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from core.errors import InputError
from dashapp.web.errors import json_error

__all__ = ["init_security", "CALLBACK_BODY_LIMIT", "UNSAFE_METHODS", "page_csp"]

log = logging.getLogger(__name__)

#: Request bodies of Dash callbacks (the app's are a few kB: control values and small stores).
CALLBACK_BODY_LIMIT = 1024 * 1024
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CALLBACK_ROUTE = "_dash-update-component"
#: Exceptions a hand-made callback body can provoke in a callback that trusts its component's value types.
_BAD_INPUT = (TypeError, ValueError, KeyError, AttributeError, IndexError, InputError, UnsupportedRelativePath)
_PERMISSIONS = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
                "payment=(), usb=()")
_STRICT_CSP = "default-src 'none'; frame-ancestors {ancestors}; base-uri 'none'; form-action 'none'"


def page_csp(script_hashes: list[str], frame_ancestors: str = "'none'") -> str:
    """The Content-Security-Policy of the app's HTML pages.

    Args:
        script_hashes: CSP hash sources (``'sha256-…'``) of the inline scripts the page may run.
        frame_ancestors: who may frame the page (``'none'``, or a space-separated origin list).
    """
    directives = [
        "default-src 'self'",
        "script-src 'self' " + " ".join(sorted(set(script_hashes))),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        f"frame-ancestors {frame_ancestors}",
    ]
    return "; ".join(directives)


def _origins(raw: str | None) -> list[str]:
    out = []
    for item in (raw or "").replace(",", " ").split():
        parts = urlsplit(item)
        if parts.scheme in ("http", "https") and parts.netloc:
            out.append(f"{parts.scheme}://{parts.netloc}".lower())
        else:
            raise ValueError(f"origins must look like https://host[:port], got {item!r}")
    return out


def _json_error(status: int, message: str) -> Response:
    return json_error(status, message)


def _cross_site(allowed: list[str]) -> str | None:
    """Why this state-changing request is refused as cross-site, or None."""
    origin = (request.headers.get("Origin") or "").strip().lower()
    if origin and origin != "null" and origin in allowed:
        return None
    site = (request.headers.get("Sec-Fetch-Site") or "").strip().lower()
    if site == "cross-site":
        return "a page of another site"
    if site in ("same-origin", "same-site", "none"):
        return None
    if not origin:
        return None  # not a browser (curl, scripts): nothing to forge
    if origin == "null":
        return "a sandboxed or local page (Origin: null)"
    hosts = {request.host.lower()}
    forwarded = request.headers.get("X-Forwarded-Host")
    if forwarded:
        hosts.add(forwarded.split(",")[0].strip().lower())
    if urlsplit(origin).netloc in hosts:
        return None
    return f"the page at {origin[:80]}"


def _check_callback_body(body, callback_map: dict) -> str | None:
    """What is wrong with a Dash callback request body, or None."""
    if not isinstance(body, dict):
        return f"the callback body must be a JSON object, got {type(body).__name__}"
    output = body.get("output")
    if not isinstance(output, str) or not output:
        return "the callback body has no 'output' string"
    if output not in callback_map:
        return f"no callback has the output {output[:80]!r}"
    for key in ("inputs", "state", "changedPropIds"):
        value = body.get(key, [])
        if not isinstance(value, list):
            return f"'{key}' must be an array, got {type(value).__name__}"
    for item in body.get("inputs", []) + body.get("state", []):
        entries = item if isinstance(item, list) else [item]  # pattern-matching inputs are lists
        if not all(isinstance(e, dict) and "id" in e and isinstance(e.get("property"), str) for e in entries):
            return "each input and state must be an object with 'id' and 'property'"
    if "outputs" in body and not isinstance(body["outputs"], (dict, list)):
        return "'outputs' must be an object or an array"
    return None


def _wrap_callback_route(server: Flask, app) -> None:
    """Guard Dash's callback view: body shape first, and 400 (not 500) for what a crafted body provokes."""
    endpoints = {r.endpoint for r in server.url_map.iter_rules() if r.rule.endswith(_CALLBACK_ROUTE)}
    for endpoint in endpoints:
        view = server.view_functions[endpoint]

        @functools.wraps(view)
        def guarded(*args, _view=view, **kwargs):
            raw = request.get_data(cache=True)  # bounded by the before-request limit; Dash reads the cached copy
            if len(raw) >= CALLBACK_BODY_LIMIT:
                return _json_error(413, f"callback body exceeds the limit of {CALLBACK_BODY_LIMIT:,} bytes")
            body = request.get_json(silent=True)
            problem = _check_callback_body(body, app.callback_map) if app is not None else None
            if body is None:
                problem = "the callback body must be JSON (Content-Type: application/json)"
            if problem:
                return _json_error(400, problem)
            try:
                return _view(*args, **kwargs)
            except HTTPException:
                raise
            except _BAD_INPUT as exc:
                log.warning("callback %s refused its inputs (%s: %s)", str(body.get("output"))[:120],
                            type(exc).__name__, str(exc)[:200], exc_info=True)
                return _json_error(400, f"the callback could not use its inputs ({type(exc).__name__}); "
                                        "reload the page")

        server.view_functions[endpoint] = guarded


def init_security(server: Flask, settings=None, app=None) -> None:
    """Register the security headers, the cross-site guard and the callback-route checks on ``server``.

    Args:
        server: the Flask server.
        settings: the app's settings (unused today; kept for a uniform ``init_*`` signature).
        app: the Dash app (for its callback map and inline-script hashes); default ``dash.get_app()``.

    Raises:
        ValueError: ``TRAFFIC_FRAME_ANCESTORS`` or ``TRAFFIC_ALLOWED_ORIGINS`` holds something that is
            not an origin.
    """
    if app is None:
        import dash

        app = dash.get_app()
    ancestors_list = _origins(os.environ.get("TRAFFIC_FRAME_ANCESTORS"))
    ancestors = " ".join(ancestors_list) or "'none'"
    allowed = _origins(os.environ.get("TRAFFIC_ALLOWED_ORIGINS"))
    strict = _STRICT_CSP.format(ancestors=ancestors)
    page_policy: list[str] = []  # computed at the first page, once every inline script is registered

    def page_header() -> str:
        if not page_policy:
            page_policy.append(page_csp(list(app.csp_hashes()), ancestors))
        return page_policy[0]

    @server.before_request
    def _guard():
        if request.method in UNSAFE_METHODS:
            who = _cross_site(allowed)
            if who:
                return _json_error(403, f"cross-site {request.method} refused: it came from {who}. Open the "
                                        "workbench itself, or list the origin in TRAFFIC_ALLOWED_ORIGINS")
            if request.path.endswith(_CALLBACK_ROUTE):
                length = request.content_length
                if length is not None and length > CALLBACK_BODY_LIMIT:
                    return _json_error(413, f"callback body of {length:,} bytes exceeds the limit of "
                                            f"{CALLBACK_BODY_LIMIT:,} bytes")
                request.max_content_length = CALLBACK_BODY_LIMIT  # chunked bodies stop at the limit too
        return None

    @server.after_request
    def _headers(resp: Response) -> Response:
        h = resp.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        h.setdefault("Cross-Origin-Resource-Policy", "same-origin")
        h.setdefault("Permissions-Policy", _PERMISSIONS)
        if not ancestors_list:
            h.setdefault("X-Frame-Options", "DENY")
        is_page = resp.mimetype == "text/html" and "attachment" not in h.get("Content-Disposition", "")
        h["Content-Security-Policy"] = page_header() if is_page else strict
        if request.path.startswith(("/api/", "/upload")) and resp.mimetype == "application/json":
            h["Cache-Control"] = "no-store"
        return resp

    _wrap_callback_route(server, app)
