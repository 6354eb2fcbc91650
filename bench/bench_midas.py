"""Mixed-frequency (MIDAS) one-step correction of Fourier+ARMA at 15 / 5 min with the last minutes' counts.

The one-step forecast of a G-minute period t may read everything before t, including the per-minute counts
inside period t - 1. This script fits ``fourier_arma`` (defaults) on the G-minute training series, takes its
one-step forecasts ``f`` (the same as ``core.forecast.backtest``'s: checked against ``backtest_protocols``),
and corrects them with features of the minutes before t, through an OLS (no intercept unless ``+c``) of the
error ``y - f`` on the features over the last ``win`` training days (in-sample one-step errors). The
coefficients are then frozen and applied in the test window (no refit).

The design kept (chosen on val-jul and val-aug only, see bench/results/onestep.md), ``ew1_1`` with 14 days:

    x_t = G * EWmean(the G one-minute counts before t, half-life 1 min) - (their sum),  f'_t = max(f_t + b x_t, 0)

(x = 0 when one of those minutes is missing.)

Usage (one heavy job at a time on the shared machine; ~20 s a split):

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/bench_midas.py \\
        --splits val-jul,val-aug --grid          # every variant tried, on the validation windows
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python bench/bench_midas.py \\
        --splits week-earlier,standard           # the kept design only
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.bench_onestep import SPLITS  # noqa: E402
from bench.common import load_nasa  # noqa: E402
from core.forecast.backtest import backtest_protocols, split_series  # noqa: E402
from core.forecast.base import make_model, target_values  # noqa: E402
from core.series import TrafficSeries  # noqa: E402

KEPT = ("ew1_1", 14)  # (variant, training days of the correction)
HISTORY_DAYS = 21  # one-step forecasts kept before the test window (the correction's training errors)


def _fit(series: TrafficSeries, m: int):
    model = make_model("fourier_arma", calibrate=False)  # intervals are not used; the mean is the same
    return model.fit(TrafficSeries(series.frame.iloc[:m], series.interval, series.gaps))


def split_data(series: dict, split: str, G: int) -> dict:
    """One-step forecasts of the G-minute model around the test window, and the finer data before each origin.

    Keys: ``origins`` (G-minute positions: the last ``HISTORY_DAYS`` of training, then the test window), ``y``,
    ``f`` (one-step forecasts), ``m`` (first test position); per finer granularity F (1, and 5 when G = 15):
    ``prevF`` (the G/F counts of period t - 1, oldest first), ``fprevF`` (the F-minute model's one-step
    forecasts of them) and ``aF`` (the F-minute model's G/F-step forecast from t, summed).
    """
    train_end, test_end = SPLITS[split]
    s = series[G]
    m, n = split_series(s, train_end, test_end)
    y = target_values(s, "requests")[:n]
    model = _fit(s, m)
    origins = np.arange(max(1440 // G, m - HISTORY_DAYS * 1440 // G), n)
    f = model.predict_paths(y, origins, 1, level=None)["mean"][:, 0]
    # Like for like: the forecasts in the test window are the backtest's.
    ref = backtest_protocols(s, ["fourier_arma"], train_end, test_end, ["one-step"])["one-step"]
    te = (origins >= m) & np.isfinite(y[origins])
    rmse = float(np.sqrt(np.mean((y[origins][te] - f[te]) ** 2)))
    assert abs(rmse - ref.results["fourier_arma"]["rmse"]) < 1e-6, (rmse, ref.results["fourier_arma"]["rmse"])
    out = {"origins": origins, "y": y[origins], "f": f, "m": m}
    for F in (1, 5):
        if F >= G:
            continue
        sf = series[F]
        mf, _ = split_series(sf, train_end, test_end)
        fine = _fit(sf, mf)
        nf = sf.index.get_indexer([s.index[n - 1] + s.interval - sf.interval])[0] + 1
        yf = target_values(sf, "requests")[:nf]
        pos = sf.index.get_indexer(s.index[origins])  # the first minute of period t
        k = G // F
        assert (pos - k >= 1).all()
        out[f"a{F}"] = fine.predict_paths(yf, pos, k, level=None)["mean"].sum(axis=1)
        out[f"prev{F}"] = np.stack([yf[pos - k + j] for j in range(k)], axis=1)
        out[f"fprev{F}"] = np.stack([fine.predict_paths(yf, pos - k + j, 1, level=None)["mean"][:, 0]
                                     for j in range(k)], axis=1)
    return out


def late_rate(prev: np.ndarray, halflife: float) -> np.ndarray:
    """k * (exponentially weighted mean of the k sub-period counts, the latest weighing most) - their sum."""
    k = prev.shape[1]
    w = 0.5 ** (np.arange(k)[::-1] / halflife)
    return (prev * (w / w.sum())).sum(axis=1) * k - prev.sum(axis=1)


def features(d: dict, G: int) -> dict:
    """Every candidate feature (raw scale, requests per G-minute period); missing data gives 0."""
    feats = {}
    for F in (1, 5):
        if f"a{F}" not in d:
            continue
        k = G // F
        prev, fprev = d[f"prev{F}"], d[f"fprev{F}"]
        tot = prev.sum(axis=1)
        r = prev - fprev
        feats[f"d{F}"] = d[f"a{F}"] - d["f"]  # the F-minute model's aggregated forecast minus the G model's
        feats[f"eflast{F}"] = r[:, -1] * k  # the F-minute model's last one-step error
        feats[f"efmean{F}"] = r.sum(axis=1)
        feats[f"late{F}"] = prev[:, -1] * k - tot  # the last F minutes' rate minus the period's
        feats[f"late{F}r"] = r[:, -1] * k - r.sum(axis=1)  # the same on the F-minute model's errors
        for N in (2, 3, 5):
            if N < k:
                feats[f"late{F}_{N}"] = prev[:, -N:].mean(axis=1) * k - tot
        for hl in (0.5, 1, 2, 4):
            feats[f"ew{F}_{hl:g}"] = late_rate(prev, hl)
        for j in range(1, k):
            feats[f"dev{F}_{j}"] = prev[:, -j] * k - tot
    return {key: np.where(np.isfinite(v), v, 0.0) for key, v in feats.items()}


VARIANTS = {
    "d1": ["d1"], "d5": ["d5"], "d1+d5": ["d1", "d5"],
    "eflast1": ["eflast1"], "eflast5": ["eflast5"], "efmean1+eflast1": ["efmean1", "eflast1"],
    "late1": ["late1"], "late5": ["late5"], "late1r": ["late1r"],
    "late1_2": ["late1_2"], "late1_3": ["late1_3"], "late1_5": ["late1_5"],
    "ew1_0.5": ["ew1_0.5"], "ew1_1": ["ew1_1"], "ew1_2": ["ew1_2"], "ew1_4": ["ew1_4"],
    "d1+late1": ["d1", "late1"], "late1+d5": ["late1", "d5"], "late1+late5": ["late1", "late5"],
    "ew1_1+d5": ["ew1_1", "d5"], "ew1_2+d5": ["ew1_2", "d5"], "ew1_1+d1": ["ew1_1", "d1"],
    "ew1_0.5+ew1_4": ["ew1_0.5", "ew1_4"], "ew1_1+late5": ["ew1_1", "late5"],
    "dev1_1..4": [f"dev1_{j}" for j in range(1, 5)], "dev1_all": [f"dev1_{j}" for j in range(1, 15)],
}


def corrected(d: dict, G: int, cols: list, win: float, intercept: bool = False):
    """(test RMSE, coefficients) of f + X b, b fitted on the last ``win`` training days."""
    o, y, f, m = d["origins"], d["y"], d["f"], int(d["m"])
    feats = features(d, G)
    X = np.column_stack([feats[c] for c in cols])
    if intercept:
        X = np.column_stack([np.ones(len(o)), X])
    tr = (o < m) & (o >= m - win * 1440 // G) & np.isfinite(y)
    b, *_ = np.linalg.lstsq(X[tr], (y - f)[tr], rcond=None)
    fc = np.maximum(f + X @ b, 0.0)
    te = (o >= m) & np.isfinite(y)
    return float(np.sqrt(np.mean((y[te] - fc[te]) ** 2))), b


def corrected_sqrt(d: dict, G: int, halflife: float, win: float):
    """The ``ew1`` feature on the sqrt scale: sqrt(f') = sqrt(f) + b (sqrt(G * EW) - sqrt(sum))."""
    o, y, f, m, prev = d["origins"], d["y"], d["f"], int(d["m"]), d["prev1"]
    k = prev.shape[1]
    w = 0.5 ** (np.arange(k)[::-1] / halflife)
    ew = (prev * (w / w.sum())).sum(axis=1) * k
    x = np.sqrt(np.maximum(ew, 0)) - np.sqrt(np.maximum(prev.sum(axis=1), 0))
    x = np.where(np.isfinite(x), x, 0.0)
    tr = (o < m) & (o >= m - win * 1440 // G) & np.isfinite(y)
    ez = np.sqrt(y) - np.sqrt(f)
    b = float(np.dot(x[tr], ez[tr]) / np.dot(x[tr], x[tr]))
    fc = np.maximum(np.sqrt(f) + b * x, 0) ** 2
    te = (o >= m) & np.isfinite(y)
    return float(np.sqrt(np.mean((y[te] - fc[te]) ** 2))), np.array([b])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--splits", default="val-jul,val-aug")
    ap.add_argument("--granularities", default="15,5")
    ap.add_argument("--grid", action="store_true", help="every variant tried (choose on validation splits only)")
    ap.add_argument("--shared", default=None)
    args = ap.parse_args(argv)
    s1 = load_nasa(args.shared)
    series = {1: s1, 5: s1.resample("5min"), 15: s1.resample("15min")}
    splits = args.splits.split(",")
    grans = [int(g) for g in args.granularities.split(",")]
    data = {(G, sp): split_data(series, sp, G) for G in grans for sp in splits}
    cols = list(data)
    base = {c: float(np.sqrt(np.mean((d["y"][t] - d["f"][t]) ** 2)))
            for c, d in data.items() for t in [(d["origins"] >= d["m"]) & np.isfinite(d["y"])]}
    print(f"One-step RMSE, Fourier+ARMA (base) and corrected; OLS on the last `win` training days. "
          f"'helps': better on every split listed, at {'/'.join(map(str, grans))} min.")
    print("| variant | win (days) | " + " | ".join(f"{G} min {sp}" for G, sp in cols) + " | helps | b |")
    print("|---|---:|" + "---:|" * len(cols) + "---|---|")
    print("| base | | " + " | ".join(f"{base[c]:.3f}" for c in cols) + " | | |")
    runs = []
    if args.grid:
        for name, fcols in VARIANTS.items():
            for icpt in (False, True):
                for win in (7, 14, 21):
                    runs.append((name + ("+c" if icpt else ""), win,
                                 lambda d, G, fc=fcols, w=win, i=icpt: corrected(
                                     d, G, [c for c in fc if c in features(d, G)], w, i)
                                 if any(c in features(d, G) for c in fc) else None))
        for hl in (0.5, 1, 2):
            for win in (7, 14, 21):
                runs.append((f"sqrt-ew1_{hl:g}", win, lambda d, G, h=hl, w=win: corrected_sqrt(d, G, h, w)))
    else:
        runs.append((KEPT[0], KEPT[1], lambda d, G: corrected(d, G, [KEPT[0]], KEPT[1])))
    for name, win, fn in runs:
        res = {c: fn(data[c], c[0]) for c in cols}
        cells = [f"{res[c][0]:.3f}" if res[c] else "-" for c in cols]
        helps = "/".join("Y" if all(res[c] and res[c][0] < base[c] for c in cols if c[0] == G) else "n"
                         for G in grans)
        coef = "; ".join(",".join(f"{v:.3f}" for v in res[c][1]) for c in cols if res[c])
        print(f"| {name} | {win} | " + " | ".join(cells) + f" | {helps} | {coef} |", flush=True)


if __name__ == "__main__":
    main()
