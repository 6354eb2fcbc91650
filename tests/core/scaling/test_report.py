"""CostReport: one scenario beside the baselines of the same kernel pass."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.jsonable import to_jsonable
from core.scaling import prepare, simulate
from core.scaling.report import SLA_KEYS, cost_report
from tests.core.scaling.conftest import make_series


def _series():
    t = np.arange(3 * 288)
    load = 400 + 300 * np.sin(2 * np.pi * t / 288) + 50 * np.sin(t / 7.0)
    return make_series(np.clip(load, 0, None), minutes=5)


def test_savings_and_oracle_ratio_come_from_the_baselines():
    rep = cost_report(prepare(_series()), "balanced", "reactive")
    peak, mean = rep.baselines["static_peak"].totals.cost, rep.baselines["static_mean"].totals.cost
    assert set(rep.baselines) == {"static_peak", "static_mean", "target_tracking", "oracle"}
    assert rep.savings["vs_static_peak"]["dollars"] == pytest.approx(peak - rep.cost)
    assert rep.savings["vs_static_mean"]["pct"] == pytest.approx(100 * (mean - rep.cost) / mean)
    assert rep.cost_vs_oracle == pytest.approx(rep.cost / rep.baselines["oracle"].totals.cost)
    assert set(rep.sla) == set(SLA_KEYS)
    assert all(b.timeline is None for b in rep.baselines.values())
    assert rep.scenario.timeline is None


def test_the_scenario_is_the_one_simulate_gives():
    s = _series()
    rep = cost_report(prepare(s), "aggressive", "balanced", timeline_columns=("demand", "servers"))
    alone = simulate(s, "aggressive", "balanced")
    assert rep.scenario.totals.to_dict() == alone.totals.to_dict()
    assert list(rep.scenario.timeline.columns) == ["demand", "servers"]


def test_to_dict_is_json():
    d = json.loads(json.dumps(to_jsonable(cost_report(prepare(_series()), "balanced", "predictive").to_dict()),
                              allow_nan=False))
    assert d["policy"] == "predictive"
    assert d["config"]["name"] == "balanced"
    assert d["scenario"]["cost"] == pytest.approx(d["baselines"]["static_peak"]["cost"]
                                                  - d["savings"]["vs_static_peak"]["dollars"])
