"""Derived fields: filled from the geometry when the file lacks them, checked when it has
them (``derive:`` in the layer file, ``onemap.load.derive``)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import psycopg
import pyarrow as pa
import pytest
import shapely
from pyproj import CRS
from shapely.geometry import box

from onemap.core.city import get_city
from onemap.core.errors import LoadError
from onemap.core.layers import Layer, get_layer
from onemap.db.connect import owner_conninfo
from onemap.load.loader import load_layer
from onemap.load.validate import BatchValidator

FLOOD = get_layer("flood_zones")
KEC = get_layer("admin_kecamatan")


@pytest.fixture(scope="module")
def kecamatan(scratch_settings, demo_dir) -> gpd.GeoDataFrame:
    """The kecamatan published in the scratch database (the boundaries codes come from)."""
    load_layer(KEC, demo_dir / KEC.demo_file, settings=scratch_settings)
    return gpd.read_file(demo_dir / KEC.demo_file)


def zones_file(path, kecamatan: gpd.GeoDataFrame, codes: list[str | None] | None):
    """Three small squares inside three kecamatan, with or without a kode_kec column."""
    inner = kecamatan.to_crs(32749).geometry.buffer(-300).to_crs(4326)
    spots = [inner.iloc[i].representative_point() for i in range(3)]
    frame = gpd.GeoDataFrame(
        {"id": ["z1", "z2", "z3"], "kelas": ["rendah", "sedang", "tinggi"]},
        geometry=[box(p.x - 0.001, p.y - 0.001, p.x + 0.001, p.y + 0.001) for p in spots],
        crs=4326,
    )
    if codes is not None:
        frame["kode_kec"] = codes
    frame.to_file(path, driver="GeoJSON")
    return list(kecamatan["kode_kec"].iloc[:3])


def published(settings) -> dict[str, str | None]:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return dict(conn.execute("SELECT zone_id, kode_kec FROM onemap.flood_zones").fetchall())


def test_kode_kec_is_filled_from_the_boundaries(scratch_settings, kecamatan, tmp_path) -> None:
    path = tmp_path / "zones.geojson"
    codes = zones_file(path, kecamatan, None)
    res = load_layer(FLOOD, path, settings=scratch_settings, constants={"flood_type": "hujan"})
    assert published(scratch_settings) == dict(zip(["z1", "z2", "z3"], codes, strict=True))
    assert res.details["derived"] == {"kode_kec": 3}


def test_a_wrong_kode_kec_is_a_reject_with_the_reason(
    scratch_settings, kecamatan, tmp_path
) -> None:
    path = tmp_path / "zones.geojson"
    codes = kecamatan["kode_kec"].iloc[:3].tolist()
    far = kecamatan["kode_kec"].iloc[-1]  # the last kecamatan touches none of the first
    assert not kecamatan.geometry.iloc[-1].intersects(kecamatan.geometry.iloc[0])
    zones_file(path, kecamatan, [codes[0], far, "33.74.99"])
    res = load_layer(
        FLOOD,
        path,
        settings=scratch_settings,
        constants={"flood_type": "hujan"},
        max_reject_ratio=1.0,
        mode="replace",
    )
    reasons = {r.row: r.reason for r in res.rejects}
    assert reasons == {
        2: f"kode_kec {far} but the geometry lies in {codes[1]}",
        3: "kode_kec 33.74.99 is not a code of admin_kecamatan",
    }
    assert published(scratch_settings) == {"z1": codes[0]}
    with pytest.raises(LoadError, match="but the geometry lies in"):
        load_layer(FLOOD, path, settings=scratch_settings, constants={"flood_type": "hujan"})


def _measured_layer(rule: str, tolerance: float = 0.05) -> Layer:
    """flood_zones with an area field derived by ``rule`` (a model only, no table)."""
    data = FLOOD.model_dump(exclude_none=True)
    data["fields"] = [{k: v for k, v in f.items() if k != "derive"} for f in data["fields"]] + [
        {
            "name": "luas",
            "type": "real",
            "label": "Luas",
            "description": "area",
            "unit": "ha",
            "derive": {"rule": rule, "tolerance": tolerance},
        }
    ]
    return Layer.model_validate(data)


def _validate(layer: Layer, columns: dict, geoms):
    attrs = pa.RecordBatch.from_pydict(columns)
    validator = BatchValidator(
        layer,
        list(columns),
        CRS.from_epsg(4326),
        get_city(),
        "test.geojson",
        constants={"flood_type": "rob"},
        default_source=lambda: "test",
    )
    return validator.validate(1, attrs, pa.array(shapely.to_wkb(geoms)))


def test_area_is_filled_and_checked_in_the_metric_crs() -> None:
    layer = _measured_layer("area_ha")
    # 200 m x 200 m in UTM 49S = 4 ha
    square = gpd.GeoSeries([box(435000, 9228000, 435200, 9228200)], crs=32749).to_crs(4326)
    geoms = np.array([square.iloc[0]] * 3)
    base = {"zone_id": ["a", "b", "c"], "hazard": ["rendah"] * 3}
    filled = _validate(layer, base, geoms)
    assert filled.rows_rejected == 0
    assert filled.good.column("luas").to_pylist() == pytest.approx([4.0] * 3, rel=1e-3)
    checked = _validate(layer, base | {"luas": [4.1, None, 6.0]}, geoms)
    assert checked.good.column("luas").to_pylist() == pytest.approx([4.1, 4.0], rel=1e-3)
    (bad,) = checked.rejects
    assert bad.row == 3 and bad.field == "luas"
    assert bad.reason.startswith("luas 6 ha but the geometry measures 4")


def test_derive_rules_fit_the_field_and_geometry() -> None:
    with pytest.raises(ValueError, match="needs a number field on a line layer"):
        _measured_layer("length_m")
    data = FLOOD.model_dump(exclude_none=True)
    data["fields"] = [data["fields"][0] | {"derive": "area_ha"}, *data["fields"][1:]]  # text
    with pytest.raises(ValueError, match="derive area_ha needs a number field"):
        Layer.model_validate(data)


def test_the_demo_files_agree_with_their_boundaries(scratch_settings, kecamatan, demo_dir):
    """The generators' codes pass the checks (zones across a border carry either code)."""
    kel = get_layer("admin_kelurahan")
    load_layer(kel, demo_dir / kel.demo_file, settings=scratch_settings)
    for lid in ("flood_zones", "zoning"):
        layer = get_layer(lid)
        res = load_layer(layer, demo_dir / layer.demo_file, settings=scratch_settings)
        assert res.rows_rejected == 0, (lid, res.rejects[:3])
        assert "not_derived" not in res.details
