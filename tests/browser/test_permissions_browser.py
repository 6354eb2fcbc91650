"""The Data page in a real browser behind a proxy that names the user (TRAFFIC_AUTH_HEADER): a user outside
TRAFFIC_UPLOADERS / TRAFFIC_ADMINS reads why instead of using controls that would be refused, with no
console error; an admin gets the controls."""

from __future__ import annotations

import pytest

from tests.browser.conftest import TIMEOUT_MS, Web
from tests.conftest import LiveServer

pytestmark = pytest.mark.browser

HEADER = "X-Forwarded-User"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    server = (
        LiveServer(
            tmp_path_factory.mktemp("guarded-browser"),
            workers=1,
            TRAFFIC_AUTH_HEADER=HEADER,
            TRAFFIC_UPLOADERS="alice",
            TRAFFIC_ADMINS="root",
        )
        .start()
        .warm(rounds=1)
    )
    yield server
    server.stop()


def as_user(browser, server, user: str) -> Web:
    # The proxy's header on every request the page makes, as a real proxy would add it.
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, extra_http_headers={HEADER: user})
    ctx.set_default_timeout(TIMEOUT_MS)
    web = Web(browser, server.url, ctx)
    web.own_context = True
    return web


def test_a_reader_sees_why_and_an_admin_gets_the_controls(browser, guarded):
    web = as_user(browser, guarded, "bob")
    try:
        page = web.open("/")
        page.wait_for_selector("#data-upload-denied")
        assert "'upload' permission" in web.text("#data-upload-denied")
        assert page.query_selector("#upload-widget") is None
        assert page.is_disabled("#data-delete")
        assert "not in TRAFFIC_ADMINS" in web.text("#data-delete-denied")
        page.wait_for_timeout(300)
        assert web.errors == [], "\n".join(e[:300] for e in web.errors[:3])
    finally:
        web.close()
    web = as_user(browser, guarded, "root")
    try:
        page = web.open("/")
        page.wait_for_selector("#upload-widget input[type=file]")
        assert page.is_enabled("#data-delete")
        assert page.query_selector("#data-delete-denied") is None
        assert web.errors == [], "\n".join(e[:300] for e in web.errors[:3])
    finally:
        web.close()
