"""Compile ahead: load (or compile, on an empty cache) every numba kernel before a user waits for it.

``python -m core warmup`` runs :func:`warm_up`; the README's set-up command and the Docker build run it,
so the first ingest and the first simulation of a fresh install load compiled code from numba's disk
cache (``NUMBA_CACHE_DIR``, set by ``core/__init__.py``) instead of compiling for seconds. A later process
reads the cache the warm-up wrote when it sees the same ``NUMBA_CACHE_DIR``, the same source files
(numba keys its entries by each source file's path and modification time) and the same CPU model.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

__all__ = ["WarmUp", "warm_up"]


@dataclass
class WarmUp:
    """What :func:`warm_up` did: seconds per kernel family and where numba keeps its cache."""

    cache_dir: str
    seconds: dict[str, float] = field(default_factory=dict)
    #: what could not be done (e.g. no C compiler for the ahead-of-time CLF kernel) and what happens instead
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"cache_dir": self.cache_dir, "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
                "notes": list(self.notes)}


def _parsers() -> None:
    from core.ingest.formats import warm_up

    warm_up()  # CLF, load balancer, W3C and JSON lines: every parser family


def _clf_ahead_of_time() -> None:
    from core.ingest import _clf_aot

    _clf_aot.build()  # ingest then parses Common/Combined logs without loading numba (~1 s of a fresh process)


def _simulator() -> None:
    from core.generators import short_history
    from core.scaling.simulate import simulate

    series = short_history(days=2, interval="5min")
    # The threshold and HPA modes of the step kernel and the response-time kernel, through the same calls
    # (same argument types, so the same compiled signatures) as a real simulation.
    for policy in ("reactive", "target_tracking"):
        simulate(series, "balanced", policy, engine="numba")


def _libraries() -> None:
    # What core.forecast.fourier_arma and .lgbm import when they first fit. Imports only: LightGBM starts no
    # OpenMP thread here, so a process that forks jobs after this stays fork-safe.
    import lightgbm  # noqa: F401
    import statsmodels.tsa.arima.model  # noqa: F401


def warm_up(build: bool = True, libraries: bool = False) -> WarmUp:
    """Load or compile every numba kernel: the log parsers, the CLF parser ahead of time, the simulator's kernels.

    ``build=False`` skips building the ahead-of-time parser (a server process loading what is there);
    ``libraries=True`` also imports the default forecasters' libraries (statsmodels, LightGBM: ~0.7 s), for a
    process whose forked jobs should not import them each time (gunicorn and Celery workers).

    Returns:
        Seconds spent per family (a few seconds each on an empty cache, well under one once cached; the
        ahead-of-time CLF kernel ~20 s once, then nothing), the cache folder, and notes on what could not
        be built (the ahead-of-time kernel needs a C compiler; without it ingest uses numba's kernel).
    """
    out = WarmUp(cache_dir=os.environ.get("NUMBA_CACHE_DIR", ""))
    steps = [("log parsers", _parsers)]
    steps += [("CLF parser ahead of time", _clf_ahead_of_time)] if build else []
    steps += [("simulator", _simulator)]
    steps += [("forecaster libraries", _libraries)] if libraries else []
    for name, step in steps:
        t0 = time.perf_counter()
        try:
            step()
        except RuntimeError as exc:  # only the ahead-of-time build raises it: an optional speed-up
            out.notes.append(str(exc))
        out.seconds[name] = time.perf_counter() - t0
    return out
