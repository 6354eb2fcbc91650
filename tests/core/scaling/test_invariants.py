"""Invariants on real-sized series (synthetic always; the NASA trace when the shared folder is there)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from core.scaling.config import PRESETS, THRESHOLD_POLICIES, Policy
from core.scaling.matrix import run_matrix
from core.scaling.optimize import optimize
from core.scaling.simulate import SimulationModel
from core.scaling.whatif import LoadTransform, whatif
from core.series import Gap, TrafficSeries


def synthetic(days=16, minutes=5, seed=7) -> TrafficSeries:
    """NASA-like: daily and weekly cycles, noise, bursts and a silent outage."""
    n = days * 1440 // minutes
    t = np.arange(n) * minutes / 1440.0
    rng = np.random.default_rng(seed)
    level = 200 * (1 + 0.6 * np.sin(2 * np.pi * (t - 0.3))) * (1 - 0.25 * (np.floor(t) % 7 >= 5))
    burst = np.where(rng.random(n) < 0.01, rng.uniform(1.5, 3.0, n), 1.0)
    values = rng.poisson(np.maximum(level * burst * minutes / 5, 1)).astype(float)
    idx = pd.date_range(pd.Timestamp("1995-08-01", tz="-04:00"), periods=n, freq=f"{minutes}min")
    out_lo, out_hi = n // 2, n // 2 + 300 // minutes
    values[out_lo:out_hi] = 0.0
    gaps = (Gap(idx[out_lo], idx[out_hi], "silent"),)
    frame = pd.DataFrame({"requests": values}, index=idx)
    return TrafficSeries(frame=frame, interval=pd.Timedelta(minutes=minutes), gaps=gaps)


@pytest.fixture(scope="module", params=["synthetic", "nasa"])
def case(request):
    if request.param == "synthetic":
        s = synthetic()
        return s, s.index[len(s) // 2 - 288 * 4], None
    s = request.getfixturevalue("nasa_5min")
    return s, "1995-08-23", "1995-09-01"


@pytest.fixture(scope="module")
def matrix(case):
    s, start, end = case
    return run_matrix(s, start=start, end=end, timelines=True)


def test_servers_within_bounds(case):
    s, start, end = case
    model = SimulationModel().with_overrides(min_servers=2, max_servers=6)
    m = run_matrix(s, model, start=start, end=end, timelines=True)
    for r in [*m.scenarios, *m.baselines.values()]:
        assert r.timeline["servers"].between(2, 6).all(), r.name
        assert (r.timeline["ready_servers"] <= r.timeline["servers"]).all(), r.name
        assert r.totals.peak_servers <= 6


def test_oracle_is_a_lower_bound_on_zero_overload_scenarios(case, matrix):
    s, start, end = case
    oracle = matrix.baselines["oracle"].totals
    assert oracle.overloaded_periods == 0
    zero = [r for r in [*matrix.scenarios, *matrix.baselines.values()] if r.totals.overloaded_periods == 0]
    assert len(zero) >= 2  # static peak and the oracle at least
    for r in zero:
        assert oracle.cost <= r.totals.cost + 1e-9, r.name
    front = optimize(s, budget=400, start=start, end=end, seed=1).front
    for f in front:
        if f["overloaded_periods"] == 0:
            assert oracle.cost <= f["cost"] + 1e-9


def test_oracle_lower_bound_with_boot_delay_and_gaps_at_one_minute():
    s = synthetic(days=3, minutes=1, seed=2)
    for boot in (0.0, 3.0, 7.0):
        model = SimulationModel().with_overrides(boot_delay_minutes=boot)
        m = run_matrix(s, model)
        oracle = m.baselines["oracle"].totals.cost
        for r in [*m.scenarios, *m.baselines.values()]:
            if r.totals.overloaded_periods == 0:
                assert oracle <= r.totals.cost + 1e-9, (boot, r.name)


def test_cost_is_linear_in_price(case, matrix):
    s, start, end = case
    m2 = run_matrix(s, SimulationModel().with_overrides(price_per_server_hour=0.85 * 3), start=start, end=end)
    for a, b in zip(matrix.scenarios + list(matrix.baselines.values()),
                    m2.scenarios + list(m2.baselines.values()), strict=True):
        assert b.totals.cost == pytest.approx(3 * a.totals.cost, rel=1e-12)
        assert b.totals.overloaded_periods == a.totals.overloaded_periods


def test_doubling_the_load_never_lowers_cost(case):
    s, start, end = case
    for cfg in PRESETS:
        for pol in Policy:
            r = whatif(s, cfg, pol, transform=LoadTransform(multiplier=2.0), start=start, end=end)
            assert r.delta["cost"] >= 0, (cfg, pol)


def test_nine_scenarios_differ_where_the_rules_say(matrix):
    by = {(r.config, r.policy): r.totals for r in matrix.scenarios}
    assert len(by) == 9
    for cfg in PRESETS:
        rea, bal = by[(cfg, "reactive")], by[(cfg, "balanced")]
        # reactive acts on one period, balanced waits: more actions, different cost
        assert rea.scaling_actions > bal.scaling_actions, cfg
        assert by[(cfg, "predictive")].cost != bal.cost, cfg
    for pol in THRESHOLD_POLICIES:  # the default matrix's columns
        costs = {by[(cfg, pol.value)].cost for cfg in PRESETS}
        assert len(costs) == 3, pol


def test_cooldown_binds_on_one_minute_series():
    s = synthetic(days=2, minutes=1, seed=4)
    m = run_matrix(s, timelines=True)
    for r in m.scenarios:
        cd = int(PRESETS[r.config].cooldown_minutes)
        acts = np.flatnonzero(r.timeline["scaling_delta"].to_numpy() != 0)
        assert acts.size > 3
        assert np.diff(acts).min() >= cd, r.name


def test_matrix_totals_are_consistent(matrix):
    for r in matrix.scenarios:
        t = r.totals
        tl = r.timeline[~r.timeline["excluded"]]
        assert t.overloaded_periods == int(tl["overloaded"].sum())
        assert t.dropped_requests == pytest.approx(tl["dropped"].sum())
        assert t.peak_servers == tl["servers"].max()
        assert t.p95_latency_s == pytest.approx(tl["p95_latency_s"].mean())
    d = matrix.to_dict()
    assert set(d["baselines"]) == {"static_peak", "static_mean", "target_tracking", "oracle"}
    assert set(d["winners"]) >= {"best_cost", "best_sla", "best_balance", "cheapest_meeting_sla"}


def test_growth_and_spikes_raise_demand_only_where_they_apply():
    from core.scaling.whatif import Spike, apply_transform

    s = synthetic(days=2)
    t = LoadTransform(spikes=(Spike(s.index[100], 60, 3.0, "flat"),))
    out = apply_transform(s, t).requests
    ratio = np.divide(out, s.requests, out=np.ones(len(s)), where=s.requests > 0)
    assert np.allclose(ratio[100:112][s.requests[100:112] > 0], 3.0)
    assert np.allclose(np.delete(ratio, np.arange(100, 112)), 1.0)
    g = apply_transform(s, LoadTransform(weekly_growth_pct=10.0), anchor=s.index[0]).requests
    assert g[0] == s.requests[0]
    assert g[-1] == pytest.approx(s.requests[-1] * 1.1 ** ((len(s) - 1) * 5 / 10080))


def test_identity_whatif_has_zero_deltas():
    s = synthetic(days=2)
    r = whatif(s, "balanced", "predictive")
    assert all(v == 0 for k, v in r.delta.items() if v is not None and k != "cost_pct")


def test_overrides_apply_to_the_scenario_only():
    s = synthetic(days=2)
    r = whatif(s, overrides={"price_per_server_hour": 1.7})
    assert r.delta["cost"] == pytest.approx(r.baseline.totals.cost)
    assert r.delta["overloaded_pct"] == 0
    assert dataclasses.asdict(r.baseline.totals)["server_hours"] == r.scenario.totals.server_hours
