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

__all__ = ["split_fields", "fnv_spans", "count_newlines"]

_LOW7 = np.uint64(0x7F7F7F7F7F7F7F7F)
_ONES = np.uint64(0x0101010101010101)
_NLS = np.uint64(0x0A0A0A0A0A0A0A0A)
_HIGH = np.uint64(0x8080808080808080)
#: ``buf[_u(i)]``: an unsigned index, so numba emits no negative-index wraparound test per read (every index
#: here is >= 0 by construction), as in ``_clf_kernel``.
_u = np.uint64


@njit(cache=True, nogil=True)
def split_fields(buf, words, lo, hi, sep, want, nlines, count_all):
    """Spans of the fields numbered ``want`` (ascending) of each line of ``buf[lo:hi]``, in one pass.

    Args:
        buf: uint8 bytes; ``buf[hi - 1]`` is a newline. ``words``: ``buf`` viewed as uint64.
        sep: the separator byte (32 space, 9 tab); each one ends a field.
        want: int64 field numbers, ascending.
        nlines: the number of newlines in ``buf[lo:hi]``.
        count_all: count every field of a line; else stop after the last wanted one (the rest of
            the line is skipped eight bytes at a time, and ``nfields`` is a lower bound).

    Returns:
        ``(line_start, line_end, nfields, starts, ends)``: per line its span without the
        newline and trailing ``\\r``, its number of fields, and ``starts[i, k]``/``ends[i, k]``
        of field ``want[k]`` (-1 when the line has fewer fields).

    One function body, no helper taking an array (the former ``_next_newline`` call cost an atomic
    reference-count increment and decrement of ``buf`` and ``words`` per line), and unsigned indices:
    the treatment of ``_clf_kernel.parse_lines``.
    """
    nw = len(want)
    line_start = np.empty(nlines, dtype=np.int64)
    line_end = np.empty(nlines, dtype=np.int64)
    nfields = np.zeros(nlines, dtype=np.int64)
    starts = np.empty((nlines, nw), dtype=np.int64)
    ends = np.empty((nlines, nw), dtype=np.int64)
    nwords = hi >> 3
    i = 0
    p = lo
    while p < hi and i < nlines:
        s = p
        f = 0
        k = 0
        q = s
        for c in range(nw):
            starts[_u(i), _u(c)] = -1
            ends[_u(i), _u(c)] = -1
        while True:
            fs = q
            if buf[_u(q)] == 34:  # quoted: to the closing quote (a backslash escapes one byte)
                q += 1
                while buf[_u(q)] != 34 and buf[_u(q)] != 10:
                    if buf[_u(q)] == 92 and buf[_u(q + 1)] != 10:
                        q += 1
                    q += 1
                if buf[_u(q)] == 34:
                    q += 1
            while buf[_u(q)] != sep and buf[_u(q)] != 10:
                q += 1
            fe = q
            if buf[_u(q)] == 10 and fe > fs and buf[_u(fe - 1)] == 13:
                fe -= 1
            if k < nw and want[_u(k)] == f:
                starts[_u(i), _u(k)] = fs
                ends[_u(i), _u(k)] = fe
                k += 1
            f += 1
            if buf[_u(q)] == 10:
                break
            q += 1
            if k == nw and not count_all:
                f += 1  # the separator just passed starts one more field
                # The newline, eight bytes at a time; written out here, not called (see the docstring).
                while q < hi and (q & 7) != 0 and buf[_u(q)] != 10:
                    q += 1
                if q < hi and buf[_u(q)] != 10:
                    w = q >> 3
                    while w < nwords:
                        v = words[_u(w)] ^ _NLS
                        if (v - _ONES) & ~v & _HIGH:  # some byte of the word is a newline
                            break
                        w += 1
                    q = w << 3
                    while q < hi and buf[_u(q)] != 10:
                        q += 1
                break
        e = q
        if e > s and buf[_u(e - 1)] == 13:
            e -= 1
        line_start[_u(i)] = s
        line_end[_u(i)] = e
        nfields[_u(i)] = f
        i += 1
        p = q + 1
    return line_start, line_end, nfields, starts, ends


@njit(cache=True, nogil=True)
def count_newlines(buf, words, lo, hi):
    """Newlines in ``buf[lo:hi]``, eight bytes at a time (no temporary array)."""
    n = 0
    x = lo
    while x < hi and (x & 7) != 0:
        n += buf[_u(x)] == 10
        x += 1
    for w in range(x >> 3, hi >> 3):
        v = words[_u(w)] ^ _NLS  # a newline byte is now zero
        t = ((v & _LOW7) + _LOW7) | v  # high bit set in every non-zero byte, exactly
        zero = (~t) >> np.uint64(7) & _ONES  # 1 in each byte that was a newline
        n += (zero * _ONES) >> np.uint64(56)  # their sum, in the top byte
    for y in range(max(x, (hi >> 3) << 3), hi):
        n += buf[_u(y)] == 10
    return n


@njit(cache=True, nogil=True)
def fnv_spans(buf, starts, ends, port_mode):
    """64-bit FNV-1a of each span (the CLF parser hashes hosts the same way); 0 for an empty span.

    ``port_mode`` 1: a trailing ``:digits`` is left out (``10.0.0.1:443`` is host ``10.0.0.1``, as load
    balancers always write a port); 2: the same only when the span has one colon (so an IPv6 address
    keeps its last group), and ``[addr]:port`` is ``addr``.
    """
    n = len(starts)
    out = np.zeros(n, dtype=np.uint64)
    for i in range(n):
        s = starts[_u(i)]
        e = ends[_u(i)]
        if s < 0 or e <= s:
            continue
        if port_mode == 2 and buf[_u(s)] == 91:  # [::1]:443
            c = s + 1
            while c < e and buf[_u(c)] != 93:
                c += 1
            s, e = s + 1, c
        elif port_mode > 0:
            colons = 0
            if port_mode == 2:
                for c in range(s, e):
                    colons += buf[_u(c)] == 58
            if port_mode == 1 or colons == 1:
                c = e - 1
                while c > s and 48 <= buf[_u(c)] <= 57:
                    c -= 1
                if c > s and c < e - 1 and buf[_u(c)] == 58:
                    e = c
        if e <= s:
            continue
        h = np.uint64(0xCBF29CE484222325)
        for k in range(s, e):
            h = (h ^ np.uint64(buf[_u(k)])) * np.uint64(0x100000001B3)
        out[_u(i)] = h
    return out
