"""Who may upload and delete (dashapp/runtime/auth.py): the settings, and the decision for each request."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dashapp.runtime.auth import parse_users, permission_problem, user_of
from dashapp.runtime.settings import Settings

HEADER = "X-Forwarded-User"


@pytest.fixture
def base(tmp_path, monkeypatch) -> Settings:
    for var in ("TRAFFIC_AUTH_HEADER", "TRAFFIC_UPLOADERS", "TRAFFIC_ADMINS"):
        monkeypatch.delenv(var, raising=False)
    return Settings.from_env(
        data_dir=tmp_path / "d", cache_dir=tmp_path / "c", models_dir=tmp_path / "m", secret_key="k"
    )


def as_user(name: str | None) -> dict:
    return {} if name is None else {HEADER: name}


def test_unset_keeps_todays_behaviour(base):
    assert (base.auth_header, base.uploaders, base.admins) == (None, None, None)
    for action in ("upload", "delete"):
        for who in (None, "anyone"):
            assert permission_problem(base, action, as_user(who)) is None


def test_settings_from_the_environment(base, tmp_path, monkeypatch):
    monkeypatch.setenv("TRAFFIC_AUTH_HEADER", HEADER)
    monkeypatch.setenv("TRAFFIC_UPLOADERS", "alice, bob carol")
    monkeypatch.setenv("TRAFFIC_ADMINS", "root")
    s = Settings.from_env(data_dir=tmp_path / "d", cache_dir=tmp_path / "c", models_dir=tmp_path / "m")
    assert s.auth_header == HEADER
    assert s.uploaders == {"alice", "bob", "carol"}
    assert s.admins == {"root"}
    monkeypatch.setenv("TRAFFIC_ADMINS", " ")
    assert Settings.from_env(data_dir=tmp_path / "d", cache_dir=tmp_path / "c").admins is None  # empty = unset


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"TRAFFIC_UPLOADERS": "alice"}, "TRAFFIC_AUTH_HEADER, which is unset"),
        ({"TRAFFIC_ADMINS": "root"}, "TRAFFIC_AUTH_HEADER, which is unset"),
        ({"TRAFFIC_AUTH_HEADER": "X User: me"}, "header name"),
    ],
)
def test_bad_settings_name_the_fix(base, tmp_path, monkeypatch, env, fragment):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError, match=fragment):
        Settings.from_env(data_dir=tmp_path / "d", cache_dir=tmp_path / "c")


def test_the_header_alone_restricts_nothing(base):
    s = replace(base, auth_header=HEADER)
    assert user_of(s, as_user(" alice ")) == "alice"
    assert user_of(s, as_user("")) is None
    assert user_of(s, as_user("x" * 1000)) is None
    assert user_of(base, as_user("alice")) is None  # header off: never read
    assert permission_problem(s, "upload", {}) is None
    assert permission_problem(s, "delete", {}) is None


def test_uploaders_and_admins(base):
    s = replace(base, auth_header=HEADER, uploaders=parse_users("alice"), admins=parse_users("root"))
    assert permission_problem(s, "upload", as_user("alice")) is None
    assert permission_problem(s, "upload", as_user("root")) is None  # admins upload too
    assert permission_problem(s, "delete", as_user("root")) is None
    msg = permission_problem(s, "delete", as_user("alice"))
    assert "'delete' permission" in msg
    assert "'alice' is not in TRAFFIC_ADMINS" in msg
    msg = permission_problem(s, "upload", as_user("mallory"))
    assert "'upload' permission" in msg
    assert "TRAFFIC_UPLOADERS or TRAFFIC_ADMINS" in msg
    msg = permission_problem(s, "upload", {})
    assert f"no {HEADER} header" in msg
    assert permission_problem(s, "upload", as_user("Alice")) is not None  # names compare exactly


def test_a_star_lets_any_signed_in_user(base):
    s = replace(base, auth_header=HEADER, uploaders=parse_users("*"), admins=parse_users("root"))
    assert permission_problem(s, "upload", as_user("anyone")) is None
    assert permission_problem(s, "upload", {}) is not None
    assert permission_problem(s, "delete", as_user("anyone")) is not None


def test_only_admins_listed_leaves_uploads_open(base):
    s = replace(base, auth_header=HEADER, admins=parse_users("root"))
    assert permission_problem(s, "upload", {}) is None
    assert permission_problem(s, "delete", as_user("alice")) is not None
