"""JSON-safe values for every face of a result (CLI ``--json``, the API, exports, caches).

One conversion, so the three faces cannot disagree: numpy scalars become Python numbers, arrays and
tuples lists, timestamps ISO 8601 strings with their offset, and NaN or infinity ``None`` (``null``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

__all__ = ["to_jsonable"]


def to_jsonable(obj):
    """Recursively convert numpy/pandas values to JSON-safe values (NaN -> null)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, pd.DatetimeIndex):
        return [t.isoformat() for t in obj]
    if isinstance(obj, pd.Timestamp):
        return obj.isoformat()
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
