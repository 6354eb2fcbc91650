"""Figure builders: results in, go.Figure out (no Dash, no browser)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.forecast.result import ForecastResult
from core.scaling import simulate
from core.scaling.matrix import run_matrix
from core.scaling.optimize import optimize
from core.scaling.whatif import LoadTransform, whatif
from core.series import Gap, TrafficSeries
from dashapp import figures as F


def _series(days: int = 14, minutes: int = 5) -> TrafficSeries:
    idx = pd.date_range("1995-07-03", periods=days * 1440 // minutes, freq=f"{minutes}min", tz="-04:00")
    t = np.arange(len(idx))
    rng = np.random.default_rng(0)
    y = 200 + 150 * np.sin(2 * np.pi * t / (1440 // minutes)) + rng.normal(0, 10, len(idx))
    y = np.maximum(y, 0)
    y[500:560] = np.nan
    gap = Gap(idx[500], idx[560], "missing")
    return TrafficSeries(pd.DataFrame({"requests": y}, index=idx), pd.Timedelta(minutes=minutes), (gap,))


def test_downsample_keeps_extremes_gaps_and_the_range():
    x = pd.date_range("2024-01-01", periods=200_000, freq="1min")
    y = np.sin(np.arange(len(x)) / 500.0)
    y[123_456] = 50.0
    y[10_000:12_000] = np.nan
    xs, ys = F.downsample(x, y, n_out=2000)
    assert len(xs) <= 2000
    assert len(xs) == len(ys)
    assert np.nanmax(ys) == 50.0  # the spike survives
    assert np.isnan(ys).any()  # the gap stays a gap
    assert xs.is_monotonic_increasing
    xr, yr = F.downsample(x, y, n_out=2000, x_range=("2024-02-01", "2024-02-02"))
    assert xr[0] >= pd.Timestamp("2024-01-31 23:59")
    assert xr[-1] <= pd.Timestamp("2024-02-02 00:01")
    assert len(xr) == 1443  # both ends of the day plus one point either side: under n_out, all points
    short_x, short_y = F.downsample(x[:10], y[:10])
    assert list(short_y) == list(y[:10])


@pytest.mark.parametrize(("relayout", "expected"), [
    ({"xaxis.range[0]": "1995-07-10", "xaxis.range[1]": "1995-07-11"}, ("1995-07-10", "1995-07-11")),
    ({"xaxis2.range": ["a", "b"]}, ("a", "b")),
    ({"xaxis.autorange": True}, "full"),
    ({"autosize": True}, None),
    (None, None),
    ({"xaxis.range[0]": "1995-07-10"}, None),
])
def test_parse_relayout(relayout, expected):
    assert F.parse_relayout(relayout) == expected


def test_traffic_figure_shades_gaps_annotates_events_and_marks_anomalies():
    s = _series()
    events = [{"name": "STS-70 launch", "start": "1995-07-13", "end": "1995-07-13", "impact": "high_traffic"}]
    anomalies = [{"start": s.index[100].isoformat(), "end": s.index[101].isoformat(), "method": "zscore",
                  "periods": 1, "score": 4.2},
                 {"start": s.index[200].isoformat(), "end": s.index[201].isoformat(), "method": "iforest",
                  "periods": 1, "score": 0.7}]
    rf = F.traffic_figure(s.index, s.requests, "requests", [g.to_dict() for g in s.gaps], events, anomalies)
    fig = rf.figure
    assert rf.traces == {0: "value", 1: "anomalies"}
    assert [t.name for t in fig.data] == ["requests per period", "anomaly"]
    assert len(fig.data[1].x) == 1  # only the z-score run is marked
    assert fig.data[1].y[0] == pytest.approx(s.requests[100])
    assert "unusual for this time of day: z 4.2 against the expected level" in fig.data[1].hovertext[0]
    texts = [a.text for a in fig.layout.annotations]
    assert "no data" in texts
    assert "STS-70 launch" in texts
    assert len(fig.layout.shapes) == 2
    # Local wall-clock times, without the offset, as milliseconds on a date axis (no parsing in the browser).
    assert fig.layout.xaxis.type == "date"
    assert pd.Timestamp(fig.data[0].x[0], unit="ms") == pd.Timestamp("1995-07-03 00:00")
    assert pd.Timestamp(fig.data[1].x[0], unit="ms") == s.index[100].tz_localize(None)


def test_anomaly_marks_are_thinned_per_range_keeping_the_top_scores():
    x = pd.date_range("1995-07-01", periods=89_280, freq="1min")
    y = np.arange(len(x), dtype=float)
    rng = np.random.default_rng(1)
    starts = np.sort(rng.choice(len(x), 600, replace=False))
    scores = rng.uniform(3, 5, len(starts))
    scores[123] = 99.0
    anomalies = [{"start": str(x[k]), "end": str(x[k]), "method": "zscore", "periods": 1, "score": float(sc)}
                 for k, sc in zip(starts, scores, strict=True)]
    anomalies.append({"start": str(x[5]), "end": str(x[5]), "method": "iforest", "periods": 1, "score": 50.0})
    marks = F.Marks.anomalies(x, y, anomalies)
    assert len(marks.x) == 600  # only the z-score / DDoS runs are marked
    xs, ys, text = marks.visible()
    assert 0 < len(xs) <= F.MAX_MARKS
    assert np.all(np.diff(xs) > 0)
    shown = pd.to_datetime(xs, unit="ms")
    assert x[starts[123]] in shown  # the strongest anomaly survives the thinning
    assert "z 99.0" in text[list(shown).index(x[starts[123]])]
    np.testing.assert_array_equal(ys, y[x.get_indexer(shown)])  # each mark sits on its point of the line
    lo, hi = x[starts[100]], x[starts[110]]
    zx, _, _ = marks.visible((str(lo), str(hi)))
    assert list(pd.to_datetime(zx, unit="ms")) == list(x[starts[100:111]])  # zoomed in: every mark of the range
    empty = F.Marks.anomalies(x, y, [])
    assert len(empty.visible()[0]) == 0


def test_simulation_figure_shows_demand_capacity_excess_and_servers():
    s = _series()
    res = simulate(s, "balanced", "reactive")
    rf = F.simulation_figure(res.timeline, [g.to_dict() for g in s.gaps])
    assert [t.name.split(" (")[0] for t in rf.figure.data] == ["demand", "capacity", "overloaded", "dropped",
                                                               "servers"]
    assert set(rf.traces.values()) == {"demand", "capacity", "excess", "dropped", "servers"}
    cols = F.sim_columns(res.timeline)
    assert (cols["excess"] >= 0).all()
    assert (cols["excess"][res.timeline["excluded"].to_numpy()] == 0).all()
    over = res.timeline["overloaded"].to_numpy() & ~res.timeline["excluded"].to_numpy()
    assert ((cols["excess"] > 0) == over).all()


def test_forecast_figure_has_one_band_per_level():
    idx = pd.date_range("1995-08-20", periods=200, freq="15min", tz="-04:00")
    fidx = pd.date_range(idx[-1] + pd.Timedelta(minutes=15), periods=10, freq="15min", tz="-04:00")
    mean = np.full(10, 100.0)
    bundle = ForecastResult(
        model="seasonal_naive", label="Seasonal naive", target="requests", interval=pd.Timedelta(minutes=15),
        origin=fidx[0], steps=10, levels=[80.0, 95.0], fit_seconds=0.0, model_cached=False,
        history=(idx, np.ones(200)), actual=(fidx[:5], np.ones(5)),
        prediction={"timestamps": fidx, "mean": mean, "lo-80": mean - 5, "hi-80": mean + 5,
                    "lo-95": mean - 9, "hi-95": mean + 9})
    fig = F.forecast_figure(bundle)
    names = [t.name for t in fig.data]
    assert names[:2] == ["history", "actual"]
    assert "80% interval" in names
    assert "95% interval" in names
    assert names[-1] == "forecast (Seasonal naive)"
    band = next(t for t in fig.data if t.name == "95% interval")
    assert band.fill == "tonexty"
    assert list(band.y) == list(mean - 9)
    assert fig.layout.shapes[0].x0 == fidx[0].tz_localize(None)  # the origin line


def test_matrix_and_pareto_figures_show_the_core_numbers():
    s = _series()
    m = run_matrix(s)
    md = m.to_dict()
    fig = F.matrix_figure(md)
    assert [t.type for t in fig.data] == ["heatmap"] * 3
    cost = fig.data[0]
    for sc in md["scenarios"]:
        i, j = list(cost.y).index(sc["config"]), list(cost.x).index(sc["policy"])
        assert cost.z[i][j] == sc["cost"]
        assert fig.data[1].z[i][j] == sc["overloaded_pct"]
    assert fig.layout.xaxis.title.text == "policy"
    assert fig.layout.yaxis.title.text == "configuration"
    assert list(fig.layout.xaxis.ticktext) == [p.capitalize() for p in cost.x]  # labels on the ticks, ids as data
    assert "Balanced" in fig.layout.yaxis.ticktext
    opt = optimize(s, budget=60)
    pf = F.pareto_figure(opt.front, opt.knee, md["scenarios"], md["baselines"])
    knee = next(t for t in pf.data if t.name == "knee")
    assert (knee.x[0], knee.y[0]) == (opt.knee["cost"], opt.knee["overloaded_pct"])
    front = next(t for t in pf.data if t.name == "Pareto front")
    assert list(front.x) == sorted(front.x)


def test_whatif_figure_compares_baseline_and_scenario():
    s = _series()
    res = whatif(s, transform=LoadTransform(multiplier=2.0), timelines=True)
    rf = F.whatif_figure(res.baseline.timeline, res.scenario.timeline)
    assert len(rf.figure.data) == 4
    assert set(rf.traces.values()) == {"demand_base", "demand_scen", "servers_base",
                                                                    "servers_scen"}
    cols = F.whatif_columns(res.baseline.timeline, res.scenario.timeline)
    np.testing.assert_allclose(np.nan_to_num(cols["demand_scen"]), 2 * np.nan_to_num(cols["demand_base"]))


def test_empty_figure_says_why():
    fig = F.empty_figure("no data")
    assert fig.layout.annotations[0].text == "no data"


def _label_boxes(fig):
    """``(x0 ms, x1 ms estimated, y)`` of each band label (the widths the figure packed them with)."""
    lo = pd.Timestamp(fig.data[0].x[0], unit="ms")
    hi = pd.Timestamp(fig.data[0].x[-1], unit="ms")
    per_px = (hi - lo) / F._PLOT_WIDTH_PX
    return [(pd.Timestamp(a.x), pd.Timestamp(a.x) + per_px * (len(a.text) * F._CHAR_PX + 10), a.y)
            for a in fig.layout.annotations]


def test_band_labels_are_horizontal_above_the_data_clipped_to_the_window_and_never_overlap():
    s = _series(days=4)
    lo, hi = s.index[0].tz_localize(None), s.index[-1].tz_localize(None)
    events = [  # two start on the same day; one runs on past the window
        {"name": "STS-70 launch", "start": "1995-07-04", "end": "1995-07-04", "impact": "high_traffic"},
        {"name": "STS-70 mission", "start": "1995-07-04", "end": "1995-07-22", "impact": "high_traffic"},
        {"name": "Independence Day", "start": "1995-07-04", "end": "1995-07-04", "impact": "low_traffic"},
    ]
    gaps = F.label_gaps([g.to_dict() for g in s.gaps], events)
    fig = F.traffic_figure(s.index, s.requests, "requests", gaps, events).figure
    assert len(fig.layout.shapes) == 4
    for shape in fig.layout.shapes:  # the axis autoranges to the window, not to the end of a band
        assert lo <= pd.Timestamp(shape.x0) < pd.Timestamp(shape.x1) <= hi
    top = fig.layout.yaxis.domain[1]
    assert top < 1.0
    for a in fig.layout.annotations:
        assert a.textangle is None  # horizontal
        assert a.yanchor == "top"
        assert a.y - 15 / (380 - 80) >= top - 1e-9
        shape = next(sh for sh in fig.layout.shapes if pd.Timestamp(sh.x0) == pd.Timestamp(a.x))
        assert shape is not None  # at the left of its own band
    boxes = _label_boxes(fig)
    for i, (a0, a1, ay) in enumerate(boxes):
        for b0, b1, by in boxes[i + 1:]:
            assert ay != by or a1 <= b0 or b1 <= a0, "two labels overlap"
    assert {a.text for a in fig.layout.annotations} == {"no data", "STS-70 launch", "STS-70 mission",
                                                        "Independence Day"}


def test_gaps_are_labelled_by_what_the_data_tell():
    missing = {"start": "1995-07-28T13:33:00-04:00", "end": "1995-08-01T00:00:00-04:00", "kind": "missing"}
    silent_log = {"start": "1995-07-28T13:33:00-04:00", "end": "1995-08-01T00:00:00-04:00", "kind": "silent"}
    silent_storm = {"start": "1995-08-01T14:52:00-04:00", "end": "1995-08-03T04:36:00-04:00", "kind": "silent"}
    calendar = [{"name": "Hurricane Erin outage", "start": "1995-08-01", "end": "1995-08-03", "impact": "outage"},
                {"name": "STS-70 mission", "start": "1995-07-13", "end": "1995-07-22", "impact": "high_traffic"}]
    assert F.gap_label(missing, calendar) == "no data"
    assert F.gap_label(silent_log, calendar) == "no requests"  # zero requests, but no outage on record
    assert F.gap_label(silent_storm, calendar) == "outage"
    assert F.gap_label(silent_storm) == "no requests"
    assert [g["label"] for g in F.label_gaps([silent_log, silent_storm], calendar)] == ["no requests", "outage"]


def test_time_axes_name_the_time_zone():
    s = _series(days=3)
    assert F.traffic_figure(s.index, s.requests).figure.layout.xaxis.title.text == "time (UTC-04:00)"
    res = simulate(s, "balanced", "reactive")
    assert F.simulation_figure(res.timeline).figure.layout.xaxis2.title.text == "time (UTC-04:00)"
    assert F.time_title(pd.date_range("2024-03-30", periods=3, freq="D", tz="Europe/Paris")) == "time (Europe/Paris)"
    assert F.time_title(pd.date_range("2024-03-30", periods=3, freq="D")) == "time"


def test_the_simulation_chart_draws_servers_on_their_own_row():
    s = _series(days=3)
    fig = F.simulation_figure(simulate(s, "balanced", "reactive").timeline).figure
    servers = next(t for t in fig.data if t.name == "servers")
    capacity = next(t for t in fig.data if t.name == "capacity")
    assert (servers.yaxis, capacity.yaxis) == ("y2", "y")
    top, bottom = fig.layout.yaxis.domain, fig.layout.yaxis2.domain
    assert bottom[1] < top[0]  # two rows, not one axis over the other
    assert fig.layout.yaxis2.overlaying is None
    assert fig.layout.xaxis.matches == "x2"  # one time axis: zooming one row zooms both


def test_rate_converts_counts_per_period_to_requests_per_second():
    r = F.Rate.of("rps", pd.Timedelta(minutes=5))
    np.testing.assert_allclose(r([300.0, 0.0, np.nan]), [1.0, 0.0, np.nan])  # values / 300 s, gaps stay gaps
    assert (r.title(), r.title("bytes")) == ("requests per second", "bytes per second")
    assert "req/s" in r.hover("demand")
    per = F.Rate.of("period", 300)
    np.testing.assert_allclose(per([300.0]), [300.0])
    assert per.title() == "requests per period"
    with pytest.raises(ValueError, match="unit must be one of rps, period, got 'rpm'"):
        F.Rate("rpm")


def test_the_simulation_chart_in_requests_per_second_on_a_real_simulation():
    s = _series(days=7, minutes=15)
    tl = simulate(s, "balanced", "reactive").timeline
    per = F.simulation_figure(tl).figure
    rps = F.simulation_figure(tl, rate=F.Rate.of("rps", s.interval)).figure
    for a, b in zip(per.data, rps.data, strict=True):
        scale = 1.0 if a.name == "servers" else 1 / 900  # servers are a count, not a rate
        np.testing.assert_allclose(np.asarray(b.y, dtype=float), np.asarray(a.y, dtype=float) * scale, rtol=1e-12)
    assert per.layout.yaxis.title.text == "requests per period"
    assert rps.layout.yaxis.title.text == "requests per second"
    assert rps.layout.yaxis2.title.text == "servers"
    demand = next(t for t in rps.data if t.name == "demand")
    assert demand.hovertemplate == "demand: %{y:,.2f} req/s<extra></extra>"
    assert "req/period" in next(t for t in per.data if t.name == "demand").hovertemplate
    # The zoom callback's columns carry the same unit as the figure it patches.
    cols = F.sim_columns(tl, F.Rate.of("rps", s.interval))
    np.testing.assert_allclose(cols["demand"], tl["demand"].to_numpy(dtype=float) / 900)
    np.testing.assert_allclose(cols["servers"], tl["servers"].to_numpy(dtype=float))


def test_traffic_whatif_and_forecast_charts_follow_the_unit():
    s = _series(days=3)
    rate = F.Rate.of("rps", s.interval)
    traffic = F.traffic_figure(s.index, s.requests, "requests", rate=rate).figure
    assert traffic.layout.yaxis.title.text == "requests per second"
    assert np.nanmax(np.asarray(traffic.data[0].y, dtype=float)) == pytest.approx(np.nanmax(s.requests) / 300)
    errors = F.traffic_figure(s.index, np.full(len(s.index), 2.5), "error_rate", rate=rate).figure
    assert errors.layout.yaxis.title.text == "error rate (%)"  # a percentage has no per-second form
    assert np.nanmax(np.asarray(errors.data[0].y, dtype=float)) == 2.5
    res = whatif(s, transform=LoadTransform(multiplier=2.0), timelines=True)
    wf = F.whatif_figure(res.baseline.timeline, res.scenario.timeline, rate=rate).figure
    assert wf.layout.yaxis.title.text == "requests per second"
    assert "req/s" in wf.data[0].hovertemplate
    idx = pd.date_range("1995-08-20", periods=8, freq="15min", tz="-04:00")
    fidx = idx + pd.Timedelta(hours=2)
    mean = np.full(8, 900.0)
    bundle = ForecastResult(
        model="seasonal_naive", label="Seasonal naive", target="requests", interval=pd.Timedelta(minutes=15),
        origin=fidx[0], steps=8, levels=[80.0], fit_seconds=0.0, model_cached=False, history=(idx, np.full(8, 1800.0)),
        actual=(fidx[:0], np.ones(0)), prediction={"timestamps": fidx, "mean": mean, "lo-80": mean - 90,
                                                    "hi-80": mean + 90})
    fig = F.forecast_figure(bundle, unit="rps")
    assert fig.layout.yaxis.title.text == "requests per second"
    assert list(fig.data[0].y) == [2.0] * 8  # 1,800 requests per 15 minutes
    assert list(fig.data[-1].y) == [1.0] * 8
    assert fig.layout.xaxis.title.text == "time (UTC-04:00)"
    assert F.forecast_figure(bundle).layout.yaxis.title.text == "requests per period"


def test_the_plan_charts_follow_the_unit_and_name_the_time_zone():
    idx = pd.date_range("1995-08-20", periods=4, freq="15min", tz="-04:00")
    fidx = idx + pd.Timedelta(hours=1)
    fan = {"timestamps": [t.isoformat() for t in fidx], **{k: [900.0] * 4 for k in ("p5", "p10", "p50", "p90", "p95")}}
    fig = F.plan_fan_figure((idx, np.full(4, 450.0)), fan, rate=F.Rate.of("rps", pd.Timedelta(minutes=15)))
    assert fig.layout.yaxis.title.text == "requests per second"
    assert list(fig.data[0].y) == [0.5] * 4
    schedule = [{"hour": t.isoformat(), "servers_p50": 2, "servers_p90": 3} for t in fidx]
    sf = F.plan_schedule_figure([{"role": "recommended", "schedule": schedule}])
    assert sf.layout.xaxis.title.text == "hour (UTC-04:00)"
