"""Floats in the app's JSON responses, rounded once for every route.

Results are computed in binary floating point, so sums and ratios come out as ``99.99999999999999`` or
``0.6000000000000001``. Every ``jsonify`` of the server goes through :class:`RoundedJSONProvider`, which writes
percentages (keys ending in ``_pct``, ``pct``, ``mape``, ``smape``, ``coverage_*``) to 6 significant digits and
every other float to 12: far below any measurement's precision, and the noise of the last bits is gone.
Non-finite floats become ``null`` (strict JSON), as ``core.jsonable.to_jsonable`` already does.
"""

from __future__ import annotations

import math

from flask import Flask
from flask.json.provider import DefaultJSONProvider

__all__ = ["PCT_DIGITS", "FLOAT_DIGITS", "RoundedJSONProvider", "init_json", "is_percentage", "round_floats"]

PCT_DIGITS = 6
FLOAT_DIGITS = 12
_PCT_NAMES = ("pct", "mape", "smape")


def is_percentage(key: str) -> bool:
    """Whether a JSON key names a percentage (``overloaded_pct``, ``mape``, ``coverage_80``)."""
    k = key.lower()
    return k.endswith("_pct") or k in _PCT_NAMES or k.startswith("coverage")


def _round(x: float, digits: int) -> float | None:
    if not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def round_floats(obj, key: str = ""):
    """``obj`` with its floats rounded (:data:`PCT_DIGITS` significant digits under a percentage key, else
    :data:`FLOAT_DIGITS`); lists inherit their key."""
    if isinstance(obj, float):
        return _round(obj, PCT_DIGITS if is_percentage(key) else FLOAT_DIGITS)
    if isinstance(obj, dict):
        return {k: round_floats(v, str(k)) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v, key) for v in obj]
    return obj


class RoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider with :func:`round_floats` applied before writing."""

    def dumps(self, obj, **kwargs) -> str:
        return super().dumps(round_floats(obj), **kwargs)


def init_json(server: Flask) -> None:
    """Make every ``jsonify`` of ``server`` round its floats."""
    server.json = RoundedJSONProvider(server)
