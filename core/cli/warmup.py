"""``warmup``: compile (or load) every numba kernel ahead, so that no user waits for the compiler."""

from __future__ import annotations

from core.cli.common import emit

__all__ = ["register"]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "warmup", help="compile the log parsers and the simulator ahead into numba's cache (run once after install)")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.set_defaults(handler=_warmup)


def _warmup(args) -> int:
    from core.warmup import warm_up

    done = warm_up()
    text = "\n".join([f"numba cache: {done.cache_dir or '(numba default)'}"]
                     + [f"  {name}: {s:.1f} s" for name, s in done.seconds.items()]
                     + [f"  note: {n}" for n in done.notes])
    emit(args, done.to_dict(), text)
    return 0
