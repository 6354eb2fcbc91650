"""recommend_action: the one-shot scale out / in / hold decision behind POST /api/recommend-scaling."""

from __future__ import annotations

import math
import re

import pytest

from core.scaling import SimulationModel
from core.scaling.action import recommend_action


def test_the_original_example_scales_out_to_cover_the_peak():
    a = recommend_action([120, 150, 180], 2)
    # 100 requests per 5 min per server; 180 * 1.1 margin / (100 * 0.8 threshold) = 2.475 -> 3 servers.
    assert (a.action, a.current_servers, a.target_servers) == ("scale_out", 2, 3)
    assert a.utilization_now == pytest.approx(0.9)
    assert "180" in a.reason
    assert "3 servers" in a.reason
    assert a.to_dict()["action"] == "scale_out"


def test_policies_use_the_configuration_numbers():
    # Balanced waits for scale_out_periods (3) consecutive periods above 80%: only one is.
    assert recommend_action([120, 150, 180], 2, policy="balanced").action == "hold"
    assert recommend_action([170, 170, 170], 2, policy="balanced").target_servers == 4  # one step of +2
    # Reactive acts on any period, adding whole steps of step_out (2 for balanced).
    assert recommend_action([120, 150, 180], 2, policy="reactive").target_servers == 4
    assert recommend_action([120, 150, 180], 2, config="conservative", policy="reactive").target_servers == 3


def test_scale_in_stops_at_the_needed_servers_and_min_servers():
    a = recommend_action([10, 20, 15], 5)
    assert (a.action, a.target_servers) == ("scale_in", 4)  # step_in = 1 for balanced
    a = recommend_action([10, 20, 15], 5, config="aggressive")
    assert a.target_servers == 3  # step_in = 2
    model = SimulationModel().with_overrides(min_servers=5)
    assert recommend_action([0, 0], 5, model=model).action == "hold"


def test_bounds_and_capacity():
    capped = SimulationModel().with_overrides(max_servers=3)
    a = recommend_action([1000], 3, model=capped)
    assert a.action == "hold"
    assert "max_servers" in a.reason
    assert recommend_action([1000], 9, model=capped).target_servers == 3
    assert recommend_action([0], 0).target_servers == 1  # min_servers
    fast = SimulationModel().with_overrides(capacity_per_server_rps=1.0)  # 300 per 5 min
    assert recommend_action([120, 150, 180], 2, model=fast).action == "hold"


def test_sla_target_counts_overloaded_periods():
    load = [100] * 9 + [1000]
    strict = recommend_action(load, 1, sla_target_pct=0)
    assert strict.target_servers == math.ceil(1000 * 1.1 / 100)
    relaxed = recommend_action(load, 1, sla_target_pct=10)  # one of ten periods may exceed capacity
    assert relaxed.target_servers == 2
    assert relaxed.overloaded_periods_after == 1


@pytest.mark.parametrize(
    ("load", "servers", "kwargs", "fragment"),
    [
        ([], 2, {}, "at least one"),
        ("120", 2, {}, "list of numbers"),
        ([1, -5], 2, {}, "predicted_load[1]"),
        ([1, float("nan")], 2, {}, "predicted_load[1]"),
        ([1, "x"], 2, {}, "predicted_load[1]"),
        ([1, True], 2, {}, "predicted_load[1]"),
        ([1], -1, {}, "current_servers"),
        ([1], 2.5, {}, "current_servers"),
        ([1], 2, {"policy": "magic"}, "unknown policy"),
        ([1], 2, {"config": "huge"}, "unknown scaling config"),
        ([1], 2, {"interval_minutes": 0}, "interval_minutes"),
        ([1], 2, {"sla_target_pct": 101}, "sla_target_pct"),
    ],
)
def test_bad_input_names_the_value(load, servers, kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        recommend_action(load, servers, **kwargs)


def test_the_margin_is_the_original_ten_percent_unless_given():
    assert recommend_action([180], 2).target_servers == 3  # 180 * 1.1 / 80 = 2.475
    assert recommend_action([180], 2, safety_margin=0.5).target_servers == 4  # 180 * 1.5 / 80 = 3.375
    # Only the predictive policy adds the margin.
    assert recommend_action([180], 2, policy="reactive", safety_margin=0.5) == recommend_action([180], 2,
                                                                                                policy="reactive")
    with pytest.raises(ValueError, match=r"safety_margin must be a number within \[0, 10\], got -1"):
        recommend_action([180], 2, safety_margin=-1)
