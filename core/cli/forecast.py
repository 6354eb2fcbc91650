"""``forecast``, ``backtest`` and ``anomalies``: forecasting from the command line."""

from __future__ import annotations

import os
from pathlib import Path

from core.cli.common import add_data_args, emit, load_series, open_store
from core.cli.model_args import add_model_arg, model_list
from core.errors import InputError

__all__ = ["register"]


def register(subparsers) -> None:
    from core.forecast import DEFAULT_FORECAST_MODEL
    from core.forecast.backtest import DEFAULT_CALIBRATION
    from core.forecast.naive import SeasonalNaive
    from core.registry import CALIBRATIONS

    p = subparsers.add_parser("forecast", help="fit a model and forecast ahead of the series' last period")
    add_data_args(p)
    add_model_arg(p, "--model", default=DEFAULT_FORECAST_MODEL, what="the model")
    p.add_argument("--horizon", default="1d", help="steps or a duration up to 30d, e.g. 288 or 7d (default 1d)")
    p.add_argument("--target", default="requests", help="requests or bytes (default requests)")
    p.add_argument("--level", default="80,95", help="interval levels in percent, e.g. 80,95")
    p.add_argument("--out", default=None, help="write timestamp,mean,lo-80,hi-80,... to this CSV file")
    p.add_argument("--events", default=None,
                   help="extra events, .csv or .json (date or start,end + name,impact), besides the dataset's "
                        "stored ones (`events DATASET_ID`)")
    p.add_argument("--no-stored-events", action="store_true",
                   help="leave out the dataset's stored events (the built-in calendar still applies)")
    p.add_argument("--models-dir", default=None, help="trained-model cache (default $TRAFFIC_MODELS_DIR or ./models)")
    p.add_argument("--no-cache", action="store_true", help="always refit; do not read or write the model cache")
    p.set_defaults(handler=_forecast)

    p = subparsers.add_parser("backtest", help="score models on a train/test split under one protocol")
    add_data_args(p)
    p.add_argument("--train-end", required=True, help="last training period, e.g. '1995-08-22 23:59'")
    p.add_argument("--test-end", default=None, help="last test period (default: the end of the series)")
    p.add_argument("--protocol", default="one-step", help="one-step, day-ahead or one-shot (default one-step)")
    p.add_argument("--models", default=f"{SeasonalNaive.name},{DEFAULT_FORECAST_MODEL}", type=model_list,
                   help="comma-separated model names (as for forecast --model; default "
                        f"{SeasonalNaive.name},{DEFAULT_FORECAST_MODEL})")
    p.add_argument("--target", default="requests", help="requests or bytes (default requests)")
    p.add_argument("--calibration", default=DEFAULT_CALIBRATION, choices=CALIBRATIONS,
                   help="intervals of the rolling protocols: adaptive (recalibrated online as actuals arrive) or "
                        f"fixed (the fit-time calibration); one-shot is always fixed (default {DEFAULT_CALIBRATION})")
    p.set_defaults(handler=_backtest)

    p = subparsers.add_parser("select-model", help="which model to run for a dataset, horizon and use, chosen by "
                                                   "rolling backtest on the data before --cut (cached)")
    add_data_args(p)
    p.add_argument("--use", default="forecast", choices=("forecast", "policy"),
                   help="forecast: narrowest calibrated 80%% interval at the horizon (the planner, the Forecast "
                        "page); policy: lowest k-step error run as deployed (the predictive policy) (default "
                        "forecast)")
    p.add_argument("--horizon", default=None,
                   help="steps or a duration, e.g. 1d (default: 1d for forecast; for policy the decision horizon, "
                        "boot delay + buffer of the default model)")
    p.add_argument("--cut", default=None, help="choose on the data before this time (default: all of it)")
    p.add_argument("--target", default="requests", help="requests or bytes (default requests)")
    p.add_argument("--models-dir", default=None, help="where the choice is cached (default $TRAFFIC_MODELS_DIR or "
                                                      "./models)")
    p.set_defaults(handler=_select_model)

    p = subparsers.add_parser("anomalies", help="flag anomalous periods (z-score, IsolationForest, DDoS-like)")
    add_data_args(p)
    p.add_argument("--target", default="requests", help="requests or bytes (default requests)")
    p.add_argument("--threshold", type=float, default=3.0, help="z-score threshold in sigmas (default 3)")
    p.add_argument("--contamination", type=float, default=0.01, help="IsolationForest share (default 0.01)")
    p.add_argument("--method", default=None, help="only list this method: zscore, iforest, agreement, ddos")
    p.set_defaults(handler=_anomalies)


def _forecast(args) -> int:
    from core.events import load_events
    from core.forecast import parse_horizon, parse_levels
    from core.forecast.cache import ModelCache
    from core.forecast.result import forecast_at

    name = args.model  # checked against the registry by argparse (model_args.model_name)
    levels = parse_levels(args.level)
    if not levels:
        raise InputError("level must name at least one interval, e.g. --level 80,95")
    series = load_series(args)
    steps = parse_horizon(int(args.horizon) if str(args.horizon).isdigit() else args.horizon, series.interval)
    dataset_id = None if Path(args.data).exists() else args.data
    events = ()
    if dataset_id is not None and not args.no_stored_events:
        events = open_store(args).events(dataset_id)  # the dataset's own events: its regressors by default
    if args.events:
        events += load_events(args.events)
    params = {"events": events} if events else {}
    cache = None
    if not args.no_cache:
        cache = ModelCache(_models_dir(args))
    result = forecast_at(series, name, steps=steps, target=args.target, levels=levels, params=params, cache=cache,
                         dataset_id=dataset_id)
    if args.out:
        frame = result.to_frame().reset_index()
        frame["timestamp"] = [t.isoformat() for t in frame["timestamp"]]
        frame.to_csv(args.out, index=False, float_format="%.3f")
    d = result.to_dict(arrays=False)
    obj = {k: d[k] for k in ("model", "label", "target", "granularity_minutes", "start", "end", "points", "levels",
                             "summary", "fit_seconds")}
    obj.update(cached=result.model_cached, events=d["events"], out=args.out)
    text = (f"{result.label}: {len(result.timestamps)} periods {obj['start']} .. {obj['end']}\n"
            f"mean {obj['summary']['mean']:.1f}, peak {obj['summary']['max']:.1f} at {obj['summary']['peak_at']}"
            + "".join(f"\n{n}" for n in result.notes)
            + (f"\nwritten to {args.out}" if args.out else ""))
    emit(args, obj, text)
    return 0


def _backtest(args) -> int:
    from core.forecast import backtest

    models = list(args.models)  # checked against the registry by argparse (model_args.model_list)
    series = load_series(args)
    report = backtest(series, models, train_end=args.train_end, test_end=args.test_end,
                      protocol=args.protocol, target=args.target, calibration=args.calibration)
    obj = report.to_dict()
    lines = [f"{report.protocol} backtest, test {report.test[0]} .. {report.test[1]}, {report.periods} periods"]
    if report.poisson_floor is not None:
        lines.append(f"Poisson floor (RMSE no honest forecast can beat): {report.poisson_floor:.1f}")
    for m, r in report.results.items():
        lines.append(f"{m:15s} RMSE {r['rmse']:8.2f}  MAE {r['mae']:8.2f}  MASE {r['mase'] or float('nan'):.3f}  "
                     f"R² {float('nan') if r['r2'] is None else r['r2']:.3f}  "
                     f"cov80 {r['coverage_80']:.1f}%  cov95 {r['coverage_95']:.1f}%  "
                     f"CRPS {r['crps'] or float('nan'):8.2f}  fit {r['fit_seconds']:.1f}s")
    labels = {r["calibration"] for r in report.results.values() if r.get("calibration")}
    lines += [f"intervals: {label}" for label in sorted(labels)]
    emit(args, obj, "\n".join(lines))
    return 0


def _models_dir(args) -> str:
    """``--models-dir``, else ``$TRAFFIC_MODELS_DIR``, else ``models``."""
    return args.models_dir or os.environ.get("TRAFFIC_MODELS_DIR") or "models"


def _select_model(args) -> int:
    import time

    from core.forecast import parse_horizon
    from core.selection import select_model

    series = load_series(args)
    if args.horizon is not None:
        steps = parse_horizon(int(args.horizon) if str(args.horizon).isdigit() else args.horizon, series.interval)
    elif args.use == "policy":
        from core.scaling.policy_forecast import decision_horizon
        from core.scaling.simulate import SimulationModel

        m = SimulationModel()
        steps = decision_horizon(m.capacity, m.predictive, series.interval)
    else:
        steps = parse_horizon("1d", series.interval)
    dataset_id = None if Path(args.data).exists() else args.data
    t0 = time.perf_counter()
    choice = select_model(series, steps, use=args.use, target=args.target, cut=args.cut, dataset_id=dataset_id,
                          cache_dir=_models_dir(args))
    obj = {**choice.to_dict(), "seconds": round(time.perf_counter() - t0, 2)}
    emit(args, obj, choice.reason + (" (cached)" if choice.cached else ""))
    return 0


def _anomalies(args) -> int:
    from core.anomalies import METHODS, AnomalyConfig, detect_anomalies

    if args.method is not None and args.method not in METHODS:
        raise InputError(f"unknown method {args.method!r}; choose one of {', '.join(METHODS)}")
    series = load_series(args)
    cfg = AnomalyConfig(threshold=args.threshold, contamination=args.contamination)
    report = detect_anomalies(series, target=args.target, config=cfg)
    obj = report.to_dict()
    if args.method:
        obj["anomalies"] = [a for a in obj["anomalies"] if a["method"] == args.method]
    lines = [f"{len(series)} periods scanned; flagged: "
             + ", ".join(f"{m} {c}" for m, c in obj["counts"].items()),
             f"scores relative to {obj['relative_to']}"]
    for a in obj["anomalies"][:50]:
        lines.append(f"{a['start']} .. {a['end']}  {a['method']:9s} score {a['score']}")
    emit(args, obj, "\n".join(lines))
    return 0
