"""One mapping from scaling rules (configuration x policy) to the kernel's parameters.

A *rule* is a configuration's numbers, a policy and a safety margin. The
simulator turns a handful of rules into kernel rows and the optimizer turns
thousands of sampled ones into kernel columns; both go through
:func:`kernel_columns`, so what a policy means to the kernel is written
here only:

- REACTIVE acts on one period (no consecutive-period counters);
- BALANCED waits for the configuration's consecutive periods;
- PREDICTIVE is BALANCED plus the forecast floor, scaled by ``1 + margin``;
- TARGET_TRACKING is the kernel's HPA mode at the configuration's target utilization, tolerance and
  scale-in stabilization window (the target-tracking baseline is the same mode with the baseline's numbers);
- HYBRID is TARGET_TRACKING plus the forecast floor at the target utilization, scaled by ``1 + margin``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from core.scaling.config import CapacityModel, Grid, Policy, ScalingConfig
from core.scaling.kernel import MODE_HPA, MODE_THRESHOLD, ScenarioParams

__all__ = ["RULE_FIELDS", "kernel_columns", "rule_columns"]

#: The configuration numbers a rule carries (``ScalingConfig`` fields without the name).
RULE_FIELDS = ("scale_out_threshold", "scale_in_threshold", "scale_out_periods", "scale_in_periods",
               "cooldown_minutes", "step_out", "step_in", "target_utilization", "target_tolerance",
               "scale_in_stabilization_minutes")

#: Fields each mode reads; a rule of the other mode carries the neutral value, so equal rules get equal rows.
_THRESHOLD_ONLY = ("up_thr", "down_thr", "up_n", "down_n", "cooldown_p", "step_up", "step_down")
_HPA_ONLY = ("hpa_target", "hpa_tol", "stab_p")
_FLOAT_FIELDS = ("cooldown_minutes", "target_utilization", "target_tolerance", "scale_in_stabilization_minutes")


def rule_columns(rules: Sequence[tuple[ScalingConfig, Policy]], safety_margin) -> dict[str, np.ndarray]:
    """Rules as columns: each ``RULE_FIELDS`` entry, ``policy`` and ``safety_margin``, one entry per rule.

    Args:
        rules: (configuration, policy) pairs.
        safety_margin: one margin for every rule, or one per rule.

    Returns:
        ``{field: array}``; ``policy`` is an object array of :class:`Policy`.
    """
    cols = {name: np.array([getattr(c, name) for c, _ in rules]) for name in RULE_FIELDS}
    for name in _FLOAT_FIELDS:
        cols[name] = cols[name].astype(np.float64)
    cols["policy"] = np.array([Policy(p) for _, p in rules], dtype=object)
    cols["safety_margin"] = np.broadcast_to(np.asarray(safety_margin, dtype=np.float64), (len(rules),)).copy()
    return cols


def kernel_columns(rules: Mapping[str, np.ndarray], *, grid: Grid, capacity: CapacityModel,
                   init: int) -> dict[str, np.ndarray]:
    """Kernel parameters (``ScenarioParams`` fields) of rules of any policy, one entry per rule.

    Args:
        rules: columns as made by :func:`rule_columns` (or sampled alike by the optimizer).
        grid: converts the cooldown and the stabilization window to periods.
        capacity: the server bounds every rule runs within.
        init: servers running at the first period.

    Returns:
        The columns of the threshold and HPA modes; the schedule's are left out for
        ``ScenarioParams.from_columns`` to fill with neutral values. Fields a rule's mode
        ignores carry the neutral value.
    """
    policy = np.asarray(rules["policy"], dtype=object)
    n = len(policy)
    reactive = policy == Policy.REACTIVE
    forecast = (policy == Policy.PREDICTIVE) | (policy == Policy.HYBRID)
    tracking = (policy == Policy.TARGET_TRACKING) | (policy == Policy.HYBRID)
    cooldown = np.asarray(rules["cooldown_minutes"], dtype=np.float64)
    stab = np.asarray(rules["scale_in_stabilization_minutes"], dtype=np.float64)
    cols = dict(
        mode=np.where(tracking, MODE_HPA, MODE_THRESHOLD).astype(np.int64),
        up_thr=np.asarray(rules["scale_out_threshold"], dtype=np.float64),
        down_thr=np.asarray(rules["scale_in_threshold"], dtype=np.float64),
        up_n=np.where(reactive, 1, rules["scale_out_periods"]).astype(np.int64),
        down_n=np.where(reactive, 1, rules["scale_in_periods"]).astype(np.int64),
        cooldown_p=np.array([grid.ceil_periods(m * 60.0) for m in cooldown], dtype=np.int64),
        step_up=np.asarray(rules["step_out"], dtype=np.int64),
        step_down=np.asarray(rules["step_in"], dtype=np.int64),
        hpa_target=np.asarray(rules["target_utilization"], dtype=np.float64),
        hpa_tol=np.asarray(rules["target_tolerance"], dtype=np.float64),
        stab_p=np.array([grid.stabilization_periods(m) for m in stab], dtype=np.int64),
        use_fc=forecast.astype(np.int64),
        # Only the predictive and hybrid policies read the margin; the others carry 0.
        margin=np.where(forecast, np.asarray(rules["safety_margin"], dtype=np.float64), 0.0),
        min_s=np.full(n, capacity.min_servers, np.int64),
        max_s=np.full(n, capacity.max_servers, np.int64),
        init=np.full(n, init, np.int64),
    )
    neutral = ScenarioParams._NEUTRAL
    for name in _THRESHOLD_ONLY:
        cols[name] = np.where(tracking, neutral[name], cols[name]).astype(cols[name].dtype)
    for name in _HPA_ONLY:
        cols[name] = np.where(tracking, cols[name], neutral[name]).astype(cols[name].dtype)
    return cols
