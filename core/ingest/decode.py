"""Vectorized decoders of log fields: byte spans -> minutes, offsets, numbers (numpy, no per-line Python).

Each takes the chunk's bytes and per-line ``start``/``end`` arrays (``start``
-1 for a line without that field) and returns values with an ``ok`` mask;
lines whose field does not decode are rejected by the caller, with the
reason it names.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gather", "iso_minutes", "date_time_minutes", "clf_minutes", "uint_field", "host_hash", "days_from_civil"]

_CUMDAYS = np.array([0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334], dtype=np.int64)
_MONTHS = np.frombuffer(b"JanFebMarAprMayJunJulAugSepOctNovDec", dtype=np.uint8).reshape(12, 3)


def days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (as ``_clf_kernel._days_from_civil``)."""
    mm = np.clip(m, 1, 12)
    yy = np.where(mm <= 2, y - 1, y)
    leaps = yy // 4 - yy // 100 + yy // 400
    base = 365 * (y - 1970) + (leaps - (1969 // 4 - 1969 // 100 + 1969 // 400))
    return base + _CUMDAYS[mm] + d - 1


def gather(buf: np.ndarray, start: np.ndarray, width: int) -> np.ndarray:
    """``buf[start[i] + j]`` for ``j < width`` as an ``(n, width)`` uint8 array (out-of-range reads are 0).

    Each row is one fixed-width element of an overlapping ``S{width}`` view of ``buf`` (a row copy per line,
    no index matrix: ~10x faster than fancy indexing byte by byte); the few rows that run past either end
    are filled byte by byte.
    """
    n = len(buf)
    if n < width or width == 0:
        return _gather_slow(buf, start, width)
    buf = np.ascontiguousarray(buf)
    rows = np.ndarray(shape=(n - width + 1,), dtype=f"S{width}", buffer=buf, strides=(1,))
    out = rows[np.clip(start, 0, n - width)].view(np.uint8).reshape(-1, width)
    edge = (start < 0) | (start > n - width)
    if edge.any():
        out[edge] = _gather_slow(buf, start[edge], width)
    return out


def _gather_slow(buf: np.ndarray, start: np.ndarray, width: int) -> np.ndarray:
    idx = start[:, None] + np.arange(width)
    if len(buf) == 0:
        return np.zeros(idx.shape, dtype=np.uint8)
    inside = (idx >= 0) & (idx < len(buf))
    out = buf[np.where(inside, idx, 0)]
    out[~inside] = 0
    return out


def _digits(g: np.ndarray, cols: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The number written by the digit columns ``cols`` of ``g`` and whether all of them are digits."""
    d = g[:, cols].astype(np.int64) - 48
    ok = ((d >= 0) & (d <= 9)).all(axis=1)
    val = (d * (10 ** np.arange(len(cols) - 1, -1, -1))).sum(axis=1)
    return val, ok


def _hms(g: np.ndarray, at: int):
    hh, ok1 = _digits(g, [at, at + 1])
    mi, ok2 = _digits(g, [at + 3, at + 4])
    ss, ok3 = _digits(g, [at + 6, at + 7])
    ok = ok1 & ok2 & ok3 & (g[:, at + 2] == 58) & (g[:, at + 5] == 58) & (hh <= 23) & (mi <= 59) & (ss <= 60)
    return hh, mi, ok


def _ymd(g: np.ndarray, at: int, sep: int = 45):
    y, ok1 = _digits(g, [at, at + 1, at + 2, at + 3])
    mo, ok2 = _digits(g, [at + 5, at + 6])
    d, ok3 = _digits(g, [at + 8, at + 9])
    ok = ok1 & ok2 & ok3 & (g[:, at + 4] == sep) & (g[:, at + 7] == sep)
    ok &= (mo >= 1) & (mo <= 12) & (d >= 1) & (d <= 31)
    return y, mo, d, ok


def iso_minutes(buf: np.ndarray, start: np.ndarray, end: np.ndarray):
    """ISO 8601 ``YYYY-MM-DDTHH:MM:SS[.frac][Z|+hh:mm|+hhmm]`` -> (UTC minute, offset minutes, ok).

    A time without a zone is read as UTC (what load balancers and W3C logs write).
    """
    n = len(start)
    length = end - start
    g = gather(buf, start, 19)
    y, mo, d, ok = _ymd(g, 0)
    hh, mi, ok2 = _hms(g, 11)
    ok &= ok2 & (length >= 19) & ((g[:, 10] == 84) | (g[:, 10] == 32) | (g[:, 10] == 116))
    # The zone, read from the end: 'Z', '+hh:mm' or '+hhmm'.
    tail = gather(buf, end - 6, 6)
    zulu = (tail[:, 5] == 90) | (tail[:, 5] == 122)
    sign6 = ((tail[:, 0] == 43) | (tail[:, 0] == 45)) & (tail[:, 3] == 58) & (length >= 25)
    sign5 = ((tail[:, 1] == 43) | (tail[:, 1] == 45)) & (length >= 24) & ~sign6
    oh6, okh6 = _digits(tail, [1, 2])
    om6, okm6 = _digits(tail, [4, 5])
    oh5, okh5 = _digits(tail, [2, 3])
    om5, okm5 = _digits(tail, [4, 5])
    offset = np.zeros(n, dtype=np.int64)
    offset = np.where(sign6 & okh6 & okm6, (oh6 * 60 + om6) * np.where(tail[:, 0] == 45, -1, 1), offset)
    offset = np.where(sign5 & okh5 & okm5, (oh5 * 60 + om5) * np.where(tail[:, 1] == 45, -1, 1), offset)
    zone_len = np.where(zulu, 1, np.where(sign6, 6, np.where(sign5, 5, 0)))
    ok &= ~(sign6 & ~(okh6 & okm6)) & ~(sign5 & ~(okh5 & okm5))
    # Between the seconds and the zone: nothing, or a fraction '.ddd'.
    middle = length - 19 - zone_len
    sep = gather(buf, start + 19, 1)[:, 0]
    ok &= (middle == 0) | ((middle > 1) & ((sep == 46) | (sep == 44)))
    local = days_from_civil(y, mo, d) * 1440 + hh * 60 + mi
    return local - offset, offset.astype(np.int16), ok & (start >= 0)


def date_time_minutes(buf: np.ndarray, dstart: np.ndarray, dend: np.ndarray, tstart: np.ndarray,
                      tend: np.ndarray):
    """W3C ``date`` (``YYYY-MM-DD``) and ``time`` (``HH:MM:SS[.frac]``) fields, in UTC -> (minute, ok)."""
    gd = gather(buf, dstart, 10)
    y, mo, d, ok = _ymd(gd, 0)
    gt = gather(buf, tstart, 8)
    hh, mi, ok2 = _hms(gt, 0)
    tlen = tend - tstart
    ok &= ok2 & (dend - dstart == 10) & ((tlen == 8) | ((tlen > 9) & (gather(buf, tstart + 8, 1)[:, 0] == 46)))
    ok &= (dstart >= 0) & (tstart >= 0)
    return days_from_civil(y, mo, d) * 1440 + hh * 60 + mi, ok


def clf_minutes(buf: np.ndarray, start: np.ndarray, end: np.ndarray):
    """Apache/nginx ``dd/Mon/yyyy:hh:mm:ss +zzzz`` (brackets optional) -> (UTC minute, offset, ok)."""
    br = gather(buf, start, 1)[:, 0] == 91
    s = start + br
    length = end - s - br  # a closing bracket too, when there was an opening one
    g = gather(buf, s, 26)
    d, ok = _digits(g, [0, 1])
    y, ok1 = _digits(g, [7, 8, 9, 10])
    hh, mi, ok2 = _hms(g, 12)
    oh, ok3 = _digits(g, [22, 23])
    om, ok4 = _digits(g, [24, 25])
    mon = np.zeros(len(start), dtype=np.int64)
    for k in range(12):
        mon[(g[:, 3] == _MONTHS[k, 0]) & (g[:, 4] == _MONTHS[k, 1]) & (g[:, 5] == _MONTHS[k, 2])] = k + 1
    ok &= ok1 & ok2 & ok3 & ok4 & (mon > 0) & (d >= 1) & (d <= 31) & (length == 26) & (start >= 0)
    ok &= (g[:, 2] == 47) & (g[:, 6] == 47) & (g[:, 11] == 58) & (g[:, 20] == 32)
    ok &= ((g[:, 21] == 43) | (g[:, 21] == 45)) & (oh <= 23) & (om <= 59)
    offset = (oh * 60 + om) * np.where(g[:, 21] == 45, -1, 1)
    local = days_from_civil(y, mon, d) * 1440 + hh * 60 + mi
    return local - offset, offset.astype(np.int16), ok


def uint_field(buf: np.ndarray, start: np.ndarray, end: np.ndarray, dash: int = 0, width: int = 15):
    """A decimal field of 1..``width`` digits -> (value, ok); ``-`` reads as ``dash``."""
    length = end - start
    if len(length):  # only as wide as the longest field (byte counts rarely pass 8 digits)
        width = int(min(width, max(1, length.max())))
    g = gather(buf, start, width)
    val = np.zeros(len(start), dtype=np.int64)
    ok = (length >= 1) & (length <= width) & (start >= 0)
    for j in range(width):  # Horner's rule, one column at a time
        d = g[:, j].astype(np.int64) - 48
        inside = j < length
        ok &= ~inside | ((d >= 0) & (d <= 9))
        val = np.where(inside, val * 10 + d, val)
    is_dash = (length == 1) & (g[:, 0] == 45)
    return np.where(is_dash, dash, np.where(ok, val, 0)), ok | is_dash


def host_hash(buf: np.ndarray, start: np.ndarray, end: np.ndarray, port_mode: int = 0) -> np.ndarray:
    """FNV-1a 64 of the host field (as the CLF parser); 0 if absent.

    ``port_mode`` 1 drops a trailing ``:port``; 2 drops it only from ``host:port`` with one colon and
    unwraps ``[ipv6]:port`` (for fields that may hold a bare IPv6 address).
    """
    from core.ingest._fields_kernel import fnv_spans  # numba loads when a format first needs it, not at import

    return fnv_spans(buf, start.astype(np.int64), end.astype(np.int64), port_mode)
