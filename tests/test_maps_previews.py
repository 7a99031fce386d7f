"""Index previews (SVG drawn in Python) and the choropleths' natural-breaks classes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import shapely

from onemap.core.layers import load_layers
from onemap.indicators import Choropleth
from onemap.publish.maps import SiteIndicators, build_site
from onemap.publish.maps.classify import PALETTES, classify, natural_breaks
from onemap.publish.maps.thumbnails import HEIGHT, WIDTH, Drawing, thumbnail_svg
from tests.browser import DevTools
from tests.conftest import OUTPUT
from tests.test_maps_site import GENERATED, make_frames

SVG = "{http://www.w3.org/2000/svg}"


# ---------------------------------------------------------------- classes


def test_natural_breaks_find_the_gaps():
    assert natural_breaks([1, 2, 3, 10, 11, 12, 30], 3) == [[1, 2, 3], [10, 11, 12], [30]]
    assert natural_breaks([30, 1, 12, 2, 11, 3, 10], 3) == [[1, 2, 3], [10, 11, 12], [30]]


def test_equal_values_share_a_class_and_classes_never_exceed_the_values():
    assert natural_breaks([0, 0, 0, 0, 0.5, 7, 7, 9], 5) == [[0, 0, 0, 0], [0.5], [7, 7], [9]]
    assert natural_breaks([0, 0, 0, 0, 0.5, 7, 7, 9], 2) == [[0, 0, 0, 0, 0.5], [7, 7, 9]]
    assert natural_breaks([4, 4, 4], 5) == [[4, 4, 4]]
    assert natural_breaks([], 5) == []


def test_classify_colours_counts_and_missing():
    breaks = classify([None, 0.0, 0.0, 2.4, 46.8, 44.5, 60.6, 12.8, None])
    assert breaks.colors == PALETTES[len(breaks.ranges)]
    assert sum(breaks.counts) == 7 and breaks.missing == 2
    assert breaks.index(None) is None
    assert breaks.index(60.6) == len(breaks.ranges) - 1 and breaks.index(0.0) == 0
    assert breaks.label(0, "%") == "0 %"
    lows = [low for low, _ in breaks.ranges]
    assert lows == sorted(lows)


# ---------------------------------------------------------------- previews


def _points(svg: str) -> list[tuple[int, int]]:
    """Every absolute point of every path (M x y, then l dx dy …)."""
    out = []
    for d in re.findall(r' d="([^"]+)"', svg):
        for move in re.findall(r"M(-?\d+) (-?\d+)l?([-\d ]*)", d):
            x, y = int(move[0]), int(move[1])
            out.append((x, y))
            deltas = [int(v) for v in move[2].split()]
            for dx, dy in zip(deltas[::2], deltas[1::2], strict=True):
                x, y = x + dx, y + dy
                out.append((x, y))
    return out


def test_preview_svg_is_one_path_per_colour_inside_the_box():
    squares = [shapely.box(110.3 + i * 0.05, -7.05, 110.34 + i * 0.05, -7.0) for i in range(4)]
    drawing = Drawing(squares, ["#ff0000", "#00ff00", "#ff0000", "#00ff00"], "polygon")
    line = Drawing([shapely.LineString([(110.3, -7.05), (110.5, -7.0)])], ["#0000ff"], "line")
    svg = thumbnail_svg([drawing, line], (110.3, -7.05, 110.5, -7.0), "Test <&>")
    root = ET.fromstring(svg)
    assert root.get("viewBox") == f"0 0 {WIDTH} {HEIGHT}"
    assert root.find(f"{SVG}title").text == "Test <&>"
    paths = root.findall(f"{SVG}path")
    assert [p.get("stroke") for p in paths] == ["#ff0000", "#00ff00", "#0000ff"]
    points = _points(svg)
    assert len(points) == 4 * 5 + 2
    assert all(0 <= x <= WIDTH and 0 <= y <= HEIGHT for x, y in points)
    # the box fills the width (less the padding): west edge near 6 px, east near 314 px
    assert min(x for x, _ in points) <= 8 and max(x for x, _ in points) >= WIDTH - 8


@pytest.fixture(scope="module")
def site_with_previews(tmp_path_factory):
    layers = load_layers()
    frames = make_frames(layers)
    codes = list(frames["admin_kecamatan"]["kode_kec"])
    values = {code: float(i) if i % 5 else None for i, code in enumerate(codes)}
    ch = Choropleth("test_pct", "test", "Uji", "Test", "%", "kode_kec", values, 7.5)
    indicators = SiteIndicators(choropleths=[ch], city_name="Kota Semarang")
    out = tmp_path_factory.mktemp("previews")
    build_site(layers, frames, out, generated_at=GENERATED, basemap="none", indicators=indicators)
    return out


def test_every_card_has_a_preview_that_draws_its_features(site_with_previews):
    site = site_with_previews
    layers = load_layers()
    previews = sorted((site / "previews").glob("*.svg"))
    assert {p.stem for p in previews} == {*layers, "onemap", "indikator-test_pct"}
    index = (site / "index.html").read_text(encoding="utf-8")
    shots = OUTPUT / "maps"
    shots.mkdir(parents=True, exist_ok=True)
    with DevTools(size=(WIDTH, HEIGHT)) as browser:
        for svg in previews:
            assert f'src="previews/{svg.name}"' in index, svg.name
            assert svg.stat().st_size < 300_000, svg.name
            browser.open(svg, "document.readyState === 'complete'")
            boxes = browser.evaluate(
                "Array.from(document.querySelectorAll('path')).map(p => { const b = p.getBBox();"
                " return [b.x, b.y, b.width, b.height]; })"
            )
            assert boxes, svg.name
            for x, y, w, h in boxes:
                assert x >= -2 and y >= -2 and x + w <= WIDTH + 2 and y + h <= HEIGHT + 2
            browser.screenshot(shots / f"preview-{svg.stem}.png")
            assert browser.errors == [], svg.name
        browser.open(site / "index.html", "Array.from(document.images).every(i => i.complete)")
        widths = browser.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
        assert widths == [WIDTH] * len(previews)
        assert browser.errors == []


def test_choropleth_preview_uses_the_class_colours(site_with_previews):
    svg = (site_with_previews / "previews" / "indikator-test_pct.svg").read_text()
    fills = set(re.findall(r'fill="(#[0-9a-f]{6})"', svg)) - {"#eef0ea"}
    assert fills == set(PALETTES[5]) | {"#d9d9d9"}  # five classes and "no value"
