"""The flood-depth coverage as GDAL's OGCAPI driver, rasterio and pyproj read it (issue 18).

Against the live server (``api``) and Debian's GDAL command-line tools: the driver must
open the collection on the raster's own grid and read windows equal, cell by cell, to the
same windows of the published GeoTIFF.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import rasterio
import requests
from pyproj import CRS
from rasterio.windows import Window

COVERAGE = "flood_depth"


@pytest.fixture(scope="module")
def source(demo_dir):
    """The raster the coverage publishes (the demo file ``install_raster`` copied)."""
    with rasterio.open(demo_dir / f"{COVERAGE}.tif") as ds:
        yield ds


@pytest.fixture(scope="module")
def collection(api) -> dict:
    r = requests.get(f"{api}/collections/{COVERAGE}", params={"f": "json"}, timeout=30)
    assert r.status_code == 200
    return r.json()


def coverage(api: str, **params) -> requests.Response:
    return requests.get(f"{api}/collections/{COVERAGE}/coverage", params=params, timeout=60)


def gdal(*args: str) -> str:
    """A GDAL command; the OGCAPI driver's tile cache is off (it would write
    ./gdalwmscache and could answer a later run from an earlier server)."""
    done = subprocess.run(
        [args[0], "-oo", "CACHE=NO", *args[1:]], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_collection_describes_the_native_grid(collection, source) -> None:
    assert CRS(collection["storageCrs"]).to_epsg() == source.crs.to_epsg() == 32749
    spatial = collection["extent"]["spatial"]
    assert spatial["storageCrsBbox"] == [list(source.bounds)]
    # the grid beside the CRS84 bbox is in degrees: its cells over that bbox
    bbox = spatial["bbox"][0]
    for axis, cells, lo, hi in ((0, source.width, 0, 2), (1, source.height, 1, 3)):
        assert spatial["grid"][axis]["cellsCount"] == cells
        assert spatial["grid"][axis]["resolution"] == pytest.approx((bbox[hi] - bbox[lo]) / cells)
    grid = collection["domainset"]["generalGrid"]
    assert grid["srsName"] == collection["storageCrs"]
    x, y = grid["axis"]
    assert (x["lowerBound"], x["upperBound"], x["resolution"]) == (
        source.bounds.left, source.bounds.right, source.res[0],
    )  # fmt: skip
    assert (y["lowerBound"], y["upperBound"], y["resolution"]) == (
        source.bounds.bottom, source.bounds.top, -source.res[1],
    )  # fmt: skip
    (field,) = collection["rangetype"]["field"]
    assert field["uom"]["code"] == "m" and field["nilValues"][0]["value"] == source.nodata


def test_gdalinfo_reports_the_native_size_and_grid(api, collection, source) -> None:
    info = json.loads(gdal("gdalinfo", "-json", f"OGCAPI:{api}/collections/{COVERAGE}"))
    assert info["size"] == [source.width, source.height] == [581, 463]
    assert info["geoTransform"] == list(source.transform.to_gdal())
    assert info["bands"][0]["type"] == "Float32"
    # GDAL's driver labels every coverage EPSG:4326 whatever the domain set's srsName
    # (gdalogcapidataset.cpp, InitWithCoverageAPI, 3.6 to the current source). The grid
    # is the native one; its CRS is the collection's storageCrs. If this fails because
    # GDAL now reports EPSG:32749, assert that instead.
    assert CRS.from_wkt(info["coordinateSystem"]["wkt"]).to_epsg() == 4326


@pytest.mark.parametrize(
    "window",
    [(100, 50, 300, 200), (500, 400, 81, 63), (0, 0, 581, 463), (255, 255, 2, 2)],
    ids=["across-blocks", "bottom-right-edge", "whole", "block-corner"],
)
def test_gdal_translate_window_equals_the_source(api, collection, source, tmp_path, window):
    out = tmp_path / "window.tif"
    gdal(
        "gdal_translate", "-q", "-srcwin", *map(str, window),
        "-a_srs", collection["storageCrs"],
        f"OGCAPI:{api}/collections/{COVERAGE}", str(out),
    )  # fmt: skip
    with rasterio.open(out) as got:
        win = Window(*window)
        assert got.crs == source.crs
        assert got.transform == source.window_transform(win)
        assert np.array_equal(got.read(1), source.read(1, window=win))


def test_gdal_reads_overviews_through_scaling(api, tmp_path) -> None:
    out = tmp_path / "half.tif"
    gdal(
        "gdal_translate", "-q", "-outsize", "291", "232",
        f"OGCAPI:{api}/collections/{COVERAGE}", str(out),
    )  # fmt: skip
    with rasterio.open(out) as got:
        assert got.shape == (232, 291)
        assert float(got.read(1).max()) > 0  # the flooded cells survive


def test_rasterio_reads_the_coverage_url(api, source) -> None:
    url = f"{api}/collections/{COVERAGE}/coverage?f=GTiff"
    with rasterio.open(url) as got:
        assert (got.crs, got.transform, got.nodata) == (source.crs, source.transform, -9999)
        assert np.array_equal(got.read(1), source.read(1))
    win = Window(100, 50, 300, 200)
    left, bottom, right, top = rasterio.windows.bounds(win, source.transform)
    with rasterio.open(f"{url}&subset=x({left}:{right}),y({bottom}:{top})") as got:
        assert got.transform == source.window_transform(win)
        assert np.array_equal(got.read(1), source.read(1, window=win))


def test_bbox_in_the_storage_crs_and_crs84(api, source, tmp_path) -> None:
    win = Window(10, 20, 30, 40)
    bounds = rasterio.windows.bounds(win, source.transform)
    r = coverage(
        api, f="GTiff", bbox=",".join(map(str, bounds)),
        **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/32749"},
    )  # fmt: skip
    assert r.status_code == 200
    (tmp_path / "b.tif").write_bytes(r.content)
    with rasterio.open(tmp_path / "b.tif") as got:
        assert np.array_equal(got.read(1), source.read(1, window=win))
    r = coverage(api, f="GTiff", bbox="110.45,-6.97,110.48,-6.95")  # CRS84 by default
    assert r.status_code == 200
    (tmp_path / "c.tif").write_bytes(r.content)
    with rasterio.open(tmp_path / "c.tif") as got:
        assert got.crs == source.crs and 60 < got.width < 75 and 40 < got.height < 50
    # EPSG:4326 is latitude first: the same box, the same cells
    lat_lon = coverage(
        api, f="GTiff", bbox="-6.97,110.45,-6.95,110.48",
        **{"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
    )  # fmt: skip
    assert lat_lon.status_code == 200 and lat_lon.content == r.content


@pytest.mark.parametrize(
    ("params", "shape"),
    [
        ({"scale-size": "x(100),y(80)"}, (80, 100)),
        ({"scaleSize": "x(58),y(46)"}, (46, 58)),
        ({"scale-factor": "2"}, (232, 290)),
        ({"scale-axes": "x(581),y(463)"}, (1, 1)),
    ],
)
def test_scaling(api, source, tmp_path, params, shape) -> None:
    r = coverage(api, f="GTiff", **params)
    assert r.status_code == 200
    (tmp_path / "s.tif").write_bytes(r.content)
    with rasterio.open(tmp_path / "s.tif") as got:
        assert got.shape == shape
        assert got.bounds == pytest.approx(source.bounds)  # the same extent, larger cells


@pytest.mark.parametrize(
    "params",
    [
        {"subset": "x(0:100),y(0:100)"},  # outside the coverage
        {"bbox": "100,0,101,1"},  # outside, CRS84
        {"bbox": "110.45,-6.97,110.48,-6.95", "subset": "x(420000:421000)"},
        {"subset": "x(421000:420000)"},
        {"scale-factor": "0"},
        {"scale-size": "lat(10)"},
        {"scale-size": "x(100000),y(10)"},
        {"scale-factor": "2", "scale-size": "x(10),y(10)"},
        {"bbox": "1,2,3,4", "bbox-crs": "EPSG:999999"},
    ],
)
def test_bad_subsets_and_scales_are_400(api, params) -> None:
    r = coverage(api, f="GTiff", **params)
    assert r.status_code == 400, r.text
    assert r.json()["description"]


def test_coveragejson_crs_resolves_with_pyproj(api, source) -> None:
    win = Window(250, 300, 4, 3)
    left, bottom, right, top = rasterio.windows.bounds(win, source.transform)
    r = coverage(api, f="json", subset=f"x({left}:{right}),y({bottom}:{top})")
    assert r.status_code == 200
    cov = r.json()
    (ref,) = cov["domain"]["referencing"]
    assert CRS(ref["system"]["id"]).to_epsg() == 32749
    assert ref["system"]["type"] == "ProjectedCRS"
    axes = cov["domain"]["axes"]  # cell centres
    assert axes["x"] == {"start": left + 25, "stop": right - 25, "num": 4}
    assert axes["y"] == {"start": top - 25, "stop": bottom + 25, "num": 3}
    (key,) = cov["ranges"]
    assert cov["parameters"][key]["unit"]["symbol"] == "m"
    want = source.read(1, window=win).ravel().tolist()
    got = cov["ranges"][key]["values"]
    assert got == [None if v == source.nodata else pytest.approx(v) for v in want]


def test_schema_names_the_band_and_its_unit(api) -> None:
    r = requests.get(f"{api}/collections/{COVERAGE}/schema", params={"f": "json"}, timeout=30)
    band = r.json()["properties"]["1"]
    assert band["title"] == "Flood depth (model)" and band["x-ogc-unit"] == "m"
