"""Scale out, scale in or hold now: one decision from a predicted load and the current fleet.

The simulator answers "what would a policy have cost over this history"; this
answers the operational question of the original dashboard's API: given the
load predicted for the next periods and the servers running now, what should
the fleet be? It applies the same configuration numbers and the same
predictive floor as the simulator (``docs/simulator.md``):

- needed servers ``= ceil(peak * (1 + margin) / (r * period_s * scale_out_threshold))``
  where ``peak`` is the highest predicted load and ``margin`` the predictive
  safety margin (0 for the reactive and balanced policies);
- with an SLA target (maximum % of overloaded periods) the needed servers are
  instead the fewest that keep the share of predicted periods whose load
  exceeds the capacity at or below the target;
- scale out when the current fleet would run above the scale-out threshold
  (reactive: in any predicted period; balanced: in ``scale_out_periods``
  consecutive periods, or all of them when fewer are given; predictive: when
  fewer servers than needed run), to the needed count (reactive and balanced
  add whole ``step_out`` steps);
- scale in when every predicted period stays below the scale-in threshold
  (balanced: and at least ``scale_in_periods`` periods are predicted), by
  ``step_in`` but never below the needed count;
- target tracking and hybrid size for the configuration's ``target_utilization``
  instead of the scale-out threshold (hybrid with the margin) and move straight
  to the needed count either way, unless the current fleet is within
  ``target_tolerance`` of the target at the predicted peak (sizing for the
  window's peak is what the scale-in stabilization window does over it);
- the result always lies within ``[min_servers, max_servers]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.scaling.config import Policy, ScalingConfig, get_preset, parse_policy
from core.scaling.simulate import SimulationModel

__all__ = ["ACTIONS", "MAX_POINTS", "RECOMMEND_SAFETY_MARGIN", "ScalingAction", "recommend_action"]

ACTIONS = ("scale_out", "scale_in", "hold")
MAX_POINTS = 100_000
MAX_LOAD = 1e12
#: Margin over a caller-supplied predicted load (the original dashboard's 10%).
RECOMMEND_SAFETY_MARGIN = 0.10


@dataclass
class ScalingAction:
    """The decision and the numbers behind it."""

    action: str
    current_servers: int
    target_servers: int
    reason: str
    needed_servers: int
    peak_load: float
    capacity_per_server_per_period: float
    utilization_now: float | None  # peak load / current capacity (None with no servers)
    utilization_after: float | None  # peak load / target capacity
    overloaded_periods_after: int
    config: str
    policy: str
    interval_minutes: float
    sla_target_pct: float | None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _longest_run(mask: np.ndarray) -> int:
    best = run = 0
    for v in mask:
        run = run + 1 if v else 0
        best = max(best, run)
    return best


def _validate_load(predicted_load) -> np.ndarray:
    if isinstance(predicted_load, (str, bytes)) or not hasattr(predicted_load, "__len__"):
        raise ValueError(f"predicted_load must be a list of numbers, got {type(predicted_load).__name__}")
    if len(predicted_load) == 0:
        raise ValueError("predicted_load must hold at least one number, got an empty list")
    if len(predicted_load) > MAX_POINTS:
        raise ValueError(f"predicted_load may hold at most {MAX_POINTS:,} numbers, got {len(predicted_load):,}")
    for i, v in enumerate(predicted_load):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(f"predicted_load[{i}] must be a number, got {v!r}")
    arr = np.asarray(predicted_load, dtype=np.float64)
    bad = ~np.isfinite(arr) | (arr < 0) | (arr > MAX_LOAD)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"predicted_load[{i}] must be a finite number in [0, {MAX_LOAD:g}], got {arr[i]!r}")
    return arr


def _servers(n: int) -> str:
    return f"{n} server" if n == 1 else f"{n} servers"


def _agree(rule: str, n: int) -> str:
    """``rule`` ("keep the peak ...", "leave ...") with its verb agreeing with ``n`` servers."""
    verb, sep, rest = rule.partition(" ")
    return f"{verb}s{sep}{rest}" if n == 1 else rule


def recommend_action(
    predicted_load,
    current_servers: int,
    *,
    config: str | ScalingConfig = "balanced",
    policy: str | Policy = "predictive",
    model: SimulationModel | None = None,
    interval_minutes: float = 5.0,
    sla_target_pct: float | None = None,
    safety_margin: float | None = None,
) -> ScalingAction:
    """Decide scale out / scale in / hold for the predicted load of the next periods.

    Args:
        predicted_load: requests per period for the coming periods (>= 0).
        current_servers: servers running now (>= 0).
        config: preset name or a ScalingConfig (thresholds, consecutive periods, steps).
        policy: "reactive", "balanced", "predictive", "target_tracking" or "hybrid" (default
            "predictive": the input is a forecast).
        model: capacity (requests/s per server, min/max servers) and predictive margin.
        interval_minutes: length of one period of ``predicted_load``.
        sla_target_pct: optional maximum share (%) of predicted periods allowed
            to exceed capacity; replaces the threshold rule for the needed count.
        safety_margin: margin over the predicted load for the predictive and hybrid policies; default
            ``RECOMMEND_SAFETY_MARGIN`` (10%, the original dashboard's figure for a load the
            caller forecast; the simulator's own default margin is tuned for its own forecast).

    Returns:
        A :class:`ScalingAction`.

    Raises:
        ValueError: a bad load, server count, preset, policy or parameter, naming the value.
    """
    load = _validate_load(predicted_load)
    if isinstance(current_servers, bool) or not isinstance(current_servers, (int, np.integer)):
        raise ValueError(f"current_servers must be a whole number >= 0, got {current_servers!r}")
    current = int(current_servers)
    if not 0 <= current <= 1_000_000:
        raise ValueError(f"current_servers must be within [0, 1000000], got {current}")
    cfg, pol = get_preset(config), parse_policy(policy)
    model = model or SimulationModel()
    try:
        minutes = float(interval_minutes)
    except (TypeError, ValueError):
        raise ValueError(f"interval_minutes must be a number of minutes, got {interval_minutes!r}") from None
    if not (math.isfinite(minutes) and 0 < minutes <= 1440):
        raise ValueError(f"interval_minutes must be within (0, 1440], got {interval_minutes!r}")
    if sla_target_pct is not None:
        sla = float(sla_target_pct)
        if not 0 <= sla <= 100:
            raise ValueError(f"sla_target_pct must be within [0, 100], got {sla_target_pct}")
    cap = model.capacity
    per_server = cap.capacity_per_server_rps * minutes * 60.0
    peak = float(load.max())
    if safety_margin is None:
        safety_margin = RECOMMEND_SAFETY_MARGIN
    if isinstance(safety_margin, bool) or not isinstance(safety_margin, (int, float)) \
            or not 0 <= safety_margin <= 10:
        raise ValueError(f"safety_margin must be a number within [0, 10], got {safety_margin!r}")
    tracking = pol in (Policy.TARGET_TRACKING, Policy.HYBRID)
    margin = float(safety_margin) if pol in (Policy.PREDICTIVE, Policy.HYBRID) else 0.0
    util = cfg.target_utilization if tracking else cfg.scale_out_threshold

    if sla_target_pct is None:
        needed = math.ceil(peak * (1 + margin) / (per_server * util) - 1e-9)
        rule = f"keep the peak{' +' + format(margin * 100, 'g') + '%' if margin else ''} " \
               f"{'at the' if tracking else 'below'} {util:.0%}{' target' if tracking else ''} utilization"
    else:
        # Fewest servers whose capacity leaves at most sla% of the periods overloaded.
        allowed = math.floor(len(load) * float(sla_target_pct) / 100.0 + 1e-9)
        ranked = np.sort(load)[::-1]
        must_cover = ranked[allowed] if allowed < len(load) else 0.0
        needed = math.ceil(must_cover * (1 + margin) / per_server - 1e-9)
        rule = f"leave at most {float(sla_target_pct):g}% of the predicted periods overloaded"
    wanted = int(needed)
    needed = int(min(max(needed, cap.min_servers), cap.max_servers))

    ratio = load / (current * per_server) if current else np.where(load > 0, np.inf, 0.0)
    above = ratio > cfg.scale_out_threshold
    below = ratio < cfg.scale_in_threshold
    if pol == Policy.REACTIVE:
        out_trigger, in_trigger = bool(above.any()), bool(below.all())
    elif pol == Policy.BALANCED:
        out_trigger = _longest_run(above) >= min(cfg.scale_out_periods, len(load))
        in_trigger = bool(below.all()) and len(load) >= cfg.scale_in_periods
    elif tracking:
        on_target = current > 0 and abs(peak * (1 + margin) / (current * per_server) / util - 1.0) \
            <= cfg.target_tolerance
        out_trigger, in_trigger = wanted > current and not on_target, wanted < current and not on_target
    else:
        out_trigger, in_trigger = wanted > current, bool(below.all())
    if sla_target_pct is not None:
        out_trigger = wanted > current

    target = current
    if current < cap.min_servers or current > cap.max_servers:
        target = needed if current < cap.min_servers else max(needed, min(current, cap.max_servers))
        target = int(min(max(target, cap.min_servers), cap.max_servers))
    elif out_trigger and needed > current:
        if pol == Policy.PREDICTIVE or tracking or sla_target_pct is not None:
            target = needed
        else:
            steps = math.ceil((needed - current) / cfg.step_out)
            target = min(current + steps * cfg.step_out, cap.max_servers)
    elif in_trigger and not out_trigger:
        target = max(needed, cap.min_servers) if tracking else max(current - cfg.step_in, needed, cap.min_servers)

    action = "scale_out" if target > current else "scale_in" if target < current else "hold"
    u_now = None if current == 0 else peak / (current * per_server)
    u_after = None if target == 0 else peak / (target * per_server)
    over_after = int((load > target * per_server * (1 + 1e-12)).sum())
    unit = f"requests per {minutes:g} min"
    if u_now is None:
        now_txt = f"No servers run for a predicted peak of {peak:g} {unit}"
    else:
        now_txt = f"{_servers(current)} would run at {u_now:.0%} at the predicted peak of {peak:g} {unit}"
    rule_name = f"the {cfg.name}/{pol.value} rule"
    if current < cap.min_servers or current > cap.max_servers:
        reason = (f"{now_txt}; {current} is outside [min_servers={cap.min_servers}, max_servers={cap.max_servers}], "
                  f"so the fleet moves to {target}.")
    elif action == "scale_out":
        reason = f"{now_txt}; {_servers(target)} ({per_server:g} {unit} each) {_agree(rule, target)} under {rule_name}."
    elif action == "scale_in" and tracking:
        reason = f"{now_txt}; {_servers(target)} {_agree(rule, target)} under {rule_name}."
    elif action == "scale_in":
        reason = (f"{now_txt}, below the {cfg.scale_in_threshold:.0%} scale-in threshold throughout; "
                  f"{_servers(target)} still {_agree(rule, target)}.")
    elif out_trigger and wanted > current:
        reason = f"{now_txt}, but max_servers={cap.max_servers} is reached; raise max_servers to scale out."
    elif sla_target_pct is not None:
        reason = (f"{now_txt}; {_servers(current)} already {_agree(rule, current)} "
                  f"({over_after} of {len(load)} periods over capacity).")
    elif tracking and wanted != current:
        reason = (f"{now_txt}, within {cfg.target_tolerance:.0%} of the {util:.0%} target of {rule_name}; "
                  "no change needed.")
    elif tracking:
        reason = f"{now_txt}; {_servers(current)} already {_agree(rule, current)} under {rule_name}; no change needed."
    elif above.any():
        reason = (f"{now_txt}, above the {cfg.scale_out_threshold:.0%} threshold in {_longest_run(above)} "
                  f"consecutive period(s) where {rule_name} waits for {cfg.scale_out_periods}; hold.")
    else:
        reason = (f"{now_txt}, within the {cfg.scale_in_threshold:.0%}-{cfg.scale_out_threshold:.0%} band "
                  f"of {rule_name}; no change needed.")
    return ScalingAction(
        action=action, current_servers=current, target_servers=int(target), reason=reason,
        needed_servers=needed, peak_load=peak, capacity_per_server_per_period=per_server,
        utilization_now=u_now, utilization_after=u_after, overloaded_periods_after=over_after,
        config=cfg.name, policy=pol.value, interval_minutes=minutes,
        sla_target_pct=None if sla_target_pct is None else float(sla_target_pct),
    )
