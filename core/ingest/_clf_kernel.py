"""The compiled inner loop of the access-log parser (numba).

One pass over each line's bytes, no Python objects: measured ~3x faster
than the best vectorized-numpy formulation we wrote (BENCHMARKS.md), which
needed a dozen full passes over fixed-width blocks per chunk. The acceptance
rule is exactly ``apache.LINE_RE`` (the property tests check the two agree).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["parse_lines"]

_MONTHS = np.frombuffer(b"JanFebMarAprMayJunJulAugSepOctNovDec", dtype=np.uint8).copy()
_CUMDAYS = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334], dtype=np.int64)


@njit(cache=True, nogil=True, inline="always")
def _digit(c):
    return np.int64(c) - 48 if 48 <= c <= 57 else np.int64(-1)


@njit(cache=True, nogil=True, inline="always")
def _pair(a, b):
    """The number written by the digit bytes ``a b``, or -1 (scalars only: see parse_lines)."""
    x = _digit(a)
    y = _digit(b)
    if x < 0 or y < 0:
        return np.int64(-1)
    return x * 10 + y


@njit(cache=True, nogil=True)
def _days_from_civil(y, m, d):
    yy = y - 1 if m <= 2 else y
    leaps = yy // 4 - yy // 100 + yy // 400
    base = 365 * (y - 1970) + (leaps - (1969 // 4 - 1969 // 100 + 1969 // 400))
    return base + _CUMDAYS[m - 1] + d - 1


_ONES = np.uint64(0x0101010101010101)
_HIGH = np.uint64(0x8080808080808080)
_NLS = np.uint64(0x0A0A0A0A0A0A0A0A)
#: ``buf[_u(i)]``: an unsigned index, so numba emits no negative-index wraparound test per byte read (every
#: index in parse_lines is >= 0 by construction). 0.32 -> 0.26 s per 384 MB on one thread, same results.
_u = np.uint64


#: The shortest line that can be accepted: 'h - - [01/Jul/1995:00:00:01 -0400] "" 200 -' + newline.
MIN_LINE = 44


@njit(cache=True, nogil=True)
def parse_lines(buf, words, lo, hi, keep):
    """Parse the lines of ``buf[_u(lo:hi)]`` (which ends with a newline) in one pass.

    ``words`` is ``buf`` viewed as uint64 (for the newline search). Accepted
    lines are written compactly; returns ``(minute, offset, status, size,
    hhash, lines, rejected, nonstd, bad)`` where ``bad`` holds ``(line index,
    start, end)`` of up to ``keep`` rejected lines. Releases the GIL, so two
    threads can parse two halves of a chunk.

    One function body on purpose: no helper here takes an array. Each call (or
    inlined copy) of a helper that did (the former ``_parse_one``, ``_match_tail``,
    ``_next_newline``, ``_two``) cost an atomic reference-count increment and
    decrement of its arrays per line; those were 42% of this kernel's time in the
    ahead-of-time build (``perf``: ``NRT_incref``/``NRT_decref``), 0.55 -> 0.32 s
    for the 384 MB NASA log on one thread (bench/results/coldstart.md).
    """
    cap = (hi - lo) // MIN_LINE + 1  # accepted lines fit; np.empty pages past the last one are never touched
    minute = np.empty(cap, dtype=np.int64)
    offset = np.empty(cap, dtype=np.int16)
    status = np.empty(cap, dtype=np.int16)
    size = np.empty(cap, dtype=np.int64)
    hhash = np.empty(cap, dtype=np.uint64)
    bad = np.empty((max(keep, 0), 3), dtype=np.int64)
    nw = hi >> 3
    j = 0
    lines = 0
    rejected = 0
    nonstd = 0
    s = lo
    while s < hi:
        utc = np.int64(0)
        off = np.int64(0)
        # 1. Before the newline is known: host (hashed on the way: FNV-1a), ident, user, and the
        #    timestamp's punctuation '[dd/Mon/yyyy:hh:mm:ss +zzzz] "'. Every byte looked at is compared
        #    with a space or the newline, or is a fixed character, so none of them is the newline.
        ok = False
        h = np.uint64(0xCBF29CE484222325)
        p = s
        c = buf[_u(p)]
        while c != 32 and c != 10:
            h = (h ^ np.uint64(c)) * np.uint64(0x100000001B3)
            p += 1
            c = buf[_u(p)]
        if p != s and c != 10 and buf[_u(p + 1)] == 45 and buf[_u(p + 2)] == 32 and buf[_u(p + 3)] == 45 \
                and buf[_u(p + 4)] == 32:
            # The usual ' - - ' (no ident, no user): what the two loops below would find. With the timestamp's
            # check repeated here on this straight path: 0.26 -> 0.24 s per 384 MB (0.255 with one shared check).
            p += 5
            ok = (p + 30 <= hi and buf[_u(p)] == 91 and buf[_u(p + 3)] == 47 and buf[_u(p + 7)] == 47
                  and buf[_u(p + 12)] == 58 and buf[_u(p + 15)] == 58 and buf[_u(p + 18)] == 58
                  and buf[_u(p + 21)] == 32
                  and buf[_u(p + 27)] == 93 and buf[_u(p + 28)] == 32 and buf[_u(p + 29)] == 34
                  and (buf[_u(p + 22)] == 43 or buf[_u(p + 22)] == 45))
        elif p != s and c != 10:
            p += 1
            q = p
            c = buf[_u(p)]
            while c != 32 and c != 10:
                p += 1
                c = buf[_u(p)]
            if p != q and c != 10:
                p += 1
                q = p
                c = buf[_u(p)]
                while c != 32 and c != 10:
                    p += 1
                    c = buf[_u(p)]
                if p != q and c != 10:
                    p += 1
                    ok = (p + 30 <= hi and buf[_u(p)] == 91 and buf[_u(p + 3)] == 47 and buf[_u(p + 7)] == 47
                          and buf[_u(p + 12)] == 58 and buf[_u(p + 15)] == 58 and buf[_u(p + 18)] == 58
                          and buf[_u(p + 21)] == 32
                          and buf[_u(p + 27)] == 93 and buf[_u(p + 28)] == 32 and buf[_u(p + 29)] == 34
                          and (buf[_u(p + 22)] == 43 or buf[_u(p + 22)] == 45))
        # 2. The newline: from the request on (its opening quote is at p + 29), or from where the line failed;
        #    eight bytes at a time (a word holding a newline has (v - ones) & ~v & high set, v = word ^ newlines).
        x = p + 30 if ok else p
        while x < hi and (x & 7) != 0 and buf[_u(x)] != 10:
            x += 1
        if x < hi and buf[_u(x)] != 10:
            w = x >> 3
            while w < nw:
                v = words[_u(w)] ^ _NLS
                if (v - _ONES) & ~v & _HIGH:  # some byte of the word is a newline
                    break
                w += 1
            x = w << 3
            while x < hi and buf[_u(x)] != 10:
                x += 1
        nl = x
        # 3. The timestamp's values.
        if ok:
            day = _pair(buf[_u(p + 1)], buf[_u(p + 2)])
            y1 = _pair(buf[_u(p + 8)], buf[_u(p + 9)])
            y2 = _pair(buf[_u(p + 10)], buf[_u(p + 11)])
            hh = _pair(buf[_u(p + 13)], buf[_u(p + 14)])
            mi = _pair(buf[_u(p + 16)], buf[_u(p + 17)])
            ss = _pair(buf[_u(p + 19)], buf[_u(p + 20)])
            tzh = _pair(buf[_u(p + 23)], buf[_u(p + 24)])
            tzm = _pair(buf[_u(p + 25)], buf[_u(p + 26)])
            month = 0
            for m in range(12):
                if buf[_u(p + 4)] == _MONTHS[3 * m] and buf[_u(p + 5)] == _MONTHS[3 * m + 1] and \
                        buf[_u(p + 6)] == _MONTHS[3 * m + 2]:
                    month = m + 1
                    break
            if (day < 1 or day > 31 or y1 < 0 or y2 < 0 or hh < 0 or hh > 23 or mi < 0 or mi > 59 or ss < 0
                    or ss > 60 or tzh < 0 or tzh > 23 or tzm < 0 or tzm > 59 or month == 0):
                ok = False
            else:
                off = (tzh * 60 + tzm) * (-1 if buf[_u(p + 22)] == 45 else 1)
                utc = _days_from_civil(y1 * 100 + y2, month, day) * 1440 + hh * 60 + mi - off
        # 4. '"request" SSS SIZE[ "referer" "user agent"]' to the end of the line without trailing whitespace
        #    (\r, space, tab), as LINE_RE sees it.
        st = np.int64(-1)
        sz = np.int64(0)
        op = p + 29  # the request's opening quote
        q = op
        if ok:
            e = nl
            while e > op and (buf[_u(e - 1)] == 13 or buf[_u(e - 1)] == 32 or buf[_u(e - 1)] == 9):
                e -= 1
            combined = e > op and buf[_u(e - 1)] == 34
            # The request's closing quote: the first quote after which the rest of the line fits. In the
            # Common format (the line does not end with a quote) the tail ' SSS SIZE' holds no quote, so
            # the last quote of the line is the only candidate: found from the end.
            if e <= op:
                q = op
            elif not combined:
                q = e - 1
                while q > op and buf[_u(q)] != 34:
                    q -= 1
            else:
                q = op + 1
                while q < e and buf[_u(q)] != 34:
                    q += 1
            while op < q < e:
                # The tail from the quote at q: '" SSS SIZE' then the end, or ' "referer" "user agent"'.
                r = q + 1
                if (r + 5 <= e and buf[_u(r)] == 32 and 49 <= buf[_u(r + 1)] <= 53 and 48 <= buf[_u(r + 2)] <= 57
                        and 48 <= buf[_u(r + 3)] <= 57 and buf[_u(r + 4)] == 32):
                    z = r + 5
                    fits = True
                    sz = np.int64(0)
                    if z < e and buf[_u(z)] == 45:
                        z += 1
                    else:
                        n = 0
                        while z < e and 48 <= buf[_u(z)] <= 57:
                            sz = sz * 10 + (np.int64(buf[_u(z)]) - 48)
                            z += 1
                            n += 1
                        fits = 1 <= n <= 15
                    if fits and z != e:
                        fits = z + 1 < e and buf[_u(z)] == 32 and buf[_u(z + 1)] == 34
                        if fits:
                            r2 = z + 2
                            while r2 < e and buf[_u(r2)] != 34:
                                r2 += 1
                            fits = (r2 + 3 < e and buf[_u(r2 + 1)] == 32 and buf[_u(r2 + 2)] == 34
                                    and buf[_u(e - 1)] == 34)
                    if fits:
                        st = (np.int64(buf[_u(r + 1)]) - 48) * 100 + (np.int64(buf[_u(r + 2)]) - 48) * 10 + \
                            (np.int64(buf[_u(r + 3)]) - 48)
                        break
                if not combined:
                    break
                q += 1
                while q < e and buf[_u(q)] != 34:
                    q += 1
        if st < 0:
            if rejected < keep:
                bad[rejected, 0] = lines
                bad[rejected, 1] = s
                bad[rejected, 2] = nl
            rejected += 1
        else:
            minute[j] = utc
            offset[j] = off
            status[j] = st
            size[j] = sz
            hhash[j] = h
            # Standard request line: '[A-Z]... HTTP/d.d'.
            rl = q - (op + 1)
            std = rl >= 10 and 65 <= buf[_u(op + 1)] <= 90 and buf[_u(q - 9)] == 32 and buf[_u(q - 8)] == 72
            std = std and buf[_u(q - 7)] == 84 and buf[_u(q - 6)] == 84 and buf[_u(q - 5)] == 80
            std = std and buf[_u(q - 4)] == 47
            std = std and 48 <= buf[_u(q - 3)] <= 57 and buf[_u(q - 2)] == 46 and 48 <= buf[_u(q - 1)] <= 57
            if not std:
                nonstd += 1
            j += 1
        lines += 1
        s = nl + 1
    kept = min(rejected, max(keep, 0))
    return minute[:j], offset[:j], status[:j], size[:j], hhash[:j], lines, rejected, nonstd, bad[:kept]
