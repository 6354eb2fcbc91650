"""Data: the datasets in the store, the selected one's events and ingest report, upload, "Add files" and delete.

An upload of several files makes one dataset; "Add files" makes a new dataset of the selected log dataset
plus the files (the route is ``POST /upload?append=<id>``; the old dataset stays).

The selected dataset is the ``dataset`` query parameter (the built-in default
on a first visit); the navbar carries it to the other pages.
"""

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from core.ingest import ACCEPTED_FORMATS
from core.store import DatasetInfo, DatasetStore
from dashapp import ids
from dashapp import state as st
from dashapp.components.events_editor import events_card, register_events_editor
from dashapp.components.export_bar import export_bar
from dashapp.components.layout import fmt_num, page_url, safe_layout, table, warnings_alert
from dashapp.runtime.auth import request_problem
from dashapp.runtime.settings import current_settings

PAGE = "data"
TITLE = "Data"
CTX = f"{PAGE}-ctx"

#: The query parameters (no controls: a dataset is chosen from the table, ``deleted`` names the one just deleted).
PARAMS = (st.DATASET, st.Param("deleted", "dataset", label="Deleted dataset"))

dash.register_page(__name__, path="/", name=TITLE, title="Data · Traffic workbench", order=0, params=PARAMS)


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def _interval(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def dataset_rows(store: DatasetStore, selected: str) -> list[list]:
    """One row per dataset: name (a link selecting it), format, time range, interval, size, kind."""
    rows = []
    for d in store.list():
        name = dcc.Link(d.name, href=f"/?dataset={d.id}", className="fw-semibold" if d.id == selected else "")
        rows.append([
            html.Span(["✔ " if d.id == selected else "", name]),
            d.format, f"{d.start[:16].replace('T', ' ')} .. {d.end[:16].replace('T', ' ')}",
            _interval(d.interval_seconds),
            f"{d.periods:,} periods" + (f" · {_size(d.size_bytes)}" if d.size_bytes else ""),
            dbc.Badge("synthetic", color="info") if d.synthetic else dbc.Badge("real", color="success"),
        ])
    return rows


def report_view(store: DatasetStore, dataset_id: str) -> html.Div:
    """The ingest report: lines parsed and rejected (with examples), gaps, assumptions, warnings."""
    r = store.report(dataset_id)
    info = store.info(dataset_id)
    facts = [
        ("Source", r.source), ("Format", f"{r.format} ({r.compression})"),
        ("Lines", f"{fmt_num(r.lines_total)} read, {fmt_num(r.lines_parsed)} parsed, "
                  f"{fmt_num(r.lines_rejected)} rejected"),
        ("Requests", fmt_num(r.requests_total, 0)),
        ("Range", f"{r.start} .. {r.end} (UTC{r.utc_offset})"),
        ("Periods", f"{fmt_num(r.periods)} of {_interval(r.interval_seconds)}"),
        ("Non-standard request lines", fmt_num(r.nonstandard_requests)),
        ("Read in", f"{r.seconds:.1f} s" if r.seconds else "n/a"),
    ]
    pairs = [x for k, v in facts for x in (html.Dt(k, className="col-sm-3"), html.Dd(v, className="col-sm-9"))]
    parts = [html.H5(f"Ingest report: {info.name}"), html.Dl(pairs, className="row small mb-2")]
    if len(r.files) > 1:
        parts += [html.H6(f"Files ({len(r.files)})"),
                  table(["file", "format", "time range", "lines parsed", "rejected", "note"], file_rows(r.files),
                        id_=ids.DATA_FILES)]
    if r.rejected_examples:
        parts += [html.H6("Rejected lines (first examples)"),
                  table(["line", "reason", "text"], [[e.line, e.reason, html.Code(e.text[:200])]
                                                     for e in r.rejected_examples])]
    gaps = r.gaps or list(info.gaps)
    gap_rows = [[g["start"], g["end"], g["kind"], fmt_num(g.get("minutes"))] for g in gaps]
    parts += [html.H6(f"Gaps found ({len(gaps)})"),
              table(["start", "end", "kind", "minutes"], gap_rows) if gaps else html.P("None.", className="small")]
    for title, items in (("Assumptions", r.assumptions), ("Warnings", r.warnings)):
        if items:
            parts += [html.H6(title), html.Ul([html.Li(x) for x in items], className="small")]
    return html.Div(parts, id=ids.DATA_REPORT)


def file_rows(files) -> list[list]:
    """One row per input file of a report: name, format, time range, lines parsed and rejected, why left out."""
    rows = []
    for f in files:
        note = ""
        if f.skipped:
            once = f.skipped.startswith(("duplicate", "already"))
            note = f"counted once: {f.skipped}" if once else f"left out: {f.skipped}"
        fmt = f.format + (f" ({f.compression})" if f.compression and f.compression != "none" else "")
        span = f"{f.start[:16].replace('T', ' ')} .. {f.end[:16].replace('T', ' ')}" if f.start else ""
        rows.append([f.name, fmt, span, fmt_num(f.lines_parsed), fmt_num(f.lines_rejected), note])
    return rows


def upload_card() -> dbc.Card:
    """The streaming upload widget (assets/upload.js fills ``#upload-widget``; the route is dashapp/web/upload.py).

    A finished upload links to ``/?dataset=<id>``, which selects it here, and writes the new id into the hidden
    input ``ids.DATA_UPLOADED`` (the widget's ``data-target-input``), which refreshes the datasets table.
    """
    return dbc.Card(dbc.CardBody([
        html.H6("Upload"),
        html.P(f"Accepted: {ACCEPTED_FORMATS}. Files picked together (several servers, rotated or daily logs) "
               "make one dataset; a file given twice is counted once.", className="small text-muted"),
        html.Div(id=ids.DATA_UPLOAD, **{"data-upload-url": "/upload", "data-dataset-href": "/?dataset={id}",
                                        "data-target-input": ids.DATA_UPLOADED,
                                        "data-hint": "One file or several into one dataset."}),
        dcc.Input(id=ids.DATA_UPLOADED, type="text", value="", style={"display": "none"}),
    ]), className="mb-3")


def add_files_card(info: DatasetInfo) -> dbc.Card:
    """"Add files" to the selected log dataset: a new dataset of it plus the files (``POST /upload?append=<id>``).

    The new id goes into the same hidden input as an upload's (the datasets table refreshes); a series
    dataset (CSV/TXT, the synthetic demo) gets a note instead, since only logs can be appended to.
    """
    if not info.appendable:
        body = [html.H6("Add files"),
                html.P(f"{info.name} is a {info.format} series: files can be added to access-log datasets only.",
                       className="small text-muted mb-0")]
    else:
        body = [
            html.H6("Add files"),
            html.P(f"New log files for {info.name}: a new dataset of it plus the files (this one stays). A file "
                   "already part of it is skipped.", className="small text-muted"),
            html.Div(id=ids.DATA_ADD_FILES, **{"data-upload-widget": "1",
                                               "data-upload-url": f"/upload?append={info.id}",
                                               "data-dataset-href": "/?dataset={id}",
                                               "data-target-input": ids.DATA_UPLOADED,
                                               "data-button-label": "Add files",
                                               "data-hint": "Access logs only."}),
        ]
    return dbc.Card(dbc.CardBody(body), className="mb-3")


def denied_card(title: str, message: str, id_: str) -> dbc.Card:
    """In place of a control this user may not use: what it needs (``dashapp.runtime.auth``). The hidden input
    of the upload widget stays, so the page's callbacks find every component they name."""
    return dbc.Card(dbc.CardBody([
        html.H6(title), dbc.Alert(message, id=id_, color="secondary", className="small py-2 mb-0"),
        dcc.Input(id=ids.DATA_UPLOADED, type="text", value="", style={"display": "none"}),
    ]), className="mb-3")


def dataset_table(store: DatasetStore, selected: str) -> list:
    """The datasets table's head and body (``dataset_rows``)."""
    head = html.Thead(html.Tr([html.Th(h) for h in ("Name", "Format", "Time range", "Interval", "Size", "Kind")]))
    return [head, html.Tbody([html.Tr([html.Td(c) for c in r]) for r in dataset_rows(store, selected)])]


@safe_layout(PAGE, TITLE)
def layout(**query):
    parsed = st.parse_query(PAGE, query)
    store = DatasetStore(current_settings().data_dir)
    selected = st.resolve_dataset(store, parsed)
    listing = dbc.Table(dataset_table(store, selected), id=ids.DATA_TABLE, striped=True, hover=True, size="sm",
                        responsive=True)
    # With TRAFFIC_UPLOADERS / TRAFFIC_ADMINS set, others see why instead of controls that would be refused.
    upload_denied, delete_denied = request_problem("upload"), request_problem("delete")
    return html.Div([
        # The downloads export the selected dataset (``deleted`` only names a message on this page).
        html.Div([html.H3("Datasets", className="mb-1"), export_bar(PAGE, st.to_search(PAGE, {"dataset": selected}))],
                 className="d-flex flex-wrap justify-content-between align-items-center gap-2 mb-1"),
        warnings_alert(parsed.shown_warnings()),
        *([dbc.Alert(f"Dataset {parsed.values['deleted']} deleted.", color="success", className="py-2")]
          if parsed.values.get("deleted") else []),
        dbc.Row([
            dbc.Col([listing, events_card(store, selected), report_view(store, selected)], md=9),
            dbc.Col([
                upload_card() if not upload_denied else denied_card("Upload", upload_denied, ids.DATA_UPLOAD_DENIED),
                *([add_files_card(store.info(selected))] if not upload_denied else []),
                dbc.Card(dbc.CardBody([
                    html.H6("Delete the selected dataset"),
                    dbc.Button("Delete", id=ids.DATA_DELETE, color="danger", outline=True, size="sm",
                               disabled=bool(delete_denied)),
                    *([html.P(delete_denied, id=ids.DATA_DELETE_DENIED, className="small text-muted mt-2 mb-0")]
                      if delete_denied else []),
                    dcc.ConfirmDialog(id=ids.DATA_DELETE_CONFIRM,
                                      message="Delete this dataset and its report? This cannot be undone."),
                    html.Div(id=ids.DATA_DELETE_RESULT, className="small mt-2"),
                ])),
            ], md=3),
        ]),
        dcc.Store(id=CTX, data={"dataset": selected}),
        page_url(PAGE),
    ])


def refresh_table(uploaded: str | None, ctx: dict | None) -> list:
    """The datasets table again once an upload has stored ``uploaded`` (the selection stays as it was)."""
    if not uploaded:
        raise PreventUpdate
    return dataset_table(DatasetStore(current_settings().data_dir), str((ctx or {}).get("dataset", "")))


callback(Output(ids.DATA_TABLE, "children"), Input(ids.DATA_UPLOADED, "value"), State(CTX, "data"),
         prevent_initial_call=True)(refresh_table)
register_events_editor(CTX)


@callback(Output(ids.DATA_DELETE_CONFIRM, "displayed"), Input(ids.DATA_DELETE, "n_clicks"),
          prevent_initial_call=True)
def _confirm(n):
    if not n:
        raise PreventUpdate
    return True


def delete_selected(store: DatasetStore, ctx: dict | None):
    """Delete the page's selected dataset (the store validates the id); returns ``(search, message)``."""
    dataset_id = str((ctx or {}).get("dataset", ""))
    denied = request_problem("delete")  # the layout disables the button; a hand-made callback is refused too
    if denied:
        return dash.no_update, dbc.Alert(f"Not deleted: {denied}", color="danger", className="py-1")
    try:
        store.delete(dataset_id)
    except Exception as exc:  # noqa: BLE001 - report any failure in the page
        return dash.no_update, dbc.Alert(f"Not deleted: {exc}", color="danger", className="py-1")
    return f"?deleted={dataset_id}", None


@callback(
    Output(ids.page_url(PAGE), "search"),
    Output(ids.DATA_DELETE_RESULT, "children"),
    Input(ids.DATA_DELETE_CONFIRM, "submit_n_clicks"),
    State(CTX, "data"),
    prevent_initial_call=True,
)
def _delete(n, ctx):
    if not n or not ctx:
        raise PreventUpdate
    return delete_selected(DatasetStore(current_settings().data_dir), ctx)
