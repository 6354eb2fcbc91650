"""One mapping from scaling rules (configuration x policy) to the kernel's parameters.

A *rule* is a configuration's numbers, a policy and a safety margin. The
simulator turns a handful of rules into kernel rows and the optimizer turns
thousands of sampled ones into kernel columns; both go through
:func:`threshold_columns`, so what a policy means to the kernel is written
here only:

- REACTIVE acts on one period (no consecutive-period counters);
- BALANCED waits for the configuration's consecutive periods;
- PREDICTIVE is BALANCED plus the forecast floor, scaled by ``1 + margin``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from core.scaling.config import CapacityModel, Grid, Policy, ScalingConfig
from core.scaling.kernel import MODE_THRESHOLD

__all__ = ["RULE_FIELDS", "rule_columns", "threshold_columns"]

#: The configuration numbers a rule carries (``ScalingConfig`` fields without the name).
RULE_FIELDS = ("scale_out_threshold", "scale_in_threshold", "scale_out_periods", "scale_in_periods",
               "cooldown_minutes", "step_out", "step_in")


def rule_columns(rules: Sequence[tuple[ScalingConfig, Policy]], safety_margin) -> dict[str, np.ndarray]:
    """Rules as columns: each ``RULE_FIELDS`` entry, ``policy`` and ``safety_margin``, one entry per rule.

    Args:
        rules: (configuration, policy) pairs.
        safety_margin: one margin for every rule, or one per rule.

    Returns:
        ``{field: array}``; ``policy`` is an object array of :class:`Policy`.
    """
    cols = {name: np.array([getattr(c, name) for c, _ in rules]) for name in RULE_FIELDS}
    cols["cooldown_minutes"] = cols["cooldown_minutes"].astype(np.float64)
    cols["policy"] = np.array([Policy(p) for _, p in rules], dtype=object)
    cols["safety_margin"] = np.broadcast_to(np.asarray(safety_margin, dtype=np.float64), (len(rules),)).copy()
    return cols


def threshold_columns(rules: Mapping[str, np.ndarray], *, grid: Grid, capacity: CapacityModel,
                      init: int) -> dict[str, np.ndarray]:
    """Kernel parameters (``ScenarioParams`` fields) of threshold rules, one entry per rule.

    Args:
        rules: columns as made by :func:`rule_columns` (or sampled alike by the optimizer).
        grid: converts the cooldown to periods.
        capacity: the server bounds every rule runs within.
        init: servers running at the first period.

    Returns:
        The threshold-mode columns; fields the threshold mode ignores (HPA, schedule) are
        left out for ``ScenarioParams.from_columns`` to fill with neutral values.
    """
    policy = np.asarray(rules["policy"], dtype=object)
    n = len(policy)
    reactive = policy == Policy.REACTIVE
    predictive = policy == Policy.PREDICTIVE
    cooldown = np.asarray(rules["cooldown_minutes"], dtype=np.float64)
    return dict(
        mode=np.full(n, MODE_THRESHOLD, np.int64),
        up_thr=np.asarray(rules["scale_out_threshold"], dtype=np.float64),
        down_thr=np.asarray(rules["scale_in_threshold"], dtype=np.float64),
        up_n=np.where(reactive, 1, rules["scale_out_periods"]).astype(np.int64),
        down_n=np.where(reactive, 1, rules["scale_in_periods"]).astype(np.int64),
        cooldown_p=np.array([grid.ceil_periods(m * 60.0) for m in cooldown], dtype=np.int64),
        step_up=np.asarray(rules["step_out"], dtype=np.int64),
        step_down=np.asarray(rules["step_in"], dtype=np.int64),
        use_fc=predictive.astype(np.int64),
        # Only the predictive policy reads the margin; the others carry 0 so equal rules get equal rows.
        margin=np.where(predictive, np.asarray(rules["safety_margin"], dtype=np.float64), 0.0),
        min_s=np.full(n, capacity.min_servers, np.int64),
        max_s=np.full(n, capacity.max_servers, np.int64),
        init=np.full(n, init, np.int64),
    )
