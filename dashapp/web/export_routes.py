"""Download routes: ``GET /export/<page>/<csv|json|html>?<the page's own query string>``.

Pages: ``data``, ``history``, ``forecast``, ``scenarios``, ``what-if``, ``plan`` (:mod:`dashapp.web.page_exports`, or
the page module's own ``export_bundle(query) -> ExportBundle``); every page links to ``/export/<page>/<fmt>`` +
its URL's query string (``components.export_bar``), so the download shows exactly what the page shows (same
parsing, same cached results). The Data page's exporter is built in: the stored series itself (at a
granularity, in a window), its metadata and ingest report, and a traffic chart; ``dataset``, its name in
earlier versions, is still accepted so that old links keep working.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from flask import Blueprint, Flask, Response, current_app, request

from core.events import builtin_events, events_in_range
from core.registry import DEPLOY_FORMATS, EXPORT_FORMATS
from core.store import DatasetStore
from dashapp.figures import label_gaps, time_title
from dashapp.web.api_params import ApiError, Fields, dataset_id_of
from dashapp.web.errors import json_error, unmatched_route
from dashapp.web.exports import ExportBundle, csv_bytes, html_report, json_bytes

__all__ = ["FORMATS", "DATA_EXPORTERS", "init_exports", "dataset_bundle"]

bp = Blueprint("export", __name__, url_prefix="/export")
_MEDIA = {"csv": "text/csv; charset=utf-8", "json": "application/json", "html": "text/html; charset=utf-8"}
FORMATS = {fmt: _MEDIA[fmt] for fmt in EXPORT_FORMATS}  # a format without a media type fails at import
_PAGE_RE = re.compile(r"^[a-z][a-z_-]{0,30}$")
MAX_EXPORT_POINTS = 2_000_000


def _naive(t: str) -> pd.Timestamp:
    return pd.Timestamp(t).tz_localize(None)


def dataset_bundle(query: dict) -> ExportBundle:
    """The built-in exporter: a stored dataset (``dataset``, ``granularity`` minutes, ``start``, ``end``).

    Raises:
        ApiError: unknown dataset, bad granularity or window.
    """
    fields = Fields(query, ("dataset", "granularity", "start", "end"), query=True)
    store = DatasetStore(current_app.config["TRAFFIC_SETTINGS"].data_dir)
    ds_id = dataset_id_of(store, fields.raw("dataset", "default"))
    info = store.info(ds_id)
    series = store.get(ds_id)
    minutes = fields.number("granularity", None, lo=0, lo_open=True, hi=1440)
    start, end = fields.string("start", max_len=40), fields.string("end", max_len=40)
    try:
        if start or end:
            series = series.window(start, end)
        if minutes is not None:
            series = series.resample(pd.Timedelta(minutes=minutes))
    except (ValueError, TypeError) as exc:
        raise ApiError(400, f"granularity/start/end: {exc}") from None
    if len(series) > MAX_EXPORT_POINTS:
        raise ApiError(413, f"{len(series):,} periods exceed the export limit of {MAX_EXPORT_POINTS:,}; "
                            "choose a coarser granularity or a shorter window")
    frame = series.frame
    x = frame.index.tz_localize(None)  # wall-clock time in the data's own offset
    fig = go.Figure(go.Scatter(x=x, y=frame["requests"].to_numpy(dtype=np.float64), mode="lines",
                               name="requests", line=dict(width=1)))
    calendar = events_in_range(builtin_events() + store.events(ds_id), series.start, series.end)
    for g in label_gaps([g.to_dict() for g in series.gaps], calendar):
        fig.add_vrect(x0=_naive(g["start"]), x1=_naive(g["end"]), fillcolor="grey", opacity=0.2,
                      line_width=0, annotation_text=g["label"], annotation_position="top left")
    fig.update_layout(height=380, margin=dict(l=55, r=20, t=30, b=40), yaxis_title="requests per period",
                      xaxis_title=time_title(frame.index), plot_bgcolor="white")
    summary = {"dataset": info.to_dict(), "granularity_minutes": series.interval_minutes,
               "window": {"start": series.start.isoformat(), "end": series.end.isoformat()},
               "periods": len(series), "requests_total": float(np.nansum(series.requests)),
               "ingest_report": store.report(ds_id).to_dict()}
    notes = ["Synthetic data (the built-in demo)." if info.synthetic else f"Source: {info.name}",
             "Empty cells mean no data; shaded bands are gaps found at ingest."]
    return ExportBundle(title=f"Dataset {info.name}", filename=f"dataset-{ds_id}", frame=frame,
                        summary=summary, figures={"Traffic": fig}, notes=notes)


#: The Data page's exporter under its page name and its earlier name.
DATA_EXPORTERS = ("data", "dataset")


def _exporter(page: str) -> Callable[[dict], ExportBundle] | None:
    if page in DATA_EXPORTERS:
        return dataset_bundle
    from dashapp.web.page_exports import PAGE_EXPORTERS, page_module

    module = page_module(page.replace("-", "_"))
    if module is None:
        return None
    return getattr(module, "export_bundle", None) or PAGE_EXPORTERS.get(page)


def _query() -> dict:
    """The query string as Dash gives it to ``layout``: one value per key, a list when repeated."""
    return {k: (v[0] if len(v) == 1 else v) for k, v in request.args.to_dict(flat=False).items()}


@bp.get("/<page>/<fmt>")
def export(page: str, fmt: str):
    from dashapp.web.page_exports import POLICY_EXPORTERS

    if fmt in DEPLOY_FORMATS and page in POLICY_EXPORTERS:  # the page's chosen policy, for the team's autoscaler
        exp = POLICY_EXPORTERS[page](_query(), fmt)
        resp = Response(exp.text, mimetype=exp.media_type)
        resp.headers["Content-Disposition"] = f'attachment; filename="{exp.filename}"'
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp
    if fmt not in FORMATS:
        raise ApiError(404, f"unknown export format {fmt[:20]!r}; use csv, json or html (and on the plan page "
                            "hpa, keda or aws)")
    exporter = _exporter(page) if _PAGE_RE.match(page) else None
    if exporter is None:
        raise ApiError(404, f"no exports for page {page[:30]!r}; use data, history, forecast, scenarios, "
                            "what-if or plan")
    bundle = exporter(_query())
    if fmt == "csv":
        body = csv_bytes(bundle.frame, index_label=bundle.frame.index.name or "timestamp")
    elif fmt == "json":
        body = json_bytes(bundle.summary)
    else:
        body = html_report(bundle.title, bundle.figures, summary=bundle.summary, notes=bundle.notes).encode()
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", bundle.filename).strip("-.")[:100] or "export"
    resp = Response(body, mimetype=FORMATS[fmt].split(";")[0], content_type=FORMATS[fmt])
    resp.headers["Content-Disposition"] = f"attachment; filename=\"{name}.{fmt}\"; filename*=UTF-8''{quote(name)}.{fmt}"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return json_error(exc.status, exc.message, exc.field)


@bp.errorhandler(ValueError)
def _value_error(exc: ValueError):
    return json_error(400, str(exc))


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def _unmatched(rest: str):
    return unmatched_route()


def init_exports(server: Flask) -> None:
    """Register the export routes (called by :func:`dashapp.web.api.init_api`)."""
    server.register_blueprint(bp)
