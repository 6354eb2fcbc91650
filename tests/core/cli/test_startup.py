"""What a subcommand costs before it works: the modules it imports, and numba's compiled kernels (warmup)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parents[3]
LINE = b'h%d - - [01/Jul/1995:00:%02d:01 -0400] "GET / HTTP/1.0" 200 5\n'
#: What ``ingest`` must never import (the forecasting, anomaly and UI stacks).
HEAVY = ("plotly", "sklearn", "lightgbm", "statsmodels", "prophet", "dash", "core.forecast", "core.scaling")


def _run(args: list[str], env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    full = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=full,
                          timeout=timeout, check=False)


def _subparsers(parser) -> set[str]:
    return set(next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices)


def test_the_command_table_is_what_the_modules_register():
    assert _subparsers(build_parser()) == set(COMMANDS)
    for command in COMMANDS:
        assert command in _subparsers(build_parser(command)), command


def test_ingest_does_not_import_the_forecasting_scaling_or_ui_stacks(tmp_path):
    log = tmp_path / "a.log"
    log.write_bytes(b"".join(LINE % (i, i % 60) for i in range(50)))
    out = _run(["-X", "importtime", "-m", "core", "ingest", str(log), "--data-dir", str(tmp_path / "d"), "--json"])
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["requests_total"] == 50
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "core.ingest.apache" in imported  # the parse did run in this process (numba only without the
    # ahead-of-time kernel: tests/core/ingest/test_clf_aot.py)
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY or m.startswith(HEAVY))
    assert not heavy, heavy


def test_help_still_lists_every_subcommand():
    out = _run(["-m", "core", "--help"])
    assert out.returncode == 0
    for command in COMMANDS:
        assert command in out.stdout


_STATS = """
import json, sys
from core.ingest import apache, ingest
from core.ingest._clf_kernel import parse_lines
from core.ingest._fields_kernel import fnv_spans, split_fields
from core.ingest.formats import _SAMPLES
from core.generators import short_history
from core.scaling import kernel, queueing
from core.scaling.simulate import simulate
ingest(sys.argv[1])
clf_kernel = apache.kernel()[0]  # what ingest parsed Common logs with (the warm-up built the ahead-of-time one)
apache.warm_up(jit=True)  # numba's CLF kernel, the fallback, is in the cache too
for fmt, sample in _SAMPLES.items():  # every parser family, through the reader like an upload
    path = f"{sys.argv[1]}.{fmt}"
    open(path, "wb").write(sample * 20)
    ingest(path, format=fmt)
simulate(short_history(days=2, interval="5min"), "balanced", "reactive", engine="numba")
stats = {name: (sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))
         for name, f in (("clf", parse_lines), ("fields", split_fields), ("hosts", fnv_spans),
                         ("kernel", kernel._compiled), ("rt", queueing._rt_compiled))}
print(json.dumps({"stats": stats, "clf_kernel": clf_kernel}))
"""


def _warmup_then_use(tmp_path, env: dict | None = None) -> tuple[dict, dict]:
    warm = _run(["-m", "core", "warmup", "--json"], env=env, timeout=600)
    assert warm.returncode == 0, warm.stderr[-2000:]
    log = tmp_path / "a.log"
    log.write_bytes(b"".join(LINE % (i, i % 60) for i in range(50)))
    used = _run(["-c", _STATS, str(log)], env=env)
    assert used.returncode == 0, used.stderr[-2000:]
    out = json.loads(used.stdout)
    # With a C compiler the warm-up built the ahead-of-time CLF kernel and ingest used it; without one it says so.
    assert out["clf_kernel"] == ("jit" if json.loads(warm.stdout)["notes"] else "aot"), warm.stdout
    return json.loads(warm.stdout), out["stats"]


def test_warmup_fills_the_cache_a_later_process_reads(tmp_path):
    """With the default cache folder (``core/__init__.py``): the kernels a later ingest and simulation call
    are loaded from the cache the warm-up wrote, none is compiled."""
    warm, stats = _warmup_then_use(tmp_path)
    assert set(warm["seconds"]) == {"log parsers", "CLF parser ahead of time", "simulator"}
    assert Path(warm["cache_dir"] or "/nonexistent").is_dir()
    assert list(Path(warm["cache_dir"]).rglob("*.nbi")), "no numba index file in the cache folder"
    assert {name: (hits >= 1, misses) for name, (hits, misses) in stats.items()} == \
        {name: (True, 0) for name in stats}, stats


@pytest.mark.slow
def test_warmup_on_an_empty_cache_compiles_what_a_later_process_needs(tmp_path):
    """A fresh install: NUMBA_CACHE_DIR empty (~30 s: the warm-up compiles every kernel)."""
    cache = tmp_path / "numba"
    warm, stats = _warmup_then_use(tmp_path, env={"NUMBA_CACHE_DIR": str(cache)})
    assert warm["cache_dir"] == str(cache)
    assert {name: (hits >= 1, misses) for name, (hits, misses) in stats.items()} == \
        {name: (True, 0) for name in stats}, stats
