"""The original dashboard's API calls as its users made them (dashapp/web/compat.py), and /api/docs, against a
real gunicorn: the same answers as the /api routes, from the same result cache."""

from __future__ import annotations

import re

import pytest
import requests

from tests.dashapp.web.test_api import assert_error, call

START = "1995-08-25"


def test_post_forecast_with_query_parameters_on_the_default_dataset(live_server):
    r = call(live_server, "POST", "/forecast?horizon=30")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    fc = r.json()
    assert len(fc["mean"]) == 30  # a bare number is steps, as a JSON integer in POST /api/forecast
    datasets = call(live_server, "GET", "/api/datasets").json()["datasets"]
    assert fc["dataset_id"] == next(d["id"] for d in datasets if d["default"])
    same = call(live_server, "POST", "/api/forecast", json={"dataset_id": "default", "horizon": 30}).json()
    assert same["cached"] is True  # one computation, shared with /api/forecast
    assert same["mean"] == fc["mean"]


def test_post_forecast_takes_every_field_from_the_query_or_a_form(live_server):
    q = "model=seasonal_naive&horizon=2h&granularity=15min&level=80&target=requests"
    fc = call(live_server, "POST", f"/forecast?{q}").json()
    assert fc["granularity_minutes"] == 15
    assert len(fc["mean"]) == 8
    assert fc["levels"] == [80]
    form = call(live_server, "POST", "/forecast", data={"horizon": "2h", "granularity": "15min", "level": "80"})
    assert form.status_code == 200, form.text
    assert form.json()["mean"] == fc["mean"]
    two = call(live_server, "POST", "/forecast?horizon=4&level=80,95").json()
    assert two["levels"] == [80, 95]
    assert "hi-95" in two


def test_post_forecast_with_a_series_in_the_body_and_the_horizon_in_the_query(live_server):
    series = [100.0 + (i % 288) for i in range(288 * 8)]
    r = call(live_server, "POST", "/forecast?horizon=12", json={"series": series, "interval_minutes": 5})
    assert r.status_code == 200, r.text
    assert r.json()["mean"] == pytest.approx(series[:12])


def test_get_forecast_is_still_the_page(live_server):
    r = call(live_server, "GET", "/forecast")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path", "kw", "status", "fragment"),
    [
        ("POST", "/forecast?horizon=0", {}, 400, "horizon"),
        ("POST", "/forecast?horizon=soon", {}, 400, "horizon"),
        ("POST", "/forecast?horizon=90d", {}, 400, "30 days"),
        ("POST", "/forecast?level=eighty", {}, 400, "level"),
        ("POST", "/forecast?model=oracle", {}, 400, "model must be one of"),
        ("POST", "/forecast?days=3", {}, 400, "unknown field"),
        ("POST", "/forecast?dataset_id=no-such-dataset", {}, 404, "unknown dataset_id"),
        ("POST", "/forecast?horizon=3", {"json": {"horizon": 4}}, 400, "both in the query and in the body"),
        (
            "POST",
            "/forecast",
            {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
            400,
            "malformed",
        ),
        ("GET", "/metrics?models=crystal_ball", {}, 400, "models must be"),
        ("GET", "/metrics?dataset_id=nope-nope", {}, 404, "unknown dataset_id"),
        ("GET", "/cost-report?policy=psychic", {}, 400, "policy must be one of"),
        ("GET", "/cost-report?price_per_server_hour=cheap", {}, 400, "price_per_server_hour must be a number"),
        ("GET", "/cost-report?min_servers=0", {}, 400, "min_servers"),
        ("GET", "/cost-report?config=turbo", {}, 400, "turbo"),
        ("GET", "/cost-report?start=2031-01-01", {}, 400, "start/end"),
    ],
)
def test_bad_input_is_a_json_4xx(live_server, method, path, kw, status, fragment):
    body = assert_error(call(live_server, method, path, **kw), status, fragment)
    assert "Traceback" not in body["message"]


def test_get_metrics_on_the_default_dataset_with_r2(live_server):
    q = "models=seasonal_naive&granularity=15min"
    r = call(live_server, "GET", f"/metrics?{q}")
    assert r.status_code == 200, r.text
    m = r.json()
    res = m["results"]["seasonal_naive"]
    assert res["rmse"] > 0
    assert res["r2"] is not None
    assert res["r2"] <= 1
    api = call(live_server, "GET", f"/api/metrics?dataset_id=default&{q}").json()
    assert api["cached"] is True
    assert api["results"] == m["results"]


def test_get_cost_report_on_the_default_dataset_matches_the_api(live_server):
    r = call(
        live_server,
        "GET",
        f"/cost-report?start={START}&policy=predictive&config=aggressive&price_per_server_hour=0.5&max_servers=40",
    )
    assert r.status_code == 200, r.text
    rep = r.json()
    api = call(
        live_server,
        "POST",
        "/api/cost-report",
        json={
            "dataset_id": "default",
            "start": START,
            "policy": "predictive",
            "config": "aggressive",
            "price_per_server_hour": 0.5,
            "max_servers": 40,
        },
    ).json()
    assert rep == api
    assert rep["meta"]["start"].startswith(START)


def test_api_docs_serves_swagger_ui_from_the_app_itself(live_server):
    r = call(live_server, "GET", "/api/docs")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-eval'" not in csp
    assert "<script>" not in r.text  # no inline script: the CSP would block it
    assert 'data-spec-url="/api/openapi.json"' in r.text
    refs = [ref for ref in re.findall(r'(?:src|href)="([^"]+)"', r.text) if ref != "data:,"]  # data: the favicon
    assert len(refs) == 3
    types = set()
    for ref in refs:
        assert ref.startswith("/api/docs/static/"), ref  # nothing from another site
        asset = requests.get(live_server.url + ref.replace("&amp;", "&"), timeout=60)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 400, ref
        types.add(asset.headers["Content-Type"].split(";")[0])
    assert types == {"text/css", "text/javascript"}
    assert call(live_server, "GET", "/api/docs/static/swagger-ui/nope.js").status_code == 404
    assert call(live_server, "GET", "/api/docs/static/../compat.py").status_code == 404


def test_a_bug_is_a_json_500_not_an_html_page(dash_app, monkeypatch):
    from dashapp.web import compat

    def broken(query):
        raise RuntimeError("a bug")

    monkeypatch.setattr(compat, "metrics_answer", broken)
    r = dash_app.server.test_client().get("/metrics")
    assert r.status_code == 500
    assert r.get_json()["message"] == "unexpected server error; the server log has the details"
