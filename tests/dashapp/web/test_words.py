"""What an operations engineer reads: floats without binary noise in the API's JSON, a 404 for a path that is
no page, labels instead of ids, whole requests, counts with the right noun."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from dashapp.labels import label, plural, scenario_label
from dashapp.web.json_floats import round_floats

LONG_FLOAT = re.compile(r"\d\.\d*\d{13,}|\d{13,}\.\d")


def test_floats_are_rounded_once_for_every_json_response():
    assert round_floats({"coverage_pct": 99.99999999999999, "threshold": 0.6000000000000001, "n": 3,
                         "ok": True, "nan": float("nan"), "series": [0.1 + 0.2, 1 / 3],
                         "sla": {"overloaded_pct": 1.23456789}}) == {
        "coverage_pct": 100.0, "threshold": 0.6, "n": 3, "ok": True, "nan": None, "series": [0.3, 0.333333333333],
        "sla": {"overloaded_pct": 1.23457}}


@pytest.fixture
def client(dash_app):
    return dash_app.server.test_client()


def test_api_answers_carry_no_float_noise(client):
    r = client.post("/api/cost-report", json={"dataset_id": "default", "granularity": "15min", "start": "1995-08-20"})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_data(as_text=True)
    assert not LONG_FLOAT.search(body), LONG_FLOAT.search(body)
    rep = json.loads(body)
    pct = rep["sla"]["overloaded_pct"]
    assert len(f"{pct:g}".replace(".", "").lstrip("0")) <= 6


@pytest.mark.parametrize(("path", "status"), [
    ("/", 200), ("/history", 200), ("/history/", 200), ("/what-if?mult=2", 200), ("/forecast", 200),
    ("/nosuchpage", 404), ("/history/extra", 404), ("/health", 200), ("/assets/app.css", 200),
])
def test_a_path_that_is_no_page_answers_404_with_dash_s_own_page(client, path, status):
    r = client.get(path)
    assert r.status_code == status
    if path == "/nosuchpage":
        assert r.mimetype == "text/html"
        assert "_dash-app-content" in r.get_data(as_text=True) or "react-entry-point" in r.get_data(as_text=True)


def test_labels_and_plurals():
    assert label("seasonal_naive") == "Seasonal naive"
    assert label("sarima") == "Fourier regression + ARMA errors"  # the alias reads as its model
    assert label("static_peak") == "Static (peak)"
    assert label("target_tracking") == "Target tracking"
    assert label("balanced") == "Balanced"
    assert scenario_label("aggressive/predictive") == "Aggressive / Predictive"
    assert scenario_label("oracle") == "Oracle (hindsight)"
    assert plural(1, "scaling action") == "1 scaling action"
    assert plural(2, "scaling action") == "2 scaling actions"
    assert plural(1, "anomaly", "anomalies") == "1 anomaly"
    assert plural(1500, "period") == "1,500 periods"
    assert plural(0, "gap") == "0 gaps"


def test_the_dropdowns_show_labels_and_keep_ids_in_the_url(ctx, pages):
    from dashapp import ids
    from tests.dashapp.helpers import find

    forecast = pages["forecast"].layout(model="sarima")
    model = find(forecast, ids.control("forecast", "model"))
    options = {o["value"]: o["label"] for o in model.options}
    assert options["seasonal_naive"] == "Seasonal naive"
    assert model.value == "fourier_arma"
    history = pages["history"].layout(granularity="15", start="1995-08-20")
    assert {o["value"]: o["label"] for o in find(history, ids.control("history", "policy")).options}[
        "target_tracking"] == "Target tracking"
    assert {o["value"]: o["label"] for o in find(history, ids.control("history", "config")).options}[
        "aggressive"] == "Aggressive"


def test_what_if_counts_whole_requests_and_the_delta_adds_up(ctx, pages):
    totals = {"cost": 10.0, "overloaded_pct": 1.0, "dropped_pct": 0.1, "dropped_requests": 682.5,
              "p95_latency_s": 1.0, "scaling_actions": 3, "peak_servers": 4, "mean_servers": 2.5}
    res = SimpleNamespace(baseline=SimpleNamespace(totals=SimpleNamespace(to_dict=lambda: totals)),
                          scenario=SimpleNamespace(totals=SimpleNamespace(to_dict=lambda: {
                              **totals, "dropped_requests": 5097.5})),
                          delta={"dropped_requests": 4415.0, "cost": 0.0})
    row = next(r for r in pages["what_if"].comparison_rows(res) if r[0] == "Dropped requests")
    base, scen, delta = (int(x.replace(",", "").replace("+", "")) for x in row[1:])
    assert "." not in "".join(row[1:])
    assert scen - base == delta
