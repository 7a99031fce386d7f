"""RDTR pola ruang Shapefiles in the national database schema (Permen ATR/BPN 14/2021:
NAMOBJ, KODZON/NAMZON, KODSZN/NAMSZN, …) load into the zoning layer by its synonyms and
code table; unknown codes are rejects listing the allowed ones."""

from __future__ import annotations

import geopandas as gpd
import psycopg
import pytest

from onemap.core.errors import LoadError
from onemap.core.layers import get_layer
from onemap.db.connect import owner_conninfo
from onemap.load.loader import load_layer

ZONING = get_layer("zoning")
KEL = get_layer("admin_kelurahan")


@pytest.fixture(scope="module")
def kelurahan(scratch_settings, demo_dir) -> gpd.GeoDataFrame:
    load_layer(KEL, demo_dir / KEL.demo_file, settings=scratch_settings)
    return gpd.read_file(demo_dir / KEL.demo_file)


def rdtr_shapefile(path, kelurahan: gpd.GeoDataFrame, sub_zones: list[str]):
    """A pola ruang Shapefile as a Dinas Penataan Ruang exports it (UTM 49S, upper-case
    RDTR attribute names, no kode_kel), one square per sub-zone inside a kelurahan."""
    inner = kelurahan.to_crs(32749).geometry.buffer(-150)
    spots = [inner.iloc[i].representative_point() for i in range(len(sub_zones))]
    names = {"R-2": "Perumahan Kepadatan Tinggi", "K-1": "Perdagangan dan Jasa Skala Kota"}
    frame = gpd.GeoDataFrame(
        {
            "OBJECTID": list(range(1, len(sub_zones) + 1)),
            "NAMOBJ": [names.get(c, "Zona") for c in sub_zones],
            "JNSRPR": ["Zona Budi Daya"] * len(sub_zones),
            "KODZON": [c.split("-")[0] for c in sub_zones],
            "NAMZON": ["Zona"] * len(sub_zones),
            "KODSZN": sub_zones,
            "NAMSZN": [names.get(c, c) for c in sub_zones],
            "KODBLK": ["I.A"] * len(sub_zones),
            "WADMKD": list(kelurahan["nama_kel"].iloc[: len(sub_zones)]),
            "KDB": [60.0] * len(sub_zones),
            "KLB": [1.8] * len(sub_zones),
            "KDH": [20.0] * len(sub_zones),
        },
        geometry=[p.buffer(40, cap_style="square") for p in spots],
        crs=32749,
    )
    frame.to_file(path, driver="ESRI Shapefile")
    return list(kelurahan["kode_kel"].iloc[: len(sub_zones)])


def published(settings) -> dict[str, tuple]:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        rows = conn.execute(
            "SELECT zone_id, zone_code, zone_name, kode_kel, kdb_pct FROM onemap.zoning"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_rdtr_schema_maps_onto_the_zoning_layer(scratch_settings, kelurahan, tmp_path) -> None:
    path = tmp_path / "PolaRuang_RDTR.shp"
    codes = rdtr_shapefile(path, kelurahan, ["R-2", "K-1", "KPI", "SS", "RTH-2"])
    res = load_layer(ZONING, path, settings=scratch_settings, source="distaru-semarang")
    assert res.rows_rejected == 0 and res.rows_loaded == 5
    got = published(scratch_settings)
    assert [got[str(i)][0] for i in range(1, 6)] == ["R-2", "K-1", "I", "PS", "RTH-2"]
    assert got["1"][1] == "Perumahan Kepadatan Tinggi"  # NAMSZN
    assert [got[str(i)][2] for i in range(1, 6)] == codes  # derived from admin_kelurahan
    assert got["1"][3] == 60.0


def test_unknown_rdtr_codes_are_rejects_listing_the_allowed(
    scratch_settings, kelurahan, tmp_path
) -> None:
    path = tmp_path / "PolaRuang_bad.shp"
    rdtr_shapefile(path, kelurahan, ["R-2", "X-9", "R-2"])
    with pytest.raises(LoadError, match=r"1 of 3 rows rejected .*unknown value for 'zone_code'"):
        load_layer(ZONING, path, settings=scratch_settings)
    res = load_layer(ZONING, path, settings=scratch_settings, max_reject_ratio=0.5)
    (bad,) = res.rejects
    assert (bad.row, bad.field, bad.value) == (2, "zone_code", "X-9")
    assert bad.reason.startswith("unknown value for 'zone_code'; allowed: R-1, R-2, R-3")
    assert "RTH-2" in bad.reason and "PS" in bad.reason
