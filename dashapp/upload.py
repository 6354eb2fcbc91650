"""The streaming upload route (issue 6). ``init_upload(server, settings)`` registers it."""

from __future__ import annotations

__all__ = ["init_upload"]


def init_upload(server, settings) -> None:
    """Register the upload route on the Flask ``server`` (placeholder until uploads land)."""
