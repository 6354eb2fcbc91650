"""AWS EC2 Auto Scaling export: the request parameters of ``UpdateAutoScalingGroup``, ``PutScalingPolicy``
(target tracking on ``ALBRequestCountPerTarget``, or step scaling with its CloudWatch alarms) and
``PutScheduledUpdateGroupAction`` (the plan's hourly floor).

Each object is ``{"service", "operation", "params"}``; ``params`` is the request as botocore (and
``aws <service> <operation> --cli-input-json``) takes it. See :mod:`core.scaling.deploy`, ``docs/deploy.md``.
"""

from __future__ import annotations

from core.scaling.deploy_rule import SCHEDULE_NOTE, Rule, common_rows, merge_schedule, row

__all__ = ["aws"]


def _request(service: str, operation: str, params: dict) -> dict:
    return {"service": service, "operation": operation, "params": params}


def _iso(t) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _target_group(resource_label: str) -> str:
    """The ``TargetGroup`` dimension (``targetgroup/NAME/ID``) inside an ALB resource label."""
    i = resource_label.find("targetgroup/")
    return resource_label[i:] if i >= 0 else resource_label


def _tracking(rule: Rule, name: str, resource_label: str, rows: list) -> list:
    cfg = rule.config
    per_minute = round(rule.target_rps * 60.0, 6)
    rows += [
        row(
            "target_tolerance",
            cfg.target_tolerance,
            "-",
            "exact" if cfg.target_tolerance == 0 else "approximated",
            "AWS target tracking acts on any deviation from the target (a tolerance of 0)",
        ),
        row(
            "scale_in_stabilization_minutes",
            cfg.scale_in_stabilization_minutes,
            "-",
            "approximated",
            "AWS scales in on its own alarm (15 one-minute datapoints below the target), not configurable",
        ),
        row("step sizes", "unlimited", "-", "exact", "target tracking jumps to the desired capacity in one action"),
        row(
            "period",
            rule.period_s / 60,
            "ALBRequestCountPerTarget (1-minute sums)",
            "approximated",
            "AWS reads the metric per minute; the simulator per period",
        ),
    ]
    return [
        _request(
            "autoscaling",
            "PutScalingPolicy",
            {
                "AutoScalingGroupName": name,
                "PolicyName": f"{name}-target-tracking",
                "PolicyType": "TargetTrackingScaling",
                "EstimatedInstanceWarmup": rule.boot_s,
                "TargetTrackingConfiguration": {
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "ALBRequestCountPerTarget",
                        "ResourceLabel": resource_label,
                    },
                    "TargetValue": per_minute,
                    "DisableScaleIn": False,
                },
            },
        )
    ]


def _step(rule: Rule, name: str, resource_label: str, rows: list) -> list:
    cfg = rule.config
    # A CloudWatch alarm period is 10, 30 or a multiple of 60 s: whole minutes of the period.
    period = max(60, int(round(rule.period_s / 60.0)) * 60)
    n_out, n_in = rule.periods("out"), rule.periods("in")
    out_thr = round(cfg.scale_out_threshold * rule.rps * period, 6)
    in_thr = round(cfg.scale_in_threshold * rule.rps * period, 6)
    exact_period = "exact" if period == rule.period_s else "approximated"
    per_note = f"requests per target per {period} s (Sum of RequestCountPerTarget) = utilization x capacity x period"
    rows += [
        row(
            "scale_out_threshold",
            cfg.scale_out_threshold,
            f"alarm {name}-scale-out: Threshold = {out_thr:g}",
            exact_period,
            per_note,
        ),
        row(
            "scale_in_threshold",
            cfg.scale_in_threshold,
            f"alarm {name}-scale-in: Threshold = {in_thr:g}",
            exact_period,
            per_note,
        ),
        row(
            "scale_out_periods",
            n_out,
            f"alarm {name}-scale-out: EvaluationPeriods = DatapointsToAlarm = {n_out}",
            exact_period,
            f"consecutive periods of {period} s above the threshold"
            + (" (the reactive policy acts on one period)" if n_out == 1 else ""),
        ),
        row(
            "scale_in_periods",
            n_in,
            f"alarm {name}-scale-in: EvaluationPeriods = DatapointsToAlarm = {n_in}",
            exact_period,
            f"consecutive periods of {period} s below the threshold",
        ),
        row("step_out", cfg.step_out, f"{name}-scale-out: StepAdjustments ScalingAdjustment = {cfg.step_out}", "exact"),
        row("step_in", cfg.step_in, f"{name}-scale-in: StepAdjustments ScalingAdjustment = {-cfg.step_in}", "exact"),
        row(
            "cooldown_minutes",
            cfg.cooldown_minutes,
            "EstimatedInstanceWarmup",
            "approximated",
            "step scaling has no cooldown: while the alarm stays in ALARM the policy runs again, and instances "
            "still warming up count toward the change already made; a SimpleScaling policy's Cooldown would "
            "enforce it, at the price of ignoring alarms meanwhile",
        ),
        row(
            "CloudWatch alarms",
            2,
            "cloudwatch PutMetricAlarm x 2",
            "exact",
            "each step policy needs an alarm on AWS/ApplicationELB RequestCountPerTarget (TargetGroup dimension) "
            "whose AlarmActions is the PolicyARN PutScalingPolicy returns: replace the placeholders",
        ),
    ]
    dims = [{"Name": "TargetGroup", "Value": _target_group(resource_label)}]
    objs = []
    for direction, step, thr, n, op, bound in (
        ("out", cfg.step_out, out_thr, n_out, "GreaterThanThreshold", "MetricIntervalLowerBound"),
        ("in", -cfg.step_in, in_thr, n_in, "LessThanThreshold", "MetricIntervalUpperBound"),
    ):
        policy_name = f"{name}-scale-{direction}"
        objs.append(
            _request(
                "autoscaling",
                "PutScalingPolicy",
                {
                    "AutoScalingGroupName": name,
                    "PolicyName": policy_name,
                    "PolicyType": "StepScaling",
                    "AdjustmentType": "ChangeInCapacity",
                    "EstimatedInstanceWarmup": rule.boot_s,
                    "StepAdjustments": [{bound: 0.0, "ScalingAdjustment": int(step)}],
                },
            )
        )
        objs.append(
            _request(
                "cloudwatch",
                "PutMetricAlarm",
                {
                    "AlarmName": policy_name,
                    "Namespace": "AWS/ApplicationELB",
                    "MetricName": "RequestCountPerTarget",
                    "Dimensions": dims,
                    "Statistic": "Sum",
                    "Period": period,
                    "EvaluationPeriods": n,
                    "DatapointsToAlarm": n,
                    "Threshold": thr,
                    "ComparisonOperator": op,
                    "TreatMissingData": "notBreaching",
                    "AlarmActions": [f"<PolicyARN returned by PutScalingPolicy {policy_name}>"],
                },
            )
        )
    return objs


def _scheduled(rule: Rule, name: str, schedule, rows: list) -> list:
    blocks = merge_schedule(schedule, rule)
    floor = int(rule.model.capacity.min_servers)
    objs = []
    for i, (start, end, n) in enumerate(blocks):
        objs.append(
            _request(
                "autoscaling",
                "PutScheduledUpdateGroupAction",
                {
                    "AutoScalingGroupName": name,
                    "ScheduledActionName": f"{name}-plan-{start:%Y%m%dT%H%M}Z",
                    "StartTime": _iso(start),
                    "MinSize": n,
                },
            )
        )
        nxt = blocks[i + 1][0] if i + 1 < len(blocks) else None
        if nxt != end:  # the plan has no hour here: back to the configured minimum
            objs.append(
                _request(
                    "autoscaling",
                    "PutScheduledUpdateGroupAction",
                    {
                        "AutoScalingGroupName": name,
                        "ScheduledActionName": f"{name}-plan-{end:%Y%m%dT%H%M}Z-end",
                        "StartTime": _iso(end),
                        "MinSize": floor,
                    },
                )
            )
    rows.append(
        row(
            "schedule",
            f"{len(schedule)} hours",
            f"{len(objs)} PutScheduledUpdateGroupAction (MinSize)",
            "exact",
            SCHEDULE_NOTE + f"; after the plan (or a gap in it) MinSize returns to min_servers "
            f"({floor}); servers_p50 is not used",
        )
    )
    return objs


def aws(rule: Rule, name: str, resource_label: str, schedule) -> tuple[list, list]:
    """The AWS requests and the mapping rows of ``rule``."""
    cap = rule.model.capacity
    target = (
        f"TargetTrackingConfiguration.TargetValue = {round(rule.target_rps * 60.0, 6):g} requests per target per minute"
        if rule.tracking
        else "the step policies' alarms"
    )
    rows = common_rows(
        rule,
        target,
        ("UpdateAutoScalingGroup.MinSize", "UpdateAutoScalingGroup.MaxSize"),
        (
            f"EstimatedInstanceWarmup = DefaultInstanceWarmup = {rule.boot_s}",
            "approximated",
            "a launched instance is left out of the group's metrics for this long; the simulator's "
            "booting server serves from the first period after its boot delay",
        ),
        thresholds_tracked=False,
    )
    objs = [
        _request(
            "autoscaling",
            "UpdateAutoScalingGroup",
            {
                "AutoScalingGroupName": name,
                "MinSize": int(cap.min_servers),
                "MaxSize": int(cap.max_servers),
                "DefaultInstanceWarmup": rule.boot_s,
            },
        )
    ]
    objs += (_tracking if rule.tracking else _step)(rule, name, resource_label, rows)
    if schedule:
        objs += _scheduled(rule, name, schedule, rows)
    return objs, rows
