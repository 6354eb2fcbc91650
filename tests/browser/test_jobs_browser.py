"""Background jobs in a real browser: a job refused by core shows core's message, and Run after Cancel
clears the cancelled note while the new job's progress climbs."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.browser

BAR = "#forecast-job-progress .progress-bar"


def test_a_forecast_of_one_day_of_data_says_why_it_failed(web, live_server, tmp_path):
    from core.store import DatasetStore

    src = tmp_path / "one-day.csv"
    src.write_text("timestamp,requests\n" + "\n".join(f"2024-01-01T{m // 60:02d}:{m % 60:02d}:00Z,{m % 7 + 1}"
                                                       for m in range(0, 1440, 5)))
    info = DatasetStore(live_server.data_dir).put(src, name="one day")
    page = web.open(f"/forecast?dataset={info.id}")
    page.wait_for_selector(".job-failed")
    message = web.text(".job-failed")
    assert "needs at least 2 days of data" in message, message
    assert "internal error" not in message
    assert "appears here when the job is done" not in web.text("#_pages_content")
    page.wait_for_selector("#forecast-job-bar", state="hidden")
    assert web.errors == []


def test_run_after_cancel_clears_the_note_while_the_new_job_climbs(web):
    page = web.open("/forecast?model=lightgbm&granularity=5&horizon=1d&origin=1995-08-23")
    page.wait_for_selector("#forecast-job-cancel:not([disabled])")
    page.click("#forecast-job-cancel")
    page.wait_for_selector(".job-cancelled")
    page.wait_for_selector("#forecast-job-run", state="visible")
    page.click("#forecast-job-run")
    page.wait_for_selector(".job-cancelled", state="detached", timeout=5_000)
    page.wait_for_selector("#forecast-job-bar", state="visible")
    deadline = time.monotonic() + 120
    while float(page.get_attribute(BAR, "aria-valuenow") or 0) <= 0:
        assert time.monotonic() < deadline, "the new job's progress never climbed"
        assert not page.is_visible(".job-cancelled")
        time.sleep(0.2)
    assert not page.is_visible(".job-cancelled")
    page.click("#forecast-job-cancel")  # leave the machine to the other tests
    page.wait_for_selector(".job-cancelled")
    assert web.errors == []
