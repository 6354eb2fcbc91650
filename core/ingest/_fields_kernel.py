"""Compiled helpers for delimited log lines (numba): split lines into fields, hash hosts.

Load balancer, CloudFront and W3C logs are records of space- or tab-separated
fields. One compiled pass per chunk finds, for every line, the byte spans of
the few fields a format needs; the fields are then decoded with vectorized
numpy (``decode.py``). Quoted fields (``"GET / HTTP/1.1"``) may hold the
separator.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["split_fields", "fnv_spans"]


@njit(cache=True, nogil=True)
def split_fields(buf, lo, hi, sep, want, nlines):
    """Spans of the fields numbered ``want`` (ascending) of each line of ``buf[lo:hi]``.

    Args:
        buf: uint8 bytes; ``buf[hi - 1]`` is a newline.
        sep: the separator byte (32 space, 9 tab); each one ends a field.
        want: int64 field numbers, ascending.
        nlines: the number of newlines in ``buf[lo:hi]``.

    Returns:
        ``(line_start, line_end, nfields, starts, ends)``: per line its span without the
        newline and trailing ``\\r``, its number of fields, and ``starts[i, k]``/``ends[i, k]``
        of field ``want[k]`` (-1 when the line has fewer fields).
    """
    nw = len(want)
    line_start = np.empty(nlines, dtype=np.int64)
    line_end = np.empty(nlines, dtype=np.int64)
    nfields = np.zeros(nlines, dtype=np.int64)
    starts = np.full((nlines, nw), -1, dtype=np.int64)
    ends = np.full((nlines, nw), -1, dtype=np.int64)
    last = want[nw - 1] if nw else -1
    i = 0
    p = lo
    while p < hi and i < nlines:
        s = p
        while buf[p] != 10:
            p += 1
        e = p
        if e > s and buf[e - 1] == 13:
            e -= 1
        line_start[i] = s
        line_end[i] = e
        f = 0
        k = 0
        q = s
        while q <= e:
            fs = q
            if q < e and buf[q] == 34:  # quoted: to the closing quote (a backslash escapes one byte)
                q += 1
                while q < e and buf[q] != 34:
                    if buf[q] == 92:
                        q += 1
                    q += 1
                q += 1
            while q < e and buf[q] != sep:
                q += 1
            if q > e:
                q = e
            if k < nw and want[k] == f:
                starts[i, k] = fs
                ends[i, k] = q
                k += 1
            f += 1
            if f > last and k == nw:
                # the rest only for the field count, which checks the line's shape
                while q < e:
                    if buf[q] == sep:
                        f += 1
                    q += 1
                break
            q += 1
        nfields[i] = f
        i += 1
        p += 1
    return line_start, line_end, nfields, starts, ends


@njit(cache=True, nogil=True)
def fnv_spans(buf, starts, ends, strip_port):
    """64-bit FNV-1a of each span (the CLF parser hashes hosts the same way); 0 for an empty span.

    With ``strip_port`` a trailing ``:digits`` is left out (``10.0.0.1:443`` is host ``10.0.0.1``).
    """
    n = len(starts)
    out = np.zeros(n, dtype=np.uint64)
    for i in range(n):
        s = starts[i]
        e = ends[i]
        if strip_port:
            c = e - 1
            while c > s and 48 <= buf[c] <= 57:
                c -= 1
            if c > s and c < e - 1 and buf[c] == 58:
                e = c
        if e <= s or s < 0:
            continue
        h = np.uint64(0xCBF29CE484222325)
        for k in range(s, e):
            h = (h ^ np.uint64(buf[k])) * np.uint64(0x100000001B3)
        out[i] = h
    return out
