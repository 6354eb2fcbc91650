"""The Content-Security-Policy in a real browser: every page runs under it with zero violations,
and what it is for (an injected inline script, a script from another origin) is blocked."""

from __future__ import annotations

import pytest

from dashapp.web.security import CALLBACK_BODY_LIMIT

pytestmark = pytest.mark.browser

CHART = ".js-plotly-plot .main-svg"
#: Every page, with what shows it is done (the queries of tests/browser, so cached results are shared).
PAGES = [
    ("/", "#data-table"),
    ("/history?granularity=15", f"#history-sim-box {CHART}"),
    ("/forecast?granularity=15&horizon=6h", f"#forecast-graph {CHART}"),
    ("/scenarios?granularity=15&budget=30", f"#scenarios-pareto {CHART}"),
    ("/what-if?granularity=15&mult=1.5", f"#what_if-graph-box {CHART}"),
]
_WATCH_CSP = """() => { window.__csp = [];
  document.addEventListener('securitypolicyviolation',
    e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || ''))); }"""


def _watch(web):
    """Record CSP violations (also those Chromium would not log) and the size of every callback body."""
    web.page.add_init_script(_WATCH_CSP.removeprefix("() => { ").removesuffix(" }"))
    bodies: list[int] = []
    web.page.on("request", lambda r: bodies.append(len(r.post_data_buffer or b""))
                if "_dash-update-component" in r.url else None)
    return bodies


def test_every_page_runs_under_the_csp_without_violations(web_factory, live_server):
    web = web_factory(live_server.url)
    bodies = _watch(web)
    for path, ready in PAGES:
        response = web.page.goto(live_server.url + path)
        csp = response.headers["content-security-policy"]
        assert "'unsafe-eval'" not in csp
        assert "script-src 'self' 'sha256-" in csp
        web.page.wait_for_selector("#_pages_content > *")
        web.page.wait_for_selector(ready, timeout=120_000)
        web.page.wait_for_timeout(300)  # late errors
        # Zoom the first chart: plotly re-renders and a callback re-aggregates.
        if web.page.query_selector(CHART):
            box = web.page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
            if box:
                web.page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
                web.page.mouse.down()
                web.page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2, steps=5)
                web.page.mouse.up()
                web.page.wait_for_timeout(800)
        violations = web.page.evaluate("window.__csp")
        assert violations == [], f"{path}: {violations}"
        assert web.errors == [], f"{path}: " + "\n".join(e[:400] for e in web.errors[:3])
    assert bodies, "no callback ran"
    assert max(bodies) < CALLBACK_BODY_LIMIT / 20, f"callback bodies up to {max(bodies):,} bytes"


def test_injected_inline_and_foreign_scripts_are_blocked(web_factory, live_server):
    web = web_factory(live_server.url)
    _watch(web)
    page = web.open("/history?granularity=15")
    page.evaluate("""() => { window.__ran = false;
        const s = document.createElement('script'); s.textContent = 'window.__ran = true'; document.body.append(s);
        const t = document.createElement('script'); t.src = 'https://cdn.example.invalid/x.js';
        document.body.append(t);
        const d = document.createElement('div'); d.innerHTML = '<img src=x onerror="window.__ran = true">';
        document.body.append(d); }""")
    page.wait_for_timeout(500)
    assert page.evaluate("window.__ran") is False
    blocked = " ".join(page.evaluate("window.__csp"))
    assert "inline" in blocked
    assert "cdn.example.invalid" in blocked


def test_the_app_refuses_to_be_framed(web_factory, live_server):
    web = web_factory(live_server.url)
    page = web.page
    page.goto(live_server.url + "/api/openapi.json")  # any same-origin document to host the frame
    page.set_content(f'<iframe id="f" src="{live_server.url}/history"></iframe>')
    page.wait_for_timeout(1500)
    frame = page.frame_locator("#f")
    assert frame.locator("#_pages_content").count() == 0
