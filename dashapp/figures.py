"""Results -> ``go.Figure``. Plain functions, no Dash: tested without a browser.

Long series are reduced to about ``N_POINTS`` per trace with plotly-resampler's
MinMaxLTTB aggregator (tsdownsample underneath; NaN kept so gaps stay gaps).
The figures that re-aggregate on zoom return, with the figure, which trace
shows which full-resolution column (``ResampledFigure.traces``); the zoom
callback uses it to patch just those traces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from plotly_resampler.aggregation import MinMaxLTTB

__all__ = [
    "N_POINTS",
    "ResampledFigure",
    "downsample",
    "local_index",
    "parse_relayout",
    "traffic_figure",
    "simulation_figure",
    "forecast_figure",
    "matrix_figure",
    "pareto_figure",
    "whatif_figure",
    "empty_figure",
]

N_POINTS = 2000
_AGG = MinMaxLTTB(nan_policy="keep")
# No stock template: plotly_white costs ~50 ms per figure (deep copies); this light style costs ~nothing.
_LAYOUT = dict(margin=dict(l=55, r=20, t=40, b=40), hovermode="x unified", paper_bgcolor="white",
               plot_bgcolor="white", font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                                              size=12, color="#2a3f5f"),
               legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0))
_AXIS = dict(gridcolor="#e5ecf6", linecolor="#c8d0da", zeroline=False, showgrid=True, automargin=True)
METRIC_LABELS = {"requests": "requests per period", "bytes": "bytes per period", "error_rate": "error rate (%)"}
_GAP_COLOR = {"missing": "rgba(120,120,120,0.25)", "silent": "rgba(220,120,0,0.18)"}
_EVENT_COLOR = {"high_traffic": "rgba(40,120,220,0.10)", "low_traffic": "rgba(120,120,120,0.10)",
                "outage": "rgba(220,60,60,0.10)"}


@dataclass
class ResampledFigure:
    """A figure and, for each re-aggregated trace, the column it shows (trace index -> column)."""

    figure: go.Figure
    traces: dict[int, str] = field(default_factory=dict)


def local_index(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Wall-clock time in the data's own offset, without it (Plotly shows naive times as given)."""
    index = pd.DatetimeIndex(index)
    return index.tz_localize(None) if index.tz is not None else index


def downsample(x: pd.DatetimeIndex, y: np.ndarray, n_out: int = N_POINTS, x_range=None
               ) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """At most about ``n_out`` representative points of ``y`` over ``x_range`` (naive local times)."""
    x = pd.DatetimeIndex(x)
    y = np.asarray(y, dtype=np.float64)
    if x_range is not None:
        lo = x.searchsorted(pd.Timestamp(x_range[0]), side="left")
        hi = x.searchsorted(pd.Timestamp(x_range[1]), side="right")
        # One point either side so the line reaches the edges of the view.
        lo, hi = max(0, lo - 1), min(len(x), hi + 1)
        x, y = x[lo:hi], y[lo:hi]
    if len(y) <= n_out:
        return x, y
    idx = _AGG.arg_downsample(np.ascontiguousarray(x.asi8), np.ascontiguousarray(y), n_out=n_out)
    return x[idx], y[idx]


_RANGE_KEYS = re.compile(r"^xaxis\d*\.range(\[0\])?$")


def parse_relayout(relayout: dict | None):
    """The new x range of a zoom (``(lo, hi)``), ``"full"`` for autorange, or None for other relayouts."""
    if not relayout:
        return None
    for k, v in relayout.items():
        if re.match(r"^xaxis\d*\.autorange$", k) and v:
            return "full"
        if _RANGE_KEYS.match(k):
            if k.endswith("[0]"):
                hi = relayout.get(k[:-3] + "[1]")
                return (v, hi) if hi is not None else None
            if isinstance(v, (list, tuple)) and len(v) == 2:
                return tuple(v)
    return None


def empty_figure(message: str) -> go.Figure:
    fig = _figure()
    _style(fig, xaxis=dict(visible=False), yaxis=dict(visible=False),
                      annotations=[dict(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")])
    return fig


def _figure(**subplots) -> go.Figure:
    """A figure without the stock template (or a subplot grid when ``rows``/``cols``/``specs`` are given)."""
    base = go.Figure(layout=dict(template="none"))
    return make_subplots(figure=base, **subplots) if subplots else base


def _style(fig: go.Figure, **layout) -> go.Figure:
    fig.update_layout(**{**_LAYOUT, **layout})
    fig.update_xaxes(**_AXIS)
    fig.update_yaxes(**_AXIS)
    return fig


def _naive(t) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize(None) if t.tz is not None else t


def _vrect(x0, x1, color, label, position: str, *, yref: str = "paper", xref: str = "x", angle: int = 0,
           font_size: int = 10) -> tuple[dict, dict]:
    """A shaded band and its label as plain dicts (``add_vrect`` validates too slowly for page loads)."""
    shape = dict(type="rect", xref=xref, yref=yref, x0=x0, x1=x1, y0=0, y1=1, fillcolor=color, line=dict(width=0),
                 layer="below")
    top = position.startswith("top")
    ann = dict(x=x0, y=1 if top else 0, xref=xref, yref=yref, text=label, showarrow=False, xanchor="left",
               yanchor="top" if top else "bottom", font=dict(size=font_size), textangle=angle)
    return shape, ann


def _gap_bands(gaps, lo, hi) -> tuple[list, list]:
    shapes, anns = [], []
    for g in gaps:
        s, e = _naive(g["start"]), _naive(g["end"])
        if e < lo or s > hi:
            continue
        label = "no data" if g.get("kind") == "missing" else "outage"
        sh, an = _vrect(s, e, _GAP_COLOR.get(g.get("kind"), _GAP_COLOR["missing"]), label, "top left")
        shapes.append(sh)
        anns.append(an)
    return shapes, anns


def _event_bands(events) -> tuple[list, list]:
    shapes, anns = [], []
    for ev in events:
        s = pd.Timestamp(ev["start"])
        e = pd.Timestamp(ev["end"]) + pd.Timedelta(days=1)
        sh, an = _vrect(s, e, _EVENT_COLOR.get(ev["impact"], _EVENT_COLOR["low_traffic"]), ev["name"],
                        "bottom left", angle=-90, font_size=9)
        shapes.append(sh)
        anns.append(an)
    return shapes, anns


def _decorate(fig: go.Figure, *bands: tuple[list, list]) -> None:
    shapes = [s for b in bands for s in b[0]]
    anns = [a for b in bands for a in b[1]]
    fig.update_layout(shapes=list(fig.layout.shapes) + shapes, annotations=list(fig.layout.annotations) + anns)


def _anomaly_trace(x: pd.DatetimeIndex, y: np.ndarray, anomalies) -> go.Scatter | None:
    pts = [a for a in anomalies if a.get("method") in ("zscore", "ddos")]
    if not pts:
        return None
    ts = local_index(pd.DatetimeIndex([pd.Timestamp(a["start"]) for a in pts]))
    pos = np.clip(x.searchsorted(ts), 0, len(x) - 1)
    text = [f"{a['method']} anomaly, {a['periods']} period(s), score {a['score']:.1f}" if a.get("score") is not None
            else f"{a['method']} anomaly" for a in pts]
    return go.Scatter(x=x[pos], y=y[pos], mode="markers", name="anomaly",
                      marker=dict(symbol="triangle-up", size=9, color="#d62728"), hovertext=text,
                      hoverinfo="text+x")


def traffic_figure(index, values, metric: str = "requests", gaps=(), events=(), anomalies=(), x_range=None,
                   title: str | None = None) -> ResampledFigure:
    """Traffic over time: gaps shaded, events annotated, anomalies marked; the line re-aggregates on zoom."""
    x = local_index(index)
    y = np.asarray(values, dtype=np.float64)
    xs, ys = downsample(x, y, x_range=x_range)
    fig = _figure()
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=METRIC_LABELS.get(metric, metric),
                             line=dict(width=1, color="#1f77b4"), connectgaps=False))
    _decorate(fig, _gap_bands(gaps, x[0], x[-1]) if len(x) else ([], []), _event_bands(events))
    an = _anomaly_trace(x, y, anomalies) if len(x) else None
    if an is not None:
        fig.add_trace(an)
    _style(fig, title=title, yaxis_title=METRIC_LABELS.get(metric, metric), height=380,
                      uirevision="traffic")
    return ResampledFigure(fig, {0: "value"})


def simulation_figure(timeline: pd.DataFrame, gaps=(), x_range=None) -> ResampledFigure:
    """Servers vs demand: demand, capacity, excess demand (overloaded) and dropped; servers on the right axis."""
    x = local_index(timeline.index)
    cols = sim_columns(timeline)
    fig = _figure(specs=[[{"secondary_y": True}]])
    spec = [("demand", "demand", dict(color="#1f77b4", width=1), None, False),
            ("capacity", "capacity", dict(color="#2ca02c", width=1, shape="hv"), None, False),
            ("excess", "overloaded (demand above capacity)", dict(color="#d62728", width=0.5), "tozeroy", False),
            ("dropped", "dropped", dict(color="#8c564b", width=1, dash="dot"), None, False),
            ("servers", "servers (right axis)", dict(color="#ff7f0e", width=1, shape="hv"), None, True)]
    traces = {}
    for i, (col, name, line, fill, secondary) in enumerate(spec):
        xs, ys = downsample(x, cols[col], x_range=x_range)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, line=line, fill=fill), secondary_y=secondary)
        traces[i] = col
    _decorate(fig, _gap_bands(gaps, x[0], x[-1]) if len(x) else ([], []))
    _style(fig, height=360, uirevision="simulation")
    fig.update_yaxes(title_text="requests per period", secondary_y=False)
    fig.update_yaxes(title_text="servers", secondary_y=True, rangemode="tozero")
    return ResampledFigure(fig, traces)


def sim_columns(timeline: pd.DataFrame) -> dict[str, np.ndarray]:
    """The simulation chart's columns, full resolution."""
    demand = timeline["demand"].to_numpy(dtype=np.float64)
    cap = timeline["capacity"].to_numpy(dtype=np.float64)
    excluded = timeline["excluded"].to_numpy(dtype=bool) if "excluded" in timeline else np.zeros(len(demand), bool)
    excess = np.where(excluded, 0.0, np.maximum(np.nan_to_num(demand) - cap, 0.0))
    return {"demand": demand, "capacity": cap, "excess": excess,
            "dropped": timeline["dropped"].to_numpy(dtype=np.float64) if "dropped" in timeline else np.zeros(len(cap)),
            "servers": timeline["servers"].to_numpy(dtype=np.float64)}


def forecast_figure(bundle: dict, events=(), show_anomalies: bool = True, n_out: int = 3000) -> go.Figure:
    """History, the forecast continuing it with its bands, and the actual values after the origin if known."""
    fig = _figure()
    hx, hy = bundle["history"]
    ax, ay = bundle["actual"]
    fc = bundle["forecast"]
    hx, ax = local_index(hx), local_index(ax)
    fx = local_index(fc["timestamps"])
    xs, ys = downsample(hx, hy, n_out)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="history", line=dict(color="#1f77b4", width=1)))
    if len(ax):
        xs, ys = downsample(ax, ay, n_out)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="actual", line=dict(color="#7f7f7f", width=1)))
    band_colors = ["rgba(255,127,14,0.18)", "rgba(255,127,14,0.30)", "rgba(255,127,14,0.40)",
                   "rgba(255,127,14,0.50)"]
    for i, lv in enumerate(sorted(bundle.get("levels", []), reverse=True)):
        hi, lo = np.asarray(fc[f"hi-{lv:g}"]), np.asarray(fc[f"lo-{lv:g}"])
        fig.add_trace(go.Scatter(x=fx, y=hi, mode="lines", line=dict(width=0), showlegend=False,
                                 name=f"{lv:g}% upper", hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=fx, y=lo, mode="lines", line=dict(width=0), fill="tonexty",
                                 fillcolor=band_colors[i % len(band_colors)], name=f"{lv:g}% interval"))
    fig.add_trace(go.Scatter(x=fx, y=np.asarray(fc["mean"]), mode="lines", name=f"forecast ({bundle['label']})",
                             line=dict(color="#ff7f0e", width=2)))
    origin = ([dict(type="line", xref="x", yref="paper", x0=fx[0], x1=fx[0], y0=0, y1=1,
                    line=dict(color="#444", width=1, dash="dash"))], [])
    _decorate(fig, origin if len(fx) else ([], []), _event_bands(events))
    if show_anomalies and len(hx):
        an = _anomaly_trace(hx, np.asarray(hy, dtype=np.float64), bundle.get("anomalies", ()))
        if an is not None:
            fig.add_trace(an)
    _style(fig, height=420, yaxis_title=f"{bundle['target']} per period")
    return fig


def matrix_figure(matrix: dict) -> go.Figure:
    """Three heatmaps (configuration x policy): cost, overloaded periods %, dropped requests %."""
    scen = matrix["scenarios"]
    configs = list(dict.fromkeys(s["config"] for s in scen))
    policies = list(dict.fromkeys(s["policy"] for s in scen))
    panels = [("cost", "Cost ($)", "Blues", "$%{z:,.2f}"), ("overloaded_pct", "Overloaded periods (%)", "Reds",
                                                             "%{z:.2f}%"),
              ("dropped_pct", "Dropped requests (%)", "Oranges", "%{z:.3f}%")]
    fig = _figure(rows=1, cols=3, subplot_titles=[p[1] for p in panels], horizontal_spacing=0.08)
    for j, (key, _title, scale, fmt) in enumerate(panels, start=1):
        z = [[next((s[key] for s in scen if s["config"] == c and s["policy"] == p), None) for p in policies]
             for c in configs]
        fig.add_trace(go.Heatmap(z=z, x=policies, y=configs, colorscale=scale, showscale=False,
                                 texttemplate=fmt, hovertemplate=f"%{{y}}/%{{x}}: {fmt}<extra></extra>",
                                 name=key), row=1, col=j)
    _style(fig, hovermode="closest", height=320)
    fig.update_yaxes(autorange="reversed")
    fig.update_yaxes(showticklabels=False, col=2)
    fig.update_yaxes(showticklabels=False, col=3)
    return fig


def pareto_figure(front: list[dict], knee: dict, presets: list[dict] = (), baselines: dict | None = None
                  ) -> go.Figure:
    """The optimizer's Pareto front of cost vs overloaded periods, with the knee and the presets."""
    fig = _figure()
    if presets:
        fig.add_trace(go.Scatter(x=[p["cost"] for p in presets], y=[p["overloaded_pct"] for p in presets],
                                 mode="markers", name="presets", marker=dict(color="#aaa", size=8),
                                 text=[p["name"] for p in presets], hoverinfo="text+x+y"))
    for name, b in (baselines or {}).items():
        fig.add_trace(go.Scatter(x=[b["cost"]], y=[b["overloaded_pct"]], mode="markers", name=name,
                                 marker=dict(symbol="diamond", size=9)))
    fig.add_trace(go.Scatter(x=[f["cost"] for f in front], y=[f["overloaded_pct"] for f in front],
                             mode="lines+markers", name="Pareto front", line=dict(color="#1f77b4"),
                             text=[f"{f['policy']} {f['candidate']}" for f in front], hoverinfo="text+x+y"))
    fig.add_trace(go.Scatter(x=[knee["cost"]], y=[knee["overloaded_pct"]], mode="markers+text", name="knee",
                             text=["knee"], textposition="top right",
                             marker=dict(symbol="star", size=16, color="#d62728")))
    _style(fig, hovermode="closest", height=380, xaxis_title="cost ($)",
                      yaxis_title="overloaded periods (%)")
    return fig


def whatif_figure(baseline: pd.DataFrame, scenario: pd.DataFrame, x_range=None) -> ResampledFigure:
    """Demand and servers, baseline vs scenario, on two shared-x panels."""
    x = local_index(baseline.index)
    cols = whatif_columns(baseline, scenario)
    fig = _figure(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("Demand (requests per period)", "Servers"))
    spec = [("demand_base", "baseline demand", "#7f7f7f", 1), ("demand_scen", "scenario demand", "#1f77b4", 1),
            ("servers_base", "baseline servers", "#bbbbbb", 2), ("servers_scen", "scenario servers", "#ff7f0e", 2)]
    traces = {}
    for i, (col, name, color, row) in enumerate(spec):
        xs, ys = downsample(x, cols[col], x_range=x_range)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, line=dict(color=color, width=1)), row=row, col=1)
        traces[i] = col
    _style(fig, height=480, uirevision="whatif", legend=dict(orientation="h", y=1.1, yanchor="bottom", x=0),
           margin=dict(l=55, r=20, t=70, b=40))
    return ResampledFigure(fig, traces)


def whatif_columns(baseline: pd.DataFrame, scenario: pd.DataFrame) -> dict[str, np.ndarray]:
    return {"demand_base": baseline["demand"].to_numpy(np.float64),
            "demand_scen": scenario["demand"].to_numpy(np.float64),
            "servers_base": baseline["servers"].to_numpy(np.float64),
            "servers_scen": scenario["servers"].to_numpy(np.float64)}
