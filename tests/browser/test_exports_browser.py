"""Every page's downloads and copy-link button in a real browser: the links follow the controls, a click
downloads the file, and "Copy link" puts the page's address on the clipboard."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

pytestmark = pytest.mark.browser


def test_a_download_button_downloads_what_the_page_shows_and_follows_the_controls(web):
    page = web.open("/what-if?granularity=15&start=1995-08-05&end=1995-08-12&mult=2")
    page.wait_for_selector("#what_if-table")
    csv = "#what_if-export-csv"
    assert "/export/what-if/csv?" in page.get_attribute(csv, "href")
    assert "mult=2" in page.get_attribute(csv, "href")
    page.fill("#what_if-mult", "3")
    page.press("#what_if-mult", "Enter")
    page.wait_for_url(re.compile(r"mult=3"))
    web.wait_js(f"document.querySelector('{csv}').getAttribute('href').includes('mult=3')")
    with page.expect_download() as info:
        page.click(csv)
    download = info.value
    assert download.suggested_filename.startswith("what-if-")
    assert download.suggested_filename.endswith(".csv")
    table = pd.read_csv(io.BytesIO(open(download.path(), "rb").read()))
    assert len(table) == 7 * 96  # the week shown, at 15 minutes
    assert {"baseline_demand", "scenario_demand"} <= set(table.columns)
    ratio = table["scenario_demand"].sum() / table["baseline_demand"].sum()
    assert ratio == pytest.approx(3.0)  # the multiplier set on the page, not the one the page opened with
    assert web.errors == []


def test_the_data_page_downloads_the_selected_dataset_and_copies_its_link(web, live_server):
    web.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = web.open("/")
    page.wait_for_selector("#data-table")
    href = page.get_attribute("#data-export-json", "href")
    assert href.startswith("/export/data/json?dataset=")
    with page.expect_download() as info:
        page.click("#data-export-json")
    assert info.value.suggested_filename.endswith(".json")
    page.click("[id*='copy-link']")
    web.wait_js("document.querySelector('.export-bar').innerText.includes('Link copied')")
    assert page.evaluate("navigator.clipboard.readText()") == page.url
    assert web.errors == []
