"""Adding a page is one page file: its ``dash.register_page(..., params=PARAMS)`` declaration gives the URL
parsing, the controls, the URL writer and the navbar link; ``state.py`` and ``app.py`` name no page."""

from __future__ import annotations

from pathlib import Path

import dash
import pytest
from dash import _callback, html

from dashapp import ids
from dashapp import state as st
from dashapp.app import nav_pages
from dashapp.components.layout import control_panel
from dashapp.components.urlsync import controls_search, register_url_writer, url_controls
from tests.dashapp.helpers import find, text, walk

PAGES_DIR = Path(__file__).resolve().parents[2] / "dashapp" / "pages"
PROBE = "probe_page"


def test_every_page_file_is_registered_and_declares_its_params(dash_app):
    files = sorted(p.stem for p in PAGES_DIR.glob("*.py") if not p.name.startswith("_"))
    assert sorted(st.page_names()) == files
    for entry in dash.page_registry.values():
        params = entry.get("params")
        assert isinstance(params, tuple), f"{entry['module']} passes no params=(Param(...), ...) to register_page"
        assert all(isinstance(p, st.Param) for p in params)
        keys = [p.key for p in params]
        assert len(keys) == len(set(keys)), entry["module"]
        assert "dataset" in keys  # the navbar carries the selected dataset to every page
        assert st.params_of(st.page_name(entry)) is params


def test_each_page_shows_exactly_the_controls_its_url_writer_listens_to(dash_app, pages):
    for name, module in pages.items():
        if not hasattr(module, "controls"):
            continue  # the data page: no parameter has a control
        shown = {c.id for c in walk(module.controls(st.parse_query(name, {}))) if getattr(c, "id", None)}
        assert shown == {ids.control(name, k) for k, _ in url_controls(name)}, name


def test_the_navbar_lists_the_registered_pages_in_their_order(dash_app):
    assert nav_pages() == [("data", "Data", "/"), ("history", "History", "/history"),
                           ("forecast", "Forecast", "/forecast"), ("scenarios", "Scenarios", "/scenarios"),
                           ("what_if", "What-if", "/what-if"), ("plan", "Plan", "/plan")]
    nav = next(c for c in walk(find(dash_app.layout, ids.NAV)) if type(c).__name__ == "Nav")
    links = [item.children for item in nav.children]
    assert [(a.id, a.children, a.href) for a in links] == [(ids.nav_link(p), label, path)
                                                          for p, label, path in nav_pages()]


@pytest.fixture
def probe_page(dash_app):
    """A page declared the way a page module declares itself (Dash accepts register_page once an app exists)."""
    params = (
        st.DATASET,
        st.Param("size", "int", 3, 1, 10, label="Size"),
        st.Param("colour", "choice", "red", choices=("red", "blue"), choice_labels=("Red", "Blue"), label="Colour",
                 aliases=(("navy", "blue"),)),
        st.Param("smooth", "bool", False, label="Smooth"),
        st.Param("since", "time", label="Since", placeholder="1995-07-01", help="empty: from the start"),
    )
    module = f"tests.{PROBE}"
    dash.register_page(module, path="/probe", name="Probe", order=99, layout=html.Div(), params=params)
    try:
        yield params
    finally:
        del dash.page_registry[module]


def test_a_new_page_gets_its_query_parsed_controls_built_and_url_written(probe_page):
    parsed = st.parse_query(PROBE, {"size": "12", "colour": "Blue", "since": "1995-07-02", "bogus": "1"})
    assert parsed.values == {"dataset": None, "size": 3, "colour": "blue", "smooth": False, "since": "1995-07-02"}
    assert "size='12' ignored: must be between 1 and 10; using 3." in parsed.warnings
    assert any("'bogus'" in w for w in parsed.warnings)
    assert parsed.search() == "?colour=blue&since=1995-07-02"
    assert st.parse_query(PROBE, {"colour": "navy"}).values["colour"] == "blue"  # an alias, read without warning

    panel = control_panel(PROBE, parsed.values)
    size = find(panel, ids.control(PROBE, "size"))
    # No browser range check: the server checks the bounds and warns (a blanked value would fall back silently).
    assert (size.type, size.value, size.min, size.max, size.step) == ("number", 3, None, None, 1)
    colour = find(panel, ids.control(PROBE, "colour"))
    assert colour.options == [{"label": "Red", "value": "red"}, {"label": "Blue", "value": "blue"}]
    assert colour.value == "blue"
    assert find(panel, ids.control(PROBE, "smooth")).label == "Smooth"
    since = find(panel, ids.control(PROBE, "since"))
    assert (since.value, since.placeholder) == ("1995-07-02", "1995-07-01")
    assert "Size" in text(panel)
    assert "empty: from the start" in text(panel)
    assert find(panel, ids.control(PROBE, "dataset")) is None  # the dataset has no control

    controls = url_controls(PROBE)
    assert controls == [("size", "value"), ("colour", "value"), ("smooth", "value"), ("since", "value")]
    keys = [k for k, _ in controls]
    values = [getattr(find(panel, ids.control(PROBE, k)), prop) for k, prop in controls]
    assert controls_search(PROBE, keys, values, {"dataset": "ds1"}) == "?dataset=ds1&colour=blue&since=1995-07-02"
    assert controls_search(PROBE, keys, [11, "red", True, ""], None) == "?size=11&smooth=1"  # invalid kept to warn

    assert nav_pages()[-1] == (PROBE, "Probe", "/probe")


def test_the_url_writer_listens_to_the_declared_controls(probe_page):
    before = len(_callback.GLOBAL_CALLBACK_LIST)
    register_url_writer(PROBE, "probe-ctx")
    try:
        (cb,) = _callback.GLOBAL_CALLBACK_LIST[before:]
        assert cb["output"] == f"{ids.page_url(PROBE)}.search"
        assert [i["id"] for i in cb["inputs"]] == [ids.control(PROBE, k) for k in ("size", "colour", "smooth", "since")]
        assert [s["id"] for s in cb["state"]] == ["probe-ctx"]
    finally:  # leave Dash's global callback registry as it was
        del _callback.GLOBAL_CALLBACK_LIST[before:]
        _callback.GLOBAL_CALLBACK_MAP.pop(f"{ids.page_url(PROBE)}.search", None)


def test_control_sections_must_place_each_control_once(probe_page):
    values = st.defaults(PROBE)
    panel = control_panel(PROBE, values, [("First", ("size", "colour")), (None, ("smooth", "since"))])
    assert [type(c).__name__ for c in panel if type(c).__name__ in ("H6", "Hr")] == ["H6", "Hr"]
    with pytest.raises(ValueError, match=r"missing \['since'\]"):
        control_panel(PROBE, values, [("First", ("size", "colour", "smooth"))])
    with pytest.raises(ValueError, match=r"unknown \['dataset'\]"):
        control_panel(PROBE, values, [(None, ("dataset", "size", "colour", "smooth", "since"))])


def test_undeclared_and_unknown_pages_are_named(dash_app):
    dash.register_page("tests.bare_page", path="/bare", layout=html.Div())
    try:
        with pytest.raises(KeyError, match="declares no parameters"):
            st.parse_query("bare_page", {})
    finally:
        del dash.page_registry["tests.bare_page"]
    with pytest.raises(KeyError, match="unknown page 'nope'"):
        st.parse_query("nope", {})


def test_old_model_names_in_forecast_bookmarks_still_work(dash_app):
    from core.forecast import model_aliases

    for alias, name in model_aliases().items():
        parsed = st.parse_query("forecast", {"model": alias})
        assert (parsed.values["model"], parsed.warnings) == (name, [])


def test_a_declaration_is_checked():
    with pytest.raises(ValueError, match="one label per choice"):
        st.Param("x", "choice", "a", choices=("a", "b"), choice_labels=("A",))
    with pytest.raises(ValueError, match="control must be one of"):
        st.Param("x", "float", 1.0, control="dial")
