"""``simulate``, ``recommend``, ``plan``, ``matrix``, ``optimize`` and ``whatif``: thin calls into ``core.scaling``."""

from __future__ import annotations

import argparse
import sys

from core.cli.common import add_data_args, emit, load_series, open_store, progress_line
from core.cli.model_args import add_model_arg

__all__ = ["register"]


def _model_args(p: argparse.ArgumentParser, what: str = "") -> None:
    from core.scaling.config import PredictiveSpec

    g = p.add_argument_group(f"model overrides{what}")
    g.add_argument("--boot-delay-min", type=float, default=None, help="server boot delay in minutes (default 5)")
    g.add_argument("--price", type=float, default=None, help="price per server-hour in $ (default 0.85)")
    g.add_argument("--capacity-per-server-rps", type=float, default=None,
                   help="requests per second one server serves (default 1/3 = 100 per 5 min)")
    g.add_argument("--min-servers", type=int, default=None, help="minimum servers (default 1)")
    g.add_argument("--max-servers", type=int, default=None, help="maximum servers (default 100)")
    g = p.add_argument_group("predictive policy")
    add_model_arg(g, "--forecast-model", default=None,
                  what=f"forecast fitted on the history before --start (default {PredictiveSpec.forecast_model})")
    g.add_argument("--safety-margin", type=float, default=None,
                   help="provision for forecast x (1 + margin) (default 0.25)")


def _overrides(args) -> dict:
    return {k: v for k, v in dict(
        price_per_server_hour=args.price, capacity_per_server_rps=args.capacity_per_server_rps,
        min_servers=args.min_servers, max_servers=args.max_servers, boot_delay_minutes=args.boot_delay_min,
    ).items() if v is not None}


def _model(args, with_overrides: bool = True):
    from dataclasses import replace

    from core.scaling.simulate import SimulationModel

    model = SimulationModel()
    pred = {k: v for k, v in dict(forecast_model=args.forecast_model, safety_margin=args.safety_margin).items()
            if v is not None}
    if pred:  # the forecast settings apply to the baseline and the scenario alike
        model = replace(model, predictive=replace(model.predictive, **pred))
    return model.with_overrides(**_overrides(args)) if with_overrides else model


def _series(args):
    """The whole series at the requested granularity; the window is cut later so history feeds forecasts."""
    series = open_store(args).resolve(args.data)
    return series.resample(args.granularity)


def _policy_args(p: argparse.ArgumentParser) -> None:
    from core.registry import policy_names, preset_names

    p.add_argument("--config", default="balanced", choices=preset_names(),
                   help="configuration preset (default balanced)")
    p.add_argument("--policy", default="balanced", choices=policy_names(), help="policy (default balanced)")


def _line(name: str, t: dict) -> str:
    p95 = "n/a" if t.get("p95_latency_s") is None else f"{t['p95_latency_s']:.1f}s"
    return (f"{name:28s} ${t['cost']:>10,.2f}  overloaded {t['overloaded_pct']:6.2f}%  dropped {t['dropped_pct']:6.3f}%"
            f"  p95 {p95:>7s}  actions {t['scaling_actions']:5d}  peak {t['peak_servers']}")


def _policy_json(text: str, option: str = "--config-json") -> dict:
    """``option`` (``--config-json``): a JSON object, or a file holding one."""
    import json
    from pathlib import Path

    from core.errors import InputError

    raw = text
    if not text.lstrip().startswith("{"):
        try:
            raw = Path(text).read_text()
        except OSError as exc:
            raise InputError(f"{option}: {text!r} is neither a JSON object nor a readable file ({exc.strerror})"
                             ) from None
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InputError(f"{option}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(obj, dict) and "recommended" in obj:  # the whole output of `recommend --json`
        obj = obj["recommended"]
        if obj is None:
            raise InputError(f"{option}: that recommendation has no recommended policy (none met the SLA)")
    return obj


def _cmd_simulate(args) -> int:
    from core.scaling.simulate import simulate

    config, policy, model = args.config, args.policy, _model(args)
    if args.config_json:
        from core.scaling.policy_config import from_policy_dict

        config, policy, model = from_policy_dict(_policy_json(args.config_json), model)
    res = simulate(_series(args), config, policy, model, start=args.start, end=args.end,
                   timeline=bool(args.timeline))
    if args.timeline:
        res.timeline.reset_index().assign(timestamp=lambda f: f["timestamp"].map(lambda t: t.isoformat())).to_csv(
            args.timeline, index=False)
    out = res.to_dict()
    if args.timeline:
        out["timeline_file"] = args.timeline
    text = _line(res.name, out) + f"\n({res.meta['excluded_periods']} periods in gaps excluded from the statistics)"
    emit(args, out, text)
    return 0


def _cmd_matrix(args) -> int:
    from core.scaling.matrix import run_matrix

    m = run_matrix(_series(args), _model(args), start=args.start, end=args.end, cost_weight=args.cost_weight,
                   sla_target_pct=args.sla_target)
    d = m.to_dict()
    lines = [_line(r["name"], r) for r in d["scenarios"]] + [_line(k, v) for k, v in d["baselines"].items()]
    w = d["winners"]
    lines.append(f"best cost: {w['best_cost']}  best SLA: {w['best_sla']}  best balance: {w['best_balance']}  "
                 f"cheapest with <= {w['sla_target_pct']:g}% overloaded: {w['cheapest_meeting_sla']}")
    emit(args, d, "\n".join(lines))
    return 0


def _cmd_optimize(args) -> int:
    from core.scaling.optimize import optimize

    def progress(done, total):
        if not args.json and sys.stderr.isatty():
            sys.stderr.write(f"\r{done}/{total} configurations")

    r = optimize(_series(args), _model(args), budget=args.budget, start=args.start, end=args.end, seed=args.seed,
                 progress=progress)
    d = r.to_dict()
    lines = [f"{r.evaluated} configurations in {r.seconds:.2f} s; Pareto front of {len(r.front)}:"]
    lines += [_line(f"{f['policy']} {f['candidate']}", f) for f in r.front]
    lines.append("knee: " + _line(f"{r.knee['policy']} {r.knee['candidate']}", r.knee))
    emit(args, d, "\n".join(lines))
    return 0


def _cmd_whatif(args) -> int:
    from core.scaling.whatif import LoadTransform, parse_spike, whatif

    t = LoadTransform(multiplier=args.multiplier, spikes=tuple(parse_spike(s) for s in args.spike or ()),
                      weekly_growth_pct=args.growth_pct)
    r = whatif(_series(args), args.config, args.policy, _model(args, with_overrides=False), transform=t,
               overrides=_overrides(args), start=args.start, end=args.end)
    d = r.to_dict()
    lines = [_line("baseline", d["baseline"]), _line("scenario", d["scenario"])]
    lines.append("delta: " + ", ".join(f"{k} {v:+.3f}" for k, v in d["delta"].items() if v is not None))
    emit(args, d, "\n".join(lines))
    return 0


def _cmd_recommend(args) -> int:
    from core.scaling.walkforward import walk_forward

    series = load_series(args)
    progress = progress_line(args, "fold")

    r = walk_forward(series, _model(args), sla_pct=args.sla_pct, folds=args.folds, test_start=args.test_start,
                     budget=args.budget, forecaster=args.forecaster, progress=progress)
    d = r.to_dict()
    lines = [d["folds_used"], d["reason"], ""]
    for f in d["folds"]:
        ratio = f"{f['cost_vs_oracle']:.2f}x oracle" if f["cost_vs_oracle"] is not None else ""
        lines.append(f"{f['role']:9s} test {f['test_start'][:10]} .. {f['test_end'][:10]}  ${f['cost']:>9,.2f} "
                     f"{ratio:>13s}  overloaded {f['overloaded_pct']:5.2f}% (in training "
                     f"{f['in_sample_overloaded_pct']:.2f}%)  static ${f['static_cost']:,.2f} "
                     f"{f['static_overloaded_pct']:.2f}%")
    emit(args, d, "\n".join(lines))
    return 0


def _cmd_plan(args) -> int:
    from core.scaling.plan import plan

    series = load_series(args)
    progress = progress_line(args, "planning")

    p = plan(series, _model(args), horizon=args.horizon, origin=args.origin, sla_pct=args.sla_pct,
             paths=args.paths, seed=args.seed, folds=args.folds, budget=args.budget, forecaster=args.forecaster,
             progress=progress)
    if not args.json and sys.stderr.isatty():
        sys.stderr.write("\n")
    d = p.to_dict(arrays=args.fan)
    lines = [f"plan {d['origin']} .. {d['end']} ({d['horizon']}, {args.paths} paths of {d['forecast']['model']})",
             d["reason"], ""]
    for pp in p.policies:
        c = pp.cost
        real = (f"  real ${pp.realized['cost']:,.0f}, {pp.realized['overloaded_pct']:.2f}%"
                if pp.realized else "")
        lines.append(f"{pp.role:15s} {pp.name:30s} ${c['p50']:>9,.0f} (p10-p90 ${c['p10']:,.0f}-${c['p90']:,.0f})  "
                     f"P(miss SLA) {100 * pp.p_sla_miss:3.0f}%  overloaded {pp.overloaded_pct_expected:.2f}%  "
                     f"peak {pp.peak_servers}{real}")
    if d["backtest"] and "reason" in d["backtest"]:
        lines.append(d["backtest"]["reason"])
    emit(args, d, "\n".join(lines))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("simulate", help="simulate one configuration x policy")
    add_data_args(p)
    _policy_args(p)
    _model_args(p)
    p.add_argument("--timeline", metavar="FILE.csv", default=None, help="write the per-period timeline to this CSV")
    p.add_argument("--config-json", default=None, metavar="FILE_OR_JSON",
                   help='a policy as printed by `recommend --json` under "recommended" ({"policy", "config"}), '
                        "or that whole output; replaces --config, --policy and the model overrides it names")
    p.set_defaults(handler=_cmd_simulate)

    p = subparsers.add_parser("recommend", help="recommend a scaling policy by walk-forward validation "
                                                "(tuned before each cut, scored after it)")
    add_data_args(p)
    _model_args(p)
    p.add_argument("--sla-pct", type=float, default=1.0, help="largest share of overloaded periods, %% (default 1)")
    p.add_argument("--folds", type=int, default=None,
                   help="folds (default 4: weekly, or daily for data shorter than three weeks)")
    p.add_argument("--test-start", default=None,
                   help="start of the last fold's test window (default: one window before the end, at midnight)")
    p.add_argument("--budget", type=int, default=2000, help="configurations the optimizer tries per fold")
    p.add_argument("--forecaster", choices=("auto", "spec"), default="auto",
                   help="auto: the predictive policies' model is chosen by a backtest before the first test window, "
                        "refitted weekly, with a 95%% error-quantile headroom; spec: --forecast-model and "
                        "--safety-margin as given")
    p.set_defaults(handler=_cmd_recommend)

    p = subparsers.add_parser("plan", help="what the next 1 hour - 30 days cost under each policy, with cost and risk "
                                           "bands (and, from a past --origin, what they really cost)")
    add_data_args(p)
    _model_args(p)
    p.add_argument("--horizon", default="7d", help="how far ahead: 1h .. 30d (default 7d)")
    p.add_argument("--origin", default=None,
                   help="first planned period (default: the end of the data); a past origin adds the plan's backtest")
    p.add_argument("--sla-pct", type=float, default=1.0, help="largest share of overloaded periods, %% (default 1)")
    p.add_argument("--paths", type=int, default=200, help="sample paths of the forecast (10 .. 5000, default 200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the paths and the optimizer (default 0)")
    p.add_argument("--folds", type=int, default=None, help="walk-forward folds behind the recommendation (default 4)")
    p.add_argument("--budget", type=int, default=2000, help="configurations the optimizer tries per fold")
    p.add_argument("--forecaster", choices=("auto", "spec"), default="auto",
                   help="auto: the predictive policy's model (and the plan's paths) chosen by a backtest; spec: "
                        "--forecast-model as given")
    p.add_argument("--fan", action="store_true", help="with --json: include the forecast fan (per-period quantiles)")
    p.set_defaults(handler=_cmd_plan)

    p = subparsers.add_parser("matrix", help="3 configurations x 3 policies, baselines and winners")
    add_data_args(p)
    _model_args(p)
    p.add_argument("--cost-weight", type=float, default=0.5, help="weight of cost in Best Balance, 0..1 (default 0.5)")
    p.add_argument("--sla-target", type=float, default=None,
                   help="max overloaded periods %% for 'cheapest meeting the SLA' (default 1)")
    p.set_defaults(handler=_cmd_matrix)

    p = subparsers.add_parser("optimize", help="search configurations: Pareto front of cost vs overloaded periods")
    add_data_args(p)
    _model_args(p)
    p.add_argument("--budget", type=int, default=10_000, help="configurations to evaluate (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the search (default 0)")
    p.set_defaults(handler=_cmd_optimize)

    p = subparsers.add_parser("whatif", help="transform the load / override the model and compare with the baseline")
    add_data_args(p)
    _policy_args(p)
    _model_args(p, " (applied to the scenario only)")
    p.add_argument("--multiplier", type=float, default=1.0, help="multiply the demand (default 1)")
    p.add_argument("--spike", action="append", metavar="START,DURATION_MIN,MAGNITUDE[,SHAPE]",
                   help="inject a spike (x MAGNITUDE at its peak; SHAPE flat, ramp or decay); repeatable")
    p.add_argument("--growth-pct", type=float, default=0.0, help="weekly growth of the demand in %% (default 0)")
    p.set_defaults(handler=_cmd_whatif)
