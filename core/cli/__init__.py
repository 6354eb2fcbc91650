"""Command-line interface: ``python -m core SUBCOMMAND ...``.

Each area registers its subcommands from its own module (``SUBCOMMAND_MODULES``);
every handler is a thin call into ``core``. Bad input exits with status 2 and
one line on stderr, never a traceback. A subcommand imports only its own module
(``COMMANDS``): ``ingest`` does not pay for the forecasting and scaling stacks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from core.cli.model_args import BadChoice
from core.errors import InputError

__all__ = ["main", "build_parser", "COMMANDS", "SUBCOMMAND_MODULES", "FAST_EXIT"]

#: Modules exposing ``register(subparsers)``; each adds its own subcommands.
SUBCOMMAND_MODULES = ("core.cli.data", "core.cli.events", "core.cli.scaling", "core.cli.forecast", "core.cli.deploy",
                      "core.cli.warmup")
#: The module that registers each subcommand (a test checks it against what the modules register).
COMMANDS = {
    **dict.fromkeys(("ingest", "append", "datasets", "delete"), "core.cli.data"),
    **dict.fromkeys(("simulate", "recommend", "plan", "matrix", "optimize", "whatif"), "core.cli.scaling"),
    **dict.fromkeys(("forecast", "backtest", "select-model", "anomalies"), "core.cli.forecast"),
    "events": "core.cli.events",
    "export-policy": "core.cli.deploy",
    "warmup": "core.cli.warmup",
}
#: Subcommands after which ``python -m core`` leaves with ``os._exit`` once its output is flushed (their
#: work is on disk when ``main`` returns; the interpreter's teardown only frees memory): ``core/__main__.py``.
FAST_EXIT = frozenset({"ingest"})
#: Subcommands whose file arguments are hashed ahead (``core.prehash``), from before their imports.
HASH_AHEAD = frozenset({"ingest", "append"})
#: Their options that take no value (the word after any other option is its value, not a file).
_FLAGS = frozenset({"--json", "--skip-bad", "-h", "--help"})


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with only the module of ``command`` when it is a known one."""
    parser = argparse.ArgumentParser(prog="python -m core", description="Traffic capacity-planning workbench")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = (COMMANDS[command],) if command in COMMANDS else SUBCOMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(subparsers)
    return parser


def _command(argv: list[str]) -> str | None:
    """The subcommand named by ``argv`` (its first word; ``python -m core`` takes no options before it)."""
    return argv[0] if argv and argv[0] in COMMANDS else None


def _file_words(words: list[str]) -> list[str]:
    """The words of a command line that are not options nor option values (the paths, for ``ingest``)."""
    out, value = [], False
    for w in words:
        if value:
            value = False
        elif w.startswith("-"):
            value = w not in _FLAGS and "=" not in w
        else:
            out.append(w)
    return out


def main(argv: list[str] | None = None) -> int:
    # Two cores: one thread per library avoids oversubscription (TOOLCHAIN.md).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command(argv)
    if command in HASH_AHEAD:
        # Hash the files while the modules below import (~0.2 s of one core): core/prehash.py.
        from core import prehash

        prehash.start(_file_words(argv[1:]))
    parser = build_parser(command)
    try:
        args = parser.parse_args(argv)
        with warnings.catch_warnings():
            if getattr(args, "json", False):
                warnings.simplefilter("ignore")
            return int(args.handler(args) or 0)
    except (InputError, ValueError, BadChoice, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(f"error: {msg}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        return 130
