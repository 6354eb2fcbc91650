"""/api/docs in a real browser: Swagger UI renders every operation of /api/openapi.json from the app's own
files, under the app's Content-Security-Policy, with no console error and no request to another site."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

pytestmark = pytest.mark.browser

_WATCH_CSP = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"""


def test_swagger_ui_lists_every_operation(web, live_server):
    doc = requests.get(live_server.url + "/api/openapi.json", timeout=60).json()
    operations = sum(len(ops) for ops in doc["paths"].values())
    hosts: set[str] = set()
    failed: list[str] = []
    web.page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
    web.page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    web.page.add_init_script(_WATCH_CSP)
    web.page.goto(live_server.url + "/api/docs")
    web.wait_js(f"document.querySelectorAll('.opblock').length >= {operations}")
    text = web.page.inner_text("#swagger-ui")
    assert "Traffic capacity workbench API" in text
    for path in ("/api/forecast", "/forecast", "/metrics", "/cost-report", "/upload"):
        assert web.page.locator(f".opblock-summary-path[data-path='{path}']").count() >= 1, path
    # Open one operation: its parameters render (the UI works, not only its first paint).
    web.page.click(".opblock-summary-path[data-path='/metrics']")
    web.page.wait_for_selector(".opblock.is-open .parameters")
    web.page.wait_for_timeout(300)
    assert web.page.evaluate("window.__csp") == []
    assert failed == []
    assert web.errors == [], "\n".join(e[:300] for e in web.errors[:3])
    assert hosts == {urlsplit(live_server.url).netloc}
