"""A dataset's custom events in the store: round trip, validation, atomic replacement, append carries them."""

from __future__ import annotations

import datetime as dt
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.errors import InputError
from core.events import Event, EventError, events_digest, validate_events
from core.store import EVENTS_FILE, DatasetStore

LOG = b"".join(
    f'h{i % 7} - - [01/Jul/1995:00:{i % 60:02d}:01 -0400] "GET /{i} HTTP/1.0" 200 {i}\n'.encode() for i in range(120)
)
SALE = {"name": "Summer sale", "start": "1995-07-10", "end": "1995-07-12", "impact": "high_traffic"}


@pytest.fixture
def stored(tmp_path):
    store = DatasetStore(tmp_path / "data")
    src = tmp_path / "a.log"
    src.write_bytes(LOG)
    return store, store.put(src).id


def test_events_round_trip_and_keep_the_id(stored):
    store, ds = stored
    assert store.events(ds) == ()
    meta_before = (store.root / ds / "meta.json").read_bytes()
    saved = store.set_events(ds, [SALE, {"name": "Maintenance", "date": "1995-07-20", "impact": "outage"}])
    assert saved == store.events(ds)
    assert saved[0] == Event("Summer sale", dt.date(1995, 7, 10), dt.date(1995, 7, 12), "high_traffic")
    assert saved[1].start == saved[1].end == dt.date(1995, 7, 20)  # one whole day
    assert (store.root / ds / "meta.json").read_bytes() == meta_before  # annotations, not content
    assert [d.id for d in store.list()] == [ds]
    assert store.set_events(ds, []) == ()
    assert store.events(ds) == ()
    assert sorted(p.name for p in (store.root / ds).iterdir() if p.name.endswith(".part")) == []


def test_digest_changes_with_the_events(stored):
    store, ds = stored
    empty = store.events_digest(ds)
    store.set_events(ds, [SALE])
    one = store.events_digest(ds)
    store.set_events(ds, [{**SALE, "end": "1995-07-13"}])
    assert len({empty, one, store.events_digest(ds)}) == 3
    assert events_digest(store.events(ds)) == store.events_digest(ds)


@pytest.mark.parametrize(
    ("event", "field", "msg"),
    [
        ({**SALE, "name": "  "}, "name", "needs 'name'"),
        ({**SALE, "impact": "huge"}, "impact", "impact must be one of high_traffic, low_traffic, outage"),
        ({**SALE, "start": "1995-07-12", "end": "1995-07-10"}, "end", "swap the dates"),
        ({**SALE, "start": "soon"}, "start", "'soon' is not a date; use YYYY-MM-DD"),
        ({**SALE, "colour": "red"}, "colour", "unknown key 'colour'"),
        ({**SALE, "name": 7}, "name", "name must be a string"),
        ({**SALE, "name": "x" * 200}, "name", "shorten it"),
    ],
)
def test_bad_events_name_the_field_and_store_nothing(stored, event, field, msg):
    store, ds = stored
    store.set_events(ds, [SALE])
    with pytest.raises(EventError, match=msg) as info:
        store.set_events(ds, [SALE, event] if event.get("name") != SALE["name"] else [event])
    assert info.value.field == field
    assert store.events(ds)[0].name == "Summer sale"  # the stored list is untouched


def test_duplicate_names_and_limits():
    with pytest.raises(EventError, match="also event 1's; names identify events, rename one") as info:
        validate_events([SALE, SALE])
    assert (info.value.index, info.value.field) == (2, "name")
    with pytest.raises(EventError, match="must be a list"):
        validate_events(SALE)
    with pytest.raises(EventError, match="exceed the limit of 500"):
        validate_events([{**SALE, "name": f"e{i}"} for i in range(501)])


def test_unknown_dataset(stored):
    store, _ = stored
    with pytest.raises(InputError, match="unknown dataset id"):
        store.set_events("abcdef0123456789", [SALE])
    with pytest.raises(InputError, match="invalid dataset id"):
        store.events("../x")


def test_a_failed_write_leaves_the_old_file_and_no_part(stored, monkeypatch):
    store, ds = stored
    store.set_events(ds, [SALE])
    before = (store.root / ds / EVENTS_FILE).read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "fsync", crash)  # the temporary file is written, the rename never happens
    with pytest.raises(OSError, match="simulated"):
        store.set_events(ds, [{**SALE, "name": "Other"}])
    monkeypatch.undo()
    assert (store.root / ds / EVENTS_FILE).read_bytes() == before
    assert [p.name for p in (store.root / ds).iterdir() if p.name.startswith(".")] == []
    assert json.loads(before)["events"][0]["name"] == "Summer sale"


def test_append_carries_the_events_over(stored, tmp_path):
    store, ds = stored
    store.set_events(ds, [SALE])
    more = tmp_path / "b.log"
    more.write_bytes(LOG.replace(b"01/Jul/1995", b"02/Jul/1995"))
    new = store.append(ds, more)
    assert new.id != ds
    assert store.events(new.id) == store.events(ds)


def test_default_id_is_accepted(tmp_path):
    store = DatasetStore(tmp_path)
    store.set_events("default", [SALE])
    assert store.events(store.default_id())[0].name == "Summer sale"


def test_concurrent_adds_all_land(stored):
    store, ds = stored

    def add(i: int) -> None:
        store.update_events(ds, lambda current: [*current, {**SALE, "name": f"e{i}"}])

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(add, range(16)))
    assert sorted(e.name for e in store.events(ds)) == sorted(f"e{i}" for i in range(16))


def test_a_damaged_events_file_says_how_to_set_them_again(stored):
    store, ds = stored
    (store.root / ds / EVENTS_FILE).write_text("{not json")
    with pytest.raises(InputError, match=f"cannot be read .*core events {ds} --set FILE.json"):
        store.events(ds)
    store.set_events(ds, [SALE])  # replacing them works
    assert store.events(ds)[0].name == "Summer sale"
