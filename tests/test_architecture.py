"""The layers' one-way flow, checked on the import graph (not by grepping text).

Every module of the package is parsed; its ``import`` and ``from ... import``
statements (function-local ones included) are resolved to package modules or
to outside distributions. The core must not reach a widget library through any
chain of the package's own imports, and no layer may import one above it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import landscape_widgets

PACKAGE = Path(landscape_widgets.__file__).resolve().parent
NAME = "landscape_widgets"
WIDGET_LIBRARIES = {"ipywidgets", "anywidget", "bqplot", "pythreejs", "traitlets", "ipython"}
# The layers, lowest first; a module may import its own layer and those below.
LAYERS = ("core", "wire", "output", "render", "widgets")
# The one import that goes up, deferred into the method that needs it:
# ``Landscape.render`` is the render layer's entry point named on the class.
UPWARD = {("landscape_widgets.core.landscape", "landscape_widgets.render")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "static" not in p.parts}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Absolute names imported by one module: package modules, or top-level outside ones."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            found.add(target)
            # `from . import datasets` imports a module, not a name
            found |= {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known}
    out = set()
    for target in found:
        if target == NAME or target.startswith(NAME + "."):
            while target not in known:  # `from .x import name` -> module x
                target = target.rpartition(".")[0]
            out.add(target)
        else:
            out.add(target.split(".")[0].lower())
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def reachable(graph: dict[str, set[str]], start: str) -> dict[str, list[str]]:
    """Everything ``start`` imports, directly or through package modules, with one chain each."""
    chains = {start: [start]}
    todo = [start]
    while todo:
        here = todo.pop()
        for nxt in graph.get(here, ()):
            if nxt not in chains:
                chains[nxt] = [*chains[here], nxt]
                # a package module's own __init__ is not followed: importing
                # landscape_widgets.core.x runs landscape_widgets/__init__.py,
                # but that is the package's façade, not a dependency of x
                if nxt in graph and nxt != NAME:
                    todo.append(nxt)
    return chains


def test_the_graph_is_read(graph):
    core = [m for m in graph if layer(m) == "core"]
    assert f"{NAME}.core.landscape" in core and len(core) >= 8
    # the check itself would notice a widget library: the map imports anywidget
    assert "anywidget" in graph[f"{NAME}.widgets.landscape_map"]
    assert "anywidget" in reachable(graph, f"{NAME}.widgets.explore")


def test_the_core_never_reaches_a_widget_library(graph):
    for module in (m for m in graph if layer(m) == "core"):
        chains = reachable(graph, module)
        bad = {lib: chains[lib] for lib in WIDGET_LIBRARIES if lib in chains}
        assert not bad, f"{module} reaches a widget library: " + "; ".join(
            " -> ".join(chain) for chain in bad.values()
        )


def test_the_teaching_toolkit_is_torch_only(graph):
    for public in ("datasets", "models", "schedules", "ensembles", "hessian", "sharpness"):
        chains = reachable(graph, f"{NAME}.{public}")
        assert not WIDGET_LIBRARIES & set(chains), public


def test_no_layer_imports_one_above_it(graph):
    for module, deps in graph.items():
        mine = layer(module)
        if mine is None:
            continue
        for dep in deps:
            if (module, dep) in UPWARD:
                continue
            theirs = layer(dep)
            if theirs is not None:
                assert LAYERS.index(theirs) <= LAYERS.index(mine), f"{module} imports {dep}"
            # nor the façade or the toolkit modules above the core
            if mine == "core":
                assert not dep.startswith(NAME) or theirs == "core", f"{module} imports {dep}"


def test_no_module_imports_another_modules_private_names(graph):
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level or node.module.startswith(NAME)):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{name} imports private {private} from {node.module}"
