"""Checks that the pygeoapi internals onemap relies on still have the shape it relies on.

onemap replaces three pygeoapi functions at run time (``onemap.serve.pygeoapi_patches``)
and its providers override private methods of pygeoapi's providers. Nothing in
pygeoapi promises those stay put, so each use is listed in docs/pygeoapi-extensions.md
and checked here: by the patches before they patch, and by tests/test_pygeoapi_guards.py.
Pure ``inspect``/``ast``/``dis`` checks: nothing is imported that reads pygeoapi's config.
"""

from __future__ import annotations

import ast
import dataclasses
import dis
import importlib.util
import inspect
import textwrap
from collections.abc import Callable, Iterable
from functools import cache
from importlib.metadata import PackageNotFoundError, version

DOC = "docs/pygeoapi-extensions.md"


def _pygeoapi_version() -> str:
    try:
        return version("pygeoapi")
    except PackageNotFoundError:  # pragma: no cover - pygeoapi is a dependency
        return "unknown"


class PygeoapiShapeError(RuntimeError):
    """A pygeoapi internal onemap relies on has changed: the extension must be revisited."""

    def __init__(self, entry: str, problem: str) -> None:
        super().__init__(
            f"pygeoapi {_pygeoapi_version()} no longer has the shape onemap's extension "
            f"'{entry}' relies on: {problem}. See {DOC} (entry '{entry}') before changing "
            "onemap or the pygeoapi pin in pyproject.toml."
        )
        self.entry = entry


def signature(func: Callable) -> tuple[str, ...]:
    """Parameter names in order, ``*args``/``**kwargs`` written with their stars."""
    stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    return tuple(
        stars.get(p.kind, "") + p.name for p in inspect.signature(func).parameters.values()
    )


def require_signature(entry: str, where: str, func: object, params: Iterable[str]) -> None:
    """``func`` is callable and takes exactly ``params`` (names, in order)."""
    if not callable(func):
        raise PygeoapiShapeError(entry, f"{where} is missing or not callable")
    expected, found = tuple(params), signature(func)
    if found != expected:
        raise PygeoapiShapeError(
            entry, f"{where} takes ({', '.join(found)}), onemap expects ({', '.join(expected)})"
        )


def require_callable(entry: str, owner: object, name: str, params: Iterable[str]) -> Callable:
    """``owner.name`` (a module's function, a class's method) takes exactly ``params``."""
    func = getattr(owner, name, None)
    require_signature(entry, f"{getattr(owner, '__name__', owner)}.{name}", func, params)
    return func


def require_override(entry: str, base: type, sub: type, name: str) -> None:
    """``base.name`` exists and takes the same parameters as onemap's override ``sub.name``."""
    if name not in vars(sub):
        raise ValueError(f"{sub.__name__} does not override {name}")
    require_callable(entry, base, name, signature(getattr(sub, name)))


def require_global_lookup(entry: str, func: Callable, name: str) -> None:
    """``func`` reads ``name`` from its module's globals when it runs.

    Only then does replacing the module attribute ``name`` change what ``func`` calls.
    """
    code = getattr(inspect.unwrap(func), "__code__", None)
    loads = (
        {i.argval for i in dis.get_instructions(code) if i.opname == "LOAD_GLOBAL"}
        if code
        else set()
    )
    if name not in loads:
        raise PygeoapiShapeError(
            entry,
            f"{func.__module__}.{func.__qualname__} no longer calls the module-level {name}, "
            "so replacing it would change nothing",
        )


@cache
def _module_tree(module: str) -> ast.Module:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise PygeoapiShapeError(module, f"module {module} is missing")
    with open(spec.origin, encoding="utf-8") as f:
        return ast.parse(f.read())


def self_attributes(cls: type) -> set[str]:
    """Attributes the class and its pygeoapi bases set on ``self`` (in their modules' code)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if not klass.__module__.startswith("pygeoapi"):
            continue
        for node in ast.walk(_module_tree(klass.__module__)):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return names


def require_attributes(entry: str, cls: type, names: Iterable[str]) -> None:
    """Instances of ``cls`` have these attributes (set in pygeoapi's code or on the class)."""
    known = self_attributes(cls) | set(dir(cls))
    if dataclasses.is_dataclass(cls):
        known |= {f.name for f in dataclasses.fields(cls)}
    known |= set(getattr(cls, "model_fields", {}))  # pydantic models
    missing = sorted(set(names) - known)
    if missing:
        raise PygeoapiShapeError(
            entry, f"{cls.__module__}.{cls.__name__} no longer sets {', '.join(missing)}"
        )


def require_module_assignment(entry: str, module: str, name: str) -> None:
    """``module`` assigns ``name`` at its top level (read without importing ``module``)."""
    for node in _module_tree(module).body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return
    raise PygeoapiShapeError(entry, f"{module} no longer defines the module-level {name}")


def require_stored_argument(entry: str, func: Callable, attribute: str, parameter: str) -> None:
    """``func`` stores its argument ``parameter`` itself (not a copy) as ``self.attribute``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Name)
            and node.value.id == parameter
            and any(
                isinstance(t, ast.Attribute)
                and t.attr == attribute
                and isinstance(t.value, ast.Name)
                and t.value.id == "self"
                for t in node.targets
            )
        ):
            return
    where = f"{func.__module__}.{func.__qualname__}"
    raise PygeoapiShapeError(entry, f"{where} no longer keeps self.{attribute} = {parameter}")
