"""Exact traces on tiny hand-made series: boot delay, cooldown, hysteresis, backlog, bounds, billing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.scaling.config import CapacityModel, CostModel, Policy, QueueModel, ScalingConfig
from core.scaling.kernel import MODE_SCHEDULE, ScenarioParams, has_numba, run_kernel
from core.scaling.simulate import SimulationModel, prepare, run_scenarios
from core.series import Gap, TrafficSeries


def make_series(values, minutes=1, gaps=()):
    idx = pd.date_range(pd.Timestamp("2024-01-01", tz="-04:00"), periods=len(values), freq=f"{minutes}min")
    frame = pd.DataFrame({"requests": np.asarray(values, float)}, index=idx)
    return TrafficSeries(frame=frame, interval=pd.Timedelta(minutes=minutes), gaps=tuple(gaps))


ENGINES = ["numpy"] + (["numba"] if has_numba() else [])

# One server serves 1 request per second = 60 per 1-minute period.
RULE = ScalingConfig("t", scale_out_threshold=0.8, scale_out_periods=1, scale_in_threshold=0.1, scale_in_periods=1,
                     cooldown_minutes=0, step_out=1, step_in=1)


def model(boot=0.0, lo=1, hi=10, init=1, queue=60.0, min_billed=0.0, price=1.0):
    return SimulationModel(
        capacity=CapacityModel(capacity_per_server_rps=1.0, min_servers=lo, max_servers=hi, boot_delay_minutes=boot,
                               initial_servers=init),
        cost=CostModel(price_per_server_hour=price, min_billed_seconds=min_billed),
        queue=QueueModel(queue_limit_seconds=queue),
    )


def run(values, cfg=RULE, policy=Policy.REACTIVE, engine="numpy", **kw):
    prep = prepare(make_series(values), model(**kw))
    return run_scenarios(prep, [(cfg, policy)], timelines=True, engine=engine)[0]


@pytest.mark.parametrize("engine", ENGINES)
def test_boot_delay_trace(engine):
    # High load from period 1: the decision at period 2 (seeing period 1) launches one server,
    # which serves from period 2 + 2 = 4 with a 2-minute boot delay.
    r = run([30, 100, 100, 100, 100, 100], engine=engine, boot=2.0, hi=2)
    tl = r.timeline
    assert tl["servers"].tolist() == [1, 1, 2, 2, 2, 2]
    assert tl["ready_servers"].tolist() == [1, 1, 1, 1, 2, 2]
    assert tl["scaling_delta"].tolist() == [0, 0, 1, 0, 0, 0]


@pytest.mark.parametrize("engine", ENGINES)
def test_zero_boot_delay_is_instantaneous(engine):
    tl = run([30, 100, 100, 100], engine=engine, boot=0.0, hi=2).timeline
    assert tl["servers"].tolist() == [1, 1, 2, 2]
    assert tl["ready_servers"].tolist() == tl["servers"].tolist()


@pytest.mark.parametrize("engine", ENGINES)
def test_boot_delay_shorter_than_a_period_rounds_up(engine):
    # 30 s of boot on 1-minute periods: the server serves from the next period after launch... i.e. one period later.
    tl = run([30, 100, 100, 100, 100], engine=engine, boot=0.5, hi=2).timeline
    assert tl["servers"].tolist() == [1, 1, 2, 2, 2]
    assert tl["ready_servers"].tolist() == [1, 1, 1, 2, 2]


@pytest.mark.parametrize("engine", ENGINES)
def test_cooldown_binds_at_one_minute(engine):
    values = [1000.0] * 12
    no_cd = run(values, engine=engine, hi=50).timeline["scaling_delta"].to_numpy()
    cfg = ScalingConfig("cd", 0.8, 1, 0.1, 1, cooldown_minutes=3, step_out=1, step_in=1)
    cd = run(values, cfg=cfg, engine=engine, hi=50).timeline["scaling_delta"].to_numpy()
    assert np.flatnonzero(no_cd).tolist() == list(range(1, 12))
    assert np.flatnonzero(cd).tolist() == [1, 4, 7, 10]


@pytest.mark.parametrize("engine", ENGINES)
def test_hysteresis_waits_for_consecutive_periods(engine):
    cfg = ScalingConfig("h", 0.8, 3, 0.1, 2, cooldown_minutes=0, step_out=2, step_in=1)
    # two high periods, one low, then three high: only the second run triggers, at the period after it.
    values = [55, 55, 10, 55, 55, 55, 20, 20]  # 55 of 60: above 80%, no backlog
    bal = run(values, cfg=cfg, policy=Policy.BALANCED, engine=engine, init=1, hi=10).timeline
    assert bal["scaling_delta"].tolist() == [0, 0, 0, 0, 0, 0, 2, 0]
    # reactive uses the same numbers without waiting: +2 after the first high period, then 10 of 180
    # (below 10%) in period 2 scales in at once at period 3.
    rea = run(values, cfg=cfg, policy=Policy.REACTIVE, engine=engine, init=1, hi=10).timeline
    assert rea["scaling_delta"].tolist()[:4] == [0, 2, 0, -1]


@pytest.mark.parametrize("engine", ENGINES)
def test_backlog_and_drops(engine):
    # 1 server, 60 per period, queue limit 60 s = 60 requests.
    tl = run([150, 0, 0, 30], engine=engine, hi=1).timeline
    assert tl["served"].tolist() == [60, 60, 0, 30]
    assert tl["backlog"].tolist() == [60, 0, 0, 0]
    assert tl["dropped"].tolist() == [30, 0, 0, 0]
    assert tl["overloaded"].tolist() == [True, False, False, False]
    r = run([150, 0, 0, 30], engine=engine, hi=1)
    assert r.totals.dropped_requests == 30
    assert r.totals.dropped_pct == pytest.approx(100 * 30 / 180)
    assert r.totals.overloaded_periods == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_min_max_bounds(engine):
    values = [5000.0] * 10 + [0.0] * 30
    tl = run(values, engine=engine, lo=2, hi=4, init=2).timeline
    assert tl["servers"].max() == 4
    assert tl["servers"].min() == 2
    assert tl["servers"].iloc[-1] == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_billing_with_minimum_billed_time(engine):
    # schedule 1,2,2,1,1 at 1 minute, instant boot, minimum 300 s per launch:
    # the second server runs 120 s and is billed 300 s.
    sched = np.array([[1], [2], [2], [1], [1]])
    params = ScenarioParams.from_rows([dict(mode=MODE_SCHEDULE, sched_col=0, min_s=1, max_s=5, init=1)])
    kr = run_kernel(np.zeros(5), np.ones(5, bool), params, server_cap=60, queue_cap=60, boot_p=0, period_s=60,
                    min_billed_s=300, schedules=sched, engine=engine)
    assert kr.server_periods.tolist() == [7]
    assert kr.topup_s.tolist() == [180]
    assert kr.actions.tolist() == [2]


def test_cost_is_price_times_server_hours():
    r = run([30, 100, 100, 100, 100, 100], boot=2.0, hi=2, price=0.85)
    # 1+1+2+2+2+2 server-minutes
    assert r.totals.server_hours == pytest.approx(10 / 60)
    assert r.totals.cost == pytest.approx(0.85 * 10 / 60)


def test_gaps_are_excluded_from_statistics():
    s = make_series([30, 30, 0, 0, 30, 30])
    gap = Gap(s.index[2], s.index[4], "silent")
    s = make_series([30, 30, 0, 0, 30, 30], gaps=(gap,))
    prep = prepare(s, model())
    r = run_scenarios(prep, [(RULE, Policy.REACTIVE)])[0]
    assert r.totals.excluded_periods == 2
    assert r.totals.server_hours == pytest.approx(4 / 60)


def test_nan_demand_is_zero():
    a = run([30, np.nan, 30]).timeline
    b = run([30, 0, 30]).timeline
    assert a["served"].tolist() == b["served"].tolist()


@pytest.mark.skipif(not has_numba(), reason="numba not installed")
def test_numba_and_numpy_kernels_agree_exactly():
    rng = np.random.default_rng(3)
    T, S = 600, 40
    d = rng.gamma(2.0, 150.0, T)
    d[100:120] = 0.0
    rows = []
    for _s in range(S):
        up = rng.uniform(0.5, 0.95)
        rows.append(dict(mode=int(rng.integers(0, 3)), up_thr=up, down_thr=up * rng.uniform(0.1, 0.8),
                         up_n=int(rng.integers(1, 5)), down_n=int(rng.integers(1, 8)),
                         cooldown_p=int(rng.integers(0, 5)), step_up=int(rng.integers(1, 4)),
                         step_down=int(rng.integers(1, 3)), use_fc=int(rng.integers(0, 2)),
                         margin=rng.uniform(0, 0.5), stab_p=int(rng.integers(1, 6)), min_s=1,
                         max_s=int(rng.integers(3, 20)), init=2, sched_col=int(rng.integers(0, 2))))
    params = ScenarioParams.from_rows(rows)
    sched = rng.integers(1, 10, (T, 2))
    inc = rng.random(T) > 0.05
    kw = dict(server_cap=100.0, queue_cap=20.0, boot_p=2, period_s=300.0, min_billed_s=900.0,
              fcmax=d * rng.uniform(0.8, 1.2, T), schedules=sched)
    a = run_kernel(d, inc, params, engine="numpy", **kw)
    b = run_kernel(d, inc, params, engine="numba", **kw)
    for name in ("server_periods", "topup_s", "overloaded", "dropped", "actions", "peak", "total", "ready", "work",
                 "served", "backlog", "dropped_t", "delta"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
