"""The pages in a real browser: charts, bookmarks, back/forward, background jobs, warnings."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.browser

CHART = ".js-plotly-plot .main-svg"


def _query(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


@pytest.mark.parametrize(("path", "ready"), [
    ("/", "#data-table"),
    ("/history?granularity=15", f"#history-sim-box {CHART}"),
    ("/forecast?granularity=15&horizon=6h", f"#forecast-graph {CHART}"),
    ("/scenarios?granularity=15&budget=30", f"#scenarios-pareto {CHART}"),
    ("/what-if?granularity=15&mult=1.5", f"#what_if-graph-box {CHART}"),
])
def test_each_page_loads_without_console_errors_and_shows_its_chart(web, path, ready):
    page = web.open(path)
    page.wait_for_selector(ready)
    assert not page.is_visible("#page-error")
    assert not page.is_visible("#query-warnings")
    page.wait_for_load_state("networkidle")  # late errors (e.g. a callback failing after the first paint)
    assert web.errors == [], "\n".join(e[:600] for e in web.errors[:3])


def test_a_bad_url_parameter_shows_the_warning_and_the_page_still_works(web):
    page = web.open("/history?granularity=7&price=%3Cscript%3Ealert(1)%3C/script%3E&metric=" + "x" * 3000
                    + "&nonsense=1")
    page.wait_for_selector(f"#history-sim-box {CHART}")
    warning = web.text("#query-warnings")
    assert "granularity='7'" in warning
    assert "price='<script>alert(1)</script>'" in warning  # shown as text, never run
    assert "too long" in warning
    assert "'nonsense'" in warning
    assert page.input_value("#history-price") == "0.85"
    assert page.is_checked("#history-granularity input[value='5']")
    assert web.errors == []


def test_a_bookmarked_scenario_restores_its_controls_and_numbers(web, browser, live_server):
    url = "/scenarios?granularity=15&start=1995-08-03&end=1995-08-17&weight=0.2&budget=40&price=1.1"
    page = web.open(url)
    page.wait_for_selector("#scenarios-reason")
    reason = web.text("#scenarios-reason")
    winners = web.text("#scenarios-winners")
    # Someone else opens the bookmark: a new browser context, the result served from the shared cache.
    from tests.browser.conftest import Web

    other = Web(browser, live_server.url)
    try:
        p2 = other.open(url)
        p2.wait_for_selector("#scenarios-reason", timeout=5_000)
        assert other.text("#scenarios-reason") == reason
        assert other.text("#scenarios-winners") == winners
        assert not p2.is_visible("#scenarios-job-bar")  # cached: no job ran
        assert p2.input_value("#scenarios-price") == "1.1"
        assert p2.input_value("#scenarios-start") == "1995-08-03"
        assert p2.get_attribute("#scenarios-weight [role=slider]", "aria-valuenow") == "0.2"
        assert other.errors == []
    finally:
        other.close()
    assert "w=0.2" in winners


def test_back_and_forward_restore_the_previous_scenario(web):
    page = web.open("/what-if?granularity=15&start=1995-08-05&end=1995-08-12&mult=2")
    cost_cell = "#what_if-table tbody tr:first-child td:nth-child(3)"
    page.wait_for_selector(cost_cell)
    cost_at_2 = web.text(cost_cell)
    page.fill("#what_if-mult", "3")
    page.press("#what_if-mult", "Enter")
    page.wait_for_url(re.compile(r"mult=3"))
    # A new scenario runs as a job (the table is gone meanwhile) unless it is cached.
    cell = f"(e => e ? e.innerText : null)(document.querySelector('{cost_cell}'))"
    web.wait_js(f"{cell} !== null && {cell} !== {cost_at_2!r}")
    cost_at_3 = web.text(cost_cell)
    assert float(cost_at_3.replace(",", "")) > float(cost_at_2.replace(",", ""))
    page.go_back()
    page.wait_for_url(re.compile(r"mult=2"))
    web.wait_js(f"{cell} === {cost_at_2!r}")
    assert page.input_value("#what_if-mult") == "2"
    page.go_forward()
    page.wait_for_url(re.compile(r"mult=3"))
    web.wait_js(f"{cell} === {cost_at_3!r}")
    assert page.input_value("#what_if-mult") == "3"
    assert _query(page.url)["start"] == "1995-08-05"
    assert web.errors == []


def test_a_forecast_runs_in_the_background_with_progress_then_shows_the_chart(web):
    page = web.open("/forecast?model=sarima&granularity=15&horizon=6h&origin=1995-08-21")
    page.wait_for_selector("#forecast-job-bar", state="visible")
    page.wait_for_selector("#forecast-job-progress")
    # The page stays usable meanwhile: its controls answer.
    assert page.is_enabled("#forecast-model")
    page.wait_for_selector(f"#forecast-graph {CHART}", timeout=120_000)
    page.wait_for_selector("#forecast-job-bar", state="hidden")
    assert "one-step" in web.text("#forecast-backtest")
    assert "Poisson floor" in web.text("#forecast-backtest")
    assert web.errors == []


def _job_processes(server) -> list:
    """Live background-job processes: children of the gunicorn workers (killed ones may linger as zombies)."""
    psutil = pytest.importorskip("psutil")
    master = psutil.Process(server.proc.pid)
    jobs = [job for worker in master.children() for job in worker.children(recursive=True)]
    alive = []
    for job in jobs:
        try:
            if job.status() != psutil.STATUS_ZOMBIE:
                alive.append(job)
        except psutil.NoSuchProcess:
            pass
    return alive


def test_a_forecast_can_be_cancelled(web, live_server):
    page = web.open("/forecast?model=lightgbm&granularity=5&horizon=1d&origin=1995-08-24")
    page.wait_for_selector("#forecast-job-bar", state="visible")
    page.wait_for_selector("#forecast-job-cancel:not([disabled])")
    deadline = time.monotonic() + 30
    while not _job_processes(live_server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _job_processes(live_server), "the forecast job process never started"
    page.click("#forecast-job-cancel")
    page.wait_for_selector(".job-cancelled")
    page.wait_for_selector("#forecast-job-bar", state="hidden")
    assert page.is_visible("#forecast-job-run")
    deadline = time.monotonic() + 15
    while _job_processes(live_server) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _job_processes(live_server) == []  # the job was killed, not left running
    page.wait_for_load_state("networkidle")  # no job poll is left to deliver a result
    assert not page.is_visible("#forecast-graph")
    assert web.errors == []


def _xs(graph: str) -> str:
    """JS: the first trace's x values as numbers (a list, or plotly's base64 typed-array spec)."""
    return (f"(x => x.bdata ? Array.from(new Float64Array(Uint8Array.from(atob(x.bdata), c => c.charCodeAt(0)).buffer))"
            f" : Array.from(x))({graph}.data[0].x)")


def test_history_zoom_redraws_the_visible_range_at_full_resolution(web):
    """The full 2-month log at 1 minute (89,280 points): a zoom re-aggregates the visible range on the server."""
    page = web.open("/history?granularity=1")
    page.wait_for_selector(f"#history-traffic-box {CHART}")
    graph = "document.querySelector('#history-traffic-box .js-plotly-plot')"
    n_full = page.evaluate(f"{_xs(graph)}.length")
    assert 500 <= n_full <= 1000  # re-aggregated, about one point per pixel
    zoom = "{'xaxis.range[0]': '1995-07-13 08:00', 'xaxis.range[1]': '1995-07-13 12:00'}"
    page.evaluate(f"Plotly.relayout({graph}, {zoom})")
    web.wait_js(f"{_xs(graph)}.length === 4 * 60 + 3")  # every minute of the 4 hours, one either side
    first = page.evaluate(f"new Date({_xs(graph)}[0]).toISOString()")
    assert first == "1995-07-13T07:59:00.000Z"  # wall-clock minutes on a date axis (numbers: no parsing)
    page.evaluate(f"Plotly.relayout({graph}, {{'xaxis.autorange': true}})")
    web.wait_js(f"{_xs(graph)}.length === {n_full}")
    assert web.errors == []


def test_a_path_that_is_no_page_answers_404_and_shows_the_not_found_page(web):
    response = web.page.goto(web.base + "/nosuchpage")
    assert response.status == 404
    web.page.wait_for_selector("#_pages_content > *")
    assert "404" in web.text("#_pages_content")
    ok = web.page.goto(web.base + "/history?granularity=15")
    assert ok.status == 200
    # Chromium logs the 404 of the document itself; nothing else may fail.
    assert [e for e in web.errors if "status of 404" not in e] == []
    assert len(web.errors) <= 1


def test_a_first_visit_to_forecast_forecasts_the_future_beside_the_last_week_backtested(web):
    page = web.open("/forecast?granularity=15&horizon=6h")
    page.wait_for_selector(f"#forecast-graph {CHART}", timeout=120_000)
    page.wait_for_selector(f"#forecast-backtest-graph {CHART}")
    assert "(the end of the data)" in web.text("#forecast-summary")
    assert "one-step" in web.text("#forecast-backtest")
    assert page.input_value("#forecast-origin") == ""  # no origin in the URL: the default rule
    assert web.errors == []


def test_a_bad_value_typed_into_a_control_is_warned_about_not_replaced(web):
    page = web.open("/what-if?granularity=15&start=1995-08-05&end=1995-08-12")
    page.wait_for_selector("#what_if-table")
    page.fill("#what_if-mult", "-3")
    page.press("#what_if-mult", "Enter")
    page.wait_for_url(re.compile(r"mult=-3"))  # the typed value reaches the URL instead of being blanked
    page.wait_for_selector("#query-warnings", state="visible")
    assert "mult='-3'" in web.text("#query-warnings")
    assert web.errors == []
