"""Fixtures for the page tests: one app on a temporary store holding the built-in default dataset."""

from __future__ import annotations

import os
import sys

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def page_settings(tmp_path_factory):
    from core.store import DatasetStore
    from dashapp.runtime.settings import Settings

    root = tmp_path_factory.mktemp("pages")
    settings = Settings.from_env(data_dir=root / "data", cache_dir=root / "cache", models_dir=root / "models",
                                 secret_key="test-secret")
    DatasetStore(settings.data_dir).default_id()
    return settings


@pytest.fixture(scope="session")
def dash_app(page_settings):
    from dashapp.app import create_app

    return create_app(page_settings)


@pytest.fixture
def ctx(dash_app):
    """A request context on the test app (pages read their settings from it)."""
    with dash_app.server.test_request_context("/"):
        yield dash_app


@pytest.fixture
def pages(dash_app):
    """The page modules as Dash loaded them: ``pages["history"].layout(...)``."""
    names = ("data", "history", "forecast", "scenarios", "what_if", "plan")
    return {name: sys.modules[f"pages.{name}"] for name in names}
