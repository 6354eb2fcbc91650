"""The JSON API blueprint under /api (issue 6). ``init_api(server, settings)`` registers it."""

from __future__ import annotations

__all__ = ["init_api"]


def init_api(server, settings) -> None:
    """Register the /api blueprint on the Flask ``server`` (placeholder until the API lands)."""
