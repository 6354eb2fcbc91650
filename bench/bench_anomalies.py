"""Anomaly detection: precision and recall on injected anomalies, and the marks on the traces as they are.

Known anomalies are injected at seeded random times into (a) the real NASA trace (read by ``core.ingest``,
resampled to 5 minutes; no event touches a gap) and (b) generated traces (``core.generators``: a trend, a
step change, a daily flash burst, each with a strong daily cycle):

- spikes: x3..x10 the traffic for 5..60 minutes;
- drops: to ~0 (x0.02) for 10..60 minutes;
- level shifts: x1.5..x3 for 2..5 hours.

Each detector runs with ``direction="both"`` (drops count); an event is found when a flagged period falls
inside it; precision is the share of flagged runs that overlap an event (on the real trace its own surges
count against precision: they are not labelled). Detectors:

- ``z raw``: the raw-level z-score the issue describes (trailing-day mean and standard deviation);
- ``z before``: this branch's starting point (median of the same time over 7 days x the last hour's level,
  one trailing-day standard deviation for every hour of the day);
- ``z seasonal``: ``core.anomalies`` now (residual from the expected level for that time, count-data scale
  times that time of day's dispersion);
- ``iforest before`` / ``iforest seasonal``: IsolationForest on the old features (with the raw level and
  the hour) and on the residual features; ``agreement seasonal``: both new methods.

Also: the marks the History chart draws (z-score runs, default ``direction="up"``) on the un-injected real
trace at 5 and 1 minutes.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_anomalies.py [--seeds 3] [--events 24] [--first-seed 4]
[--out bench/results/anomalies.md]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cpu_model, describe_gaps, load_nasa  # noqa: E402
from core import generators  # noqa: E402
from core.anomalies import AnomalyConfig, detect_anomalies  # noqa: E402
from core.series import TrafficSeries  # noqa: E402

KINDS = ("spike", "drop", "shift")
DETECTORS = ("z raw", "z before", "z seasonal", "iforest before", "iforest seasonal", "agreement seasonal")


def inject(series: TrafficSeries, n_events: int, seed: int) -> tuple[TrafficSeries, list[tuple[int, int, str]]]:
    """``n_events`` anomalies (kinds in turn) at random non-overlapping times after the first 8 days, none
    within 6 hours of a gap. Returns the new series and ``(first, end, kind)`` period ranges."""
    rng = np.random.default_rng(seed)
    step_min = series.interval / pd.Timedelta(minutes=1)
    spd = int(pd.Timedelta(days=1) / series.interval)
    gap = series.gap_mask()
    margin = int(6 * 60 / step_min)
    near_gap = np.convolve(gap.astype(int), np.ones(2 * margin + 1, dtype=int), mode="same") > 0
    taken = near_gap.copy()
    taken[: 8 * spd] = True
    y = series.frame["requests"].to_numpy(dtype=np.float64).copy()
    events = []
    for i in range(n_events):
        kind = KINDS[i % 3]
        if kind == "spike":
            minutes, factor = rng.uniform(5, 60), rng.uniform(3, 10)
        elif kind == "drop":
            minutes, factor = rng.uniform(10, 60), 0.02
        else:
            minutes, factor = rng.uniform(120, 300), rng.uniform(1.5, 3.0)
        length = max(1, int(round(minutes / step_min)))
        free = np.flatnonzero(~taken[: len(y) - length])
        for _ in range(1000):
            a = int(rng.choice(free))
            if not taken[a : a + length].any():
                break
        else:
            continue
        y[a : a + length] = np.round(y[a : a + length] * factor)
        taken[max(0, a - spd // 2) : a + length + spd // 2] = True  # half a day apart
        events.append((a, a + length, kind))
    frame = series.frame.copy()
    frame["requests"] = y
    return TrafficSeries(frame, series.interval, series.gaps), sorted(events)


# --- the detectors this branch started from (core/anomalies.py at f1317dc), kept here for comparison -------

def _trailing(v: pd.Series, n: int, how: str) -> pd.Series:
    return getattr(v.shift(1).rolling(n, min_periods=max(2, n // 4)), how)()


def _before_z(y: np.ndarray, spd: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    Y = pd.Series(y)
    lagged = np.column_stack([Y.shift(k * spd).to_numpy() for k in range(1, 8)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        profile = pd.Series(np.nanmedian(lagged, axis=1))
    level = _trailing(Y, window, "sum") / _trailing(profile.where(Y.notna()), window, "sum")
    base = profile * level
    resid = Y - base
    med = _trailing(resid, spd, "median")
    mad = 1.4826 * _trailing((resid - med).abs(), spd, "median")
    sd = _trailing(resid.clip(med - 4 * mad, med + 4 * mad), spd, "std")
    with np.errstate(invalid="ignore", divide="ignore"):
        return base.to_numpy(), (resid / sd.where(sd > 0)).to_numpy()


def _before_iforest(series: TrafficSeries, y: np.ndarray, base: np.ndarray, z: np.ndarray) -> np.ndarray:
    from sklearn.ensemble import IsolationForest

    idx = series.index
    tod = ((idx.hour * 60 + idx.minute) / 1440.0).to_numpy()
    prev = np.r_[np.nan, y[:-1]]
    feats = np.column_stack([np.nan_to_num(z), np.nan_to_num(y - base), np.nan_to_num(y - prev), np.nan_to_num(y),
                             np.cos(2 * np.pi * tod), np.sin(2 * np.pi * tod)])
    usable = np.isfinite(y) & np.isfinite(z)
    flag = np.zeros(len(y), dtype=bool)
    forest = IsolationForest(contamination=0.01, random_state=0, n_jobs=1).fit(feats[usable])
    flag[usable] = forest.predict(feats[usable]) == -1
    return flag


def _raw_z(y: np.ndarray, spd: int) -> np.ndarray:
    Y = pd.Series(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((Y - _trailing(Y, spd, "mean")) / _trailing(Y, spd, "std")).to_numpy()


def detect_all(series: TrafficSeries, direction: str) -> dict[str, np.ndarray]:
    """Flags of every detector (gap periods never flagged)."""
    spd = int(pd.Timedelta(days=1) / series.interval)
    y = series.frame["requests"].to_numpy(dtype=np.float64).copy()
    gap = series.gap_mask() | np.isnan(y)
    y[gap] = np.nan

    def sided(z):
        z = np.nan_to_num(z)
        return (z if direction == "up" else np.abs(z)) >= 3.0

    base, zb = _before_z(y, spd, max(2, spd // 24))
    rep = detect_anomalies(series, config=AnomalyConfig(direction=direction))
    out = {"z raw": sided(_raw_z(y, spd)), "z before": sided(zb), "z seasonal": rep.flags["zscore"],
           "iforest before": _before_iforest(series, y, base, zb), "iforest seasonal": rep.flags["iforest"],
           "agreement seasonal": rep.flags["agreement"]}
    return {k: v & ~gap for k, v in out.items()}


def runs(flag: np.ndarray) -> list[tuple[int, int]]:
    idx = np.flatnonzero(flag)
    if not idx.size:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    return [(int(idx[a]), int(idx[b]) + 1) for a, b in zip(np.r_[0, breaks + 1], np.r_[breaks, len(idx) - 1],
                                                         strict=True)]


def score(flag: np.ndarray, events: list[tuple[int, int, str]], after: int) -> dict:
    """Event recall (per kind); run precision, a run within ``after`` periods of an event's end counted as
    the detector's reaction to it (the return to normal after a shift is unusual for a level that has adapted)."""
    found = {k: [] for k in KINDS}
    for a, b, kind in events:
        found[kind].append(bool(flag[a:b].any()))
    label = np.zeros(len(flag), dtype=bool)
    for a, b, _ in events:
        label[a : b + after] = True
    rs = runs(flag)
    hits = sum(bool(label[a:b].any()) for a, b in rs)
    return {"found": found, "runs": len(rs), "hits": hits}


def traces(nasa5: TrafficSeries) -> dict[str, TrafficSeries]:
    kw = dict(days=28, interval="5min", amplitude=0.8)
    return {
        "NASA 5 min": nasa5,
        "trend (generated)": generators.trend(level=40, growth_per_day=0.02, seed=11, **kw),
        "step change (generated)": generators.step_change(level=40, factor=2.0, step_day=14, seed=12, **kw),
        "daily flash burst (generated)": generators.flash_bursts(level=40, burst_factor=4, seed=13, **kw),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="injection seeds per trace (default 3)")
    ap.add_argument("--first-seed", type=int, default=4,
                    help="first injection seed (default 4: seeds 0..3 were used to choose the design)")
    ap.add_argument("--events", type=int, default=24, help="events per trace and seed (default 24)")
    ap.add_argument("--out", default="bench/results/anomalies.md")
    args = ap.parse_args()
    t0 = time.perf_counter()
    nasa1 = load_nasa()
    nasa5 = nasa1.resample("5min")

    rows = []
    totals = {d: {"found": {k: [] for k in KINDS}, "runs": 0, "hits": 0} for d in DETECTORS}
    for name, s in traces(nasa5).items():
        per = {d: {"found": {k: [] for k in KINDS}, "runs": 0, "hits": 0} for d in DETECTORS}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            inj, events = inject(s, args.events if name.startswith("NASA") else args.events // 2, seed)
            flags = detect_all(inj, "both")
            for d in DETECTORS:
                sc = score(flags[d], events, int(pd.Timedelta(hours=2) / s.interval))
                for acc in (per[d], totals[d]):
                    for k in KINDS:
                        acc["found"][k] += sc["found"][k]
                    acc["runs"] += sc["runs"]
                    acc["hits"] += sc["hits"]
        rows += [(name, d, per[d]) for d in DETECTORS]
    rows += [("all traces", d, totals[d]) for d in DETECTORS]

    marks = {}
    for g, s in (("5 min", nasa5), ("1 min", nasa1)):
        flags = detect_all(s, "up")
        marks[g] = {d: len(runs(flags[d])) for d in ("z raw", "z before", "z seasonal")}
        marks[g]["periods"] = len(s)
        t = time.perf_counter()
        detect_anomalies(s)
        marks[g]["seconds"] = time.perf_counter() - t
        hours = s.index[flags["z seasonal"]].hour
        day = ((hours >= 8) & (hours < 18)).mean() if len(hours) else float("nan")
        hours_b = s.index[flags["z before"]].hour
        marks[g]["daytime"] = (day, ((hours_b >= 8) & (hours_b < 18)).mean())

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "core/anomalies.py", "bench/bench_anomalies.py"],
                           cwd=Path(__file__).resolve().parents[1]).returncode
    dirty = " + uncommitted edits" if dirty else ""
    lines = [
        "## Anomaly detection: precision and recall on injected anomalies",
        "",
        f"Command: `OMP_NUM_THREADS=1 .venv/bin/python bench/bench_anomalies.py --seeds {args.seeds} "
        f"--events {args.events} --first-seed {args.first_seed}` (run {pd.Timestamp.now(tz='UTC'):%Y-%m-%d %H:%M} "
        f"UTC, commit {commit}{dirty}; {time.perf_counter() - t0:.0f} s).",
        f"Machine: {cpu_model()}, 2 cores, shared.",
        f"Real trace: `requests_per_minute.csv.gz` through `core.ingest`, resampled to 5 min; gaps: "
        f"{describe_gaps(nasa5)}.",
        "",
        f"Injected at seeded random times after the first 8 days, half a day apart and at least 6 h from a gap: "
        f"{args.events} events per seed on NASA, {args.events // 2} on each 28-day generated trace, seeds "
        f"{args.first_seed}..{args.first_seed + args.seeds - 1}; kinds in turn: spikes x3..x10 for 5..60 min, drops to "
        "x0.02 for 10..60 min, "
        "level shifts x1.5..x3 for 2..5 h. All detectors with `direction=\"both\"`, threshold 3 sigmas, "
        "IsolationForest contamination 1%. Recall: events with at least one flagged period inside; precision: "
        "flagged runs overlapping an event or the 2 hours after it (on NASA, its own unlabelled surges count "
        "against it). The design (tail quantile 0.99 / 0.95 / 0.9 / median, level window 3 h or 1 day, "
        "IsolationForest features with or without the previous periods' z-scores) was chosen on seeds 0..3 "
        "(tail quantile 0.9 / 0.8 and a 14-day tail window also tried there); the table's seeds were not seen while "
        "choosing. The marks on the un-injected trace below were seen.",
        "",
        "| trace | detector | recall spikes | recall drops | recall shifts | recall | precision | F1 | runs |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, d, acc in rows:
        rec = {k: np.mean(v) if v else float("nan") for k, v in acc["found"].items()}
        allf = sum(acc["found"].values(), [])
        r = float(np.mean(allf))
        p = acc["hits"] / acc["runs"] if acc["runs"] else float("nan")
        f1 = 2 * p * r / (p + r) if p + r > 0 else 0.0
        bold = "**" if "seasonal" in d and d.startswith("z") else ""
        lines.append(f"| {name} | {bold}{d}{bold} | {rec['spike']:.2f} | {rec['drop']:.2f} | {rec['shift']:.2f} | "
                     f"{r:.2f} | {p:.2f} | {f1:.2f} | {acc['runs']} |")
    lines += [
        "",
        "Marks on the un-injected real trace (what History draws: z-score runs, default `direction=\"up\"`); the "
        "issue counted 354 at 5 min and 2,073 at 1 min on an earlier version, on almost every daily peak:",
        "",
        "| granularity | periods | z raw | z before | z seasonal (now) | share of now's / before's flagged periods "
        "in 08:00-18:00 | detect_anomalies time |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for g, m in marks.items():
        lines.append(f"| {g} | {m['periods']:,} | {m['z raw']:,} | {m['z before']:,} | {m['z seasonal']:,} | "
                     f"{m['daytime'][0]:.0%} / {m['daytime'][1]:.0%} | {m['seconds']:.1f} s |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
