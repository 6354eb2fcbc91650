"""Charts that re-aggregate on zoom, statelessly.

The figure is sent with about ``N_POINTS`` points per long trace. On zoom
(``relayoutData``) the page's provider reloads the full-resolution columns
from the shared result cache, and the callback patches only the x/y of the
re-aggregated traces for the new range. Nothing is kept per worker or per
user: the store beside the graph holds the page's query string and which
trace shows which column (plotly-resampler's ``FigureResampler`` would keep
figures in worker memory, which gunicorn's workers do not share).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from dash import Input, Output, Patch, State, callback, clientside_callback, dcc, html
from dash.exceptions import PreventUpdate

from dashapp.figures import Marks, ResampledFigure, downsample, parse_relayout, plot_x
from dashapp.ids import rs_graph, rs_source

__all__ = ["resampled_graph", "register_zoom", "rs_zoom", "zoom_patch"]

GRAPH_CONFIG = {"displaylogo": False, "responsive": True}

#: Clientside: pass on only relayouts that change the x range. Plotly also reports autosize and resize
#: relayouts (one as each chart is first drawn); sent to the server they are answered "no update", cost a
#: round trip each and, still in flight when the user's first zoom comes, made the renderer drop that zoom's
#: answer now and then.
_ZOOM_FILTER = """function(r) {
    if (r) {
        for (const k of Object.keys(r)) {
            if (/^xaxis[0-9]*[.](range|autorange)/.test(k)) { return Object.assign({}, r); }
        }
    }
    return window.dash_clientside.no_update;
}"""


def rs_zoom(name: str) -> dict:
    """Id of the store holding chart ``name``'s last x-range relayout."""
    return {"type": "rs-zoom", "name": name}


def resampled_graph(name: str, rf: ResampledFigure, search: str, **graph_kw) -> html.Div:
    """The graph plus the store its zoom callback reads."""
    source = {"search": search, "traces": {str(i): col for i, col in rf.traces.items()}}
    return html.Div([
        dcc.Graph(id=rs_graph(name), figure=rf.figure, config=GRAPH_CONFIG, **graph_kw),
        dcc.Store(id=rs_source(name), data=source),
        dcc.Store(id=rs_zoom(name)),
    ], id=f"{name}-box")


def _y_list(y: np.ndarray) -> list:
    """Values for JSON, NaN (gaps) as null."""
    y = np.asarray(y, dtype=np.float64)
    ys = y.astype(object)
    ys[~np.isfinite(y)] = None
    return ys.tolist()


def _jsonable(x: pd.DatetimeIndex, y: np.ndarray) -> tuple[list, list]:
    """x as milliseconds (the figures' date axes take numbers: no date parsing in the browser); NaN -> null."""
    return plot_x(x).tolist(), _y_list(y)


def zoom_patch(relayout: dict | None, source: dict | None,
               provider: Callable[[str], tuple[pd.DatetimeIndex, dict]]) -> Patch:
    """The figure patch for a relayout event (PreventUpdate when it is not a zoom)."""
    rng = parse_relayout(relayout)
    if rng is None or not source:
        raise PreventUpdate
    x, cols = provider(source.get("search", ""))
    x_range = None if rng == "full" else rng
    patch = Patch()
    for i, col in (source.get("traces") or {}).items():
        if col not in cols:
            continue
        if isinstance(cols[col], Marks):
            mx, my, text = cols[col].visible(x_range)
            patch["data"][int(i)]["x"] = mx.tolist()
            patch["data"][int(i)]["y"] = _y_list(my)
            patch["data"][int(i)]["hovertext"] = text
            continue
        xs, ys = downsample(x, cols[col], x_range=x_range)
        px, py = _jsonable(xs, ys)
        patch["data"][int(i)]["x"] = px
        patch["data"][int(i)]["y"] = py
    return patch


def register_zoom(name: str, provider: Callable[[str], tuple[pd.DatetimeIndex, dict]]) -> None:
    """Register the zoom callback of chart ``name``; ``provider(search) -> (naive local index, columns)``, a column
    being an array (re-aggregated) or ``Marks`` (thinned)."""

    clientside_callback(_ZOOM_FILTER, Output(rs_zoom(name), "data"), Input(rs_graph(name), "relayoutData"),
                        prevent_initial_call=True)

    @callback(
        Output(rs_graph(name), "figure"),
        Input(rs_zoom(name), "data"),
        State(rs_source(name), "data"),
        prevent_initial_call=True,
    )
    def _zoom(relayout, source):
        return zoom_patch(relayout, source, provider)
