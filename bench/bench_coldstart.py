"""What a user waits for in a fresh process: the CLI's start-up, numba's compile on an empty cache, the warm-up.

Usage:
    python ../shared/tools/make_nasa_log.py /tmp/nasa.log        # once: 3.46M lines, 384 MB
    OMP_NUM_THREADS=1 python bench/bench_coldstart.py --log /tmp/nasa.log [--repeat 3] [--before DIR] [--floor]

Every figure is a whole process (``python -m core ...``, wall clock from the parent), as a user sees it:
- the first ingest of the 10,000-line NASA sample and the first simulation (the built-in dataset, reactive
  policy, stored beforehand) with an empty numba cache (``NUMBA_CACHE_DIR`` a new empty folder), then the
  same after ``python -m core warmup`` filled that folder, and with the cache already warm;
- with ``--log``: ``python -m core ingest <full log> --data-dir <new folder>`` against the plain Python loop
  of ``bench_ingest.py`` (the issue's baseline), in interleaved rounds; the median is printed. This tree runs
  twice: as installed (the ahead-of-time CLF kernel that ``python -m core warmup`` builds, when there) and with
  ``TRAFFIC_CLF_KERNEL=jit`` (numba's kernel). One unmeasured ingest of a one-line log per tree first, so that
  every tree's numba cache is warm;
- with ``--minimal``: the least a process can do for the same dataset (``MINIMAL``, below: no pandas, no
  report, no gaps; the same sha256 ahead, AOT kernel, two parser threads and fold, a parquet written by pyarrow),
  in the same rounds: how far a pandas-free rewrite of the ingest could go;
- with ``--floor``: what a process pays before it parses (``python -c`` of the imports: pandas, pyarrow,
  numba and loading each CLF kernel), in the same rounds.

``--before DIR``: a folder holding another version's ``core/`` (``git archive HEAD~1 core | tar -x -C DIR``),
run in the same rounds (it has no ``warmup`` command; its cold and warm figures are measured alike).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TRAFFIC_SHARED_DIR", ROOT.parent / "shared"))
SAMPLE = SHARED / "data" / "nasa-1995" / "access_log_Jul95_first10k.gz"
PLAIN_LOOP = r"""
import re, sys
from collections import Counter
rx = re.compile(rb'\[(\d\d/\w{3}/\d{4}:\d\d:\d\d)')
counts = Counter()
with open(sys.argv[1], 'rb') as f:
    for line in f:
        m = rx.search(line)
        if m:
            counts[m.group(1)] += 1
print(sum(counts.values()))
"""


#: ``python -c`` programs: the imports and kernel loads a process pays before it parses (``--floor``).
FLOOR = {
    "`python -c pass`": "pass",
    "import numpy": "import numpy",
    "import pandas": "import pandas",
    "import pandas, pyarrow.parquet": "import pandas, pyarrow.parquet",
    "import pandas, pyarrow.parquet, numba": "import pandas, pyarrow.parquet, numba",
    "import pandas, pyarrow.parquet + load numba's CLF kernel (JIT, cached)":
        "import pandas, pyarrow.parquet; from core.ingest.apache import warm_up; warm_up(jit=True)",
    "import pandas, pyarrow.parquet + load the ahead-of-time CLF kernel":
        "import pandas, pyarrow.parquet; from core.ingest.apache import kernel, warm_up; "
        "assert kernel()[0] == 'aot'; warm_up()",
}


#: ``--minimal``: a throw-away ingest of a CLF log that skips all it can (pandas, the report, gaps, rejected-line
#: reasons, the atomic store): the sha256 ahead (``core.prehash``), numpy, the ahead-of-time kernel in two threads
#: over a ring of 32 MB buffers, the per-minute sums and distinct keys, pyarrow's parquet. It prints the dataset id,
#: requests and distinct hosts, which must equal the real ingest's (checked).
MINIMAL = r"""
import os, sys, types
import core                                   # the numba cache folder; nothing heavy
from core import prehash
path, out = sys.argv[1], sys.argv[2]
ahead = prehash.start([path])[0]
pkg = types.ModuleType("core.ingest")         # the kernel's modules without core/ingest/__init__ (pandas)
pkg.__path__ = [os.path.join(core.__path__[0], "ingest")]
sys.modules["core.ingest"] = pkg
import numpy as np
from concurrent.futures import ThreadPoolExecutor
from core.ingest import _clf_aot
parse_lines = _clf_aot.load()
assert parse_lines is not None, "run python -m core warmup first"
CH = 32 << 20
def uniq(a):
    a = np.sort(a, kind="stable")
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a
def work(buf, lo, hi):
    minute, _, status, size, hh = parse_lines(buf, buf[: len(buf) // 8 * 8].view(np.uint64), lo, hi, 5)[:5]
    m0 = int(minute.min()); rel = minute - m0
    cols = (np.bincount(rel), np.bincount(rel, weights=size), np.bincount(rel[(status >= 400) & (status < 500)]),
            np.bincount(rel[status >= 500]))
    bits = int(min(20, max(12, (len(hh) // 4).bit_length())))
    slot = ((hh * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)).astype(np.intp)
    table = np.zeros(1 << bits, dtype=np.uint64); table[slot] = hh
    hosts = np.concatenate([table[table != 0], hh[table[slot] != hh]])
    return m0, cols, uniq((minute << 32) | (hh & np.uint64(0xFFFFFFFF)).astype(np.int64)), hosts
pool, bufs, pending, parts = ThreadPoolExecutor(2), [np.empty(CH, dtype=np.uint8) for _ in range(3)], [], []
with open(path, "rb", buffering=0) as f:
    carry, i = 0, 0
    while True:
        buf, i = bufs[i % 3], i + 1
        while len(pending) >= 2:              # the buffer two chunks back is free once its parse is done
            parts += [fu.result() for fu in pending.pop(0)]
        n = f.readinto(memoryview(buf)[carry:]) or 0
        total = carry + n
        if total == 0:
            break
        end = total if n == 0 else int(np.flatnonzero(buf[:total] == 10)[-1]) + 1
        mid = end // 2 + int(np.flatnonzero(buf[end // 2:end] == 10)[0]) + 1
        pending.append([pool.submit(work, buf, 0, mid), pool.submit(work, buf, mid, end)])
        carry = total - end
        bufs[i % 3][:carry] = buf[end:total]
        if n == 0:
            break
    for p in pending:
        parts += [fu.result() for fu in p]
import pyarrow as pa, pyarrow.parquet as pq
lo = min(p[0] for p in parts); n = max(p[0] + len(p[1][0]) for p in parts) - lo
sums = [np.zeros(n) for _ in range(4)]
for m0, cols, _, _ in parts:
    for acc, c in zip(sums, cols):
        acc[m0 - lo : m0 - lo + len(c)] += c
pairs, hosts = uniq(np.concatenate([p[2] for p in parts])), uniq(np.concatenate([p[3] for p in parts]))
unique = np.bincount((pairs >> 32) - lo, minlength=n).astype(float)
ahead.done.wait()
os.makedirs(out, exist_ok=True)
stamps = pa.array(np.arange(lo, lo + n, dtype=np.int64) * 60_000_000_000, type=pa.timestamp("ns", tz="UTC"))
pq.write_table(pa.table({"requests": sums[0], "bytes": sums[1], "errors_4xx": sums[2], "errors_5xx": sums[3],
                         "unique_hosts": unique, "time": stamps}), os.path.join(out, "series.parquet"))
np.save(os.path.join(out, "hosts.npy"), pairs)
np.save(os.path.join(out, "host_ids.npy"), hosts)
print(ahead.digest[:16], int(sums[0].sum()), len(hosts))
sys.stdout.flush()
os._exit(0)
"""


#: One ``python -m core ingest``-like process timed from inside (``--phases``): the wall clock at the end of each
#: phase and the process's CPU seconds in it (all threads), as ``what|end s|CPU s`` lines. Like the CLI, it starts
#: hashing the log ahead (``core.prehash``) before its imports.
PHASES = r"""
import sys, tempfile, time
t0, c0 = time.perf_counter(), time.process_time()
from core import prehash
prehash.start([sys.argv[1]])  # as `python -m core ingest` does before its imports (core/cli/__init__.py)
marks = []
def mark(what):
    marks.append((what, time.perf_counter() - t0, time.process_time() - c0))
import numpy
mark("import numpy")
import pandas
mark("import pandas")
import core.cli.data, core.store
mark("import core.cli.data, core.store (the rest)")
from core.ingest import apache, logs
name = apache.kernel()[0]
mark(f"load the CLF kernel ({name})")
add, finish, ingest = logs.LogAggregator.add_chunk, logs.LogAggregator.finish, core.store.ingest
def add_chunk(self, buf, pool=None):
    add(self, buf, pool)
    if not any(m[0] == "first chunk parsed" for m in marks):
        mark("first chunk parsed")
def finish_(self):
    mark("every chunk read, hashed, parsed and folded")
    out = finish(self)
    mark("finish: the per-minute frame and host pairs")
    return out
def ingest_(*a, **k):
    out = ingest(*a, **k)
    mark("gaps and report (ingest returns)")
    return out
logs.LogAggregator.add_chunk, logs.LogAggregator.finish, core.store.ingest = add_chunk, finish_, ingest_
core.store.DatasetStore(tempfile.mkdtemp()).put(sys.argv[1])
mark("the store written (parquet, npy, json)")
for what, t, c in marks:
    print(f"{what}|{t:.3f}|{c:.3f}")
"""


#: CPU seconds (user + system, all threads) and standard output of the last process ``timed`` ran.
LAST_CPU = [0.0]
LAST_OUT = [""]


def timed(args: list[str], root: Path, cache: Path | None = None, **env_vars: str) -> float:
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1", **env_vars)
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = str(cache)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, *args], env=env, cwd=root, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    LAST_CPU[0] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    LAST_OUT[0] = done.stdout
    return wall


def cold_case(root: Path, tmp: Path, sim_store: Path, tag: str) -> dict[str, float]:
    """One round of the compile figures for the code in ``root``."""
    out = {}
    has_warmup = (root / "core" / "cli" / "warmup.py").exists()
    ingest = ["-m", "core", "ingest", str(SAMPLE), "--json"]
    sim = ["-m", "core", "simulate", "--data-dir", str(sim_store), "--policy", "reactive", "--json"]
    cache = Path(tempfile.mkdtemp(prefix=f"numba-{tag}-", dir=tmp))
    out["first ingest, empty cache"] = timed([*ingest, "--data-dir", str(tempfile.mkdtemp(dir=tmp))], root, cache)
    out["first simulation, empty cache (after that ingest)"] = timed(sim, root, cache)
    out["ingest, cache warm"] = timed([*ingest, "--data-dir", str(tempfile.mkdtemp(dir=tmp))], root, cache)
    out["simulation, cache warm"] = timed(sim, root, cache)
    cache = Path(tempfile.mkdtemp(prefix=f"numba-{tag}-", dir=tmp))
    out["simulation, empty cache"] = timed(sim, root, cache)
    if has_warmup:
        cache = Path(tempfile.mkdtemp(prefix=f"numba-{tag}-", dir=tmp))
        out["warmup, empty cache"] = timed(["-m", "core", "warmup"], root, cache)
        out["first ingest after the warmup"] = timed([*ingest, "--data-dir", str(tempfile.mkdtemp(dir=tmp))], root,
                                                     cache)
        out["first simulation after the warmup"] = timed(sim, root, cache)
        out["warmup again, cache warm"] = timed(["-m", "core", "warmup"], root, cache)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", type=Path, default=None, help="the full generated NASA log (whole-process ingest)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", type=Path, default=None)
    ap.add_argument("--skip-cold", action="store_true", help="only the whole-process ingest of --log")
    ap.add_argument("--floor", action="store_true", help="also the imports and kernel loads, one process each")
    ap.add_argument("--phases", action="store_true", help="also where the time of one ingest of --log goes")
    ap.add_argument("--minimal", action="store_true", help="also the pandas-free floor prototype (MINIMAL)")
    args = ap.parse_args()
    roots = {"now": ROOT} | ({"before": args.before} if args.before else {})
    # This tree with numba's CLF kernel too (the ahead-of-time one is used when the warm-up built it).
    ingests = {tag: (root, {}) for tag, root in roots.items()} | {"now, TRAFFIC_CLF_KERNEL=jit": (ROOT, {
        "TRAFFIC_CLF_KERNEL": "jit"})}
    res: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}  # CPU seconds (user + system, all threads) of the whole-process rows
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="coldstart-") as d:
        tmp = Path(d)
        sim_store = tmp / "sim-store"
        timed(["-m", "core", "simulate", "--data-dir", str(sim_store), "--policy", "reactive", "--json"], ROOT)
        if args.log:  # unmeasured: every tree's numba cache warm before the rounds
            one = tmp / "one.log"
            one.write_bytes(b'h - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5\n')
            for root, env in ingests.values():
                timed(["-m", "core", "ingest", str(one), "--data-dir", tempfile.mkdtemp(dir=tmp), "--json"], root,
                      **env)
        for _ in range(args.repeat):
            for tag, root in roots.items():
                if not args.skip_cold:
                    for k, v in cold_case(root, tmp, sim_store, tag).items():
                        res.setdefault(f"{k} ({tag})", []).append(v)
            if args.log:
                for tag, (root, env) in ingests.items():
                    store = Path(tempfile.mkdtemp(dir=tmp))
                    row = f"`python -m core ingest` full log, whole process ({tag})"
                    res.setdefault(row, []).append(
                        timed(["-m", "core", "ingest", str(args.log), "--data-dir", str(store), "--json"], root,
                              **env))
                    cpu.setdefault(row, []).append(LAST_CPU[0])
                    report = json.loads(LAST_OUT[0])
                    shutil.rmtree(store, ignore_errors=True)
                row = "plain Python loop, whole process"
                res.setdefault(row, []).append(timed(["-c", PLAIN_LOOP, str(args.log)], ROOT))
                cpu.setdefault(row, []).append(LAST_CPU[0])
                if args.minimal:
                    row = "pandas-free floor prototype (`MINIMAL`), whole process"
                    res.setdefault(row, []).append(timed(["-c", MINIMAL, str(args.log), str(tmp / "minimal")], ROOT))
                    cpu.setdefault(row, []).append(LAST_CPU[0])
                    got = LAST_OUT[0].split()
                    want = [report["dataset_id"], str(int(report["requests_total"])), str(report["unique_hosts_total"])]
                    if got != want:
                        raise SystemExit(f"the prototype's dataset differs from the ingest's: {got} != {want}")
            if args.floor:
                for k, code in FLOOR.items():
                    res.setdefault(f"{k} (floor)", []).append(timed(["-c", code], ROOT))
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"median of {args.repeat} interleaved rounds (min..max)\n")
    print("| what (whole process) | s |\n|---|---:|")
    for k, v in res.items():
        print(f"| {k} | {statistics.median(v):.2f} ({min(v):.2f}..{max(v):.2f}) |")
    if cpu:
        print("\n| whole process | CPU s (user + system, all threads) |\n|---|---:|")
        for k, v in cpu.items():
            print(f"| {k} | {statistics.median(v):.2f} ({min(v):.2f}..{max(v):.2f}) |")
    loop = res.get("plain Python loop, whole process")
    if loop:
        for tag in ingests:
            ours = res[f"`python -m core ingest` full log, whole process ({tag})"]
            ratio = statistics.median(ours) / statistics.median(loop)
            print(f"\nwhole-process ingest / plain loop ({tag}): {ratio:.2f}x "
                  "(goal <= 0.25x)")
        if args.minimal:
            ratio = statistics.median(res["pandas-free floor prototype (`MINIMAL`), whole process"]) / \
                statistics.median(loop)
            print(f"\nthe floor prototype / plain loop: {ratio:.2f}x (same dataset id, requests and hosts)")
    if args.phases and args.log:
        _phases(args.log, args.repeat)
    print(f"load average at the start {load_start:.1f}, at the end {os.getloadavg()[0]:.1f} "
          f"(on {os.cpu_count()} cores)")


def _phases(log: Path, repeat: int) -> None:
    """Where one ingest process's time goes, phase by phase (median over ``repeat`` processes)."""
    runs: dict[str, list[tuple[float, float]]] = {}
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", PHASES, str(log)], env=env, cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            what, t, c = line.split("|")
            runs.setdefault(what, []).append((float(t), float(c)))
    print(f"\none ingest of {log.name}, from inside the process (median of {repeat}):\n")
    print("| phase | ends at s | wall s | CPU s (all threads) |\n|---|---:|---:|---:|")
    prev_t = prev_c = 0.0
    for what, v in runs.items():
        t, c = statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)
        print(f"| {what} | {t:.2f} | {t - prev_t:.2f} | {c - prev_c:.2f} |")
        prev_t, prev_c = t, c


if __name__ == "__main__":
    main()
