"""Response-time estimates per period from the Erlang C (M/M/c) formula, vectorized.

Each ready server is one exponential server of rate mu = capacity_per_server_rps;
arrivals in a period are Poisson with rate lambda = work / period length. While
rho = lambda / (c mu) < 1:

    B = Erlang B(c, a = lambda / mu) = Poisson pmf(c; a) / Poisson cdf(c; a)
    C = B / (1 - rho (1 - B))                (probability of waiting)
    mean response = C / (c mu - lambda) + 1 / mu
    P(T > t) = (1 - C) e^{-mu t} + C (theta e^{-mu t} - mu e^{-theta t}) / (theta - mu),  theta = c mu - lambda

and p95 solves P(T > t) = 0.05. A saturated period (rho >= 1) reports the delay of
its backlog instead: backlog / (c mu) plus the service time (mean) or its p95.
Waits are capped at the queue limit, since requests that would wait longer are dropped.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln, pdtr

from core.scaling import kernel as _kernel

__all__ = ["erlang_c", "response_times"]

_LN20 = float(np.log(20.0))
_LN05 = float(np.log(0.05))


def erlang_c(c: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Probability that an arrival waits in M/M/c with offered load ``a`` (requires a < c)."""
    c = np.asarray(c, dtype=np.float64)
    a = np.asarray(a, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        log_pmf = c * np.log(a) - a - gammaln(c + 1.0)
        b = np.exp(log_pmf) / pdtr(c, a)
        b = np.where(a > 0, b, 0.0)
        rho = a / c
        return np.clip(b / (1.0 - rho * (1.0 - b)), 0.0, 1.0)


def _survival(t, mu, theta, cw):
    """P(T > t) and its derivative for the M/M/c response time."""
    em = np.exp(-mu * t)
    et = np.exp(-theta * t)
    diff = theta - mu
    near = np.abs(diff) < 1e-9 * mu
    safe = np.where(near, 1.0, diff)
    h = np.where(near, (1.0 + mu * t) * em, (theta * em - mu * et) / safe)
    dh = np.where(near, -mu * mu * t * em, theta * mu * (et - em) / safe)
    return (1.0 - cw) * em + cw * h, -(1.0 - cw) * mu * em + cw * dh


def _rt_scalar(work, ready, backlog, mu, period_s, queue_limit_s, mean, p95):
    """Scalar twin of the numpy path (compiled by numba): Erlang B by recursion, then Newton."""
    s_mean = 1.0 / mu
    s_p95 = np.log(20.0) / mu
    # Direct-mapped memo of unsaturated (servers, work) pairs: integer request counts repeat a lot.
    size = 1 << 16
    key_c = np.full(size, -1.0)
    key_w = np.full(size, -1.0)
    val_m = np.empty(size)
    val_p = np.empty(size)
    for i in range(work.shape[0]):
        c = ready[i]
        lam = work[i] / period_s
        slot = (int(c) * 1000003 + int(work[i] * 8.0)) & (size - 1)
        if key_c[slot] == c and key_w[slot] == work[i]:
            mean[i] = val_m[slot]
            p95[i] = val_p[slot]
            continue
        a = lam / mu
        rho = a / c if c > 0 else np.inf
        if rho >= 1.0:
            wb = min(backlog[i] / (c * mu), queue_limit_s)
            mean[i] = wb + s_mean
            p95[i] = wb + s_p95
            continue
        # 1/B_k = 1 + (k / a) / B_{k-1}: the Erlang B recursion without a division per step.
        if a > 0:
            inv_a = 1.0 / a
            r = 1.0
            for k in range(1, int(c) + 1):
                r = 1.0 + k * inv_a * r
                if r > 1e300:
                    break
            b = 1.0 / r
        else:
            b = 0.0
        cw = min(max(b / (1.0 - rho * (1.0 - b)), 0.0), 1.0)
        theta = c * mu - lam
        mean[i] = min(cw / theta, queue_limit_s) + s_mean
        t = s_p95
        if cw > 0.05:
            t = max(t, np.log(cw / 0.05) / theta)
        if cw > 1e-12:
            diff = theta - mu
            near = abs(diff) < 1e-9 * mu
            for _ in range(40):
                em = np.exp(-mu * t)
                et = np.exp(-theta * t)
                if near:
                    h = (1.0 + mu * t) * em
                    dh = -mu * mu * t * em
                else:
                    h = (theta * em - mu * et) / diff
                    dh = theta * mu * (et - em) / diff
                f = (1.0 - cw) * em + cw * h
                df = -(1.0 - cw) * mu * em + cw * dh
                if df >= 0 or f <= 0:
                    break
                # Newton on log P(T > t), nearly linear in t: one or two steps suffice.
                step = (np.log(f) - _LN05) * f / df
                t = t - step
                if abs(step) <= 1e-7 * max(t, 1.0):
                    break
        p95[i] = min(t, queue_limit_s + s_p95)
        key_c[slot] = c
        key_w[slot] = work[i]
        val_m[slot] = mean[i]
        val_p[slot] = p95[i]


_rt_compiled = None


def response_times(work: np.ndarray, ready: np.ndarray, backlog: np.ndarray, *, mu: float, period_s: float,
                   queue_limit_s: float, engine: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Mean and p95 response time (seconds) per period.

    Args:
        work: requests to serve in each period (arrivals + backlog carried in).
        ready: ready servers.
        backlog: requests left waiting at the end of the period.
        mu: service rate of one server (requests per second).
        period_s: period length in seconds.
        queue_limit_s: longest possible wait (longer waits are dropped).
        engine: "auto" (numba when installed), "numba" or "numpy".

    Returns:
        (mean, p95) arrays shaped like ``work``.
    """
    global _rt_compiled
    work = np.asarray(work, dtype=np.float64)
    c = np.asarray(ready, dtype=np.float64)
    if engine == "auto":
        engine = "numba" if _kernel.has_numba() else "numpy"
    if engine == "numba":
        if _rt_compiled is None:
            _rt_compiled = _kernel._numba.njit(cache=True, nogil=True)(_rt_scalar)
        shape = work.shape
        mean = np.empty(work.size)
        p95 = np.empty(work.size)
        bl = np.ascontiguousarray(backlog, dtype=np.float64).ravel()
        _rt_compiled(np.ascontiguousarray(work).ravel(), np.ascontiguousarray(c).ravel(), bl, float(mu),
                     float(period_s), float(queue_limit_s), mean, p95)
        return mean.reshape(shape), p95.reshape(shape)
    lam = work / period_s
    a = lam / mu
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.where(c > 0, a / c, np.inf)
    s_mean, s_p95 = 1.0 / mu, _LN20 / mu
    mean = np.empty_like(work)
    p95 = np.empty_like(work)
    sat = rho >= 1.0
    if sat.any():
        wb = np.minimum(np.asarray(backlog, dtype=np.float64)[sat] / (c[sat] * mu), queue_limit_s)
        mean[sat] = wb + s_mean
        p95[sat] = wb + s_p95
    ok = ~sat
    if ok.any():
        cc, aa, ll = c[ok], a[ok], lam[ok]
        cw = erlang_c(cc, aa)
        theta = cc * mu - ll
        wq = np.minimum(cw / theta, queue_limit_s)
        mean[ok] = wq + s_mean
        # p95: Newton from a lower bound (T >= S and T >= W), where the survival is convex.
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.maximum(s_p95, np.where(cw > 0.05, np.log(cw / 0.05) / theta, 0.0))
        todo = np.flatnonzero(cw > 1e-12)
        res = np.full(len(cc), s_p95)
        if todo.size:
            tt, mm, th, cx = t[todo], np.full(todo.size, mu), theta[todo], cw[todo]
            for _ in range(40):
                f, df = _survival(tt, mm, th, cx)
                step = (f - 0.05) / np.where(df < 0, df, -1e-300)
                tt = tt - step
                if np.all(np.abs(step) <= 1e-9 * np.maximum(tt, 1.0)):
                    break
            res[todo] = tt
        p95[ok] = np.minimum(res, queue_limit_s + s_p95)
    return mean, p95
