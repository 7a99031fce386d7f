"""Big layers drawn from the OGC API vector tiles when the site is built with a server URL.

With ``tiles_url`` and a threshold of 1 MB, the demo road layer (about 2 MB embedded) is
drawn from MVT tiles of the live test pygeoapi; the other layers stay embedded. Checked
in Chromium: tiles requested from the server only, canvases painted, a click on a road
pops up its labelled attributes.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from onemap.core.layers import load_layers
from onemap.publish.maps.write import write_site
from tests.browser import DevTools
from tests.conftest import OUTPUT, free_port

ROAD = "road_condition"
TILE_ABOVE = 1_000_000
TILES_LOADED = f"performance.getEntriesByName('onemap:tiles:{ROAD}').length > 0"
# A painted pixel of the road tiles: [viewport x, y] of one, and how many are painted.
PAINTED = """(() => {
    let count = 0, at = null;
    for (const c of document.querySelectorAll('.leaflet-onemap-line-pane canvas')) {
        const r = c.getBoundingClientRect();
        if (r.right < 420 || r.left > 900 || r.bottom < 250 || r.top > 600) continue;
        const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < px.length; i += 4 * 7) {
            if (px[i] < 200) continue;
            count++;
            const k = (i - 3) / 4, x = r.left + (k % c.width) * r.width / c.width,
                  y = r.top + Math.floor(k / c.width) * r.height / c.height;
            if (!at && x > 420 && x < 900 && y > 250 && y < 600) at = [x, y];
        }
    }
    return [count, at];
})()"""


@pytest.fixture(scope="module")
def tiled_site(api, db_settings, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiled_site")
    write_site(
        out, basemap="none", settings=db_settings, tiles_url=api, tile_above_bytes=TILE_ABOVE
    )
    return out


def test_only_the_big_layer_is_tiled(tiled_site, api):
    road = (tiled_site / f"{ROAD}.html").read_text(encoding="utf-8")
    assert f"{api}/collections/{ROAD}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt" in road
    assert len(road.encode()) < 200_000  # the rows are not embedded
    for lid in load_layers():
        if lid != ROAD:
            page = (tiled_site / f"{lid}.html").read_text(encoding="utf-8")
            assert "onemap.tiles(" not in page and "VectorGrid" not in page, lid
            assert len(page.encode()) < 2 * TILE_ABOVE, lid
    index = (tiled_site / "index.html").read_text(encoding="utf-8")
    assert "OGC API vector tiles" in index.split(f'id="card-{ROAD}"', 1)[1].split("</article>")[0]


@pytest.mark.parametrize("page", [f"{ROAD}.html", "onemap.html"])
def test_tiles_are_drawn_and_pop_up(tiled_site, api, page):
    with DevTools() as browser:
        browser.open(tiled_site / page, TILES_LOADED)
        browser.evaluate("new Promise(r => requestAnimationFrame(() => setTimeout(r, 100)))")
        assert browser.errors == [], browser.errors
        hosts = {urlsplit(u).netloc for u in browser.requests if not u.startswith("file://")}
        assert hosts == {urlsplit(api).netloc}
        tiles = [u for u in browser.requests if f"/collections/{ROAD}/tiles/" in u]
        assert len(tiles) >= 4
        count, at = browser.evaluate(PAINTED)
        assert count > 500 and at is not None
        browser.screenshot(OUTPUT / "maps" / f"tiles-{Path(page).stem}.png")
        browser.click(*at)
        browser.evaluate("new Promise(r => setTimeout(r, 200))")
        popup = browser.evaluate(
            "(document.querySelector('.leaflet-popup-content') || {}).innerText || ''"
        )
        layer = load_layers()[ROAD]
        # A road's popup (or, on the One Map, a flood zone's under it): labels, not codes.
        assert popup.startswith((layer.title, load_layers()["flood_zones"].title)), popup
        if popup.startswith(layer.title):
            condition = layer.field("condition")
            assert condition.label in popup
            assert any(v.label in popup for v in condition.values)
        assert browser.errors == [], browser.errors


def test_unreachable_tile_server_is_said_on_the_page(loaded, db_settings, tmp_path):
    dead = f"http://127.0.0.1:{free_port()}"
    write_site(
        tmp_path, basemap="none", settings=db_settings, tiles_url=dead, tile_above_bytes=TILE_ABOVE
    )
    with DevTools() as browser:
        browser.open(tmp_path / f"{ROAD}.html", "!!document.querySelector('.onemap-tile-error')")
        note = browser.evaluate("document.querySelector('.onemap-tile-error').innerText")
    assert "map server unreachable" in note and dead in note
