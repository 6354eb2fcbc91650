"""A deployable policy as one flat JSON object: what ``recommend`` returns and ``simulate --config-json`` takes.

``{"policy": "predictive", "config": {every parameter}}``: the configuration's numbers, the predictive
settings, the servers (capacity, bounds, boot delay) and the billing, so that a recommendation can be
re-simulated by hand with exactly the figures it was scored with. Unknown keys are refused by name.
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace

from core.scaling.config import (
    PRESETS,
    CapacityModel,
    CostModel,
    Policy,
    PredictiveSpec,
    ScalingConfig,
    parse_policy,
)
from core.scaling.simulate import SimulationModel

__all__ = ["from_policy_dict", "to_policy_dict"]

_CONFIG = {f.name for f in fields(ScalingConfig)}
_CAPACITY = {f.name for f in fields(CapacityModel)}
_COST = {f.name for f in fields(CostModel)}
_PREDICTIVE = {f.name for f in fields(PredictiveSpec)}


def to_policy_dict(config: ScalingConfig, policy: Policy | str, model: SimulationModel) -> dict:
    """The flat object for (configuration, policy) under ``model``."""
    return {"policy": parse_policy(policy).value,
            "config": {**asdict(config), **asdict(model.predictive), **asdict(model.capacity), **asdict(model.cost)}}


def from_policy_dict(obj: dict, base: SimulationModel | None = None) -> tuple[ScalingConfig, Policy, SimulationModel]:
    """``(configuration, policy, model)`` from the flat object (missing keys keep ``base``'s values).

    Raises:
        ValueError: not an object with ``policy`` and ``config``, an unknown key, or a bad value (the
            message names it).
    """
    if not isinstance(obj, dict) or "policy" not in obj or not isinstance(obj.get("config"), dict):
        raise ValueError('the policy JSON must be an object {"policy": NAME, "config": {...}}, as printed by '
                         "'python -m core recommend --json' under \"recommended\"")
    extra = set(obj) - {"policy", "config", "name"}  # "name" only labels it
    unknown = set(obj["config"]) - _CONFIG - _CAPACITY - _COST - _PREDICTIVE
    if extra or unknown:
        raise ValueError(f"unknown key(s) in the policy JSON: {', '.join(sorted(extra | unknown))}; "
                         f"config takes {', '.join(sorted(_CONFIG | _CAPACITY | _COST | _PREDICTIVE))}")
    c = obj["config"]
    base = base or SimulationModel()
    try:
        # Numbers a config leaves out are the balanced preset's.
        config = ScalingConfig(**{**asdict(PRESETS["balanced"]), "name": "custom", **_pick(c, _CONFIG)})
        model = replace(base, capacity=replace(base.capacity, **_pick(c, _CAPACITY)),
                        cost=replace(base.cost, **_pick(c, _COST)),
                        predictive=replace(base.predictive, **_pick(c, _PREDICTIVE)))
    except TypeError as exc:
        raise ValueError(f"policy JSON: {exc}") from None
    return config, parse_policy(obj["policy"]), model


def _pick(c: dict, names: set[str]) -> dict:
    return {k: c[k] for k in names if k in c}
