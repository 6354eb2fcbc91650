"""Building blocks shared by the pages: the page frame, form controls (built from the pages' ``Param``
declarations), alerts, KPI cards, tables."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Sequence

import dash_bootstrap_components as dbc
from dash import dcc, html

from dashapp import ids
from dashapp.components.export_bar import export_bar
from dashapp.state import Param, Parsed, params_of

__all__ = [
    "page_frame",
    "page_url",
    "warnings_alert",
    "error_alert",
    "safe_layout",
    "control",
    "control_panel",
    "field",
    "select",
    "number",
    "text",
    "switch",
    "kpi_row",
    "table",
    "fmt_num",
]

log = logging.getLogger(__name__)


def warnings_alert(messages: list[str]) -> dbc.Alert:
    """The alert naming ignored URL parameters (always in the page, hidden when there are none)."""
    return dbc.Alert(
        [html.Strong("Some parameters in the URL were ignored: "), html.Ul([html.Li(m) for m in messages],
                                                                          className="mb-0")],
        id=ids.WARNINGS, color="warning", is_open=bool(messages), className="py-2",
    )


def error_alert(message: str) -> dbc.Alert:
    return dbc.Alert(message, id=ids.ERROR, color="danger")


def page_url(page: str) -> dcc.Location:
    """The location the page's callbacks write (see ``ids.page_url``)."""
    return dcc.Location(id=ids.page_url(page), refresh="callback-nav")


def page_frame(title: str, parsed: Parsed | None, controls, body, *, subtitle=None, store=None) -> html.Div:
    """Title (with the page's downloads and copy-link button), the URL-warnings alert, a controls column, the
    page body and the page's own location."""
    head = [html.H3(title, className="mb-1")]
    if parsed is not None:
        head = [html.Div([head[0], export_bar(parsed.page, parsed.search())],
                         className="d-flex flex-wrap justify-content-between align-items-center gap-2 mb-1")]
    if subtitle:
        head.append(html.P(subtitle, className="text-muted small mb-2"))
    return html.Div([
        *head,
        warnings_alert(parsed.shown_warnings() if parsed else []),
        dbc.Row([
            dbc.Col(dbc.Card(dbc.CardBody(controls), className="controls"), md=3),
            dbc.Col(body, md=9),
        ]),
        *([store] if store is not None else []),
        *([page_url(parsed.page)] if parsed is not None else []),
    ])


def safe_layout(page: str, title: str):
    """Decorate ``layout(**query)`` so that any failure shows an alert instead of a blank page or a 500."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(**query):
            try:
                return fn(**query)
            except Exception as exc:  # noqa: BLE001 - the page must render whatever happened
                log.exception("building the %s page failed", page)
                return html.Div([
                    html.H3(title), warnings_alert([]),
                    error_alert(f"This page could not be built: {type(exc).__name__}: {str(exc)[:300]}"),
                    dcc.Link("Back to the data page", href="/"),
                ])

        return wrapper

    return deco


def field(label: str, component, help_text: str | None = None) -> html.Div:
    children = [dbc.Label(label, html_for=getattr(component, "id", None), className="small mb-0"), component]
    if help_text:
        children.append(dbc.FormText(help_text))
    return html.Div(children, className="mb-2")


def select(id_, options, value) -> dbc.Select:
    opts = [{"label": o, "value": o} if isinstance(o, str) else {"label": o[1], "value": o[0]} for o in options]
    return dbc.Select(id=id_, options=opts, value=value, size="sm")


def number(id_, value, lo=None, hi=None, step="any") -> dbc.Input:
    return dbc.Input(id=id_, type="number", value=value, min=lo, max=hi, step=step, debounce=True, size="sm")


def text(id_, value, placeholder: str = "") -> dbc.Input:
    return dbc.Input(id=id_, type="text", value=value or "", placeholder=placeholder, debounce=True, size="sm")


def switch(id_, label: str, value: bool) -> dbc.Switch:
    return dbc.Switch(id=id_, label=label, value=bool(value), className="small")


def control(page: str, param: Param, value):
    """The control editing ``param`` on ``page``, built from its declaration.

    Its id is ``ids.control(page, param.key)``; a switch carries its own label, the other widgets come inside
    ``field`` (label, widget, help).

    Raises:
        ValueError: ``param`` has no control (``widget == "none"``).
    """
    id_ = ids.control(page, param.key)
    kind = param.widget
    if kind == "switch":
        return switch(id_, param.label, value)
    if kind == "number":
        step = param.step if param.step is not None else (1 if param.kind == "int" else "any")
        # No min/max on the input: the browser would blank a value outside them and the page would quietly
        # fall back to the default; the server checks lo/hi and warns, as for a bad URL value.
        widget = number(id_, value, step=step)
    elif kind == "slider":
        widget = dcc.Slider(id=id_, min=param.lo, max=param.hi, step=param.step, value=value, updatemode="mouseup",
                            marks=dict(param.marks) or None, tooltip={"placement": "bottom"})
    elif kind == "select":
        widget = select(id_, param.options(), value)
    elif kind == "radio":
        widget = dbc.RadioItems(id=id_, value=value, inline=True,
                                options=[{"label": label, "value": v} for v, label in param.options()])
    elif kind == "text":
        widget = text(id_, None if value is None else param.format(value), param.placeholder)
    else:
        raise ValueError(f"parameter {param.key!r} of page {page!r} has no control (widget {kind!r})")
    return field(param.label, widget, param.help or None)


def control_panel(page: str, values: dict, sections: Sequence[tuple[str | None, Sequence[str]]] | None = None
                  ) -> list:
    """The controls of every parameter ``page`` declared with one, showing ``values``.

    Args:
        page: a registered page (``state.params_of``).
        values: the parsed values (``Parsed.values``).
        sections: ``(heading or None, keys)`` in display order, separated by a rule; default: one section
            without heading, in declaration order.

    Raises:
        ValueError: ``sections`` names a key without a control, or leaves out or repeats one.
    """
    params = {p.key: p for p in params_of(page) if p.widget != "none"}
    sections = sections if sections is not None else [(None, list(params))]
    placed = [k for _, keys in sections for k in keys]
    missing, unknown = [k for k in params if k not in placed], [k for k in placed if k not in params]
    if missing or unknown or len(placed) != len(set(placed)):
        raise ValueError(f"the {page} page's control sections must place each control once: missing "
                         f"{missing or 'none'}, unknown {unknown or 'none'}, placed {placed}")
    out = []
    for i, (heading, keys) in enumerate(sections):
        if i:
            out.append(html.Hr())
        if heading:
            out.append(html.H6(heading))
        out += [control(page, params[k], values.get(k)) for k in keys]
    return out


def fmt_num(v, digits: int = 2, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    if isinstance(v, int):
        return f"{v:,}{unit}"
    return f"{v:,.{digits}f}{unit}"


def kpi_row(items, id_=None, value_class: str = "fs-5") -> dbc.Row:
    """Cards of ``(label, value text, optional note)``."""
    cols = []
    for item in items:
        label, value = item[0], item[1]
        note = item[2] if len(item) > 2 else None
        body = [html.Div(label, className="small text-muted"),
                html.Div(value, className=f"{value_class} fw-semibold kpi-value")]
        if note:
            body.append(html.Div(note, className="small text-muted"))
        cols.append(dbc.Col(dbc.Card(dbc.CardBody(body, className="py-2")), className="mb-2"))
    extra = {"id": id_} if id_ else {}
    return dbc.Row(cols, className="g-2 row-cols-2 row-cols-lg-6", **extra)


def table(columns: list[str], rows: list[list], id_=None, **kw) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(c) for c in columns]))
    body = html.Tbody([html.Tr([html.Td(c) for c in r]) for r in rows])
    extra = {"id": id_} if id_ else {}
    return dbc.Table([head, body], bordered=False, striped=True, hover=True, size="sm", responsive=True, **extra, **kw)
