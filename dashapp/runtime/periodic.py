"""Call a function every few seconds on a daemon thread while a block runs (heartbeats, lock renewals)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

__all__ = ["repeating"]


@contextlib.contextmanager
def repeating(seconds: float, fn: Callable[[], bool | None], name: str):
    """Run ``fn`` every ``seconds`` until the block ends (the thread is joined then) or ``fn`` returns False."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            if fn() is False:
                return

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
