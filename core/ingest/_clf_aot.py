"""The CLF kernel compiled ahead of time into an extension module, so that ingest does not load numba.

A fresh process that parses with the numba kernel first pays about a second for numba itself: its import,
then the initialisation of its CPU target when the cached kernel loads (numba.np.arraymath, scipy.linalg's
BLAS bindings, the typing registries; bench/results/coldstart.md). ``python -m core warmup`` therefore also
compiles ``_clf_kernel.parse_lines`` with numba's ahead-of-time compiler (``numba.pycc``: the same LLVM
code for a generic x86-64/ARM CPU, wrapped as a CPython extension that needs only numpy) into numba's
cache folder; ``apache.parse_range`` uses it when it is there and loads, else the JIT kernel.

The file name carries a key over the kernel's source, this module's recipe, Python, numpy and the
machine, so an edited kernel or an upgraded numpy is never served by a stale build (it is rebuilt by
the next warm-up; until then the JIT kernel runs). Building needs a C compiler (``cc``); without one
the warm-up says so and ingest keeps the JIT kernel: same results, the second of start-up remains. The same
happens if a numba release drops ``numba.pycc`` ("pending deprecation" since 0.57, no replacement yet).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import shutil
import sys
import sysconfig
import tempfile
import threading
import warnings
from functools import cache
from pathlib import Path

import numpy as np

__all__ = ["load", "build", "module_path"]

#: Bump when the build recipe changes (the signature, the flags).
_RECIPE = "1"
#: The exported signature: ``parse_lines(buf, words, lo, hi, keep)`` on a reader buffer (writable, C order).
_SIGNATURE = ("Tuple((int64[:], int16[:], int16[:], int64[:], uint64[:], int64, int64, int64, int64[:, :]))"
              "(uint8[::1], uint64[::1], int64, int64, int64)")
_KERNEL = Path(__file__).with_name("_clf_kernel.py")


def _key() -> str:
    h = hashlib.sha256(_KERNEL.read_bytes())
    for part in (_RECIPE, _SIGNATURE, sys.version, np.__version__, platform.machine()):
        h.update(part.encode())
    return h.hexdigest()[:16]


def module_path(cache_dir: str | None = None) -> Path | None:
    """Where the compiled kernel lives for this source and environment (None without a cache folder)."""
    root = cache_dir if cache_dir is not None else os.environ.get("NUMBA_CACHE_DIR", "")
    if not root:
        return None
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or importlib.machinery.EXTENSION_SUFFIXES[0]
    return Path(root) / "aot" / f"clf_{_key()}{suffix}"


_LOADING = threading.Lock()


def load():
    """The ahead-of-time compiled ``parse_lines``, or None when it is not built (or does not load).

    Thread-safe: the parser threads of the first chunk ask for it at the same moment.
    """
    with _LOADING:
        return _load()


@cache
def _load():
    path = module_path()
    if path is None or not path.is_file():
        return None
    try:
        spec = importlib.util.spec_from_file_location(path.name.split(".")[0], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.parse_lines
    except (ImportError, OSError, AttributeError):
        return None


def build(cache_dir: str | None = None) -> Path:
    """Compile the kernel into the cache folder (about 20 s); returns the module's path.

    Raises:
        RuntimeError: no cache folder, or the build failed (e.g. no C compiler); the message says which.
    """
    path = module_path(cache_dir)
    if path is None:
        raise RuntimeError("no numba cache folder (NUMBA_CACHE_DIR) to build the ahead-of-time kernel into")
    if path.is_file():
        return path
    try:
        _compile(path)
    except Exception as exc:  # noqa: BLE001 - no numba.pycc, no compiler, a linker error, a read-only folder...
        why = " ".join(str(exc).split())[:200]
        raise RuntimeError(f"could not compile the ahead-of-time CLF kernel ({type(exc).__name__}: {why}); "
                           "ingest uses the numba kernel instead (install a C compiler to build it)") from exc
    _load.cache_clear()
    return path


def _compile(path: Path) -> None:
    from numba.core.compiler import Flags

    with warnings.catch_warnings():
        # "pending deprecation" since numba 0.57, no replacement yet; if a numba drops it, the import fails,
        # build() reports it and ingest keeps the JIT kernel.
        warnings.simplefilter("ignore")
        from numba.pycc import CC
        from numba.pycc import compiler as pycc_compiler

    from core.ingest import _clf_kernel

    class _NoGil(Flags):
        # pycc has no nogil option; the JIT kernel releases the GIL and the reader's two parser threads
        # rely on it, so the exported wrapper must too (tests/core/ingest/test_clf_aot.py checks it).
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.release_gil = True

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=path.parent))
    saved = pycc_compiler.Flags
    try:
        pycc_compiler.Flags = _NoGil
        name = path.name.split(".")[0]
        cc = CC(name)
        cc.output_dir = str(tmp)
        cc.verbose = False
        cc.export("parse_lines", _SIGNATURE)(_clf_kernel.parse_lines.py_func)
        cc.compile()
        os.replace(next(tmp.glob(f"{name}*")), path)  # atomic: a process loading it sees nothing or the whole file
    finally:
        pycc_compiler.Flags = saved
        shutil.rmtree(tmp, ignore_errors=True)
