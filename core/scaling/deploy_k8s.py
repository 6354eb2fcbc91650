"""Kubernetes exports: an ``autoscaling/v2`` HorizontalPodAutoscaler and a KEDA ``ScaledObject``, as YAML.

See :mod:`core.scaling.deploy` and ``docs/deploy.md``.
"""

from __future__ import annotations

import json
import math
import re

import pandas as pd

from core.errors import InputError
from core.scaling.config import Policy
from core.scaling.deploy_rule import SCHEDULE_NOTE, Rule, common_rows, fmt_num, merge_schedule, row, seconds

__all__ = ["hpa", "k8s_name", "keda", "yaml_text"]

_HPA_MAX_WINDOW_S = 3600  # stabilizationWindowSeconds is at most one hour
_HPA_MAX_POLICY_PERIOD_S = 1800  # a policy's periodSeconds is at most 30 min
_HPA_SYNC_S = 15  # the HPA controller's default sync period
_HPA_DEFAULT_TOLERANCE = 0.1
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


# -- YAML ----------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


#: Characters a YAML double-quoted scalar must escape beyond JSON's: those outside YAML's printable set and
#: YAML 1.1's extra line breaks (NEL, LS, PS), which a reader would fold; and the BOM.
_UNSAFE = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


def _quote(s: str) -> str:
    """``s`` as a double-quoted scalar: a JSON string (a YAML double-quoted scalar) with YAML's extra escapes."""
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(s, ensure_ascii=False))


def _scalar(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"cannot write {v} to YAML")
        mantissa, e, exponent = repr(v).partition("e")
        # YAML 1.1 (PyYAML) reads a float only with a dot in the mantissa: 1e-05 -> 1.0e-05.
        return (mantissa if "." in mantissa else mantissa + ".0") + e + exponent
    s = str(v)
    return s if _PLAIN.fullmatch(s) and s.lower() not in _YAML_WORDS else _quote(s)


def _yaml_lines(obj, depth: int) -> list[str]:
    pad = "  " * depth
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out.append(f"{pad}{_scalar(str(k))}:")
                out += _yaml_lines(v, depth + 1)
            else:
                out.append(f"{pad}{_scalar(str(k))}: {_flow(v)}")
    else:
        for item in obj:
            if isinstance(item, (dict, list)) and item:
                sub = _yaml_lines(item, depth + 1)
                out.append(f"{pad}- {sub[0][len(pad) + 2 :]}")
                out += sub[1:]
            else:
                out.append(f"{pad}- {_flow(item)}")
    return out


def _flow(v) -> str:
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return _scalar(v)


def yaml_text(objects: list[dict], header: list[str] = ()) -> str:
    """Block-style YAML, one document per object, with ``header`` as comment lines.

    Only dicts, lists, strings, numbers, booleans and None; strings that YAML would read as something else
    are double-quoted (a JSON string is a YAML double-quoted scalar).
    """
    # A comment is one line of printable text: line breaks (also NEL, LS, PS) become spaces.
    lines = [f"# {_UNSAFE.sub('?', ' '.join(str(h).split()))}" for h in header]
    for obj in objects:
        lines.append("---")
        lines += _yaml_lines(obj, 0) or [_flow(obj)]
    return "\n".join(lines) + "\n"


# -- behavior --------------------------------------------------------------------------------------


def _quantity(v: float) -> str:
    """A Kubernetes quantity in milli-units (``233m``), the form the HPA reports back."""
    return f"{max(1, round(v * 1000))}m"


def _behavior(rule: Rule, rows: list[dict], where: str, tolerance: bool) -> dict:
    """``behavior.scaleUp/scaleDown`` of an HPA (also KEDA's) and the rows saying how it maps."""
    p = rule.period_s
    cfg, cap = rule.config, rule.model.capacity
    if rule.tracking:
        burst = max(1, cap.max_servers - cap.min_servers)
        stab = seconds(
            "scale_in_stabilization_minutes",
            cfg.scale_in_stabilization_minutes * 60,
            _HPA_MAX_WINDOW_S,
            rows,
            f"{where}.scaleDown.stabilizationWindowSeconds",
        )
        up = {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": burst, "periodSeconds": _HPA_SYNC_S}],
        }
        down = {
            "stabilizationWindowSeconds": stab,
            "selectPolicy": "Max",
            "policies": [{"type": "Pods", "value": burst, "periodSeconds": _HPA_SYNC_S}],
        }
        rows += [
            row(
                "scale_in_stabilization_minutes",
                cfg.scale_in_stabilization_minutes,
                f"{where}.scaleDown.stabilizationWindowSeconds = {stab}",
                "exact",
                "scale-in follows the highest recommendation of the window, as in the simulator (which holds "
                "one recommendation per period)",
            ),
            row(
                "scale-out delay",
                0,
                f"{where}.scaleUp.stabilizationWindowSeconds = 0",
                "exact",
                "target tracking scales out at once",
            ),
            row(
                "step sizes",
                "unlimited",
                f"{where}.scaleUp/scaleDown.policies: {burst} Pods per {_HPA_SYNC_S} s",
                "exact",
                "the simulator's target tracking jumps straight to the desired servers; this policy lifts "
                "the HPA's default rate limit (4 pods or 100% per 15 s)",
            ),
        ]
        default = cfg.target_tolerance == _HPA_DEFAULT_TOLERANCE
        if default:
            # Left out: the cluster-wide default is the same, and older API servers refuse the field.
            rows.append(
                row(
                    "target_tolerance",
                    cfg.target_tolerance,
                    "--horizontal-pod-autoscaler-tolerance (cluster-wide, default 0.1)",
                    "exact",
                    "the controller's default tolerance is the policy's",
                )
            )
        elif tolerance:
            tol = fmt_num(cfg.target_tolerance)
            up["tolerance"] = down["tolerance"] = tol
            rows.append(
                row(
                    "target_tolerance",
                    cfg.target_tolerance,
                    f"{where}.scaleUp/scaleDown.tolerance = {tol}",
                    "approximated",
                    "a field of Kubernetes 1.33+ behind the feature gate HPAConfigurableTolerance; an older API "
                    "server refuses it (remove it there: the cluster-wide --horizontal-pod-autoscaler-tolerance, "
                    "default 0.1, then applies)",
                )
            )
        else:
            rows.append(
                row(
                    "target_tolerance",
                    cfg.target_tolerance,
                    "--horizontal-pod-autoscaler-tolerance (cluster-wide, default 0.1)",
                    "none",
                    "KEDA's behavior has no tolerance field: the controller's cluster-wide tolerance applies to "
                    "every HPA",
                )
            )
        return {"scaleUp": up, "scaleDown": down}
    n_out, n_in = rule.periods("out"), rule.periods("in")
    up_w = seconds(
        "scale_out_periods", n_out * p, _HPA_MAX_WINDOW_S, rows, f"{where}.scaleUp.stabilizationWindowSeconds"
    )
    down_w = seconds(
        "scale_in_periods", n_in * p, _HPA_MAX_WINDOW_S, rows, f"{where}.scaleDown.stabilizationWindowSeconds"
    )
    per = seconds(
        "cooldown_minutes",
        rule.cooldown_s,
        _HPA_MAX_POLICY_PERIOD_S,
        rows,
        f"{where}.scaleUp/scaleDown.policies[].periodSeconds",
    )
    up = {
        "stabilizationWindowSeconds": up_w,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": int(cfg.step_out), "periodSeconds": per}],
    }
    down = {
        "stabilizationWindowSeconds": down_w,
        "selectPolicy": "Max",
        "policies": [{"type": "Pods", "value": int(cfg.step_in), "periodSeconds": per}],
    }
    why_n = "" if rule.policy != Policy.REACTIVE else " (the reactive policy acts on one period)"
    rows += [
        row(
            "scale_out_periods",
            n_out,
            f"{where}.scaleUp.stabilizationWindowSeconds = {up_w}",
            "approximated",
            f"{n_out} consecutive periods of {p / 60:g} min{why_n} as a window: the HPA scales out only to the lowest "
            "recommendation of the window, i.e. when the load stayed high throughout it",
        ),
        row(
            "scale_in_periods",
            n_in,
            f"{where}.scaleDown.stabilizationWindowSeconds = {down_w}",
            "approximated",
            f"{n_in} consecutive periods of {p / 60:g} min{why_n} as a window (highest recommendation of the window)",
        ),
        row(
            "step_out",
            cfg.step_out,
            f"{where}.scaleUp.policies: {cfg.step_out} Pods per {per} s",
            "approximated",
            "at most step_out servers per cooldown; the HPA may add fewer when fewer are needed",
        ),
        row(
            "step_in",
            cfg.step_in,
            f"{where}.scaleDown.policies: {cfg.step_in} Pods per {per} s",
            "approximated",
            "at most step_in servers per cooldown; the HPA may remove fewer",
        ),
        row(
            "cooldown_minutes",
            cfg.cooldown_minutes,
            f"{where}.*.policies[].periodSeconds = {per}",
            "approximated",
            "the HPA has no cooldown: the cooldown (at least one period) becomes the policies' period, which "
            "limits the change per window rather than the time between two actions",
        ),
    ]
    return {"scaleUp": up, "scaleDown": down}


# -- formats -------------------------------------------------------------------------------------


def k8s_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _DNS_LABEL.match(name):
        raise InputError(
            f"{what} {name!r} is not a Kubernetes name: use lowercase letters, digits and '-', "
            "at most 63 characters, starting and ending with a letter or digit (e.g. 'web')"
        )
    return name


def hpa(rule: Rule, name: str, namespace: str, metric: str) -> tuple[list, list]:
    cap = rule.model.capacity
    target = _quantity(rule.target_rps)
    where = "spec.behavior"
    rows = common_rows(
        rule,
        f"spec.metrics[0].pods.target.averageValue = {target} (requests/s per pod)",
        ("spec.minReplicas", "spec.maxReplicas"),
        (
            "-",
            "none",
            "the HPA has no warm-up: give the Deployment a readinessProbe so that a pod "
            "receives traffic (and counts in the metric) only once it has booted",
        ),
    )
    rows.append(
        row(
            "metric",
            metric,
            "spec.metrics[0].pods.metric.name",
            "approximated",
            "a per-pod request rate served by a custom-metrics adapter (e.g. prometheus-adapter); the "
            "simulator averages each period, the adapter over its own rate window",
        )
    )
    behavior = _behavior(rule, rows, where, tolerance=True)
    obj = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": int(cap.min_servers),
            "maxReplicas": int(cap.max_servers),
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {"metric": {"name": metric}, "target": {"type": "AverageValue", "averageValue": target}},
                }
            ],
            "behavior": behavior,
        },
    }
    return [obj], rows


def _cron(t: pd.Timestamp) -> str:
    return f"{t.minute} {t.hour} {t.day} {t.month} *"


def keda(rule: Rule, name: str, namespace: str, prometheus: str, query: str | None, schedule) -> tuple[list, list]:
    cap = rule.model.capacity
    threshold = fmt_num(rule.target_rps)
    query = query or f'sum(rate(http_requests_total{{namespace="{namespace}",service="{name}"}}[1m]))'
    rows = common_rows(
        rule,
        f"spec.triggers[0].metadata.threshold = {threshold} (requests/s per replica)",
        ("spec.minReplicaCount", "spec.maxReplicaCount"),
        (
            "-",
            "none",
            "KEDA has no warm-up: give the Deployment a readinessProbe so that a pod "
            "receives traffic only once it has booted",
        ),
    )
    behavior = _behavior(rule, rows, "spec.advanced.horizontalPodAutoscalerConfig.behavior", tolerance=False)
    cooldown = int(round(rule.cooldown_s))
    poll = int(min(30, max(1, round(rule.period_s))))
    rows += [
        row(
            "query",
            query,
            "spec.triggers[0].metadata.query",
            "approximated",
            "the total request rate; KEDA divides it by the replicas (metricType AverageValue)",
        ),
        row(
            "cooldown_minutes",
            rule.config.cooldown_minutes,
            f"spec.cooldownPeriod = {cooldown}",
            "none",
            "KEDA's cooldownPeriod only delays scaling to zero, which min_servers >= 1 never does; set for reference",
        ),
        row(
            "period",
            rule.period_s / 60,
            f"spec.pollingInterval = {poll}",
            "approximated",
            "how often KEDA reads the trigger (at most 30 s); the HPA reads KEDA's metric every 15 s",
        ),
    ]
    triggers = [
        {
            "type": "prometheus",
            "name": "requests-per-second",
            "metricType": "AverageValue",
            "metadata": {"serverAddress": prometheus, "query": query, "threshold": threshold},
        }
    ]
    if schedule:
        blocks = merge_schedule(schedule, rule)
        for i, (start, end, n) in enumerate(blocks):
            triggers.append(
                {
                    "type": "cron",
                    "name": f"plan-{i}",
                    "metadata": {
                        "timezone": "Etc/UTC",
                        "start": _cron(start),
                        "end": _cron(end),
                        "desiredReplicas": str(n),
                    },
                }
            )
        rows.append(
            row(
                "schedule",
                f"{len(schedule)} hours",
                f"{len(blocks)} cron triggers",
                "approximated",
                SCHEDULE_NOTE + "; KEDA scales to the highest of its triggers, so each cron trigger is a "
                "floor; a cron of a date repeats every year: remove the triggers once the plan is over",
            )
        )
    obj = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "pollingInterval": poll,
            "cooldownPeriod": cooldown,
            "minReplicaCount": int(cap.min_servers),
            "maxReplicaCount": int(cap.max_servers),
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior}},
            "triggers": triggers,
        },
    }
    return [obj], rows
