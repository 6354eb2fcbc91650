"""The rendered-page cache: a repeat visit is one read; dataset and code changes render again."""

from __future__ import annotations

import json

import pytest

from core.store import DatasetStore
from dashapp import ids
from dashapp import state as st
from dashapp.components import pagecache
from dashapp.runtime.backends import results
from tests.dashapp.helpers import find


def _router_body(path: str, search: str) -> str:
    """The request Dash's page router sends to render ``path + search``."""
    return json.dumps({
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": path},
                   {"id": "_pages_location", "property": "search", "value": search}],
        "changedPropIds": ["_pages_location.pathname"], "state": []})


@pytest.fixture
def render(dash_app):
    client = dash_app.server.test_client()

    def _render(path: str, search: str = "") -> dict:
        r = client.post("/_dash-update-component", data=_router_body(path, search), content_type="application/json")
        assert r.status_code == 200, r.data[:500]
        return r.get_json()["response"]["_pages_content"]["children"]

    return _render


@pytest.fixture
def builds(pages, monkeypatch):
    """Counts the what-if page's builds (the cache must skip them on a hit)."""
    calls = []
    real = pages["what_if"].build

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(pages["what_if"], "build", counting)
    return calls


@pytest.fixture
def computed(ctx, pages):
    """``computed(search)`` runs the what-if page's job for a query: its page then renders the result (a page still
    waiting for its job is not stored)."""
    return lambda search: pages["what_if"].compute(lambda *a: None, {"search": search})


def _texts(tree) -> str:
    return json.dumps(tree)


def test_a_repeat_visit_is_read_from_the_cache(render, builds, computed):
    search = "?granularity=15&mult=1.7"
    computed(search)
    first = render("/what-if", search)
    second = render("/what-if", search)
    assert builds == [1]
    assert second == first
    assert "what_if-graph" in _texts(first)
    # Another spelling of the same scenario (defaults spelled out, other order) is the same entry.
    assert render("/what-if", "?mult=1.70&granularity=15&policy=balanced") == first
    assert builds == [1]
    # A different scenario is rendered.
    render("/what-if", "?granularity=15&mult=1.8")
    assert builds == [1, 1]


def test_warnings_quote_the_raw_input_so_they_are_part_of_the_key(render, builds):
    a = render("/what-if", "?granularity=15&mult=abc")
    b = render("/what-if", "?granularity=15&mult=xyz")
    assert builds == [1, 1]
    assert "abc" in _texts(a)
    assert "xyz" in _texts(b)


def test_a_code_change_renders_again(render, builds, monkeypatch):
    render("/what-if", "?granularity=15&mult=1.3")
    monkeypatch.setattr("dashapp.runtime.result_cache.code_version", lambda: "another-version")
    render("/what-if", "?granularity=15&mult=1.3")
    assert builds == [1, 1]


def test_a_deleted_or_restored_dataset_renders_again(render, builds, computed, page_settings, tmp_path):
    store = DatasetStore(page_settings.data_dir)
    src = tmp_path / "four-days.csv"
    rows = [f"2024-01-0{1 + i // 288}T{(i % 288) * 5 // 60:02d}:{(i % 288) * 5 % 60:02d}:00Z,{100 + i % 288}"
            for i in range(4 * 288)]
    src.write_text("timestamp,requests\n" + "\n".join(rows))
    info = store.put(src, name="four days")
    search = f"?dataset={info.id}&granularity=15"
    computed(search)
    shown = render("/what-if", search)
    assert render("/what-if", search) == shown
    assert builds == [1]
    store.delete(info.id)
    gone = render("/what-if", search)  # the default dataset, with a warning
    assert builds == [1, 1]
    assert "not found" in _texts(gone)
    again = store.put(src, name="four days, again")  # same content: same id, a new version
    assert again.id == info.id
    back = render("/what-if", search)
    assert builds == [1, 1, 1]
    assert "not found" not in _texts(back)


def test_a_page_waiting_for_its_job_is_not_stored(render, page_settings, pages):
    search = "?granularity=15&budget=11&price=0.91"
    pending = render("/scenarios", search)
    assert "the matrix and the Pareto front appear here" in _texts(pending)
    parsed = st.parse_query("scenarios", st.query_from_search(search))
    with results(page_settings) as rc:
        assert rc.get(pagecache.page_key(DatasetStore(page_settings.data_dir), parsed)) is None


def test_direct_calls_get_component_trees_and_the_switch_turns_the_cache_off(ctx, pages, render, builds, computed,
                                                                            monkeypatch):
    computed("?granularity=15&mult=1.1")
    render("/what-if", "?granularity=15&mult=1.1")
    layout = pages["what_if"].layout(granularity="15", mult="1.1")  # outside Dash's request: a tree
    assert find(layout, ids.WHATIF_TABLE) is not None
    assert builds == [1, 1]
    monkeypatch.setenv("TRAFFIC_PAGE_CACHE", "0")
    render("/what-if", "?granularity=15&mult=1.1")
    assert builds == [1, 1, 1]


def test_frozen_json_serializes_back_to_the_same_bytes():
    from plotly.io.json import to_json_plotly

    raw = pagecache.to_json_bytes({"a": [1, 2.5, None], "b": "</script>"})
    assert json.loads(to_json_plotly({"x": pagecache.frozen(raw)}))["x"] == json.loads(raw)
