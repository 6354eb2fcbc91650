"""Command-line interface: ``python -m core SUBCOMMAND ...``.

Each area registers its subcommands from its own module (``SUBCOMMAND_MODULES``);
every handler is a thin call into ``core``. Bad input exits with status 2 and
one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings

from core.cli.model_args import BadChoice
from core.errors import InputError

__all__ = ["main", "SUBCOMMAND_MODULES"]

#: Modules exposing ``register(subparsers)``; each adds its own subcommands.
SUBCOMMAND_MODULES = ("core.cli.data", "core.cli.events", "core.cli.scaling", "core.cli.forecast", "core.cli.deploy")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Traffic capacity-planning workbench")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Two cores: one thread per library avoids oversubscription (TOOLCHAIN.md).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    parser = build_parser()
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
