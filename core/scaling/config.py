"""Configurations (the numbers) and policies (the logic) of the autoscaling model.

Every time parameter is given in minutes or seconds and converted to periods of
the simulated grid by :class:`Grid`. Where a parameter is shorter than one
period the conversion is stated next to it (see ``docs/simulator.md``).
"""

from __future__ import annotations

import enum
import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "PRESETS",
    "CapacityModel",
    "CostModel",
    "Grid",
    "Policy",
    "PredictiveSpec",
    "QueueModel",
    "ScalingConfig",
    "THRESHOLD_POLICIES",
    "get_preset",
    "parse_policy",
]

_EPS = 1e-9


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


def _finite(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    _check(math.isfinite(v), f"{name} must be a finite number, got {value!r}")
    return v


def _integer(name: str, value) -> int:
    if isinstance(value, bool) or not float(value).is_integer():
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class CapacityModel:
    """Servers: how many, how fast, how soon.

    Attributes:
        capacity_per_server_rps: requests per second one server serves
            (default 1/3: 100 requests per 5 minutes, the original dashboard's figure).
            Each server is one M/M/1 channel, so its mean service time is 1 / rps.
        min_servers: lower bound on running + booting servers (>= 1).
        max_servers: upper bound on running + booting servers.
        boot_delay_minutes: a launched server serves only after this delay; 0
            reproduces an instantaneous model. A delay that is not a whole number
            of periods is rounded up: a server serves from the first period that
            starts after it has booted.
        initial_servers: servers running at the first period; None = enough for the
            first period's demand at 70% utilization (a warm start), within bounds.
    """

    capacity_per_server_rps: float = 1.0 / 3.0
    min_servers: int = 1
    max_servers: int = 100
    boot_delay_minutes: float = 5.0
    initial_servers: int | None = None

    def __post_init__(self) -> None:
        rps = _finite("capacity_per_server_rps", self.capacity_per_server_rps)
        _check(rps > 0, f"capacity_per_server_rps must be > 0, got {self.capacity_per_server_rps}")
        lo = _integer("min_servers", self.min_servers)
        hi = _integer("max_servers", self.max_servers)
        _check(lo >= 1, f"min_servers must be >= 1, got {self.min_servers}")
        _check(hi >= lo, f"min_servers ({lo}) must be <= max_servers ({hi}); raise max_servers or lower min_servers")
        boot = _finite("boot_delay_minutes", self.boot_delay_minutes)
        _check(boot >= 0, f"boot_delay_minutes must be >= 0, got {self.boot_delay_minutes}")
        if self.initial_servers is not None:
            n = _integer("initial_servers", self.initial_servers)
            _check(lo <= n <= hi, f"initial_servers must be within [{lo}, {hi}], got {self.initial_servers}")

    @property
    def service_time_s(self) -> float:
        return 1.0 / self.capacity_per_server_rps


@dataclass(frozen=True)
class CostModel:
    """Billing: every running or booting server is paid per second.

    Attributes:
        price_per_server_hour: dollars per server-hour (default 0.85).
        min_billed_seconds: minimum billed time per launch (default 60 s); a server
            terminated earlier is billed up to this.
    """

    price_per_server_hour: float = 0.85
    min_billed_seconds: float = 60.0

    def __post_init__(self) -> None:
        p = _finite("price_per_server_hour", self.price_per_server_hour)
        _check(p >= 0, f"price_per_server_hour must be >= 0, got {self.price_per_server_hour}")
        m = _finite("min_billed_seconds", self.min_billed_seconds)
        _check(m >= 0, f"min_billed_seconds must be >= 0, got {self.min_billed_seconds}")

    def server_hours(self, server_periods, topup_s, period_s: float):
        """Billed server-hours: every running or booting server for each period, plus the top-up.

        Args:
            server_periods: sum over periods of the running + booting servers (a number or an array,
                one entry per scenario).
            topup_s: extra billed seconds from the minimum billed time (same shape).
            period_s: length of one period in seconds.

        Returns:
            A float for scalar input, else a float array of the broadcast shape.
        """
        hours = np.asarray(server_periods, dtype=np.float64) * (period_s / 3600.0) + (
            np.asarray(topup_s, dtype=np.float64) / 3600.0)
        return hours.item() if hours.ndim == 0 else hours

    def cost(self, server_periods, topup_s, period_s: float):
        """Dollars billed: :meth:`server_hours` times the price (same arguments and shapes)."""
        dollars = np.asarray(self.server_hours(server_periods, topup_s, period_s)) * self.price_per_server_hour
        return dollars.item() if dollars.ndim == 0 else dollars


@dataclass(frozen=True)
class QueueModel:
    """Backlog limit and latency target.

    Attributes:
        queue_limit_seconds: the backlog holds at most this many seconds of the
            current capacity; the rest is dropped (default 60).
        p95_target_s: a period misses the latency SLA when its p95 response time
            exceeds this. None = 2x the p95 of an unloaded server (2 ln(20) service
            times, about 18 s at the default capacity): with exponential service
            times the p95 is already ln(20) ~ 3.0 service times without any
            queueing, so a target of 2x the *mean* service time would flag every period.
        sla_overloaded_pct: the SLA target used to pick "the cheapest scenario that
            meets the SLA": overloaded periods (%) must be <= this (default 1).
        elasticity_utilization: the elasticity metrics count as demanded the servers that
            serve a period's demand at this utilization (default 1: the fewest that leave it
            not overloaded; see ``core.scaling.elasticity``).
    """

    queue_limit_seconds: float = 60.0
    p95_target_s: float | None = None
    sla_overloaded_pct: float = 1.0
    elasticity_utilization: float = 1.0

    def __post_init__(self) -> None:
        q = _finite("queue_limit_seconds", self.queue_limit_seconds)
        _check(q >= 0, f"queue_limit_seconds must be >= 0, got {self.queue_limit_seconds}")
        if self.p95_target_s is not None:
            t = _finite("p95_target_s", self.p95_target_s)
            _check(t > 0, f"p95_target_s must be > 0, got {self.p95_target_s}")
        s = _finite("sla_overloaded_pct", self.sla_overloaded_pct)
        _check(0 <= s <= 100, f"sla_overloaded_pct must be within [0, 100], got {self.sla_overloaded_pct}")
        u = _finite("elasticity_utilization", self.elasticity_utilization)
        _check(0 < u <= 1, f"elasticity_utilization must be within (0, 1], got {self.elasticity_utilization}")

    def p95_target(self, capacity: CapacityModel) -> float:
        if self.p95_target_s is not None:
            return float(self.p95_target_s)
        return 2.0 * math.log(20.0) * capacity.service_time_s


@dataclass(frozen=True)
class ScalingConfig:
    """The numbers of a scaling rule (policies decide how to use them).

    Consecutive-period counts are counted in periods of the simulated grid, like
    a CloudWatch alarm's evaluation periods on a metric of that period.

    Attributes:
        name: label.
        scale_out_threshold: utilization above which to add servers (0..1].
        scale_out_periods: consecutive periods above it before acting (>= 1).
        scale_in_threshold: utilization below which to remove servers.
        scale_in_periods: consecutive periods below it before acting (>= 1).
        cooldown_minutes: minimum time between two scaling actions; a cooldown of
            at most one period never binds (decisions are one period apart anyway).
        step_out: servers added per scale-out action (>= 1).
        step_in: servers removed per scale-in action (>= 1).
        target_utilization: the target-tracking and hybrid policies keep the load ratio near this
            (0..1]: desired servers = ceil(work / (per-server capacity x target)), as AWS target
            tracking and the Kubernetes HPA do (default 0.7).
        target_tolerance: no change while |load ratio / target - 1| <= this (the HPA's tolerance,
            default 0.1; 0 acts on every deviation, as AWS target tracking does).
        scale_in_stabilization_minutes: scale-in follows the highest recommendation of this window
            (the current period's and those of the previous floor(minutes / period) periods; the HPA's
            ``scaleDown.stabilizationWindowSeconds``, default 5 min). Scale-out is never delayed.
    """

    name: str
    scale_out_threshold: float
    scale_out_periods: int
    scale_in_threshold: float
    scale_in_periods: int
    cooldown_minutes: float
    step_out: int
    step_in: int
    target_utilization: float = 0.7
    target_tolerance: float = 0.1
    scale_in_stabilization_minutes: float = 5.0

    def __post_init__(self) -> None:
        hi = _finite("scale_out_threshold", self.scale_out_threshold)
        lo = _finite("scale_in_threshold", self.scale_in_threshold)
        _check(0 < hi <= 1, f"scale_out_threshold must be within (0, 1], got {self.scale_out_threshold}")
        _check(0 <= lo < hi, f"scale_in_threshold must be within [0, scale_out_threshold={hi}), got {lo}")
        for name in ("scale_out_periods", "scale_in_periods", "step_out", "step_in"):
            v = _integer(name, getattr(self, name))
            _check(v >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        cd = _finite("cooldown_minutes", self.cooldown_minutes)
        _check(cd >= 0, f"cooldown_minutes must be >= 0, got {self.cooldown_minutes}")
        tu = _finite("target_utilization", self.target_utilization)
        _check(0 < tu <= 1, f"target_utilization must be within (0, 1], got {self.target_utilization}; "
                            "e.g. 0.7 keeps 30% headroom")
        tol = _finite("target_tolerance", self.target_tolerance)
        _check(0 <= tol < 1, f"target_tolerance must be within [0, 1), got {self.target_tolerance}; "
                             "0.1 is the Kubernetes HPA's default")
        st = _finite("scale_in_stabilization_minutes", self.scale_in_stabilization_minutes)
        _check(st >= 0, f"scale_in_stabilization_minutes must be >= 0, got {self.scale_in_stabilization_minutes}")

    def to_dict(self) -> dict:
        return asdict(self)


#: The three presets of the original dashboard (adjustable with dataclasses.replace). Their target-tracking
#: numbers follow the same line: more headroom and a longer scale-in window where the thresholds are
#: conservative; the balanced preset's (0.7, 10% tolerance, 5 min) are the target-tracking baseline's.
PRESETS: dict[str, ScalingConfig] = {
    "conservative": ScalingConfig("conservative", 0.70, 5, 0.20, 10, 10.0, 1, 1, target_utilization=0.6,
                                  scale_in_stabilization_minutes=10.0),
    "balanced": ScalingConfig("balanced", 0.80, 3, 0.30, 6, 5.0, 2, 1, target_utilization=0.7,
                              scale_in_stabilization_minutes=5.0),
    "aggressive": ScalingConfig("aggressive", 0.85, 2, 0.40, 4, 3.0, 3, 2, target_utilization=0.8,
                                scale_in_stabilization_minutes=3.0),
}


def get_preset(name: str | ScalingConfig) -> ScalingConfig:
    """A preset by name (case-insensitive), or the config itself.

    Raises:
        ValueError: for an unknown name, listing the known ones.
    """
    if isinstance(name, ScalingConfig):
        return name
    key = str(name).strip().lower()
    if key not in PRESETS:
        raise ValueError(f"unknown scaling config {name!r}; use one of: {', '.join(PRESETS)}")
    return PRESETS[key]


class Policy(enum.StrEnum):
    """How a configuration's numbers are used.

    REACTIVE acts on the last observed utilization (one period, no hysteresis);
    BALANCED waits for the configuration's consecutive periods; PREDICTIVE is
    BALANCED plus a floor from the forecast demand over the next boot delay +
    buffer, and never scales in on the forecast alone. These three read the
    thresholds (:data:`THRESHOLD_POLICIES`).

    TARGET_TRACKING keeps the load ratio at the configuration's
    ``target_utilization`` (AWS target tracking / the Kubernetes HPA): out at
    once, in by the highest recommendation of the stabilization window; the
    warm-up is the boot delay (booting servers count toward the desired
    servers, not toward the observed capacity). HYBRID is TARGET_TRACKING with
    the predictive forecast floor at the target utilization (AWS predictive
    scaling beside a dynamic policy): servers = max(target tracking, forecast
    floor); scale-in only by target tracking's stabilized rule.
    """

    REACTIVE = "reactive"
    BALANCED = "balanced"
    PREDICTIVE = "predictive"
    TARGET_TRACKING = "target_tracking"
    HYBRID = "hybrid"


#: The policies that act on a configuration's thresholds: the 3 x 3 matrix's columns by default.
THRESHOLD_POLICIES: tuple[Policy, ...] = (Policy.REACTIVE, Policy.BALANCED, Policy.PREDICTIVE)


def parse_policy(value: str | Policy) -> Policy:
    if isinstance(value, Policy):
        return value
    try:
        return Policy(str(value).strip().lower())
    except ValueError:
        raise ValueError(
            f"unknown policy {value!r}; use one of: {', '.join(p.value for p in Policy)}"
        ) from None


@dataclass(frozen=True)
class PredictiveSpec:
    """Settings of the predictive policy.

    Attributes:
        safety_margin: provision for forecast x (1 + margin) (default 0.25, chosen on two validation
            weeks before the test week; see docs/simulator.md).
        buffer_minutes: look ahead boot delay + this (default 5 min).
        forecast_model: the forecast used when the caller passes no forecaster: a
            ``core.forecast`` registry name (or alias) fitted on the history before the
            simulated window (default ``"sarima"``, the alias of ``"fourier_arma"``: Fourier
            regression + ARMA errors; results echo the name, see
            ``core.forecast.rolling.DEFAULT_FORECAST_MODEL``), or ``"seasonal_naive"`` (no
            fitting at all).
        min_history_days: the model is fitted on at least this much history; before
            that point (and on shorter series) the seasonal naive forecast is used
            (with ``refit`` other than ``"once"`` or the quantile headroom: the robust daily
            profile, ``core.scaling.forecasting.RobustProfileRolling``).
        refit: when the forecast model is refitted: ``"once"`` (default: on the history
            before the window, as above), ``"daily"`` (at each local midnight, on all data
            before it) or ``"weekly"`` (each Monday 00:00); the latter two are
            ``core.scaling.policy_forecast.PolicyForecaster``, the same forecasts for a
            period whichever window is simulated.
        headroom: what the policy provisions for beyond the forecast: ``"margin"`` (default:
            forecast x (1 + safety_margin)) or ``"quantile"`` (forecast + the
            ``headroom_level`` quantile of the forecaster's own k-step errors over the
            ``headroom_days`` before each decision; ``core.scaling.headroom``; the safety
            margin is then not applied).
        headroom_level: that quantile, in percent (default 95).
        headroom_days: days of errors it is read from (default 7).
    """

    safety_margin: float = 0.25
    buffer_minutes: float = 5.0
    forecast_model: str = "sarima"
    min_history_days: float = 14.0
    refit: str = "once"
    headroom: str = "margin"
    headroom_level: float = 95.0
    headroom_days: float = 7.0

    def __post_init__(self) -> None:
        m = _finite("safety_margin", self.safety_margin)
        _check(0 <= m <= 10, f"safety_margin must be within [0, 10], got {self.safety_margin}")
        b = _finite("buffer_minutes", self.buffer_minutes)
        _check(b >= 0, f"buffer_minutes must be >= 0, got {self.buffer_minutes}")
        _check(isinstance(self.forecast_model, str) and self.forecast_model.strip() != "",
               f"forecast_model must be a model name such as 'fourier_arma' or 'seasonal_naive', "
               f"got {self.forecast_model!r}")
        h = _finite("min_history_days", self.min_history_days)
        _check(h >= 0, f"min_history_days must be >= 0, got {self.min_history_days}")
        _check(self.refit in ("once", "daily", "weekly"),
               f"refit must be 'once', 'daily' or 'weekly', got {self.refit!r}; 'daily' refits the forecast "
               "model at each midnight")
        _check(self.headroom in ("margin", "quantile"),
               f"headroom must be 'margin' (forecast x (1 + safety_margin)) or 'quantile' (forecast + the "
               f"headroom_level quantile of its errors), got {self.headroom!r}")
        q = _finite("headroom_level", self.headroom_level)
        _check(0 < q < 100, f"headroom_level must be within (0, 100) percent, got {self.headroom_level}; e.g. 95")
        d = _finite("headroom_days", self.headroom_days)
        _check(0 < d <= 60, f"headroom_days must be within (0, 60], got {self.headroom_days}; e.g. 7 (a week of "
                            "errors)")

    @property
    def kernel_margin(self) -> float:
        """The multiplier the kernel applies to the forecast: ``safety_margin`` with ``headroom="margin"``, 0 with
        ``"quantile"`` (the measured headroom is in the forecast the kernel reads already)."""
        return self.safety_margin if self.headroom == "margin" else 0.0


@dataclass(frozen=True)
class Grid:
    """Converts seconds to periods of one simulated grid.

    Attributes:
        period_s: length of one period in seconds.
    """

    period_s: float

    def __post_init__(self) -> None:
        _check(self.period_s > 0, f"period length must be > 0 s, got {self.period_s}")

    def ceil_periods(self, seconds: float) -> int:
        """Whole periods needed to cover ``seconds`` (0 stays 0)."""
        return int(math.ceil(seconds / self.period_s - _EPS)) if seconds > 0 else 0

    def boot_periods(self, capacity: CapacityModel) -> int:
        return self.ceil_periods(capacity.boot_delay_minutes * 60.0)

    def server_capacity(self, capacity: CapacityModel) -> float:
        """Requests one server serves in one period."""
        return capacity.capacity_per_server_rps * self.period_s

    def cooldown_periods(self, config: ScalingConfig) -> int:
        return self.ceil_periods(config.cooldown_minutes * 60.0)

    def stabilization_periods(self, minutes: float) -> int:
        """Recommendations a scale-in stabilization window of ``minutes`` holds: the current period's and
        those of the ``floor(minutes / period)`` periods before it (a window shorter than a period holds 1)."""
        return int(math.floor(minutes * 60.0 / self.period_s + _EPS)) + 1
