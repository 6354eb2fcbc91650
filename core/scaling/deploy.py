"""A chosen scaling policy as deployable autoscaler configuration: a Kubernetes HPA, a KEDA ScaledObject
or AWS EC2 Auto Scaling requests.

The input is the flat policy object of :mod:`core.scaling.policy_config` (``{"policy", "config"}``, what
``recommend`` prints). Each export says, setting by setting, what carries over exactly, what is
approximated (consecutive periods as a stabilization window, the boot delay as an instance warm-up) and
what has no equivalent (the forecast floor in an HPA): :attr:`PolicyExport.mapping`, and ``docs/deploy.md``.
The objects follow the published schemas (``autoscaling/v2``, KEDA's ``keda.sh/v1alpha1`` CRD, botocore's
``autoscaling`` and ``cloudwatch`` models); the tests validate them against those.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from core.errors import InputError
from core.scaling.config import PRESETS, Policy
from core.scaling.deploy_aws import aws
from core.scaling.deploy_k8s import hpa, k8s_name, keda, yaml_text
from core.scaling.deploy_rule import Rule, row
from core.scaling.policy_config import from_policy_dict, to_policy_dict
from core.scaling.simulate import SimulationModel

__all__ = [
    "DEFAULT_METRIC",
    "DEFAULT_PROMETHEUS",
    "DEFAULT_RESOURCE_LABEL",
    "FORMATS",
    "PolicyExport",
    "candidate_policies",
    "export_policy",
    "preset_policy",
    "select_policy",
]

#: The export formats, in the order the CLI and the API offer them.
FORMATS = ("hpa", "keda", "aws")

#: Placeholders a user replaces (they name what goes there).
DEFAULT_METRIC = "http_requests_per_second"
DEFAULT_PROMETHEUS = "http://prometheus.monitoring.svc:9090"
DEFAULT_RESOURCE_LABEL = "app/my-alb/0123456789abcdef/targetgroup/my-targets/0123456789abcdef"


@dataclass(frozen=True)
class PolicyExport:
    """A policy as one autoscaler's configuration.

    Attributes:
        format: ``hpa``, ``keda`` or ``aws``.
        policy: the policy object it was made from (``{"policy", "config"}``, with ``name`` when given).
        objects: the Kubernetes objects (hpa, keda), or the AWS requests as ``{"service", "operation",
            "params"}`` (aws), in the order to apply them.
        text: the file to apply: YAML (hpa, keda; one document per object) or JSON (aws).
        mapping: one row per setting: ``{"setting", "value", "target", "carries_over", "note"}`` with
            ``carries_over`` one of ``exact``, ``approximated``, ``none``.
        filename: a file name for ``text``.
    """

    format: str
    policy: dict
    objects: list
    text: str
    mapping: list
    filename: str

    @property
    def media_type(self) -> str:
        return "application/json" if self.format == "aws" else "application/yaml"

    def to_dict(self) -> dict:
        return {
            "format": self.format,
            "policy": self.policy,
            "objects": self.objects,
            "text": self.text,
            "mapping": self.mapping,
            "filename": self.filename,
            "media_type": self.media_type,
        }


# -- choosing the policy -------------------------------------------------------------------------


def candidate_policies(rec) -> dict:
    """What a walk-forward :class:`~core.scaling.walkforward.Recommendation` offers to deploy (JSON-safe).

    Returns:
        ``{"chosen", "safest", "policies": {name: policy object}}``: every candidate as tuned before the
        final test window.
    """
    return {
        "chosen": rec.chosen,
        "safest": rec.safest,
        "policies": {
            n: {"name": n, **to_policy_dict(c.config, c.policy, c.model)} for n, c in rec.final.candidates.items()
        },
    }


def preset_policy(name: str, model: SimulationModel | None = None) -> dict | None:
    """The policy object of a preset ``"config/policy"`` name (``balanced/target_tracking``); None for a name
    without ``/`` (a recommendation's candidate).

    Raises:
        InputError: a ``config/policy`` name whose configuration or policy is unknown.
    """
    if "/" not in str(name):
        return None
    config, _, policy = str(name).strip().lower().partition("/")
    policies = [p.value for p in Policy]
    if config not in PRESETS or policy not in policies:
        raise InputError(
            f"unknown preset policy {name!r}; give CONFIG/POLICY with CONFIG one of {', '.join(PRESETS)} and "
            f"POLICY one of {', '.join(policies)}, e.g. balanced/target_tracking"
        )
    return {"name": f"{config}/{policy}", **to_policy_dict(PRESETS[config], policy, model or SimulationModel())}


def select_policy(
    name: str | None, candidates: dict | None = None, model: SimulationModel | None = None
) -> tuple[dict, str | None]:
    """``(policy object, warning)``: the named preset or candidate, else the recommendation.

    Args:
        name: a preset ``"config/policy"`` (needs no recommendation), a candidate name of ``candidates``,
            or None for the recommended one.
        candidates: :func:`candidate_policies` of a recommendation (None when ``name`` is a preset).
        model: the servers and billing of a preset policy.

    Returns:
        The policy object and, when the recommendation chose nothing and its safest candidate is used, a
        one-line warning saying so.

    Raises:
        InputError: an unknown name (the message lists the names).
    """
    if name:
        preset = preset_policy(name, model)
        if preset is not None:
            return preset, None
        if candidates is not None and name in candidates["policies"]:
            return candidates["policies"][name], None
        known = sorted(candidates["policies"]) if candidates else []
        raise InputError(
            f"unknown policy {name!r}; give a preset as CONFIG/POLICY (e.g. balanced/target_tracking)"
            + (f" or a candidate of the recommendation: {', '.join(known)}" if known else "")
        )
    if candidates is None:
        raise InputError("no policy to export: give a policy name or a recommendation")
    if candidates["chosen"] is not None:
        return candidates["policies"][candidates["chosen"]], None
    safest = candidates["safest"]
    return candidates["policies"][safest], (
        f"warning: the recommendation chose no policy (none met the SLA); exporting the safest candidate, {safest!r}"
    )


def _file_stem(name: str) -> str:
    """``name`` safe in a file name and a Content-Disposition header."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:100] or "policy"


# -- the export ----------------------------------------------------------------------------------


def export_policy(
    policy: dict,
    fmt: str,
    *,
    name: str = "web",
    namespace: str = "default",
    interval_minutes: float,
    schedule: list[dict] | None = None,
    metric: str = DEFAULT_METRIC,
    prometheus: str = DEFAULT_PROMETHEUS,
    query: str | None = None,
    resource_label: str = DEFAULT_RESOURCE_LABEL,
    base: SimulationModel | None = None,
) -> PolicyExport:
    """The policy object as ``fmt``'s configuration, with the mapping of every setting.

    Args:
        policy: ``{"policy", "config"[, "name"]}`` as :func:`~core.scaling.policy_config.to_policy_dict` makes
            it (missing config keys take the defaults, as ``simulate --config-json`` does).
        fmt: ``hpa``, ``keda`` or ``aws`` (:data:`FORMATS`).
        name: the Deployment (hpa, keda) or the Auto Scaling group (aws) to scale.
        namespace: the Kubernetes namespace (hpa, keda).
        interval_minutes: the period the policy was tuned at (its consecutive periods count these).
        schedule: the plan's hourly rows ``{"hour": ISO timestamp, "servers_p50": int, "servers_p90": int}``:
            scheduled actions (aws) or cron triggers (keda) raising the minimum to each hour's p90 servers;
            an HPA has no schedule (a mapping row says so).
        metric: the per-pod request-rate metric the HPA reads (served by a custom-metrics adapter).
        prometheus: KEDA's Prometheus server address.
        query: KEDA's PromQL query of the total request rate per second (default: ``http_requests_total`` of the
            service ``name``).
        resource_label: the ALB target group's resource label (aws).
        base: the model whose values the policy's missing config keys keep (default: the defaults), as
            ``simulate --config-json`` over the model overrides.

    Returns:
        The :class:`PolicyExport`.

    Raises:
        InputError: an unknown format, a policy object that ``from_policy_dict`` refuses, a period that is not
            > 0, a name that is no Kubernetes name (hpa, keda), a bad schedule row.
    """
    fmt_key = str(fmt).strip().lower()
    if fmt_key not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    try:
        config, pol, model = from_policy_dict(policy, base)
    except ValueError as exc:
        raise InputError(f"policy: {exc}") from None
    try:
        minutes = float(interval_minutes)
    except (TypeError, ValueError):
        minutes = math.nan
    if not (math.isfinite(minutes) and 0 < minutes <= 1440):
        raise InputError(
            f"interval_minutes must be within (0, 1440], got {interval_minutes!r}; give the period the "
            "policy was tuned at, e.g. 5"
        )
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"name must be the Deployment or Auto Scaling group to scale, got {name!r}")
    rule = Rule(config, pol, model, minutes * 60.0)
    label = policy.get("name") or config.name
    source = {k: policy[k] for k in ("name", "policy", "config") if k in policy}
    if fmt_key == "aws":
        objects, rows = aws(rule, name, resource_label, schedule)
        text = json.dumps(objects, indent=2) + "\n"
        return PolicyExport("aws", source, objects, text, rows, f"{_file_stem(name)}-aws.json")
    k8s_name(name, "name")
    k8s_name(namespace, "namespace")
    if fmt_key == "hpa":
        objects, rows = hpa(rule, name, namespace, metric)
        if schedule:
            rows.append(
                row(
                    "schedule",
                    f"{len(schedule)} hours",
                    "-",
                    "none",
                    "an HPA has no schedule: export keda (cron triggers) or aws (scheduled actions) for it",
                )
            )
    else:
        objects, rows = keda(rule, name, namespace, prometheus, query, schedule)
    approx = sorted({r["setting"] for r in rows if r["carries_over"] == "approximated"})
    none = sorted({r["setting"] for r in rows if r["carries_over"] == "none"})
    header = [
        f"{label}: the {pol.value} policy tuned at {minutes:g}-minute periods: exported by `python -m core "
        f"export-policy --format {fmt_key}`.",
        f"Approximated: {', '.join(approx) or 'nothing'}.",
        f"No equivalent: {', '.join(none) or 'nothing'}.",
        'Each setting\'s mapping: --json ("mapping") and docs/deploy.md.',
    ]
    return PolicyExport(
        fmt_key, source, objects, yaml_text(objects, header), rows, f"{_file_stem(name)}-{fmt_key}.yaml"
    )
