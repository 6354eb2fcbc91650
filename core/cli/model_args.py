"""Forecasting-model options, their names read from the registry (``core.forecast.base``) when the parser is built.

A model registered with ``@register`` is a valid ``--model`` without touching the CLI; an alias
(``sarima`` for ``fourier_arma``) is accepted and echoed as given.
"""

from __future__ import annotations

import argparse

__all__ = ["BadChoice", "add_model_arg", "model_list", "model_name"]


class BadChoice(Exception):
    """A value an argparse ``type=`` refused, with the registry's own message.

    Deliberately not a ValueError: argparse would turn one into its generic "invalid value" usage
    error; :func:`core.cli.main` prints this as the one ``error:`` line every bad input gets.
    """


def model_name(value: str) -> str:
    """argparse ``type=``: a registry model name or alias, returned as given.

    Raises:
        BadChoice: an unknown name, listing the accepted ones.
    """
    from core.errors import InputError
    from core.forecast import canonical_model_name

    try:
        canonical_model_name(value)
    except InputError as exc:
        raise BadChoice(str(exc)) from None
    return value


def model_list(value: str) -> tuple[str, ...]:
    """argparse ``type=``: comma-separated model names or aliases, each checked by :func:`model_name`."""
    return tuple(model_name(v.strip()) for v in value.split(",") if v.strip())


def _names_help() -> str:
    from core.forecast import model_aliases, model_label, model_names

    names = ", ".join(f"{n} ({model_label(n)})" for n in model_names())
    aliases = "".join(f"; {a} = {c}" for a, c in sorted(model_aliases().items()))
    return f"{names}{aliases}"


def add_model_arg(p: argparse.ArgumentParser, flag: str, *, default: str | None, what: str) -> None:
    """Add ``flag`` taking one model: ``choices`` are the registry's names and aliases at this moment.

    Args:
        p: the parser (or an argument group of one).
        flag: e.g. ``"--model"``.
        default: the default name (None: unset).
        what: the start of the help text.
    """
    from core.forecast import accepted_model_names

    p.add_argument(flag, default=default, type=model_name, choices=accepted_model_names(), metavar="MODEL",
                   help=f"{what}: {_names_help()}" + (f" (default {default})" if default else ""))
