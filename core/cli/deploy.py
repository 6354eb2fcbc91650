"""``export-policy``: a scaling policy as autoscaler configuration (``core.scaling.deploy``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.cli.common import add_data_args, emit, load_series, progress_line
from core.cli.scaling import _model, _model_args, _policy_json

__all__ = ["register"]


def _schedule(text: str | None) -> list | None:
    """``--schedule``: a JSON array of hourly rows (or an object holding one under ``schedule``), or a file."""
    from core.errors import InputError

    if text is None:
        return None
    raw = text
    if not text.lstrip().startswith(("[", "{")):
        try:
            raw = Path(text).read_text()
        except OSError as exc:
            raise InputError(
                f"--schedule: {text!r} is neither a JSON array nor a readable file ({exc.strerror})"
            ) from None
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"--schedule: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(obj, dict) and "schedule" in obj:
        obj = obj["schedule"]
    return obj


def _policy(args, model) -> dict:
    """The policy object: ``--policy-json``, a preset ``--policy``, or from the walk-forward recommendation."""
    from core.scaling.deploy import candidate_policies, preset_policy, select_policy

    if args.policy_json:
        return _policy_json(args.policy_json, "--policy-json")
    if args.policy and (preset := preset_policy(args.policy, model)) is not None:
        return preset  # a preset needs no recommendation
    from core.scaling.walkforward import walk_forward

    series = load_series(args)
    progress = progress_line(args, "fold")

    rec = walk_forward(series, model, sla_pct=args.sla_pct, folds=args.folds, budget=args.budget, progress=progress)
    policy, warning = select_policy(args.policy, candidate_policies(rec), model)
    if warning:
        sys.stderr.write(("\n" if sys.stderr.isatty() else "") + warning + "\n")
    return policy


def _cmd_export(args) -> int:
    from core.scaling.deploy import export_policy
    from core.series import parse_granularity

    minutes = parse_granularity(args.granularity).total_seconds() / 60.0
    schedule = _schedule(args.schedule)
    model = _model(args)  # with --policy-json, what its config leaves out (as simulate --config-json)
    exp = export_policy(
        _policy(args, model),
        args.format,
        name=args.name,
        namespace=args.namespace,
        interval_minutes=minutes,
        schedule=schedule,
        base=model,
    )
    if args.out:
        Path(args.out).write_text(exp.text)
    if args.json:
        emit(args, {**exp.to_dict(), **({"out": args.out} if args.out else {})}, "")
    elif args.out:
        kinds = {k: sum(r["carries_over"] == k for r in exp.mapping) for k in ("exact", "approximated", "none")}
        sys.stdout.write(
            f"wrote {args.out} ({exp.format}, policy {exp.policy.get('name') or exp.policy['policy']}): "
            f"{kinds['exact']} settings exact, {kinds['approximated']} approximated, {kinds['none']} without "
            "equivalent (--json lists them)\n"
        )
    else:
        sys.stdout.write(exp.text)
    return 0


def register(subparsers) -> None:
    from core.registry import DEPLOY_FORMATS

    p = subparsers.add_parser(
        "export-policy",
        help="a scaling policy as a Kubernetes HPA, a KEDA ScaledObject or AWS Auto Scaling requests",
        description="Export a scaling policy for an autoscaler. Default: the walk-forward recommendation on --data "
        "(as `recommend`); --policy CONFIG/POLICY exports a preset and --policy-json an explicit policy without "
        "running it. --json prints the objects and each setting's mapping (exact, approximated or none).",
    )
    add_data_args(p)
    _model_args(p)
    p.add_argument("--format", required=True, choices=DEPLOY_FORMATS, help="hpa, keda or aws")
    p.add_argument(
        "--policy",
        default=None,
        help="a preset as CONFIG/POLICY (e.g. balanced/target_tracking), or a candidate name of the "
        "recommendation (e.g. 'tuned (<= 1%% in training)'); default: the recommended policy",
    )
    p.add_argument(
        "--policy-json",
        default=None,
        metavar="FILE_OR_JSON",
        help='a policy {"policy", "config"} as printed by `recommend --json` under "recommended" (or that whole '
        "output); no walk-forward is run",
    )
    p.add_argument("--sla-pct", type=float, default=1.0, help="largest share of overloaded periods, %% (default 1)")
    p.add_argument("--folds", type=int, default=None, help="walk-forward folds (default as `recommend`)")
    p.add_argument("--budget", type=int, default=2000, help="configurations the optimizer tries per fold")
    p.add_argument(
        "--schedule",
        default=None,
        metavar="FILE_OR_JSON",
        help='the plan\'s hourly rows [{"hour", "servers_p50", "servers_p90"}]: scheduled actions (aws) or cron '
        "triggers (keda) raising the minimum to each hour's p90 servers",
    )
    p.add_argument("--name", default="web", help="the Deployment or Auto Scaling group to scale (default web)")
    p.add_argument("--namespace", default="default", help="Kubernetes namespace (default default)")
    p.add_argument("--out", default=None, metavar="FILE", help="write the file here instead of stdout")
    p.set_defaults(handler=_cmd_export)
