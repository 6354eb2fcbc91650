"""Pure-Python core of the traffic workbench: ingest, store, forecast, simulate.

Never imports dash or plotly (tests/test_import_graph.py checks it).

Importing ``core`` points numba's on-disk cache (the compiled log parser and
scaling kernels, ``cache=True``) outside the source tree: numba writes it
next to the source by default. ``NUMBA_CACHE_DIR`` wins when set (the
Dockerfile sets it on the data volume); otherwise
``$XDG_CACHE_HOME/traffic-workbench/numba`` (``~/.cache/...``), or a per-user
folder in the temp dir when the home is not writable. numba reads the
variable when it is first imported, which is after this (every numba user is
inside ``core``).
"""

import os
import sys
import tempfile

__version__ = "0.1.0"


def _numba_cache_dir() -> str:
    """The default numba cache folder: per user, outside the source tree, writable."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    uid = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    for path in (os.path.join(base, "traffic-workbench", "numba"),
                 os.path.join(tempfile.gettempdir(), f"traffic-workbench-{uid}", "numba")):
        try:
            os.makedirs(path, exist_ok=True)
        except OSError:
            continue
        if os.access(path, os.W_OK):
            return path
    return ""  # nothing writable: numba falls back to its own locators


if not os.environ.get("NUMBA_CACHE_DIR"):
    _dir = _numba_cache_dir()
    if _dir:
        os.environ["NUMBA_CACHE_DIR"] = _dir
if "numba" in sys.modules:  # imported before core (e.g. by another library): make it re-read the variable
    sys.modules["numba"].core.config.reload_config()
