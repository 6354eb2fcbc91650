"""A background job panel: progress bar, cancel, run again, and the result area.

When a page's result is already in the shared cache its layout renders it at
once and no job starts. Otherwise the layout puts the request (the page's
query string) in ``params``; a clientside callback copies it to ``trigger``
after the page mounts, which starts the background callback on the
``DiskcacheManager``. The job re-validates the request itself (the browser
is never trusted), computes through the shared result cache (so identical
jobs compute once) and returns the rendered result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, clientside_callback, dcc, html
from dash.exceptions import PreventUpdate

from dashapp.ids import job_ids
from dashapp.runtime.job_errors import job_error_message

__all__ = ["job_panel", "register_job", "run_job"]

log = logging.getLogger(__name__)


def job_panel(prefix: str, request: dict | None, result, *, what: str = "the result") -> html.Div:
    """The panel; ``request`` None means ``result`` is already rendered (a cache hit)."""
    i = job_ids(prefix)
    waiting = request is not None
    return html.Div([
        dcc.Store(id=i["params"], data=request),
        dcc.Store(id=i["trigger"]),
        html.Div([
            html.Div(id=i["status"], className="small text-muted mb-1",
                     children=f"Computing {what} in the background… the page stays usable." if waiting else ""),
            dbc.Row([
                dbc.Col(dbc.Progress(id=i["progress"], value=0, label="", striped=True, animated=True,
                                     style={"height": "1.4rem"}), width=True),
                dbc.Col(dbc.Button("Cancel", id=i["cancel"], color="secondary", size="sm", outline=True),
                        width="auto"),
            ], className="g-2 align-items-center"),
        ], id=i["bar"], className="mb-3 job-bar", style={"display": "block" if waiting else "none"}),
        html.Div(id=i["note"]),
        # Shown after a cancel, to start the job again.
        dbc.Button("Run", id=i["run"], color="primary", size="sm", className="mb-2", style={"display": "none"}),
        html.Div(result, id=i["result"]),
    ], className="job-panel")


def run_job(compute: Callable, progress: Callable, request: dict) -> tuple:
    """The job's outputs ``(result, note, Run button style)``: ``compute``'s children, or an alert with the
    message of the user's input error.

    Bad input (``core.errors.InputError``, or ``ValueError`` from a config's validation) names the value and the
    fix, so the user reads it here: Dash would hand the job's exception to ``on_error`` as a plain
    ``BackgroundCallbackError``, its type lost, and only an internal-error note could be shown then.
    """
    try:
        return compute(progress, request), None, {"display": "none"}
    except ValueError as exc:  # InputError is a ValueError
        log.info("background job refused its input: %s", exc)
        return (dbc.Alert([html.Strong("Failed: "), str(exc)], color="warning", className="py-2 job-failed"), None,
                {"display": "none"})


def register_job(prefix: str, compute: Callable, *, what: str = "the result") -> None:
    """Register the callbacks of ``prefix``'s panel.

    Args:
        prefix: the page prefix of the panel's ids.
        compute: ``compute(set_progress, request) -> children``; ``set_progress(percent, label)``.
        what: how the status line calls the result.
    """
    i = job_ids(prefix)

    def _failed(err: Exception):
        # A job that raised, or whose worker was lost (Redis backend): say so and offer Run again. The result
        # area is emptied: it must not go on saying that the result appears when the job is done.
        return (None, dbc.Alert(f"Failed: {job_error_message(err)}", color="danger", className="py-2 job-failed"),
                {"display": "inline-block"})

    clientside_callback(
        "function(p) { return p ? p : window.dash_clientside.no_update; }",
        Output(i["trigger"], "data"),
        Input(i["params"], "data"),
    )

    @callback(
        Output(i["result"], "children"),
        Output(i["note"], "children", allow_duplicate=True),
        Output(i["run"], "style", allow_duplicate=True),
        Input(i["trigger"], "data"),
        Input(i["run"], "n_clicks"),
        State(i["params"], "data"),
        background=True,
        running=[
            (Output(i["bar"], "style"), {"display": "block"}, {"display": "none"}),
            (Output(i["run"], "disabled"), True, False),
            (Output(i["cancel"], "disabled"), False, True),
        ],
        progress=[Output(i["progress"], "value"), Output(i["progress"], "label")],
        cancel=[Input(i["cancel"], "n_clicks")],
        prevent_initial_call=True,
        interval=400,
        on_error=_failed,
    )
    def _run(set_progress, trigger, _n, params):
        request = trigger or params
        if not request:
            raise PreventUpdate

        def progress(done, total=100):
            pct = int(max(0, min(100, 100 * done / max(total, 1))))
            set_progress((pct, f"{pct}%"))

        progress(0)
        return run_job(compute, progress, request)

    @callback(
        Output(i["note"], "children", allow_duplicate=True),
        Output(i["run"], "style", allow_duplicate=True),
        Input(i["cancel"], "n_clicks"),
        prevent_initial_call=True,
    )
    def _cancelled(n):
        if not n:
            raise PreventUpdate
        return (dbc.Alert(f"Cancelled. Press Run to compute {what}.", color="secondary",
                          className="py-2 job-cancelled"), {"display": "inline-block"})

    # Run again: the note of the last run (cancelled, failed) goes at once, while the new job's progress climbs.
    clientside_callback(
        'function(n) { return n ? [null, {"display": "none"}] : window.dash_clientside.no_update; }',
        Output(i["note"], "children", allow_duplicate=True),
        Output(i["run"], "style", allow_duplicate=True),
        Input(i["run"], "n_clicks"),
        prevent_initial_call=True,
    )
