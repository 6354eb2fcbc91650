"""Walking Dash component trees in tests."""

from __future__ import annotations


def walk(component):
    """Every component in the tree (depth first)."""
    stack = [component]
    while stack:
        c = stack.pop()
        if c is None or isinstance(c, (str, int, float)):
            continue
        if isinstance(c, (list, tuple)):
            stack.extend(c)
            continue
        yield c
        stack.append(getattr(c, "children", None))


def find(component, id_):
    """The component with ``id_`` or None."""
    return next((c for c in walk(component) if getattr(c, "id", None) == id_), None)


def text(component) -> str:
    """All text in the tree, space-joined."""
    out = []
    stack = [component]
    while stack:
        c = stack.pop()
        if c is None:
            continue
        if isinstance(c, (str, int, float)):
            out.append(str(c))
        elif isinstance(c, (list, tuple)):
            stack.extend(reversed(c))
        else:
            stack.append(getattr(c, "children", None))
    return " ".join(out)
