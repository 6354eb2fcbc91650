"""Security over HTTP and on disk: headers, the CSP's script hashes, the cross-site guard, Dash's
callback route under crafted bodies, nothing unpickled, and the secret key."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import os
import pickle
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests

from dashapp.web.security import CALLBACK_BODY_LIMIT

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60
INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S)


def _get(server, path, **kw):
    return requests.get(server.url + path, timeout=TIMEOUT, **kw)


# -- headers -------------------------------------------------------------------------------------


def test_every_kind_of_response_carries_the_security_headers(live_server):
    index = _get(live_server, "/history")
    script = re.search(r'src="(/_dash-component-suites/[^"]+\.js[^"]*)"', index.text).group(1)
    responses = {
        "page": index,
        "api": _get(live_server, "/api/datasets"),
        "api 404": _get(live_server, "/api/no-such-route"),
        "upload limits": _get(live_server, "/upload"),
        "export": _get(live_server, "/export/dataset/csv?granularity=60"),
        "asset": _get(live_server, "/assets/app.css"),
        "script": _get(live_server, script),
        "health": _get(live_server, "/health"),
    }
    for kind, r in responses.items():
        assert r.status_code in (200, 404), kind
        h = r.headers
        assert h["X-Content-Type-Options"] == "nosniff", kind
        assert h["X-Frame-Options"] == "DENY", kind
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"], kind
        assert h["Referrer-Policy"] == "same-origin", kind
        assert "camera=()" in h["Permissions-Policy"], kind
    page_csp = index.headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in page_csp
    assert "'unsafe-eval'" not in page_csp
    assert "'unsafe-inline'" not in page_csp.split("script-src")[1].split(";")[0]
    assert "object-src 'none'" in page_csp
    assert responses["api"].headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert responses["api"].headers["Cache-Control"] == "no-store"
    assert responses["export"].headers["Content-Security-Policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("path", ["/", "/history", "/forecast", "/scenarios", "/what-if", "/no-such-page"])
def test_the_csp_allows_exactly_the_inline_scripts_dash_renders(live_server, path):
    r = _get(live_server, path)
    allowed = set(re.findall(r"'(sha256-[A-Za-z0-9+/=]+)'", r.headers["Content-Security-Policy"]))
    html = re.sub(r"<!--.*?-->", "", r.text, flags=re.S)  # Dash's IE notice sits in a conditional comment
    inline = [m["body"] for m in INLINE_SCRIPT.finditer(html)
              if "src=" not in m["attrs"] and "application/json" not in m["attrs"]]
    assert inline, "Dash renders inline scripts (renderer, clientside callbacks)"
    hashes = {"sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() for s in inline}
    assert hashes <= allowed  # every inline script Dash renders may run ...
    assert len(allowed) <= len(hashes) + 1  # ... and hardly anything else


# -- cross-site requests -------------------------------------------------------------------------

REC = {"predicted_load": [120, 150, 180], "current_servers": 2}


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 200),  # curl, scripts: no browser headers
        ({"Sec-Fetch-Site": "same-origin"}, 200),
        ({"Sec-Fetch-Site": "none"}, 200),  # typed into the address bar
        ({"Origin": "{self}"}, 200),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403),
        ({"Origin": "https://evil.example"}, 403),  # an older browser without fetch metadata
        ({"Origin": "null"}, 403),  # a sandboxed iframe or a local file
        ({"Origin": "https://workbench.example", "X-Forwarded-Host": "workbench.example"}, 200),  # behind a proxy
    ],
)
def test_state_changing_requests_from_other_sites_are_refused(live_server, headers, status):
    headers = {k: v.replace("{self}", live_server.url) for k, v in headers.items()}
    r = requests.post(live_server.url + "/api/recommend-scaling", json=REC, headers=headers, timeout=TIMEOUT)
    assert r.status_code == status, r.text
    if status == 403:
        assert "cross-site POST refused" in r.json()["message"]


def test_cross_site_upload_is_refused_before_reading_and_reads_still_work(live_server):
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain"}
    before = set(os.listdir(live_server.data_dir))
    r = requests.post(live_server.url + "/upload", data=b"requests\n1\n2\n3\n", headers=evil, timeout=TIMEOUT)
    assert r.status_code == 403
    assert set(os.listdir(live_server.data_dir)) == before
    # Reading is not state-changing: a cross-site GET (a link) is fine.
    assert _get(live_server, "/api/datasets", headers=evil).status_code == 200


# -- Dash's callback route under crafted bodies ------------------------------------------------------

CALLBACK = "/_dash-update-component"


@pytest.mark.parametrize(
    ("body", "ctype", "fragment"),
    [
        (b"", "application/json", "must be JSON"),
        (b"{not json", "application/json", "must be JSON"),
        (b'{"output": "history-url.search"}', "text/plain", "must be JSON"),
        (b"[1, 2]", "application/json", "JSON object"),
        (b'"x"', "application/json", "JSON object"),
        (b"{}", "application/json", "no 'output'"),
        (b'{"output": 5}', "application/json", "no 'output'"),
        (b'{"output": "nope.children", "inputs": []}', "application/json", "no callback has the output"),
        (b'{"output": "' + b"x" * 5000 + b'"}', "application/json", "no callback has the output"),
        (b'{"output": "history-url.search", "inputs": "x"}', "application/json", "'inputs' must be an array"),
        (b'{"output": "history-url.search", "inputs": [1, 2]}', "application/json", "'id' and 'property'"),
        (b'{"output": "history-url.search", "inputs": [], "state": {}}', "application/json", "'state' must be"),
    ],
)
def test_malformed_callback_bodies_are_400(live_server, body, ctype, fragment):
    r = requests.post(live_server.url + CALLBACK, data=body, headers={"Content-Type": ctype}, timeout=TIMEOUT)
    assert r.status_code == 400, r.text[:300]
    assert fragment in r.json()["message"]


def test_oversized_callback_bodies_are_413(live_server):
    big = b'{"output": "history-url.search", "pad": "' + b"x" * CALLBACK_BODY_LIMIT + b'"}'
    r = requests.post(live_server.url + CALLBACK, data=big, headers={"Content-Type": "application/json"},
                      timeout=TIMEOUT)
    assert r.status_code == 413
    chunks = (big[i:i + 65536] for i in range(0, len(big), 65536))  # chunked: no length to check first
    r = requests.post(live_server.url + CALLBACK, data=chunks, headers={"Content-Type": "application/json"},
                      timeout=TIMEOUT)
    assert r.status_code == 413


HOSTILE_VALUES = [None, "", "<script>alert(1)</script>", "x" * 10_000, -1, 1e308, -1e308, 0.5, True, [],
                  [1, "a", None], {"a": {"b": []}}, {"search": 5, "traces": {"x": "requests"}}, "?dataset=../../etc"]


def _parse_outputs(output: str) -> list[dict]:
    """The outputs of a callback from its ``output`` key (``id.prop`` or ``..a.p...b.q..``)."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    out = []
    for part in parts:
        ident, prop = part.rsplit(".", 1)
        out.append({"id": ident, "property": prop.split("@")[0]})
    return out


def _servable_callbacks(url: str) -> list[dict]:
    deps = requests.get(url + "/_dash-dependencies", timeout=TIMEOUT).json()
    # Server-side only; not the background jobs (each would start a process; tests/reliability/test_faults.py
    # covers them) and not the delete confirmation (it deletes the dataset it is given, by design).
    return [d for d in deps if not d.get("clientside_function") and not d.get("background")
            and "delete" not in d["output"]]


def test_every_callback_survives_hostile_values(live_server):
    """Each server-side callback gets hostile values in every input and state: never a 5xx, and the
    worker goes on serving."""
    callbacks = _servable_callbacks(live_server.url)
    assert len(callbacks) >= 8
    statuses: dict[int, int] = {}
    session = requests.Session()
    for dep in callbacks:
        slots = dep["inputs"] + dep.get("state", [])
        for value in HOSTILE_VALUES:
            for i in range(len(slots)):
                # The hostile value in slot i, the others None (what Dash sends before a component has a value).
                vals = [value if j == i else None for j in range(len(slots))]
                items = [{"id": _id(s["id"]), "property": s["property"], "value": v}
                         for s, v in zip(slots, vals, strict=True)]
                n_in = len(dep["inputs"])
                body = {"output": dep["output"], "outputs": _outputs_field(dep["output"]), "inputs": items[:n_in],
                        "state": items[n_in:], "changedPropIds": [f"{dep['inputs'][0]['id']}."
                                                                  f"{dep['inputs'][0]['property']}"]}
                r = session.post(live_server.url + CALLBACK, json=body, timeout=300)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                assert r.status_code < 500, (dep["output"], value, r.text[:500])
    assert _get(live_server, "/health").status_code == 200
    assert statuses.get(200, 0) + statuses.get(204, 0) > 0, statuses  # most fall back to defaults and render


def _id(raw: str):
    """Pattern-matching ids arrive as JSON text in the dependencies; the callback body wants the object."""
    import json

    return json.loads(raw) if raw.startswith("{") else raw


def _outputs_field(output: str):
    outs = [{"id": _id(o["id"]), "property": o["property"]} for o in _parse_outputs(output)]
    return outs if output.startswith("..") else outs[0]


# -- nothing from a user is unpickled or executed ------------------------------------------------------


class _Marker:
    """Unpickling this creates a file: proof that a pickle was loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_the_model_cache_refuses_a_planted_pickle_and_retrains(tmp_path):
    from core.forecast.cache import ModelCache
    from tests.core.forecast.synth import make_series

    series = make_series()
    cache = ModelCache(tmp_path / "models")
    ref, hit = cache.get_or_fit("seasonal_naive", series)
    assert not hit
    entry = next((tmp_path / "models" / "seasonal_naive").iterdir())
    marker = tmp_path / "unpickled"
    planted = np.empty(1, dtype=object)
    planted[0] = _Marker(marker)
    with open(entry / "arrays.npz", "wb") as f:
        np.savez(f, **{"evil": planted})  # numpy pickles object arrays when saving
    assert b"unpickled" in (entry / "arrays.npz").read_bytes()
    with pytest.warns(UserWarning, match="unreadable"):
        model, hit = cache.get_or_fit("seasonal_naive", series)
    assert not hit  # refused, retrained
    assert not marker.exists()
    np.testing.assert_array_equal(model.predict(12)["mean"], ref.predict(12)["mean"])


def test_the_dataset_store_refuses_a_planted_pickle(tmp_path):
    from core.store import DatasetStore

    store = DatasetStore(tmp_path / "data")
    info = store.put(io.BytesIO(b"requests\n" + b"\n".join(str(10 + i % 7).encode() for i in range(500))), name="x.csv")
    marker = tmp_path / "unpickled"
    planted = np.empty(1, dtype=object)
    planted[0] = _Marker(marker)
    np.save(tmp_path / "data" / info.id / "hosts.npy", planted, allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):
        store.get(info.id)
    assert not marker.exists()


#: Modules that pickle values the server computed into a store only the server can write (the Redis
#: twin of diskcache's result cache and job table); their docstrings say the store must stay private.
SERVER_SIDE_PICKLE = {"redis_kv.py"}


def test_no_code_path_unpickles_or_evaluates():
    """Static check of core/ and dashapp/: no pickle, joblib, eval/exec, shell, or pickle-enabled numpy loads.

    (The result cache and Dash's job store are diskcache folders, or Redis with TRAFFIC_BACKEND=redis, which
    pickle values the server itself computed; neither is writable through the app. RELIABILITY.md says so.)
    """
    banned = re.compile(r"\bimport pickle\b|\bfrom pickle\b|\bjoblib\b|\bcloudpickle\b|\bdill\b|allow_pickle\s*=\s*True"
                        r"|(?<![.\w])eval\(|(?<![.\w])exec\(|\byaml\.load\(|\bmarshal\b|\bshelve\b|os\.system\("
                        r"|shell\s*=\s*True|\bpd\.read_pickle\b|\.read_pickle\(")
    hits = []
    for path in itertools.chain((ROOT / "core").rglob("*.py"), (ROOT / "dashapp").rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if path.name in SERVER_SIDE_PICKLE and re.search(r"\bpickle\b", line) and not re.search(
                    r"\beval\(|\bexec\(|allow_pickle|os\.system|shell\s*=", line):
                continue
            if banned.search(line) and not line.lstrip().startswith("#"):
                hits.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert hits == []
    assert pickle  # (this test module itself uses pickle only to plant payloads)


# -- the secret key -----------------------------------------------------------------------------------


def test_secret_key_from_the_environment_or_a_private_random_file(tmp_path, monkeypatch):
    from dashapp.runtime.settings import Settings

    monkeypatch.delenv("TRAFFIC_SECRET_KEY", raising=False)
    monkeypatch.delenv("TRAFFIC_BACKEND", raising=False)
    def make(name):
        d = tmp_path / name
        return Settings.from_env(data_dir=d / "d", cache_dir=d / "c", models_dir=d / "m")

    a, b = make("a"), make("b")
    assert re.fullmatch(r"[0-9a-f]{64}", a.secret_key)
    assert a.secret_key != b.secret_key  # per deployment, never a shared default
    key_file = tmp_path / "a" / "c" / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert make("a").secret_key == a.secret_key  # every worker and restart agrees
    monkeypatch.setenv("TRAFFIC_SECRET_KEY", "from-the-environment")
    assert make("a").secret_key == "from-the-environment"


def test_no_secret_or_cache_is_committed():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert not [f for f in files if Path(f).name in ("secret_key", ".env") or f.startswith(("cache/", "models/"))
                and not f.endswith("README.md")]
    assert not [f for f in files if f.endswith((".pkl", ".pickle", ".joblib"))]
    sources = "\n".join((ROOT / f).read_text(errors="ignore") for f in files
                        if f.startswith(("core/", "dashapp/")) and f.endswith(".py"))
    assert not re.search(r"secret_key\s*=\s*['\"]", sources)  # no literal default key
