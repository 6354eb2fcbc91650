"""Controls -> URL: every change of a page's controls writes its query string.

The URL is the single source of truth: the location change re-renders the page
from the new query (``layout(**query)``), so bookmarks, shared links and
back/forward all show exactly the same scenario.

Which controls write the URL comes from the page's declaration (``state.params_of``): every parameter
with a control, under its id ``ids.control(page, key)``.
"""

from __future__ import annotations

from dash import Input, Output, State, callback

from dashapp import ids
from dashapp.state import params_of, search_from_controls

__all__ = ["register_url_writer", "controls_search", "url_controls"]


def url_controls(page: str) -> list[tuple[str, str]]:
    """``(query key, property)`` of the controls that write ``page``'s URL: each declared parameter with one."""
    return [(p.key, "value") for p in params_of(page) if p.widget != "none"]


def controls_search(page: str, keys: list[str], values: list, context: dict | None) -> str:
    """The query string for the controls' current values plus the page context (e.g. the dataset)."""
    raw = dict(context or {})
    raw.update(zip(keys, values, strict=True))
    return search_from_controls(page, raw)


def register_url_writer(page: str, context_id: str) -> None:
    """Write ``page``'s URL whenever one of its controls (``url_controls(page)``) changes.

    Call it after the page's ``dash.register_page(..., params=PARAMS)``.
    """
    controls = url_controls(page)
    keys = [k for k, _ in controls]

    @callback(
        Output(ids.page_url(page), "search"),
        [Input(ids.control(page, k), prop) for k, prop in controls],
        State(context_id, "data"),
        prevent_initial_call=True,
    )
    def _write(*args):
        *values, context = args
        return controls_search(page, keys, list(values), context)
