"""Exports: CSV that parses back to the same numbers with formula cells neutralized, strict JSON, and a
standalone HTML report with the figures (functions, then the download routes over HTTP)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from core.store import DatasetStore
from dashapp.web.exports import FORMULA_PREFIXES, csv_bytes, forecast_frame, html_report, json_bytes, safe_text

EXTERNAL = re.compile(r"<(script|link|img|iframe|source|embed)\b[^>]*\b(src|href)\s*=\s*[\"']?\s*(https?:)?//", re.I)

FIGURE_CALL = re.compile(r'Plotly\.newPlot\(\s*"figure-\d+"')


def read_back(data: bytes) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), keep_default_na=True)


# -- CSV -----------------------------------------------------------------------------------------


def test_csv_numbers_parse_back_exactly():
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(0, 1e6, 500), [0.1, 1 / 3, -2.5, 1e-300, 1.7976931348623157e308, -0.0,
                                                       np.nan, 123456789012345.67]])
    idx = pd.date_range("1995-07-01", periods=len(values), freq="5min", tz="-04:00")
    frame = pd.DataFrame({"demand": values, "servers": np.arange(len(values)) - 3,
                          "overloaded": np.arange(len(values)) % 2 == 0}, index=idx)
    back = read_back(csv_bytes(frame))
    np.testing.assert_array_equal(back["demand"].to_numpy(), values)  # bit-exact, NaN as an empty cell
    np.testing.assert_array_equal(back["servers"].to_numpy(), frame["servers"].to_numpy())
    assert back["overloaded"].tolist() == frame["overloaded"].tolist()
    assert pd.DatetimeIndex(pd.to_datetime(back["timestamp"])).equals(idx)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=False), min_size=1, max_size=30))
def test_csv_round_trip_property(values):
    frame = pd.DataFrame({"x": np.array(values, dtype=np.float64)})
    back = read_back(csv_bytes(frame, index_label=None))
    np.testing.assert_array_equal(back["x"].to_numpy(dtype=np.float64), frame["x"].to_numpy())


@pytest.mark.parametrize("prefix", FORMULA_PREFIXES)
def test_formula_cells_are_neutralized(prefix):
    text = f"{prefix}HYPERLINK(\"http://evil\",\"x\")"
    frame = pd.DataFrame({"name": [text, "plain", "-", "a=b"], "value": [-1.5, 2.0, -3.0, 4.0],
                          f"{prefix}header": [1, 2, 3, 4]})
    data = csv_bytes(frame, index_label=None)
    back = pd.read_csv(io.BytesIO(data), dtype={"name": str}, keep_default_na=False)
    assert back.columns[2] == "'" + f"{prefix}header"
    assert back["name"].tolist() == ["'" + text, "plain", "'-", "a=b"]
    assert back["value"].tolist() == [-1.5, 2.0, -3.0, 4.0]  # numbers untouched, negatives included
    for line in data.decode().splitlines()[1:]:
        first = next(csv.reader([line]))[0]
        assert not first.startswith(FORMULA_PREFIXES)


def test_numbers_in_text_columns_stay_numbers():
    frame = pd.DataFrame({"mixed": [-7, "=1+1", 2.5, None]})
    back = read_back(csv_bytes(frame, index_label=None))
    assert back["mixed"].tolist()[0] in (-7, "-7")
    assert back["mixed"].tolist()[1] == "'=1+1"
    assert safe_text("@SUM(A1)") == "'@SUM(A1)"
    assert safe_text("ok") == "ok"


def test_forecast_frame_csv_round_trip():
    ts = pd.date_range("2024-01-08", periods=5, freq="15min", tz="UTC")
    pred = {"timestamps": ts, "mean": np.array([1.5, 2.25, 3.0, 0.0, 10.125]),
            "lo-95": np.array([0.0, 1, 2, 0, 8]), "hi-95": np.array([3.0, 4, 5, 1, 12]),
            "lo-80": np.array([1.0, 1.5, 2.5, 0, 9]), "hi-80": np.array([2.0, 3, 4, 0.5, 11])}
    frame = forecast_frame(pred)
    assert list(frame.columns) == ["mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    back = read_back(csv_bytes(frame))
    for k in frame.columns:
        np.testing.assert_array_equal(back[k].to_numpy(), pred[k])
    # The API's JSON (ISO strings) gives the same frame.
    api = {"timestamps": [t.isoformat() for t in ts], **{k: v.tolist() for k, v in pred.items() if k != "timestamps"}}
    pd.testing.assert_frame_equal(forecast_frame(api), frame, check_freq=False)


def test_json_is_strict_and_safe():
    data = json_bytes({"cost": 1.5, "missing": float("nan"), "at": pd.Timestamp("1995-07-01", tz="-04:00"),
                       "arr": np.array([1.0, np.inf]), "n": np.int64(3)})

    def no_constants(name):
        raise AssertionError(f"non-JSON constant {name}")

    obj = json.loads(data, parse_constant=no_constants)
    assert obj == {"cost": 1.5, "missing": None, "at": "1995-07-01T00:00:00-04:00", "arr": [1.0, None], "n": 3}


# -- HTML ----------------------------------------------------------------------------------------


def _figures():
    a = go.Figure(go.Scatter(x=[1, 2, 3], y=[4, 5, 6], name="demand-trace-xyz"))
    b = go.Figure(go.Bar(x=["a", "b"], y=[1, 2], name="cost-bars-abc"))
    return {"Demand": a, "Cost": b}


def test_html_report_is_standalone_and_holds_the_figures():
    page = html_report("Report <script>alert(1)</script>", _figures(),
                       summary={"cost": 1234.5, "winners": {"best": "balanced/predictive"}, "gap": float("nan")},
                       notes=["window 1995-08-20 .. 1995-09-01"])
    assert not EXTERNAL.search(page)
    assert len(FIGURE_CALL.findall(page)) == 2
    assert "demand-trace-xyz" in page
    assert "cost-bars-abc" in page
    assert "<script>alert(1)</script>" not in page  # the title is escaped
    assert "Report &lt;script&gt;" in page
    assert len(re.findall(r"<script[^>]*>", page)) >= 3  # plotly.js inlined, two figures, the data blob
    assert "1,234.50" in page
    blob = re.search(r'<script type="application/json" id="summary-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(blob)["gap"] is None


def test_html_report_numbers_are_tables_with_units_not_dumps():
    folds = [{"role": "selection", "cost": 480.123456789, "overloaded_pct": 0.8412345, "p95_latency_s": 1.25}] * 60
    page = html_report("Numbers", {}, summary={
        "held_out": {"folds": folds, "sla_pct": 1.0}, "timeline": list(range(500)), "cost_vs_oracle": 1.2801})
    assert "{'role'" not in page  # no Python dump of a list of records
    grid = re.search(r'<table class="grid"><tr>(.*?)</tr>', page).group(1)
    assert [re.sub("<.*?>", "", c) for c in grid.split("</th>")[:-1]] == ["role", "cost", "overloaded_pct",
                                                                            "p95_latency_s"]
    assert "$480.12" in page
    assert "0.8412%" in page
    assert "1.25 s" in page
    assert "First 50 of 60 rows" in page
    assert "(500 values; see the JSON)" in page
    assert "$1.28" not in page  # a ratio, not a cost


def test_html_report_without_figures_has_no_plotly():
    page = html_report("Numbers only", {}, summary={"a": 1})
    assert "Plotly" not in page
    assert not EXTERNAL.search(page)


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium not installed (apt-get install chromium)")
def test_html_report_renders_offline_in_chromium(tmp_path):
    path = tmp_path / "report.html"
    path.write_text(html_report("Offline", _figures(), summary={"x": 1}))
    out = subprocess.run(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>", "--virtual-time-budget=5000",
         "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=90, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count('class="main-svg"') >= 2, out.stdout[:500]  # both figures drawn by plotly.js


# -- the download routes over HTTP ------------------------------------------------------------------


def test_dataset_csv_download_matches_the_store(live_server):
    q = "?granularity=15&start=1995-07-02&end=1995-07-04"
    r = requests.get(live_server.url + "/export/dataset/csv" + q, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    back = read_back(r.content)
    store = DatasetStore(live_server.data_dir)
    series = replace(store.get(store.default_id())).window("1995-07-02", "1995-07-04").resample("15min")
    assert len(back) == len(series) == 192
    np.testing.assert_array_equal(back["requests"].to_numpy(), series.requests)
    np.testing.assert_array_equal(back["bytes"].to_numpy(), series.frame["bytes"].to_numpy())
    assert back["timestamp"].iloc[0] == "1995-07-02T00:00:00-04:00"


def test_the_data_page_exports_under_its_name_and_the_old_one(live_server):
    q = "?granularity=60&start=1995-07-02&end=1995-07-03"
    new = requests.get(live_server.url + "/export/data/csv" + q, timeout=60)
    old = requests.get(live_server.url + "/export/dataset/csv" + q, timeout=60)  # links made before the rename
    assert new.status_code == old.status_code == 200, new.text
    assert new.content == old.content
    assert len(read_back(new.content)) == 24


def test_dataset_json_and_html_downloads(live_server):
    r = requests.get(live_server.url + "/export/dataset/json?granularity=60", timeout=60)
    assert r.status_code == 200
    summary = r.json()
    assert summary["granularity_minutes"] == 60
    assert summary["ingest_report"]["format"]
    r = requests.get(live_server.url + "/export/dataset/html?granularity=60", timeout=60)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    page = r.text
    assert not EXTERNAL.search(page)
    assert len(FIGURE_CALL.findall(page)) == 1
    assert summary["dataset"]["name"] in page


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("/export/dataset/xml", 404, "unknown export format"),
        ("/export/no-such-page/csv", 404, "no exports"),
        ("/export/datum/csv", 404, "no exports"),
        ("/export/dataset/csv?dataset=nope-nope", 404, "unknown dataset_id"),
        ("/export/dataset/csv?dataset=../../etc", 400, "invalid dataset id"),
        ("/export/dataset/csv?granularity=7.5", 400, "granularity"),
        ("/export/dataset/csv?granularity=-1", 400, "granularity"),
        ("/export/dataset/csv?start=2040-01-01", 400, "start"),
        ("/export/dataset/csv?bogus=1", 400, "unknown field"),
        ("/export/dataset", 404, "no route"),
    ],
)
def test_export_errors_are_json(live_server, path, status, fragment):
    r = requests.get(live_server.url + path, timeout=30)
    assert r.status_code == status, r.text
    assert fragment in r.json()["message"]


# -- every page's exports ----------------------------------------------------------------------------

PAGE_QUERIES = {
    "history": ("?start=1995-08-25&granularity=15", 2),
    "forecast": ("?granularity=15&horizon=12h", 2),  # from the end of the data, and the last week backtested
    "scenarios": ("?start=1995-08-28&budget=20", 2),
    "what-if": ("?start=1995-08-28&mult=1.5", 1),
}


@pytest.mark.parametrize("page", PAGE_QUERIES)
def test_page_exports(live_server, page):
    query, n_figures = PAGE_QUERIES[page]
    base = f"{live_server.url}/export/{page}"
    r = requests.get(f"{base}/csv{query}", timeout=120)
    assert r.status_code == 200, r.text
    table = read_back(r.content)
    assert len(table) > 0
    r = requests.get(f"{base}/json{query}", timeout=120)
    assert r.status_code == 200, r.text
    summary = r.json()
    assert summary["page"] == page.replace("-", "_")
    if page == "scenarios":  # the held-out answer travels with the in-sample one
        held = summary["held_out_recommendation"]
        assert held["folds"][-1]["role"] == "final"
        assert held["reason"]
    r = requests.get(f"{base}/html{query}", timeout=120)
    assert r.status_code == 200, r.text
    assert not EXTERNAL.search(r.text)
    assert len(FIGURE_CALL.findall(r.text)) == n_figures


def test_history_csv_holds_the_simulated_numbers(live_server):
    from core.scaling import SimulationModel, simulate

    r = requests.get(f"{live_server.url}/export/history/csv?start=1995-08-25&granularity=15&config=aggressive",
                     timeout=120)
    assert r.status_code == 200, r.text
    table = read_back(r.content)
    store = DatasetStore(live_server.data_dir)
    series = replace(store.get(store.default_id()), host_pairs=None).resample("15min")
    res = simulate(series, "aggressive", "balanced", SimulationModel(), start="1995-08-25")
    assert len(table) == len(res.timeline)
    np.testing.assert_array_equal(table["requests"].to_numpy(), res.timeline["demand"].to_numpy())
    np.testing.assert_array_equal(table["servers"].to_numpy(), res.timeline["servers"].to_numpy())
    np.testing.assert_array_equal(table["capacity"].to_numpy(), res.timeline["capacity"].to_numpy())


def test_the_report_charts_follow_the_page_unit(ctx):
    from dashapp.web.page_exports import what_if_bundle

    q = {"granularity": "15", "start": "1995-08-05", "end": "1995-08-12"}
    rps = what_if_bundle(q).figures["Baseline vs scenario"]
    per = what_if_bundle({**q, "unit": "period"}).figures["Baseline vs scenario"]
    assert (rps.layout.yaxis.title.text, per.layout.yaxis.title.text) == ("requests per second", "requests per period")
    np.testing.assert_allclose(np.asarray(rps.data[0].y, dtype=float) * 900, np.asarray(per.data[0].y, dtype=float))
    np.testing.assert_allclose(np.asarray(rps.data[2].y, dtype=float), np.asarray(per.data[2].y, dtype=float))
