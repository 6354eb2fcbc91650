"""The downloads and the copy-link button every page shows beside its title.

Each download is a plain link to ``/export/<page>/<csv|json|html>`` + the page's canonical query string
(``Parsed.search()``), so it exports exactly what the page shows. The page is rendered again from its URL
whenever a control writes it (``components.urlsync``), so the links follow the controls. "Copy link" copies
the browser's current address (a clientside callback: no server round trip).
"""

from __future__ import annotations

from dash import MATCH, Input, Output, clientside_callback, dcc, html

from core.registry import EXPORT_FORMATS
from dashapp import ids

__all__ = ["FORMAT_LABELS", "export_bar", "export_href", "export_name"]

#: What each download button says.
FORMAT_LABELS = {"csv": "CSV", "json": "JSON", "html": "HTML report"}
_BUTTON = "btn btn-outline-secondary btn-sm"


def export_name(page: str) -> str:
    """The page's name in export URLs: its module name with ``-`` for ``_`` (``what_if`` -> ``what-if``)."""
    return page.replace("_", "-")


def export_href(page: str, fmt: str, search: str) -> str:
    """``/export/<page>/<fmt>?<query>`` for ``search`` (``""`` or ``"?a=1&..."``)."""
    return f"/export/{export_name(page)}/{fmt}{search}"


def export_bar(page: str, search: str) -> html.Div:
    """Download buttons (one per ``EXPORT_FORMATS``) and "Copy link", for ``page`` at ``search``."""
    links = [html.A(FORMAT_LABELS.get(fmt, fmt.upper()), href=export_href(page, fmt, search), download="",
                    id=ids.export_link(page, fmt), className=_BUTTON, title=f"Download this page as {fmt.upper()}")
             for fmt in EXPORT_FORMATS]
    copy = dcc.Clipboard(id=ids.copy_link(page), children="Copy link", copied_children="Link copied",
                         title="Copy the link to this page, with its settings", className=_BUTTON)
    return html.Div([html.Span("Download:", className="small text-muted me-1"), *links, copy],
                    className="export-bar d-flex flex-wrap gap-1 align-items-center", id=ids.export_bar(page))


# The clipboard copies what its ``content`` becomes after the click: the address as the browser shows it.
clientside_callback(
    "function(n) { return window.location.href; }",
    Output(ids.copy_link(MATCH), "content"),
    Input(ids.copy_link(MATCH), "n_clicks"),
    prevent_initial_call=True,
)
