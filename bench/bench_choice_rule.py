"""The walk-forward choice rule: the SLA on every selection fold against the SLA on average (issue #13).

For each trace the candidates are tuned and scored once (``evaluate``); then each rule picks the cheapest
candidate (as a multiple of the oracle) that it accepts on the selection folds, and the pick is scored on the
final fold, which neither rule saw. The traces are generated ones (3 seeds of 4 shapes) and NASA with its final
fold *before* the test week (08-09 and 08-16): the rule was chosen on these, never on 08-23 .. 08-31.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_choice_rule.py [--no-nasa]`` (about 30 s).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import cpu_model, load_nasa  # noqa: E402
from core import generators as G  # noqa: E402
from core.scaling.walkforward import TUNE_LEVELS, evaluate  # noqa: E402

RULES = {
    "every fold (core today)": lambda over, s: max(over) <= s,
    "on average, each fold within 1 point (before)": lambda over, s: np.mean(over) <= s and max(over) <= s + 1,
}


def cases(nasa: bool):
    if nasa:
        n = load_nasa().resample("5min")
        yield "NASA 5 min, final 08-09 .. 08-16", n, {"test_start": "1995-08-09"}
        yield "NASA 5 min, final 08-16 .. 08-23", n, {"test_start": "1995-08-16"}
    for seed in (1, 5, 9):
        yield f"flash bursts, seed {seed}", G.flash_bursts(days=35, seed=seed), {}
        yield f"step x2.5, seed {seed + 1}", G.step_change(days=35, step_day=24, seed=seed + 1), {}
        yield f"trend, seed {seed + 2}", G.trend(days=35, seed=seed + 2), {}
        yield f"short history, seed {seed + 3}", G.short_history(days=6, seed=seed + 3), {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sla", type=float, default=1.0)
    ap.add_argument("--no-nasa", action="store_true")
    args = ap.parse_args()
    sla = args.sla
    print(f"# The walk-forward choice rule (SLA {sla:g}%)\n\nmachine: {cpu_model()}\n")
    print("| trace | rule | chosen | selection folds (max / mean) | final fold overloaded | final x oracle |")
    print("| --- | --- | --- | --- | --- | --- |")
    misses = {r: 0 for r in RULES}
    cost = {r: [] for r in RULES}
    n = 0
    for name, s, kw in cases(not args.no_nasa):
        ev = evaluate(s, levels=(*TUNE_LEVELS, sla), forecaster="auto", **kw)
        sel = [f for f in ev.folds if f.fold.role == "selection"]
        fin = ev.folds[-1]
        n += 1
        for rule, ok in RULES.items():
            score = {}
            for c in fin.candidates:
                over = [f.candidates[c].held_out.overloaded_pct for f in sel]
                score[c] = (over, np.mean([f.candidates[c].held_out.cost / f.oracle_cost for f in sel]))
            held = [c for c in score if ok(score[c][0], sla)]
            if not held:
                print(f"| {name} | {rule} | none | | | |")
                continue
            c = min(held, key=lambda c: score[c][1])
            t = fin.candidates[c].held_out
            misses[rule] += t.overloaded_pct > sla
            cost[rule].append(t.cost / fin.oracle_cost)
            print(f"| {name} | {rule} | {c} | {max(score[c][0]):.2f}% / {np.mean(score[c][0]):.2f}% | "
                  f"{t.overloaded_pct:.2f}% | {t.cost / fin.oracle_cost:.3f} |", flush=True)
    print()
    for rule in RULES:
        print(f"- {rule}: final fold over {sla:g}% in {misses[rule]} of {n} traces; mean cost "
              f"{np.mean(cost[rule]):.3f}x the oracle")


if __name__ == "__main__":
    main()
