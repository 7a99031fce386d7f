"""Guards: the pygeoapi internals onemap replaces, overrides or reads still have their shape.

One test per entry of docs/pygeoapi-extensions.md (the test names are listed there). A
failure means the installed pygeoapi changed something onemap relies on: read the entry,
adapt onemap, then move the pin in pyproject.toml. Pure ``inspect``/``ast``: no database.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
from pathlib import Path

import pytest
from pygeoapi import crs, util
from pygeoapi.api import API, itemtypes
from pygeoapi.api import coverages as coverages_api
from pygeoapi.models.provider.base import TileMatrixSetEnum
from pygeoapi.provider.base import ProviderGenericError
from pygeoapi.provider.mvt_postgresql import MVTPostgreSQLProvider
from pygeoapi.provider.rasterio_ import RasterioProvider
from pygeoapi.provider.sql import PostgreSQLProvider
from pygeoapi.provider.tinydb_ import TinyDBCatalogueProvider

from onemap.reports.provider import StaffProvider
from onemap.serve import pygeoapi_patches
from onemap.serve.coverage_provider import OnemapRasterioProvider
from onemap.serve.provider import OnemapPostgreSQLProvider
from onemap.serve.pygeoapi_shape import (
    DOC,
    PygeoapiShapeError,
    require_attributes,
    require_callable,
    require_global_lookup,
    require_module_assignment,
    require_override,
    require_stored_argument,
)
from onemap.serve.tiles import OnemapMVTProvider

PATCHES = {p.entry: p for p in pygeoapi_patches.PATCHES}
DOCUMENT = Path(__file__).resolve().parents[1] / DOC


# --- the replacements (onemap.serve.pygeoapi_patches) ---------------------------------


def test_transform_bbox_replacement() -> None:
    """itemtypes.transform_bbox: pygeoapi's function and the items handler that calls it."""
    original = PATCHES["itemtypes.transform_bbox"].check()
    assert original is crs.transform_bbox  # itemtypes imports it by name from pygeoapi.crs


def test_to_json_replacement() -> None:
    """itemtypes.to_json: pygeoapi's serialiser, looked up by the items handler."""
    assert PATCHES["itemtypes.to_json"].check() is util.to_json


def test_json_serial_replacement() -> None:
    """util.json_serial: the ``default`` hook util.to_json passes to json.dumps."""
    assert PATCHES["util.json_serial"].check().__module__ == "pygeoapi.util"


# --- the provider subclasses ----------------------------------------------------------


def test_feature_provider_overrides() -> None:
    """OnemapPostgreSQLProvider (onemap/serve/provider.py) over PostgreSQLProvider."""
    entry = "OnemapPostgreSQLProvider"
    for name in (
        "query",
        "get",
        "_get_bbox_filter",
        "_get_cql_filters",
        "_get_order_by_clauses",
        "_get_datetime_filter",
    ):
        require_override(entry, PostgreSQLProvider, OnemapPostgreSQLProvider, name)
    require_callable(entry, PostgreSQLProvider, "_get_property_filters", ("self", "properties"))
    require_attributes(
        entry,
        PostgreSQLProvider,
        ("table_model", "_engine", "storage_crs", "geom", "id_field", "fields", "time_field")
        + ("count", "db_name", "table"),
    )
    require_attributes(
        entry, crs.CrsTransformSpec, ("source_crs_wkt", "target_crs_wkt", "always_xy")
    )
    require_callable(entry, crs, "get_srid", ("crs",))
    require_callable(entry, ProviderGenericError, "__init__", ("self", "msg", "*args", "user_msg"))


def test_staff_provider_overrides() -> None:
    """StaffProvider (onemap/reports/provider.py) over onemap's feature provider."""
    entry = "StaffProvider"
    for name in ("_get_property_filters", "get"):
        require_override(entry, PostgreSQLProvider, StaffProvider, name)
    require_attributes(entry, PostgreSQLProvider, ("table", "table_model", "id_field"))


def test_tile_provider_overrides() -> None:
    """OnemapMVTProvider (onemap/serve/tiles.py) over MVTPostgreSQLProvider."""
    entry = "OnemapMVTProvider"
    require_override(entry, MVTPostgreSQLProvider, OnemapMVTProvider, "get_tiles")
    require_override(entry, MVTPostgreSQLProvider, OnemapMVTProvider, "get_default_metadata")
    require_callable(entry, MVTPostgreSQLProvider, "get_tiling_schemes", ("self",))
    require_callable(
        entry, MVTPostgreSQLProvider, "is_in_limits", ("self", "tilematrixset", "z", "x", "y")
    )
    require_callable(entry, MVTPostgreSQLProvider, "get_envelope", ("z", "y", "x", "tileset"))
    require_attributes(
        entry,
        MVTPostgreSQLProvider,
        ("table_model", "geom", "_engine", "storage_crs", "fields", "table", "id_field"),
    )
    for scheme in TileMatrixSetEnum:
        require_attributes(entry, type(scheme.value), ("tileMatrixSet", "crs"))
    require_callable(entry, crs, "get_crs", ("crs",))
    require_callable(entry, crs, "get_srid", ("crs",))


def test_coverage_provider_overrides() -> None:
    """OnemapRasterioProvider (onemap/serve/coverage_provider.py) over RasterioProvider."""
    entry = "OnemapRasterioProvider"
    require_override(entry, RasterioProvider, OnemapRasterioProvider, "query")
    require_override(entry, RasterioProvider, OnemapRasterioProvider, "get_fields")
    require_attributes(entry, RasterioProvider, ("_data", "axes", "data", "_fields"))
    # the coverage handler calls query with these keywords (and none for scaling)
    source = inspect.getsource(coverages_api.get_collection_coverage)
    for key in ("properties", "subsets", "bbox", "bbox_crs", "datetime_", "format_"):
        if f"query_args['{key}']" not in source:
            raise PygeoapiShapeError(entry, f"get_collection_coverage no longer passes {key}")
    if "scale" in source:
        raise PygeoapiShapeError(entry, "pygeoapi now handles scaling: drop onemap's")


# --- what the server reads of pygeoapi ------------------------------------------------


def test_live_extents_config() -> None:
    """onemap.serve.extras._live_extents edits the config pygeoapi's app answers from."""
    entry = "live extents"
    require_module_assignment(entry, "pygeoapi.flask_app", "api_")
    require_stored_argument(entry, API.__init__, "config", "config")


def test_catalogue_anytext(tmp_path) -> None:
    """onemap.serve.records writes the field TinyDBCatalogue searches for ``q``."""
    record = {
        "id": "roads",
        "type": "Feature",
        "geometry": None,
        "properties": {"title": "Roads", "_metadata-anytext": "jalan rusak"},
    }
    data = tmp_path / "records.json"
    data.write_text(json.dumps({"_default": {"1": record}}))
    provider = TinyDBCatalogueProvider(
        {"name": "TinyDBCatalogue", "type": "record", "data": str(data), "id_field": "id"}
    )
    found = provider.query(q="rusak")["features"]
    if [f["id"] for f in found] != ["roads"]:
        raise PygeoapiShapeError(
            "records: _metadata-anytext", "TinyDBCatalogue's q= no longer searches it"
        )
    assert "_metadata-anytext" not in found[0]["properties"]  # kept out of the output


# --- the document and the checks themselves -------------------------------------------


def test_every_guard_is_listed_in_the_document() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    guards = [n for n in globals() if n.startswith("test_") and n not in _META_TESTS]
    assert [g for g in guards if f"`{g}`" not in text] == []
    assert [e for e in PATCHES if f"`{e}`" not in text] == []


def _fake(a, b):
    return a


class _Fake:
    def method(self, other):
        return other


def test_a_changed_signature_fails_naming_the_document() -> None:
    with pytest.raises(PygeoapiShapeError, match=r"docs/pygeoapi-extensions\.md") as err:
        require_callable("example", sys.modules[__name__], "_fake", ("a", "b", "c"))
    assert "takes (a, b), onemap expects (a, b, c)" in str(err.value)
    with pytest.raises(PygeoapiShapeError, match="missing"):
        require_callable("example", _Fake, "gone", ("self",))
    with pytest.raises(PygeoapiShapeError, match="no longer sets"):
        require_attributes("example", PostgreSQLProvider, ("table_model", "no_such_attribute"))
    with pytest.raises(PygeoapiShapeError, match="no longer calls the module-level"):
        require_global_lookup("example", _fake, "transform_bbox")
    with pytest.raises(PygeoapiShapeError, match="module-level"):
        require_module_assignment("example", "pygeoapi.flask_app", "no_such_name")
    with pytest.raises(PygeoapiShapeError, match="self.config = openapi"):
        require_stored_argument("example", API.__init__, "config", "openapi")


@pytest.fixture
def fake_module(monkeypatch):
    """A stand-in for a pygeoapi module: a function and a caller that looks it up."""
    module = types.ModuleType("onemap_fake_pygeoapi")
    exec(
        "def helper(value, scale=1):\n    return value * scale\n\n"
        "def caller(value):\n    return helper(value)\n",
        module.__dict__,
    )
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def _patch(module, params=("value", "scale"), callers=("caller",)):
    return pygeoapi_patches.Patch(
        entry="example",
        module=module.__name__,
        attribute="helper",
        params=params,
        callers=callers,
        build=lambda original: lambda value, scale=1: original(value, scale) + 1,
    )


def test_a_patch_is_idempotent_and_undone(fake_module) -> None:
    original = fake_module.helper
    patch = _patch(fake_module)
    patch.apply()
    replacement = fake_module.helper
    patch.apply()
    assert fake_module.helper is replacement and fake_module.caller(2) == 3
    assert patch.check() is original  # checks pygeoapi's function, not onemap's
    patch.undo()
    assert fake_module.helper is original and fake_module.caller(2) == 2


def test_a_patch_refuses_a_changed_target_and_leaves_it(fake_module) -> None:
    original = fake_module.helper
    with pytest.raises(PygeoapiShapeError, match=r"takes \(value, scale\)"):
        _patch(fake_module, params=("value",)).apply()
    with pytest.raises(PygeoapiShapeError, match="missing"):
        _patch(fake_module, callers=("no_such_caller",)).apply()
    fake_module.caller = lambda value: value  # no longer looks helper up
    with pytest.raises(PygeoapiShapeError, match="no longer calls the module-level helper"):
        _patch(fake_module).apply()
    assert fake_module.helper is original


def test_patched_puts_pygeoapi_back() -> None:
    before = (itemtypes.transform_bbox, itemtypes.to_json, util.json_serial)
    with pygeoapi_patches.patched():
        assert all(p.applied() for p in pygeoapi_patches.PATCHES)
        assert itemtypes.transform_bbox([1, 2, 3, 4], "EPSG:4326", "EPSG:4326") == [1, 2, 3, 4]
    assert (itemtypes.transform_bbox, itemtypes.to_json, util.json_serial) == before


_META_TESTS = {
    "test_every_guard_is_listed_in_the_document",
    "test_a_changed_signature_fails_naming_the_document",
    "test_a_patch_is_idempotent_and_undone",
    "test_a_patch_refuses_a_changed_target_and_leaves_it",
    "test_patched_puts_pygeoapi_back",
}
