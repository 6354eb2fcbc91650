"""Component ids, in one place so pages, callbacks and browser tests agree.

Ids are plain strings prefixed by their page. Pages with a background job use
``job_ids(prefix)`` for the job panel's components; resampled charts use the
pattern-matching ids from ``rs_graph`` / ``rs_source``.
"""

from __future__ import annotations

__all__ = [
    "URL",
    "NAV",
    "WARNINGS",
    "ERROR",
    "nav_link",
    "page_url",
    "control",
    "job_ids",
    "export_bar",
    "export_link",
    "copy_link",
    "rs_graph",
    "rs_source",
    "RS_GRAPH_TYPE",
    "RS_SOURCE_TYPE",
]

#: The app-wide location whose ``search`` the pages write (refresh="callback-nav").
URL = "url"
NAV = "navbar"
#: The alert listing the query parameters that were ignored (same id on every page).
WARNINGS = "query-warnings"
#: An alert shown when something failed while building the page.
ERROR = "page-error"

RS_GRAPH_TYPE = "rs-graph"
RS_SOURCE_TYPE = "rs-source"


def page_url(page: str) -> str:
    """The page's own location that its controls write to.

    It lives inside the page content, beside the controls: Dash's
    ``prevent_initial_call`` only holds when a callback's outputs are inserted
    together with its inputs; writing to the app-wide ``URL`` would fire on
    every page render and rewrite the URL (dropping the values being warned about).
    """
    return f"{page}-url"


def nav_link(page: str) -> str:
    return f"nav-{page}"


def control(page: str, key: str) -> str:
    """The control that edits query parameter ``key`` on ``page`` (e.g. ``history-granularity``)."""
    return f"{page}-{key}"


def job_ids(prefix: str) -> dict[str, str]:
    """Ids of one page's background-job panel."""
    names = ("params", "trigger", "bar", "progress", "cancel", "run", "result", "note", "status")
    return {n: f"{prefix}-job-{n}" for n in names}


def export_bar(page: str) -> str:
    """The row of download buttons and "Copy link" beside a page's title."""
    return f"{page}-exports"


def export_link(page: str, fmt: str) -> str:
    """The download button of ``page`` in format ``fmt`` (``history-export-csv``)."""
    return f"{page}-export-{fmt}"


def copy_link(page) -> dict:
    """The "Copy link" button of ``page`` (pattern-matching: one clientside callback serves every page)."""
    return {"type": "copy-link", "page": page}


def rs_graph(name: str) -> dict:
    """A chart re-aggregated on zoom (see ``components.resampled``)."""
    return {"type": RS_GRAPH_TYPE, "name": name}


def rs_source(name: str) -> dict:
    """The store telling the zoom callback where a chart's full-resolution data comes from."""
    return {"type": RS_SOURCE_TYPE, "name": name}


# Page-specific ids that are not query controls.
DATA_TABLE = "data-table"
DATA_REPORT = "data-report"
DATA_DELETE = "data-delete"
DATA_DELETE_CONFIRM = "data-delete-confirm"
DATA_DELETE_RESULT = "data-delete-result"
DATA_UPLOAD = "upload-widget"  # the DOM contract of assets/upload.js
DATA_UPLOADED = "data-uploaded"  # the hidden input upload.js writes a new dataset's id into
DATA_ADD_FILES = "data-add-files"  # the "Add files" upload widget (assets/upload.js, data-upload-widget)
DATA_FILES = "data-files"  # the per-file table of the ingest report
DATA_UPLOAD_DENIED = "data-upload-denied"  # in place of the upload widget, for who may not upload
DATA_DELETE_DENIED = "data-delete-denied"  # under the disabled Delete button, for who may not delete
# the events editor (dashapp/components/events_editor.py)
DATA_EVENTS_CARD = "data-events-card"
DATA_EVENTS = "data-events"  # the list of the dataset's events
DATA_EVENT_PICK = "data-event-pick"  # pattern-matching type of a name in the list: picks it for editing
DATA_EVENT_NAME = "data-event-name"
DATA_EVENT_START = "data-event-start"
DATA_EVENT_END = "data-event-end"
DATA_EVENT_IMPACT = "data-event-impact"
DATA_EVENT_SAVE = "data-event-save"
DATA_EVENT_REMOVE = "data-event-remove"
DATA_EVENT_RESULT = "data-event-result"
DATA_EVENT_ERROR = "data-event-error"
DATA_EVENT_EDITING = "data-event-editing"  # the name of the event picked for editing
DATA_EVENTS_DENIED = "data-events-denied"
HISTORY_KPIS = "history-kpis"
SCEN_RECOMMENDATION = "scenarios-recommendation"
SCEN_WINNERS = "scenarios-winners"
WHATIF_TABLE = "what_if-table"
FORECAST_BACKTEST = "forecast-backtest"
FORECAST_BACKTEST_GRAPH = "forecast-backtest-graph"
SCEN_HELDOUT = "scenarios-heldout"
SCEN_FOLDS = "scenarios-folds"
PLAN_REASON = "plan-reason"
PLAN_POLICIES = "plan-policies"
PLAN_FAN = "plan-fan"
PLAN_SCHEDULE = "plan-schedule"
PLAN_COSTS = "plan-costs"
PLAN_BACKTEST = "plan-backtest"


def plan_deploy(fmt: str) -> str:
    """The Plan page's download of its recommended policy as ``fmt`` (hpa, keda, aws)."""
    return f"plan-deploy-{fmt}"
