"""Bad parameters name the value and the fix; matrix, recommendation and optimizer results."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from core.scaling.config import PRESETS, CapacityModel, CostModel, ScalingConfig, get_preset, parse_policy
from core.scaling.matrix import pick_winners, run_matrix
from core.scaling.optimize import knee_point, optimize, pareto_front
from core.scaling.recommend import recommend
from core.scaling.simulate import SimulationModel, simulate
from core.scaling.whatif import parse_spike
from core.series import TrafficSeries


def series(days=3, seed=1):
    rng = np.random.default_rng(seed)
    n = days * 288
    t = np.arange(n) / 288
    v = rng.poisson(250 * (1 + 0.7 * np.sin(2 * np.pi * t))).astype(float)
    idx = pd.date_range(pd.Timestamp("2024-01-01", tz="-04:00"), periods=n, freq="5min")
    return TrafficSeries(frame=pd.DataFrame({"requests": v}, index=idx), interval=pd.Timedelta(minutes=5))


@pytest.mark.parametrize(("make", "match"), [
    (lambda: CapacityModel(boot_delay_minutes=-5), r"boot_delay_minutes must be >= 0, got -5"),
    (lambda: CapacityModel(min_servers=5, max_servers=2), r"min_servers \(5\) must be <= max_servers \(2\)"),
    (lambda: CapacityModel(capacity_per_server_rps=0), r"capacity_per_server_rps must be > 0, got 0"),
    (lambda: CapacityModel(min_servers=0), r"min_servers must be >= 1, got 0"),
    (lambda: CostModel(price_per_server_hour=-1), r"price_per_server_hour must be >= 0, got -1"),
    (lambda: ScalingConfig("x", 0.8, 3, 0.9, 6, 5, 1, 1), r"scale_in_threshold must be within \[0, scale_out"),
    (lambda: ScalingConfig("x", 0.8, 3, 0.3, 6, -5, 1, 1), r"cooldown_minutes must be >= 0, got -5"),
    (lambda: ScalingConfig("x", 0.8, 0, 0.3, 6, 5, 1, 1), r"scale_out_periods must be >= 1, got 0"),
    (lambda: get_preset("turbo"), r"unknown scaling config 'turbo'; use one of: conservative, balanced, aggressive"),
    (lambda: parse_policy("magic"), r"unknown policy 'magic'; use one of: reactive, balanced, predictive"),
    (lambda: parse_spike("2024-01-01,abc,3"), r"spike duration and magnitude must be numbers"),
    (lambda: parse_spike("2024-01-01,60,3,wobble"), r"spike shape must be one of flat, ramp, decay, got 'wobble'"),
    (lambda: SimulationModel().with_overrides(max_servers=0), r"min_servers \(1\) must be <= max_servers \(0\)"),
])
def test_bad_parameters_name_the_value_and_the_fix(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_presets_are_the_original_numbers():
    c, b, a = PRESETS["conservative"], PRESETS["balanced"], PRESETS["aggressive"]
    assert (c.scale_out_threshold, c.scale_out_periods, c.scale_in_threshold, c.scale_in_periods,
            c.cooldown_minutes, c.step_out, c.step_in) == (0.70, 5, 0.20, 10, 10, 1, 1)
    assert (b.scale_out_threshold, b.scale_out_periods, b.cooldown_minutes, b.step_out) == (0.80, 3, 5, 2)
    assert (a.scale_out_threshold, a.scale_in_periods, a.cooldown_minutes, a.step_out, a.step_in) == (0.85, 4, 3, 3, 2)


def test_simulate_result_is_json_safe():
    r = simulate(series(), "conservative", "reactive")
    d = r.to_dict(timeline=True)
    json.dumps(d, allow_nan=False)
    assert len(d["timeline"]["timestamp"]) == 3 * 288
    assert d["meta"]["excluded_periods"] == 0


def test_winners_and_recommendation():
    m = run_matrix(series())
    w = m.winners
    costs = {r.name: r.totals.cost for r in m.scenarios}
    assert costs[w.best_cost] == min(costs.values())
    over = {r.name: r.totals.overloaded_pct for r in m.scenarios}
    assert over[w.best_sla] == min(over.values())
    rec = recommend(m, sla_target_pct=100.0)
    assert f"{rec.config}/{rec.policy}" == w.best_cost or costs[f"{rec.config}/{rec.policy}"] == min(costs.values())
    assert rec.reason.endswith(".")
    assert "$" in rec.reason
    assert recommend(m).criterion == "balance"
    # cost-only and SLA-only weights reduce Best Balance to the other winners
    assert pick_winners(m.scenarios, 1.0).best_balance in {r.name for r in m.scenarios if r.totals.cost ==
                                                            min(costs.values())}
    assert over[pick_winners(m.scenarios, 0.0).best_balance] == min(over.values())
    with pytest.raises(ValueError, match="cost_weight must be within"):
        pick_winners(m.scenarios, 1.5)
    json.dumps(m.to_dict(), allow_nan=False)


def test_pareto_front_and_knee():
    cost = np.array([1.0, 2.0, 3.0, 2.5, 10.0, 4.0])
    sla = np.array([9.0, 3.0, 1.0, 5.0, 0.0, 1.0])
    front = pareto_front(cost, sla)
    assert front.tolist() == [0, 1, 2, 4]
    assert knee_point(cost[front], sla[front]) in (1, 2)


def test_optimizer_front_is_non_dominated_and_reproducible():
    s = series(days=9)
    r = optimize(s, budget=300, start=s.index[288 * 7], seed=3)
    assert r.evaluated == 300
    c = np.array([f["cost"] for f in r.front])
    o = np.array([f["overloaded_pct"] for f in r.front])
    assert np.all(np.diff(c) >= 0)
    assert np.all(np.diff(o) < 0)
    assert r.knee in r.front
    r2 = optimize(s, budget=300, start=s.index[288 * 7], seed=3)
    assert [f["cost"] for f in r2.front] == list(c)
    with pytest.raises(ValueError, match="budget must be >= 9"):
        optimize(s, budget=3)
    json.dumps(r.to_dict(), allow_nan=False)


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["balanced"].step_out = 5
