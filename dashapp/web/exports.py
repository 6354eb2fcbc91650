"""Exports: a timeline or forecast as CSV, a summary as JSON, a standalone HTML report.

Pure functions (no Dash, no request): the export routes (:mod:`dashapp.web.export_routes`) and
tests call them with results the pages already computed.

- CSV: numbers are written as Python writes floats (they parse back to the
  same values); NaN is an empty cell. Text cells (and headers) that a
  spreadsheet would run as a formula, i.e. starting with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return, get a leading apostrophe (OWASP's CSV-injection
  advice). Numbers are never touched, so negative numbers stay numbers.
- JSON: the summary made JSON-safe (ISO timestamps, ``null`` for NaN).
- HTML: one self-contained file: plotly.js inlined once, every figure as a
  div, the numbers as tables; no script, style or image is fetched from the
  network, so it opens offline and can be mailed.
"""

from __future__ import annotations

import datetime as _dt
import html
import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from core.jsonable import to_jsonable

__all__ = ["FORMULA_PREFIXES", "ExportBundle", "csv_bytes", "forecast_frame", "html_report", "json_bytes",
           "safe_text"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class ExportBundle:
    """What one page exports: its table (CSV), its numbers (JSON) and its figures (HTML report).

    A page module offers ``export_bundle(query: dict) -> ExportBundle`` (``query`` as Dash passes it to
    ``layout``); ``GET /export/<page>/<csv|json|html>?<the page's query>`` serves it.

    Attributes:
        title: report title, e.g. "History: NASA July 1995, balanced/predictive".
        filename: download name without extension (sanitized by the route).
        frame: the timeline or forecast, indexed by period start.
        summary: the numbers (nested dict of JSON-able values).
        figures: ``{heading: go.Figure}`` for the HTML report.
        notes: assumptions and warnings shown in the report.
    """

    title: str
    filename: str
    frame: pd.DataFrame
    summary: dict
    figures: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)


def safe_text(value: str) -> str:
    """A text cell a spreadsheet will show as text, never evaluate."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def _safe_cell(v):
    if isinstance(v, str):
        return safe_text(v)
    if isinstance(v, (pd.Timestamp, _dt.datetime)):
        return v.isoformat()
    return v  # numbers, booleans, None/NaN: written as they are


def csv_bytes(frame: pd.DataFrame, index_label: str | None = "timestamp") -> bytes:
    """A DataFrame as UTF-8 CSV, numbers exact, formula-like text neutralized.

    Args:
        frame: e.g. a simulation timeline (indexed by period start) or :func:`forecast_frame`.
        index_label: header of the index column; None leaves the index out.
    """
    df = frame.copy()
    if index_label is not None:
        idx = df.index
        if isinstance(idx, pd.DatetimeIndex):
            idx = pd.Index([t.isoformat() for t in idx])
        df.insert(0, index_label, list(idx))
    df = df.reset_index(drop=True)
    df.columns = [safe_text(str(c)) for c in df.columns]
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s.dtype):
            df[col] = [None if pd.isna(t) else pd.Timestamp(t).isoformat() for t in s]
        elif not (pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype)):
            df[col] = s.astype(object).map(_safe_cell)
    buf = io.StringIO()
    # float_format=None: pandas writes repr(float), the shortest text that parses back to the same double.
    # CRLF (RFC 4180): the csv module then quotes every cell holding \r or \n, so rows cannot be split.
    df.to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue().encode("utf-8")


def forecast_frame(pred: Mapping) -> pd.DataFrame:
    """core's ``predict()`` dict (or the API's forecast JSON) as a frame indexed by timestamp."""
    ts = pd.DatetimeIndex(pd.to_datetime(list(pred["timestamps"])))
    cols = {k: np.asarray(v, dtype=np.float64) for k, v in pred.items()
            if k == "mean" or k.startswith(("lo-", "hi-"))}
    ordered = ["mean"] + sorted((k for k in cols if k != "mean"), key=lambda k: (float(k[3:]), k[:2] == "hi"))
    return pd.DataFrame({k: cols[k] for k in ordered}, index=pd.Index(ts, name="timestamp"))


def json_bytes(summary) -> bytes:
    """A summary (dict of numbers, timestamps, arrays) as indented, strictly valid JSON."""
    return (json.dumps(to_jsonable(summary), indent=2, allow_nan=False, sort_keys=False) + "\n").encode("utf-8")


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            return "–"
        return f"{f:,.2f}" if abs(f) >= 100 else f"{f:.4g}"
    if isinstance(v, (pd.Timestamp, _dt.datetime)):
        return v.isoformat()
    if isinstance(v, (list, tuple)) and all(not isinstance(x, (dict, list)) for x in v):
        return ", ".join(_fmt(x) for x in v)
    return str(v)


#: Rows of a list of records shown in the report (the JSON download has them all).
MAX_RECORDS = 50
#: Scalars of a list shown before "... (n values)".
MAX_VALUES = 12


def _fmt_key(key: str, v) -> str:
    """``v`` with the unit its key names: ``*_pct`` in %, costs and prices in $, seconds in s."""
    text = _fmt(v)
    if not isinstance(v, (int, float, np.integer, np.floating)) or isinstance(v, bool) or text == "–":
        return text
    k = str(key).lower()
    if k.endswith("_pct") or k.startswith("pct") or k.endswith("percent"):
        return f"{text}%"
    if k == "cost" or k.endswith("_cost") or (k.startswith("cost_") and "vs" not in k) or "price" in k:
        return f"${text}"
    if k.endswith("_s") or k.endswith("_seconds") or k == "seconds":
        return f"{text} s"
    return text


def _cell(key: str, v) -> str:
    if isinstance(v, Mapping):
        return _table(v)
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, Mapping) for x in v):
        return _records(v)
    if isinstance(v, (list, tuple)) and len(v) > MAX_VALUES and all(not isinstance(x, (dict, list)) for x in v):
        return html.escape(", ".join(_fmt(x) for x in v[:MAX_VALUES]) + f", ... ({len(v):,} values; see the JSON)")
    return html.escape(_fmt_key(key, v))


def _table(rows: Mapping) -> str:
    """A two-column table of a flat dict; nested dicts become nested tables, lists of records grid tables."""
    out = ['<table class="kv">']
    for k, v in rows.items():
        out.append(f"<tr><th>{html.escape(str(k))}</th><td>{_cell(k, v)}</td></tr>")
    out.append("</table>")
    return "".join(out)


def _records(rows) -> str:
    """A list of records as one grid: a column per key (nested values as compact tables)."""
    cols: list[str] = []
    for r in rows[:MAX_RECORDS]:
        cols += [k for k in r if k not in cols]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = ["<tr>" + "".join(f"<td>{_cell(c, r.get(c))}</td>" for c in cols) + "</tr>" for r in rows[:MAX_RECORDS]]
    more = (f"<p class='note'>First {MAX_RECORDS} of {len(rows):,} rows; the JSON download has them all.</p>"
            if len(rows) > MAX_RECORDS else "")
    return '<table class="grid">' + f"<tr>{head}</tr>" + "".join(body) + "</table>" + more


def _frame_table(df: pd.DataFrame, max_rows: int = 200) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = []
    for idx, row in df.head(max_rows).iterrows():
        cells = "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row.tolist())
        body.append(f"<tr><th>{html.escape(_fmt(idx))}</th>{cells}</tr>")
    more = f"<p class='note'>First {max_rows} of {len(df)} rows.</p>" if len(df) > max_rows else ""
    return f'<table class="grid"><tr><th></th>{head}</tr>{"".join(body)}</table>{more}'


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1f2933;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d9e2ec}
.meta,.note{color:#52606d;font-size:.9rem}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}
th,td{border:1px solid #d9e2ec;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f7fa;font-weight:600}.grid td{text-align:right}
.figure{margin:1rem 0}
"""


def html_report(
    title: str,
    figures: Mapping[str, go.Figure] | Iterable[tuple[str, go.Figure]] = (),
    summary: Mapping | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    notes: Iterable[str] = (),
    generated: str | None = None,
) -> str:
    """One self-contained HTML page: the figures (plotly.js inlined, no network), the numbers, the notes.

    Args:
        title: the page title and heading.
        figures: ``{heading: figure}`` (or pairs), shown in order.
        summary: the numbers, as a (nested) dict: rendered as tables, and embedded as JSON.
        tables: extra ``{heading: DataFrame}`` (first 200 rows each).
        notes: sentences shown under the title (assumptions, warnings, the query that made it).
        generated: a timestamp to show (default: now, UTC).
    """
    items = list(figures.items()) if isinstance(figures, Mapping) else list(figures)
    generated = generated or pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style>",
    ]
    if items:
        # Inlined once for all figures; "</script" cannot occur inside it unescaped.
        parts.append('<script type="text/javascript">' + get_plotlyjs().replace("</script", "<\\/script")
                     + "</script>")
    parts.append("</head><body>")
    parts.append(f"<h1>{html.escape(title)}</h1>")
    parts.append(f'<p class="meta">Generated {html.escape(generated)} by the traffic capacity workbench.</p>')
    for n in notes:
        parts.append(f'<p class="note">{html.escape(str(n))}</p>')
    for i, (heading, fig) in enumerate(items):
        div = fig.to_html(full_html=False, include_plotlyjs=False, include_mathjax=False, div_id=f"figure-{i}",
                          config={"displaylogo": False, "responsive": True})
        parts.append(f'<h2>{html.escape(str(heading))}</h2><div class="figure">{div}</div>')
    if summary:
        parts.append("<h2>Numbers</h2>")
        parts.append(_table(to_jsonable(dict(summary))))
        blob = json.dumps(to_jsonable(dict(summary)), allow_nan=False).replace("</", "<\\/")
        parts.append(f'<script type="application/json" id="summary-data">{blob}</script>')
    for heading, df in (tables or {}).items():
        parts.append(f"<h2>{html.escape(str(heading))}</h2>{_frame_table(df)}")
    parts.append("</body></html>")
    return "\n".join(parts)
