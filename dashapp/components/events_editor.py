"""The Data page's events editor: the selected dataset's custom events, added, edited and removed in the store.

A form (name, first day, last day, impact) and the list of the dataset's events. "Save event" adds the event,
or replaces the one picked for editing (a click on its name in the list fills the form); "Remove event" removes
the event named in the form. Every change is the whole list through ``DatasetStore.set_events`` (validated,
replaced atomically); the History and Forecast pages show the events as bands and the forecasts use them as
regressors (their caches key on the events). Editing needs the upload permission when the lists are set
(``dashapp.runtime.auth``): others see the list and why they cannot change it.
"""

from __future__ import annotations

import re

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from core.errors import InputError
from core.events import IMPACTS, Event, parse_events
from core.store import DatasetStore
from dashapp import ids
from dashapp.runtime.auth import request_problem
from dashapp.runtime.settings import current_settings

__all__ = ["events_card", "event_rows", "save_event", "remove_event", "register_events_editor"]

_IMPACT_LABELS = {"high_traffic": "high traffic", "low_traffic": "low traffic", "outage": "outage"}


def event_rows(events) -> html.Tbody:
    """The list's rows: the name (a button that picks the event for editing), days and impact."""
    if not events:
        return html.Tbody(html.Tr(html.Td("No custom events yet: the built-in calendar applies.", colSpan=4,
                                          className="text-muted")))
    return html.Tbody([html.Tr([
        html.Td(html.Button(e.name, id={"type": ids.DATA_EVENT_PICK, "index": i}, n_clicks=0,
                            className="btn btn-link btn-sm p-0 text-start", title="Edit this event")),
        html.Td(e.start.isoformat()), html.Td(e.end.isoformat()), html.Td(_IMPACT_LABELS[e.impact]),
    ]) for i, e in enumerate(events)])


def events_card(store: DatasetStore, dataset_id: str) -> dbc.Card:
    """The editor for ``dataset_id``'s events (the buttons disabled, with the reason, for who may not edit)."""
    info = store.info(dataset_id)
    denied = request_problem("events")
    try:
        events, damaged = store.events(dataset_id), None
    except InputError as exc:  # an events.json damaged by hand: say so, and how to set them again
        events, damaged = (), dbc.Alert(str(exc), color="warning", className="small py-1")
    field = {"type": "text", "size": "sm", "debounce": False}
    form = dbc.Row([
        dbc.Col(dbc.Input(id=ids.DATA_EVENT_NAME, placeholder="name, e.g. Summer sale", **field), md=4),
        dbc.Col(dbc.Input(id=ids.DATA_EVENT_START, placeholder="first day YYYY-MM-DD", **field), md=2),
        dbc.Col(dbc.Input(id=ids.DATA_EVENT_END, placeholder="last day (default: first)", **field), md=2),
        dbc.Col(dbc.Select(id=ids.DATA_EVENT_IMPACT, value=IMPACTS[0], size="sm",
                           options=[{"label": _IMPACT_LABELS[i], "value": i} for i in IMPACTS]), md=2),
        dbc.Col([
            dbc.Button("Save event", id=ids.DATA_EVENT_SAVE, size="sm", color="primary", disabled=bool(denied),
                       className="me-1"),
            dbc.Button("Remove event", id=ids.DATA_EVENT_REMOVE, size="sm", color="secondary", outline=True,
                       disabled=bool(denied)),
        ], md=2, className="d-flex align-items-start"),
    ], className="g-1 mb-2")
    return dbc.Card(dbc.CardBody([
        html.H6("Events"),
        html.P(f"Known days that move the traffic of {info.name} (whole local days, the last one included; "
               f"the data covers {info.start[:10]} .. {info.end[:10]}). The forecasts use them as regressors "
               "beside the built-in calendar, and History and Forecast show them as bands. Click a name to "
               "edit it.", className="small text-muted"),
        *([damaged] if damaged else []),
        dbc.Table([_head(), event_rows(events)], id=ids.DATA_EVENTS, size="sm", striped=True,
                  className="mb-2"),
        form,
        *([html.P(f"Not editable: {denied}", id=ids.DATA_EVENTS_DENIED, className="small text-muted mb-0")]
          if denied else []),
        html.Div(id=ids.DATA_EVENT_RESULT, className="small"),
        dcc.Store(id=ids.DATA_EVENT_EDITING, data=None),
    ]), className="mb-3", id=ids.DATA_EVENTS_CARD)


def _short(exc: InputError) -> str:
    return re.sub(r"^event \d+: ", "", str(exc))  # one event in the form: no "event 1:" prefix


def save_event(store: DatasetStore, dataset_id: str, record: dict, editing: str | None = None
               ) -> tuple[tuple[Event, ...], str]:
    """Add ``record`` (``name``, ``start``, ``end``, ``impact``) to the dataset's events, or replace the event
    named ``editing`` by it; returns ``(the events as stored, what was done)``.

    Raises:
        InputError: a bad field (the message names it and the fix), or a name another event has.
    """
    record = {k: (v.strip() if isinstance(v, str) else v) for k, v in record.items()}
    if not record.get("name"):
        raise InputError("the event needs a name: type one in the name field")
    if not record.get("start"):
        raise InputError("the event needs its first day: type it as YYYY-MM-DD")
    if not record.get("end"):
        record["end"] = record["start"]  # one day
    try:
        event = parse_events([record])[0]
    except InputError as exc:
        raise InputError(_short(exc)) from None
    done = []

    def change(current):
        others = [e for e in current if e.name != editing]
        if any(e.name == event.name for e in others):
            raise InputError(f"an event named {event.name!r} exists: click its name in the list to edit it, or "
                             "choose another name")
        if editing is not None and len(others) < len(current):
            done.append(f"Saved {event.name!r}" + (f" (was {editing!r})" if editing != event.name else ""))
            return [event if e.name == editing else e for e in current]
        done.append(f"Added {event.name!r}")
        return [*current, event]

    return store.update_events(dataset_id, change), done[0]


def remove_event(store: DatasetStore, dataset_id: str, name: str | None) -> tuple[tuple[Event, ...], str]:
    """Remove the event named ``name``; returns ``(the events as stored, what was done)``.

    Raises:
        InputError: no event of that name.
    """
    name = (name or "").strip()

    def change(current):
        kept = [e for e in current if e.name != name]
        if len(kept) == len(current):
            raise InputError(f"no event named {name!r}: click a name in the list, then Remove event" if name else
                             "type or pick (click in the list) the name of the event to remove")
        return kept

    return store.update_events(dataset_id, change), f"Removed {name!r}"


def register_events_editor(context_id: str) -> None:
    """The editor's callbacks; ``context_id`` is the page's store holding ``{"dataset": id}``."""

    @callback(
        Output(ids.DATA_EVENT_NAME, "value"), Output(ids.DATA_EVENT_START, "value"),
        Output(ids.DATA_EVENT_END, "value"), Output(ids.DATA_EVENT_IMPACT, "value"),
        Output(ids.DATA_EVENT_EDITING, "data"),
        Input({"type": ids.DATA_EVENT_PICK, "index": ALL}, "n_clicks"), State(context_id, "data"),
        prevent_initial_call=True,
    )
    def _pick(clicks, context):
        picked = ctx.triggered_id
        if not isinstance(picked, dict) or not any(clicks or ()):
            raise PreventUpdate
        events = DatasetStore(current_settings().data_dir).events(str((context or {}).get("dataset", "")))
        if picked["index"] >= len(events):
            raise PreventUpdate
        e = events[picked["index"]]
        return e.name, e.start.isoformat(), e.end.isoformat(), e.impact, e.name

    @callback(
        Output(ids.DATA_EVENTS, "children"), Output(ids.DATA_EVENT_RESULT, "children"),
        Output(ids.DATA_EVENT_EDITING, "data", allow_duplicate=True),
        Input(ids.DATA_EVENT_SAVE, "n_clicks"), Input(ids.DATA_EVENT_REMOVE, "n_clicks"),
        State(ids.DATA_EVENT_NAME, "value"), State(ids.DATA_EVENT_START, "value"),
        State(ids.DATA_EVENT_END, "value"), State(ids.DATA_EVENT_IMPACT, "value"),
        State(ids.DATA_EVENT_EDITING, "data"), State(context_id, "data"),
        prevent_initial_call=True,
    )
    def _change(save, remove, name, start, end, impact, editing, context):
        if not (save or remove):
            raise PreventUpdate
        denied = request_problem("events")  # the layout disables the buttons; a hand-made callback is refused too
        if denied:
            return dash.no_update, dbc.Alert(f"Not saved: {denied}", color="danger", className="py-1"), dash.no_update
        store = DatasetStore(current_settings().data_dir)
        dataset_id = str((context or {}).get("dataset", ""))
        try:
            if ctx.triggered_id == ids.DATA_EVENT_REMOVE:
                events, done = remove_event(store, dataset_id, name)
            else:
                record = {"name": name, "start": start, "end": end, "impact": impact}
                events, done = save_event(store, dataset_id, record, editing)
        except InputError as exc:
            verb = "removed" if ctx.triggered_id == ids.DATA_EVENT_REMOVE else "saved"
            return dash.no_update, dbc.Alert(f"Not {verb}: {_short(exc)}", color="danger", className="py-1",
                                             id=ids.DATA_EVENT_ERROR), dash.no_update
        note = f"{done}. History and Forecast show it from now on." if not done.startswith("Removed") else \
            f"{done}."
        return [_head(), event_rows(events)], dbc.Alert(note, color="success", className="py-1"), None


def _head() -> html.Thead:
    return html.Thead(html.Tr([html.Th(h) for h in ("Name", "First day", "Last day", "Impact")]))
