"""``onemap tiles seed``: a PMTiles archive of a layer's published version, served while current.

A few long generated roads are published in the scratch database and seeded to zoom 8;
the archive is opened with the ``pmtiles`` library and its tiles compared byte for byte
with the ones the provider draws; a new load makes it stale and the provider draws again.
The demo server's answer is compared with an archive the command line wrote.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, TileType
from shapely.geometry import LineString

from onemap.core.errors import UserError
from onemap.core.layers import get_layer
from onemap.core.settings import child_env
from onemap.load.loader import load_layer
from onemap.serve import tiles
from onemap.serve.tile_archive import tile_index
from onemap.serve.tile_seed import seed
from tests.test_load import road_frame
from tests.test_tiles_generalised import key, provider

ROADS = get_layer("road_condition")
WMQ = "WebMercatorQuad"
CENTRE = (110.42, -7.0)
MAX_ZOOM = 8


@pytest.fixture
def archive_dir(tmp_path, monkeypatch):
    """A fresh archive folder, the disk cache off (the provider's per-process views rebuilt)."""
    root = tmp_path / "archives"
    monkeypatch.setenv("ONEMAP_TILE_ARCHIVE_DIR", str(root))
    monkeypatch.setenv("ONEMAP_TILE_CACHE", "false")
    tiles.tile_cache.cache_clear()
    tiles.tile_archives.cache_clear()
    yield root
    tiles.tile_cache.cache_clear()
    tiles.tile_archives.cache_clear()


def publish_roads(settings, tmp_path, n: int) -> None:
    """n arterials ~12 km long across the city: drawn from zoom 0 (function arteri)."""
    frame = road_frame(n, function="arteri")
    frame.geometry = [
        LineString([(110.33 + i * 0.02, -6.95), (110.40 + i * 0.02, -7.05)]) for i in range(n)
    ]
    path = tmp_path / f"roads-{n}.gpkg"
    frame.to_file(path, driver="GPKG")
    load_layer(ROADS, path, settings=settings)


def centre_tiles(max_zoom: int = MAX_ZOOM) -> list[tuple[int, int, int]]:
    return [(z, *tile_index(*CENTRE, z)) for z in range(max_zoom + 1)]


def open_archive(path) -> Reader:
    return Reader(MmapSource(path.open("rb")))


def test_seeded_tiles_are_the_tiles_the_server_draws(scratch_settings, tmp_path, archive_dir):
    publish_roads(scratch_settings, tmp_path, 4)
    p = provider(scratch_settings)
    live = {(z, x, y): p.get_tiles(ROADS.id, WMQ, z, y, x) for z, x, y in centre_tiles()}
    assert all(live.values()), [k for k, v in live.items() if not v]

    path, done = seed(ROADS, MAX_ZOOM, settings=scratch_settings)
    assert path == archive_dir / f"{ROADS.id}.pmtiles"
    assert done.version == key(scratch_settings) and done.tiles >= MAX_ZOOM + 1

    reader = open_archive(path)
    header = reader.header()
    assert header["tile_type"] == TileType.MVT
    assert header["tile_compression"] == Compression.NONE
    meta = reader.metadata()
    assert meta["onemap"]["version"] == done.version
    assert (meta["onemap"]["minZoom"], meta["onemap"]["maxZoom"]) == (0, MAX_ZOOM)
    assert meta["vector_layers"][0]["id"] == ROADS.id
    for (z, x, y), data in live.items():
        assert reader.get(z, x, y) == data, (z, x, y)


def test_the_server_answers_from_a_current_archive_only(
    scratch_settings, tmp_path, archive_dir, monkeypatch
):
    publish_roads(scratch_settings, tmp_path, 3)
    seed(ROADS, MAX_ZOOM, settings=scratch_settings)
    drawn: list[tuple[int, int, int]] = []
    real_draw = tiles.OnemapMVTProvider.draw

    def counting_draw(self, session, spec, scheme, layer, z, y, x, **kw):
        drawn.append((z, x, y))
        return real_draw(self, session, spec, scheme, layer, z, y, x, **kw)

    monkeypatch.setattr(tiles.OnemapMVTProvider, "draw", counting_draw)
    archived = open_archive(archive_dir / f"{ROADS.id}.pmtiles")
    p = provider(scratch_settings)
    for z, x, y in centre_tiles():
        assert p.get_tiles(ROADS.id, WMQ, z, y, x) == archived.get(z, x, y)
    assert drawn == []  # every zoom of the archive came from it
    z, (x, y) = MAX_ZOOM + 1, tile_index(*CENTRE, MAX_ZOOM + 1)
    assert p.get_tiles(ROADS.id, WMQ, z, y, x)
    assert drawn == [(z, x, y)]  # above the archive's zooms: drawn

    publish_roads(scratch_settings, tmp_path, 5)  # a new version: the archive is stale
    drawn.clear()
    for z, x, y in centre_tiles():
        fresh = p.get_tiles(ROADS.id, WMQ, z, y, x)
        assert fresh
        if z >= 6:  # 5 roads, not 3, apart by more than a pixel
            assert fresh != archived.get(z, x, y), z
    assert drawn == [(z, x, y) for z, x, y in centre_tiles()]


def test_seed_refuses_zooms_the_layer_has_not(scratch_settings, archive_dir) -> None:
    with pytest.raises(UserError, match="zooms"):
        seed(ROADS, ROADS.tiles.max_zoom + 1, settings=scratch_settings)
    with pytest.raises(UserError, match="zooms"):
        seed(ROADS, 3, min_zoom=5, settings=scratch_settings)


def test_the_command_writes_what_the_demo_server_answers(api, tmp_path) -> None:
    layer = "admin_kecamatan"
    path = tmp_path / f"{layer}.pmtiles"
    res = subprocess.run(
        [sys.executable, "-m", "onemap.cli", "tiles", "seed", layer, "--max-zoom", "8",
         "--output", str(path)],
        capture_output=True, text=True, env=child_env(), check=False, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stdout and "Traceback" not in res.stderr
    reader = open_archive(path)
    drawn = 0
    for z, x, y in centre_tiles():
        served = requests.get(
            f"{api}/collections/{layer}/tiles/{WMQ}/{z}/{y}/{x}", params={"f": "mvt"}, timeout=60
        )
        assert served.status_code in (200, 204), (z, served.text[:200])
        # an empty tile (204: nothing drawn at that zoom) is not stored
        assert reader.get(z, x, y) == (served.content or None), (z, x, y)
        drawn += served.status_code == 200
    assert drawn >= 4
