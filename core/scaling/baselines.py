"""Baselines next to every matrix: static provisioning, target tracking and the oracle."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["BaselineSpec", "oracle_schedule", "static_count"]

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


def oracle_schedule(demand: np.ndarray, include: np.ndarray, server_cap: float, boot_p: int, lo: int,
                    hi: int) -> np.ndarray:
    """The cheapest server count per period that is never overloaded, knowing the future.

    Each period needs R = ceil(demand / server capacity) ready servers (min..max;
    gap periods need only the minimum). Split the need into layers (layer i is
    needed where R >= i); each layer is independent: between two needed runs it
    either stays up through the gap or is terminated and relaunched boot_p
    periods before the next run, whichever bills fewer included periods; before
    its first run it is either up from the start or launched boot_p periods
    ahead. Billing only counts included periods, like the policies'. With a
    minimum billed time of at most boot delay + one period (the defaults), every
    relaunch runs long enough that no top-up applies and this is optimal; with a
    longer minimum it is a heuristic.

    Returns:
        int64 array: servers (running + booting) per period.
    """
    d = np.nan_to_num(np.asarray(demand, dtype=np.float64))
    inc = np.asarray(include, bool)
    n = len(d)
    need = np.ceil(d / server_cap - _TOL)
    need = np.where(inc, need, 0)
    need = np.clip(need, lo, hi).astype(np.int64)
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
