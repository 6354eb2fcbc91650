"""Deployment settings, read once from the environment (12-factor style)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Settings"]


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
            worker shares it, and never committed anywhere.
    """

    data_dir: Path
    cache_dir: Path
    models_dir: Path
    max_upload_mb: float
    secret_key: str

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
        for d in (data_dir, cache_dir, models_dir):
            d.mkdir(parents=True, exist_ok=True)
        secret = overrides.get("secret_key") or env.get("TRAFFIC_SECRET_KEY") or _local_secret(cache_dir)
        return cls(data_dir, cache_dir, models_dir, max_upload_mb, secret)


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
