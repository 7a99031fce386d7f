"""The demo dataset (etl.demo_dataset): every file exists and obeys its layer file.

No database needed: the generator runs once into a temporary folder (module fixture)
and the files are read back the way a loader would read them. The checks here are
written against the layer files directly, not through etl.conformance. Set
ONEMAP_DEMO_SEED to check another seed.
"""

from __future__ import annotations

import datetime as dt
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from etl.common import UTM
from etl.demo_dataset import generate
from etl.osm_roads import osm_cells
from etl.synthetic.seeds import DEFAULT_SEED
from onemap.core.layers import load_layers
from onemap.core.provenance import SYNTHETIC
from tests.settings import SUITE

LAYERS = load_layers()
LAYER_IDS = [lid for lid, lyr in LAYERS.items() if lyr.demo_file]
BBOX = (110.26971, -7.11546, 110.50523, -6.93375)
REAL_TOLERANCE = 1e-5  # the published bbox is rounded; the real boundaries cross it by < 1 m
COASTAL = ("Tugu", "Semarang Barat", "Semarang Utara", "Semarang Timur", "Gayamsari", "Genuk")
HILLS = ("Gunungpati", "Mijen", "Banyumanik")
RASTERS = ("dem.tif", "flood_depth.tif")
SEED = SUITE.demo_seed or DEFAULT_SEED


@pytest.fixture(scope="module")
def outdir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    generate(out, SEED)
    return out


@pytest.fixture(scope="module")
def frames(outdir) -> dict[str, gpd.GeoDataFrame]:
    return {lid: gpd.read_file(outdir / LAYERS[lid].demo_file) for lid in LAYER_IDS}


def _column_for(lyr, field, gdf):
    for name in (field.name, *field.source_names):
        if name in gdf.columns:
            return gdf[name]
    return None


def test_every_file_exists(outdir):
    expected = [LAYERS[lid].demo_file for lid in LAYER_IDS] + list(RASTERS)
    missing = [name for name in expected if not (outdir / name).is_file()]
    assert not missing
    assert set(LAYER_IDS) == set(LAYERS), "every layer declares a demo_file"


@pytest.mark.parametrize("layer_id", LAYER_IDS)
def test_rows_obey_the_layer_file(frames, layer_id):
    lyr, gdf = LAYERS[layer_id], frames[layer_id]
    known = {n for f in lyr.fields for n in (f.name, *f.source_names)} | {"source", "geometry"}
    assert set(gdf.columns) <= known, f"unknown columns {set(gdf.columns) - known}"
    # every row names its origin: a real recipe's source, or what the generator wrote
    assert set(gdf["source"]) <= {"osm+synthetic", "cahyadsn-wilayah", SYNTHETIC}
    assert lyr.checks.min_rows <= len(gdf) <= (lyr.checks.max_rows or len(gdf))
    for field in lyr.fields:
        col = _column_for(lyr, field, gdf)
        if col is None:
            assert not field.required, f"{field.name}: required column missing"
        else:
            _check_field(field, col)
    pk = gdf[lyr.primary_key]
    assert pk.notna().all() and pk.is_unique, f"{lyr.primary_key} not unique"


def _check_field(field, col: pd.Series) -> None:
    if field.required:
        assert col.notna().all(), f"{field.name}: empty required values"
    vals = col.dropna()
    if field.values:
        assert set(vals) <= set(field.allowed), f"{field.name}: {set(vals) - set(field.allowed)}"
    if field.type in ("integer", "real"):
        num = pd.to_numeric(vals)
        if field.type == "integer":
            assert (num % 1 == 0).all(), field.name
        if field.minimum is not None:
            assert (num >= field.minimum).all(), f"{field.name} < {field.minimum}"
        if field.maximum is not None:
            assert (num <= field.maximum).all(), f"{field.name} > {field.maximum}"
    if field.type == "date":
        for v in vals:
            dt.date.fromisoformat(str(v))
    if field.pattern:
        bad = [v for v in vals if not re.fullmatch(field.pattern, str(v))]
        assert not bad, f"{field.name}: {bad[:3]}"


@pytest.mark.parametrize("layer_id", LAYER_IDS)
def test_geometries_are_valid_and_in_the_city(frames, layer_id):
    lyr, gdf = LAYERS[layer_id], frames[layer_id]
    assert gdf.crs.to_epsg() == 4326
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    assert all(g is not None for g in geoms)
    assert shapely.is_valid(geoms).all()
    assert not shapely.is_empty(geoms).any()
    assert not shapely.has_z(geoms).any()
    family = lyr.geometry.type.removeprefix("Multi")
    assert {g.geom_type.removeprefix("Multi") for g in geoms} == {family}
    b = shapely.bounds(geoms)
    src = gdf["source"].to_numpy()
    tol = np.where(src == "cahyadsn-wilayah", REAL_TOLERANCE, 0.0)
    inside = (
        (b[:, 0] >= BBOX[0] - tol)
        & (b[:, 1] >= BBOX[1] - tol)
        & (b[:, 2] <= BBOX[2] + tol)
        & (b[:, 3] <= BBOX[3] + tol)
    )
    assert (inside | (src == "osm+synthetic")).all(), "generated or admin geometry outside the bbox"


def test_rob_reaches_the_coast_and_not_the_hills(frames):
    kec = frames["admin_kecamatan"].to_crs(UTM)
    zones = frames["flood_zones"].to_crs(UTM)
    rob = zones[zones["flood_type"] == "rob"].union_all()
    for name in COASTAL:
        geom = kec.loc[kec["nama_kec"] == name].geometry.iloc[0]
        assert rob.intersection(geom).area > 10_000, f"rob misses {name}"
    for name in HILLS:
        geom = kec.loc[kec["nama_kec"] == name].geometry.iloc[0]
        assert rob.intersection(geom).area == 0, f"rob reaches {name}"
    share = zones.union_all().area / kec.area.sum()
    assert 0.08 <= share <= 0.15, f"flooded share {share:.3f}"


def test_flood_depths_fit_their_hazard_class(frames):
    z = frames["flood_zones"]
    assert (z["depth_min_m"] <= z["depth_max_m"]).all()
    band = {"rendah": (0.0, 0.76), "sedang": (0.76, 1.5), "tinggi": (1.5, 10.0)}
    for hazard, (lo, hi) in band.items():
        sub = z[z["hazard"] == hazard]
        assert (sub["depth_min_m"] >= lo - 0.01).all() and (sub["depth_max_m"] <= hi + 0.01).all()
    assert set(z["flood_type"]) == {"rob", "hujan", "sungai"}


def test_road_condition_agrees_with_iri(frames):
    r = frames["road_condition"]
    iri = r["iri"].to_numpy()
    expected = np.select(
        [iri < 4, iri < 8, iri <= 12], ["baik", "sedang", "rusak_ringan"], "rusak_berat"
    )
    assert (r["condition"].to_numpy() == expected).all()
    length = r.geometry.to_crs(UTM).length
    heavy = length[r["condition"] == "rusak_berat"].sum() / length.sum()
    assert 0.05 <= heavy <= 0.12, f"rusak berat {heavy:.3f} of length"


def test_road_network(frames):
    r = frames["road_condition"]
    # OSM ways with generated condition, and the generated network
    osm, syn = r[r["source"] == "osm+synthetic"], r[r["source"] == SYNTHETIC]
    assert osm["segment_id"].str.fullmatch(r"osm-smg-\d{5}").all()
    assert syn["segment_id"].str.fullmatch(r"syn-\d{6}").all()
    assert 7000 < len(osm) < 7390  # the 7,390 ways less the footways, paths and steps
    assert 5000 <= len(syn) <= 8000
    length = syn.geometry.to_crs(UTM).length
    assert length.between(50, 600).all()
    assert syn.geometry.count_coordinates().between(2, 15).all()
    cells = gpd.GeoSeries([osm_cells()], crs=4326).to_crs(UTM).iloc[0]
    overlap = syn.geometry.to_crs(UTM).intersection(cells).length
    assert overlap.max() < 1.0, "synthetic roads inside the OSM cells"
    assert (syn["function"] == "arteri").sum() > 10  # the arterials between kecamatan centres


def test_drainage_hierarchy(frames):
    d = frames["drainage"]
    assert 300 <= len(d) <= 2000
    g = d.groupby("hierarchy")
    for dim in ("width_m", "depth_m"):
        assert g[dim].max()["tersier"] < g[dim].min()["sekunder"]
        assert g[dim].max()["sekunder"] < g[dim].min()["primer"]
    primer = set(d.loc[d["hierarchy"] == "primer", "name"])
    assert {"Banjir Kanal Barat", "Banjir Kanal Timur", "Kali Garang", "Kali Babon"} <= primer
    assert (d.loc[d["hierarchy"] == "primer", "channel_type"] == "terbuka").all()


def test_zoning_names_and_cover(frames):
    z = frames["zoning"]
    labels = {v.value: v.label for v in LAYERS["zoning"].field("zone_code").values}
    assert (z["zone_name"] == z["zone_code"].map(labels)).all()
    kel = frames["admin_kelurahan"]
    assert set(z["kode_kel"]) <= set(kel["kode_kel"])
    cover = z.to_crs(UTM).area.sum() / kel.to_crs(UTM).union_all().area
    assert cover > 0.97


def test_rasters(outdir):
    for name in RASTERS:
        with rasterio.open(outdir / name) as src:
            assert src.crs.to_epsg() == 32749
            assert src.dtypes[0] == "float32"
            assert src.nodata is not None
            assert src.compression is not None
    with rasterio.open(outdir / "flood_depth.tif") as src:
        depth = src.read(1, masked=True)
        assert 0 < depth.count() < depth.size and float(depth.min()) > 0


def test_same_seed_same_output(outdir, frames, tmp_path):
    generate(tmp_path, SEED)
    for lid in LAYER_IDS:
        again = gpd.read_file(tmp_path / LAYERS[lid].demo_file)
        pd.testing.assert_frame_equal(
            again.drop(columns="geometry"), frames[lid].drop(columns="geometry")
        )
        assert (again.geometry.to_wkb() == frames[lid].geometry.to_wkb()).all(), lid
    for name in [LAYERS[lid].demo_file for lid in LAYER_IDS] + list(RASTERS):
        assert (tmp_path / name).read_bytes() == (outdir / name).read_bytes(), name
