"""A flood-depth GeoTIFF becomes flood_zones: classified, polygonised, dissolved, simplified."""

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
CELL = 50.0  # metres
NODATA = -9999.0


def depth_tif(path, crs="EPSG:32749", nodata=NODATA):
    """60 x 60 cells of 50 m in central Semarang: 0.3 m, 1.0 m and 2.0 m bands, a dry
    block (0 m) and a nodata block, so every class and both kinds of gap are present."""
    depth = np.zeros((60, 60), dtype="float32")
    depth[:, :20] = 0.3
    depth[:, 20:40] = 1.0
    depth[:, 40:] = 2.0
    depth[:10, :] = 0.0  # dry
    depth[50:, 50:] = nodata  # no model output
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=60,
        height=60,
        count=1,
        dtype="float32",
        crs=crs,
        nodata=nodata,
        transform=from_origin(434000, 9228000, CELL, CELL),
    ) as dst:
        dst.write(depth, 1)
    return path


def zones(settings) -> dict[str, tuple]:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        rows = conn.execute(
            "SELECT zone_id, hazard, flood_type, depth_min_m, depth_max_m, "
            "ST_Area(ST_Transform(geom, 32749)), ST_IsValid(geom) FROM onemap.flood_zones"
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_depth_raster_becomes_one_zone_per_class(scratch_settings, tmp_path) -> None:
    res = load_layer(
        FLOOD,
        depth_tif(tmp_path / "depth.tif"),
        settings=scratch_settings,
        constants={"flood_type": "Rob"},
    )
    assert (res.rows_loaded, res.details["raster_cells"]) == (3, 3600)
    got = zones(scratch_settings)
    assert set(got) == {"rob-rendah", "rob-sedang", "rob-tinggi"}
    cells = {"rob-rendah": 50 * 20, "rob-sedang": 50 * 20, "rob-tinggi": 50 * 20 - 100}
    for key, (hazard, flood_type, _lo, _hi, area, valid) in got.items():
        assert key == f"rob-{hazard}" and flood_type == "rob" and valid
        assert area == pytest.approx(cells[key] * CELL * CELL, rel=0.01), key
    assert got["rob-rendah"][2:4] == (0.3, 0.3)
    assert got["rob-sedang"][2:4] == (1.0, 1.0) and got["rob-tinggi"][2:4] == (2.0, 2.0)


def test_class_bounds_can_be_given_per_load(scratch_settings, tmp_path) -> None:
    path = depth_tif(tmp_path / "depth.tif")
    load_layer(FLOOD, path, settings=scratch_settings, class_bounds=(0.2, 1.5))
    got = zones(scratch_settings)
    assert set(got) == {"hujan-sedang", "hujan-tinggi"}  # 0.3 and 1.0 m are both 'sedang' now
    assert got["hujan-sedang"][2:4] == (0.3, 1.0)


def test_upsert_of_one_flood_type_keeps_the_others(scratch_settings, tmp_path) -> None:
    path = depth_tif(tmp_path / "depth.tif")
    load_layer(FLOOD, path, settings=scratch_settings)  # hujan (the layer file's default)
    res = load_layer(
        FLOOD, path, settings=scratch_settings, mode="upsert", constants={"flood_type": "rob"}
    )
    assert res.rows_loaded == 3
    assert len(zones(scratch_settings)) == 6


def test_the_demo_flood_model_loads(scratch_settings, demo_dir) -> None:
    res = load_layer(FLOOD, demo_dir / "flood_depth.tif", settings=scratch_settings)
    got = zones(scratch_settings)
    assert res.rows_loaded == len(got) == 3 and all(v[-1] for v in got.values())
    assert got["hujan-rendah"][2] > 0 and got["hujan-tinggi"][2] >= 1.5


def test_raster_refusals_say_why(scratch_settings, tmp_path) -> None:
    with pytest.raises(LoadError, match=r"is a raster, and layer 'road_condition' takes vector"):
        load_layer(
            get_layer("road_condition"), depth_tif(tmp_path / "a.tif"), settings=scratch_settings
        )
    no_crs = depth_tif(tmp_path / "b.tif", crs=None)
    with pytest.raises(LoadError, match=r"b\.tif: the raster declares no coordinate reference"):
        load_layer(FLOOD, no_crs, settings=scratch_settings)
    res = load_layer(FLOOD, no_crs, source_crs="EPSG:32749", settings=scratch_settings)
    assert res.rows_loaded == 3 and set(zones(scratch_settings)) == {
        "hujan-rendah",
        "hujan-sedang",
        "hujan-tinggi",
    }
    dry = tmp_path / "dry.tif"
    with rasterio.open(
        dry,
        "w",
        driver="GTiff",
        width=4,
        height=4,
        count=1,
        dtype="float32",
        crs="EPSG:32749",
        nodata=NODATA,
        transform=from_origin(434000, 9228000, CELL, CELL),
    ) as dst:
        dst.write(np.zeros((4, 4), dtype="float32"), 1)
    with pytest.raises(LoadError, match=r"dry\.tif: no cell falls in any class of 'hazard'"):
        load_layer(FLOOD, dry, settings=scratch_settings)
    with pytest.raises(UserError, match=r"--flood-type 'banjir': unknown value for 'flood_type'"):
        load_layer(FLOOD, dry, settings=scratch_settings, constants={"flood_type": "banjir"})


def test_cli_takes_field_values_as_options(scratch_settings, tmp_path) -> None:
    env = child_env(**{"ONEMAP_DB_NAME": scratch_settings.name, "COLUMNS": "200"})
    path = depth_tif(tmp_path / "depth.tif")
    cmd = [sys.executable, "-m", "onemap.cli", "load", "flood_zones", str(path)]
    res = subprocess.run(
        [*cmd, "--flood-type", "sungai"], capture_output=True, text=True, env=env, check=False
    )
    assert res.returncode == 0, res.stderr
    assert "3 of 3 rows published" in res.stdout
    assert set(zones(scratch_settings)) == {"sungai-rendah", "sungai-sedang", "sungai-tinggi"}
    res = subprocess.run(
        [*cmd, "--flood-kind", "rob"], capture_output=True, text=True, env=env, check=False
    )
    assert res.returncode == 1 and "no such option: --flood-kind" in res.stderr
    assert "--flood-type" in res.stderr and "Traceback" not in res.stderr
