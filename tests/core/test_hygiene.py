"""Nothing generated lives in the source tree: no ``__pycache__`` in git, numba's cache outside ``core/``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _git_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             check=False)
    except OSError:
        pytest.skip("git is not installed")
    if out.returncode != 0:
        pytest.skip(f"not a git checkout: {out.stderr.strip()}")
    return [f for f in out.stdout.split("\0") if f]


def _numba_cache_files() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for pattern in ("*.nbi", "*.nbc") for p in (ROOT / "core").rglob(pattern))


def test_git_tracks_no_generated_files():
    files = _git_files()
    assert [f for f in files if "__pycache__" in f.split("/")] == []
    assert [f for f in files if f.endswith((".pyc", ".nbi", ".nbc"))] == []


def _default_cache_dir(env: dict[str, str]) -> str:
    out = subprocess.run([sys.executable, "-c", "import os, core; print(os.environ.get('NUMBA_CACHE_DIR', ''))"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def test_importing_core_points_numbas_cache_to_a_user_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    expected = tmp_path / "xdg" / "traffic-workbench" / "numba"
    assert _default_cache_dir(env) == str(expected)
    assert expected.is_dir()
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "mine")  # the operator's choice wins
    assert _default_cache_dir(env) == str(tmp_path / "mine")


_RUN_COMPILED = r"""
import json, sys
from core.ingest import ingest
from core.ingest import _clf_kernel
from core.scaling import kernel, queueing
import numba, numba.core.config

result = ingest(sys.argv[1])
# Decorating with cache=True picks the cache folder without compiling (the kernels compile lazily).
paths = [_clf_kernel.parse_lines._cache._cache_path,
         numba.njit(cache=True)(kernel._loop_scalar)._cache._cache_path,
         numba.njit(cache=True)(queueing._rt_scalar)._cache._cache_path]
print(json.dumps({"requests": float(result.series.frame["requests"].sum()), "config": numba.core.config.CACHE_DIR,
                  "paths": paths}))
"""


def test_compiled_code_writes_no_cache_into_the_source_tree(tmp_path):
    pytest.importorskip("numba")
    log = tmp_path / "access.log"
    log.write_text(
        '199.72.81.55 - - [01/Jul/1995:00:00:01 -0400] "GET /history/apollo/ HTTP/1.0" 200 6245\n'
        'unicomp6.unicomp.net - - [01/Jul/1995:00:00:06 -0400] "GET /shuttle/countdown/ HTTP/1.0" 200 3985\n'
        '199.120.110.21 - - [01/Jul/1995:00:01:09 -0400] "GET /shuttle/missions/sts-73/mission-sts-73.html '
        'HTTP/1.0" 200 4085\n'
    )
    # The environment as a developer has it (NUMBA_CACHE_DIR set or not): the cache is warm after the first run.
    out = subprocess.run([sys.executable, "-c", _RUN_COMPILED, str(log)], cwd=ROOT, capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["requests"] == 3
    assert got["config"], "NUMBA_CACHE_DIR is empty: numba would cache next to the source"
    core = (ROOT / "core").resolve()
    for path in got["paths"]:
        assert not Path(path).resolve().is_relative_to(core), path
    assert _numba_cache_files() == [], "numba cache files in the source tree (stale ones can be deleted)"


def test_the_image_compiles_numba_ahead_into_a_writable_cache_outside_the_volume():
    # Built into the image by `python -m core warmup`; a volume mounted over it would hide it, so it lives
    # outside the volume, owned by the app's user (a host with another CPU adds its own compiled code).
    text = (ROOT / "Dockerfile").read_text()
    cache = re.search(r"NUMBA_CACHE_DIR=(\S+)", text).group(1)
    volume = re.search(r'VOLUME \["([^"]+)"\]', text).group(1)
    assert not cache.startswith(volume)
    assert re.search(r"^RUN [^\n]*(\\\n[^\n]*)*python -m core warmup", text, re.M)
    assert "kernel()[0] == 'aot'" in text  # the build fails without the ahead-of-time parser
    assert re.search(rf"chown -R 10001:10001 {re.escape(cache)}", text)
    assert text.index("python -m core warmup") < text.index("USER 10001")
