"""The Data page's parts of issue 17 as plain functions: the per-file report and the "Add files" control."""

from __future__ import annotations

import gzip

from core.store import DatasetStore
from dashapp import ids
from tests.dashapp.helpers import find, text
from tests.dashapp.web.test_upload_many import clf_lines, split


def test_a_log_dataset_of_several_files_shows_them_and_offers_add_files(ctx, pages, page_settings, tmp_path):
    store = DatasetStore(page_settings.data_dir)
    a, b = split(clf_lines(hours=3, seed=5), 2)
    paths = [tmp_path / "web1.log", tmp_path / "web2.log.gz", tmp_path / "web1-copy.log"]
    paths[0].write_bytes(a)
    paths[1].write_bytes(gzip.compress(b))
    paths[2].write_bytes(a)
    info = store.put([str(p) for p in paths])
    try:
        layout = pages["data"].layout(dataset=info.id)
        files = text(find(layout, ids.DATA_FILES))
        for p in paths:
            assert p.name in files
        assert "gzip" in files
        assert f"counted once: duplicate of {paths[0]}" in files
        widget = find(layout, ids.DATA_ADD_FILES).to_plotly_json()["props"]
        assert widget["data-upload-url"] == f"/upload?append={info.id}"
        assert widget["data-target-input"] == ids.DATA_UPLOADED  # the table refreshes as after an upload
        assert widget["data-button-label"] == "Add files"
    finally:
        store.delete(info.id)


def test_a_series_dataset_offers_no_add_files(ctx, pages, page_settings):
    layout = pages["data"].layout()  # the synthetic default, a 5-minute series
    assert find(layout, ids.DATA_ADD_FILES) is None
    assert find(layout, ids.DATA_FILES) is None
    assert "access-log datasets only" in text(layout)
