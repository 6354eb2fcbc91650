"""Rendered page content, cached per canonical URL in the shared result cache.

Rebuilding a page from cached results (a recommendation, four figures) costs
~100-300 ms of CPU, mostly in plotly's figure objects; the JSON Dash sends
for it is the same for every visit to the same URL. ``cached_page`` stores
that JSON under

    page + canonical query values + the warnings they raised (which quote the
    raw input) + the resolved dataset id and its version + a digest of its
    custom events (bands and forecasts use them; editing them keeps the id) + the code version
    (``ResultCache.key``) + the Dash and plotly versions,

so a repeat visit, from any user or worker, is one cache read. The dataset
version is the identity of its ``meta.json`` (inode, size, mtime in ns): a
dataset deleted and stored again gets a new one, so its pages are rendered
again; a deleted dataset resolves to the default one (with a warning), which
is another key. Stale entries age out of the cache's LRU.

Only Dash's page-content request uses the cache (``in_page_request``): a
direct ``layout(**query)`` call (tests, other code) always gets a component
tree. A page returns ``Uncacheable(tree)`` for content that must not be
stored (a job still to run). ``TRAFFIC_PAGE_CACHE=0`` turns the cache off
(benchmarks compare both).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

import dash
import plotly

from core.store import DatasetStore
from dashapp.runtime.result_cache import ResultCache
from dashapp.state import Parsed

__all__ = ["Uncacheable", "cached_page", "dataset_version", "enabled", "frozen", "in_page_request", "page_key",
           "to_json_bytes"]

log = logging.getLogger(__name__)
_CALLBACK_PATH = "/_dash-update-component"


@dataclass
class Uncacheable:
    """A page's content that is shown but not stored (e.g. a background job still to run)."""

    content: object


def enabled() -> bool:
    return os.environ.get("TRAFFIC_PAGE_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")


def in_page_request() -> bool:
    """True inside Dash's callback request (where the page router calls ``layout``)."""
    from flask import has_request_context, request

    return has_request_context() and request.path.endswith(_CALLBACK_PATH)


def dataset_version(store: DatasetStore, dataset_id: str) -> str:
    """Identity of the stored dataset (its ``meta.json`` file): changes when it is deleted and stored again."""
    st = (store.root / dataset_id / "meta.json").stat()
    return f"{st.st_ino}-{st.st_size}-{st.st_mtime_ns}"


def _resolved_dataset(store: DatasetStore, parsed: Parsed) -> str:
    """The dataset the page will show (``state.resolve_dataset`` without its side effects)."""
    want = parsed.values.get("dataset")
    return want if want and store.exists(want) else store.default_id()


def page_key(store: DatasetStore, parsed: Parsed) -> str:
    """The cache key of ``parsed``'s page (see the module docstring)."""
    dataset_id = _resolved_dataset(store, parsed)
    params = {"page": parsed.page, "values": parsed.values, "warnings": parsed.warnings,
              "version": dataset_version(store, dataset_id),
              "events": store.events_digest(dataset_id), "dash": dash.__version__, "plotly": plotly.__version__}
    return ResultCache.key("page", dataset_id, params)


def to_json_bytes(content) -> bytes:
    """The JSON Dash sends for ``content`` (a component tree)."""
    from plotly.io.json import to_json_plotly

    return to_json_plotly(content).encode()


def frozen(raw: bytes):
    """A value Dash serializes back to exactly ``raw``: an orjson ``Fragment`` (embedded as is, no parse) when
    plotly encodes with orjson, else the parsed JSON."""
    from plotly.io.json import config

    try:
        import orjson
    except ImportError:
        orjson = None
    if orjson is not None and hasattr(orjson, "Fragment") and config.default_engine in ("auto", "orjson"):
        return orjson.Fragment(raw)
    return json.loads(raw)


def cached_page(rc: ResultCache, store: DatasetStore, parsed: Parsed, build: Callable[[], object]):
    """The page content for ``parsed``: from the cache inside Dash's page request, else ``build()``.

    ``build()`` returns a component tree, or ``Uncacheable(tree)`` for content not to store. One build per key
    at a time across workers (the others wait and read it).
    """
    if not (enabled() and in_page_request()):
        out = build()
        return out.content if isinstance(out, Uncacheable) else out
    key = page_key(store, parsed)
    raw = rc.get(key)
    if isinstance(raw, bytes):
        return frozen(raw)
    with rc.lock(key):
        raw = rc.get(key)  # another worker may have rendered it meanwhile
        if isinstance(raw, bytes):
            return frozen(raw)
        out = build()
        if isinstance(out, Uncacheable):
            return out.content
        raw = to_json_bytes(out)
        rc.set(key, raw)
    return frozen(raw)
