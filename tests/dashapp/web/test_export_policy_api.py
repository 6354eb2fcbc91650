"""``GET /api/export-policy`` on the app's test client: the file, its content type and name, 4xx JSON with the
fix on bad input, and its entry in the OpenAPI document."""

from __future__ import annotations

import json

import pytest

from core.scaling.config import PRESETS
from core.scaling.deploy import export_policy
from core.scaling.policy_config import to_policy_dict
from core.scaling.simulate import SimulationModel

yaml = pytest.importorskip("yaml")


@pytest.fixture
def client(dash_app):
    return dash_app.server.test_client()


def test_a_preset_as_an_hpa(client):
    r = client.get("/api/export-policy?format=hpa&policy=balanced/target_tracking&granularity=15min&name=shop")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"].startswith("application/yaml")
    assert r.headers["Content-Disposition"] == 'attachment; filename="shop-hpa.yaml"'
    (obj,) = list(yaml.safe_load_all(r.get_data(as_text=True)))
    # The same object core builds for that policy and period.
    p = {
        "name": "balanced/target_tracking",
        **to_policy_dict(PRESETS["balanced"], "target_tracking", SimulationModel()),
    }
    assert [obj] == export_policy(p, "hpa", name="shop", interval_minutes=15).objects
    assert obj["metadata"]["name"] == "shop"


def test_a_preset_as_aws_requests(client):
    r = client.get("/api/export-policy?format=aws&policy=aggressive/balanced&dataset=default")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Content-Disposition"] == 'attachment; filename="web-aws.json"'
    requests = json.loads(r.get_data(as_text=True))
    assert {q["operation"] for q in requests} == {"UpdateAutoScalingGroup", "PutScalingPolicy", "PutMetricAlarm"}


def test_the_recommended_policy_of_a_dataset_and_its_candidates(client, monkeypatch):
    import dashapp.web.api as api
    from core.scaling import walkforward

    calls = []

    def quick(series, model, **kw):  # two folds and a small search keep it to seconds
        calls.append(kw)
        return walkforward.walk_forward(series, model, **{**kw, "folds": 2, "budget": 30})

    monkeypatch.setattr(api, "walk_forward", quick)
    query = "/api/export-policy?format=keda&dataset=default&granularity=1h&sla_pct=2"
    r = client.get(query)
    assert r.status_code == 200, r.get_data(as_text=True)
    (obj,) = list(yaml.safe_load_all(r.get_data(as_text=True)))
    assert obj["kind"] == "ScaledObject"
    assert calls == [{"sla_pct": 2}]
    # The recommendation's candidates are cached: another format or candidate runs no walk-forward.
    r = client.get(query.replace("keda", "aws") + "&policy=static (<= 1% in training)")
    assert r.status_code == 200, r.get_data(as_text=True)
    group = json.loads(r.get_data(as_text=True))[0]["params"]
    assert group["MinSize"] == group["MaxSize"]  # the static fleet
    assert len(calls) == 1
    r = client.get(query + "&policy=no such candidate")
    assert r.status_code == 400
    assert "candidate of the recommendation" in r.get_json()["message"]


@pytest.mark.parametrize(
    ("query", "status", "fragment"),
    [
        ("policy=balanced/balanced", 400, "format is required: one of hpa, keda, aws"),
        ("format=helm&policy=balanced/balanced", 400, "format must be one of hpa, keda, aws"),
        ("format=keda", 400, "dataset is required"),
        ("format=keda&policy=fast/balanced", 400, "unknown preset policy 'fast/balanced'"),
        ("format=keda&policy=balanced/balanced&name=Web_1", 400, "is not a kubernetes name"),
        ("format=keda&policy=balanced/balanced&granularity=7q", 400, "granularity"),
        ("format=keda&policy=balanced/balanced&sla_pct=150", 400, "sla_pct must be within"),
        ("format=keda&policy=balanced/balanced&colour=red", 400, "unknown field(s) 'colour'"),
        ("format=keda&dataset=0123456789abcdef", 404, "unknown dataset_id"),
    ],
)
def test_bad_input_is_4xx_json_with_the_fix(client, query, status, fragment):
    r = client.get(f"/api/export-policy?{query}")
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.get_json()
    assert body["status"] == status
    assert fragment.lower() in body["message"].lower(), body["message"]


def test_it_is_in_the_openapi_document():
    from dashapp.web.openapi import openapi_document

    doc = openapi_document()
    op = doc["paths"]["/api/export-policy"]["get"]
    params = {p["name"]: p for p in op["parameters"]}
    assert params["format"]["schema"]["enum"] == ["hpa", "keda", "aws"]
    assert params["format"]["required"] is True
    assert {"application/yaml", "application/json"} <= set(op["responses"]["200"]["content"])
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)
