"""No decision sees the future, through the whole simulate path (forecast, prepare, kernel).

``forecast_leakage_check`` covers the forecaster; this covers how the policies read it. Demand is
changed strictly after a cut (period ``c`` of the window); a decision at period ``t`` is made at its start
from what was observed up to the end of ``t - 1`` (demand, load ratios, and forecasts made from that
data), so every decision at ``t <= c + 1`` (servers and scaling delta) must stay as it was. The check is
shown to catch a one-period shift of the predictive policy's forecast window (each decision then sees its
own period's demand), which passes every other scaling test.
"""

from __future__ import annotations

import dataclasses
import importlib

import numpy as np
import pytest

from core.scaling.config import PRESETS, Policy, PredictiveSpec, ScalingConfig
from core.scaling.forecasting import SeasonalNaiveRolling, window_max
from core.scaling.simulate import BASELINES, SimulationModel, prepare, run_scenarios
from core.series import TrafficSeries
from tests.core.scaling.test_invariants import synthetic

# The module, not the function ``core.scaling.simulate`` that the package exports under the same name.
simulate_mod = importlib.import_module("core.scaling.simulate")

#: Baselines sized on the whole window in hindsight, by definition: the oracle knows every period's demand,
#: the static fleets the window's peak and mean. Raising demand after the cut changes them everywhere.
HINDSIGHT = ("oracle", "static_peak", "static_mean")
CONFIGS = (*PRESETS.values(), ScalingConfig("twitchy", 0.6, 1, 0.5, 1, cooldown_minutes=0, step_out=4, step_in=3))


class Persistence:
    """An honest forecaster that uses the newest data it may: out[j] = values[j - k] (k periods earlier).

    The most sensitive probe of how the policy reads forecasts: a forecast made one period too late
    carries the demand of the period being decided.
    """

    name = "persistence"

    def __call__(self, values: np.ndarray, k: int, interval) -> np.ndarray:
        out = np.full(len(values), np.nan)
        out[k:] = values[:-k]
        return out


def decisions(series: TrafficSeries, model: SimulationModel, start, forecaster) -> dict[str, np.ndarray]:
    """Per scenario (every config x policy and the baselines but HINDSIGHT): [T, 2] servers and scaling delta."""
    prep = prepare(series, model, start=start, forecaster=forecaster)
    results = run_scenarios(prep, [(c, p) for c in CONFIGS for p in Policy], baselines=True, timelines=True)
    return {r.name: r.timeline[["servers", "scaling_delta"]].to_numpy() for r in results if r.name not in HINDSIGHT}


def first_leak(series: TrafficSeries, model: SimulationModel, *, start, cut: int, factor: float,
               forecaster=None) -> tuple[int, str] | None:
    """The earliest (period, scenario) decided at or before ``cut + 1`` that changed when only the demand of
    the window's periods after ``cut`` was multiplied by ``factor``; None when nothing leaked."""
    lo = 0 if start is None else series.index.get_loc(start)
    values = series.requests.copy()
    values[lo + cut + 1:] *= factor
    changed = dataclasses.replace(series, frame=series.frame.assign(requests=values))
    before, after = decisions(series, model, start, forecaster), decisions(changed, model, start, forecaster)
    leaks = []
    for name, a in before.items():
        moved = np.flatnonzero((a[: cut + 2] != after[name][: cut + 2]).any(axis=1))
        if moved.size:
            leaks.append((int(moved[0]), name))
    return min(leaks) if leaks else None


def cases():
    five = synthetic(days=4, minutes=5, seed=3)
    one = synthetic(days=2, minutes=1, seed=5)
    default = SimulationModel()
    quantile = SimulationModel(predictive=PredictiveSpec(headroom="quantile", headroom_days=1.0))
    return {
        # boot 5 min = 1 period; the forecast reads the newest data it may.
        "5min-persistence": (five, default, five.index[288 * 2], Persistence()),
        # the seasonal naive (one day earlier) with a day of history before the window.
        "5min-seasonal-naive": (five, default, five.index[288], SeasonalNaiveRolling()),
        # instantaneous boot: a server launched at a decision serves that period.
        "5min-no-boot": (five, default.with_overrides(boot_delay_minutes=0.0), five.index[288 * 2], Persistence()),
        # 1 minute, 7-minute boot, cooldowns that bind, the window from the first period (no history).
        "1min-boot7": (one, default.with_overrides(boot_delay_minutes=7.0, max_servers=40), None, Persistence()),
        # the headroom as the 95% quantile of the forecaster's own errors over the day before each decision.
        "5min-quantile-headroom": (five, quantile, five.index[288 * 2], Persistence()),
        # the same with the policy forecaster's default on 4 days: the robust profile (no model fits in 4 days).
        "5min-quantile-policy-forecaster": (five, dataclasses.replace(quantile, predictive=dataclasses.replace(
            quantile.predictive, refit="daily")), five.index[288 * 2], None),
    }


CASES = cases()
CUTS = (100, 250, 400)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("factor", [3.0, 0.25])
def test_no_decision_sees_demand_after_it(case, factor):
    series, model, start, forecaster = CASES[case]
    for cut in CUTS:
        assert first_leak(series, model, start=start, cut=cut, factor=factor, forecaster=forecaster) is None, cut


def model_case():
    """Fourier+ARMA (the default) fitted on the 14.5 days before the window, its state updated by the true
    values as they arrive: the forecast for j uses data up to j - k, the newest it may. Its forecast moves
    less than the demand, hence a larger factor to show a late read."""
    s = synthetic(days=16, minutes=5, seed=9)
    return s, s.index[288 * 14 + 144], (20, 60, 100), 10.0


def test_no_decision_sees_the_future_with_the_default_forecast_model():
    s, start, cuts, factor = model_case()
    for cut in cuts:
        assert first_leak(s, SimulationModel(), start=start, cut=cut, factor=factor) is None, cut


#: The policy forecaster refitted at each midnight (one inside the window) and the 95% quantile headroom.
REFIT_QUANTILE = SimulationModel(predictive=PredictiveSpec(refit="daily", headroom="quantile", headroom_days=2.0))


def test_no_decision_sees_the_future_with_daily_refits_and_the_quantile_headroom():
    s, start, cuts, factor = model_case()
    for cut in (*cuts, 150, 250):  # 150 and 250: after the refit at the window's first midnight
        assert first_leak(s, REFIT_QUANTILE, start=start, cut=cut, factor=factor) is None, cut


def test_every_policy_and_the_non_hindsight_baselines_are_checked():
    series, model, start, forecaster = CASES["5min-persistence"]
    names = set(decisions(series, model, start, forecaster))
    assert {n.split("/")[1] for n in names if "/" in n} == {p.value for p in Policy}
    assert {n for n in names if "/" not in n} == set(BASELINES) - set(HINDSIGHT) == {"target_tracking"}


def shifted_window_max(fc: np.ndarray, k: int) -> np.ndarray:
    """The bug to catch: each decision reads the forecast window one period later (``fcmax[p + 1]``)."""
    w = window_max(fc, k)
    return np.concatenate([w[1:], w[-1:]])


@pytest.mark.parametrize("case", ["5min-persistence", "5min-no-boot", "1min-boot7", "5min-quantile-headroom"])
def test_the_check_catches_a_forecast_read_one_period_late(case, monkeypatch):
    series, model, start, forecaster = CASES[case]
    monkeypatch.setattr(simulate_mod, "window_max", shifted_window_max)
    leaks = [first_leak(series, model, start=start, cut=cut, factor=3.0, forecaster=forecaster) for cut in CUTS]
    assert any(leak is not None for leak in leaks), case
    # It shows where it is: a policy that reads the forecast (predictive or hybrid), at the decision right
    # after the cut.
    for leak, cut in zip(leaks, CUTS, strict=True):
        if leak is not None:
            assert leak[0] == cut + 1
            assert leak[1].split("/")[1] in {Policy.PREDICTIVE, Policy.HYBRID}


@pytest.mark.parametrize("model", [SimulationModel(), REFIT_QUANTILE], ids=["default", "daily-quantile"])
def test_the_check_catches_it_with_the_default_forecast_model(model, monkeypatch):
    s, start, cuts, factor = model_case()
    monkeypatch.setattr(simulate_mod, "window_max", shifted_window_max)
    leaks = [first_leak(s, model, start=start, cut=cut, factor=factor) for cut in cuts]
    assert any(leak is not None for leak in leaks)
    for leak, cut in zip(leaks, cuts, strict=True):
        if leak is not None:
            assert leak[0] == cut + 1
            assert leak[1].split("/")[1] in {Policy.PREDICTIVE, Policy.HYBRID}
