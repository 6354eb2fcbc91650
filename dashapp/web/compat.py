"""The original dashboard's API calls, as its users made them: thin routes over the ``/api`` handlers.

- ``POST /forecast?horizon=30&model=sarima`` takes its fields as query parameters or form fields (a JSON
  body may carry the rest, e.g. a ``series``; a field given in two places is refused);
- ``GET /metrics`` and ``GET /cost-report`` take theirs as query parameters;
- with neither ``dataset_id`` nor ``series``, each uses the default dataset.

Each route converts its query into the body or query of the matching ``/api`` route and calls that route's
handler (:func:`dashapp.web.api.forecast_answer`, ``metrics_answer``, ``cost_report_answer``): the same
validation, the same core call, the same result cache and the same JSON. ``/api/*`` is unchanged. A bare
number as ``horizon`` is a number of steps, as a JSON integer is in ``POST /api/forecast``; ``level`` is a
number or a comma-separated list (``80,95``; empty for none). GET on ``/forecast`` stays the Forecast page.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Flask, request

from core.errors import InputError
from dashapp.web.api import cost_report_answer, forecast_answer, metrics_answer
from dashapp.web.api_params import ApiError, read_json
from dashapp.web.errors import json_error

__all__ = ["COMPAT_ROUTES", "init_compat"]

#: ``(method, path)`` of each route here, for the error handlers and the security headers.
COMPAT_ROUTES = (("POST", "/forecast"), ("GET", "/metrics"), ("GET", "/cost-report"))

log = logging.getLogger(__name__)
bp = Blueprint("compat", __name__)
_INT = re.compile(r"^\s*\d+\s*$")
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return json_error(exc.status, exc.message, exc.field)


@bp.errorhandler(InputError)
@bp.errorhandler(ValueError)
def _input_error(exc: ValueError):
    return json_error(400, str(exc))


@bp.errorhandler(500)
def _bug(exc):
    # As the /api routes: JSON, never Flask's HTML page; the traceback goes to the server log.
    log.error(
        "unhandled error on %s %s",
        request.method,
        request.path,
        exc_info=getattr(exc, "original_exception", None) or exc,
    )
    return json_error(500, "unexpected server error; the server log has the details")


@bp.after_request
def _no_store(resp):
    resp.headers["Cache-Control"] = "no-store"  # as the /api routes: a shared proxy never serves one user's answer
    return resp


def _with_default_dataset(data: dict) -> dict:
    if data.get("dataset_id") is None and data.get("series") is None:
        return {**data, "dataset_id": "default"}
    return data


def _levels(text: str):
    """``80`` -> 80.0, ``80,95`` -> [80.0, 95.0], empty -> []; anything else is left for the API to refuse."""
    parts = [p for p in text.split(",") if p.strip()]
    if not all(_NUMBER.match(p) for p in parts):
        return text
    values = [float(p) for p in parts]
    return values[0] if len(values) == 1 and "," not in text else values


@bp.post("/forecast")
def forecast():
    query = request.args.to_dict()
    body: dict = {}
    if request.mimetype == "application/x-www-form-urlencoded":  # curl -d 'horizon=30': form fields as query ones
        form = request.form.to_dict()
        both = sorted(set(query) & set(form))
        query.update(form)
    elif request.content_length or request.headers.get("Transfer-Encoding"):
        body = read_json(request)
        both = sorted(set(query) & set(body))
    else:
        both = []
    if "horizon" in query and _INT.match(str(query["horizon"])):
        query["horizon"] = int(query["horizon"])  # steps, as a JSON integer
    if "level" in query:
        query["level"] = _levels(query["level"])
    if both:
        raise ApiError(400, f"{', '.join(both)} given both in the query and in the body; give each once", both[0])
    return forecast_answer(_with_default_dataset({**body, **query}))


@bp.get("/metrics")
def metrics():
    return metrics_answer(_with_default_dataset(request.args.to_dict()))


@bp.get("/cost-report")
def cost_report():
    return cost_report_answer(_with_default_dataset(request.args.to_dict()), query=True)


def init_compat(server: Flask) -> None:
    """Register the original API's routes on the Flask ``server``."""
    server.register_blueprint(bp)
