"""Deployment settings, read once from the environment (12-factor style)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BACKENDS", "Settings", "current_settings", "parse_users"]

#: Values of ``TRAFFIC_BACKEND``.
BACKENDS = ("disk", "redis")
#: A header name for ``TRAFFIC_AUTH_HEADER`` (RFC 9110 token characters that proxies pass through).
HEADER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")


@dataclass(frozen=True)
class Settings:
    """Where data and caches live and how big uploads may be.

    Attributes:
        data_dir: the dataset store (``TRAFFIC_DATA_DIR``, default ``data/``).
        cache_dir: background jobs and cached results shared by all gunicorn
            workers (``TRAFFIC_CACHE_DIR``, default ``cache/``).
        models_dir: trained models (``TRAFFIC_MODELS_DIR``, default ``models/``).
        max_upload_mb: upload and ingest size limit (``TRAFFIC_MAX_UPLOAD_MB``, default 500).
        secret_key: signs background-job handles (``TRAFFIC_SECRET_KEY``); when
            unset, a random key is created once in the cache folder so every
            worker shares it (with the Redis backend: once in Redis, so every
            host shares it), and never committed anywhere.
        backend: ``"disk"`` (default: background jobs in diskcache, results in
            files under ``cache_dir``; one host) or ``"redis"`` (Celery workers
            and a Redis result cache at ``redis_url``; several hosts), from
            ``TRAFFIC_BACKEND``. See docs/scale-out.md.
        redis_url: ``REDIS_URL``, required with the Redis backend.
        auth_header: the request header in which an authenticating proxy names the signed-in user
            (``TRAFFIC_AUTH_HEADER``, e.g. ``X-Forwarded-User``; off when unset). See dashapp/runtime/auth.py.
        uploaders: who may upload (``TRAFFIC_UPLOADERS``; None: anyone, as without it).
        admins: who may delete datasets, and upload (``TRAFFIC_ADMINS``; None: anyone).
    """

    data_dir: Path
    cache_dir: Path
    models_dir: Path
    max_upload_mb: float
    secret_key: str
    backend: str = "disk"
    redis_url: str | None = None
    auth_header: str | None = None
    uploaders: frozenset[str] | None = None
    admins: frozenset[str] | None = None

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        env = os.environ
        data_dir = Path(overrides.get("data_dir") or env.get("TRAFFIC_DATA_DIR", "data"))
        cache_dir = Path(overrides.get("cache_dir") or env.get("TRAFFIC_CACHE_DIR", "cache"))
        models_dir = Path(overrides.get("models_dir") or env.get("TRAFFIC_MODELS_DIR", "models"))
        raw_mb = overrides.get("max_upload_mb") or env.get("TRAFFIC_MAX_UPLOAD_MB", "500")
        try:
            max_upload_mb = float(raw_mb)
        except ValueError:
            raise ValueError(f"TRAFFIC_MAX_UPLOAD_MB must be a number, got {raw_mb!r}") from None
        if max_upload_mb <= 0:
            raise ValueError(f"TRAFFIC_MAX_UPLOAD_MB must be > 0, got {max_upload_mb:g}")
        backend = (overrides.get("backend") or env.get("TRAFFIC_BACKEND") or "disk").strip().lower()
        if backend not in BACKENDS:
            raise ValueError(f"TRAFFIC_BACKEND must be one of {', '.join(BACKENDS)}, got {backend!r}")
        redis_url = overrides.get("redis_url") or env.get("REDIS_URL") or None
        if backend == "redis" and not redis_url:
            raise ValueError("TRAFFIC_BACKEND=redis needs REDIS_URL, e.g. redis://redis-host:6379/0")
        for d in (data_dir, cache_dir, models_dir):
            d.mkdir(parents=True, exist_ok=True)
        secret = overrides.get("secret_key") or env.get("TRAFFIC_SECRET_KEY")
        if not secret and backend == "redis":
            from dashapp.runtime.redis_kv import redis_secret  # lazy: the default backend needs no redis package

            secret = redis_secret(redis_url)
        secret = secret or _local_secret(cache_dir)
        return cls(data_dir, cache_dir, models_dir, max_upload_mb, secret, backend, redis_url,
                   *_permissions(overrides, env))


def _permissions(overrides: dict, env) -> tuple[str | None, frozenset[str] | None, frozenset[str] | None]:
    """``(auth_header, uploaders, admins)`` from the overrides or the environment (see dashapp/runtime/auth.py)."""
    header = overrides.get("auth_header") or env.get("TRAFFIC_AUTH_HEADER", "").strip() or None
    if header is not None and not HEADER_RE.match(header):
        raise ValueError(f"TRAFFIC_AUTH_HEADER must be a header name like X-Forwarded-User, got {header[:60]!r}")
    lists = [parse_users(overrides.get(key) if overrides.get(key) is not None else env.get(var))
             for key, var in (("uploaders", "TRAFFIC_UPLOADERS"), ("admins", "TRAFFIC_ADMINS"))]
    if header is None and any(x is not None for x in lists):
        raise ValueError("TRAFFIC_UPLOADERS and TRAFFIC_ADMINS name users of TRAFFIC_AUTH_HEADER, which is unset: "
                         "set it to the header your authenticating proxy sets (e.g. X-Forwarded-User), or unset them")
    return header, lists[0], lists[1]


def parse_users(raw: str | Iterable[str] | None) -> frozenset[str] | None:
    """A user list (``TRAFFIC_UPLOADERS``, ``TRAFFIC_ADMINS``): None when unset or empty (nobody is restricted),
    else the names, separated by commas or spaces."""
    if raw is None:
        return None
    items = raw.replace(",", " ").split() if isinstance(raw, str) else [str(x).strip() for x in raw]
    names = frozenset(x for x in items if x)
    return names or None


def _local_secret(cache_dir: Path) -> str:
    """A per-deployment random key, created atomically so concurrent workers agree on it."""
    path = cache_dir / "secret_key"
    if not path.exists():
        tmp = cache_dir / f".secret_key.{os.getpid()}"
        tmp.write_text(secrets.token_hex(32))
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # fails if another worker won the race: use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def current_settings() -> Settings:
    """The running app's settings: from the Flask app in a request, the Dash app in a background job."""
    try:
        from flask import current_app

        return current_app.config["TRAFFIC_SETTINGS"]
    except (RuntimeError, KeyError):
        pass
    try:
        import dash

        return dash.get_app().server.config["TRAFFIC_SETTINGS"]
    except Exception:  # noqa: BLE001 - no app in this process: fall back to the environment
        return Settings.from_env()
