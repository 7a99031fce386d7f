"""The layout the README draws: no import cycles, features plugged in through the registry.

Imports are read from the source (``ast``), lazy ones inside functions included: a cycle
through a function-level import is still a cycle, only hidden from the interpreter.
"""

from __future__ import annotations

import ast
import graphlib
import importlib
from pathlib import Path

from onemap.core.settings import project_root

PACKAGE = project_root() / "onemap"
REGISTRY = "onemap.core.extensions"  # the one module allowed to name the features
# The packages in the order README.md lists them: each imports only those before it.
ORDER = (
    "onemap.core",
    "onemap.db",
    "onemap.load",
    "onemap.indicators",
    "onemap.serve",
    "onemap.publish",
    "onemap.reports",
    "onemap.cluster",
    "onemap.cli",
)


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module -> the onemap modules it imports (``from a import b`` counts b if a module)."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target.startswith("onemap") and target != name:
                    deps.add(target)
        graph[name] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` (empty: none), found by the standard library."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return exc.args[1]
    return []


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def test_the_graph_is_read() -> None:
    graph = _imports()
    assert "onemap.load.loader" in graph
    assert "onemap.load.modes" in graph["onemap.load.loader"]
    # a known cycle is found: the detector itself can fail
    assert sorted(set(_cycle({"a": {"b"}, "b": {"a"}, "c": {"a"}}))) == ["a", "b"]


def test_no_module_import_cycles() -> None:
    assert _cycle(_imports()) == []


def test_no_package_import_cycles() -> None:
    packages: dict[str, set[str]] = {}
    for module, deps in _imports().items():
        pkg = _package(module)
        packages.setdefault(pkg, set()).update(
            _package(d) for d in deps if _package(d) != pkg and d != "onemap"
        )
    assert _cycle(packages) == []


def test_packages_import_only_those_listed_before_them() -> None:
    upward = sorted(
        f"{module} imports {dep}"
        for module, deps in _imports().items()
        for dep in deps
        if dep != "onemap" and ORDER.index(_package(dep)) > ORDER.index(_package(module))
    )
    assert upward == []


def test_the_order_names_every_package() -> None:
    assert {_package(m) for m in _imports()} - {"onemap"} == set(ORDER)
    readme = (project_root() / "README.md").read_text(encoding="utf-8")
    listed = [
        line.split()[0].rstrip("/").replace("/", ".").removesuffix(".py")
        for line in readme.splitlines()
        if line.startswith("onemap/")
    ]
    assert tuple(listed) == ORDER


def test_core_reaches_features_only_through_the_registry() -> None:
    offenders = sorted(
        f"{module} imports {dep}"
        for module, deps in _imports().items()
        if not module.startswith("onemap.reports") and module != REGISTRY
        for dep in deps
        if dep.startswith("onemap.reports")
    )
    assert offenders == []


def test_every_module_imports() -> None:
    """A name moved or renamed away is an ImportError here, not in a later run of a command.

    ``onemap.serve.wsgi`` is left out: importing it loads pygeoapi's app and configuration
    (the API tests start it for real).
    """
    for module in sorted(_imports()):
        if module != "onemap.serve.wsgi":
            importlib.import_module(module)
