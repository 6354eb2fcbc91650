"""``GET /api/docs``: an interactive page of the API (Swagger UI) over ``/api/openapi.json``.

Swagger UI 5.35.0 (``swagger-ui-dist``, Apache-2.0: ``static/swagger-ui/LICENSE``) is vendored under
``dashapp/web/static/swagger-ui/`` and served from ``/api/docs/static/``: nothing is fetched from another
site, so the page works on closed networks and under the app's Content-Security-Policy (scripts only from
the app itself: the page has no inline script, ``static/api-docs.js`` starts Swagger UI). Its "Try it out"
calls the API from the same origin, so the cross-site guard lets them through.
"""

from __future__ import annotations

from html import escape

from flask import Blueprint, Flask, Response, url_for

import core

__all__ = ["SWAGGER_UI_VERSION", "init_api_docs"]

SWAGGER_UI_VERSION = "5.35.0"

bp = Blueprint("apidocs", __name__, static_folder="static", static_url_path="/api/docs/static")

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API · Traffic capacity workbench</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{css}">
</head>
<body>
<div id="swagger-ui" data-spec-url="{spec}"></div>
<script src="{bundle}"></script>
<script src="{init}"></script>
</body>
</html>
"""


@bp.get("/api/docs", strict_slashes=False)
def docs() -> Response:
    v = f"{SWAGGER_UI_VERSION}-{core.__version__}"  # a new version is a new URL: browsers never mix them

    def static(name: str) -> str:
        return escape(url_for("apidocs.static", filename=name, v=v))

    html = _PAGE.format(
        css=static("swagger-ui/swagger-ui.css"),
        bundle=static("swagger-ui/swagger-ui-bundle.js"),
        init=static("api-docs.js"),
        spec=escape(url_for("api.openapi")),
    )
    return Response(html, mimetype="text/html")


def init_api_docs(server: Flask) -> None:
    """Register ``/api/docs`` and its static files on the Flask ``server``."""
    server.register_blueprint(bp)
