"""The names a user chooses from, in one place: argparse choices, OpenAPI enums, page dropdowns and tests
all read them here (each list itself lives with its domain; this module only gathers them).

Adding a forecasting model is one module with its ``@register`` (``core.forecast.base``); a policy, a
preset or a protocol is one entry where it is defined. Nothing else retypes the names.

Each name is imported from its domain when first read (PEP 562 ``__getattr__``), so that reading the
ingest formats (``python -m core ingest``) does not import the forecasting and scaling stacks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the names below are, for readers and type checkers; imported lazily at run time
    from core.forecast.backtest import CALIBRATIONS, PROTOCOLS
    from core.forecast.base import accepted_model_names, model_aliases, model_label, model_names
    from core.ingest.formats import FORMAT_NAMES as INGEST_FORMATS
    from core.scaling.deploy import FORMATS as DEPLOY_FORMATS

__all__ = ["CALIBRATIONS", "DEPLOY_FORMATS", "EXPORT_FORMATS", "GRANULARITY_MINUTES", "INGEST_FORMATS", "PROTOCOLS",
           "TARGETS", "accepted_model_names", "model_aliases", "model_label", "model_names", "policy_names",
           "preset_names"]

#: name here -> (module, name there); imported on first use.
_LAZY = {
    "CALIBRATIONS": ("core.forecast.backtest", "CALIBRATIONS"),
    "PROTOCOLS": ("core.forecast.backtest", "PROTOCOLS"),
    "accepted_model_names": ("core.forecast.base", "accepted_model_names"),
    "model_aliases": ("core.forecast.base", "model_aliases"),
    "model_label": ("core.forecast.base", "model_label"),
    "model_names": ("core.forecast.base", "model_names"),
    "INGEST_FORMATS": ("core.ingest.formats", "FORMAT_NAMES"),
    "DEPLOY_FORMATS": ("core.scaling.deploy", "FORMATS"),
}


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The period lengths the app offers (any whole multiple of the data's period works in the CLI and API).
GRANULARITY_MINUTES = (1, 5, 15)
#: What can be forecast.
TARGETS = ("requests", "bytes")
#: What a page or result can be downloaded as (a scaling policy's autoscaler formats: ``DEPLOY_FORMATS``,
#: from ``core.scaling.deploy``).
EXPORT_FORMATS = ("csv", "json", "html")


def policy_names() -> tuple[str, ...]:
    """The scaling policies, in the order the pages and tables show them."""
    from core.scaling.config import Policy

    return tuple(p.value for p in Policy)


def preset_names() -> tuple[str, ...]:
    """The scaling configuration presets."""
    from core.scaling.config import PRESETS

    return tuple(PRESETS)
