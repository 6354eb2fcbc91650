"""Who may upload and delete, over HTTP against a real gunicorn and on the Data page: with the trusted user
header and the lists set, others get a 403 naming the permission; with them unset, nothing changes."""

from __future__ import annotations

from dataclasses import replace

import pytest
import requests

from core.store import DatasetStore
from dashapp import ids
from dashapp.runtime.auth import parse_users
from tests.conftest import LiveServer
from tests.dashapp.helpers import find, text
from tests.dashapp.web.test_api import assert_error, call

HEADER = "X-Forwarded-User"
CSV = ("timestamp,requests\n" + "\n".join(f"2024-03-01T{h:02d}:00:00Z,{h + 1}" for h in range(24)) + "\n").encode()


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A gunicorn with TRAFFIC_AUTH_HEADER, TRAFFIC_UPLOADERS=alice and TRAFFIC_ADMINS=root."""
    server = LiveServer(
        tmp_path_factory.mktemp("guarded"),
        workers=1,
        TRAFFIC_AUTH_HEADER=HEADER,
        TRAFFIC_UPLOADERS="alice",
        TRAFFIC_ADMINS="root",
    ).start()
    yield server
    server.stop()


def as_user(name: str | None) -> dict:
    return {"headers": {} if name is None else {HEADER: name}}


def stored(server, name: str) -> str:
    src = server.root / f"{name}.csv"
    src.write_bytes(CSV.replace(b"2024-03-01", f"2024-03-{len(name):02d}".encode()))
    return DatasetStore(server.data_dir).put(src, name=name).id


@pytest.mark.parametrize(("user", "fragment"), [(None, f"no {HEADER} header"), ("mallory", "'mallory' is not in")])
def test_upload_without_permission_is_403_before_reading(guarded, user, fragment):
    r = call(guarded, "POST", "/upload?name=x.csv", data=CSV, **as_user(user))
    body = assert_error(r, 403, fragment)
    assert "'upload' permission" in body["message"]
    assert "TRAFFIC_UPLOADERS" in body["message"]


@pytest.mark.parametrize("user", ["alice", "root"])
def test_uploaders_and_admins_may_upload(guarded, user):
    r = call(
        guarded,
        "POST",
        f"/upload?name={user}.csv",
        data=CSV.replace(b",1\n", f",{len(user)}\n".encode()),
        **as_user(user),
    )
    assert r.status_code == 202, r.text


@pytest.mark.parametrize(("user", "fragment"), [(None, f"no {HEADER} header"), ("alice", "not in TRAFFIC_ADMINS")])
def test_delete_without_permission_is_403_and_keeps_the_dataset(guarded, user, fragment):
    ds = stored(guarded, f"keep-{user}")
    body = assert_error(call(guarded, "DELETE", f"/api/datasets/{ds}", **as_user(user)), 403, fragment)
    assert "'delete' permission" in body["message"]
    assert DatasetStore(guarded.data_dir).exists(ds)


def test_admins_may_delete(guarded):
    ds = stored(guarded, "gone")
    r = call(guarded, "DELETE", f"/api/datasets/{ds}", **as_user("root"))
    assert r.status_code == 200, r.text
    assert r.json() == {"deleted": ds}
    assert not DatasetStore(guarded.data_dir).exists(ds)
    assert_error(call(guarded, "DELETE", f"/api/datasets/{ds}", **as_user("root")), 404, "unknown dataset_id")
    assert_error(call(guarded, "DELETE", "/api/datasets/default", **as_user("root")), 400, "by its id")


def test_everyone_still_browses_and_computes(guarded):
    assert call(guarded, "GET", "/api/datasets").status_code == 200
    assert call(guarded, "GET", "/").status_code == 200
    r = call(guarded, "POST", "/api/recommend-scaling", json={"predicted_load": [120, 150, 180], "current_servers": 2})
    assert r.status_code == 200
    assert call(guarded, "GET", "/upload").status_code == 200


def test_unset_anyone_uploads_and_deletes_as_before(live_server):
    r = call(live_server, "POST", "/upload?name=open.csv", data=CSV.replace(b",5\n", b",6\n"))
    assert r.status_code == 202, r.text
    ds = stored(live_server, "open-delete")
    r = call(live_server, "DELETE", f"/api/datasets/{ds}", headers={HEADER: "whoever"})
    assert r.status_code == 200, r.text
    assert not DatasetStore(live_server.data_dir).exists(ds)


def test_the_header_is_not_trusted_when_the_setting_is_off(live_server):
    # With TRAFFIC_AUTH_HEADER unset, a client's X-Forwarded-User means nothing: no identity, no restriction.
    r = requests.get(live_server.url + "/api/datasets", headers={HEADER: "root"}, timeout=60)
    assert r.status_code == 200


# -- the Data page, as plain functions ----------------------------------------------------------------


@pytest.fixture
def guarded_page(dash_app, page_settings, monkeypatch):
    """The page app with the lists set; ``open(user)`` gives a request context as that user."""
    settings = replace(page_settings, auth_header=HEADER, uploaders=parse_users("alice"), admins=parse_users("root"))
    monkeypatch.setitem(dash_app.server.config, "TRAFFIC_SETTINGS", settings)

    def open_as(user: str | None):
        return dash_app.server.test_request_context("/", headers={} if user is None else {HEADER: user})

    return open_as


def test_data_page_shows_why_instead_of_controls(guarded_page, pages):
    with guarded_page("bob"):
        layout = pages["data"].layout()
        assert find(layout, ids.DATA_UPLOAD) is None  # no widget that would be refused
        assert "'upload' permission" in text(find(layout, ids.DATA_UPLOAD_DENIED))
        assert find(layout, ids.DATA_UPLOADED) is not None  # the refresh callback's input stays
        assert find(layout, ids.DATA_DELETE).disabled is True
        assert "not in TRAFFIC_ADMINS" in text(find(layout, ids.DATA_DELETE_DENIED))
    with guarded_page("alice"):
        layout = pages["data"].layout()
        assert find(layout, ids.DATA_UPLOAD) is not None
        assert find(layout, ids.DATA_DELETE).disabled is True
    with guarded_page("root"):
        layout = pages["data"].layout()
        assert find(layout, ids.DATA_UPLOAD) is not None
        assert not find(layout, ids.DATA_DELETE).disabled
        assert find(layout, ids.DATA_DELETE_DENIED) is None


def test_data_page_delete_callback_refuses_without_permission(guarded_page, pages, page_settings, tmp_path):
    store = DatasetStore(page_settings.data_dir)
    src = tmp_path / "mine.csv"
    src.write_bytes(CSV.replace(b"2024-03-01", b"2024-04-01"))
    ds = store.put(src, name="mine").id
    with guarded_page("alice"):
        search, message = pages["data"].delete_selected(store, {"dataset": ds})
    assert "not in TRAFFIC_ADMINS" in text(message)
    assert store.exists(ds)
    with guarded_page("root"):
        search, message = pages["data"].delete_selected(store, {"dataset": ds})
    assert (search, message) == (f"?deleted={ds}", None)
    assert not store.exists(ds)


def test_data_page_unchanged_when_unset(ctx, pages):
    layout = pages["data"].layout()
    assert find(layout, ids.DATA_UPLOAD) is not None
    assert not find(layout, ids.DATA_DELETE).disabled
    assert find(layout, ids.DATA_UPLOAD_DENIED) is None
