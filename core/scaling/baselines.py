"""Baselines next to every matrix: static provisioning, target tracking and the oracle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BaselineSpec", "OraclePlan", "oracle_need", "oracle_plan", "oracle_schedule", "static_count"]

_TOL = 1e-9


@dataclass(frozen=True)
class BaselineSpec:
    """Settings of the baselines.

    Attributes:
        static_mean_utilization: the "static mean" fleet runs the mean demand at this utilization.
        hpa_target: target utilization of the Kubernetes HPA formula.
        hpa_tolerance: no change while |utilization / target - 1| <= this.
        hpa_stabilization_minutes: scale-down uses the highest recommendation of this window.
    """

    static_mean_utilization: float = 0.70
    hpa_target: float = 0.70
    hpa_tolerance: float = 0.10
    hpa_stabilization_minutes: float = 5.0

    def __post_init__(self) -> None:
        for name in ("static_mean_utilization", "hpa_target"):
            v = getattr(self, name)
            if not 0 < v <= 1:
                raise ValueError(f"{name} must be within (0, 1], got {v}")
        if not 0 <= self.hpa_tolerance < 1:
            raise ValueError(f"hpa_tolerance must be within [0, 1), got {self.hpa_tolerance}")
        if self.hpa_stabilization_minutes < 0:
            raise ValueError(f"hpa_stabilization_minutes must be >= 0, got {self.hpa_stabilization_minutes}")


def static_count(demand: np.ndarray, include: np.ndarray, server_cap: float, utilization: float, how: str,
                 lo: int, hi: int) -> int:
    """Servers of a fixed fleet sized for the peak or the mean of the included periods."""
    d = np.nan_to_num(np.asarray(demand, dtype=np.float64))[np.asarray(include, bool)]
    if d.size == 0:
        return lo
    level = d.max() if how == "peak" else d.mean() / utilization
    return int(np.clip(np.ceil(level / server_cap - _TOL), lo, hi))


@dataclass(frozen=True)
class OraclePlan:
    """The oracle's schedule and what it needs, period by period.

    Attributes:
        servers: int64, servers (running + booting) per period: the schedule fed to the kernel.
        ready: int64, ready servers each period needs: the fewest that serve its work
            (carried backlog + demand), or ``max_servers`` where even those cannot.
        cap_binds: bool, periods whose work exceeds what ``max_servers`` serve: the oracle's
            overloaded periods (gap periods included; see ``binding_periods``). Where demand alone
            exceeds it every schedule is overloaded; in the periods its backlog reaches, every
            schedule that served and queued all it could.
    """

    servers: np.ndarray
    ready: np.ndarray
    cap_binds: np.ndarray

    def binding_periods(self, include: np.ndarray) -> int:
        """Included periods in which the cap binds (= the oracle's overloaded periods)."""
        return int((self.cap_binds & np.asarray(include, bool)).sum())


def oracle_need(demand: np.ndarray, server_cap: float, queue_cap: float, lo: int,
                hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Ready servers needed per period, with the kernel's backlog, and where the cap binds.

    A forward pass over the periods. A period is served in full by
    ``ceil(work / server_cap)`` ready servers (work = backlog carried in + demand),
    and then carries no backlog. Where that exceeds ``hi`` (the cap binds), the
    period runs at the cap, is overloaded, and carries
    ``min(work - hi * server_cap, hi * queue_cap)`` into the next, exactly as the
    kernel computes it. Backlog only starts at a period whose demand alone
    exceeds the cap, so only the stretches that follow one are stepped through.

    Args:
        demand: requests per period (NaN counts as 0, as in the kernel).
        server_cap: requests one ready server serves per period.
        queue_cap: backlog limit per ready server, in requests.
        lo, hi: server bounds.

    Returns:
        (ready needed per period as int64 within [lo, hi], bool mask of periods where the cap binds).
    """
    d = np.nan_to_num(np.asarray(demand, dtype=np.float64))
    n = len(d)
    need = np.ceil(d / server_cap - _TOL)
    binds = np.zeros(n, bool)
    full = hi * server_cap
    limit = full * (1.0 + _TOL) + _TOL  # the kernel's overload test at the cap
    p = 0
    for start in np.flatnonzero(d > limit):
        if start < p:  # already stepped through by the previous stretch
            continue
        backlog, p = 0.0, int(start)
        while p < n:
            work = backlog + d[p]
            if work <= limit:
                need[p] = np.ceil(work / server_cap - _TOL)
                p += 1
                break
            binds[p] = True
            need[p] = hi
            backlog = min(work - full, hi * queue_cap)
            p += 1
    return np.clip(need, lo, hi).astype(np.int64), binds


def oracle_plan(demand: np.ndarray, include: np.ndarray, server_cap: float, queue_cap: float, boot_p: int, lo: int,
                hi: int) -> OraclePlan:
    """The oracle: every period provisioned for its work up to the cap, by the cheapest schedule.

    Knowing the future, it provisions each period for its work (backlog carried
    in + demand; :func:`oracle_need`): the fewest ready servers that serve it in
    full, or all ``hi`` where even those cannot (the cap binds). Among schedules
    that run at the cap while overloaded (none idles a server it could use while
    requests wait), its overloaded periods are a subset of any other's and it
    drops no more requests: its backlog is never larger, by induction over the
    periods; and it is the cheapest of them with as few overloaded periods.
    Without a binding cap it is never overloaded and carries no backlog. Against
    schedules that run *fewer* servers during an unavoidable overload it is not
    optimal: they can be overloaded in fewer periods by dropping more requests
    (queueing less), or, where the queue absorbs the excess, be cheaper for the
    same overloaded periods (see docs/simulator.md).

    The schedule is the cheapest whose ready servers cover the need: split the
    need into layers (layer i is needed where need >= i); each layer is
    independent: between two needed runs it either stays up through the gap or
    is terminated and relaunched boot_p periods before the next run, whichever
    bills fewer included periods; before its first run it is either up from the
    start or launched boot_p periods ahead. Billing only counts included
    periods, like the policies'. With a minimum billed time of at most boot
    delay + one period (the defaults), every relaunch runs long enough that no
    top-up applies and this is optimal; with a longer minimum it is a heuristic.
    Extra ready servers (a layer kept up) only serve a period that was already
    served in full, so the kernel's backlog follows the plan.

    Args:
        demand: requests per period (NaN counts as 0).
        include: periods that are billed and counted (False inside gaps).
        server_cap: requests one ready server serves per period.
        queue_cap: backlog limit per ready server, in requests.
        boot_p: periods from launch to ready.
        lo, hi: server bounds.

    Returns:
        The schedule, the need it covers and where the cap binds.
    """
    need, binds = oracle_need(demand, server_cap, queue_cap, lo, hi)
    return OraclePlan(servers=_cheapest_cover(need, include, boot_p, lo), ready=need, cap_binds=binds)


def oracle_schedule(demand: np.ndarray, include: np.ndarray, server_cap: float, queue_cap: float, boot_p: int,
                    lo: int, hi: int) -> np.ndarray:
    """The oracle's servers (running + booting) per period: ``oracle_plan(...).servers``."""
    return oracle_plan(demand, include, server_cap, queue_cap, boot_p, lo, hi).servers


def _cheapest_cover(need: np.ndarray, include: np.ndarray, boot_p: int, lo: int) -> np.ndarray:
    """The cheapest servers per period whose ready servers are >= ``need`` (layer by layer; see oracle_plan)."""
    inc = np.asarray(include, bool)
    n = len(need)
    cw = np.concatenate([[0], np.cumsum(inc)])  # included periods in [a, b) = cw[b] - cw[a]
    total = np.full(n, lo, np.int64)
    for layer in range(lo + 1, int(need.max()) + 1 if n else 0):
        on = need >= layer
        edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        mark = np.zeros(n + 1, np.int64)
        # Before the first run: up from period 0 if that bills no more than a boot window.
        s0 = starts[0]
        launch_at = s0 - boot_p
        if launch_at < 0 or cw[s0] - cw[0] <= cw[s0] - cw[launch_at]:
            starts_eff0 = 0
        else:
            starts_eff0 = launch_at
        seg_starts = [starts_eff0]
        seg_ends = []
        if len(starts) > 1:
            g_from, g_to = ends[:-1], starts[1:]
            boot_from = np.maximum(g_to - boot_p, 0)
            keep_cost = cw[g_to] - cw[g_from]
            relaunch_cost = cw[g_to] - cw[boot_from]
            keep = (boot_from < g_from) | (keep_cost <= relaunch_cost)
            split = np.flatnonzero(~keep)
            seg_ends = list(g_from[split])
            seg_starts += list(boot_from[split])
        seg_ends.append(ends[-1])
        np.add.at(mark, np.asarray(seg_starts), 1)
        np.add.at(mark, np.asarray(seg_ends), -1)
        total += np.cumsum(mark[:n]) > 0
    return total
