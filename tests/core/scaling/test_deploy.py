"""Deployable autoscaler configuration: the objects against the real schemas (the Kubernetes client's
``autoscaling/v2`` models, KEDA's published CRD schema, botocore's service models) and the mapping's numbers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import InputError
from core.registry import DEPLOY_FORMATS, policy_names, preset_names
from core.scaling.config import PRESETS, PredictiveSpec
from core.scaling.deploy import export_policy, preset_policy, select_policy
from core.scaling.deploy_k8s import yaml_text
from core.scaling.policy_config import to_policy_dict
from core.scaling.simulate import SimulationModel

yaml = pytest.importorskip("yaml")

KEDA_SCHEMA = Path(__file__).parent / "data" / "keda_scaledobject_v1alpha1.schema.yaml"
MODEL = SimulationModel().with_overrides(
    capacity_per_server_rps=50.0, min_servers=2, max_servers=17, boot_delay_minutes=5.0
)
ALL = [(c, p) for c in preset_names() for p in policy_names()]
SCHEDULE = [
    {"hour": "2026-12-06T14:00:00Z", "servers_p50": 3, "servers_p90": 5},
    {"hour": "2026-12-06T10:00:00-05:00", "servers_p50": 3, "servers_p90": 5},  # 15:00 UTC
    {"hour": "2026-12-06T16:00:00Z", "servers_p50": 4, "servers_p90": 40},  # above max_servers: 17
    {"hour": "2026-12-06T19:00:00Z", "servers_p50": 1, "servers_p90": 1},  # below min_servers: 2
]


def policy(config: str, pol: str, model: SimulationModel = MODEL) -> dict:
    return to_policy_dict(PRESETS[config], pol, model)


def rows(exp, setting: str) -> list[dict]:
    return [r for r in exp.mapping if r["setting"] == setting]


# -- against the schemas -------------------------------------------------------------------------


def _hpa_model(obj: dict):
    client = pytest.importorskip("kubernetes.client")
    api = client.ApiClient()
    assert api.configuration.client_side_validation  # required fields are checked while deserializing
    return api, api._ApiClient__deserialize(obj, "V2HorizontalPodAutoscaler")


@pytest.mark.parametrize(("config", "pol"), ALL)
def test_hpa_is_a_valid_autoscaling_v2_object(config, pol):
    exp = export_policy(policy(config, pol), "hpa", interval_minutes=5, schedule=SCHEDULE)
    assert exp.media_type == "application/yaml"
    assert list(yaml.safe_load_all(exp.text)) == exp.objects
    (obj,) = exp.objects
    api, hpa = _hpa_model(obj)
    # Nothing unknown or dropped: the typed model serializes back to the very same object.
    assert api.sanitize_for_serialization(hpa) == obj
    assert hpa.api_version == "autoscaling/v2"
    assert hpa.kind == "HorizontalPodAutoscaler"
    assert hpa.spec.scale_target_ref.name == "web"
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (2, 17)
    metric = hpa.spec.metrics[0]
    assert metric.type == "Pods"
    assert metric.pods.target.type == "AverageValue"
    for rules in (hpa.spec.behavior.scale_up, hpa.spec.behavior.scale_down):
        assert 0 <= rules.stabilization_window_seconds <= 3600
        assert rules.policies
        assert all(p.value > 0 and 0 < p.period_seconds <= 1800 for p in rules.policies)


def test_the_round_trip_catches_an_unknown_or_missing_field():
    (obj,) = export_policy(policy("balanced", "balanced"), "hpa", interval_minutes=5).objects
    bad = json.loads(json.dumps(obj))
    bad["spec"]["behavior"]["scaleUp"]["cooldownSeconds"] = 300
    api, hpa = _hpa_model(bad)
    assert api.sanitize_for_serialization(hpa) != bad
    del bad["spec"]["maxReplicas"]
    with pytest.raises(ValueError, match="max_replicas"):
        _hpa_model(bad)


def _strict(schema):
    """The schema with ``additionalProperties: false`` wherever it lists properties and says nothing else: an
    unknown field fails, as with ``kubectl apply --validate=strict`` (the API server would prune it silently)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@pytest.fixture(scope="module")
def keda_validator():
    jsonschema = pytest.importorskip("jsonschema")
    schema = _strict(yaml.safe_load(KEDA_SCHEMA.read_text()))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_strict_schema_refuses_an_unknown_field(keda_validator):
    exp = export_policy(policy("balanced", "balanced"), "keda", interval_minutes=5)
    (obj,) = exp.objects
    assert not list(keda_validator.iter_errors(obj))
    bad = json.loads(json.dumps(obj))
    bad["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]["tolerance"] = "0.1"
    assert list(keda_validator.iter_errors(bad))


@pytest.mark.parametrize(("config", "pol"), ALL)
def test_keda_scaled_object_matches_the_crd_schema(keda_validator, config, pol):
    exp = export_policy(policy(config, pol), "keda", interval_minutes=5, schedule=SCHEDULE)
    assert list(yaml.safe_load_all(exp.text)) == exp.objects
    (obj,) = exp.objects
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in keda_validator.iter_errors(obj)]
    assert errors == []
    spec = obj["spec"]
    assert (obj["apiVersion"], obj["kind"]) == ("keda.sh/v1alpha1", "ScaledObject")
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 17)
    prom = spec["triggers"][0]
    assert prom["type"] == "prometheus"
    assert {"serverAddress", "query", "threshold"} <= set(prom["metadata"])
    assert all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31
        for v in (spec["pollingInterval"], spec["cooldownPeriod"])
    )


@pytest.fixture(scope="module")
def botocore_models():
    botocore_session = pytest.importorskip("botocore.session")
    session = botocore_session.get_session()
    return {s: session.get_service_model(s) for s in ("autoscaling", "cloudwatch")}


def _aws_errors(models, request: dict) -> str:
    from botocore.validate import ParamValidator

    shape = models[request["service"]].operation_model(request["operation"]).input_shape
    return ParamValidator().validate(request["params"], shape).generate_report()


@pytest.mark.parametrize(("config", "pol"), ALL)
def test_aws_requests_validate_against_botocore(botocore_models, config, pol):
    exp = export_policy(policy(config, pol), "aws", interval_minutes=5, schedule=SCHEDULE)
    assert exp.media_type == "application/json"
    assert json.loads(exp.text) == exp.objects
    ops = [(r["service"], r["operation"]) for r in exp.objects]
    assert ("autoscaling", "PutScalingPolicy") in ops
    assert ("autoscaling", "PutScheduledUpdateGroupAction") in ops
    for request in exp.objects:
        assert _aws_errors(botocore_models, request) == "", request


# -- the mapping's numbers -----------------------------------------------------------------------


def test_target_value_is_capacity_times_target_utilization():
    # 50 requests/s per server x 0.7 = 35 requests/s, 2,100 per minute.
    p = policy("balanced", "target_tracking")
    (hpa,) = export_policy(p, "hpa", interval_minutes=5).objects
    assert hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "35000m"
    (keda,) = export_policy(p, "keda", interval_minutes=5).objects
    assert float(keda["spec"]["triggers"][0]["metadata"]["threshold"]) == pytest.approx(35.0)
    aws = export_policy(p, "aws", interval_minutes=5).objects
    tt = next(r["params"] for r in aws if r["params"].get("PolicyType") == "TargetTrackingScaling")
    assert tt["TargetTrackingConfiguration"]["TargetValue"] == pytest.approx(2100.0)
    assert tt["TargetTrackingConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ALBRequestCountPerTarget"
    )
    assert tt["TargetTrackingConfiguration"]["DisableScaleIn"] is False
    # The default capacity (1/3 request/s) at 0.7: 233 milli-requests per second.
    (hpa,) = export_policy(policy("balanced", "hybrid", SimulationModel()), "hpa", interval_minutes=5).objects
    assert hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "233m"


@pytest.mark.parametrize(("boot", "warmup"), [(5.0, 300), (2.5, 150), (0.0, 0)])
def test_boot_delay_is_the_instance_warmup(boot, warmup):
    m = MODEL.with_overrides(boot_delay_minutes=boot)
    for pol in ("target_tracking", "balanced"):
        exp = export_policy(policy("balanced", pol, m), "aws", interval_minutes=5)
        warm = [r["params"]["EstimatedInstanceWarmup"] for r in exp.objects if r["operation"] == "PutScalingPolicy"]
        assert warm
        assert set(warm) == {warmup}
        assert exp.objects[0]["params"]["DefaultInstanceWarmup"] == warmup
        assert rows(exp, "boot_delay_minutes")[0]["carries_over"] == "approximated"
    hpa = export_policy(policy("balanced", "balanced", m), "hpa", interval_minutes=5)
    assert rows(hpa, "boot_delay_minutes")[0]["carries_over"] == "none"


@pytest.mark.parametrize(
    ("config", "minutes"), [("conservative", 5), ("balanced", 5), ("aggressive", 1), ("balanced", 10)]
)
def test_consecutive_periods_are_the_stabilization_windows(config, minutes):
    cfg = PRESETS[config]
    for fmt in ("hpa", "keda"):
        (obj,) = export_policy(policy(config, "balanced"), fmt, interval_minutes=minutes).objects
        spec = obj["spec"]
        behavior = spec["behavior"] if fmt == "hpa" else spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        assert behavior["scaleUp"]["stabilizationWindowSeconds"] == cfg.scale_out_periods * minutes * 60
        assert behavior["scaleDown"]["stabilizationWindowSeconds"] == cfg.scale_in_periods * minutes * 60
        # The step sizes per cooldown (a cooldown shorter than a period counts one period).
        period = max(cfg.cooldown_minutes, minutes) * 60
        assert behavior["scaleUp"]["policies"] == [{"type": "Pods", "value": cfg.step_out, "periodSeconds": period}]
        assert behavior["scaleDown"]["policies"] == [{"type": "Pods", "value": cfg.step_in, "periodSeconds": period}]
    # The reactive policy acts on one period.
    (obj,) = export_policy(policy(config, "reactive"), "hpa", interval_minutes=minutes).objects
    assert obj["spec"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == minutes * 60


def test_a_window_beyond_an_hour_is_capped_and_said_so():
    cfg = replace(PRESETS["balanced"], scale_in_periods=20)
    p = to_policy_dict(cfg, "balanced", MODEL)
    exp = export_policy(p, "hpa", interval_minutes=15)
    assert exp.objects[0]["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 3600
    assert any("capped at 3600" in r["note"] for r in rows(exp, "scale_in_periods"))


def test_target_tracking_scales_in_by_its_stabilization_window():
    for config in preset_names():
        (obj,) = export_policy(policy(config, "target_tracking"), "hpa", interval_minutes=5).objects
        b = obj["spec"]["behavior"]
        assert b["scaleUp"]["stabilizationWindowSeconds"] == 0
        assert b["scaleDown"]["stabilizationWindowSeconds"] == PRESETS[config].scale_in_stabilization_minutes * 60
        assert "tolerance" not in b["scaleUp"]  # the cluster's default, 0.1, is the policy's
    # Another tolerance is the HPA's per-object field (Kubernetes 1.33+); KEDA's behavior has none.
    cfg = replace(PRESETS["balanced"], target_tolerance=0.05)
    exp = export_policy(to_policy_dict(cfg, "target_tracking", MODEL), "hpa", interval_minutes=5)
    b = exp.objects[0]["spec"]["behavior"]
    assert b["scaleUp"]["tolerance"] == b["scaleDown"]["tolerance"] == "0.05"
    assert rows(exp, "target_tolerance")[0]["carries_over"] == "approximated"
    _hpa_model(exp.objects[0])
    exp = export_policy(to_policy_dict(cfg, "target_tracking", MODEL), "keda", interval_minutes=5)
    assert rows(exp, "target_tolerance")[0]["carries_over"] == "none"


def test_step_scaling_alarms_carry_the_thresholds():
    # 5-minute periods, 50 requests/s per server: 15,000 requests per target per period at full load.
    exp = export_policy(policy("balanced", "balanced"), "aws", interval_minutes=5)
    alarms = {r["params"]["AlarmName"]: r["params"] for r in exp.objects if r["operation"] == "PutMetricAlarm"}
    out, in_ = alarms["web-scale-out"], alarms["web-scale-in"]
    assert (out["Period"], out["Statistic"], out["MetricName"]) == (300, "Sum", "RequestCountPerTarget")
    assert out["Threshold"] == pytest.approx(0.8 * 15_000)
    assert in_["Threshold"] == pytest.approx(0.3 * 15_000)
    assert (out["EvaluationPeriods"], out["DatapointsToAlarm"]) == (3, 3)
    assert (in_["EvaluationPeriods"], in_["DatapointsToAlarm"]) == (6, 6)
    steps = {
        r["params"]["PolicyName"]: r["params"] for r in exp.objects if r["params"].get("PolicyType") == "StepScaling"
    }
    assert steps["web-scale-out"]["StepAdjustments"] == [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 2}]
    assert steps["web-scale-in"]["StepAdjustments"] == [{"MetricIntervalUpperBound": 0.0, "ScalingAdjustment": -1}]
    assert rows(exp, "scale_out_periods")[0]["carries_over"] == "exact"
    reactive = export_policy(policy("balanced", "reactive"), "aws", interval_minutes=5)
    assert {r["params"]["EvaluationPeriods"] for r in reactive.objects if r["operation"] == "PutMetricAlarm"} == {1}


def test_the_schedule_floors_at_p90_and_merges_equal_hours():
    exp = export_policy(policy("balanced", "hybrid"), "aws", interval_minutes=5, schedule=SCHEDULE)
    actions = [
        (r["params"]["StartTime"], r["params"]["MinSize"])
        for r in exp.objects
        if r["operation"] == "PutScheduledUpdateGroupAction"
    ]
    assert actions == [
        ("2026-12-06T14:00:00Z", 5),  # 14:00 and 15:00 UTC (given as 10:00-05:00) merged
        ("2026-12-06T16:00:00Z", 17),  # p90 of 40 within max_servers
        ("2026-12-06T17:00:00Z", 2),  # no plan for 17:00-19:00: back to min_servers
        ("2026-12-06T19:00:00Z", 2),
        ("2026-12-06T20:00:00Z", 2),  # the plan is over
    ]
    (keda,) = export_policy(policy("balanced", "hybrid"), "keda", interval_minutes=5, schedule=SCHEDULE).objects
    cron = [t["metadata"] for t in keda["spec"]["triggers"] if t["type"] == "cron"]
    assert [(c["start"], c["end"], c["desiredReplicas"]) for c in cron] == [
        ("0 14 6 12 *", "0 16 6 12 *", "5"),
        ("0 16 6 12 *", "0 17 6 12 *", "17"),
        ("0 19 6 12 *", "0 20 6 12 *", "2"),
    ]
    hpa = export_policy(policy("balanced", "hybrid"), "hpa", interval_minutes=5, schedule=SCHEDULE)
    assert rows(hpa, "schedule")[0]["carries_over"] == "none"


def test_what_has_no_equivalent_is_said():
    for fmt in DEPLOY_FORMATS:
        for pol in ("predictive", "hybrid"):
            exp = export_policy(policy("balanced", pol), fmt, interval_minutes=5)
            assert rows(exp, "forecast floor")[0]["carries_over"] == "none"
        exp = export_policy(policy("balanced", "target_tracking"), fmt, interval_minutes=5)
        assert not rows(exp, "forecast floor")
        for r in exp.mapping:
            assert set(r) == {"setting", "value", "target", "carries_over", "note"}
            assert r["carries_over"] in ("exact", "approximated", "none")
            assert r["carries_over"] == "exact" or r["note"], r  # what does not carry over says why
        assert {r["setting"] for r in exp.mapping} >= {
            "min_servers",
            "max_servers",
            "capacity_per_server_rps",
            "target_utilization",
            "boot_delay_minutes",
        }
        json.dumps(exp.to_dict(), allow_nan=False)


def test_a_recommendation_policy_object_exports_as_is():
    # The object `recommend --json` prints (with its "name") and a forecast model of its own.
    m = replace(MODEL, predictive=PredictiveSpec(forecast_model="seasonal_naive"))
    p = {"name": "tuned (<= 1% in training)", **policy("aggressive", "predictive", m)}
    exp = export_policy(p, "keda", interval_minutes=5, name="shop", namespace="prod")
    assert exp.policy == p
    assert exp.filename == "shop-keda.yaml"
    assert exp.objects[0]["metadata"] == {"name": "shop", "namespace": "prod"}
    assert exp.text.startswith("# tuned (<= 1% in training): the predictive policy")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"fmt": "terraform"}, "unknown export format 'terraform'; use one of: hpa, keda, aws"),
        ({"policy": {"policy": "balanced", "config": {"bogus": 1}}}, "unknown key(s) in the policy JSON: bogus"),
        ({"policy": {"policy": "sideways", "config": {}}}, "unknown policy 'sideways'"),
        ({"policy": {"config": {}}}, 'the policy JSON must be an object {"policy": NAME'),
        ({"policy": {"policy": "balanced", "config": {"min_servers": 0}}}, "min_servers must be >= 1"),
        ({"interval_minutes": 0}, "interval_minutes must be within (0, 1440]"),
        ({"name": "Web_1"}, "is not a Kubernetes name"),
        ({"schedule": [{"hour": "soon", "servers_p90": 3}]}, "hour 'soon' is not an ISO timestamp"),
        ({"schedule": [{"hour": "2026-12-06T14:00Z", "servers_p90": 2.5}]}, "servers_p90 must be a whole number"),
        ({"schedule": [{"hour": "2026-12-06T14:00Z"}]}, "schedule row 0: expected"),
        ({"schedule": {"hour": "2026-12-06T14:00Z"}}, "schedule must be a list"),
    ],
)
def test_bad_input_names_the_value_and_the_fix(kwargs, fragment):
    args = {"policy": policy("balanced", "balanced"), "fmt": "keda", "interval_minutes": 5, **kwargs}
    with pytest.raises(InputError) as info:
        export_policy(args.pop("policy"), args.pop("fmt"), **args)
    assert fragment in str(info.value)


def test_policy_names_resolve_to_presets_or_candidates():
    p, warning = select_policy("Balanced/Target_Tracking", None, MODEL)
    assert warning is None
    assert p == {"name": "balanced/target_tracking", **policy("balanced", "target_tracking")}
    with pytest.raises(InputError, match="CONFIG one of conservative, balanced, aggressive"):
        preset_policy("fast/balanced")
    cands = {"chosen": None, "safest": "b", "policies": {"a": {"name": "a"}, "b": {"name": "b"}}}
    p, warning = select_policy(None, cands)
    assert p == {"name": "b"}
    assert "chose no policy" in warning
    assert "'b'" in warning
    assert select_policy(None, {**cands, "chosen": "a"}) == ({"name": "a"}, None)
    assert select_policy("a", cands) == ({"name": "a"}, None)
    with pytest.raises(InputError, match="candidate of the recommendation: a, b"):
        select_policy("c", cands)


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_TREES = st.recursive(
    _SCALARS, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4), max_leaves=20
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.dictionaries(st.text(), _TREES, max_size=5), min_size=1, max_size=3), st.lists(st.text(), max_size=3)
)
def test_yaml_text_reads_back_as_written(objects, header):
    # The writer behind the hpa and keda files: any JSON-like object, any header text, read back by PyYAML.
    assert list(yaml.safe_load_all(yaml_text(objects, header))) == objects
