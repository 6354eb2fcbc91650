"""Pages and their callbacks as plain functions, on the built-in default dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.scaling.recommend import recommend
from core.store import DatasetStore
from dashapp import ids, services
from dashapp import state as st
from dashapp.components.resampled import zoom_patch
from dashapp.components.urlsync import controls_search, url_controls
from dashapp.figures import N_POINTS
from dashapp.runtime.backends import results
from tests.dashapp.helpers import find, text, walk

CHARTS = {"history": ids.rs_graph("history-traffic"), "what_if": ids.rs_graph("what_if-graph")}


def _warnings(layout) -> list[str]:
    alert = find(layout, ids.WARNINGS)
    assert alert is not None
    return [text(li) for li in walk(alert) if type(li).__name__ == "Li"] if alert.is_open else []


def _controls_round_trip(module, layout, page):
    """The controls as rendered write back exactly the page's URL."""
    controls = url_controls(page)
    keys = [k for k, _ in controls]
    values = [getattr(find(layout, ids.control(page, k)), prop) for k, prop in controls]
    context = find(layout, module.CTX).data
    return controls_search(page, keys, values, context)


def _shown(module, **query):
    """The page as a visit shows it once its job (if it offers one) is done: History and What-if render at once when
    their results are cached, else they offer the job."""
    layout = module.layout(**query)
    params = find(layout, ids.job_ids(module.PAGE)["params"]).data
    if params is not None:
        module.compute(lambda *a: None, params)
        layout = module.layout(**query)
        assert find(layout, ids.job_ids(module.PAGE)["params"]).data is None
    return layout


def _progress_recorder():
    seen = []
    return seen, lambda done, total=100: seen.append(100 * done / total)


@pytest.mark.parametrize("page", ["data", "history", "what_if"])
def test_pages_render_with_no_query(ctx, pages, page):
    layout = _shown(pages[page]) if page in CHARTS else pages[page].layout()
    assert find(layout, ids.ERROR) is None
    assert _warnings(layout) == []
    if page in CHARTS:
        assert find(layout, CHARTS[page]).figure.data


def test_data_page_lists_the_default_and_its_report(ctx, pages, page_settings):
    layout = pages["data"].layout()
    table = find(layout, ids.DATA_TABLE)
    assert "Synthetic NASA-like traffic" in text(table)
    assert "synthetic" in text(table)
    report = text(find(layout, ids.DATA_REPORT))
    assert "Gaps found (2)" in report
    assert "1995-08-01T14:52:00-04:00" in report
    assert find(layout, ids.DATA_UPLOAD) is not None
    bad = pages["data"].layout(dataset="no-such-dataset")
    assert "not found" in _warnings(bad)[0]


def test_history_numbers_come_from_core_and_controls_round_trip(ctx, pages, page_settings):
    q = {"granularity": "15", "start": "1995-07-10", "end": "1995-07-24", "config": "aggressive",
         "policy": "reactive", "price": "1.2"}
    layout = _shown(pages["history"], **q)
    assert _warnings(layout) == []
    kpis = text(find(layout, ids.HISTORY_KPIS))
    store = DatasetStore(page_settings.data_dir)
    series = store.get(store.default_id()).resample("15min")
    parsed = st.parse_query("history", q)
    from core.scaling import simulate

    direct = simulate(series, "aggressive", "reactive", st.sim_model(parsed), start=pd.Timestamp("1995-07-10 00:00",
                      tz="-04:00"), end=pd.Timestamp("1995-07-24", tz="-04:00"))
    assert f"${direct.totals.cost:,.2f}" in kpis
    assert f"{direct.totals.scaling_actions:,}" in kpis
    # The window shows 14 days at 15 minutes.
    fig = find(layout, ids.rs_graph("history-traffic")).figure
    assert len(fig.data[0].x) == min(14 * 96, N_POINTS)
    shown = pd.to_datetime(np.asarray(fig.data[0].x), unit="ms")
    assert (shown[0], shown[-1]) == (pd.Timestamp("1995-07-10"), pd.Timestamp("1995-07-23 23:45"))
    search = _controls_round_trip(pages["history"], layout, "history")
    assert st.query_from_search(search) == {**q, "dataset": store.default_id()}


def test_history_bad_and_huge_values_warn_and_fall_back(ctx, pages):
    layout = _shown(pages["history"], granularity="7", price="<script>alert(1)</script>", metric="x" * 10_000,
                                      policy=["reactive", "predictive"], bogus="1")
    w = _warnings(layout)
    assert len(w) == 5
    assert any("granularity='7'" in m for m in w)
    assert any("too long" in m for m in w)
    assert any("price='<script>alert(1)</script>'" in m for m in w)
    assert find(layout, ids.ERROR) is None
    assert find(layout, ids.control("history", "granularity")).value == "5"
    assert find(layout, ids.control("history", "policy")).value == "reactive"


def test_history_runs_as_a_job_and_zoom_reaggregates_the_result_it_rendered(ctx, pages, page_settings):
    q = {"granularity": "1", "price": "0.86"}  # a price no other test uses: not cached yet
    first = pages["history"].layout(**q)
    params = find(first, ids.job_ids("history")["params"]).data
    assert params is not None  # uncached: the page offers the job instead of computing in the request
    assert "granularity=1" in params["search"]
    assert find(first, ids.rs_graph("history-traffic")) is None
    assert "appear here when the job is done" in text(first)
    assert find(first, ids.control("history", "price")).value == 0.86  # the controls are there at once
    seen, progress = _progress_recorder()
    layout = pages["history"].compute(progress, params)  # what the job shows
    assert seen == sorted(seen)
    assert seen[0] <= 5
    assert seen[-1] >= 95
    source = find(layout, ids.rs_source("history-traffic")).data
    fig = find(layout, ids.rs_graph("history-traffic")).figure
    assert len(fig.data[0].x) <= N_POINTS
    assert fig.layout.yaxis.title.text == "requests per second"  # the default unit
    x, cols = pages["history"].traffic_source(source["search"])
    assert len(x) == 89_280
    store = DatasetStore(page_settings.data_dir)
    np.testing.assert_allclose(cols["value"], store.get(store.default_id()).requests / 60)  # per minute / 60 s
    patch = zoom_patch({"xaxis.range[0]": "1995-07-13 08:00:00", "xaxis.range[1]": "1995-07-13 12:00:00"}, source,
                       pages["history"].traffic_source)
    ops = patch.to_plotly_json()["operations"]
    xs = next(o["params"]["value"] for o in ops if o["location"] == ["data", 0, "x"])
    ys = next(o["params"]["value"] for o in ops if o["location"] == ["data", 0, "y"])
    assert len(xs) == 4 * 60 + 3  # 1-minute points from 07:59 to 12:01: all of them when zoomed in
    expected = cols["value"][x.searchsorted(pd.Timestamp("1995-07-13 07:59")):][:len(ys)]
    np.testing.assert_allclose(np.array(ys, dtype=float), expected)
    assert source["traces"]["1"] == "anomalies"  # the anomaly marks follow the zoom too
    mark_x = next(o["params"]["value"] for o in ops if o["location"] == ["data", 1, "x"])
    assert all(xs[0] <= m <= xs[-1] for m in mark_x)
    assert len(next(o["params"]["value"] for o in ops if o["location"] == ["data", 1, "hovertext"])) == len(mark_x)
    sim_source = find(layout, ids.rs_source("history-sim")).data
    patch = zoom_patch({"xaxis.autorange": True}, sim_source, pages["history"].simulation_source)
    assert len(patch.to_plotly_json()["operations"]) == 2 * 5
    # Cached now: the next visit renders the charts directly, no job; another unit is only another rendering.
    second = pages["history"].layout(**q)
    assert find(second, ids.job_ids("history")["params"]).data is None
    assert text(find(second, ids.HISTORY_KPIS)) == text(find(layout, ids.HISTORY_KPIS))
    per = pages["history"].layout(**q, unit="period")
    assert find(per, ids.job_ids("history")["params"]).data is None
    traffic = find(per, ids.rs_graph("history-traffic")).figure
    assert traffic.layout.yaxis.title.text == "requests per period"
    assert find(per, ids.rs_graph("history-sim")).figure.layout.yaxis.title.text == "requests per period"
    assert "unit=period" in find(per, ids.rs_source("history-traffic")).data["search"]  # zoom keeps the unit
    assert max(v for v in traffic.data[0].y if v == v) == pytest.approx(60 * max(v for v in fig.data[0].y if v == v))


def test_what_if_runs_as_a_job_then_renders_from_the_cache(ctx, pages):
    q = {"granularity": "15", "mult": "1.3", "start": "1995-08-05", "end": "1995-08-12"}
    first = pages["what_if"].layout(**q)
    params = find(first, ids.job_ids("what_if")["params"]).data
    assert params is not None
    assert find(first, ids.WHATIF_TABLE) is None
    assert "appear here when the job is done" in text(first)
    seen, progress = _progress_recorder()
    done = pages["what_if"].compute(progress, params)
    assert seen == sorted(seen)
    assert seen[-1] >= 95
    assert find(done, ids.WHATIF_TABLE) is not None
    fig = find(done, CHARTS["what_if"]).figure
    assert fig.layout.yaxis.title.text == "requests per second"
    assert fig.layout.yaxis2.title.text == "servers"
    source = find(done, ids.rs_source("what_if-graph")).data
    patch = zoom_patch({"xaxis2.range[0]": "1995-08-06 00:00:00", "xaxis2.range[1]": "1995-08-07 00:00:00"},
                       source, pages["what_if"].whatif_source)
    ops = patch.to_plotly_json()["operations"]
    ys = next(o["params"]["value"] for o in ops if o["location"] == ["data", 0, "y"])
    assert len(ys) == 24 * 4 + 3  # every 15 minutes of the day, one either side
    assert max(ys) == pytest.approx(max(v for v in fig.data[0].y if v == v), rel=0.5)  # rps, like the figure
    second = pages["what_if"].layout(**q)
    assert find(second, ids.job_ids("what_if")["params"]).data is None
    assert text(find(second, ids.WHATIF_TABLE)) == text(find(done, ids.WHATIF_TABLE))
    assert _controls_round_trip(pages["what_if"], second, "what_if") == params["search"]


def test_forecast_runs_as_a_job_then_renders_from_the_cache(ctx, pages, page_settings):
    q = {"model": "seasonal_naive", "granularity": "15", "horizon": "12h", "level": "80,95", "anomalies": "1"}
    first = pages["forecast"].layout(**q)
    params = find(first, ids.job_ids("forecast")["params"]).data
    assert params
    assert "horizon=12h" in params["search"]
    seen, progress = _progress_recorder()
    children = pages["forecast"].compute(progress, params)
    assert seen[0] <= 5
    assert seen[-1] == 100
    assert seen == sorted(seen)
    table = text(find(children, ids.FORECAST_BACKTEST))
    for protocol in ("one-step", "day-ahead", "one-shot"):
        assert protocol in table
    assert "Poisson floor" in table
    assert "Seasonal naive" in table
    second = pages["forecast"].layout(**q)
    assert find(second, ids.job_ids("forecast")["params"]).data is None  # cached: no job
    graph = find(second, "forecast-graph")
    names = [t.name for t in graph.figure.data]
    assert "80% interval" in names
    assert "95% interval" in names
    mean = next(t for t in graph.figure.data if t.name.startswith("forecast"))
    assert len(mean.x) == 48  # 12 h at 15 min
    assert _controls_round_trip(pages["forecast"], second, "forecast") == params["search"]


def test_scenarios_job_and_the_recommendation_follow_weight_and_target(ctx, pages, page_settings):
    q = {"granularity": "15", "budget": "60", "start": "1995-08-03", "end": "1995-08-17"}
    first = pages["scenarios"].layout(**q)
    params = find(first, ids.job_ids("scenarios")["params"]).data
    seen, progress = _progress_recorder()
    pages["scenarios"].compute(progress, params)
    assert seen[-1] >= 98
    for weight, sla in (("0.1", None), ("0.9", None), ("0.5", "0.5")):
        layout = pages["scenarios"].layout(**q, weight=weight, **({"sla": sla} if sla else {}))
        assert find(layout, ids.job_ids("scenarios")["params"]).data is None
        with results(page_settings) as rc:
            res = pages["scenarios"]._result(pages["scenarios"].resolve(
                st.parse_query("scenarios", {**q, "weight": weight}), DatasetStore(page_settings.data_dir), rc), rc)
        rec = recommend(res["matrix"], sla_target_pct=float(sla) if sla else None, cost_weight=float(weight))
        assert text(find(layout, "scenarios-reason")) == rec.reason
        assert "Best Cost" in text(find(layout, ids.SCEN_WINNERS))
    fig = find(layout, "scenarios-matrix").figure
    assert len(fig.data) == 3
    baselines = text(find(layout, "scenarios-baselines"))
    assert "Static (peak)" in baselines  # labels, not ids
    assert "static_peak" not in baselines


def test_what_if_doubles_the_load_and_reports_deltas(ctx, pages):
    layout = _shown(pages["what_if"], mult="2", granularity="15", start="1995-08-05", end="1995-08-12")
    rows = find(layout, ids.WHATIF_TABLE).children[1].children
    cost = [text(c) for c in rows[0].children]
    assert cost[0] == "Cost ($)"
    base, scen = float(cost[1].replace(",", "")), float(cost[2].replace(",", ""))
    assert scen > 1.5 * base
    assert cost[3].startswith("+")
    assert _controls_round_trip(pages["what_if"], layout, "what_if") == (
        find(layout, ids.rs_source("what_if-graph")).data["search"])


def test_deleting_a_dataset_and_bad_ids(ctx, pages, page_settings, tmp_path):
    store = DatasetStore(page_settings.data_dir)
    src = tmp_path / "small.csv"
    src.write_text("timestamp,requests\n" + "\n".join(f"2024-01-01T{h:02d}:00:00Z,{h}" for h in range(24)))
    info = store.put(src, name="small")
    layout = pages["data"].layout(dataset=info.id)
    assert "small" in text(find(layout, ids.DATA_REPORT))
    search, message = pages["data"].delete_selected(store, {"dataset": info.id})
    assert search == f"?deleted={info.id}"
    assert message is None
    assert not store.exists(info.id)
    _, message = pages["data"].delete_selected(store, {"dataset": "../../etc"})
    assert "invalid dataset id" in text(message)


def test_the_datasets_table_lists_an_upload_without_a_reload(ctx, pages, page_settings, tmp_path):
    store = DatasetStore(page_settings.data_dir)
    layout = pages["data"].layout()
    widget = find(layout, ids.DATA_UPLOAD)
    assert widget.to_plotly_json()["props"]["data-target-input"] == ids.DATA_UPLOADED  # upload.js writes it
    assert find(layout, ids.DATA_UPLOADED) is not None
    src = tmp_path / "uploaded.csv"
    src.write_text("timestamp,requests\n" + "\n".join(f"2024-02-01T{h:02d}:00:00Z,{h}" for h in range(24)))
    info = store.put(src, name="uploaded-just-now")
    try:
        assert "uploaded-just-now" not in text(find(layout, ids.DATA_TABLE))
        table = pages["data"].refresh_table(info.id, find(layout, pages["data"].CTX).data)
        assert "uploaded-just-now" in text(table)
        assert "✔ " in text(table)  # the selection stays on the dataset shown
    finally:
        store.delete(info.id)


def test_services_metric_values(ctx, page_settings):
    store = DatasetStore(page_settings.data_dir)
    with results(page_settings) as rc:
        s = services.load_series(rc, store, store.default_id(), 60 // 12)
    err = services.metric_values(s, "error_rate")
    req = s.requests
    ok = req > 0
    expected = 100 * (s.frame["errors_4xx"] + s.frame["errors_5xx"]).to_numpy()[ok] / req[ok]
    np.testing.assert_allclose(err[ok], expected)
    assert np.isnan(err[~ok]).all()


def test_scenarios_lead_with_the_held_out_recommendation(ctx, pages):
    q = {"granularity": "15", "budget": "60", "start": "1995-08-03", "end": "1995-08-17"}
    params = find(pages["scenarios"].layout(**q), ids.job_ids("scenarios")["params"]).data
    if params is not None:  # not cached by the test above (run alone)
        seen, progress = _progress_recorder()
        pages["scenarios"].compute(progress, params)
    for sla in ("1", "0.5"):  # another SLA re-ranks the cached evaluation: no new job
        layout = pages["scenarios"].layout(**q, sla=sla)
        assert find(layout, ids.job_ids("scenarios")["params"]).data is None
        heldout = text(find(layout, ids.SCEN_HELDOUT))
        assert heldout.startswith("Recommendation, checked on held-out weeks")
        assert f"{float(sla):g}% overloaded periods" in heldout
        rows = find(layout, ids.SCEN_FOLDS).children[1].children
        assert [text(r.children[0]) for r in rows] == ["selection"] * 3 + ["final"]


@pytest.mark.parametrize(("page", "query", "name"), [
    ("data", {}, "data"),
    ("history", {"granularity": "15", "start": "1995-08-20"}, "history"),
    ("forecast", {"granularity": "5", "horizon": "6h"}, "forecast"),
    ("scenarios", {"granularity": "15", "budget": "30"}, "scenarios"),
    ("what_if", {"granularity": "15", "mult": "1.5"}, "what-if"),
    ("plan", {"horizon": "1d", "paths": "10"}, "plan"),
])
def test_every_page_links_its_downloads_and_a_copy_link_to_its_own_query(ctx, pages, page_settings, page, query,
                                                                          name):
    layout = pages[page].layout(**query)
    store = DatasetStore(page_settings.data_dir)
    search = "?" + "&".join([f"dataset={store.default_id()}"] + [f"{k}={v}" for k, v in query.items()])
    for fmt in ("csv", "json", "html"):
        link = find(layout, ids.export_link(page, fmt))
        assert link is not None, (page, fmt)
        assert link.href == f"/export/{name}/{fmt}{search}"
        assert link.download == ""
    assert find(layout, ids.copy_link(page)) is not None
    if page != "data":  # the links follow the controls: another value, another query
        default = next(p.default for p in st.params_of(page) if p.key == "granularity")
        other = pages[page].layout(**{**query, "granularity": default})
        assert "granularity" not in find(other, ids.export_link(page, "csv")).href


def test_a_job_refused_by_core_shows_its_message_instead_of_an_internal_error(ctx, pages, page_settings, tmp_path):
    from dashapp.components.job import run_job

    store = DatasetStore(page_settings.data_dir)
    src = tmp_path / "one-day.csv"
    src.write_text("timestamp,requests\n" + "\n".join(f"2024-01-01T{m // 60:02d}:{m % 60:02d}:00Z,{m % 7 + 1}"
                                                       for m in range(0, 1440, 5)))
    info = store.put(src, name="one day")
    layout = pages["forecast"].layout(dataset=info.id)
    params = find(layout, ids.job_ids("forecast")["params"]).data
    result, note, run_style = run_job(pages["forecast"].compute, lambda *a: None, params)
    shown = text(result)
    assert "Failed:" in shown
    assert "needs at least 2 days of data" in shown  # core's own message, not "an internal error"
    assert "job-failed" in result.className
    assert note is None
    assert run_style == {"display": "none"}  # running it again gives the same answer: change the input

    def bug(progress, request):
        raise KeyError("boom")

    with pytest.raises(KeyError):  # anything else is a bug: on_error reports it without details
        run_job(bug, lambda *a: None, params)


def test_history_charts_keep_to_the_window_and_label_gaps_by_what_the_data_tell(ctx, pages):
    layout = _shown(pages["history"], granularity="15", start="1995-07-12", end="1995-07-16")
    lo, hi = pd.Timestamp("1995-07-12"), pd.Timestamp("1995-07-16")
    for name in ("history-traffic", "history-sim"):
        fig = find(layout, ids.rs_graph(name)).figure
        assert fig.layout.xaxis.range is None  # autorange: the data and the bands decide
        for shape in fig.layout.shapes:  # STS-70's mission runs to 07-22: its band stops at the window's end
            assert lo <= pd.Timestamp(shape.x0)
            assert pd.Timestamp(shape.x1) < hi
    traffic = find(layout, ids.rs_graph("history-traffic")).figure
    assert "STS-70 mission" in [a.text for a in traffic.layout.annotations]
    assert traffic.layout.xaxis.title.text == "time (UTC-04:00)"
    gaps = _shown(pages["history"], granularity="15", start="1995-07-27", end="1995-08-05")
    labels = [a.text for a in find(gaps, ids.rs_graph("history-sim")).figure.layout.annotations]
    assert labels == ["no requests", "outage"]  # the no-log stretch, then the hurricane (the calendar's outage)
    one = text(find(_shown(pages["history"], granularity="15", start="1995-07-27", end="1995-07-31"),
                    "history-summary"))
    assert " 1 gap" in one
    assert "1 gaps" not in one


def test_forecast_defaults_to_the_future_with_the_last_week_backtested_beside_it(ctx, pages, page_settings):
    store = DatasetStore(page_settings.data_dir)
    end = store.get(store.default_id()).end  # 1995-09-01 00:00 -04:00
    q = {"granularity": "15", "horizon": "6h"}
    params = find(pages["forecast"].layout(**q), ids.job_ids("forecast")["params"]).data
    seen, progress = _progress_recorder()
    pages["forecast"].compute(progress, params)
    assert seen == sorted(seen)
    assert seen[-1] == 100
    layout = pages["forecast"].layout(**q)
    assert find(layout, ids.job_ids("forecast")["params"]).data is None  # both cached: no job
    mean = next(t for t in find(layout, "forecast-graph").figure.data if t.name.startswith("forecast"))
    assert pd.Timestamp(mean.x[0]) == end.tz_localize(None)  # the future, not the past
    assert len(mean.x) == 24
    tested = find(layout, ids.FORECAST_BACKTEST_GRAPH).figure
    names = [t.name for t in tested.data]
    assert "actual" in names
    tested_mean = next(t for t in tested.data if t.name.startswith("forecast"))
    assert pd.Timestamp(tested_mean.x[0]) == pd.Timestamp("1995-08-25")  # core's default split: the last week
    assert len(tested_mean.x) == 7 * 96
    table = text(find(layout, ids.FORECAST_BACKTEST))
    assert "one-step" in table
    assert "Trained up to 1995-08-24T23:45, scored 1995-08-25T00:00" in text(layout)
    assert "(the end of the data)" in text(find(layout, "forecast-summary"))
    assert "pick an earlier origin" not in text(layout)
    # The default model is "auto": core.selection's choice, made for each forecast on the data before its origin.
    choice = text(find(layout, "forecast-choice"))
    assert "Model chosen automatically" in choice
    assert "narrowest calibrated 80% interval" in choice
    assert "before its own origin" in choice
    assert len(list((Path(page_settings.models_dir) / "selection").glob("*.json"))) == 2  # one per origin
    # An explicit origin keeps working: the forecast starts there and is scored on the data after it.
    explicit = {**q, "origin": "1995-08-21"}
    params = find(pages["forecast"].layout(**explicit), ids.job_ids("forecast")["params"]).data
    assert "origin=1995-08-21" in params["search"]
    children = pages["forecast"].compute(lambda *a: None, params)
    assert find(children, ids.FORECAST_BACKTEST_GRAPH) is None
    mean = next(t for t in find(children, "forecast-graph").figure.data if t.name.startswith("forecast"))
    assert pd.Timestamp(mean.x[0]) == pd.Timestamp("1995-08-21")
    assert "scored 1995-08-21T00:00" in text(children)


PLAN_Q = {"horizon": "1d", "origin": "1995-08-30", "paths": "10"}


def test_plan_job_renders_the_fan_the_costs_and_the_schedule(ctx, pages):
    first = pages["plan"].layout(**PLAN_Q)
    params = find(first, ids.job_ids("plan")["params"]).data
    assert params is not None  # not computed yet: the page offers the job
    seen, progress = _progress_recorder()
    pages["plan"].compute(progress, params)
    assert seen[-1] == 100
    layout = pages["plan"].layout(**PLAN_Q)
    assert find(layout, ids.job_ids("plan")["params"]).data is None
    reason = text(find(layout, ids.PLAN_REASON))
    assert "Over the next 1 day it costs" in reason
    assert "The plan made on 08-30 predicted" in reason  # a past origin: set against the real day
    rows = find(layout, ids.PLAN_POLICIES).children[1].children
    assert text(rows[0].children[0]) == "recommended"
    assert all("$" in text(r.children[7]) for r in rows)  # each policy's real cost
    fan = find(layout, ids.PLAN_FAN).figure
    names = [t.name for t in fan.data]
    assert "median path" in names
    assert "actual (came after the plan)" in names
    schedule = find(layout, ids.PLAN_SCHEDULE).figure
    assert len(schedule.data) == 2 * len(rows)
    assert len(schedule.data[0].x) == 24


@pytest.mark.parametrize(("query", "fragment"), [
    ({"origin": "1995-07-05"}, "less than 14 days of history"),
    ({"horizon": "3"}, "at least 1 hour"),
])
def test_plan_bad_values_fall_back_with_a_warning(ctx, pages, query, fragment):
    layout = pages["plan"].layout(**{"paths": "10", **query})
    assert any(fragment in w for w in _warnings(layout)), _warnings(layout)
