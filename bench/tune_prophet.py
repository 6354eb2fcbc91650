"""Prophet's configuration for 5-minute web traffic, chosen on validation weeks only (issue #14 item 3).

Run by hand (not in CI), one heavy job at a time on the shared 2-core machine:

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/tune_prophet.py \
        --stage curve|grid|grid2|anchor|refit|calibration

Two validation folds inside the standard training period (local time, -04:00), never the test week
08-23 .. 08-31: A = train to 08-15, score 08-16 .. 08-22; B = train to 08-08, score 08-09 .. 08-15.
Day-ahead protocol: one path of 24 h from each local midnight, reading only data before it.

Every score fits Prophet itself (:class:`core.forecast.prophet.ProphetForecaster`, ``calibrate=False``);
rows state what they change from Prophet as it was (``OLD``). Stages, in the order they were run:
``curve`` changes one thing at a time, no re-anchoring; ``grid`` and ``grid2`` cross the candidates and
score each fit plain and with a few re-anchorings (``ProphetForecaster.reanchored``: no refit);
``anchor`` varies the re-anchoring of the chosen curve (``CHOSEN``, ProphetConfig's defaults since);
``refit`` compares refitting the curve at every origin; ``calibration`` checks the chosen model's
interval coverage. Each row prints as a markdown table row (bench/results/prophet.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.common import load_nasa  # noqa: E402
from core.forecast import make_model  # noqa: E402
from core.forecast.backtest import protocol_origins, split_series  # noqa: E402
from core.forecast.base import target_values  # noqa: E402
from core.series import TrafficSeries  # noqa: E402

FOLDS = {  # name: (train end, test end)
    "A (08-16..22)": ("1995-08-15 23:59", "1995-08-22 23:59"),
    "B (08-09..15)": ("1995-08-08 23:59", "1995-08-15 23:59"),
}


def day_ahead_rmse(model, y: np.ndarray, m: int, n: int) -> float:
    origins, h, keep = protocol_origins("day-ahead", m, n, model.grid_)
    mean = model.predict_paths(y, origins, h, level=None)["mean"]
    j = np.arange(h)[None, :]
    take = j < keep[:, None]
    pos = (origins[:, None] + j)[take]
    e = y[pos] - mean[take]
    return float(np.sqrt(np.nanmean(e**2)))


def score(series: TrafficSeries, params: dict, fits: dict | None = None) -> tuple[list[float], float]:
    """Day-ahead RMSE on each fold and the mean fit seconds; ``fits`` caches models by (fold, curve params)."""
    out, secs = [], []
    for fold, (train_end, test_end) in FOLDS.items():
        m, n = split_series(series, train_end, test_end)
        y = target_values(series, "requests")[:n]
        params = {**OLD, **params}
        curve = {k: v for k, v in params.items() if k not in ANCHOR_KEYS}
        key = (fold, tuple(sorted(curve.items())))
        model = None if fits is None else fits.get(key)
        if model is None:
            model = make_model("prophet", calibrate=False, **params)
            t0 = time.perf_counter()
            model.fit(TrafficSeries(series.frame.iloc[:m], series.interval, series.gaps))
            secs.append(time.perf_counter() - t0)
            if fits is not None:
                fits[key] = model
        else:
            model = model.reanchored(**{k: v for k, v in params.items() if k in ANCHOR_KEYS})
        out.append(day_ahead_rmse(model, y, m, n))
    return out, (float(np.mean(secs)) if secs else float("nan"))


ANCHOR_KEYS = ("level_days", "level_weight", "level_mode")
#: Prophet as it was before this tuning; every row states what it changes from this.
OLD = {"seasonality_mode": "additive", "daily_order": 4, "weekly_order": 3, "weekend_order": 0, "transform": "none",
       "growth": "linear", "window_days": None, "holidays": True, "changepoint_prior_scale": 0.05, "level_days": 0.0}
#: The configuration chosen (now ProphetConfig's defaults).
CHOSEN = {"seasonality_mode": "multiplicative", "daily_order": 10, "weekly_order": 6, "weekend_order": 6,
          "transform": "sqrt", "level_days": 1.0, "level_mode": "ratio", "level_weight": 1.0}

NO_ANCHOR = {"level_days": 0.0}

CURVES = [  # each row changes one thing from the row it names (first: Prophet as it was)
    ("as it was: additive, orders 4/3, no transform", {"daily_order": 4, "weekly_order": 3}),
    ("daily order 10", {"daily_order": 10, "weekly_order": 3}),
    ("daily order 20", {"daily_order": 20, "weekly_order": 3}),
    ("daily 10, weekly 6", {"daily_order": 10, "weekly_order": 6}),
    ("daily 10, multiplicative", {"daily_order": 10, "seasonality_mode": "multiplicative"}),
    ("daily 10, sqrt", {"daily_order": 10, "transform": "sqrt"}),
    ("daily 10, log", {"daily_order": 10, "transform": "log"}),
    ("daily 10, no holidays", {"daily_order": 10, "holidays": False}),
    ("daily 10, changepoint prior 0.5", {"daily_order": 10, "changepoint_prior_scale": 0.5}),
    ("daily 10, changepoint prior 0.005", {"daily_order": 10, "changepoint_prior_scale": 0.005}),
    ("daily 10, window 28 d", {"daily_order": 10, "window_days": 28.0}),
    ("daily 10, window 14 d", {"daily_order": 10, "window_days": 14.0}),
    ("daily 10, weekend daily shape", {"daily_order": 10, "weekend_order": 6}),
]


GRID = {  # the grid stage: every combination, each fit scored plain and with a few re-anchorings
    "daily_order": (10,),
    "weekly_order": (3, 6),
    "weekend_order": (0, 6),
    "transform": ("none", "sqrt", "log"),
    "window_days": (None, 28.0, 14.0),
    "changepoint_prior_scale": (0.05, 0.5),
    "seasonality_mode": ("additive", "multiplicative"),
}
#: Round 1 also had columns "add 1d fitted" and "ratio 1d fitted": a weight estimated in-sample (each
#: training day's gap on the gap over the day before), at commit 8350b13. It came out ~0 and was dropped.
GRID_ANCHORS = {
    "plain": NO_ANCHOR,
    "add 1d w1": {"level_mode": "additive", "level_days": 1.0, "level_weight": 1.0},
    "ratio 1d w1": {"level_mode": "ratio", "level_days": 1.0, "level_weight": 1.0},
}

#: Second round, after the first: the weekend shape in, the changepoint prior 0.5 and the 14-day window out
#: (their trends ran away on one fold or the other), a flat trend tried (the re-anchoring sets the level),
#: the in-sample weight dropped (it came out ~0 and changed nothing) and the re-anchoring window varied.
GRID2 = {
    "daily_order": (10,),
    "weekly_order": (3, 6),
    "weekend_order": (6, 10),
    "transform": ("none", "sqrt"),
    "growth": ("linear", "flat"),
    "window_days": (None, 28.0),
    "seasonality_mode": ("additive", "multiplicative"),
}
GRID2_ANCHORS = {"plain": NO_ANCHOR} | {
    f"{mode[:3]} {days:g}d w{weight:g}": {"level_mode": mode, "level_days": days, "level_weight": weight}
    for mode in ("additive", "ratio") for days in (0.5, 1.0, 2.0) for weight in (1.0, 0.5)
}


def grid(series: TrafficSeries, spec: dict = GRID, anchors: dict = GRID_ANCHORS) -> None:
    """One line per curve configuration: mean RMSE over both folds for each re-anchoring."""
    import itertools

    keys = list(spec)
    print("| " + " | ".join(keys) + " | " + " | ".join(f"{a} (A/B/mean)" for a in anchors) + " | fit s |")
    print("|" + "---|" * (len(keys) + len(anchors) + 1))
    for values in itertools.product(*spec.values()):
        curve = dict(zip(keys, values, strict=True))
        fits: dict = {}
        cells, fit_s = [], float("nan")
        for anchor in anchors.values():
            r, s = score(series, {**curve, **anchor}, fits)
            fit_s = s if np.isfinite(s) else fit_s
            cells.append(f"{r[0]:.2f}/{r[1]:.2f}/{np.mean(r):.2f}")
        print("| " + " | ".join(map(str, values)) + " | " + " | ".join(cells) + f" | {fit_s:.1f} |", flush=True)


def refit(series: TrafficSeries) -> None:
    """The chosen curve refitted at every day-ahead origin (no re-anchoring) against one fit re-anchored."""
    curve = {**CHOSEN, **NO_ANCHOR}
    print("| variant | fold A | fold B | mean | fit s per fold |")
    print("|---|---:|---:|---:|---:|")
    rows = {"refit at each midnight, plain curve": [], "one fit, re-anchored (chosen)": []}
    secs = {k: [] for k in rows}
    for train_end, test_end in FOLDS.values():
        m, n = split_series(series, train_end, test_end)
        y = target_values(series, "requests")[:n]
        origins, h, keep = protocol_origins("day-ahead", m, n, make_model("prophet").fit(
            TrafficSeries(series.frame.iloc[:m], series.interval, series.gaps)).grid_)
        err, t0 = [], time.perf_counter()
        for o, k in zip(origins, keep, strict=True):
            model = make_model("prophet", calibrate=False, **curve)
            model.fit(TrafficSeries(series.frame.iloc[:o], series.interval, series.gaps))
            mean = model.predict_paths(y, np.array([o]), h, level=None)["mean"][0, :k]
            err.append(y[o:o + k] - mean)
        secs["refit at each midnight, plain curve"].append(time.perf_counter() - t0)
        e = np.concatenate(err)
        rows["refit at each midnight, plain curve"].append(float(np.sqrt(np.nanmean(e**2))))
        t0 = time.perf_counter()
        model = make_model("prophet", calibrate=False, **CHOSEN)
        model.fit(TrafficSeries(series.frame.iloc[:m], series.interval, series.gaps))
        rows["one fit, re-anchored (chosen)"].append(day_ahead_rmse(model, y, m, n))
        secs["one fit, re-anchored (chosen)"].append(time.perf_counter() - t0)
    for label, r in rows.items():
        print(f"| {label} | {r[0]:.2f} | {r[1]:.2f} | {np.mean(r):.2f} | {np.mean(secs[label]):.1f} |", flush=True)


def calibration(series: TrafficSeries) -> None:
    """Coverage of the chosen model's intervals (day-ahead, one-shot), calibrated held out or on its own fit."""
    from core.forecast.backtest import backtest_protocols

    print("| fold | calibrated on | protocol, calibration | RMSE | coverage 80 / 95 | pinball 80 | fit s |")
    print("|---|---|---|---:|---:|---:|---:|")
    for fold, (train_end, test_end) in FOLDS.items():
        m, _ = split_series(series, train_end, test_end)
        train = TrafficSeries(series.frame.iloc[:m], series.interval, series.gaps)
        for held_out in (True, False):
            model = make_model("prophet")
            model.calibrate_on_own_fit = not held_out  # True (the default since): the last 14 days of its own fit
            t0 = time.perf_counter()
            model.fit(train)
            fit_s = time.perf_counter() - t0
            for protocol, cal in (("day-ahead", "fixed"), ("day-ahead", "adaptive"), ("one-shot", "fixed")):
                r = backtest_protocols(series, ["prophet"], train_end, test_end, (protocol,),
                                       fitted={"prophet": model}, calibration=cal)[protocol].results["prophet"]
                where = "held-out 14 d (refit)" if held_out else "last 14 d of its own fit"
                print(f"| {fold} | {where} | {protocol}, {cal} | {r['rmse']:.2f} | {r['coverage_80']:.1f} / "
                      f"{r['coverage_95']:.1f} | {r['pinball_80']:.2f} | {fit_s:.1f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    stages = ("curve", "grid", "grid2", "anchor", "refit", "calibration", "all")
    ap.add_argument("--stage", choices=stages, default="all")
    ap.add_argument("--only", type=int, nargs="*", help="indices of CURVES to run")
    args = ap.parse_args()
    series = load_nasa().resample("5min")
    if args.stage in ("grid", "grid2", "refit", "calibration"):
        {"grid": grid, "grid2": lambda s: grid(s, GRID2, GRID2_ANCHORS), "refit": refit,
         "calibration": calibration}[args.stage](series)
        return
    print("| configuration | fold A | fold B | mean | fit s |")
    print("|---|---:|---:|---:|---:|")

    def row(label, params, fits=None):
        r, s = score(series, params, fits)
        fit = "same fit" if np.isnan(s) else f"{s:.1f}"
        print(f"| {label} | {r[0]:.2f} | {r[1]:.2f} | {np.mean(r):.2f} | {fit} |", flush=True)

    if args.stage in ("curve", "all"):
        for i, (label, params) in enumerate(CURVES):
            if args.only is None or i in args.only:
                row(label, {**params, **NO_ANCHOR})
    if args.stage in ("anchor", "all"):
        fits: dict = {}
        curve = {k: v for k, v in CHOSEN.items() if k not in ANCHOR_KEYS}
        row("chosen curve, no re-anchoring", {**curve, **NO_ANCHOR}, fits)
        for mode in ("additive", "ratio"):
            for days in (0.25, 0.5, 1.0, 2.0, 3.0):
                for weight in (1.0, 0.75, 0.5):
                    row(f"chosen curve, {mode} re-anchoring over {days:g} d, weight {weight:g}",
                        {**curve, "level_mode": mode, "level_days": days, "level_weight": weight}, fits)


if __name__ == "__main__":
    main()
