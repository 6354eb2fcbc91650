"""What the deploy exports share: a policy's numbers in autoscaler units, the mapping rows, the schedule.

See :mod:`core.scaling.deploy`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from core.errors import InputError
from core.scaling.config import Grid, Policy, ScalingConfig
from core.scaling.simulate import SimulationModel

__all__ = ["SCHEDULE_NOTE", "Rule", "common_rows", "fmt_num", "merge_schedule", "row", "seconds"]


@dataclass(frozen=True)
class Rule:
    """The policy's numbers in the units autoscalers take."""

    config: ScalingConfig
    policy: Policy
    model: SimulationModel
    period_s: float

    @property
    def tracking(self) -> bool:
        return self.policy in (Policy.TARGET_TRACKING, Policy.HYBRID)

    @property
    def forecast(self) -> bool:
        return self.policy in (Policy.PREDICTIVE, Policy.HYBRID)

    @property
    def rps(self) -> float:
        return self.model.capacity.capacity_per_server_rps

    @property
    def target_rps(self) -> float:
        """Requests per second per server at the target utilization."""
        return self.rps * self.config.target_utilization

    def periods(self, direction: str) -> int:
        """Consecutive periods the threshold rule waits for (1 for the reactive policy, as the kernel reads it)."""
        if self.policy == Policy.REACTIVE:
            return 1
        return int(getattr(self.config, f"scale_{direction}_periods"))

    @property
    def cooldown_s(self) -> float:
        """The cooldown in seconds, at least one period (a shorter one never binds in the simulator)."""
        grid = Grid(self.period_s)
        return max(1, grid.cooldown_periods(self.config)) * self.period_s

    @property
    def boot_s(self) -> int:
        return int(math.ceil(self.model.capacity.boot_delay_minutes * 60.0 - 1e-9))


def row(setting: str, value, target: str, carries_over: str, note: str = "") -> dict:
    return {"setting": setting, "value": value, "target": target, "carries_over": carries_over, "note": note}


def fmt_num(v: float) -> str:
    return f"{v:.6g}"


def seconds(name: str, value: float, cap: int, rows: list[dict], target: str) -> int:
    """``value`` seconds as a whole number, capped at ``cap`` (a row says so when it is)."""
    s = int(round(value))
    if s > cap:
        rows.append(row(name, s, target, "approximated", f"{s} s exceeds the limit of {cap} s: capped at {cap}"))
        return cap
    return s


def common_rows(
    rule: Rule,
    target_value: str,
    bounds: tuple[str, str],
    warmup: tuple[str, str, str],
    thresholds_tracked: bool = True,
) -> list[dict]:
    """The rows every format shares: bounds, capacity and target, boot delay, forecast floor, billing.

    Args:
        target_value: where the per-server target goes.
        bounds: where min_servers and max_servers go.
        warmup: (target, carries_over, note) of the boot delay.
        thresholds_tracked: a threshold policy becomes target tracking at its target utilization (Kubernetes);
            False when the format has threshold rules of its own (AWS step scaling), whose rows it adds.
    """
    cfg, cap = rule.config, rule.model.capacity
    rows = [
        row("min_servers", cap.min_servers, bounds[0], "exact"),
        row("max_servers", cap.max_servers, bounds[1], "exact"),
        row(
            "capacity_per_server_rps",
            rule.rps,
            target_value,
            "exact",
            "requests per second one server serves; the target is capacity x target utilization",
        ),
    ]
    if rule.tracking:
        rows.append(row("target_utilization", cfg.target_utilization, target_value, "exact"))
    elif not thresholds_tracked:
        rows.append(
            row("target_utilization", cfg.target_utilization, "-", "none", "a threshold policy does not read it")
        )
    else:
        rows += [
            row(
                "target_utilization",
                cfg.target_utilization,
                target_value,
                "approximated",
                "a threshold rule has no target: the configuration's target utilization, between its thresholds, "
                "is tracked instead",
            ),
            row(
                "scale_out_threshold",
                cfg.scale_out_threshold,
                target_value,
                "approximated",
                "the autoscaler acts when the load leaves target x (1 +/- tolerance), not at the thresholds",
            ),
            row("scale_in_threshold", cfg.scale_in_threshold, target_value, "approximated", "as scale_out_threshold"),
        ]
    rows.append(row("boot_delay_minutes", cap.boot_delay_minutes, warmup[0], warmup[1], warmup[2]))
    if rule.forecast:
        pred = rule.model.predictive
        rows.append(
            row(
                "forecast floor",
                f"{pred.forecast_model}, margin {pred.safety_margin:g}, buffer {pred.buffer_minutes:g} min",
                "-",
                "none",
                "no equivalent: the autoscaler reacts to the observed load only; deploy the plan's "
                "schedule (aws: scheduled actions; keda: cron triggers) to carry the forecast",
            )
        )
    rows.append(
        row(
            "price_per_server_hour",
            rule.model.cost.price_per_server_hour,
            "-",
            "none",
            "billing is the provider's, not the autoscaler's",
        )
    )
    return rows


def merge_schedule(schedule, rule: Rule) -> list[tuple[pd.Timestamp, pd.Timestamp, int]]:
    """``(start, end, floor)`` blocks in UTC: each hour's p90 servers within the bounds, equal consecutive hours
    merged (a timestamp without an offset is read as UTC).

    Raises:
        InputError: a row without ``hour`` and ``servers_p90``, a bad timestamp or count, a repeated hour.
    """
    cap = rule.model.capacity
    if not isinstance(schedule, list):
        raise InputError(
            f"schedule must be a list of rows {{'hour', 'servers_p50', 'servers_p90'}}, got {type(schedule).__name__}"
        )
    hours, seen = [], set()
    for i, r in enumerate(schedule):
        if not isinstance(r, dict) or "hour" not in r or "servers_p90" not in r:
            raise InputError(
                f"schedule row {i}: expected {{'hour': ISO timestamp, 'servers_p50': int, "
                f"'servers_p90': int}}, got {r!r}"
            )
        try:
            t = pd.Timestamp(r["hour"])
        except (ValueError, TypeError):
            t = pd.NaT
        if t is pd.NaT:
            raise InputError(f"schedule row {i}: hour {r['hour']!r} is not an ISO timestamp") from None
        n = r["servers_p90"]
        if isinstance(n, bool) or not isinstance(n, (int, float)) or not float(n).is_integer() or n < 0:
            raise InputError(f"schedule row {i}: servers_p90 must be a whole number >= 0, got {n!r}")
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        if t in seen:
            raise InputError(f"schedule row {i}: hour {r['hour']!r} appears twice; give one row per hour")
        seen.add(t)
        hours.append((t, min(cap.max_servers, max(cap.min_servers, int(n)))))
    hours.sort(key=lambda h: h[0])
    blocks: list[list] = []
    for t, n in hours:
        if blocks and blocks[-1][2] == n and blocks[-1][1] == t:
            blocks[-1][1] = t + pd.Timedelta(hours=1)
        else:
            blocks.append([t, t + pd.Timedelta(hours=1), n])
    return [tuple(b) for b in blocks]


SCHEDULE_NOTE = (
    "each hour's p90 servers (clipped to [min_servers, max_servers]) as the floor, so the fleet is "
    "up before a known peak whatever the dynamic policy sees; consecutive hours with the same "
    "floor are merged into one action"
)
