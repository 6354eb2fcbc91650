"""Fixtures of the reliability and security tests: the real browser, and small HTTP helpers.

The servers come from the root conftest (``live_server``, ``server_factory``: real gunicorn on
127.0.0.1 with their own folders); the headless Chromium from tests/browser/conftest.py.
"""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import FLAGS, TIMEOUT_MS, Web, browser, new_context  # noqa: F401 - fixtures

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture
def web_factory(browser):  # noqa: F811 - the imported fixture
    """``web_factory(base_url)``: a fresh browser context on a server, closed after the test."""
    made: list[Web] = []

    def _make(base_url: str) -> Web:
        w = Web(browser, base_url)
        made.append(w)
        return w

    yield _make
    for w in made:
        w.close()
