"""The hostile-input corpus, generated (never committed as binaries).

``corpus()`` returns ``{file name: (bytes, expected)}``: ``expected`` is ``("refused", message fragment)``
for input that must end in a clear InputError (CLI exit 2, upload job failed with that message), or
``("accepted", check)`` for input that loads in a degraded but honest way, ``check(report dict)`` asserting
what the ingest report must say.
"""

from __future__ import annotations

import bz2
import gzip
import io
import zipfile
import zlib

import numpy as np

LINE = '{host} - - [{day:02d}/Jul/1995:{h:02d}:{m:02d}:{s:02d} {off}] "GET {path} HTTP/1.0" 200 {size}\n'


def log_lines(n: int, *, off: str = "-0400", start_day: int = 1, seed: int = 0, path: str = "/index.html") -> list[str]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        t = i * 7  # seconds
        d, rem = divmod(t, 86400)
        out.append(LINE.format(host=f"h{rng.integers(0, 50)}.example", day=start_day + d, h=rem // 3600,
                               m=rem % 3600 // 60, s=rem % 60, off=off, path=path, size=int(rng.integers(1, 9000))))
    return out


def _log(lines: list[str], encoding: str = "ascii", newline: str = "\n") -> bytes:
    return "".join(lines).replace("\n", newline).encode(encoding)


def _csv(rows: list[str], header: str = "timestamp,requests") -> bytes:
    return (header + "\n" + "\n".join(rows) + "\n").encode()


def _stamps(n: int, minutes: int = 5) -> list[str]:
    base = np.datetime64("2024-03-04T00:00")
    return [str(base + np.timedelta64(i * minutes, "m")) + "+00:00" for i in range(n)]


def _expect_lines(parsed: int, rejected: int = 0):
    def check(report: dict) -> None:
        assert report["lines_parsed"] == parsed, report
        assert report["lines_rejected"] == rejected, report

    return check


def _expect_periods(periods: int | None = None, warning: str | None = None):
    def check(report: dict) -> None:
        if periods is not None:
            assert report["periods"] == periods, report
        if warning is not None:
            assert any(warning in w for w in report["warnings"] + report.get("assumptions", [])), report

    return check


#: What the bomb inflates to (MB), and the size limit the tests ingest it with (MB).
BOMB_MB, LIMIT_MB = 16, 8


def gzip_bomb(inflated_mb: int) -> bytes:
    """Log lines compressing ~300:1: a small file that inflates to ``inflated_mb`` MB."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    line = _log(log_lines(1))
    block = line * ((1 << 20) // len(line))
    return b"".join(z.compress(block) for _ in range(inflated_mb)) + z.flush()


def corpus() -> dict[str, tuple[bytes, tuple]]:
    rng = np.random.default_rng(7)
    good = log_lines(400)
    half = [x for pair in zip(good, [f"garbage line {i} ]]][[[\n" for i in range(400)], strict=True) for x in pair]
    latin1 = log_lines(200, path="/caf\u00e9/r\u00e9sum\u00e9.html")
    utf8 = "".join(log_lines(100, path="/\u65e5\u672c")).encode()
    mixed_enc = _log(good[:100]) + _log(latin1[:100], "latin-1") + utf8
    offsets = log_lines(150, off="-0400") + log_lines(150, off="+0200", seed=1)
    disorder = [offsets[i] for i in rng.permutation(len(offsets))]
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(rng.integers(0, 256, 3000, dtype=np.uint8))
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("traffic.csv", _csv([f"{t},{i}" for i, t in enumerate(_stamps(50))]))
    formula = _csv([f"{t},{10 + i % 5},=cmd|' /C calc'!A0" for i, t in enumerate(_stamps(300))],
                   header="timestamp,requests,note")
    return {
        "empty.log": (b"", ("refused", "is empty")),
        "garbage.bin": (bytes(rng.integers(0, 256, 65536, dtype=np.uint8)), ("refused", "binary")),
        "photo.log": (png, ("refused", "PNG image")),
        "archive.csv": (zipped.getvalue(), ("refused", "ZIP archive (unzip it first)")),
        "bomb.log.gz": (gzip_bomb(BOMB_MB), ("refused", "inflates past the size limit")),
        "truncated.log.gz": (gzip.compress(_log(good))[:-40], ("refused", "corrupt or truncated")),
        "truncated.log.bz2": (bz2.compress(_log(good))[:-40], ("refused", "corrupt or truncated")),
        "page.html": (b"<!doctype html><html><body>" + b"<p>hi</p>" * 50 + b"</body></html>",
                      ("refused", "unrecognised format")),
        "half-malformed.log": (_log(half), ("accepted", _expect_lines(400, 400))),
        "latin1.log": (_log(latin1, "latin-1"), ("accepted", _expect_lines(200))),
        "mixed-encodings.log": (mixed_enc, ("accepted", _expect_lines(300))),
        "crlf.log": (_log(good, newline="\r\n"), ("accepted", _expect_lines(400))),
        "disorder-mixed-offsets.log": (_log(disorder), ("accepted", _expect_lines(300))),
        # A run of NULs (a log preallocated then cut by a crash): that line is rejected, the rest loads.
        "nul-bytes.log": (_log(good[:50]) + b"\x00" * 64 + b"\n" + _log(good[50:100]),
                          ("accepted", _expect_lines(100, 1))),
        "one-long-line.log": (b"x" * (4 << 20) + b"\n" + _log(good[:20]), ("refused", "unrecognised format")),
        "formula.csv": (formula, ("accepted", _expect_periods(300))),
        "crlf-bom.csv": (b"\xef\xbb\xbf" + _csv([f"{t},{i % 9}" for i, t in enumerate(_stamps(200))]).replace(
            b"\n", b"\r\n"), ("accepted", _expect_periods(200))),
        "utf16.csv": (_csv([f"{t},{i % 9}" for i, t in enumerate(_stamps(50))]).decode().encode("utf-16"),
                      ("refused", "binary")),
        "negative.csv": (_csv([f"{t},{v}" for t, v in zip(_stamps(10), [1, 2, -5, 4, 5, 6, 7, 8, 9, 10],
                                                              strict=True)]), ("refused", "negative value")),
        "nan-cells.csv": (_csv([f"{t},{'' if i % 3 == 0 else 'NaN' if i % 3 == 1 else i}"
                                for i, t in enumerate(_stamps(60))]), ("accepted", _expect_periods(60))),
        "all-nan.csv": (_csv([f"{t}," for t in _stamps(20)]), ("refused", "no load values")),
        "huge.csv": (_csv([f"{t},{v}" for t, v in zip(_stamps(3), ["1", "1e300", "2"], strict=True)]),
                     ("refused", "implausible value")),
        "infinite.txt": (b"1\n2\ninf\n", ("refused", "implausible value")),
        "words.csv": (_csv([f"{t},{v}" for t, v in zip(_stamps(3), ["1", "lots", "2"], strict=True)]),
                      ("refused", "non-numeric")),
        "bad-times.csv": (_csv(["yesterday,1", "soon,2"]), ("refused", "unreadable timestamps")),
        "one-row.csv": (_csv([f"{_stamps(1)[0]},42"]), ("accepted", _expect_periods(1))),
        "constant.csv": (_csv([f"{t},100" for t in _stamps(2016)]), ("accepted", _expect_periods(2016))),
        "two-rows.txt": (b"5\n7\n", ("accepted", _expect_periods(2))),
    }
