"""Static bundles are served gzipped (when accepted) and cacheable; dynamic answers are left alone."""

from __future__ import annotations

import gzip
import re


def _scripts(client) -> list[str]:
    html = client.get("/").get_data(as_text=True)
    return re.findall(r'<script src="([^"]+)"', html)


def test_bundles_are_gzipped_once_and_identical_when_unpacked(dash_app):
    client = dash_app.server.test_client()
    bundle = next(s for s in _scripts(client) if "/dash_core_components.v" in s)  # fingerprinted, ~1 MB
    plain = client.get(bundle)
    assert plain.status_code == 200
    assert plain.headers.get("Content-Encoding") is None
    packed = client.get(bundle, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data) / 2
    assert gzip.decompress(packed.data) == plain.data
    assert "max-age=31536000" in packed.headers["Cache-Control"]  # fingerprinted: Dash's own one-year lifetime
    again = client.get(bundle, headers={"Accept-Encoding": "gzip"})
    assert again.data == packed.data


def test_assets_with_dashs_cache_buster_are_long_lived(dash_app):
    client = dash_app.server.test_client()
    html = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/assets/[^"]+\.css\?m=[0-9.]+)"', html).group(1)
    r = client.get(css, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["Content-Encoding"] == "gzip"
    assert "max-age=31536000" in r.headers["Cache-Control"]
    assert "no-cache" not in r.headers["Cache-Control"]


def test_dynamic_answers_are_not_compressed(dash_app):
    client = dash_app.server.test_client()
    for path in ("/health", "/", "/history"):
        r = client.get(path, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.headers.get("Content-Encoding") is None, path
