"""The pygeoapi functions onemap replaces at run time, all of them, in one place.

pygeoapi offers no plugin or configuration hook for these (docs/pygeoapi-extensions.md
says why each is needed and what was checked), so ``install()`` replaces module
attributes of pygeoapi — only after checking that each replaced function still has the
parameters the replacement accepts and is still looked up by the code that calls it
(``onemap.serve.pygeoapi_shape``). Anything else raises ``PygeoapiShapeError`` naming
the document instead of patching something that is no longer what onemap expects.
Idempotent; ``uninstall()`` (or ``with patched():``) puts pygeoapi's own functions back.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from onemap.serve.provider import FeaturesJSON
from onemap.serve.provider import to_json as splice_page
from onemap.serve.pygeoapi_shape import (
    PygeoapiShapeError,
    require_global_lookup,
    require_signature,
)

# Set on each replacement: the function it replaced (for idempotence and undo).
ORIGINAL = "__onemap_replaces__"


@dataclass(frozen=True)
class Patch:
    """One module-level function of pygeoapi replaced by onemap."""

    entry: str  # its heading in docs/pygeoapi-extensions.md
    module: str
    attribute: str
    params: tuple[str, ...]  # the original's parameters, which the replacement accepts too
    callers: tuple[str, ...]  # functions of ``module`` that must look the attribute up
    build: Callable[[Callable], Callable]  # pygeoapi's function -> onemap's replacement

    def check(self) -> Callable:
        """pygeoapi's own function, after checking its shape (``PygeoapiShapeError``)."""
        mod = importlib.import_module(self.module)
        current = getattr(mod, self.attribute, None)
        original = getattr(current, ORIGINAL, current)
        if original is None:
            raise PygeoapiShapeError(self.entry, f"{self.module}.{self.attribute} is missing")
        where = f"{self.module}.{self.attribute}"
        require_signature(self.entry, where, original, self.params)
        for caller in self.callers:
            func = getattr(mod, caller, None)
            if func is None:
                raise PygeoapiShapeError(self.entry, f"{self.module}.{caller} is missing")
            require_global_lookup(self.entry, func, self.attribute)
        return original

    def applied(self) -> bool:
        """Whether onemap's replacement is in place."""
        current = getattr(importlib.import_module(self.module), self.attribute, None)
        return hasattr(current, ORIGINAL)

    def apply(self) -> None:
        """Check, then replace (once: a second call changes nothing)."""
        original = self.check()
        if self.applied():
            return
        replacement = self.build(original)
        setattr(replacement, ORIGINAL, original)
        setattr(importlib.import_module(self.module), self.attribute, replacement)

    def undo(self) -> None:
        """Put pygeoapi's function back."""
        mod = importlib.import_module(self.module)
        original = getattr(getattr(mod, self.attribute, None), ORIGINAL, None)
        if original is not None:
            setattr(mod, self.attribute, original)


def _identity_aware_transform_bbox(original: Callable) -> Callable:
    """Skip pygeoapi's bbox reprojection when bbox-crs is the storage CRS.

    pygeoapi 0.24 calls ``transform_bbox(bbox, bbox_crs, storage_crs)`` on every items
    request with a bbox, even when both are CRS84; building the pyproj CRS and transformer
    and calling ``CRS.to_epsg()`` took ~70 % of a 100-feature bbox request here (cProfile;
    bench/RESULTS.md). Identity is decided on the URIs; other pairs reuse a cached result.
    """

    @functools.lru_cache(maxsize=64)
    def cached(bbox: tuple, from_crs: str, to_crs: str, always_xy: bool) -> list:
        return original(list(bbox), from_crs, to_crs, always_xy)

    def transform_bbox(bbox, from_crs, to_crs, always_xy=False):
        if str(from_crs) == str(to_crs):
            return list(bbox)
        if isinstance(from_crs, str) and isinstance(to_crs, str):
            return list(cached(tuple(bbox), from_crs, to_crs, always_xy))
        return original(bbox, from_crs, to_crs, always_xy)

    return transform_bbox


def _splicing_to_json(original: Callable) -> Callable:
    """Write an untouched page of onemap's provider as the text PostGIS built.

    Parsing a 1000-feature page and serialising it again took ~40 ms of a ~120 ms request
    (cProfile). ``onemap.serve.provider.to_json`` falls back to pygeoapi's ``to_json``
    for everything else.
    """

    def to_json(dict_, pretty=False):
        return splice_page(dict_, pretty)

    return to_json


def _page_aware_json_serial(original: Callable) -> Callable:
    """Hand the parsed features of a page to any other serialiser (HTML template, JSON-LD).

    pygeoapi's ``to_json`` passes ``json_serial`` as ``json.dumps``' ``default`` hook,
    which is called for objects JSON does not know, such as ``FeaturesJSON``.
    """

    def json_serial(obj):
        return obj.parsed if isinstance(obj, FeaturesJSON) else original(obj)

    return json_serial


PATCHES = (
    Patch(
        entry="itemtypes.transform_bbox",
        module="pygeoapi.api.itemtypes",
        attribute="transform_bbox",
        params=("bbox", "from_crs", "to_crs", "always_xy"),
        callers=("get_collection_items",),
        build=_identity_aware_transform_bbox,
    ),
    Patch(
        entry="itemtypes.to_json",
        module="pygeoapi.api.itemtypes",
        attribute="to_json",
        params=("dict_", "pretty"),
        callers=("get_collection_items",),
        build=_splicing_to_json,
    ),
    Patch(
        entry="util.json_serial",
        module="pygeoapi.util",
        attribute="json_serial",
        params=("obj",),
        callers=("to_json",),
        build=_page_aware_json_serial,
    ),
)


def check() -> None:
    """Check every patch's target without patching (``PygeoapiShapeError`` on a change)."""
    for patch in PATCHES:
        patch.check()


def install() -> None:
    """Check every target first, then replace them all (idempotent)."""
    check()
    for patch in PATCHES:
        patch.apply()


def uninstall() -> None:
    """Put pygeoapi's own functions back."""
    for patch in PATCHES:
        patch.undo()


@contextmanager
def patched() -> Iterator[None]:
    """The patches installed for the duration of the block (tests), then undone."""
    already = all(p.applied() for p in PATCHES)
    install()
    try:
        yield
    finally:
        if not already:
            uninstall()
