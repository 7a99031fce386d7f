"""Hazard-index rasters (0–1, BNPB InaRISK) classify into the hazard classes by the index
bands of Perka BNPB 2/2012 (``--bands index``), beside the depth bands."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import psycopg
import pytest
import rasterio
from rasterio.transform import from_origin

from onemap.core.errors import LoadError, UserError
from onemap.core.layers import get_layer
from onemap.core.settings import child_env
from onemap.db.connect import owner_conninfo
from onemap.load.loader import load_layer

FLOOD = get_layer("flood_zones")
CELL = 50.0
NODATA = -9999.0


def index_tif(path, values=(0.2, 0.5, 0.9), crs="EPSG:32749"):
    """60 x 60 cells of 50 m in central Semarang: three 20-column bands of the index,
    a block with no hazard (0) and a nodata block."""
    grid = np.zeros((60, 60), dtype="float32")
    for i, v in enumerate(values):
        grid[:, i * 20 : (i + 1) * 20] = v
    grid[:10, :] = 0.0
    grid[50:, 50:] = NODATA
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=60,
        height=60,
        count=1,
        dtype="float32",
        crs=crs,
        nodata=NODATA,
        transform=from_origin(434000, 9228000, CELL, CELL),
    ) as dst:
        dst.write(grid, 1)
    return path


def zones(settings) -> dict[str, tuple]:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        rows = conn.execute(
            "SELECT zone_id, hazard, depth_min_m, depth_max_m, source FROM onemap.flood_zones"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_index_raster_becomes_the_bnpb_classes(scratch_settings, tmp_path) -> None:
    path = index_tif(tmp_path / "inarisk_banjir.tif")
    res = load_layer(
        FLOOD,
        path,
        settings=scratch_settings,
        bands="index",
        constants={"flood_type": "sungai"},
        source="bnpb-inarisk",
    )
    assert res.rows_loaded == 3
    got = zones(scratch_settings)
    assert set(got) == {"sungai-rendah", "sungai-sedang", "sungai-tinggi"}
    for key, (hazard, lo, hi, source) in got.items():
        assert key.endswith(hazard) and source == "bnpb-inarisk"
        assert lo is None and hi is None  # an index range is not a depth range


def test_index_band_edges(scratch_settings, tmp_path) -> None:
    """0.333 and 0.666 open the next class (the depth bands do the same at 0.76 m)."""
    path = index_tif(tmp_path / "edges.tif", values=(0.332, 0.333, 0.666))
    load_layer(FLOOD, path, settings=scratch_settings, bands="index")
    assert set(zones(scratch_settings)) == {"hujan-rendah", "hujan-sedang", "hujan-tinggi"}


def test_a_depth_raster_is_refused_as_an_index(scratch_settings, tmp_path) -> None:
    path = index_tif(tmp_path / "depth.tif", values=(0.3, 1.0, 2.0))
    with pytest.raises(LoadError, match=r"depth\.tif: values run from 0 to 2, outside 0–1"):
        load_layer(FLOOD, path, settings=scratch_settings, bands="index")
    # the same file as depth (the layer's default band set) loads
    assert load_layer(FLOOD, path, settings=scratch_settings).rows_loaded == 3
    negative = index_tif(tmp_path / "neg.tif", values=(-0.5, 0.5, 0.9))
    with pytest.raises(LoadError, match="outside 0–1"):
        load_layer(FLOOD, negative, settings=scratch_settings, bands="index")


def test_band_set_refusals(scratch_settings, tmp_path) -> None:
    path = index_tif(tmp_path / "x.tif")
    with pytest.raises(
        UserError, match="--bands percent: no band set 'percent'; this layer has depth, index"
    ):
        load_layer(FLOOD, path, settings=scratch_settings, bands="percent")
    vector = tmp_path / "zones.geojson"
    vector.write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(UserError, match=r"--bands index: zones\.geojson is not a raster"):
        load_layer(FLOOD, vector, settings=scratch_settings, bands="index")


def test_cli_bands_and_source_options(scratch_settings, tmp_path) -> None:
    env = child_env(**{"ONEMAP_DB_NAME": scratch_settings.name, "COLUMNS": "200"})
    path = index_tif(tmp_path / "inarisk.tif")
    cmd = [sys.executable, "-m", "onemap.cli", "load", "flood_zones", str(path)]
    done = subprocess.run(
        [*cmd, "--bands", "index", "--flood-type", "rob", "--source", "InaRISK unduhan 2025"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    got = zones(scratch_settings)
    assert set(got) == {"rob-rendah", "rob-sedang", "rob-tinggi"}
    assert {v[3] for v in got.values()} == {"InaRISK unduhan 2025"}
    assert "source: InaRISK unduhan 2025 (3)" in done.stdout
