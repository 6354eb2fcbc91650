"""A dataset's custom events: the forecast's regressors and part of its cache key; the page cache keys on them."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from core.events import Event
from core.series import TrafficSeries
from core.store import DatasetStore
from dashapp import services
from dashapp import state as st
from dashapp.components import pagecache
from dashapp.runtime.result_cache import ResultCache
from tests.core.forecast.synth import make_series
from tests.dashapp.helpers import find, text


def _promo_series() -> TrafficSeries:
    """Ten days of traffic, doubled on 1995-07-06 (a promotion the model can learn from)."""
    s = make_series(days=10)
    frame = s.frame.copy()
    frame.loc[frame.index.normalize().day == 6, "requests"] *= 2
    return TrafficSeries(frame, s.interval, s.gaps)


def test_a_new_event_is_a_new_forecast_and_a_new_cache_entry(tmp_path):
    series = _promo_series()
    origin = pd.Timestamp("1995-07-09 00:00", tz=series.start.tz)
    promo = (Event("Promo", dt.date(1995, 7, 6), dt.date(1995, 7, 6), "high_traffic"),
             Event("Promo again", dt.date(1995, 7, 9), dt.date(1995, 7, 9), "high_traffic"))
    kw = {"model": "sarima", "target": "requests", "origin": origin, "steps": 96, "levels": (80,),
          "anomalies": False, "models_dir": tmp_path / "models", "backtest": False}
    with ResultCache(tmp_path / "cache") as rc:
        plain = services.forecast_result(rc, "synthetic", series, **kw)
        assert services.forecast_result(rc, "synthetic", series, events=promo, cached_only=True, **kw) is None
        with_promo = services.forecast_result(rc, "synthetic", series, events=promo, **kw)
        assert services.forecast_result(rc, "synthetic", series, events=promo, cached_only=True, **kw) is not None
        assert services.forecast_result(rc, "synthetic", series, events=promo[:1], cached_only=True, **kw) is None
    assert with_promo.mean.sum() > 1.3 * plain.mean.sum()  # the event is a regressor, learnt on 07-06
    assert "Promo again" in {e["name"] for e in with_promo.events}
    assert "Promo again" not in {e["name"] for e in plain.events}


def test_event_list_adds_the_custom_events_to_the_calendar():
    mine = (Event("Launch party", dt.date(1995, 7, 14), dt.date(1995, 7, 15), "high_traffic"),)
    names = [e["name"] for e in services.event_list("1995-07-14", "1995-07-16", mine)]
    assert "Launch party" in names
    assert "STS-70 mission" in names  # the built-in calendar stays
    assert "Launch party" not in [e["name"] for e in services.event_list("1995-07-14", "1995-07-16")]


def test_the_page_cache_keys_on_the_events(ctx, page_settings):
    store = DatasetStore(page_settings.data_dir)
    parsed = st.parse_query("history", {})
    before = pagecache.page_key(store, parsed)
    ds = store.default_id()
    store.set_events(ds, [{"name": "Promo", "date": "1995-07-06", "impact": "high_traffic"}])
    try:
        changed = pagecache.page_key(store, parsed)
        assert services.load_dataset(store, ds).events[0].name == "Promo"
    finally:
        store.set_events(ds, [])
    assert changed != before
    assert pagecache.page_key(store, parsed) == before


def test_the_forecast_page_uses_the_dataset_events(ctx, pages, page_settings):
    store = DatasetStore(page_settings.data_dir)
    ds = store.default_id()
    end = store.info(ds).end[:10]
    store.set_events(ds, [{"name": "Launch day", "date": end, "impact": "high_traffic"}])
    try:
        out = pages["forecast"].compute(lambda *a: None, {"search": "?granularity=60&horizon=1d&model=seasonal_naive"})
    finally:
        store.set_events(ds, [])
    assert "1 custom event of the dataset as regressors" in text(out)
    graph = find(out, "forecast-graph")
    names = [a["text"] for a in graph.figure["layout"]["annotations"]]
    assert "Launch day" in names
