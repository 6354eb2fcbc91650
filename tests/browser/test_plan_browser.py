"""The Plan page from a bookmarked URL in a real browser: its job draws the fan and the server schedule, and
its download buttons give the plan as CSV, JSON and an HTML report."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

pytestmark = pytest.mark.browser

URL = "/plan?granularity=15&horizon=1d&origin=1995-08-30&paths=10"


def test_a_bookmarked_plan_renders_the_fan_and_the_schedule_and_downloads(web):
    page = web.open(URL)
    page.wait_for_selector("#plan-fan .scatterlayer .trace", timeout=120_000)
    page.wait_for_selector("#plan-schedule .scatterlayer .trace")
    assert "Over the next 1 day it costs" in web.text("#plan-reason")
    assert "recommended" in web.text("#plan-policies")
    # The fan: the p5-p95 and p10-p90 bands, the median path, the history and the day that came after.
    assert page.locator("#plan-fan .scatterlayer .trace").count() >= 6
    files = {}
    for fmt in ("csv", "json", "html"):
        sel = f"#plan-export-{fmt}"
        assert "/export/plan/" in page.get_attribute(sel, "href")
        assert "origin=1995-08-30" in page.get_attribute(sel, "href")
        with page.expect_download() as info:
            page.click(sel)
        assert info.value.suggested_filename.endswith(f".{fmt}")
        files[fmt] = open(info.value.path(), "rb").read()
    table = pd.read_csv(io.BytesIO(files["csv"]))
    assert len(table) == 96
    assert {"p10", "p50", "p90", "recommended_servers_p90"} <= set(table.columns)
    summary = json.loads(files["json"])
    assert summary["recommended"] == summary["policies"][0]["name"]
    assert summary["backtest"]["realized_cost"]
    assert b"Server schedule" in files["html"]
    # The recommended policy, as the team's autoscaler takes it, with the plan's schedule.
    for fmt in ("hpa", "keda", "aws"):
        with page.expect_download() as info:
            page.click(f"#plan-deploy-{fmt}")
        files[fmt] = open(info.value.path(), "rb").read().decode()
    assert "kind: HorizontalPodAutoscaler" in files["hpa"]
    assert "kind: ScaledObject" in files["keda"]
    aws = json.loads(files["aws"])
    text = json.dumps(aws)
    assert "PutScheduledUpdateGroupAction" in text
    assert "ALBRequestCountPerTarget" in text or "StepScaling" in text
    assert web.errors == []
