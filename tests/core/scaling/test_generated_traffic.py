"""The 3 x 3 matrix and its baselines on traffic unlike NASA's (core.generators), with and without a binding cap.

Invariants asserted where they hold by construction (see the oracle in docs/simulator.md):
- every scenario's servers stay within [min_servers, max_servers], ready servers within servers;
- without a binding cap, the oracle is never overloaded and costs no more than any scenario that is not;
- with a binding cap, the oracle is overloaded in a subset of the periods of any scenario that runs at the
  cap whenever it is overloaded (the static fleet at the cap is one), drops no more, and costs no more
  than such a scenario with as many overloaded periods.

Not asserted: with a binding cap, "the oracle costs no more than any scenario with no more overloaded
periods". A policy still scaling out during an unavoidable overload (below the cap) drops more and queues
less, so it can be overloaded in fewer periods, or be cheaper for as many; that is the model working (the
oracle does not trade dropped requests for a lower count), not a bug.
"""

from __future__ import annotations

import pytest

from core.generators import flash_bursts, peak_servers, short_history, step_change, trend
from core.scaling.matrix import run_matrix
from core.scaling.simulate import SimulationModel

SERIES = {
    "flash_bursts": lambda: flash_bursts(3, level=40.0, burst_factor=4.0, seed=1),
    "step_change": lambda: step_change(4, level=40.0, factor=2.5, step_day=2, seed=2),
    "trend": lambda: trend(4, level=40.0, growth_per_day=0.15, kind="exponential", seed=3),
    "short_history": lambda: short_history(2, level=40.0, seed=4),
}


def caps(series):
    """(label, min, max): a cap above the peak's need, and one at 70% of it, which binds."""
    peak = peak_servers(series)
    return [("no cap", 1, peak + 2), ("binding", 2, max(2, int(0.7 * peak)))]


@pytest.fixture(scope="module", params=[(n, c) for n in SERIES for c in range(2)],
                ids=[f"{n}-{label}" for n in SERIES for label in ("free", "capped")])
def run(request):
    name, which = request.param
    s = SERIES[name]()
    label, lo, hi = caps(s)[which]
    model = SimulationModel().with_overrides(min_servers=lo, max_servers=hi)
    return label, lo, hi, run_matrix(s, model, timelines=True)


def at_cap_while_overloaded(r, hi) -> bool:
    tl = r.timeline[~r.timeline["excluded"]]
    return bool((tl["ready_servers"][tl["overloaded"]] == hi).all())


def test_servers_stay_within_bounds(run):
    _, lo, hi, m = run
    for r in [*m.scenarios, *m.baselines.values()]:
        tl = r.timeline
        assert tl["servers"].between(lo, hi).all(), r.name
        assert (tl["ready_servers"] <= tl["servers"]).all(), r.name


def test_oracle_against_the_scenarios(run):
    label, _, hi, m = run
    oracle = m.baselines["oracle"].totals
    everyone = [*m.scenarios, *m.baselines.values()]
    assert m.baselines["oracle"].meta["cap_binds_periods"] == m.meta["cap_binds_periods"] == oracle.overloaded_periods
    if label == "no cap":
        assert oracle.overloaded_periods == 0
        for r in everyone:
            if r.totals.overloaded_periods == 0:
                assert oracle.cost <= r.totals.cost + 1e-9, r.name
        return
    at_cap = m.baselines["static_peak"]
    assert at_cap.timeline["servers"].eq(hi).all()  # the peak needs more than the cap: the static fleet is at it
    assert oracle.overloaded_periods > 0
    assert oracle.overloaded_pct <= at_cap.totals.overloaded_pct
    assert oracle.dropped_requests <= at_cap.totals.dropped_requests + 1e-6
    assert oracle.cost <= at_cap.totals.cost + 1e-9
    oracle_over = m.baselines["oracle"].timeline["overloaded"].to_numpy()
    comparable = [r for r in everyone if at_cap_while_overloaded(r, hi)]
    assert at_cap in comparable
    for r in comparable:
        over = r.timeline["overloaded"].to_numpy()
        assert not (oracle_over & ~over).any(), r.name
        assert oracle.dropped_requests <= r.totals.dropped_requests + 1e-6, r.name
        if r.totals.overloaded_periods == oracle.overloaded_periods:
            assert oracle.cost <= r.totals.cost + 1e-9, r.name


def test_the_cap_binds_only_when_asked(run):
    label, _, _, m = run
    assert (m.meta["cap_binds_periods"] > 0) == (label == "binding")
