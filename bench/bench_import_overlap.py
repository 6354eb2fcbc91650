"""Experiment: would importing pandas beside the parse, instead of before it, shorten an ingest process?

Usage (after ``python -m core warmup`` built the ahead-of-time CLF kernel):
    OMP_NUM_THREADS=1 python bench/bench_import_overlap.py /tmp/nasa.log [--repeat 5]

A bare pipeline, not ingest (whose modules import pandas when they load): read 32 MB chunks, sha256 them in a
thread, parse each with the ahead-of-time CLF kernel on 2 threads; ``serial`` imports pandas first, ``beside``
imports it in a thread while the chunks are parsed. Each is a whole process; interleaved rounds, median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = r"""
import glob, hashlib, importlib.util, os, sys, threading
from concurrent.futures import ThreadPoolExecutor
import numpy as np
import core  # sets NUMBA_CACHE_DIR only (core.ingest would import pandas)
mode, log = sys.argv[1], sys.argv[2]
path = max(glob.glob(os.path.join(os.environ["NUMBA_CACHE_DIR"], "aot", "clf_*")), key=os.path.getmtime)
spec = importlib.util.spec_from_file_location(os.path.basename(path).split(".")[0], path)
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
thread = threading.Thread(target=__import__, args=("pandas",))
if mode == "serial":
    import pandas
else:
    thread.start()
h, lines, carry = hashlib.sha256(), 0, b""
with open(log, "rb") as f, ThreadPoolExecutor(2) as pool, ThreadPoolExecutor(1) as hasher:
    while True:
        block = f.read(32 << 20)
        data = carry + block
        cut = data.rfind(b"\n") + 1 if block else len(data)
        chunk, carry = data[:cut], data[cut:]
        hashed = hasher.submit(h.update, chunk)
        buf = np.frombuffer(chunk, dtype=np.uint8).copy()
        words = buf[: len(buf) // 8 * 8].view(np.uint64)
        mid = chunk.find(b"\n", len(chunk) // 2) + 1 or len(chunk)
        for r in pool.map(lambda ab: mod.parse_lines(buf, words, ab[0], ab[1], 5), ((0, mid), (mid, len(buf)))):
            lines += r[5]
        hashed.result()
        if not block:
            break
if thread.is_alive() or mode != "serial":
    thread.join()
import pandas
print(lines)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    res: dict[str, list[float]] = {"serial": [], "beside": []}
    for _ in range(args.repeat):
        for mode, times in res.items():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", PIPELINE, mode, str(args.log)], env=env, cwd=ROOT, check=True,
                           capture_output=True)
            times.append(time.perf_counter() - t0)
    sys.stdout.write("| pandas imported | whole process s |\n|---|---:|\n")
    for mode, v in res.items():
        sys.stdout.write(f"| {mode} | {statistics.median(v):.2f} ({min(v):.2f}..{max(v):.2f}) |\n")
    sys.stdout.write(f"load average {os.getloadavg()[0]:.1f}\n")


if __name__ == "__main__":
    main()
