"""The capacity plan: bands over sample paths, the hourly schedule, the backtest at a past origin, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import generators as G
from core.errors import InputError
from core.jsonable import to_jsonable
from core.scaling.config import CapacityModel, PredictiveSpec
from core.scaling.plan import level_spread, plan
from core.scaling.policy_config import from_policy_dict
from core.scaling.policy_forecast import PolicyForecaster
from core.scaling.simulate import SimulationModel, simulate

#: The seasonal naive keeps these fast; the forecasters themselves are tested elsewhere.
NAIVE = SimulationModel(predictive=PredictiveSpec(forecast_model="seasonal_naive"))
FAST = {"folds": 2, "budget": 60, "forecaster": "spec"}


@pytest.fixture(scope="module")
def trend():
    return G.trend(days=24, interval="15min", seed=5)


@pytest.fixture(scope="module")
def future_plan(trend):
    return plan(trend, NAIVE, horizon="3d", paths=20, **FAST)


def test_plan_from_the_end_of_the_data(trend, future_plan):
    p = future_plan
    assert p.origin == trend.end
    assert p.end == trend.end + pd.Timedelta(days=3)
    assert p.backtest is None
    assert [x.role for x in p.policies][0] == "recommended"
    assert p.recommended == p.policies[0].name
    assert {x.role for x in p.policies} <= {"recommended", "target tracking", "static"}
    for x in p.policies:
        assert x.cost["p10"] <= x.cost["p50"] <= x.cost["p90"]
        assert 0 <= x.p_sla_miss <= 1
        assert x.overloaded_pct_expected >= 0
        assert len(x.schedule) == 72  # hourly over 3 days
        assert all(r["servers_p90"] >= r["servers_p50"] >= 1 for r in x.schedule)
        assert x.peak_servers >= max(r["servers_p50"] for r in x.schedule)
    fan = p.forecast["fan"]
    assert len(fan["timestamps"]) == 3 * 96
    assert np.all(np.asarray(fan["p10"]) <= np.asarray(fan["p90"]))
    assert "day-level factor" in p.forecast["how"]
    assert "Over the next 3 days" in p.reason


def test_plan_json_has_the_documented_shape(future_plan):
    d = to_jsonable(future_plan.to_dict())
    assert {"origin", "horizon", "recommended", "policies", "forecast", "backtest"} <= set(d)
    row = d["policies"][0]
    assert {"name", "policy", "config", "cost", "p_sla_miss", "overloaded_pct_expected", "peak_servers",
            "schedule"} <= set(row)
    assert set(row["cost"]) >= {"p10", "p50", "p90"}
    assert set(row["schedule"][0]) == {"hour", "servers_p50", "servers_p90"}
    assert "fan" not in future_plan.to_dict(arrays=False)["forecast"]


def test_the_same_seed_gives_the_same_plan(trend, future_plan):
    again = plan(trend, NAIVE, horizon="3d", paths=20, **FAST)
    assert [x.cost for x in again.policies] == [x.cost for x in future_plan.policies]


def test_a_past_origin_is_backtested_on_the_real_traffic(trend):
    origin = trend.end - pd.Timedelta(days=2)
    p = plan(trend, NAIVE, horizon="2d", origin=origin, paths=20, **FAST)
    assert p.backtest is not None
    assert set(p.backtest["realized_cost"]) == {x.name for x in p.policies}
    assert "The plan made on" in p.reason
    # The realized figures are the policy re-simulated on the real window, as the plan ran it.
    chosen = p.policy(p.recommended)
    cfg, pol, model = from_policy_dict(chosen.policy)
    spec = model.predictive
    f = PolicyForecaster(spec.forecast_model, start=trend.start, window_start=p.origin, window_end=p.end,
                         refit="once", warmup_days=spec.headroom_days if spec.headroom == "quantile" else 0.0,
                         min_history_days=spec.min_history_days)
    r = simulate(trend, cfg, pol, model, start=p.origin, end=p.end, forecaster=f, timeline=False)
    assert r.totals.cost == pytest.approx(chosen.realized["cost"])
    assert r.totals.overloaded_pct == pytest.approx(chosen.realized["overloaded_pct"])
    assert chosen.realized["cost_in_band"] == (chosen.cost["p10"] <= r.totals.cost <= chosen.cost["p90"])


def test_a_cap_that_binds_shows_as_risk_not_as_a_safe_plan():
    s = G.flash_bursts(days=21, interval="15min", seed=2)
    cap = max(2, G.peak_servers(s) // 3)
    model = SimulationModel(capacity=CapacityModel(max_servers=cap),
                            predictive=PredictiveSpec(forecast_model="seasonal_naive"))
    p = plan(s, model, horizon="2d", paths=20, **FAST)
    rec = p.policy(p.recommended)
    assert rec.peak_servers <= cap
    assert rec.p_sla_miss > 0.5
    assert "no policy met the SLA" in p.reason


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"horizon": 0}, "horizon"),
    ({"horizon": "31d"}, "30 days"),
    ({"horizon": "30min"}, "between 1 hour and 30 days"),
    ({"paths": 5}, "paths must be an integer within 10"),
    ({"origin": "2024-01-05"}, "needs 14 days"),
    ({"origin": "2030-01-01"}, "after the data's end"),
    ({"origin": "not a time"}, "not a timestamp"),
    ({"sla_pct": 150}, "sla_pct"),
])
def test_bad_input_names_the_fix(trend, kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        plan(trend, NAIVE, **{"horizon": "1d", "paths": 10, **FAST, **kwargs})


def test_level_spread_is_how_far_weekly_volumes_moved():
    flat = G.flash_bursts(days=28, interval="15min", seed=2)
    step = G.step_change(days=28, interval="15min", step_day=20, seed=2)
    week = pd.Timedelta(days=7)
    a, b = level_spread(flat, week), level_spread(step, week)
    assert a["window_days"] == b["window_days"] == 7
    assert a["pairs"] == b["pairs"] >= 10
    assert a["sigma"] < 0.05  # a steady level: Poisson noise only
    assert b["sigma"] > 5 * a["sigma"]  # the x2.5 step is in several of the week-over-week ratios
    assert level_spread(step, pd.Timedelta(days=30))["window_days"] == 7
    assert level_spread(step, pd.Timedelta(hours=6)) == {"sigma": 0.0, "sigma_80": 0.0, "dof": 0.0, "pairs": 0,
                                                         "window_days": 0, "why": "the horizon is under a day"}
    # The spread is measured on few independent weeks, so the band uses a Student-t's 10%-90% range: wider
    # than sigma, the more so the shorter the history.
    assert b["dof"] == pytest.approx(b["pairs"] / 7)
    longer = level_spread(G.step_change(days=56, interval="15min", step_day=20, seed=2), week)
    assert longer["dof"] > b["dof"]
    assert b["sigma_80"] / b["sigma"] > longer["sigma_80"] / longer["sigma"] > 1.0
    short = level_spread(step.window(None, step.start + pd.Timedelta(days=9)), week)
    assert short["sigma"] == 0.0
    assert "fewer than" in short["why"]


def test_the_paths_spread_at_least_as_far_as_the_weekly_level_moved(trend):
    p = plan(trend, NAIVE, horizon="3d", paths=100, **FAST)
    lv = p.forecast["level"]
    assert lv["sigma"] > 0.1  # +5%/day moves three days' volume by ~0.35 in log over a week
    assert lv["added_sigma"] > 0
    assert np.sqrt(lv["paths_sigma_before"] ** 2 + lv["added_sigma"] ** 2) == pytest.approx(lv["sigma_80"])
    assert "week over week" in p.forecast["how"]
