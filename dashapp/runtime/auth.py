"""Who may change the store: the user a trusted proxy names in a header, and who may upload or delete.

The workbench has no accounts of its own; in a shared deployment it sits behind an authenticating reverse
proxy (oauth2-proxy, nginx ``auth_request``, Traefik forward-auth, ...). Three settings
(:class:`dashapp.runtime.settings.Settings`) use the identity that proxy establishes:

- ``TRAFFIC_AUTH_HEADER`` — the request header holding the signed-in user, e.g. ``X-Forwarded-User``.
  Off when unset. **Trust it only behind a proxy that sets it on every request and strips any header of
  that name a client sends**: otherwise anyone can claim to be anyone.
- ``TRAFFIC_UPLOADERS`` — users who may upload datasets (comma- or space-separated; ``*`` = any signed-in
  user). Unset: anyone may upload, as without these settings.
- ``TRAFFIC_ADMINS`` — users who may delete datasets (they may upload too). Unset: anyone may delete.

Editing a dataset's events (the Data page's editor, ``PUT /api/datasets/<id>/events``) needs the upload
permission: it changes what every user's forecasts and charts show.

Everyone else browses, runs jobs and bookmarks as before; an upload or a delete they attempt answers 403
with a message naming the permission needed (the API as JSON, the Data page as a message in place of the
control). Names compare exactly (after trimming spaces). The CLI works on local files and is unaffected.
"""

from __future__ import annotations

from collections.abc import Mapping

from dashapp.runtime.settings import current_settings, parse_users

__all__ = ["ACTIONS", "ANY_USER", "parse_users", "permission_problem", "request_problem", "user_of"]

#: What the lists guard: action -> (the setting that lists who may, what the action is called in messages).
ACTIONS = {"upload": ("TRAFFIC_UPLOADERS", "uploading datasets"), "delete": ("TRAFFIC_ADMINS", "deleting datasets"),
           "events": ("TRAFFIC_UPLOADERS", "editing a dataset's events")}
#: Actions that need another action's permission (editing events: the upload permission).
_NEEDS = {"events": "upload"}
#: In a list: any signed-in user (the header is present and not empty).
ANY_USER = "*"
_MAX_USER = 256


def user_of(settings, headers: Mapping[str, str]) -> str | None:
    """The signed-in user the proxy named, or None (header off, absent, empty or implausibly long)."""
    if not settings.auth_header:
        return None
    value = (headers.get(settings.auth_header) or "").strip()
    return value if 0 < len(value) <= _MAX_USER else None


def _allowed(settings, action: str) -> frozenset[str] | None:
    action = _NEEDS.get(action, action)
    if action == "upload":
        if settings.uploaders is None:
            return None
        return settings.uploaders | (settings.admins or frozenset())
    if action == "delete":
        return settings.admins
    raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")


def permission_problem(settings, action: str, headers: Mapping[str, str]) -> str | None:
    """Why this request may not ``action`` (``"upload"``, ``"delete"`` or ``"events"``), or None when it may.

    The message names the permission needed, the user (or the missing header) and the setting to change.
    """
    allowed = _allowed(settings, action)
    if allowed is None:
        return None  # no list: anyone may, as before
    setting, what = ACTIONS[action]
    lists = setting if action == "delete" else f"{setting} or TRAFFIC_ADMINS"
    action = _NEEDS.get(action, action)  # the permission's name in the message
    who = user_of(settings, headers)
    if who is None:
        return (
            f"{what} needs the '{action}' permission (users in {lists}), and this request names no signed-in "
            f"user (no {settings.auth_header} header from the authenticating proxy); sign in through the proxy"
        )
    if ANY_USER in allowed or who in allowed:
        return None
    return (
        f"{what} needs the '{action}' permission: {who[:80]!r} is not in {lists}; "
        "ask an administrator of the workbench to add you"
    )


def request_problem(action: str) -> str | None:
    """:func:`permission_problem` for the current Flask request (pages' callbacks and HTTP routes)."""
    from flask import has_request_context, request

    return permission_problem(current_settings(), action, request.headers if has_request_context() else {})
