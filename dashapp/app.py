"""``create_app(settings) -> Dash``: the one place that wires the server together."""

from __future__ import annotations

import logging
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, clientside_callback, dcc, html
from flask import jsonify

from core.store import DatasetStore
from dashapp import ids
from dashapp.runtime.backends import make_background_manager
from dashapp.runtime.settings import Settings
from dashapp.state import page_name
from dashapp.web.api import init_api
from dashapp.web.apidocs import init_api_docs
from dashapp.web.compat import init_compat
from dashapp.web.compress import init_compression
from dashapp.web.errors import init_page_not_found, register_error_handlers
from dashapp.web.export_routes import init_exports
from dashapp.web.json_floats import init_json
from dashapp.web.security import init_security
from dashapp.web.upload import init_upload

__all__ = ["create_app", "nav_pages"]

HERE = Path(__file__).resolve().parent
ASSETS = HERE.parent / "assets"


def nav_pages() -> list[tuple[str, str, str]]:
    """``(page, label, path)`` of each page in ``dash.page_registry``, which Dash keeps sorted by the pages'
    declared ``order``; the label is the page's ``name``."""
    return [(page_name(entry), entry["name"], entry["path"]) for entry in dash.page_registry.values()]


def _navbar() -> dbc.Navbar:
    links = [dbc.NavItem(dbc.NavLink(label, href=path, id=ids.nav_link(key), active="exact"))
             for key, label, path in nav_pages()]
    return dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand("Traffic capacity workbench", href="/"),
            dbc.Nav(links, navbar=True, className="me-auto"),
        ], fluid=True),
        id=ids.NAV, color="light", dark=False, className="mb-3 border-bottom",
    )


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the Dash app: pages, shared background-job manager, health route."""
    settings = settings or Settings.from_env()
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(ASSETS),
        # diskcache on this host, or Celery workers on Redis (TRAFFIC_BACKEND; see dashapp/runtime/backends.py).
        background_callback_manager=make_background_manager(settings),
        title="Traffic capacity workbench",
        # True: Dash then neither calls every page's layout() on a worker's first request to build a
        # validation layout (seconds, and other threads of the worker serve pages without it meanwhile:
        # the browser then logs "ID not found in layout" for every page's callbacks) nor validates in the
        # browser. Callback ids are checked by the page tests instead.
        suppress_callback_exceptions=True,
        update_title=None,
    )
    server = app.server
    server.secret_key = settings.secret_key
    server.config["TRAFFIC_SETTINGS"] = settings
    server.config["MAX_CONTENT_LENGTH"] = int(settings.max_upload_mb * 1024 * 1024)

    init_json(server)  # every jsonify (API, uploads, errors, health) rounds float noise away, in one place
    init_api(server, settings)
    init_compat(server)  # the original dashboard's POST /forecast, GET /metrics, GET /cost-report
    init_api_docs(server)  # GET /api/docs: Swagger UI, vendored
    init_exports(server)
    register_error_handlers(server)
    init_page_not_found(app)  # Dash serves its index for any path: a path that is no page answers 404
    init_upload(server, settings)
    init_security(server, settings, app)
    init_compression(server)  # gzip the Dash/Plotly bundles and assets once per worker

    @server.route("/health")
    def health():
        store = DatasetStore(settings.data_dir)
        return jsonify(status="ok", datasets=len(store.list()))

    app.layout = html.Div([
        _navbar(),
        dbc.Container([
            # The pages write their query string here; "callback-nav" re-renders the page without a reload
            # and pushes a history entry, so back/forward restore the previous scenario.
            dcc.Location(id=ids.URL, refresh="callback-nav"),
            dash.page_container,
        ], fluid=True),
    ])

    # Navbar links carry the selected dataset from page to page (clientside: no server round trip).
    pages = nav_pages()
    paths = ", ".join(f'"{path}"' for _, _, path in pages)
    clientside_callback(
        "function(search) {"
        ' const ds = new URLSearchParams(search || "").get("dataset");'
        ' const q = ds ? "?dataset=" + encodeURIComponent(ds) : "";'
        f" return [{paths}].map(p => p + q); }}",
        [Output(ids.nav_link(key), "href") for key, _, _ in pages],
        Input(ids.URL, "search"),
    )
    logging.getLogger("dashapp").setLevel(logging.INFO)
    return app
