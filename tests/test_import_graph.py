"""The import graph of ``core`` and ``dashapp``: no circle, dependencies one way, no UI in ``core``.

Every import counts, also those inside functions ("lazy" imports hide a circle, they do not remove
it). The layers run one way: ``dashapp`` entry points -> web -> pages -> components -> services ->
runtime -> ``core``; ``core`` never imports ``dashapp``; only the CLI itself imports ``core.cli``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Rank of each dashapp part; an import may only go to the same or a lower rank.
DASHAPP_LAYERS = {
    "dashapp.runtime": 1,
    "dashapp.services": 2, "dashapp.state": 2, "dashapp.figures": 2, "dashapp.ids": 2, "dashapp.labels": 2,
    "dashapp.components": 3,
    "dashapp.pages": 4,
    "dashapp.web": 5,
    "dashapp.app": 6, "dashapp.wsgi": 6, "dashapp.worker": 6, "dashapp.__main__": 6,
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """``{module: modules it imports}`` over the ``packages`` below ``root`` (imports of other packages dropped)."""
    files = {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps: set[str] = set()
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                    pkg = pkg[: len(pkg) - node.level + 1]
                    base = ".".join(pkg + ([base] if base else []))
                # ``from pkg import sub`` names the submodule; ``from pkg import name`` the package itself
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            for t in targets:
                # the deepest known module named by the import ("a.b.c" -> "a.b" when c is a name in a.b)
                while t and t not in files:
                    t = t.rpartition(".")[0]
                if t and t != name:
                    deps.add(t)
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layer(module: str) -> int | None:
    for prefix, rank in DASHAPP_LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return None


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for src, deps in graph.items():
        for dst in deps:
            a, b = layer(src), layer(dst)
            if a is not None and b is not None and b > a:
                bad.append(f"{src} (layer {a}) imports {dst} (layer {b})")
    return sorted(bad)


@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT, ("core", "dashapp"))


def test_no_import_circle(graph):
    assert cycles(graph) == []


def test_core_never_imports_dashapp(graph):
    assert sorted(f"{s} -> {d}" for s, ds in graph.items() if s.startswith("core") for d in ds
                  if d.startswith("dashapp")) == []


def test_only_the_cli_imports_core_cli(graph):
    entry = {"core.__main__"}  # ``python -m core`` is the CLI's own entry point
    assert sorted(f"{s} -> {d}" for s, ds in graph.items() if not s.startswith("core.cli") and s not in entry
                  for d in ds if d == "core.cli" or d.startswith("core.cli.")) == []


def test_dashapp_layers_run_one_way(graph):
    assert layer_violations(graph) == []


def test_every_dashapp_module_has_a_layer(graph):
    assert sorted(m for m in graph if m.startswith("dashapp.") and layer(m) is None) == []


def test_a_circle_added_is_found(tmp_path, graph):
    """The checks fail when a circle is added: in files on disk, and as an edge in the real graph."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.b import thing\n")
    (pkg / "b.py").write_text("def f():\n    from pkg import a  # a lazy import is still an edge\n\nthing = 1\n")
    (pkg / "c.py").write_text("from . import a\n")
    g = import_graph(tmp_path, ("pkg",))
    assert g["pkg.c"] == {"pkg.a"}
    assert cycles(g) == [["pkg.a", "pkg.b"]]

    bent = {k: set(v) for k, v in graph.items()}
    bent["dashapp.runtime.result_cache"].add("dashapp.web.api")  # runtime reaching up into the web layer
    assert cycles(bent) != []
    assert any("dashapp.runtime.result_cache (layer 1) imports dashapp.web.api" in v for v in layer_violations(bent))


def test_core_never_imports_ui_packages():
    """``core`` is a plain library: no dash, plotly or flask, not even lazily."""
    ui = {"dash", "plotly", "dash_bootstrap_components", "flask", "plotly_resampler"}
    offenders = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in ui]
    assert offenders == []
