"""The field-splitting kernel (``core/ingest/_fields_kernel.py``) against an older tree: outputs and speed.

Usage:
    mkdir -p /tmp/fields/base && git archive HEAD~1 core | tar -x -C /tmp/fields/base
    OMP_NUM_THREADS=1 .venv/bin/python bench/bench_fields_kernel.py --base /tmp/fields/base
        [--start 1995-07-01 --end 1995-07-15] [--rounds 7] [--junk 0.09]

Generates the NASA-like CLF log for the days given (no junk), writes its requests as each field-based
format (``tests/core/ingest/logwriters.py``), and a copy of each with junk lines (``--junk``: the share of
lines followed by an empty, truncated, binary, quote-broken or ``#`` line, a ``\\r`` copy or a stray quote).
Then, per file: records the kernel calls the format's parser makes on 32 MB chunks, checks that the old and
the new kernel return the same arrays byte for byte, and times each kernel function (one thread), old and
new interleaved; per clean file also the whole ``python -m core ingest`` in a fresh process, old and new
interleaved, after checking that both store the same dataset (report and files, times left out). Both trees
use a numba cache folder of their own under the temporary folder. Prints medians and the per-round new/old
ratios.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_ingest_formats import _chunks  # noqa: E402
from bench.common import shared_dir  # noqa: E402

KERNELS = ("count_newlines", "split_fields", "fnv_spans")
JUNK = [b"", b"\r", b"garbage", b'"unterminated quote and more', b'a "b\\" c" d', b"\t\t\t", b"   ", b"x" * 300,
        b'"', b"\\", b"# comment", b"{not json", b'{"status": "x"}', b"\x00\xff\xfe bin", b"2024-01-01T00:00:00Z only",
        b'http 2024 "q\\"', b"a b c d e f g h i j k l m n o p q r s t u v w x y"]


def with_junk(data: bytes, share: float, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    out = []
    for n, ln in enumerate(data.split(b"\n")[:-1]):
        r = rng.random() / share if share > 0 else 2.0
        if r < 5 / 9:
            j = rng.choice(JUNK)
            out.append(b"junk" if n < 20000 and b"\x00" in j else j)  # binary junk past the format detection sample
        elif r < 7 / 9 and len(ln) > 5:
            out.append(ln[: rng.randrange(1, len(ln))])
        elif r < 8 / 9:
            out.append(ln + b"\r")
        elif r < 1:
            k = rng.randrange(len(ln) + 1)
            out.append(ln[:k] + b'"' + ln[k:])
        out.append(ln)
    return b"\n".join(out) + b"\n"


def _same(a, b) -> bool:
    import numpy as np

    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    return type(a) is type(b) and a == b


def _ratios(old: list[float], new: list[float]) -> str:
    r = [b / a for a, b in zip(old, new, strict=True)]
    return (f"old {statistics.median(old):.4f} s, new {statistics.median(new):.4f} s, new/old median "
            f"{statistics.median(r):.2f} (rounds {' '.join(f'{x:.2f}' for x in r)})")


def kernels(fmt: str, data: bytes, old, rounds: int) -> None:
    """Record the kernel calls of ``fmt``'s parser, compare old and new outputs, time each kernel."""
    import core.ingest._fields_kernel as new
    from core.ingest.formats import log_parser

    calls = []
    orig = {k: getattr(new, k) for k in KERNELS}

    def recorder(k):
        def f(*a):
            calls.append((k, a))
            return orig[k](*a)
        return f

    for k in KERNELS:
        setattr(new, k, recorder(k))
    try:
        parse, _ = log_parser(fmt, data[:65536], {"fields": {}, "name": fmt})
        for buf in _chunks(data):
            parse(buf, 0, len(buf), 5)
    finally:
        for k, f in orig.items():
            setattr(new, k, f)
    for k, a in calls:
        if not _same(getattr(old, k)(*a), getattr(new, k)(*a)):
            raise SystemExit(f"{fmt}: {k} differs")
    used = [k for k in KERNELS if any(c[0] == k for c in calls)]
    print(f"  kernels: {len(calls)} calls, old and new outputs identical", flush=True)
    for k in used:
        t = {"old": [], "new": []}
        for r in range(rounds):
            for v in (("old", "new") if r % 2 == 0 else ("new", "old")):
                fn = getattr(old if v == "old" else new, k)
                t0 = time.perf_counter()
                for n, a in calls:
                    if n == k:
                        fn(*a)
                t[v].append(time.perf_counter() - t0)
        print(f"  {k:15s} {_ratios(t['old'], t['new'])}", flush=True)


def ingest_run(tree: str, path: Path, store: Path, cache: Path) -> tuple[float, dict]:
    shutil.rmtree(store, ignore_errors=True)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=tree, NUMBA_CACHE_DIR=str(cache))
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "core", "ingest", "--json", "--data-dir", str(store), str(path)],
                   cwd=store.parent, env=env, capture_output=True, check=True)
    wall = time.perf_counter() - t0
    files = {}
    for p in sorted(store.rglob("*")):
        if p.is_file():
            b = p.read_bytes()
            if p.suffix == ".json":  # creation time and elapsed seconds differ from run to run
                d = json.loads(b)
                d.pop("created", None)
                d.pop("seconds", None)
                b = json.dumps(d).encode()
            files[p.relative_to(store).as_posix()] = hashlib.sha256(b).hexdigest()
    shutil.rmtree(store)
    return wall, files


def ingests(path: Path, trees: dict, tmp: Path, rounds: int) -> None:
    first = {v: ingest_run(t, path, tmp / f"store-{v}", tmp / f"numba-{v}")[1] for v, t in trees.items()}
    print(f"  ingest: same stored dataset: {first['old'] == first['new']}", flush=True)
    if not rounds:
        return
    t = {"old": [], "new": []}
    for r in range(rounds):
        for v in (("old", "new") if r % 2 == 0 else ("new", "old")):
            t[v].append(ingest_run(trees[v], path, tmp / f"store-{v}", tmp / f"numba-{v}")[0])
    print(f"  ingest wall     {_ratios(t['old'], t['new'])}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the old tree (holding core/)")
    ap.add_argument("--start", default="1995-07-01")
    ap.add_argument("--end", default="1995-07-15")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--junk", type=float, default=0.09)
    args = ap.parse_args()

    from tests.core.ingest.logwriters import FORMATS, records, write

    print(f"load {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp_name:
        tmp = Path(tmp_name)
        os.environ["NUMBA_CACHE_DIR"] = str(tmp / "numba-here")  # before numba loads: the old module's cache apart
        spec = importlib.util.spec_from_file_location("old_fields_kernel",
                                                      Path(args.base) / "core" / "ingest" / "_fields_kernel.py")
        old = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = old
        spec.loader.exec_module(old)
        clf = tmp / "clf.log"
        subprocess.run([sys.executable, str(shared_dir() / "tools" / "make_nasa_log.py"), str(clf), "-q",
                        "--start", args.start, "--end", args.end, "--malformed", "0"], check=True)
        recs = records(clf.read_bytes())
        print(f"{len(recs):,} requests", flush=True)
        trees = {"old": str(Path(args.base).resolve()), "new": str(ROOT)}
        for fmt in FORMATS:
            data = write(fmt, recs)
            for label, content in (("clean", data), ("junk", with_junk(data, args.junk))):
                path = tmp / f"{label}.{fmt}"
                path.write_bytes(content)
                print(f"{fmt} {label}: {len(content) / 1e6:.0f} MB", flush=True)
                kernels(fmt, content, old, args.rounds)
                ingests(path, trees, tmp, args.rounds if label == "clean" else 0)
                path.unlink()
    print(f"load {os.getloadavg()}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
