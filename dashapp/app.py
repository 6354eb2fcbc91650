"""``create_app(settings) -> Dash``: the one place that wires the server together."""

from __future__ import annotations

from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import diskcache
from dash import DiskcacheManager, dcc
from flask import jsonify

from core.store import DatasetStore
from dashapp.api import init_api
from dashapp.settings import Settings
from dashapp.upload import init_upload

__all__ = ["create_app"]

HERE = Path(__file__).resolve().parent
ASSETS = HERE.parent / "assets"


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the Dash app: pages, shared background-job manager, health route."""
    settings = settings or Settings.from_env()
    # One diskcache folder for every gunicorn worker: a per-worker temp dir would lose job results.
    jobs = diskcache.Cache(str(settings.cache_dir / "jobs"))
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(ASSETS),
        background_callback_manager=DiskcacheManager(jobs),
        title="Traffic capacity workbench",
        suppress_callback_exceptions=False,
    )
    server = app.server
    server.secret_key = settings.secret_key
    server.config["TRAFFIC_SETTINGS"] = settings
    server.config["MAX_CONTENT_LENGTH"] = int(settings.max_upload_mb * 1024 * 1024)

    init_api(server, settings)
    init_upload(server, settings)

    @server.route("/health")
    def health():
        store = DatasetStore(settings.data_dir)
        return jsonify(status="ok", datasets=len(store.list()))

    app.layout = dbc.Container(
        [
            dbc.NavbarSimple(
                brand="Traffic capacity workbench",
                children=[
                    dbc.NavItem(dbc.NavLink(p["name"], href=p["relative_path"])) for p in dash.page_registry.values()
                ],
                color="light",
                className="mb-3",
            ),
            dcc.Location(id="url"),
            dash.page_container,
        ],
        fluid=True,
    )
    return app
