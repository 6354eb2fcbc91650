"""The step loop: one pass over the periods for an array of scenarios.

Order of one step (period ``p``), the same for every scenario:

1. decide at the start of ``p`` from what was observed up to the end of ``p - 1``
   (threshold rules with counters and cooldown, the HPA formula, or a fixed
   schedule) -> desired servers (running + booting) within [min, max]; with
   ``use_fc`` a threshold or HPA scenario never goes below the forecast floor
   ``ceil(fcmax_p * (1 + margin) / (server_cap * u))``, ``u`` = ``up_thr``
   (threshold) or ``hpa_target`` (HPA: the hybrid policy);
2. launch the difference (servers become ready ``boot_p`` periods later) or
   terminate it at once, youngest first (booting servers go before running ones;
   a server terminated before the minimum billed time is billed up to it);
3. serve: work = backlog + demand; capacity = ready x per-server capacity;
   what exceeds capacity waits, up to the queue limit, and the rest is dropped;
4. bill every running or booting server for the period; update the counters.

Two implementations of the same loop: a numpy one (vectorized across
scenarios, always available) and a numba one (scalar, used when numba is
installed; a test checks that both give identical traces).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import numpy as np

__all__ = [
    "MODE_HPA",
    "MODE_SCHEDULE",
    "MODE_THRESHOLD",
    "KernelResult",
    "ScenarioParams",
    "has_numba",
    "run_kernel",
]

MODE_THRESHOLD, MODE_HPA, MODE_SCHEDULE = 0, 1, 2
_TOL = 1e-9  # float slack: 100 requests on exactly 100 of capacity is not an overload

try:  # numba is optional; the numpy loop is the reference
    if os.environ.get("TRAFFIC_NO_NUMBA"):
        raise ImportError
    import numba as _numba
except ImportError:  # pragma: no cover - depends on the environment
    _numba = None


def has_numba() -> bool:
    return _numba is not None


@dataclass
class ScenarioParams:
    """Per-scenario parameters, one array entry per scenario (already in periods)."""

    mode: np.ndarray
    up_thr: np.ndarray
    down_thr: np.ndarray
    up_n: np.ndarray
    down_n: np.ndarray
    cooldown_p: np.ndarray
    step_up: np.ndarray
    step_down: np.ndarray
    use_fc: np.ndarray
    margin: np.ndarray
    hpa_target: np.ndarray
    hpa_tol: np.ndarray
    stab_p: np.ndarray
    min_s: np.ndarray
    max_s: np.ndarray
    init: np.ndarray
    sched_col: np.ndarray

    _FLOATS = ("up_thr", "down_thr", "margin", "hpa_target", "hpa_tol")

    #: Values of the fields a scenario's mode ignores (the HPA target of a threshold rule, ...).
    _NEUTRAL = dict(
        mode=MODE_THRESHOLD, up_thr=1.0, down_thr=0.0, up_n=1, down_n=1, cooldown_p=0, step_up=1,
        step_down=1, use_fc=0, margin=0.0, hpa_target=0.7, hpa_tol=0.1, stab_p=1, min_s=1,
        max_s=1, init=1, sched_col=-1,
    )

    @classmethod
    def from_rows(cls, rows: list[dict]) -> ScenarioParams:
        """Stack dicts (one per scenario); missing keys take neutral defaults."""
        cols = {}
        for f in fields(cls):
            dtype = np.float64 if f.name in cls._FLOATS else np.int64
            cols[f.name] = np.array([r.get(f.name, cls._NEUTRAL[f.name]) for r in rows], dtype=dtype)
        return cls(**cols)

    @classmethod
    def from_columns(cls, columns: dict[str, np.ndarray], n: int) -> ScenarioParams:
        """Columns of ``n`` scenarios; missing fields take the neutral defaults of :meth:`from_rows`."""
        cols = {}
        for f in fields(cls):
            dtype = np.float64 if f.name in cls._FLOATS else np.int64
            col = columns[f.name] if f.name in columns else np.full(n, cls._NEUTRAL[f.name])
            cols[f.name] = np.asarray(col, dtype=dtype)
        return cls(**cols)

    def __len__(self) -> int:
        return len(self.mode)


@dataclass
class KernelResult:
    """Totals per scenario over included periods, and optionally the [T, S] traces."""

    server_periods: np.ndarray  # sum of running+booting servers over included periods
    topup_s: np.ndarray  # extra billed seconds from the minimum billed time
    overloaded: np.ndarray  # included periods with work > capacity
    dropped: np.ndarray  # requests dropped in included periods
    actions: np.ndarray  # scaling actions in included periods
    peak: np.ndarray  # max servers in included periods
    total: np.ndarray | None = None  # running + booting
    ready: np.ndarray | None = None
    work: np.ndarray | None = None  # backlog carried in + demand
    served: np.ndarray | None = None
    backlog: np.ndarray | None = None  # carried to the next period
    dropped_t: np.ndarray | None = None
    delta: np.ndarray | None = None  # servers added (+) or removed (-) at the period's start


def _ceil(x):
    return np.ceil(x - _TOL).astype(np.int64)


def _run_numpy(d, inc, fcmax, sched, P: ScenarioParams, server_cap, queue_cap, boot_p, topup, record,
               progress=None):
    T, S, H = d.shape[0], len(P), topup.shape[0]
    hist = np.zeros((H, S), np.int64)
    old = P.init.copy()
    total = old.copy()
    backlog = np.zeros(S)
    up_cnt = np.zeros(S, np.int64)
    down_cnt = np.zeros(S, np.int64)
    last_act = np.full(S, -(10**9), np.int64)
    W = int(P.stab_p.max()) if S else 1
    recs = np.tile(P.init, (W, 1))
    win_mask = np.arange(W)[:, None] < P.stab_p[None, :]
    prev_work = np.zeros(S)
    prev_ready = P.init.copy()
    thr, hpa, sch = P.mode == MODE_THRESHOLD, P.mode == MODE_HPA, P.mode == MODE_SCHEDULE
    has_thr, has_hpa, has_sch = thr.any(), hpa.any(), sch.any()
    fc_on = P.use_fc.astype(bool) & thr
    has_fc = bool(fc_on.any())
    hpa_fc = P.use_fc.astype(bool) & hpa  # the hybrid policy: target tracking above the forecast floor
    has_hpa_fc = bool(hpa_fc.any())
    fc_scale = (1.0 + P.margin) / (server_cap * np.where(hpa, P.hpa_target, P.up_thr))
    col = np.maximum(P.sched_col, 0)
    acc = dict(server_periods=np.zeros(S), topup_s=np.zeros(S), overloaded=np.zeros(S, np.int64),
               dropped=np.zeros(S), actions=np.zeros(S, np.int64), peak=np.zeros(S, np.int64))
    rec = {}
    if record:
        for k in ("total", "ready", "delta"):
            rec[k] = np.zeros((T, S), np.int64)
        for k in ("work", "served", "backlog", "dropped_t"):
            rec[k] = np.zeros((T, S))
    step = max(1, T // 20)
    for p in range(T):
        desired = total
        if has_thr:
            want_up = up_cnt >= P.up_n
            want_dn = (down_cnt >= P.down_n) & ~want_up
            des = np.where(want_up, total + P.step_up, np.where(want_dn, total - P.step_down, total))
            if has_fc:
                des = np.where(fc_on, np.maximum(des, _ceil(fcmax[p] * fc_scale)), des)
            des = np.clip(des, P.min_s, P.max_s)
            desired = np.where(thr & (p - last_act >= P.cooldown_p), des, desired)
        if has_hpa:
            tt = total
            if p > 0:
                ratio = prev_work / (prev_ready * server_cap)
                r = np.where(np.abs(ratio / P.hpa_target - 1.0) <= P.hpa_tol, total,
                             _ceil(prev_work / (server_cap * P.hpa_target)))
                r = np.clip(r, P.min_s, P.max_s)
                recs[1:] = recs[:-1]
                recs[0] = r
                wmax = np.where(win_mask, recs, -1).max(axis=0)
                tt = np.where(r >= total, r, np.minimum(total, wmax))
            if has_hpa_fc:  # the floor only raises; scale-in stays target tracking's stabilized rule
                floor = np.clip(_ceil(fcmax[p] * fc_scale), P.min_s, P.max_s)
                tt = np.where(hpa_fc, np.maximum(tt, floor), tt)
            desired = np.where(hpa, tt, desired)
        if has_sch:
            desired = np.where(sch, np.clip(sched[p, col], P.min_s, P.max_s), desired)
        delta = desired - total
        hist[0] += np.maximum(delta, 0)
        term = np.maximum(-delta, 0)
        topup_now = np.zeros(S)
        if term.any():
            for a in range(H):  # youngest first
                take = np.minimum(term, hist[a])
                hist[a] -= take
                term = term - take
                topup_now += take * topup[a]
            old -= term
        total = desired
        acted = delta != 0
        last_act = np.where(acted, p, last_act)
        ready = old + hist[boot_p:].sum(axis=0) if boot_p < H else old.copy()
        cap = ready * server_cap
        work = backlog + d[p]
        served = np.minimum(work, cap)
        excess = work - served
        backlog = np.minimum(excess, ready * queue_cap)
        dropped = excess - backlog
        ratio = work / cap
        up_cnt = np.where(ratio > P.up_thr, up_cnt + 1, 0)
        down_cnt = np.where(ratio < P.down_thr, down_cnt + 1, 0)
        if inc[p]:
            acc["server_periods"] += total
            acc["topup_s"] += topup_now
            acc["overloaded"] += work > cap * (1.0 + _TOL) + _TOL
            acc["dropped"] += dropped
            acc["actions"] += acted
            np.maximum(acc["peak"], total, out=acc["peak"])
        if record:
            rec["total"][p], rec["ready"][p], rec["delta"][p] = total, ready, delta
            rec["work"][p], rec["served"][p], rec["backlog"][p], rec["dropped_t"][p] = work, served, backlog, dropped
        prev_work, prev_ready = work, ready
        old += hist[H - 1]
        if H > 1:
            hist[1:] = hist[:-1]
        hist[0] = 0
        if progress is not None and (p + 1) % step == 0:
            progress(p + 1, T)
    return KernelResult(**acc, **rec)


def _loop_scalar(d, inc, fcmax, sched, mode, up_thr, down_thr, up_n, down_n, cooldown_p, step_up, step_down,
                 use_fc, margin, hpa_target, hpa_tol, stab_p, min_s, max_s, init, sched_col, server_cap,
                 queue_cap, boot_p, topup, record, out_acc_f, out_acc_i, rec_i, rec_f):
    """Scalar twin of ``_run_numpy`` (compiled by numba). Same step order, same arithmetic."""
    T = d.shape[0]
    S = mode.shape[0]
    H = topup.shape[0]
    W = 1
    for s in range(S):
        W = max(W, stab_p[s])
    for s in range(S):
        hist = np.zeros(H, np.int64)
        recs = np.full(W, init[s], np.int64)
        old = init[s]
        total = old
        backlog = 0.0
        up_cnt = 0
        down_cnt = 0
        last_act = -(10**9)
        prev_work = 0.0
        prev_ready = init[s]
        fc_scale = (1.0 + margin[s]) / (server_cap * (hpa_target[s] if mode[s] == 1 else up_thr[s]))
        for p in range(T):
            desired = total
            if mode[s] == 0:
                if p - last_act >= cooldown_p[s]:
                    des = total
                    if up_cnt >= up_n[s]:
                        des = total + step_up[s]
                    elif down_cnt >= down_n[s]:
                        des = total - step_down[s]
                    if use_fc[s] != 0:
                        f = np.int64(np.ceil(fcmax[p] * fc_scale - 1e-9))
                        if f > des:
                            des = f
                    desired = min(max(des, min_s[s]), max_s[s])
            elif mode[s] == 1:
                if p > 0:
                    ratio = prev_work / (prev_ready * server_cap)
                    if abs(ratio / hpa_target[s] - 1.0) <= hpa_tol[s]:
                        r = total
                    else:
                        r = np.int64(np.ceil(prev_work / (server_cap * hpa_target[s]) - 1e-9))
                    r = min(max(r, min_s[s]), max_s[s])
                    for k in range(W - 1, 0, -1):
                        recs[k] = recs[k - 1]
                    recs[0] = r
                    if r >= total:
                        desired = r
                    else:
                        wmax = recs[0]
                        for k in range(1, stab_p[s]):
                            wmax = max(wmax, recs[k])
                        desired = min(total, wmax)
                if use_fc[s] != 0:
                    f = np.int64(np.ceil(fcmax[p] * fc_scale - 1e-9))
                    f = min(max(f, min_s[s]), max_s[s])
                    if f > desired:
                        desired = f
            else:
                desired = min(max(sched[p, sched_col[s]], min_s[s]), max_s[s])
            delta = desired - total
            topup_now = 0.0
            if delta > 0:
                hist[0] += delta
            elif delta < 0:
                term = -delta
                for a in range(H):
                    take = min(term, hist[a])
                    hist[a] -= take
                    term -= take
                    topup_now += take * topup[a]
                old -= term
            total = desired
            if delta != 0:
                last_act = p
            ready = old
            for a in range(boot_p, H):
                ready += hist[a]
            cap = ready * server_cap
            work = backlog + d[p]
            served = min(work, cap)
            excess = work - served
            backlog = min(excess, ready * queue_cap)
            dropped = excess - backlog
            ratio = work / cap
            up_cnt = up_cnt + 1 if ratio > up_thr[s] else 0
            down_cnt = down_cnt + 1 if ratio < down_thr[s] else 0
            if inc[p]:
                out_acc_f[0, s] += total
                out_acc_f[1, s] += topup_now
                out_acc_f[2, s] += dropped
                if work > cap * (1.0 + 1e-9) + 1e-9:
                    out_acc_i[0, s] += 1
                if delta != 0:
                    out_acc_i[1, s] += 1
                out_acc_i[2, s] = max(out_acc_i[2, s], total)
            if record:
                rec_i[0, p, s] = total
                rec_i[1, p, s] = ready
                rec_i[2, p, s] = delta
                rec_f[0, p, s] = work
                rec_f[1, p, s] = served
                rec_f[2, p, s] = backlog
                rec_f[3, p, s] = dropped
            prev_work = work
            prev_ready = ready
            old += hist[H - 1]
            for a in range(H - 1, 0, -1):
                hist[a] = hist[a - 1]
            hist[0] = 0


_compiled = None


def _run_numba(d, inc, fcmax, sched, P: ScenarioParams, server_cap, queue_cap, boot_p, topup, record):
    global _compiled
    if _compiled is None:
        _compiled = _numba.njit(cache=True, nogil=True)(_loop_scalar)
    T, S = d.shape[0], len(P)
    acc_f = np.zeros((3, S))
    acc_i = np.zeros((3, S), np.int64)
    rec_i = np.zeros((3, T, S) if record else (3, 0, 0), np.int64)
    rec_f = np.zeros((4, T, S) if record else (4, 0, 0))
    _compiled(d, inc, fcmax, sched, P.mode, P.up_thr, P.down_thr, P.up_n, P.down_n, P.cooldown_p, P.step_up,
              P.step_down, P.use_fc, P.margin, P.hpa_target, P.hpa_tol, P.stab_p, P.min_s, P.max_s, P.init,
              P.sched_col, float(server_cap), float(queue_cap), int(boot_p), topup, bool(record), acc_f, acc_i,
              rec_i, rec_f)
    out = KernelResult(server_periods=acc_f[0], topup_s=acc_f[1], dropped=acc_f[2], overloaded=acc_i[0],
                       actions=acc_i[1], peak=acc_i[2])
    if record:
        out.total, out.ready, out.delta = rec_i[0], rec_i[1], rec_i[2]
        out.work, out.served, out.backlog, out.dropped_t = rec_f[0], rec_f[1], rec_f[2], rec_f[3]
    return out


def run_kernel(
    demand: np.ndarray,
    include: np.ndarray,
    params: ScenarioParams,
    *,
    server_cap: float,
    queue_cap: float,
    boot_p: int,
    period_s: float,
    min_billed_s: float,
    fcmax: np.ndarray | None = None,
    schedules: np.ndarray | None = None,
    record: bool = True,
    engine: str = "auto",
    progress=None,
) -> KernelResult:
    """Run every scenario of ``params`` over ``demand``.

    Args:
        demand: requests per period (NaN is treated as 0).
        include: periods counted in the totals (False inside gaps).
        params: per-scenario parameters.
        server_cap: requests one ready server serves per period.
        queue_cap: backlog limit per ready server, in requests.
        boot_p: periods from launch to ready (0 = instantaneous).
        period_s: period length in seconds (for the minimum billed time).
        min_billed_s: minimum billed time per launch.
        fcmax: per period, the forecast demand the predictive and hybrid rules provision for.
        schedules: [T, K] fixed server counts, column ``sched_col`` per schedule scenario.
        record: keep the [T, S] traces (off for the optimizer's thousands of scenarios).
        engine: "auto" (numba when installed), "numba" or "numpy".
        progress: optional ``progress(done, total)`` callback (numpy engine only).

    Returns:
        The totals per scenario and, with ``record``, the traces.
    """
    d = np.nan_to_num(np.asarray(demand, dtype=np.float64), nan=0.0)
    inc = np.asarray(include, dtype=np.bool_)
    T = d.shape[0]
    fc = np.zeros(T) if fcmax is None else np.asarray(fcmax, dtype=np.float64)
    sched = np.zeros((T, 1), np.int64) if schedules is None else np.ascontiguousarray(schedules, dtype=np.int64)
    m = int(np.ceil(min_billed_s / period_s - _TOL)) if min_billed_s > 0 else 0
    H = max(int(boot_p), m, 1)
    topup = np.maximum(0.0, min_billed_s - np.arange(H) * period_s)
    if engine == "auto":
        engine = "numba" if _numba is not None else "numpy"
    if engine == "numba":
        if _numba is None:
            raise ValueError("engine 'numba' needs the numba package; install it or use engine='numpy'")
        out = _run_numba(d, inc, fc, sched, params, server_cap, queue_cap, boot_p, topup, record)
        if progress is not None:
            progress(T, T)
        return out
    if engine != "numpy":
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy', got {engine!r}")
    return _run_numpy(d, inc, fc, sched, params, server_cap, queue_cap, int(boot_p), topup, record, progress)
