"""The Data page's events editor as plain functions: add, edit (rename), remove, messages, permission."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.errors import InputError
from core.store import DatasetStore
from dashapp import ids
from dashapp.components.events_editor import remove_event, save_event
from dashapp.runtime.auth import parse_users
from tests.dashapp.helpers import find, text

SALE = {"name": "Summer sale", "start": "1995-07-10", "end": "1995-07-12", "impact": "high_traffic"}


@pytest.fixture
def store(page_settings):
    store = DatasetStore(page_settings.data_dir)
    store.set_events("default", [])
    yield store
    store.set_events("default", [])


def test_add_edit_remove(store):
    ds = store.default_id()
    events, done = save_event(store, ds, SALE)
    assert done == "Added 'Summer sale'"
    quiet = {"name": " Quiet day ", "start": "1995-07-20", "end": "", "impact": "low_traffic"}
    events, _ = save_event(store, ds, quiet)
    assert events[1].start == events[1].end  # no last day: one day
    events, done = save_event(store, ds, {**SALE, "name": "Big sale", "end": "1995-07-13"}, editing="Summer sale")
    assert done == "Saved 'Big sale' (was 'Summer sale')"
    assert [(e.name, str(e.end)) for e in events] == [("Big sale", "1995-07-13"), ("Quiet day", "1995-07-20")]
    events, done = remove_event(store, ds, "Quiet day")
    assert (done, [e.name for e in store.events(ds)]) == ("Removed 'Quiet day'", ["Big sale"])


@pytest.mark.parametrize(
    ("record", "editing", "message"),
    [
        ({**SALE, "start": "10/07/95x"}, None, "start '10/07/95x' is not a date; use YYYY-MM-DD"),
        ({**SALE, "end": "1995-07-01"}, None, "swap the dates"),
        ({**SALE, "name": " "}, None, "needs a name: type one in the name field"),
        ({**SALE, "start": ""}, None, "needs its first day: type it as YYYY-MM-DD"),
        ({**SALE, "impact": "big"}, None, "impact must be one of high_traffic"),
        (SALE, None, "an event named 'Summer sale' exists: click its name in the list to edit it"),
        ({**SALE, "name": "Summer sale"}, "Quiet day", "an event named 'Summer sale' exists"),
    ],
)
def test_bad_input_names_the_field_and_the_fix(store, record, editing, message):
    ds = store.default_id()
    save_event(store, ds, SALE)
    save_event(store, ds, {**SALE, "name": "Quiet day"})
    with pytest.raises(InputError, match=message) as info:
        save_event(store, ds, record, editing)
    assert not str(info.value).startswith("event 1")
    assert [e.name for e in store.events(ds)] == ["Summer sale", "Quiet day"]


def test_remove_needs_a_known_name(store):
    with pytest.raises(InputError, match="no event named 'Nope'"):
        remove_event(store, store.default_id(), "Nope")
    with pytest.raises(InputError, match="type or pick"):
        remove_event(store, store.default_id(), "  ")


def test_the_data_page_lists_the_events_with_the_editor(ctx, pages, store):
    save_event(store, store.default_id(), SALE)
    layout = pages["data"].layout()
    listing = text(find(layout, ids.DATA_EVENTS))
    assert "Summer sale" in listing
    assert "1995-07-12" in listing
    assert "high traffic" in listing
    assert find(layout, ids.DATA_EVENT_SAVE).disabled is False
    assert find(layout, ids.DATA_EVENTS_DENIED) is None


def test_who_may_not_upload_sees_the_events_but_no_working_buttons(dash_app, pages, page_settings, store,
                                                                   monkeypatch):
    guarded = replace(page_settings, auth_header="X-User", uploaders=parse_users("alice"), admins=None)
    monkeypatch.setitem(dash_app.server.config, "TRAFFIC_SETTINGS", guarded)
    save_event(store, store.default_id(), SALE)
    with dash_app.server.test_request_context("/", headers={"X-User": "bob"}):
        layout = pages["data"].layout()
        assert "Summer sale" in text(find(layout, ids.DATA_EVENTS))
        assert find(layout, ids.DATA_EVENT_SAVE).disabled is True
        assert find(layout, ids.DATA_EVENT_REMOVE).disabled is True
        assert "editing a dataset's events needs the 'upload' permission" in text(find(layout,
                                                                                      ids.DATA_EVENTS_DENIED))
    with dash_app.server.test_request_context("/", headers={"X-User": "alice"}):
        assert find(pages["data"].layout(), ids.DATA_EVENT_SAVE).disabled is False
