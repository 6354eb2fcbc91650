"""Real headless Chromium (Debian's, via Playwright) against the app served by gunicorn.

Never runs ``playwright install``: the system Chromium at /usr/bin/chromium is
launched with the flags that keep it off the network. Tests skip with a
reason when Chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("TRAFFIC_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
#: Browser-side waits (ms): generous, the machine is shared.
TIMEOUT_MS = 120_000


# Module scope, not session: a running sync Playwright owns an event loop, and other modules' tests
# start their own Playwright (tests/dashapp/test_upload.py), which fails while ours is still running.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium chromium-driver)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        yield b
        b.close()


class Web:
    """A page on the live server (in ``context``, else a fresh browser context), collecting console errors."""

    def __init__(self, browser, base_url: str, context=None) -> None:
        self.base = base_url
        self.own_context = context is None
        self.context = context or new_context(browser)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

    def open(self, path: str):
        self.page.goto(self.base + path)
        self.page.wait_for_selector("#_pages_content > *")
        return self.page

    def wait_js(self, expression: str, timeout: float = TIMEOUT_MS / 1000) -> None:
        """Poll a JS expression until truthy. (``page.wait_for_function`` evaluates strings with eval, which
        the app's Content-Security-Policy forbids; ``page.evaluate`` goes through the debugger protocol.)"""
        wait_js(self.page, expression, timeout)

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)

    def close(self) -> None:
        self.page.close()
        if self.own_context:
            self.context.close()


def wait_js(page, expression: str, timeout: float = TIMEOUT_MS / 1000, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for: {expression}")
        time.sleep(interval)


def new_context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


@pytest.fixture(scope="module")
def shared_context(browser):
    """One context for the suite, so plotly.js and the app's bundles load from its HTTP cache after the first page."""
    ctx = new_context(browser)
    yield ctx
    ctx.close()


@pytest.fixture
def web(browser, shared_context, live_server):
    w = Web(browser, live_server.url, shared_context)
    yield w
    w.close()
