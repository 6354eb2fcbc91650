"""What the pages call the names users choose from, and counts with their noun.

Ids stay in URLs, exports and the API (``seasonal_naive``, ``static_peak``, ``balanced/predictive``); dropdowns,
tables and chart ticks show these labels. Models carry their own label in ``core`` (``core.registry.model_label``).
"""

from __future__ import annotations

from core.registry import accepted_model_names, model_label

__all__ = ["label", "labels", "plural", "scenario_label"]

#: Names with a label of their own (anything else: the id with spaces, capitalized).
_LABELS = {
    "static_peak": "Static (peak)",
    "static_mean": "Static (mean)",
    "target_tracking": "Target tracking",
    "oracle": "Oracle (hindsight)",
    "error_rate": "Error rate",
}


def label(name: str) -> str:
    """The label of a model, policy, configuration preset or baseline: ``seasonal_naive`` -> "Seasonal naive",
    ``static_peak`` -> "Static (peak)", ``balanced`` -> "Balanced"."""
    if name in _LABELS:
        return _LABELS[name]
    if name in accepted_model_names():
        return model_label(name)
    text = str(name).replace("_", " ")
    return text[:1].upper() + text[1:]


def labels(names) -> tuple[str, ...]:
    """``label`` of each name (e.g. a ``Param``'s ``choice_labels``)."""
    return tuple(label(n) for n in names)


def scenario_label(name: str) -> str:
    """A matrix scenario ``config/policy`` as "Balanced / Predictive"; a baseline by its label."""
    config, sep, policy = str(name).partition("/")
    return f"{label(config)} / {label(policy)}" if sep else label(name)


def plural(n: float, noun: str, nouns: str | None = None) -> str:
    """``1 scaling action``, ``2 scaling actions``, ``1,500 periods`` (``nouns`` for irregular plurals)."""
    count = f"{n:,}" if isinstance(n, int) else f"{n:,g}"
    return f"{count} {noun if n == 1 else (nouns or noun + 's')}"
