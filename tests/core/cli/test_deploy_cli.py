"""``python -m core export-policy`` as a user runs it: a preset, an explicit policy, the walk-forward
recommendation on a short generated series, and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.scaling.config import PRESETS
from core.scaling.policy_config import to_policy_dict
from core.scaling.simulate import SimulationModel

ROOT = Path(__file__).resolve().parents[3]
yaml = pytest.importorskip("yaml")


def run(*args, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "TRAFFIC_DATA_DIR": str(tmp_path / "store")}
    return subprocess.run(
        [sys.executable, "-m", "core", "export-policy", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory) -> Path:
    """Nine days of 5-minute traffic with a daily cycle: two daily folds at 15 minutes, in seconds."""
    idx = pd.date_range("2024-01-01", periods=288 * 9, freq="5min")
    rng = np.random.default_rng(0)
    v = rng.poisson(220 * (1 + 0.6 * np.sin(np.arange(len(idx)) / 288 * 2 * np.pi)))
    path = tmp_path_factory.mktemp("deploy_cli") / "traffic.csv"
    pd.DataFrame({"timestamp": idx.strftime("%Y-%m-%d %H:%M:%S"), "requests": v}).to_csv(path, index=False)
    return path


def test_a_preset_to_stdout_needs_no_data(tmp_path):
    r = run(
        "--format",
        "hpa",
        "--policy",
        "conservative/target_tracking",
        "--capacity-per-server-rps",
        "20",
        "--min-servers",
        "3",
        "--max-servers",
        "30",
        tmp_path=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    (obj,) = list(yaml.safe_load_all(r.stdout))
    assert obj["kind"] == "HorizontalPodAutoscaler"
    assert (obj["spec"]["minReplicas"], obj["spec"]["maxReplicas"]) == (3, 30)
    assert obj["spec"]["metrics"][0]["pods"]["target"]["averageValue"] == "12000m"  # 20/s x 0.6
    assert obj["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600
    assert not (tmp_path / "store").exists()  # no dataset was read


def test_policy_json_file_to_out_and_json(tmp_path):
    policy = {"name": "mine", **to_policy_dict(PRESETS["aggressive"], "reactive", SimulationModel())}
    src = tmp_path / "policy.json"
    src.write_text(json.dumps({"recommended": policy}))  # the whole `recommend --json` output is accepted
    schedule = tmp_path / "plan.json"
    schedule.write_text(
        json.dumps(
            {
                "schedule": [
                    {"hour": "2026-12-06T14:00:00Z", "servers_p50": 2, "servers_p90": 4},
                    {"hour": "2026-12-06T15:00:00Z", "servers_p50": 2, "servers_p90": 4},
                ]
            }
        )
    )
    out = tmp_path / "asg.json"
    r = run(
        "--format",
        "aws",
        "--policy-json",
        str(src),
        "--schedule",
        str(schedule),
        "--granularity",
        "1min",
        "--name",
        "shop-asg",
        "--out",
        str(out),
        tmp_path=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"wrote {out} (aws, policy mine): ")
    requests = json.loads(out.read_text())
    assert {q["params"]["AutoScalingGroupName"] for q in requests if q["service"] == "autoscaling"} == {"shop-asg"}
    alarm = next(q["params"] for q in requests if q["operation"] == "PutMetricAlarm")
    assert alarm["Period"] == 60
    assert [q["params"]["MinSize"] for q in requests if q["operation"] == "PutScheduledUpdateGroupAction"] == [4, 1]

    r = run("--format", "aws", "--policy-json", json.dumps(policy), "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1
    d = json.loads(lines[0])
    assert d["format"] == "aws"
    assert d["policy"] == policy
    assert json.loads(d["text"]) == d["objects"]
    assert {m["carries_over"] for m in d["mapping"]} <= {"exact", "approximated", "none"}


def test_policy_json_keys_left_out_take_the_model_overrides(tmp_path):
    # As simulate --config-json: what the policy's config does not give comes from --max-servers etc.
    r = run(
        "--format",
        "hpa",
        "--policy-json",
        '{"policy": "target_tracking", "config": {"min_servers": 2}}',
        "--max-servers",
        "7",
        tmp_path=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    (obj,) = list(yaml.safe_load_all(r.stdout))
    assert (obj["spec"]["minReplicas"], obj["spec"]["maxReplicas"]) == (2, 7)


def test_default_is_the_walk_forward_recommendation(csv_path, tmp_path):
    common = ["--data", str(csv_path), "--granularity", "15min", "--folds", "2", "--budget", "30"]
    r = run("--format", "keda", *common, "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["policy"]["name"]  # the recommended candidate's name
    (obj,) = d["objects"]
    assert obj["kind"] == "ScaledObject"
    assert r.stderr == ""
    # A cap that binds: nothing meets the SLA, the safest candidate is exported and stderr says so.
    r = run("--format", "hpa", *common, "--max-servers", "1", "--sla-pct", "0.1", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "safest candidate" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert list(yaml.safe_load_all(r.stdout))[0]["spec"]["maxReplicas"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "hpa", "--policy", "fast/balanced"], "unknown preset policy 'fast/balanced'"),
        (["--format", "hpa", "--policy-json", '{"policy": "balanced", "config": {"x": 1}}'], "unknown key(s)"),
        (
            ["--format", "hpa", "--policy-json", "/no/such/policy.json"],
            "--policy-json: '/no/such/policy.json' is neither",
        ),
        (["--format", "hpa", "--policy", "balanced/balanced", "--name", "Web_1"], "is not a Kubernetes name"),
        (
            ["--format", "aws", "--policy", "balanced/balanced", "--schedule", '[{"hour": "x", "servers_p90": 1}]'],
            "hour 'x' is not an ISO timestamp",
        ),
        (["--format", "aws", "--policy", "balanced/balanced", "--granularity", "7q"], "granularity"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, args, message):
    r = run(*args, tmp_path=tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
