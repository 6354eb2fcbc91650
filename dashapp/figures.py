"""Results -> ``go.Figure``. Plain functions, no Dash: tested without a browser.

Long series are reduced to about ``N_POINTS`` per trace with plotly-resampler's
MinMaxLTTB aggregator (tsdownsample underneath; NaN kept so gaps stay gaps).
The figures that re-aggregate on zoom return, with the figure, which trace
shows which full-resolution column (``ResampledFigure.traces``); the zoom
callback uses it to patch just those traces.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly_resampler.aggregation import MinMaxLTTB

from dashapp.labels import label, labels

__all__ = [
    "N_POINTS",
    "Marks",
    "MAX_MARKS",
    "ResampledFigure",
    "downsample",
    "plot_x",
    "local_index",
    "parse_relayout",
    "traffic_figure",
    "simulation_figure",
    "forecast_figure",
    "matrix_figure",
    "pareto_figure",
    "whatif_figure",
    "empty_figure",
    "gap_label",
    "label_gaps",
    "time_title",
    "RATE_UNITS",
    "Rate",
    "PER_PERIOD",
]

#: Points per re-aggregated trace: about one per pixel of a full-width chart (plotly-resampler's default).
N_POINTS = 1000
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


def plot_x(x: pd.DatetimeIndex) -> np.ndarray:
    """Naive local times as milliseconds since the epoch: what a Plotly date axis takes as numbers.

    Numbers travel as a typed array and need no date parsing in the browser (thousands of date strings
    per trace would); the axis shows them as the same wall-clock times (Plotly treats dates as UTC).
    """
    return pd.DatetimeIndex(x).as_unit("ms").asi8.astype(np.float64)


def empty_figure(message: str) -> go.Figure:
    return _build([], xaxis=dict(visible=False), yaxis=dict(visible=False),
                  annotations=[dict(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")])


def _build(traces: list[dict], *, axes: tuple[str, ...] = ("xaxis", "yaxis"), **layout) -> go.Figure:
    """One figure from plain trace and layout dicts, validated once (no stock template: plotly_white costs
    ~50 ms per figure in deep copies; incremental ``update_layout``/``make_subplots`` calls cost ~10-70 ms
    each). ``axes`` get the light axis style under their own settings."""
    lay = {"template": "none", **_LAYOUT, **layout}
    for name in axes:
        lay[name] = {**_AXIS, **lay.get(name, {})}
    return go.Figure({"data": traces, "layout": lay})


def _line(x, y, name: str, **kw) -> dict:
    return dict(type="scatter", x=x, y=y, mode="lines", name=name, **kw)


def _subplot_title(text: str, x: float, y: float) -> dict:
    return dict(text=text, x=x, y=y, xref="paper", yref="paper", xanchor="center", yanchor="bottom",
                showarrow=False, font=dict(size=14))


def _naive(t) -> pd.Timestamp:
    t = pd.Timestamp(t)
    return t.tz_localize(None) if t.tz is not None else t


def time_title(index) -> str:
    """The time axis' title naming the data's time zone: ``time (UTC-04:00)``, ``time (Europe/Paris)``."""
    index = pd.DatetimeIndex(index)
    tz = index.tz
    if tz is None:
        return "time"
    if isinstance(tz, dt.timezone) and len(index):  # a fixed offset: the same along the whole axis
        minutes = int(index[0].utcoffset().total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        return f"time (UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d})"
    return f"time ({tz})"


#: Units of the rate charts' y axes and hover (the pages' ``unit`` parameter): per second (``rps``, what ops
#: dashboards show, the same at every granularity) or per period, as counted.
RATE_UNITS = ("rps", "period")
#: What each metric counts, short, for hover labels (``error_rate`` is a percentage: no unit to change).
_SHORT = {"requests": "req", "bytes": "B"}


@dataclass(frozen=True)
class Rate:
    """How a chart shows counts per period: per second (``rps``: the counts / the period's seconds) or as
    counted (``period``)."""

    unit: str = "period"
    period_seconds: float = 60.0

    def __post_init__(self):
        if self.unit not in RATE_UNITS:
            raise ValueError(f"unit must be one of {', '.join(RATE_UNITS)}, got {self.unit!r}")
        if not self.period_seconds > 0:
            raise ValueError(f"period_seconds must be > 0, got {self.period_seconds!r}")

    @classmethod
    def of(cls, unit: str, interval) -> Rate:
        """The rate of ``unit`` for periods of ``interval`` (a ``Timedelta`` or seconds)."""
        seconds = interval.total_seconds() if hasattr(interval, "total_seconds") else float(interval)
        return cls(unit, seconds)

    @property
    def factor(self) -> float:
        return 1.0 / self.period_seconds if self.unit == "rps" else 1.0

    def __call__(self, values) -> np.ndarray:
        """``values`` (counts per period) in this unit."""
        return np.asarray(values, dtype=np.float64) * self.factor

    def title(self, quantity: str = "requests") -> str:
        """The y axis' title: ``requests per second`` or ``requests per period``."""
        return f"{quantity} per {'second' if self.unit == 'rps' else 'period'}"

    def hover(self, name: str, quantity: str = "requests") -> str:
        """A trace's hover template naming the unit: ``demand: 12.34 req/s``."""
        short = _SHORT.get(quantity, quantity)
        if self.unit == "rps":
            return f"{name}: %{{y:,.2f}} {short}/s<extra></extra>"
        return f"{name}: %{{y:,.1f}} {short}/period<extra></extra>"


#: Counts as counted (the figure builders' default: callers that know the unit pass theirs).
PER_PERIOD = Rate()


def gap_label(gap: dict, events=()) -> str:
    """What a gap is, as far as the data tell: ``no data`` (core's ``missing``: no values at all), ``outage``
    (no requests while a calendar event of impact ``outage`` is on), else ``no requests`` (core's ``silent``: zero
    requests where traffic was expected; a missing log looks the same as an outage in the counts)."""
    if gap.get("kind") == "missing":
        return "no data"
    s, e = _naive(gap["start"]), _naive(gap["end"])
    for ev in events:
        if ev.get("impact") == "outage" and s < _naive(ev["end"]) + pd.Timedelta(days=1) and e > _naive(ev["start"]):
            return "outage"
    return "no requests"


def label_gaps(gaps, events=()) -> list[dict]:
    """``gaps`` (``Gap.to_dict()``) with their ``label`` (:func:`gap_label`) for the charts."""
    return [{**g, "label": gap_label(g, events)} for g in gaps]


#: Band labels: one lane (px) per row of labels in the strip above the data; the plot width (px) assumed when
#: packing them (a full-width chart on a laptop; narrower charts only make the labels look further apart).
_LANE_PX = 15
_PLOT_WIDTH_PX = 850
_CHAR_PX = 6.2


@dataclass(frozen=True)
class _Band:
    x0: pd.Timestamp
    x1: pd.Timestamp
    color: str
    label: str
    hover: str


def _gap_bands(gaps) -> list[_Band]:
    return [_Band(_naive(g["start"]), _naive(g["end"]), _GAP_COLOR.get(g.get("kind"), _GAP_COLOR["missing"]),
                  g.get("label") or gap_label(g), f"{g.get('label') or gap_label(g)}: {g['start']} .. {g['end']}")
            for g in gaps]


def _event_bands(events) -> list[_Band]:
    return [_Band(_naive(ev["start"]), _naive(ev["end"]) + pd.Timedelta(days=1),
                  _EVENT_COLOR.get(ev["impact"], _EVENT_COLOR["low_traffic"]), ev["name"],
                  f"{ev['name']} ({ev['impact'].replace('_', ' ')}): {ev['start']} .. {ev['end']}")
            for ev in events]


def _band_layout(bands: list[_Band], lo, hi, plot_px: float, xref: str = "x") -> tuple[list, list, float]:
    """Shapes and labels of ``bands`` clipped to the window ``[lo, hi]``, and the share of the plot height the
    labels take at its top.

    Clipping keeps the axis on the window (plotly's autorange takes in every shape). The labels are horizontal,
    each at the left of its band, in a strip above the data (the caller ends the data's y domain below it), in
    lanes so that no two overlap.
    """
    if not bands or lo is None or hi is None:
        return [], [], 0.0
    lo, hi = _naive(lo), _naive(hi)
    per_px = max((hi - lo) / _PLOT_WIDTH_PX, pd.Timedelta(seconds=1))
    lane_frac = _LANE_PX / max(plot_px, 1.0)
    shapes, anns, lane_ends = [], [], []
    for b in sorted(bands, key=lambda b: (b.x0, b.x1)):
        x0, x1 = max(b.x0, lo), min(b.x1, hi)
        if x1 <= x0:
            continue
        shapes.append(dict(type="rect", xref=xref, yref="paper", x0=x0, x1=x1, y0=0, y1=1, fillcolor=b.color,
                           line=dict(width=0), layer="below"))
        end = x0 + per_px * (len(b.label) * _CHAR_PX + 10)
        lane = next((k for k, e in enumerate(lane_ends) if e <= x0), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(end)
        else:
            lane_ends[lane] = end
        anns.append(dict(x=x0, y=1 - lane * lane_frac, xref=xref, yref="paper", text=b.label, hovertext=b.hover,
                         showarrow=False, xanchor="left", yanchor="top", xshift=2, font=dict(size=10)))
    return shapes, anns, min(len(lane_ends) * lane_frac + (0.02 if lane_ends else 0.0), 0.5)


def _plot_px(height: int) -> float:
    return height - _LAYOUT["margin"]["t"] - _LAYOUT["margin"]["b"]


#: Anomaly marks drawn at most per chart range: each marker is its own SVG node, and ~500 of them (two months
#: at 1 minute) doubled the chart's redraw time on zoom. One per bucket of the range (the highest score)
#: loses nothing visible at the full view; zoomed in, every mark of the range shows.
MAX_MARKS = 150


def _mark_text(a: dict) -> str:
    """An anomaly mark's hover text, saying what its score is relative to."""
    if a.get("score") is None:
        return f"{a['method']} anomaly"
    if a["method"] == "zscore":
        return f"unusual for this time of day: z {a['score']:.1f} against the expected level, {a['periods']} period(s)"
    if a["method"] == "ddos":
        return f"DDoS-like: requests per host {a['score']:.1f}x their usual, {a['periods']} period(s)"
    return f"{a['method']} anomaly, {a['periods']} period(s), score {a['score']:.1f}"


@dataclass(frozen=True)
class Marks:
    """Point marks (anomalies) at naive local times, thinned per visible range like the lines."""

    x: pd.DatetimeIndex
    y: np.ndarray
    text: tuple[str, ...]
    score: np.ndarray

    @classmethod
    def anomalies(cls, x: pd.DatetimeIndex, y: np.ndarray, anomalies) -> Marks:
        """The z-score and DDoS runs of ``anomalies`` (``core.anomalies`` periods) on the series ``x, y``."""
        pts = sorted((a for a in anomalies if a.get("method") in ("zscore", "ddos")), key=lambda a: a["start"])
        if not pts or not len(x):
            return cls(pd.DatetimeIndex([]), np.empty(0), (), np.empty(0))
        ts = local_index(pd.DatetimeIndex([pd.Timestamp(a["start"]) for a in pts]))
        pos = np.clip(x.searchsorted(ts), 0, len(x) - 1)
        text = tuple(_mark_text(a) for a in pts)
        score = np.array([a.get("score") or 0.0 for a in pts], dtype=np.float64)
        return cls(x[pos], np.asarray(y, dtype=np.float64)[pos], text, score)

    def visible(self, x_range=None, n_out: int = MAX_MARKS) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``(x ms, y, hover texts)`` of the marks in ``x_range``, at most ``n_out`` (the top score per bucket)."""
        idx = np.arange(len(self.x))
        if x_range is not None and len(idx):
            lo = self.x.searchsorted(pd.Timestamp(x_range[0]), side="left")
            hi = self.x.searchsorted(pd.Timestamp(x_range[1]), side="right")
            idx = idx[lo:hi]
        if len(idx) > n_out:
            t = self.x.asi8[idx].astype(np.float64)
            bucket = np.minimum(((t - t[0]) / max(t[-1] - t[0], 1.0) * n_out).astype(np.int64), n_out - 1)
            order = np.lexsort((-self.score[idx], bucket))  # by bucket, best score first
            first = np.ones(len(order), dtype=bool)
            first[1:] = bucket[order][1:] != bucket[order][:-1]
            idx = np.sort(idx[order[first]])
        return plot_x(self.x[idx]), self.y[idx], [self.text[k] for k in idx]


def _marks_trace(marks: Marks, x_range=None) -> dict | None:
    if not len(marks.x):
        return None
    xs, ys, text = marks.visible(x_range)
    return dict(type="scatter", x=xs, y=ys, mode="markers", name="anomaly", hovertext=text, hoverinfo="text+x",
                marker=dict(symbol="triangle-up", size=9, color="#d62728"))


def _anomaly_trace(x: pd.DatetimeIndex, y: np.ndarray, anomalies) -> dict | None:
    pts = [a for a in anomalies if a.get("method") in ("zscore", "ddos")]
    if not pts:
        return None
    ts = local_index(pd.DatetimeIndex([pd.Timestamp(a["start"]) for a in pts]))
    pos = np.clip(x.searchsorted(ts), 0, len(x) - 1)
    text = [_mark_text(a) for a in pts]
    return dict(type="scatter", x=x[pos], y=y[pos], mode="markers", name="anomaly",
                marker=dict(symbol="triangle-up", size=9, color="#d62728"), hovertext=text, hoverinfo="text+x")


def metric_rate(rate: Rate, metric: str) -> Rate:
    """``rate`` for a metric that counts (requests, bytes); per period (unchanged) for a percentage."""
    return rate if metric in _SHORT else PER_PERIOD


def traffic_figure(index, values, metric: str = "requests", gaps=(), events=(), anomalies=(), x_range=None,
                   title: str | None = None, rate: Rate = PER_PERIOD) -> ResampledFigure:
    """Traffic over time: gaps shaded, events annotated, anomalies marked; the line and the marks re-aggregate
    on zoom (trace 0 shows column ``value``, trace 1 the ``anomalies`` marks). ``values`` are per period;
    ``rate`` is the unit shown (requests and bytes; an error rate stays a percentage)."""
    x = local_index(index)
    rate = metric_rate(rate, metric)
    y = rate(values)
    xs, ys = downsample(x, y, x_range=x_range)
    name = rate.title(metric) if metric in _SHORT else METRIC_LABELS.get(metric, metric)
    traces = [_line(plot_x(xs), ys, name, line=dict(width=1, color="#1f77b4"), connectgaps=False,
                    **({"hovertemplate": rate.hover(name, metric)} if metric in _SHORT else {}))]
    an = _marks_trace(Marks.anomalies(x, y, anomalies), x_range)
    if an is not None:
        traces.append(an)
    height = 380
    lo, hi = (x[0], x[-1]) if len(x) else (None, None)
    shapes, anns, strip = _band_layout(_gap_bands(gaps) + _event_bands(events), lo, hi, _plot_px(height))
    fig = _build(traces, title=title, height=height, uirevision="traffic", shapes=shapes, annotations=anns,
                 yaxis=dict(title=dict(text=name), domain=[0.0, 1.0 - strip]),
                 xaxis=dict(type="date", title=dict(text=time_title(index))))
    return ResampledFigure(fig, {0: "value", **({1: "anomalies"} if an is not None else {})})


def simulation_figure(timeline: pd.DataFrame, gaps=(), x_range=None, rate: Rate = PER_PERIOD) -> ResampledFigure:
    """Two rows sharing the time axis: demand, capacity, excess demand (overloaded) and dropped requests above
    (in ``rate``'s unit), the servers running below (capacity is servers x capacity per server: on one axis they
    would coincide)."""
    x = local_index(timeline.index)
    cols = sim_columns(timeline, rate)
    spec = [("demand", "demand", dict(color="#1f77b4", width=1), None, 1),
            ("capacity", "capacity", dict(color="#2ca02c", width=1, shape="hv"), None, 1),
            ("excess", "overloaded (demand above capacity)", dict(color="#d62728", width=0.5), "tozeroy", 1),
            ("dropped", "dropped", dict(color="#8c564b", width=1, dash="dot"), None, 1),
            ("servers", "servers", dict(color="#ff7f0e", width=1, shape="hv"), None, 2)]
    traces, index = [], {}
    for i, (col, name, line, fill, row) in enumerate(spec):
        xs, ys = downsample(x, cols[col], x_range=x_range)
        hover = rate.hover(name) if row == 1 else f"{name}: %{{y:,.0f}}<extra></extra>"
        traces.append(_line(plot_x(xs), ys, name, line=line, **({"fill": fill} if fill else {}),
                            xaxis="x" if row == 1 else "x2", yaxis="y" if row == 1 else "y2", hovertemplate=hover))
        index[i] = col
    height = 420
    lo, hi = (x[0], x[-1]) if len(x) else (None, None)
    shapes, anns, strip = _band_layout(_gap_bands(gaps), lo, hi, _plot_px(height))
    # Two rows (make_subplots' shared_xaxes): the top axis follows the bottom one, which shows the time.
    fig = _build(traces, axes=("xaxis", "xaxis2", "yaxis", "yaxis2"), height=height, uirevision="simulation",
                 shapes=shapes, annotations=anns,
                 xaxis=dict(type="date", anchor="y", domain=[0.0, 1.0], matches="x2", showticklabels=False),
                 xaxis2=dict(type="date", anchor="y2", domain=[0.0, 1.0], title=dict(text=time_title(timeline.index))),
                 yaxis=dict(title=dict(text=rate.title()), anchor="x", domain=[0.36, 1.0 - strip]),
                 yaxis2=dict(title=dict(text="servers"), anchor="x2", domain=[0.0, 0.28], rangemode="tozero"))
    return ResampledFigure(fig, index)


def sim_columns(timeline: pd.DataFrame, rate: Rate = PER_PERIOD) -> dict[str, np.ndarray]:
    """The simulation chart's columns, full resolution: requests in ``rate``'s unit, servers as they are."""
    demand = timeline["demand"].to_numpy(dtype=np.float64)
    cap = timeline["capacity"].to_numpy(dtype=np.float64)
    excluded = timeline["excluded"].to_numpy(dtype=bool) if "excluded" in timeline else np.zeros(len(demand), bool)
    excess = np.where(excluded, 0.0, np.maximum(np.nan_to_num(demand) - cap, 0.0))
    dropped = timeline["dropped"].to_numpy(dtype=np.float64) if "dropped" in timeline else np.zeros(len(cap))
    return {"demand": rate(demand), "capacity": rate(cap), "excess": rate(excess), "dropped": rate(dropped),
            "servers": timeline["servers"].to_numpy(dtype=np.float64)}


def forecast_figure(result, events=(), show_anomalies: bool = True, n_out: int = 3000, unit: str = "period"
                    ) -> go.Figure:
    """History, the forecast continuing it with its bands, and the actual values after the origin if known.

    ``result`` is a :class:`core.forecast.result.ForecastResult`; ``unit`` one of ``RATE_UNITS``.
    """
    rate = Rate.of(unit, result.interval)
    hx, hy = result.history
    ax, ay = result.actual
    hy, ay = rate(hy), rate(ay)
    fc = {k: (rate(v) if k != "timestamps" else v) for k, v in result.prediction.items()}
    hx, ax = local_index(hx), local_index(ax)
    fx = local_index(fc["timestamps"])
    xs, ys = downsample(hx, hy, n_out)
    q = result.target
    traces = [_line(xs, ys, "history", line=dict(color="#1f77b4", width=1), hovertemplate=rate.hover("history", q))]
    if len(ax):
        xs, ys = downsample(ax, ay, n_out)
        traces.append(_line(xs, ys, "actual", line=dict(color="#7f7f7f", width=1),
                            hovertemplate=rate.hover("actual", q)))
    band_colors = ["rgba(255,127,14,0.18)", "rgba(255,127,14,0.30)", "rgba(255,127,14,0.40)",
                   "rgba(255,127,14,0.50)"]
    for i, lv in enumerate(sorted(result.levels, reverse=True)):
        hi, lo = np.asarray(fc[f"hi-{lv:g}"]), np.asarray(fc[f"lo-{lv:g}"])
        traces.append(_line(fx, hi, f"{lv:g}% upper", line=dict(width=0), showlegend=False, hoverinfo="skip"))
        traces.append(_line(fx, lo, f"{lv:g}% interval", line=dict(width=0), fill="tonexty",
                            fillcolor=band_colors[i % len(band_colors)],
                            hovertemplate=rate.hover(f"{lv:g}% lower", q)))
    traces.append(_line(fx, np.asarray(fc["mean"]), f"forecast ({result.label})",
                        line=dict(color="#ff7f0e", width=2), hovertemplate=rate.hover("forecast", q)))
    if show_anomalies and len(hx):
        an = _anomaly_trace(hx, np.asarray(hy, dtype=np.float64), result.anomalies)
        if an is not None:
            traces.append(an)
    height = 420
    ends = [v for v in (hx[0] if len(hx) else None, fx[-1] if len(fx) else None) if v is not None]
    shapes, anns, strip = _band_layout(_event_bands(events), *(ends if len(ends) == 2 else (None, None)),
                                       _plot_px(height))
    if len(fx):
        shapes.insert(0, dict(type="line", xref="x", yref="paper", x0=fx[0], x1=fx[0], y0=0, y1=1,
                              line=dict(color="#444", width=1, dash="dash")))
    return _build(traces, height=height, shapes=shapes, annotations=anns,
                  xaxis=dict(title=dict(text=time_title(fc["timestamps"] if len(fx) else result.history[0]))),
                  yaxis=dict(title=dict(text=rate.title(result.target)), domain=[0.0, 1.0 - strip]))


#: Three side-by-side panels (make_subplots' 1 x 3 grid with horizontal_spacing 0.08).
_THIRDS = ((0.0, 0.28), (0.36, 0.64), (0.72, 1.0))


def matrix_figure(matrix: dict) -> go.Figure:
    """Three heatmaps (configuration x policy): cost, overloaded periods %, dropped requests %."""
    scen = matrix["scenarios"]
    configs = list(dict.fromkeys(s["config"] for s in scen))
    policies = list(dict.fromkeys(s["policy"] for s in scen))
    panels = [("cost", "Cost ($)", "Blues", "$%{z:,.2f}"), ("overloaded_pct", "Overloaded periods (%)", "Reds",
                                                             "%{z:.2f}%"),
              ("dropped_pct", "Dropped requests (%)", "Oranges", "%{z:.3f}%")]
    traces, layout, titles = [], {}, []
    names = [[f"{label(c)} / {label(p)}" for p in policies] for c in configs]
    for j, (key, title, scale, fmt) in enumerate(panels, start=1):
        z = [[next((s[key] for s in scen if s["config"] == c and s["policy"] == p), None) for p in policies]
             for c in configs]
        suffix = "" if j == 1 else str(j)
        traces.append(dict(type="heatmap", z=z, x=policies, y=configs, colorscale=scale, showscale=False,
                           texttemplate=fmt, customdata=names, hovertemplate=f"%{{customdata}}: {fmt}<extra></extra>",
                           name=key, xaxis=f"x{suffix}", yaxis=f"y{suffix}"))
        lo, hi = _THIRDS[j - 1]
        # Ids stay the categories (exports and tests read them); the ticks show their labels.
        layout[f"xaxis{suffix}"] = dict(domain=[lo, hi], anchor=f"y{suffix}", title=dict(text="policy"),
                                        tickvals=policies, ticktext=list(labels(policies)))
        layout[f"yaxis{suffix}"] = dict(domain=[0.0, 1.0], anchor=f"x{suffix}", autorange="reversed",
                                        showticklabels=j == 1, tickvals=configs, ticktext=list(labels(configs)),
                                        title=dict(text="configuration" if j == 1 else ""))
        titles.append(_subplot_title(title, (lo + hi) / 2, 1.0))
    return _build(traces, axes=tuple(layout), hovermode="closest", height=340, annotations=titles, **layout)


def pareto_figure(front: list[dict], knee: dict, presets: list[dict] = (), baselines: dict | None = None
                  ) -> go.Figure:
    """The optimizer's Pareto front of cost vs overloaded periods, with the knee and the presets."""
    traces = []
    if presets:
        traces.append(dict(type="scatter", x=[p["cost"] for p in presets], y=[p["overloaded_pct"] for p in presets],
                           mode="markers", name="presets", marker=dict(color="#aaa", size=8),
                           text=[p["name"] for p in presets], hoverinfo="text+x+y"))
    for name, b in (baselines or {}).items():
        traces.append(dict(type="scatter", x=[b["cost"]], y=[b["overloaded_pct"]], mode="markers", name=label(name),
                           marker=dict(symbol="diamond", size=9)))
    traces.append(dict(type="scatter", x=[f["cost"] for f in front], y=[f["overloaded_pct"] for f in front],
                       mode="lines+markers", name="Pareto front", line=dict(color="#1f77b4"),
                       text=[f"{f['policy']} {f['candidate']}" for f in front], hoverinfo="text+x+y"))
    traces.append(dict(type="scatter", x=[knee["cost"]], y=[knee["overloaded_pct"]], mode="markers+text",
                       name="knee", text=["knee"], textposition="top right",
                       marker=dict(symbol="star", size=16, color="#d62728")))
    return _build(traces, hovermode="closest", height=380, xaxis=dict(title=dict(text="cost ($)")),
                  yaxis=dict(title=dict(text="overloaded periods (%)")))


def whatif_figure(baseline: pd.DataFrame, scenario: pd.DataFrame, x_range=None, rate: Rate = PER_PERIOD
                  ) -> ResampledFigure:
    """Demand (in ``rate``'s unit) and servers, baseline vs scenario, on two shared-x panels."""
    x = local_index(baseline.index)
    cols = whatif_columns(baseline, scenario, rate)
    spec = [("demand_base", "baseline demand", "#7f7f7f", 1), ("demand_scen", "scenario demand", "#1f77b4", 1),
            ("servers_base", "baseline servers", "#bbbbbb", 2), ("servers_scen", "scenario servers", "#ff7f0e", 2)]
    traces, index = [], {}
    for i, (col, name, color, row) in enumerate(spec):
        xs, ys = downsample(x, cols[col], x_range=x_range)
        hover = rate.hover(name) if row == 1 else f"{name}: %{{y:,.0f}}<extra></extra>"
        traces.append(_line(plot_x(xs), ys, name, line=dict(color=color, width=1), hovertemplate=hover,
                            xaxis="x" if row == 1 else "x2", yaxis="y" if row == 1 else "y2"))
        index[i] = col
    # Two rows sharing x (make_subplots' shared_xaxes with vertical_spacing 0.08): the top axis follows the bottom.
    return ResampledFigure(_build(
        traces, axes=("xaxis", "xaxis2", "yaxis", "yaxis2"), height=480, uirevision="whatif",
        legend=dict(orientation="h", y=1.1, yanchor="bottom", x=0), margin=dict(l=55, r=20, t=70, b=40),
        xaxis=dict(type="date", anchor="y", domain=[0.0, 1.0], matches="x2", showticklabels=False),
        xaxis2=dict(type="date", anchor="y2", domain=[0.0, 1.0], title=dict(text=time_title(baseline.index))),
        yaxis=dict(anchor="x", domain=[0.54, 1.0], title=dict(text=rate.title())),
        yaxis2=dict(anchor="x2", domain=[0.0, 0.46], title=dict(text="servers"), rangemode="tozero"),
        annotations=[_subplot_title(f"Demand ({rate.title()})", 0.5, 1.0), _subplot_title("Servers", 0.5, 0.46)],
    ), index)


def whatif_columns(baseline: pd.DataFrame, scenario: pd.DataFrame, rate: Rate = PER_PERIOD) -> dict[str, np.ndarray]:
    """The what-if chart's columns, full resolution: demand in ``rate``'s unit, servers as they are."""
    return {"demand_base": rate(baseline["demand"].to_numpy(np.float64)),
            "demand_scen": rate(scenario["demand"].to_numpy(np.float64)),
            "servers_base": baseline["servers"].to_numpy(np.float64),
            "servers_scen": scenario["servers"].to_numpy(np.float64)}


_POLICY_COLORS = ("#d62728", "#2ca02c", "#7f7f7f", "#9467bd")


def plan_fan_figure(history: tuple, fan: dict, actual: tuple | None = None, n_out: int = 3000,
                    rate: Rate = PER_PERIOD) -> go.Figure:
    """The last weeks of history, the plan's forecast fan (p5-p95, p10-p90, median, model mean) and, for a plan
    at a past origin, the traffic that came; requests in ``rate``'s unit."""
    hx, hy = local_index(history[0]), rate(history[1])
    fx = local_index(pd.DatetimeIndex(pd.to_datetime(fan["timestamps"])))
    xs, ys = downsample(hx, hy, n_out)
    traces = [_line(xs, ys, "history", line=dict(color="#1f77b4", width=1), hovertemplate=rate.hover("history"))]
    for lo, hi, color in (("p5", "p95", "rgba(255,127,14,0.18)"), ("p10", "p90", "rgba(255,127,14,0.35)")):
        traces.append(_line(fx, rate(fan[hi]), f"{hi}", line=dict(width=0), showlegend=False, hoverinfo="skip"))
        traces.append(_line(fx, rate(fan[lo]), f"{lo}-{hi} of the paths", line=dict(width=0),
                            fill="tonexty", fillcolor=color, hovertemplate=rate.hover(lo)))
    traces.append(_line(fx, rate(fan["p50"]), "median path", line=dict(color="#ff7f0e", width=2),
                        hovertemplate=rate.hover("median path")))
    if actual is not None and len(actual[0]):
        ax = local_index(actual[0])
        xs, ys = downsample(ax, rate(actual[1]), n_out)
        traces.append(_line(xs, ys, "actual (came after the plan)", line=dict(color="#444", width=1),
                            hovertemplate=rate.hover("actual")))
    shapes = [dict(type="line", xref="x", yref="paper", x0=fx[0], x1=fx[0], y0=0, y1=1,
                   line=dict(color="#444", width=1, dash="dash"))] if len(fx) else []
    return _build(traces, height=380, shapes=shapes, xaxis=dict(title=dict(text=time_title(fan["timestamps"]))),
                  yaxis=dict(title=dict(text=rate.title())))


def plan_schedule_figure(policies: list[dict]) -> go.Figure:
    """Each planned policy's hourly server schedule: the p50 of each hour's peak (solid) and its p90 (dotted)."""
    traces, hours = [], pd.DatetimeIndex([])
    for i, p in enumerate(policies):
        color = _POLICY_COLORS[i % len(_POLICY_COLORS)]
        hours = pd.DatetimeIndex(pd.to_datetime([r["hour"] for r in p["schedule"]], utc=False))
        x = local_index(hours)
        for key, dash in (("servers_p50", "solid"), ("servers_p90", "dot")):
            traces.append(dict(type="scatter", x=x, y=[r[key] for r in p["schedule"]], mode="lines",
                               line=dict(color=color, width=2 if dash == "solid" else 1, dash=dash, shape="hv"),
                               name=f"{p['role']}: {key[-3:]}"))
    return _build(traces, height=320, xaxis=dict(title=dict(text=time_title(hours).replace("time", "hour", 1))),
                  yaxis=dict(title=dict(text="servers (peak of the hour)"), rangemode="tozero"))


def plan_cost_figure(policies: list[dict]) -> go.Figure:
    """Cost p10-p90 per policy (bar from p10 to p90, median marked) and, after a past origin, the real cost."""
    names = [f"{p['role']}<br>{p['name']}" for p in policies]
    traces = [dict(type="bar", orientation="h", y=names, x=[p["cost"]["p90"] - p["cost"]["p10"] for p in policies],
                   base=[p["cost"]["p10"] for p in policies], marker=dict(color="rgba(255,127,14,0.35)"),
                   name="cost p10-p90", hovertemplate="%{base:$,.0f} - %{x:$,.0f}<extra></extra>"),
              dict(type="scatter", mode="markers", y=names, x=[p["cost"]["p50"] for p in policies],
                   marker=dict(color="#ff7f0e", size=12, symbol="line-ns-open", line=dict(width=3)),
                   name="median")]
    if any(p.get("realized") for p in policies):
        traces.append(dict(type="scatter", mode="markers", y=names,
                           x=[(p.get("realized") or {}).get("cost") for p in policies],
                           marker=dict(color="#444", size=10, symbol="diamond"), name="real cost"))
    return _build(traces, height=120 + 60 * len(policies), hovermode="closest",
                  xaxis=dict(title=dict(text="cost over the horizon ($)")),
                  yaxis=dict(automargin=True), margin=dict(l=10, r=10, t=30, b=40))
