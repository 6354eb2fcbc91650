"""Issue 17's browser flow on the Data page: two files uploaded together make one dataset, whose per-file report
shows and which the datasets table lists without a reload; opening it and using "Add files" makes a new
dataset (the old one stays)."""

from __future__ import annotations

import gzip

import pytest

from tests.browser.conftest import Web
from tests.dashapp.web.test_upload_many import clf_lines, split

pytestmark = pytest.mark.browser


def _pick_and_send(web: Web, widget: str, paths: list) -> dict:
    """Pick ``paths`` in the widget ``#widget``, press its button, wait for the end; the newest row's state and text."""
    root = f"document.querySelector('#{widget}')"
    page = web.page
    page.wait_for_selector(f"#{widget} input.upload-file")
    before = page.evaluate(f"{root}.querySelectorAll('.upload-row').length")
    page.set_input_files(f"#{widget} input.upload-file", [str(p) for p in paths])
    page.click(f"#{widget} .upload-button")
    web.wait_js(f"{root}.querySelectorAll('.upload-row').length > {before}")
    web.wait_js(
        f"(() => {{ const r = {root}.querySelectorAll('.upload-row')[0];"
        " return r && (r.dataset.state === 'done' || r.dataset.state === 'failed'); })()",
        timeout=240,
    )
    return page.evaluate(
        f"(() => {{ const r = {root}.querySelectorAll('.upload-row')[0];"
        f" return {{state: r.dataset.state, text: r.innerText, dataset: {root}.dataset.datasetId || null,"
        " files: Array.from(r.querySelectorAll('tr.upload-file-row')).map(t => t.innerText)}; })()"
    )


def test_two_files_make_one_dataset_then_add_files(browser, server_factory, tmp_path):
    server = server_factory()
    a, b, c = split(clf_lines(hours=6, seed=7), 3)
    first, second, third = tmp_path / "web1.log", tmp_path / "web2.log.gz", tmp_path / "web1-later.log"
    first.write_bytes(a)
    second.write_bytes(gzip.compress(b))
    third.write_bytes(c)
    lines_a = a.count(b"\n")

    web = Web(browser, server.url)
    try:
        web.open("/")
        both = _pick_and_send(web, "upload-widget", [first, second])
        assert both["state"] == "done", both["text"]
        assert both["text"].startswith("2 files: web1.log, web2.log.gz")
        # The per-file report: each file with its format, time range and lines parsed.
        assert len(both["files"]) == 2, both
        assert both["files"][0].startswith("web1.log\tapache\t1995-07-01 00:00")
        assert both["files"][1].startswith("web2.log.gz\tapache (gzip)\t1995-07-01 0")
        assert f"\t{lines_a}\t0" in both["files"][0]  # lines parsed, none rejected
        ds_both = both["dataset"]
        assert ds_both
        # The datasets table lists it without a reload.
        web.wait_js(f"document.querySelector('#data-table').innerHTML.includes('dataset={ds_both}')", timeout=60)
        assert "web1.log, web2.log.gz" in web.text("#data-table")

        # Open it from the table (a client-side link): its report lists the files, and "Add files" is offered.
        web.page.click(f"#data-table a[href='/?dataset={ds_both}']")
        web.wait_js(
            "(() => { const w = document.querySelector('#data-add-files');"
            f" return w && w.dataset.uploadUrl === '/upload?append={ds_both}'; }})()",
            timeout=60,
        )
        assert "web2.log.gz" in web.text("#data-files")

        added = _pick_and_send(web, "data-add-files", [third, first])  # web1.log is part of it already
        assert added["state"] == "done", added["text"]
        ds_added = added["dataset"]
        assert ds_added
        assert ds_added != ds_both
        assert "web1.log is already in the dataset" in added["text"]
        assert any(f.startswith("web1.log\t") and "counted once: already in the dataset" in f for f in added["files"])
        web.wait_js(f"document.querySelector('#data-table').innerHTML.includes('dataset={ds_added}')", timeout=60)
        assert f"dataset={ds_both}" in web.page.inner_html("#data-table")  # the old one stays
        assert web.errors == []
    finally:
        web.close()
