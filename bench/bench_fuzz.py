"""The long fuzz run: tests/reliability/test_fuzz.py with many more, random examples.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_fuzz.py [--scale 20] [--runs 1]

Runs the CI fuzz tests (access-log parser on generated and raw lines, CSV and TXT readers) with
``TRAFFIC_FUZZ_SCALE`` times their CI examples and ``TRAFFIC_FUZZ_RANDOM=1`` (new inputs each run, no
example database), one pytest process per run, and prints a markdown table: examples, seconds, result.
A failure prints hypothesis's minimal failing example (pytest's output) and exits 1.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: CI examples per test (kept in step with the @fuzz(...) decorators of the test module).
CI_EXAMPLES = {"test_fuzz_log_parser": 700, "test_fuzz_log_parser_raw_bytes": 3000, "test_fuzz_csv_reader": 600,
               "test_fuzz_txt_reader": 1000}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=20)
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    env = dict(os.environ, TRAFFIC_FUZZ_SCALE=str(args.scale), TRAFFIC_FUZZ_RANDOM="1", OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    print(f"`bench/bench_fuzz.py --scale {args.scale:g} --runs {args.runs}` on {os.cpu_count()} cores ({cpu}), "
          f"Python {platform.python_version()}\n")
    print("| run | test | examples | seconds | result |")
    print("| --- | --- | ---: | ---: | --- |")
    failed = False
    for run in range(1, args.runs + 1):
        for test, base in CI_EXAMPLES.items():
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
                                f"tests/reliability/test_fuzz.py::{test}"], cwd=ROOT, env=env,
                               capture_output=True, text=True, check=False)
            dt = time.perf_counter() - t0
            ok = r.returncode == 0
            failed |= not ok
            summary = re.findall(r"\d+ (?:passed|failed)", r.stdout)
            print(f"| {run} | {test} | {int(base * args.scale):,} | {dt:.0f} | "
                  f"{'ok' if ok else 'FAILED'} ({', '.join(summary)}) |", flush=True)
            if not ok:
                print("\n```\n" + r.stdout[-6000:] + "\n```\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
