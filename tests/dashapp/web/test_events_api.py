"""``GET``/``PUT /api/datasets/<id>/events``: the whole list, validated (400 naming the field), the upload
permission when the lists are set; an API forecast uses the stored events and keys its cache on them."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.store import DatasetStore
from dashapp.runtime.auth import parse_users

HEADER = "X-Forwarded-User"
SALE = {"name": "Summer sale", "start": "1995-08-30", "end": "1995-09-01", "impact": "high_traffic"}


@pytest.fixture
def client(dash_app, page_settings):
    store = DatasetStore(page_settings.data_dir)
    ds = store.default_id()
    store.set_events(ds, [])
    yield dash_app.server.test_client()
    store.set_events(ds, [])  # the session's default dataset, as the other tests expect it


def url(ds: str = "default") -> str:
    return f"/api/datasets/{ds}/events"


def test_put_then_get_round_trip(client, page_settings):
    r = client.get(url())
    assert r.status_code == 200, r.json
    assert r.json["events"] == []
    assert "Hurricane Erin outage" in {e["name"] for e in r.json["builtin"]}
    r = client.put(url(), json={"events": [SALE, {"name": "Quiet day", "date": "1995-07-30",
                                                   "impact": "low_traffic"}]})
    assert r.status_code == 200, r.json
    ds = r.json["dataset_id"]
    assert r.json["events"][1] == {"name": "Quiet day", "start": "1995-07-30", "end": "1995-07-30",
                                   "impact": "low_traffic"}
    assert client.get(url(ds)).json["events"] == r.json["events"]
    assert [e.name for e in DatasetStore(page_settings.data_dir).events(ds)] == ["Summer sale", "Quiet day"]
    assert client.put(url(), json={"events": []}).json["events"] == []


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"events": [SALE, {**SALE, "name": "B", "impact": "huge"}]}, "events[1].impact", "impact must be one of"),
        ({"events": [{**SALE, "start": "1995-09-02"}]}, "events[0].end", "swap the dates"),
        ({"events": [{**SALE, "name": ""}]}, "events[0].name", "needs 'name'"),
        ({"events": [{**SALE, "start": "tomorrow"}]}, "events[0].start", "use YYYY-MM-DD"),
        ({"events": [SALE, SALE]}, "events[1].name", "rename one"),
        ({"events": [{**SALE, "color": "red"}]}, "events[0].color", "unknown key 'color'"),
        ({"events": [42]}, "events[0]", "expected an object"),
        ({"events": "Summer sale"}, "events", "must be an array"),
        ({}, "events", "got nothing"),
        ({"events": [], "extra": 1}, "extra", "unknown field"),
    ],
)
def test_bad_lists_are_400_naming_the_field_and_change_nothing(client, body, field, fragment):
    client.put(url(), json={"events": [SALE]})
    r = client.put(url(), json=body)
    assert r.status_code == 400, r.json
    assert r.json["field"] == field
    assert fragment.lower() in r.json["message"].lower(), r.json["message"]
    assert [e["name"] for e in client.get(url()).json["events"]] == ["Summer sale"]


def test_unknown_and_malformed_datasets(client):
    assert client.get(url("abcdef0123456789")).status_code == 404
    assert client.put(url("abcdef0123456789"), json={"events": []}).status_code == 404
    assert client.get(url("Not_An_Id")).status_code == 400
    r = client.put(url(), data="{oops", content_type="application/json")
    assert r.status_code == 400
    assert "malformed JSON" in r.json["message"]


def test_editing_needs_the_upload_permission_when_the_lists_are_set(client, dash_app, page_settings, monkeypatch):
    guarded = replace(page_settings, auth_header=HEADER, uploaders=parse_users("alice"),
                      admins=parse_users("root"))
    monkeypatch.setitem(dash_app.server.config, "TRAFFIC_SETTINGS", guarded)
    r = client.put(url(), json={"events": [SALE]}, headers={HEADER: "bob"})
    assert r.status_code == 403
    assert "editing a dataset's events needs the 'upload' permission" in r.json["message"]
    assert "'bob' is not in TRAFFIC_UPLOADERS or TRAFFIC_ADMINS" in r.json["message"]
    assert client.put(url(), json={"events": [SALE]}).status_code == 403  # no user header
    assert client.get(url(), headers={HEADER: "bob"}).status_code == 200  # reading stays open
    for user in ("alice", "root"):
        assert client.put(url(), json={"events": [SALE]}, headers={HEADER: user}).status_code == 200


def test_an_api_forecast_uses_the_stored_events_and_keys_on_them(client):
    body = {"dataset_id": "default", "granularity": "60min", "horizon": "1d", "model": "seasonal_naive"}
    first = client.post("/api/forecast", json=body).json
    assert "Summer sale" not in {e["name"] for e in first["events"]}
    assert client.post("/api/forecast", json=body).json["cached"] is True
    client.put(url(), json={"events": [{**SALE, "end": "1995-09-03"}]})
    with_sale = client.post("/api/forecast", json=body).json
    assert with_sale["cached"] is False  # another key: computed with the event as a regressor
    assert "Summer sale" in {e["name"] for e in with_sale["events"]}
