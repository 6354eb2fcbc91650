"""Elasticity metrics of the SPEC Research Group, per scenario, from the kernel's per-period arrays.

Herbst et al., "Quantifying Cloud Performance and Dependability: Taxonomy, Metric Design, and Emerging
Challenges", ACM TOMPECS 3(4), 2018; Bauer et al., "Chameleon: A Hybrid, Proactive Auto-Scaling
Mechanism on a Level-Playing Field", IEEE TPDS 30(4), 2019. With ``d_t`` the demanded and ``s_t`` the
supplied resource units of period ``t``, over the ``T`` included periods (equal length ``Δt``):

- under-provisioning accuracy ``θ_U = 100/T · Σ_t max(d_t − s_t, 0) / d_t``  (%)
- over-provisioning accuracy  ``θ_O = 100/T · Σ_t max(s_t − d_t, 0) / d_t``  (%)
- under-provisioning timeshare ``τ_U = 100/T · Σ_t [s_t < d_t]``  (%)
- over-provisioning timeshare  ``τ_O = 100/T · Σ_t [s_t > d_t]``  (%)
- instability ``υ = 100/(T−1) · Σ_{t≥2} min(|sgn Δs_t − sgn Δd_t|, 1)``  (%), ``Δx_t = x_t − x_{t−1}``:
  the share of steps in which supply does not move the way demand moves (one goes up while the other
  goes down or stays). Only steps between two included periods count (a gap breaks the curve).

Here a resource unit is a server: ``s_t`` = ready servers (booting ones serve nothing; their cost is in
the cost), ``d_t = max(1, ceil(demand_t / (server capacity · u)))``, the fewest servers that serve the
period's arrivals at utilization ``u`` (``QueueModel.elasticity_utilization``, default 1: the SPEC
definition, "the minimal resources that meet the SLO", for the simulator's SLO of a period not being
overloaded). Demand is the arrivals, not the work with a scenario's own backlog, so every scenario is
measured against the same curve. At least one server is demanded since no policy scales to zero.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ELASTICITY_KEYS", "demanded_servers", "elasticity"]

#: The metrics, as named in every result (``Totals``).
ELASTICITY_KEYS = ("accuracy_under_pct", "accuracy_over_pct", "timeshare_under_pct", "timeshare_over_pct",
                   "instability_pct")

_TOL = 1e-9  # the kernel's slack: 100 requests on exactly 100 of capacity need 1 server, not 2


def demanded_servers(demand: np.ndarray, server_cap: float, utilization: float = 1.0) -> np.ndarray:
    """``d_t = max(1, ceil(demand_t / (server_cap · utilization)))`` per period (NaN demand counts as 0).

    Args:
        demand: requests per period.
        server_cap: requests one server serves per period.
        utilization: the utilization the demanded servers run at, in (0, 1].

    Returns:
        int64 servers per period.
    """
    d = np.nan_to_num(np.asarray(demand, dtype=np.float64), nan=0.0)
    return np.maximum(np.ceil(d / (server_cap * utilization) - _TOL), 1).astype(np.int64)


def elasticity(supply: np.ndarray, demanded: np.ndarray, include: np.ndarray) -> dict[str, np.ndarray]:
    """The five metrics of every scenario, over the included periods, in one array operation.

    Args:
        supply: [T, S] supplied servers per period and scenario (the kernel's ``ready``).
        demanded: [T] demanded servers per period (:func:`demanded_servers`).
        include: [T] periods that count (False inside gaps).

    Returns:
        ``{key: float array [S]}`` for each of :data:`ELASTICITY_KEYS`, in %; NaN where undefined (no
        included period, or for the instability no two consecutive included periods).
    """
    s = np.asarray(supply)
    S = s.shape[1]
    inc = np.asarray(include, dtype=bool)
    dem = np.asarray(demanded, dtype=np.int64)
    n = int(inc.sum())
    out = {k: np.full(S, np.nan) for k in ELASTICITY_KEYS}
    if n:
        # [S, n], each scenario's periods contiguous: a scenario's sums do not depend on the others in the batch.
        si, di = np.ascontiguousarray(s[inc].T), dem[inc][None, :]
        gap = di - si  # > 0: short of the demand
        out["accuracy_under_pct"] = 100.0 * (np.maximum(gap, 0) / di).sum(axis=1) / n
        out["accuracy_over_pct"] = 100.0 * (np.maximum(-gap, 0) / di).sum(axis=1) / n
        out["timeshare_under_pct"] = 100.0 * (gap > 0).sum(axis=1) / n
        out["timeshare_over_pct"] = 100.0 * (gap < 0).sum(axis=1) / n
    steps = inc[1:] & inc[:-1]
    m = int(steps.sum())
    if m:
        ds = np.sign(np.diff(s, axis=0))[steps]
        dd = np.sign(np.diff(dem))[steps][:, None]
        out["instability_pct"] = 100.0 * np.minimum(np.abs(ds - dd), 1).sum(axis=0) / m
    return out
