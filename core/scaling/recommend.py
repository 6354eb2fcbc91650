"""One recommended configuration x policy, with the reason in one sentence and the numbers."""

from __future__ import annotations

from dataclasses import dataclass

from core.scaling.matrix import MatrixResult, pick_winners

__all__ = ["Recommendation", "recommend"]


@dataclass
class Recommendation:
    config: str
    policy: str
    reason: str
    totals: dict
    oracle_cost: float
    criterion: str  # "sla_target", "sla_unreachable" or "balance"

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def recommend(matrix: MatrixResult, *, sla_target_pct: float | None = None,
              cost_weight: float | None = None) -> Recommendation:
    """Pick from a matrix: the cheapest scenario meeting an SLA target, or the best cost/SLA balance.

    Args:
        matrix: a computed matrix.
        sla_target_pct: maximum overloaded periods (%). When given, the cheapest
            scenario meeting it wins; if none does, the one with the best SLA.
        cost_weight: weight of cost vs SLA for Best Balance when no target is given
            (default: the matrix's weight).

    Raises:
        ValueError: for a target outside [0, 100] or a weight outside [0, 1].
    """
    if sla_target_pct is not None and not 0 <= sla_target_pct <= 100:
        raise ValueError(f"sla_target_pct must be within [0, 100], got {sla_target_pct}")
    w = matrix.winners.cost_weight if cost_weight is None else cost_weight
    target = matrix.winners.sla_target_pct if sla_target_pct is None else sla_target_pct
    win = pick_winners(matrix.scenarios, w, target)
    oracle = matrix.baselines["oracle"].totals.cost
    if sla_target_pct is not None and win.cheapest_meeting_sla is not None:
        name, crit = win.cheapest_meeting_sla, "sla_target"
    elif sla_target_pct is not None:
        name, crit = win.best_sla, "sla_unreachable"
    else:
        name, crit = win.best_balance, "balance"
    r = matrix.scenario(name)
    t = r.totals
    ratio = f"{t.cost / oracle:.2f}x the oracle" if oracle > 0 else "n/a vs the oracle"
    nums = (f"${t.cost:,.2f} ({ratio}), {t.overloaded_pct:.2f}% overloaded periods, "
            f"{t.dropped_pct:.3f}% dropped, {t.scaling_actions} scaling action{'' if t.scaling_actions == 1 else 's'}")
    if crit == "sla_target":
        n_meet = sum(s.totals.overloaded_pct <= target + 1e-12 for s in matrix.scenarios)
        which = "the only scenario" if n_meet == 1 else f"the cheapest of the {n_meet} scenarios"
        reason = f"{r.config}/{r.policy} is {which} with at most {target:g}% overloaded periods: {nums}."
    elif crit == "sla_unreachable":
        reason = (f"No scenario keeps overloaded periods at or below {target:g}%; {r.config}/{r.policy} comes "
                  f"closest: {nums}.")
    else:
        reason = (f"{r.config}/{r.policy} has the best balance of cost and SLA at a cost weight of {w:g}: {nums}.")
    return Recommendation(config=r.config, policy=r.policy, reason=reason, totals=t.to_dict(), oracle_cost=oracle,
                          criterion=crit)
