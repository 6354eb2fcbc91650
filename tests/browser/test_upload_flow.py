"""Issue 6's browser flow: upload generated NASA logs (plain and gzip) on the Data page, watch the
progress, read the ingest report, open the new dataset on the History page; an over-limit file is
refused with a message while the server keeps serving."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.browser.conftest import Web

pytestmark = pytest.mark.browser

LIMIT_MB = 12
WIDGET = "document.querySelector('#upload-widget')"


def _upload(web: Web, path) -> dict:
    """Pick ``path`` in the widget, press Upload, wait for the end; the new row's state and text (newest first)."""
    page = web.page
    rows_before = page.evaluate(f"{WIDGET}.querySelectorAll('.upload-row').length")
    page.set_input_files("#upload-widget input.upload-file", [str(path)])
    page.click("#upload-widget .upload-button")
    web.wait_js(f"{WIDGET}.querySelectorAll('.upload-row').length > {rows_before}")
    web.wait_js(f"(() => {{ const r = {WIDGET}.querySelectorAll('.upload-row')[0];"
                " return r && (r.dataset.state === 'done' || r.dataset.state === 'failed'); })()", timeout=240)
    return page.evaluate(
        f"(() => {{ const r = {WIDGET}.querySelectorAll('.upload-row')[0];"
        " const p = r.querySelector('.upload-progress');"
        " return {state: r.dataset.state, text: r.innerText, dataset: "
        f"{WIDGET}.dataset.datasetId || null, progress: p ? p.value : null, max: p ? p.max : null}}; }})()"
    )


def test_upload_logs_then_history_and_refuse_over_limit(browser, server_factory, make_nasa_log, tmp_path):
    server = server_factory(TRAFFIC_MAX_UPLOAD_MB=str(LIMIT_MB))
    plain = make_nasa_log(tmp_path / "jul01.log", "--start", "1995-07-01", "--end", "1995-07-01",
                          "--malformed", "0.001")
    gz = make_nasa_log(tmp_path / "jul02.log.gz", "--start", "1995-07-02", "--end", "1995-07-02", "--gzip")
    assert plain.stat().st_size < LIMIT_MB * 2**20

    web = Web(browser, server.url)
    try:
        web.open("/")
        web.page.wait_for_selector("#upload-widget input.upload-file")

        first = _upload(web, plain)
        assert first["state"] == "done", first["text"]
        assert first["progress"] == first["max"]  # the bar went all the way
        assert "rejected" in first["text"].lower()
        assert "parsed" in first["text"].lower()
        ds_plain = first["dataset"]
        # The datasets table lists it without a reload.
        web.wait_js("document.querySelector('#data-table').innerText.includes('jul01')", timeout=30)

        second = _upload(web, gz)
        assert second["state"] == "done", second["text"]
        ds_gz = second["dataset"]
        assert ds_gz
        assert ds_gz != ds_plain
        web.wait_js("document.querySelector('#data-table').innerText.includes('jul02')", timeout=30)
        assert f"dataset={ds_gz}" in web.page.inner_html("#data-table")  # its name links to it

        with urllib.request.urlopen(f"{server.url}/api/datasets", timeout=30) as r:
            listed = {d["id"]: d for d in json.loads(r.read())["datasets"]}
        assert listed[ds_plain]["start"].startswith("1995-07-01T00:00")
        assert listed[ds_gz]["start"].startswith("1995-07-02T00:00")

        # The new dataset is selectable on the other pages through its id in the URL.
        web.open(f"/history?dataset={ds_gz}")
        web.wait_js("document.querySelectorAll('.js-plotly-plot .scatterlayer .trace').length > 0", timeout=120)
        assert "jul02" in web.text("#_pages_content")

        # Over the limit: refused with a message; the server still serves everyone.
        web.open("/")
        web.page.wait_for_selector("#upload-widget input.upload-file")
        big = tmp_path / "too-big.log"
        line = plain.read_bytes().split(b"\n", 1)[0] + b"\n"
        big.write_bytes(line * ((LIMIT_MB * 2**20) // len(line) + 1000))
        refused = _upload(web, big)
        assert refused["state"] == "failed"
        assert "limit" in refused["text"].lower()
        with urllib.request.urlopen(f"{server.url}/health", timeout=10) as r:
            assert r.status == 200
        assert web.errors == []
    finally:
        web.close()
