"""History from a bookmarked URL in a real browser: uncached, it runs as a background job (progress bar, then the
charts); zoom re-aggregates the chart the job rendered; a second visit renders from the cache without a job."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser

CHART = ".js-plotly-plot .main-svg"
URL = "/history?granularity=1&price=0.87"  # the two months at 1 minute; a price no other browser test uses
GRAPH = "document.querySelector('#history-traffic-box .js-plotly-plot')"
PROGRESS = "(e => e ? Number(e.getAttribute('aria-valuenow') || 0) : -1)(document.querySelector('#history-job-progress "
PROGRESS += ".progress-bar, #history-job-progress[role=progressbar]'))"


def _xs(graph: str) -> str:
    """JS: the first trace's x values as numbers (a list, or plotly's base64 typed-array spec)."""
    return (f"(x => x.bdata ? Array.from(new Float64Array(Uint8Array.from(atob(x.bdata), c => c.charCodeAt(0))"
            f".buffer)) : Array.from(x))({graph}.data[0].x)")


def _svg_text(page, selector: str) -> str:
    """Text of an SVG node (the axis titles): not an HTML element, so no ``inner_text``."""
    return page.evaluate(f"document.querySelector({selector!r}).textContent")


def test_a_bookmarked_history_runs_as_a_job_with_progress_then_zooms(web):
    page = web.open(URL)
    # The page (controls, exports) is there at once; the job's bar shows while it computes.
    assert page.is_visible("#history-job-bar")
    assert "in the background" in web.text("#history-job-status")
    assert page.input_value("#history-price") == "0.87"
    seen = set()
    deadline = time.monotonic() + 180
    while not page.query_selector(f"#history-traffic-box {CHART}"):
        assert time.monotonic() < deadline, f"no chart after 180 s; progress seen: {sorted(seen)}"
        seen.add(page.evaluate(PROGRESS))
        time.sleep(0.05)
    assert any(0 < p < 100 for p in seen), sorted(seen)  # the bar moved while the job ran
    page.wait_for_selector(f"#history-sim-box {CHART}")
    web.wait_js("getComputedStyle(document.querySelector('#history-job-bar')).display === 'none'")
    assert _svg_text(page, "#history-traffic-box .g-ytitle") == "requests per second"
    assert _svg_text(page, "#history-traffic-box .g-xtitle") == "time (UTC-04:00)"
    assert "Cost" in web.text("#history-kpis")
    # Zoom on the chart the job rendered: the visible range comes back at full resolution from the server.
    n_full = page.evaluate(f"{_xs(GRAPH)}.length")
    assert 500 <= n_full <= 1000
    zoom = "{'xaxis.range[0]': '1995-07-13 08:00', 'xaxis.range[1]': '1995-07-13 12:00'}"
    page.evaluate(f"Plotly.relayout({GRAPH}, {zoom})")
    web.wait_js(f"{_xs(GRAPH)}.length === 4 * 60 + 3")  # every minute of the 4 hours, one either side
    assert page.evaluate(f"new Date({_xs(GRAPH)}[0]).toISOString()") == "1995-07-13T07:59:00.000Z"
    page.evaluate(f"Plotly.relayout({GRAPH}, {{'xaxis.autorange': true}})")
    web.wait_js(f"{_xs(GRAPH)}.length === {n_full}")
    assert web.errors == []


def test_a_second_visit_renders_from_the_cache_without_a_job(web):
    page = web.open(URL)  # computed by the test above (or, run alone, the job runs first)
    page.wait_for_selector(f"#history-traffic-box {CHART}", timeout=180_000)
    page = web.open(URL + "&unit=period")  # another unit: the same results, rendered at once
    page.wait_for_selector(f"#history-traffic-box {CHART}")
    assert not page.is_visible("#history-job-bar")
    assert _svg_text(page, "#history-traffic-box .g-ytitle") == "requests per period"
    assert web.errors == []
