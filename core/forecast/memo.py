"""A bounded, thread-safe in-memory memo for values that are pure functions of their key.

Only for caches whose key is a content hash of everything the value depends on
(so a hit can never be stale and two processes holding different entries
differ in speed only). Shared state across processes belongs on disk
(``core.forecast.cache.ModelCache``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ForecastMemo", "LRUMemo"]


class LRUMemo:
    """At most ``size`` entries; the least recently used goes first.

    Args:
        size: capacity (0 keeps nothing).
    """

    def __init__(self, size: int):
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        self.size = int(size)
        self._data: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()  # simulator jobs run on worker threads of one process

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key`` (now the most recently used), or ``default``."""
        with self._lock:
            if key not in self._data:
                return default
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key: str, value: Any) -> None:
        """Store ``value``, evicting the least recently used entries beyond the capacity."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class ForecastMemo:
    """What :class:`~core.forecast.rolling.ModelForecaster` reuses within a process.

    Attributes:
        fits: fitted models, keyed by model, parameters, dataset id and a hash of the training data.
        outputs: rolling forecasts (and what produced them), keyed by a hash of the values and settings.
    """

    fits: LRUMemo = field(default_factory=lambda: LRUMemo(8))
    outputs: LRUMemo = field(default_factory=lambda: LRUMemo(24))

    def clear(self) -> None:
        self.fits.clear()
        self.outputs.clear()
