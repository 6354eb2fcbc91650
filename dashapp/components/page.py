"""What the pages do the same way: serve a layout through the page cache, load the chosen series, and show
either a background job's cached result or the panel that runs the job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from dash import dcc, html

from core.series import TrafficSeries
from core.store import DatasetStore
from dashapp import services
from dashapp import state as st
from dashapp.components.job import job_panel
from dashapp.components.layout import page_frame
from dashapp.components.pagecache import Uncacheable, cached_page
from dashapp.runtime.backends import results
from dashapp.runtime.result_cache import ResultCache
from dashapp.runtime.settings import current_settings

__all__ = ["serve", "load_view", "View", "load_window", "job_page"]

Build = Callable[[st.Parsed, DatasetStore, ResultCache], object]


def serve(page: str, query: dict, build: Build):
    """A page's layout for ``query``: parsed and validated, then built (or read from the page cache)."""
    parsed = st.parse_query(page, query)
    settings = current_settings()
    store = DatasetStore(settings.data_dir)
    with results(settings) as rc:
        return cached_page(rc, store, parsed, lambda: build(parsed, store, rc))


def load_view(parsed: st.Parsed, store: DatasetStore, rc: ResultCache) -> tuple[services.Dataset, int, TrafficSeries]:
    """The dataset the URL names (or the default, with a warning), its granularity and its series at it."""
    dataset_id = st.resolve_dataset(store, parsed)
    ds = services.load_dataset(store, dataset_id)
    minutes = st.resolve_granularity(parsed, ds.interval_seconds)
    return ds, minutes, services.load_series(rc, store, dataset_id, minutes)


@dataclass
class View:
    """What a page over a time window of one series has resolved from its URL (pages add their own fields)."""

    parsed: st.Parsed
    dataset: services.Dataset
    minutes: int
    series: TrafficSeries
    lo: pd.Timestamp
    hi: pd.Timestamp


def load_window(parsed: st.Parsed, store: DatasetStore, rc: ResultCache) -> View:
    """``load_view`` plus the window the URL names (clipped to the series, with a warning)."""
    ds, minutes, series = load_view(parsed, store, rc)
    lo, hi = st.resolve_window(parsed, series.start, series.end)
    return View(parsed, ds, minutes, series, lo, hi)


def job_page(page: str, title: str, parsed: st.Parsed, controls, ctx_store: dcc.Store, rendered, *,
             what: str, pending: str):
    """The page with its job's result (``rendered``, when cached), or ``Uncacheable`` with the job to run."""
    if rendered is not None:
        return page_frame(title, parsed, controls, job_panel(page, None, rendered, what=what), store=ctx_store)
    panel = job_panel(page, {"search": parsed.search()}, html.P(pending, className="text-muted"), what=what)
    return Uncacheable(page_frame(title, parsed, controls, panel, store=ctx_store))
