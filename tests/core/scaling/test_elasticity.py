"""SPEC elasticity metrics: exact values on hand traces, through the simulator, gaps, invariants."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.scaling.config import PRESETS, CapacityModel, CostModel, Policy, QueueModel
from core.scaling.elasticity import ELASTICITY_KEYS, demanded_servers, elasticity
from core.scaling.matrix import run_matrix
from core.scaling.simulate import SimulationModel, prepare, run_scenarios
from core.series import Gap
from tests.core.scaling.conftest import make_series
from tests.core.scaling.test_invariants import synthetic
from tests.core.scaling.test_traces import RULE

# d = demanded servers; three scenarios: s1 moves, s2 = d, s3 = a fixed 2.
D = np.array([2, 2, 3, 1, 1])
SUPPLY = np.array([[1, 2, 2], [2, 2, 2], [4, 3, 2], [4, 1, 2], [1, 1, 2]])


def test_hand_trace_all_periods():
    m = elasticity(SUPPLY, D, np.ones(5, bool))
    # s1: d - s = 1, 0, -1, -3, 0 -> short 1/2 once; excess 1/3 and 3/1.
    # Steps: sgn ds = +, +, 0, -; sgn dd = 0, +, -, 0 -> differ in 3 of 4.
    # s3 (fixed 2): d - s = 0, 0, 1, -1, -1 -> short 1/3; excess 1/1 twice; flat against 2 moves of 4.
    np.testing.assert_allclose(m["accuracy_under_pct"], [100 / 5 * 0.5, 0.0, 100 / 5 / 3])
    np.testing.assert_allclose(m["accuracy_over_pct"], [100 / 5 * (1 / 3 + 3), 0.0, 100 / 5 * 2])
    np.testing.assert_array_equal(m["timeshare_under_pct"], [20.0, 0.0, 20.0])
    np.testing.assert_array_equal(m["timeshare_over_pct"], [40.0, 0.0, 40.0])
    np.testing.assert_array_equal(m["instability_pct"], [75.0, 0.0, 50.0])


def test_gaps_leave_out_their_periods_and_the_steps_across_them():
    inc = np.array([True, True, False, True, True])
    m = elasticity(SUPPLY[:, :1], D, inc)
    # Included: periods 0, 1, 3, 4 (d - s = 1, 0, -3, 0); steps 0->1 (+ vs 0) and 3->4 (- vs 0) only.
    assert m["accuracy_under_pct"].tolist() == [12.5]
    assert m["accuracy_over_pct"].tolist() == [75.0]
    assert m["timeshare_under_pct"].tolist() == [25.0]
    assert m["timeshare_over_pct"].tolist() == [25.0]
    assert m["instability_pct"].tolist() == [100.0]


def test_undefined_without_included_periods():
    m = elasticity(SUPPLY, D, np.zeros(5, bool))
    assert all(np.isnan(m[k]).all() for k in ELASTICITY_KEYS)
    one = elasticity(SUPPLY, D, np.array([False, True, False, False, False]))
    assert one["timeshare_under_pct"].tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(one["instability_pct"]).all()  # no step between two included periods


def test_demanded_servers():
    # 60 per server: 0 and NaN still demand 1 server; 60 exactly is 1, 61 is 2; at 50% 31 is 2.
    assert demanded_servers(np.array([0, np.nan, 60, 61]), 60.0).tolist() == [1, 1, 1, 2]
    assert demanded_servers(np.array([30, 31]), 60.0, 0.5).tolist() == [1, 2]


def _model(utilization=1.0):
    return SimulationModel(
        capacity=CapacityModel(capacity_per_server_rps=1.0, min_servers=1, max_servers=2, boot_delay_minutes=2.0,
                               initial_servers=1),
        cost=CostModel(min_billed_seconds=0.0),
        queue=QueueModel(elasticity_utilization=utilization),
    )


def test_through_the_simulator():
    # The boot-delay trace (test_traces): ready 1, 1, 1, 1, 2, 2 for demand 30, 100 x 5 at 60 per server.
    series = make_series([30, 100, 100, 100, 100, 100])
    t = run_scenarios(prepare(series, _model()), [(RULE, Policy.REACTIVE)])[0].totals
    # d = 1, 2, 2, 2, 2, 2: short by 1 of 2 in periods 1-3; supply rises at step 3->4, demand at 0->1.
    assert t.accuracy_under_pct == pytest.approx(100 / 6 * 3 * 0.5)
    assert t.accuracy_over_pct == 0.0
    assert t.timeshare_under_pct == pytest.approx(50.0)
    assert t.timeshare_over_pct == 0.0
    assert t.instability_pct == pytest.approx(40.0)
    # At 50% utilization d = 1, 4, 4, 4, 4, 4: short 3/4 three times and 2/4 twice.
    h = run_scenarios(prepare(series, _model(0.5)), [(RULE, Policy.REACTIVE)])[0].totals
    assert h.accuracy_under_pct == pytest.approx(100 / 6 * (3 * 0.75 + 2 * 0.5))
    assert h.timeshare_under_pct == pytest.approx(100 * 5 / 6)
    d = h.to_dict()
    assert all(k in d for k in ELASTICITY_KEYS)


def test_gap_periods_are_left_out_in_results():
    s = make_series([30, 100, 100, 100, 100, 100])
    s = dataclasses.replace(s, gaps=(Gap(s.index[2], s.index[4], "silent"),))
    t = run_scenarios(prepare(s, _model()), [(RULE, Policy.REACTIVE)])[0].totals
    # Included 0, 1, 4, 5: d = 1, 2, 2, 2; ready 1, 1, 2, 2; steps 0->1 (flat vs up) and 4->5 (both flat) only,
    # not 1->2 or 3->4 (supply rises at 3->4, inside the gap's edge).
    assert t.accuracy_under_pct == pytest.approx(100 / 4 * 0.5)
    assert t.timeshare_under_pct == pytest.approx(25.0)
    assert t.instability_pct == pytest.approx(50.0)


def test_oracle_is_never_under_provisioned_without_a_binding_cap_and_results_carry_the_metrics():
    s = synthetic(days=2, minutes=5, seed=3)
    m = run_matrix(s, start=s.index[288])
    assert m.meta["cap_binds_periods"] == 0
    o = m.baselines["oracle"].totals
    assert o.timeshare_under_pct == 0.0
    assert o.accuracy_under_pct == 0.0
    peak = m.baselines["static_peak"].totals
    assert peak.timeshare_under_pct == 0.0
    for r in [*m.scenarios, *m.baselines.values()]:
        t = r.totals
        for k in ELASTICITY_KEYS:
            assert 0.0 <= getattr(t, k) <= (100.0 if "accuracy_over" not in k else np.inf), (r.name, k)
        assert t.timeshare_under_pct + t.timeshare_over_pct <= 100.0 + 1e-9
    # The oracle follows demand more closely than any fixed fleet and any rule.
    assert o.accuracy_over_pct < min(r.totals.accuracy_over_pct for r in m.scenarios)
    d = m.to_dict()
    assert all(k in d["scenarios"][0] and k in d["baselines"]["oracle"] for k in ELASTICITY_KEYS)
    assert len(m.scenarios) == len(PRESETS) * 3
