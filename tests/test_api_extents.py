"""What the server derives from the data follows a new load without a republish or restart:
collection extents, and the unfiltered ``numberMatched`` (counted once per version)."""

from __future__ import annotations

import geopandas as gpd
import psycopg
import pytest
import requests

from onemap.core.layers import get_layer
from onemap.core.settings import DbSettings
from onemap.db import schema
from onemap.db.connect import owner_conninfo
from onemap.load.coverage_files import install_raster
from onemap.load.loader import load_layer
from tests.conftest import OUTPUT, TEST_DB, free_port


def _table_bbox(settings: DbSettings) -> tuple[float, ...]:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return conn.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
            "(SELECT ST_Extent(geom) AS e FROM onemap.flood_zones) s"
        ).fetchone()


def _rows(settings: DbSettings) -> int:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return conn.execute("SELECT count(*) FROM onemap.flood_zones").fetchone()[0]


def _matched(url: str) -> int:
    r = requests.get(
        f"{url}/collections/flood_zones/items", params={"f": "json", "limit": 2}, timeout=30
    )
    return r.json()["numberMatched"]


def _covers_tightly(served: list[float], data: tuple[float, ...]) -> bool:
    """The served box is the data's rounded outwards to 1e-6°."""
    lo = all(s <= d < s + 1e-6 for s, d in zip(served[:2], data[:2], strict=True))
    hi = all(s - 1e-6 < d <= s for s, d in zip(served[2:], data[2:], strict=True))
    return lo and hi


@pytest.fixture(scope="module")
def server(demo_dir, monkeypatch_module):
    settings = DbSettings(name=f"{TEST_DB}_extents")
    schema.up(settings)
    flood = get_layer("flood_zones")
    load_layer(flood, demo_dir / "flood_zones.gpkg", settings=settings)
    install_raster(flood, demo_dir / flood.coverage.demo_file, settings)  # its coverage
    monkeypatch_module.setenv("ONEMAP_DB_NAME", settings.name)
    from onemap.serve.server import start_background

    port = free_port()
    proc = start_background(port, workers=1, log=OUTPUT / "extents.log")
    yield f"http://127.0.0.1:{port}", settings
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_extent_follows_a_new_load(server, demo_dir, tmp_path) -> None:
    url, settings = server

    def served() -> list[float]:
        r = requests.get(f"{url}/collections/flood_zones", params={"f": "json"}, timeout=30)
        assert r.status_code == 200
        return r.json()["extent"]["spatial"]["bbox"][0]

    before = served()
    assert _covers_tightly(before, _table_bbox(settings))
    assert _matched(url) == _matched(url) == _rows(settings) > 2
    # the next version covers only the western half of the zones
    zones = gpd.read_file(demo_dir / "flood_zones.gpkg")
    west = zones[zones.bounds.minx < zones.bounds.minx.median()]
    west.to_file(tmp_path / "west.gpkg", driver="GPKG")
    load_layer(get_layer("flood_zones"), tmp_path / "west.gpkg", settings=settings)
    after = served()
    assert after[2] < before[2] - 0.01  # the east edge moved west
    assert _matched(url) == _rows(settings) < len(zones)
    assert _covers_tightly(after, _table_bbox(settings))
    listed = requests.get(f"{url}/collections", params={"f": "json"}, timeout=30).json()
    flood = next(c for c in listed["collections"] if c["id"] == "flood_zones")
    assert flood["extent"]["spatial"]["bbox"][0] == after
