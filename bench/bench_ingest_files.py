"""Many files, one dataset: the full NASA log split into daily files against the single file, in one run.

Usage:
    python ../shared/tools/make_nasa_log.py /tmp/nasa.log        # once: 3.46M lines, 384 MB
    OMP_NUM_THREADS=1 python bench/bench_ingest_files.py /tmp/nasa.log [--repeat 5]

The splits are written next to the log (``<log>.files/``, once) from its own lines:
- ``58 daily``: one file per day that has lines (07-01..07-28, 08-01, 08-03..08-31), uncompressed;
- ``58 daily, every third gzipped``: the same files, every third gzipped (level 1);
- ``30 parts``: the whole log in 30 files of consecutive days (the 58 days dealt out in order, 1-2 days each);
- ``30 daily (first 30 days)`` against ``single (first 30 days)``: 30 one-day files and their concatenation.

Each ingest runs in its own subprocess; the rounds are interleaved (every stage once per round) so
that the machine's noise hits all stages alike, and the median over the rounds is printed. "ingest s"
is ``core.ingest.ingest(paths)`` after the imports and a first call on a one-line log (numba's load);
"process s" is the whole subprocess (what ``/usr/bin/time python -c ...`` shows).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_DAY = re.compile(rb"\[(\d\d/\w{3}/\d{4})")

RUNNER = """
import json, resource, sys, time, tempfile
from core.ingest import ingest
paths = json.loads(sys.argv[1])
with tempfile.TemporaryDirectory() as d:
    p = d + '/one.log'
    open(p, 'wb').write(b'h - - [01/Jul/1995:00:00:01 -0400] "GET / HTTP/1.0" 200 5\\n')
    ingest(p)
t0 = time.perf_counter()
r = ingest(paths if len(paths) > 1 else paths[0])
dt = time.perf_counter() - t0
print(json.dumps({'seconds': dt, 'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  'requests': float(r.series.requests.sum()), 'files': len(r.report.files), 'digest': r.digest}))
"""


def split(log: Path, out: Path) -> dict[str, list[Path]]:
    """Write the splits once (``out/done`` marks a complete set); returns stage name -> paths."""
    days_dir, gz_dir, parts_dir, first_dir = (out / n for n in ("days", "days_gz", "parts30", "first30"))
    if not (out / "done").exists():
        for d in (days_dir, gz_dir, parts_dir, first_dir):
            d.mkdir(parents=True, exist_ok=True)
        by_day: dict[bytes, list[bytes]] = {}
        day = b"?"
        with open(log, "rb") as f:
            for line in f:
                m = _DAY.search(line)
                day = m.group(1) if m else day  # a junk line stays with the day before it
                by_day.setdefault(day, []).append(line)
        days = list(by_day)  # in file order
        for k, d in enumerate(days):
            data = b"".join(by_day[d])
            (days_dir / f"access-{k:02d}.log").write_bytes(data)
            if k % 3 == 0:
                (gz_dir / f"access-{k:02d}.log.gz").write_bytes(gzip.compress(data, compresslevel=1))
            else:
                (gz_dir / f"access-{k:02d}.log").write_bytes(data)
        groups: dict[int, list[bytes]] = {}
        for k, d in enumerate(days):
            groups.setdefault(k * 30 // len(days), []).extend(by_day[d])
        for g, lines in groups.items():
            (parts_dir / f"access-{g:02d}.log").write_bytes(b"".join(lines))
        for k, d in enumerate(days[:30]):
            (first_dir / f"access-{k:02d}.log").write_bytes(b"".join(by_day[d]))
        (out / "first30.log").write_bytes(b"".join(line for d in days[:30] for line in by_day[d]))
        (out / "done").write_text("ok\n")
    return {
        "single (whole log)": [log],
        "58 daily": sorted(days_dir.iterdir()),
        "58 daily, every third gzipped": sorted(gz_dir.iterdir()),
        "30 parts (whole log)": sorted(parts_dir.iterdir()),
        "single (first 30 days)": [out / "first30.log"],
        "30 daily (first 30 days)": sorted(first_dir.iterdir()),
    }


def run(paths: list[Path], root: Path = ROOT) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RUNNER, json.dumps([str(p) for p in paths])], capture_output=True,
                         text=True, env=env, cwd=root, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r["process"] = time.perf_counter() - t0
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log", type=Path)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default=None, help="comma-separated substrings of the stages to run")
    ap.add_argument("--before", type=Path, default=None,
                    help="a folder holding another version's core/ (e.g. `git archive HEAD~1 core | tar -x -C DIR`): "
                         "its many-file stages run in the same rounds, marked 'before'")
    args = ap.parse_args()
    stages = {k: (v, ROOT) for k, v in split(args.log, Path(str(args.log) + ".files")).items()}
    if args.only:
        keys = args.only.split(",")
        stages = {k: v for k, v in stages.items() if any(s in k for s in keys)}
    if args.before:
        stages.update({f"{k}, before": (v, args.before) for k, (v, _) in list(stages.items()) if "single" not in k})
    run(*stages[next(iter(stages))])  # page cache and numba's disk cache warm for every stage
    if args.before:
        run(*next(v for k, v in stages.items() if "before" in k))
    res: dict[str, list[dict]] = {k: [] for k in stages}
    for _ in range(args.repeat):
        for name, (paths, root) in stages.items():
            res[name].append(run(paths, root))
    med = {k: {f: statistics.median(r[f] for r in v) for f in ("seconds", "process", "rss_mb")} for k, v in res.items()}
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.log}; median of {args.repeat} interleaved rounds\n")
    print("| input | files | ingest s (median) | min..max | process s | peak RSS MB | requests | vs its single file |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, runs in res.items():
        now = name.removesuffix(", before")
        if runs[0]["digest"] != res[now][0]["digest"] or runs[0]["requests"] != res[now][0]["requests"]:
            print(f"!! {name}: another dataset than {now}'s")
        single = "single (first 30 days)" if "first 30" in name else "single (whole log)"
        ratio = med[name]["seconds"] / med[single]["seconds"] if single in med else float("nan")
        secs = [r["seconds"] for r in runs]
        print(f"| {name} | {runs[0]['files']} | {med[name]['seconds']:.2f} | {min(secs):.2f}..{max(secs):.2f} "
              f"| {med[name]['process']:.2f} | {med[name]['rss_mb']:.0f} | {runs[0]['requests']:,.0f} | "
              f"{ratio:.2f}x |")
    print(f"\ngoal (issue #17 item 4): 30 daily files within 1.3x the single file; "
          f"load average at the end: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
