"""Ingest one log with two code trees (or one tree and an environment), each a whole process, and compare the
stored datasets file by file: the report (but its ``seconds``), ``series.parquet``, ``hosts.npy``, ``host_ids.npy``.

Usage:
    python bench/same_dataset.py /tmp/nasa.log . /tmp/base            # this tree against another's core/
    python bench/same_dataset.py /tmp/nasa.log . . --env-b TRAFFIC_CLF_KERNEL=jit

Exits non-zero with the first difference; prints the totals when the datasets are the same.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def _ingest(log: Path, root: Path, store: Path, env: dict[str, str]) -> tuple[dict, Path]:
    out = subprocess.run([sys.executable, "-m", "core", "ingest", str(log), "--data-dir", str(store), "--json"],
                         env=dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1", **env), cwd=root,
                         check=True, capture_output=True, text=True)
    report = json.loads(out.stdout)
    report.pop("seconds")
    return report, store / report["dataset_id"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log", type=Path)
    ap.add_argument("root_a", type=Path)
    ap.add_argument("root_b", type=Path)
    ap.add_argument("--env-b", action="append", default=[], metavar="VAR=VALUE", help="environment of run b")
    args = ap.parse_args()
    env_b = dict(kv.split("=", 1) for kv in args.env_b)
    with tempfile.TemporaryDirectory() as d:
        ra, da = _ingest(args.log, args.root_a.resolve(), Path(d) / "a", {})
        rb, db = _ingest(args.log, args.root_b.resolve(), Path(d) / "b", env_b)
        if ra != rb:
            raise SystemExit(f"reports differ: { {k: (ra[k], rb.get(k)) for k in ra if ra[k] != rb.get(k)} }")
        if not pd.read_parquet(da / "series.parquet").equals(pd.read_parquet(db / "series.parquet")):
            raise SystemExit("series.parquet differs")
        for name in ("hosts.npy", "host_ids.npy"):
            if (da / name).exists() != (db / name).exists() or (
                    (da / name).exists() and not np.array_equal(np.load(da / name), np.load(db / name))):
                raise SystemExit(f"{name} differs")
        a, b = (json.loads((p / "report.json").read_text()) for p in (da, db))
        a.pop("seconds")
        b.pop("seconds")
        if a != b:
            raise SystemExit("report.json differs")
    keys = ("lines_total", "lines_parsed", "lines_rejected", "nonstandard_requests", "requests_total",
            "unique_hosts_total", "start", "end")
    sys.stdout.write(f"the same dataset: { {k: ra[k] for k in keys} }\n")


if __name__ == "__main__":
    main()
