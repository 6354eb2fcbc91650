"""The oracle under a server cap: never worse than a fleet at the cap, the cheapest for its overload, unchanged
where the cap does not bind (checked against the implementation it replaced, kept below as the reference)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from core.scaling.baselines import oracle_need, oracle_plan
from core.scaling.config import CapacityModel, CostModel, QueueModel
from core.scaling.kernel import MODE_SCHEDULE, ScenarioParams, has_numba, run_kernel
from core.scaling.matrix import run_matrix
from core.scaling.simulate import SimulationModel, prepare, run_meta, run_scenarios
from core.series import Gap, TrafficSeries
from tests.core.scaling.test_invariants import synthetic

ENGINES = ["numpy"] + (["numba"] if has_numba() else [])
_TOL = 1e-9


def reference_oracle(demand, include, server_cap, boot_p, lo, hi):
    """The oracle before it knew about backlog (commit 2f3d10f), verbatim but for names: the reference
    where the cap never binds, and the bug where it does (it provisions for demand, not demand + backlog)."""
    d = np.nan_to_num(np.asarray(demand, dtype=np.float64))
    inc = np.asarray(include, bool)
    n = len(d)
    need = np.ceil(d / server_cap - _TOL)
    need = np.where(inc, need, 0)
    need = np.clip(need, lo, hi).astype(np.int64)
    cw = np.concatenate([[0], np.cumsum(inc)])
    total = np.full(n, lo, np.int64)
    for layer in range(lo + 1, int(need.max()) + 1 if n else 0):
        on = need >= layer
        edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        mark = np.zeros(n + 1, np.int64)
        s0 = starts[0]
        launch_at = s0 - boot_p
        if launch_at < 0 or cw[s0] - cw[0] <= cw[s0] - cw[launch_at]:
            starts_eff0 = 0
        else:
            starts_eff0 = launch_at
        seg_starts = [starts_eff0]
        seg_ends = []
        if len(starts) > 1:
            g_from, g_to = ends[:-1], starts[1:]
            boot_from = np.maximum(g_to - boot_p, 0)
            keep_cost = cw[g_to] - cw[g_from]
            relaunch_cost = cw[g_to] - cw[boot_from]
            keep = (boot_from < g_from) | (keep_cost <= relaunch_cost)
            split = np.flatnonzero(~keep)
            seg_ends = list(g_from[split])
            seg_starts += list(boot_from[split])
        seg_ends.append(ends[-1])
        np.add.at(mark, np.asarray(seg_starts), 1)
        np.add.at(mark, np.asarray(seg_ends), -1)
        total += np.cumsum(mark[:n]) > 0
    return total


def series(values, minutes=5, gaps=()):
    idx = pd.date_range(pd.Timestamp("2024-01-01", tz="-04:00"), periods=len(values), freq=f"{minutes}min")
    frame = pd.DataFrame({"requests": np.asarray(values, float)}, index=idx)
    return TrafficSeries(frame=frame, interval=pd.Timedelta(minutes=minutes), gaps=tuple(gaps))


def model(hi=100, boot=5.0, lo=1, queue=60.0, min_billed=60.0):
    """At 5 minutes one server serves 100 requests per period and queues 20 (60 s)."""
    return SimulationModel(capacity=CapacityModel(min_servers=lo, max_servers=hi, boot_delay_minutes=boot),
                           cost=CostModel(min_billed_seconds=min_billed), queue=QueueModel(queue_limit_seconds=queue))


def schedule_runs(values, schedules, *, inc=None, server_cap=60.0, queue_cap=60.0, boot_p=0, lo=1, hi=3,
                  min_billed_s=60.0, engine="auto"):
    """Every schedule (rows of ``schedules``) through the kernel at once; each starts with its first
    period's servers ready, as the oracle does. Returns the kernel result and the cost in server-seconds."""
    d = np.asarray(values, float)
    inc = np.ones(len(d), bool) if inc is None else np.asarray(inc, bool)
    sch = np.asarray(schedules, np.int64)
    S = len(sch)
    params = ScenarioParams.from_columns(dict(mode=np.full(S, MODE_SCHEDULE), sched_col=np.arange(S),
                                              min_s=np.full(S, lo), max_s=np.full(S, hi), init=sch[:, 0]), S)
    kr = run_kernel(d, inc, params, server_cap=server_cap, queue_cap=queue_cap, boot_p=boot_p, period_s=60.0,
                    min_billed_s=min_billed_s, schedules=np.ascontiguousarray(sch.T), engine=engine)
    return kr, kr.server_periods * 60.0 + kr.topup_s


# -- unchanged where the cap does not bind ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_schedule_is_the_reference_where_the_cap_does_not_bind(seed):
    rng = np.random.default_rng(seed)
    n = 400
    d = rng.gamma(2.0, 120.0, n) * (1 + np.sin(np.arange(n) / 40))
    d[rng.random(n) < 0.02] = np.nan
    inc = np.ones(n, bool)
    inc[150:180] = False
    d[150:180] = 0.0  # an outage: no requests (as every gap found at ingest)
    cap, lo = 100.0, int(rng.integers(1, 3))
    hi = int(np.ceil(np.nanmax(d) / cap)) + int(rng.integers(0, 3))
    for boot_p in (0, 1, 3, 7):
        plan = oracle_plan(d, inc, cap, 20.0, boot_p, lo, hi)
        assert not plan.cap_binds.any()
        np.testing.assert_array_equal(plan.servers, reference_oracle(d, inc, cap, boot_p, lo, hi))


def test_matrix_figures_are_the_ones_measured_before_the_change():
    # Measured with the reference implementation (commit 2f3d10f) on these exact runs; no cap binds in any.
    s = synthetic()
    m = run_matrix(s, start=s.index[len(s) // 2 - 288 * 4])
    assert m.baselines["oracle"].totals.cost == pytest.approx(592.8041666666667, rel=1e-12)
    assert m.baselines["oracle"].totals.overloaded_periods == 0
    assert m.meta["cap_binds_periods"] == 0
    s1 = synthetic(days=3, minutes=1, seed=2)
    for boot, cost in ((0.0, 136.60916666666665), (3.0, 159.82833333333332), (7.0, 170.92083333333335)):
        m1 = run_matrix(s1, SimulationModel().with_overrides(boot_delay_minutes=boot))
        assert m1.baselines["oracle"].totals.cost == pytest.approx(cost, rel=1e-12), boot


# -- a binding cap ---------------------------------------------------------------------------------------


def burst_then_busy():
    """300/period, one burst of 600, then 290/period: with 4 servers (400/period) the burst's 80 queued
    requests (4 x 20) fit in the next period; with 3 they do not."""
    return series([300.0] * 6 + [600.0] + [290.0] * 10 + [150.0] * 5)


@pytest.mark.parametrize("engine", ENGINES)
def test_binding_cap_oracle_is_no_worse_than_a_fleet_at_the_cap(engine):
    s = burst_then_busy()
    prep = prepare(s, model(hi=4, boot=0.0))
    res = {r.name: r for r in run_scenarios(prep, [], baselines=True, timelines=True, engine=engine)}
    oracle, at_cap = res["oracle"], res["static_peak"]
    assert at_cap.timeline["servers"].eq(4).all()  # the static peak fleet is the cap
    assert oracle.totals.overloaded_periods == at_cap.totals.overloaded_periods == 1
    assert oracle.totals.dropped_requests <= at_cap.totals.dropped_requests
    assert oracle.totals.cost < at_cap.totals.cost
    assert oracle.timeline["overloaded"].tolist() == [False] * 6 + [True] + [False] * 15
    # ... and it serves the burst's backlog at once: 80 queued + 290 needs all 4 servers.
    assert oracle.timeline["servers"].tolist()[5:9] == [3, 4, 4, 3]
    assert oracle.meta == {"cap_binds_periods": 1}
    assert run_meta(prep)["cap_binds_periods"] == 1
    # The implementation it replaced provisioned 3 servers for the 290: 370 > 300, 60 queued (the
    # limit of 3 servers), then draining by 10 a period: 1 + 6 overloaded periods against the fleet's 1.
    old = reference_oracle(prep.demand, prep.include, prep.server_cap, prep.boot_p, 1, 4)
    kr, _ = schedule_runs(prep.demand, old[None, :], server_cap=prep.server_cap, queue_cap=prep.queue_cap,
                          boot_p=prep.boot_p, hi=4, engine=engine)
    assert kr.overloaded.tolist() == [7]


@pytest.mark.parametrize(("boot", "minutes"), [(0.0, 5), (5.0, 5), (12.0, 5), (3.0, 1)])
def test_binding_cap_on_bursty_traffic(boot, minutes):
    # Poisson traffic with bursts of ~3x above a cap of 80% of the peak need, in several boot delays.
    rng = np.random.default_rng(11)
    n = 2000
    rate = 250.0 * (1 + 0.5 * np.sin(np.arange(n) * 2 * np.pi / (1440 / minutes)))
    rate *= np.where(rng.random(n) < 0.02, 3.0, 1.0)
    s = series(rng.poisson(rate * minutes / 5), minutes)
    need = int(np.ceil(np.max(s.requests) / (minutes * 20)))
    prep = prepare(s, model(hi=int(0.8 * need), boot=boot))
    res = {r.name: r for r in run_scenarios(prep, [], baselines=True, timelines=True)}
    oracle, at_cap = res["oracle"].totals, res["static_peak"].totals
    assert res["static_peak"].timeline["servers"].eq(int(0.8 * need)).all()
    assert 0 < oracle.overloaded_periods <= at_cap.overloaded_periods
    assert oracle.dropped_requests <= at_cap.dropped_requests + 1e-6
    assert oracle.cost <= at_cap.cost
    # The plan is what the kernel does: overloaded exactly where the cap binds, never short of the need.
    plan = prep.oracle_plan()
    tl = res["oracle"].timeline
    np.testing.assert_array_equal(tl["overloaded"].to_numpy(), plan.cap_binds)
    assert (tl["ready_servers"].to_numpy() >= plan.ready).all()
    assert res["oracle"].meta["cap_binds_periods"] == oracle.overloaded_periods == prep.cap_binds_periods


def test_the_need_follows_the_kernels_backlog():
    # cap 2 x 60 = 120 per period, queue 60 per server: 250 -> 120 served, 120 queued (10 dropped);
    # 30 + 120 = 150 > 120 -> overloaded again, 30 queued; 30 + 60 = 90 -> 2 servers, served in full.
    need, binds = oracle_need(np.array([60.0, 250.0, 30.0, 60.0, 0.0]), 60.0, 60.0, 1, 2)
    assert need.tolist() == [1, 2, 2, 2, 1]
    assert binds.tolist() == [False, True, True, False, False]


# -- small exact cases: every schedule ----------------------------------------------------------------------


def exact_cases(count, seed):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        T, hi = int(rng.integers(4, 7)), int(rng.integers(2, 4))
        d = rng.choice([0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 200.0, 250.0], size=T)
        inc = rng.random(T) > 0.15
        d[~inc] = 0.0  # gap periods carry no requests, as the gaps ingest finds
        yield d, inc, hi, int(rng.integers(0, 3)), float(rng.choice([0.0, 20.0, 60.0, 120.0]))


def all_schedules(T, lo, hi):
    return np.array(list(itertools.product(range(lo, hi + 1), repeat=T)), np.int64)


def test_oracle_is_optimal_among_schedules_that_run_at_the_cap_while_overloaded():
    """Against every schedule of small cases: the oracle is overloaded in a subset of the periods of any
    schedule that is at the cap whenever it is overloaded, drops no more, and is the cheapest of them with
    as few overloaded periods (the minimum billed time, 60 s, is within boot + one period)."""
    binding = 0
    for d, inc, hi, boot_p, q in exact_cases(60, seed=1):
        plan = oracle_plan(d, inc, 60.0, q, boot_p, 1, hi)
        sch = np.vstack([plan.servers, all_schedules(len(d), 1, hi)])
        kr, cost = schedule_runs(d, sch, inc=inc, queue_cap=q, boot_p=boot_p, hi=hi)
        over = kr.work > kr.ready * 60.0 * (1 + _TOL) + _TOL  # [T, S], gap periods too
        np.testing.assert_array_equal(over[:, 0], plan.cap_binds)
        at_cap = ~(over & (kr.ready < hi)).any(axis=0)
        assert at_cap[0]
        binding += bool(plan.cap_binds[inc].any())
        for s in np.flatnonzero(at_cap):
            assert not (over[:, 0] & ~over[:, s]).any(), (d, sch[s])
            assert kr.dropped[0] <= kr.dropped[s] + 1e-9, (d, sch[s])
            if kr.overloaded[s] == kr.overloaded[0]:
                assert cost[0] <= cost[s] + 1e-9, (d, inc, boot_p, q, sch[s])
    assert binding >= 20  # the cases exercise the cap


def test_oracle_is_a_lower_bound_on_every_schedule_without_overload():
    """Where the cap does not bind, no schedule at all that is never overloaded costs less."""
    for d, inc, hi, boot_p, q in exact_cases(40, seed=2):
        d = np.minimum(d, hi * 60.0)  # within the cap
        plan = oracle_plan(d, inc, 60.0, q, boot_p, 1, hi)
        assert not plan.cap_binds.any()
        sch = np.vstack([plan.servers, all_schedules(len(d), 1, hi)])
        kr, cost = schedule_runs(d, sch, inc=inc, queue_cap=q, boot_p=boot_p, hi=hi)
        assert kr.overloaded[0] == 0
        zero = kr.overloaded == 0
        assert cost[0] <= cost[zero].min() + 1e-9, (d, inc, boot_p)


def test_where_a_schedule_below_the_cap_while_overloaded_beats_the_oracle():
    """Why the optimality above is among schedules at the cap while overloaded (the oracle's definition).

    With 2 servers at most (120 per period, 60 queued each), running 1 server in the burst drops 130 of 250
    and queues only 60, so the next periods are not overloaded: 1 overloaded period against the oracle's 3
    (it serves and queues all it can, 10 dropped, and the 120 queued keep two more periods overloaded).
    With 3 servers at most and a 2-period boot, 2 servers in the one unavoidable overload (200 > 180) queue
    80 that the next period serves: same overloaded periods, nothing dropped, and cheaper than the oracle,
    which boots a third server for a period that is overloaded anyway.
    """
    d = np.array([60.0, 90.0, 250.0, 30.0, 120.0, 60.0, 60.0])
    plan = oracle_plan(d, np.ones(7, bool), 60.0, 60.0, 0, 1, 2)
    kr, _ = schedule_runs(d, [plan.servers, [1, 2, 1, 2, 2, 1, 1]], hi=2)
    assert kr.overloaded.tolist() == [3, 1]
    assert kr.dropped.tolist() == [10.0, 130.0]
    d = np.array([90.0, 30.0, 90.0, 120.0, 200.0, 30.0, 30.0])
    plan = oracle_plan(d, np.ones(7, bool), 60.0, 60.0, 2, 1, 3)
    kr, cost = schedule_runs(d, [plan.servers, [2, 2, 2, 2, 2, 2, 1]], boot_p=2, hi=3)
    assert kr.overloaded.tolist() == [1, 1]
    assert kr.dropped.tolist() == [0.0, 0.0]
    assert cost.tolist() == [900.0, 780.0]


def test_cap_binds_in_gaps_are_not_counted():
    s = series([100.0] * 4 + [900.0, 0.0] + [100.0] * 4)
    s = series(s.requests, gaps=(Gap(s.index[4], s.index[6], "silent"),))
    prep = prepare(s, model(hi=3, boot=0.0))
    assert prep.oracle_plan().cap_binds[4]
    assert prep.cap_binds_periods == 0
