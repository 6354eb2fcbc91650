"""The JSON API over HTTP against a real gunicorn: valid calls, bad input (4xx JSON, never 500), limits,
the OpenAPI document."""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest
import requests

from core.scaling import SimulationModel, get_preset, parse_policy
from core.scaling.simulate import prepare, run_scenarios
from core.store import DatasetStore

JSON_ROUTES = ("/api/forecast", "/api/recommend-scaling", "/api/cost-report")
EXAMPLE = {"predicted_load": [120, 150, 180], "current_servers": 2}


def call(server, method: str, path: str, **kw) -> requests.Response:
    r = requests.request(method, server.url + path, timeout=120, **kw)
    assert r.status_code != 500, r.text
    return r


def assert_error(r: requests.Response, status: int, fragment: str = "") -> dict:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["status"] == status
    assert body["message"]
    assert fragment.lower() in body["message"].lower(), body["message"]
    return body


def raw_request(server, head: str, body: bytes = b"", read_timeout: float = 20) -> tuple[int, bytes]:
    """Send a request head and part of a body on a socket; return the status and the response."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=read_timeout) as s:
        s.sendall(head.encode() + b"\r\n" + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.find(b"\r\n\r\n") + 4 + _length(data):
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


# -- recommend-scaling ----------------------------------------------------------------------------


def test_recommend_scaling_original_example_works_as_is(live_server):
    r = call(live_server, "POST", "/api/recommend-scaling", json=EXAMPLE)
    assert r.status_code == 200
    body = r.json()
    assert body["action"] == "scale_out"
    assert body["current_servers"] == 2
    assert body["target_servers"] == 3
    assert "180" in body["reason"]


def test_recommend_scaling_options(live_server):
    def rec(**extra):
        r = call(live_server, "POST", "/api/recommend-scaling", json={**EXAMPLE, **extra})
        assert r.status_code == 200, r.text
        return r.json()

    assert rec(policy="balanced")["action"] == "hold"
    assert rec(policy="reactive")["target_servers"] == 4
    assert rec(capacity_per_server_rps=1.0)["action"] == "hold"
    assert rec(config={"preset": "balanced", "scale_out_threshold": 0.95}, policy="reactive")["action"] == "hold"
    assert rec(sla_target=0)["target_servers"] == 2  # no period over capacity: 180 * 1.1 <= 2 x 100
    assert rec(current_servers=9)["action"] == "scale_in"
    assert rec(max_servers=2)["action"] == "hold"
    assert rec(safety_margin=0.5)["target_servers"] == 4  # 180 x 1.5 / 80 = 3.4


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "predicted_load is required"),
        ({"predicted_load": [1, 2]}, 400, "current_servers is required"),
        ({"predicted_load": "120", "current_servers": 2}, 400, "array"),
        ({"predicted_load": [1, "x"], "current_servers": 2}, 400, "predicted_load[1]"),
        ({"predicted_load": [1, None], "current_servers": 2}, 400, "predicted_load[1]"),
        ({"predicted_load": [1, -3], "current_servers": 2}, 400, "predicted_load[1]"),
        ({"predicted_load": [1e300], "current_servers": 2}, 400, "predicted_load[0]"),
        ({"predicted_load": [], "current_servers": 2}, 400, "at least one"),
        ({"predicted_load": [1], "current_servers": "2"}, 400, "current_servers must be a number"),
        ({"predicted_load": [1], "current_servers": 2.5}, 400, "whole number"),
        ({"predicted_load": [1], "current_servers": -1}, 400, "current_servers must be within"),
        ({"predicted_load": [1], "current_servers": True}, 400, "current_servers"),
        ({"predicted_load": [1], "current_servers": 2, "policy": "yolo"}, 400, "policy must be one of"),
        ({"predicted_load": [1], "current_servers": 2, "policy": 3}, 400, "policy must be a string"),
        ({"predicted_load": [1], "current_servers": 2, "config": "huge"}, 400, "unknown scaling config"),
        ({"predicted_load": [1], "current_servers": 2, "config": {"scale_out_threshold": 1.5}}, 400,
         "scale_out_threshold"),
        ({"predicted_load": [1], "current_servers": 2, "config": {"steps": 1}}, 400, "unknown field"),
        ({"predicted_load": [1], "current_servers": 2, "config": [1]}, 400, "config must be"),
        ({"predicted_load": [1], "current_servers": 2, "sla_target": 150}, 400, "sla_target must be within"),
        ({"predicted_load": [1], "current_servers": 2, "capacity_per_server_rps": 0}, 400, "capacity_per_server_rps"),
        ({"predicted_load": [1], "current_servers": 2, "min_servers": 50, "max_servers": 10}, 400, "min_servers"),
        ({"predicted_load": [1], "current_servers": 2, "interval_minutes": 0}, 400, "interval_minutes"),
        ({"predicted_load": [1], "current_servers": 2, "safety_margin": -0.1}, 400, "safety_margin"),
        ({"predicted_load": [1], "current_servers": 2, "predicted": [1]}, 400, "unknown field"),
        ({"predicted_load": [0] * 100_001, "current_servers": 2}, 413, "at most"),
    ],
)
def test_recommend_scaling_bad_input(live_server, body, status, fragment):
    assert_error(call(live_server, "POST", "/api/recommend-scaling", json=body), status, fragment)


# -- every JSON route: malformed bodies and size limits ---------------------------------------------


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{not json", "malformed JSON"),
        (b'{"dataset_id": NaN}', "NaN"),
        (b"[1, 2]", "must be an object"),
        (b'"text"', "must be an object"),
        (b"", "empty"),
        (b"\xff\xfe\x00garbage", "malformed JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "malformed JSON"),
    ],
)
def test_malformed_bodies_are_400(live_server, path, data, fragment):
    r = call(live_server, "POST", path, data=data, headers={"Content-Type": "application/json"})
    assert_error(r, 400, fragment)


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_oversized_body_is_413(live_server, path):
    body = json.dumps({"series": [1] * 600_000}).encode()  # 1.8 MB > 1 MB
    assert_error(call(live_server, "POST", path, data=body, headers={"Content-Type": "application/json"}), 413,
                 "limit")


def test_ten_million_points_refused_before_the_body_is_read(live_server):
    # Claim the real size of a 10-million-point array but send only its first 64 KiB: the answer must come
    # without the server waiting for the rest.
    size = len('{"predicted_load": [') + 10_000_000 * 2 + len('], "current_servers": 2}')
    head = (f"POST /api/recommend-scaling HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n")
    t0 = time.monotonic()
    status, resp = raw_request(live_server, head, b'{"predicted_load": [' + b"1," * 32_000)
    assert status == 413
    assert time.monotonic() - t0 < 10
    assert b"exceeds the limit" in resp


def test_chunked_oversized_body_is_413(live_server):
    # No Content-Length: the server counts while reading and stops at the limit.
    def chunks():
        yield b'{"series": ['
        for _ in range(40):
            yield b"1," * 50_000

    r = requests.post(live_server.url + "/api/forecast", data=chunks(), timeout=60,
                      headers={"Content-Type": "application/json"})
    assert_error(r, 413, "limit")


def test_unknown_routes_and_methods_are_json(live_server):
    assert_error(call(live_server, "GET", "/api/nope"), 404, "no route")
    assert_error(call(live_server, "POST", "/api/nope/deeper", json={}), 404, "no route")
    r = call(live_server, "GET", "/api/forecast")
    assert_error(r, 405, "POST")
    assert "POST" in r.headers["Allow"]
    assert_error(call(live_server, "DELETE", "/api/datasets"), 405, "GET")
    assert_error(call(live_server, "PUT", "/api/recommend-scaling", json=EXAMPLE), 405, "POST")


# -- datasets, forecast, metrics, cost-report -------------------------------------------------------


def test_datasets_lists_the_default(live_server):
    r = call(live_server, "GET", "/api/datasets")
    assert r.status_code == 200
    ds = r.json()["datasets"]
    default = [d for d in ds if d["default"]]
    assert len(default) == 1
    for key in ("id", "name", "start", "end", "interval_seconds"):
        assert key in default[0]
    assert_error(call(live_server, "GET", "/api/datasets?x=1"), 400, "no parameters")


def test_forecast_of_a_dataset_and_its_cache(live_server):
    body = {"dataset_id": "default", "model": "seasonal_naive", "horizon": "2h", "level": [80, 95]}
    r = call(live_server, "POST", "/api/forecast", json=body)
    assert r.status_code == 200, r.text
    fc = r.json()
    assert fc["model"] == "seasonal_naive"
    assert len(fc["timestamps"]) == len(fc["mean"]) == 24  # 2 h of 5-minute periods
    lo, mean, hi = (np.array(fc[k], dtype=float) for k in ("lo-95", "mean", "hi-95"))
    assert (lo <= mean + 1e-9).all()
    assert (mean <= hi + 1e-9).all()
    info = call(live_server, "GET", "/api/datasets").json()["datasets"]
    assert fc["start"] == next(d["end"] for d in info if d["default"])  # continues the dataset's own grid
    again = call(live_server, "POST", "/api/forecast", json=body).json()
    assert again["cached"] is True
    assert again["mean"] == fc["mean"]


def test_identical_concurrent_forecasts_compute_once(live_server):
    body = {"dataset_id": "default", "model": "seasonal_naive", "horizon": 7, "granularity": "15min"}
    barrier = threading.Barrier(4)

    def go(_):
        barrier.wait()
        return call(live_server, "POST", "/api/forecast", json=body)

    with ThreadPoolExecutor(4) as pool:
        rs = list(pool.map(go, range(4)))
    assert all(r.status_code == 200 for r in rs)
    assert sorted(r.json()["cached"] for r in rs) == [False, True, True, True]
    assert len({json.dumps(r.json()["mean"]) for r in rs}) == 1


def test_forecast_of_a_posted_series(live_server):
    day = np.round(100 + 80 * np.sin(np.arange(288) * 2 * np.pi / 288), 3)
    series = np.tile(day, 8).tolist()
    series[10] = None  # no data
    body = {"series": series, "interval_minutes": 5, "model": "seasonal_naive", "horizon": 12, "level": 80}
    r = call(live_server, "POST", "/api/forecast", json=body)
    assert r.status_code == 200, r.text
    fc = r.json()
    assert fc["timestamps"][0] == "2024-01-09T00:00:00+00:00"  # 8 days after the default start
    assert fc["mean"] == pytest.approx(day[:12].tolist())  # one week earlier, as seasonal naive says
    assert fc["levels"] == [80]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "either dataset_id"),
        ({"dataset_id": "default", "series": [1, 2]}, 400, "either dataset_id"),
        ({"dataset_id": "../../etc/passwd"}, 400, "invalid dataset id"),
        ({"dataset_id": "/etc/passwd"}, 400, "invalid dataset id"),
        ({"dataset_id": 12}, 400, "dataset_id must be a string"),
        ({"dataset_id": "no-such-dataset"}, 404, "unknown dataset_id"),
        ({"dataset_id": "default", "model": "oracle"}, 400, "model must be one of"),
        ({"dataset_id": "default", "horizon": 0}, 400, "horizon"),
        ({"dataset_id": "default", "horizon": -5}, 400, "horizon"),
        ({"dataset_id": "default", "horizon": 2.5}, 400, "whole number"),
        ({"dataset_id": "default", "horizon": "90d"}, 400, "30 days"),
        ({"dataset_id": "default", "horizon": "soon"}, 400, "horizon"),
        ({"dataset_id": "default", "horizon": [1]}, 400, "horizon"),
        ({"dataset_id": "default", "level": 100}, 400, "level"),
        ({"dataset_id": "default", "level": ["x"]}, 400, "level"),
        ({"dataset_id": "default", "level": True}, 400, "level"),
        ({"dataset_id": "default", "granularity": "7 parsecs"}, 400, "granularity"),
        ({"dataset_id": "default", "granularity": "30s"}, 400, "granularity"),
        ({"dataset_id": "default", "start": "2030-01-01"}, 400, "start/end"),
        ({"dataset_id": "default", "start": "yesterday-ish"}, 400, "start/end"),
        ({"dataset_id": "default", "target": "errors"}, 400, "target"),
        ({"series": "1,2,3"}, 400, "series must be an array"),
        ({"series": [1, "2"]}, 400, "series[1]"),
        ({"series": [1, -2]}, 400, "series[1]"),
        ({"series": [1]}, 400, "at least 2"),
        ({"series": [None, None]}, 400, "no load values"),
        ({"series": [1, 2], "interval_minutes": 0}, 400, "interval_minutes"),
        ({"series": [1, 2], "interval_minutes": "5"}, 400, "interval_minutes must be a number"),
        ({"series": [1] * 100}, 400, "2 days"),
        ({"series": [0] * 200_001}, 413, "at most"),
    ],
)
def test_forecast_bad_input(live_server, body, status, fragment):
    assert_error(call(live_server, "POST", "/api/forecast", json=body), status, fragment)


def test_metrics_backtests_the_dataset(live_server):
    r = call(live_server, "GET", "/api/metrics?dataset_id=default&models=seasonal_naive&granularity=15min")
    assert r.status_code == 200, r.text
    m = r.json()
    res = m["results"]["seasonal_naive"]
    assert res["rmse"] > 0
    assert res["mae"] <= res["rmse"]
    assert m["test"]["start"] > m["train"]["end"]
    assert m["periods"] > 0
    assert call(live_server, "GET", "/api/metrics?dataset_id=default&models=seasonal_naive&granularity=15min"
                ).json()["cached"] is True


@pytest.mark.parametrize(
    ("query", "status", "fragment"),
    [
        ("", 400, "dataset_id is required"),
        ("?dataset_id=nope-nope", 404, "unknown dataset_id"),
        ("?dataset_id=..%2F..%2Fetc", 400, "invalid dataset id"),
        ("?dataset_id=default&models=crystal_ball", 400, "models must be"),
        ("?dataset_id=default&models=", 400, "models must be"),
        ("?dataset_id=default&protocol=sideways", 400, "protocol must be one of"),
        ("?dataset_id=default&granularity=0min", 400, "granularity"),
        ("?dataset_id=default&models=seasonal_naive&train_end=garbage", 400, "train_end"),
        ("?dataset_id=default&models=seasonal_naive&train_end=1990-01-01", 400, "train_end"),
        ("?dataset_id=default&bogus=1", 400, "unknown field"),
    ],
)
def test_metrics_bad_input(live_server, query, status, fragment):
    assert_error(call(live_server, "GET", "/api/metrics" + query), status, fragment)


def test_cost_report_matches_core(live_server):
    body = {"dataset_id": "default", "config": "aggressive", "policy": "predictive", "start": "1995-08-20",
            "price_per_server_hour": 0.5}
    r = call(live_server, "POST", "/api/cost-report", json=body)
    assert r.status_code == 200, r.text
    rep = r.json()
    # The same core calls in this process give the same numbers.
    store = DatasetStore(live_server.data_dir)
    series = replace(store.get(store.default_id()), host_pairs=None).resample("5min")
    model = SimulationModel().with_overrides(price_per_server_hour=0.5)
    prep = prepare(series, model, start="1995-08-20")
    res = run_scenarios(prep, [(get_preset("aggressive"), parse_policy("predictive"))], baselines=True)
    assert rep["scenario"]["cost"] == pytest.approx(res[0].totals.cost)
    static = next(x for x in res if x.name == "static_peak").totals.cost
    assert rep["savings"]["vs_static_peak"]["dollars"] == pytest.approx(static - res[0].totals.cost)
    # Percentages travel with 6 significant digits (dashapp.web.json_floats).
    assert rep["sla"]["overloaded_pct"] == pytest.approx(res[0].totals.overloaded_pct, rel=1e-5)
    assert rep["meta"]["start"].startswith("1995-08-20")


def test_cost_report_of_a_posted_series(live_server):
    load = [50, 80, 300, 120, 90] * 60
    r = call(live_server, "POST", "/api/cost-report", json={"series": load, "config": {"preset": "conservative",
                                                                                        "step_out": 3}})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert rep["config"]["step_out"] == 3
    assert rep["scenario"]["periods"] == len(load)
    assert set(rep["baselines"]) == {"static_peak", "static_mean", "target_tracking", "oracle"}


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"config": "balanced"}, 400, "either dataset_id"),
        ({"dataset_id": "default", "policy": "psychic"}, 400, "policy must be one of"),
        ({"dataset_id": "default", "config": {"cooldown_minutes": -5}}, 400, "cooldown_minutes"),
        ({"dataset_id": "default", "price_per_server_hour": -1}, 400, "price_per_server_hour"),
        ({"dataset_id": "default", "boot_delay_minutes": "fast"}, 400, "boot_delay_minutes"),
        ({"dataset_id": "default", "min_servers": 0}, 400, "min_servers"),
        ({"dataset_id": "default", "start": "2031-01-01"}, 400, "start/end"),
        ({"dataset_id": "default", "granularity": "90s"}, 400, "granularity"),
        ({"dataset_id": "default", "extra": 1}, 400, "unknown field"),
        ({"dataset_id": "missing-one"}, 404, "unknown dataset_id"),
    ],
)
def test_cost_report_bad_input(live_server, body, status, fragment):
    assert_error(call(live_server, "POST", "/api/cost-report", json=body), status, fragment)


# -- the OpenAPI document ------------------------------------------------------------------------


def _server_routes(tmp_path) -> set[tuple[str, str]]:
    """(path, method) of every API, upload and export route of a freshly built app."""
    from dashapp.app import create_app
    from dashapp.runtime.settings import Settings

    settings = Settings.from_env(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", models_dir=tmp_path / "m")
    app = create_app(settings)
    out = set()
    for rule in app.server.url_map.iter_rules():
        if rule.endpoint.startswith(("api.", "upload.", "export.", "compat.")) and not rule.endpoint.endswith(
                "_unmatched") or rule.endpoint == "apidocs.docs":
            path = rule.rule.replace("<", "{").replace(">", "}")
            path = path.replace("{path:", "{").replace("{string:", "{")
            for m in rule.methods - {"HEAD", "OPTIONS"}:
                out.add((path, m.lower()))
        elif rule.rule == "/health":
            out.add(("/health", "get"))
    return out


@pytest.fixture(scope="module")
def openapi_doc(live_server) -> dict:
    r = call(live_server, "GET", "/api/openapi.json")
    assert r.status_code == 200
    return r.json()


def test_openapi_lists_every_route(openapi_doc, tmp_path):
    doc = openapi_doc
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert documented == _server_routes(tmp_path)
    for p, ops in doc["paths"].items():
        for m, op in ops.items():
            assert op["responses"], (p, m)
            assert op.get("summary"), (p, m)
    # Every $ref resolves.
    text = json.dumps(doc)
    for name in {part.split('"')[0] for part in text.split("#/components/schemas/")[1:]}:
        assert name in doc["components"]["schemas"]


def test_openapi_document_validates(openapi_doc):
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator not installed")
    validator.validate(openapi_doc)


def test_recommend_then_cost_report_of_the_recommended_policy(live_server):
    body = {"dataset_id": "default", "granularity": "15min", "sla_pct": 1, "folds": 2, "budget": 60}
    r = call(live_server, "POST", "/api/recommend", json=body)
    assert r.status_code == 200, r.text
    rec = r.json()
    final = rec["folds"][-1]
    assert final["role"] == "final"
    assert rec["reason"]
    policy = rec["recommended"] or final["policy"]
    c = call(live_server, "POST", "/api/cost-report", json={
        "dataset_id": "default", "granularity": "15min", "start": final["test_start"], "end": final["test_end"],
        "policy_config": policy})
    assert c.status_code == 200, c.text
    assert c.json()["scenario"]["cost"] == pytest.approx(final["cost"])
    assert c.json()["scenario"]["overloaded_pct"] == pytest.approx(final["overloaded_pct"])
    assert call(live_server, "POST", "/api/recommend", json=body).json()["cached"] is True


@pytest.mark.parametrize(("body", "fragment"), [
    ({"dataset_id": "default", "sla_pct": 150}, "sla_pct"),
    ({"dataset_id": "default", "folds": 0}, "folds"),
    ({"sla_pct": 1}, "dataset_id is required"),
])
def test_recommend_bad_input(live_server, body, fragment):
    assert_error(call(live_server, "POST", "/api/recommend", json=body), 400, fragment)


def test_cost_report_refuses_a_bad_policy_config(live_server):
    bad = {"policy": "balanced", "config": {"x": 1}}
    r = call(live_server, "POST", "/api/cost-report", json={"dataset_id": "default", "policy_config": bad})
    assert_error(r, 400, "unknown key")


def test_plan_from_a_past_origin_and_its_cache(live_server):
    body = {"dataset_id": "default", "granularity": "15min", "horizon": "2d", "origin": "1995-08-29",
            "paths": 10, "folds": 2, "budget": 60}
    r = call(live_server, "POST", "/api/plan", json=body)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["origin"].startswith("1995-08-29T00:00")
    assert d["recommended"] == d["policies"][0]["name"]
    for p in d["policies"]:
        assert p["cost"]["p10"] <= p["cost"]["p50"] <= p["cost"]["p90"]
        assert len(p["schedule"]) == 48
    assert set(d["backtest"]["realized_cost"]) == {p["name"] for p in d["policies"]}
    assert "fan" not in d["forecast"]
    again = call(live_server, "POST", "/api/plan", json={**body, "fan": True}).json()
    assert again["cached"] is True
    assert len(again["forecast"]["fan"]["p50"]) == 2 * 96


@pytest.mark.parametrize(("body", "fragment"), [
    ({"dataset_id": "default", "horizon": "0"}, "horizon"),
    ({"dataset_id": "default", "horizon": "45d"}, "30 days"),
    ({"dataset_id": "default", "paths": 5}, "paths"),
    ({"dataset_id": "default", "origin": "1995-07-03"}, "14 days"),
    ({"dataset_id": "default", "fan": "yes"}, "fan"),
    ({"horizon": "1d"}, "dataset_id is required"),
])
def test_plan_bad_input(live_server, body, fragment):
    assert_error(call(live_server, "POST", "/api/plan", json=body), 400, fragment)
