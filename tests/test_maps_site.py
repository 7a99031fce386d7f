"""The public web maps, built from small frames made from the real data files.

Real geometry: the kecamatan/kelurahan of cahyadsn/wilayah_boundaries and the OSM roads
in data/real; coded attributes the files lack are filled with random allowed values
(seeded). The browser tests run headless Chromium and fail when it is missing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString

from onemap.core.layers import Geometry, Layer, load_layers
from onemap.core.provenance import SYNTHETIC
from onemap.publish.maps import MAX_PAGE_BYTES, build_site
from onemap.publish.maps.assets import VENDORED
from onemap.publish.maps.prepare import SCALE, encode_geometry
from onemap.publish.maps.site import loaded_layers
from tests.browser import DevTools, dump_dom

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "data" / "real"
KECAMATAN = REAL / "admin_cahyadsn" / "semarang_kecamatan.geojson"
KELURAHAN = REAL / "admin_cahyadsn" / "semarang_kelurahan.geojson"
ROADS = REAL / "osm_roads" / "semarang_roads_osm.geojson"
POPULATION = REAL / "population_bps" / "semarang_penduduk_kecamatan_2025.csv"
GENERATED = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
SMALL = 150  # features per layer without a real source of its own
ROAD = "road_condition"  # the heaviest layer: about 13,000 segments from the demo generator


# ---------------------------------------------------------------- test frames


def _fill(layer: Layer, source: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The layer's columns: taken from ``source`` where it has them, else random valid."""
    n = len(source)
    out = {}
    for f in layer.fields:
        if f.name in source.columns:
            out[f.name] = source[f.name].to_numpy()
        elif f.values:
            out[f.name] = rng.choice(list(f.allowed), n)
        elif f.type == "real":
            out[f.name] = np.round(rng.uniform(f.minimum or 0, f.maximum or 100, n), 2)
        elif f.type == "integer":
            out[f.name] = rng.integers(int(f.minimum or 0), 5000, n)
        elif f.type == "date":
            start = dt.date(2025, 1, 1)
            out[f.name] = [start + dt.timedelta(days=int(d)) for d in rng.integers(0, 365, n)]
        elif f.type == "boolean":
            out[f.name] = rng.integers(0, 2, n).astype(bool)
        else:
            out[f.name] = [f"{f.name}-{i:05d}" for i in range(n)]
    return pd.DataFrame(out, index=source.index)


def _frame(layer: Layer, source: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(_fill(layer, source, rng), geometry=source.geometry, crs=4326)
    default = SYNTHETIC if layer.synthetic else "cahyadsn-wilayah"
    frame["source"] = source["source"] if "source" in source else default
    return frame


def _real_sources(n_roads: int | None) -> dict[str, gpd.GeoDataFrame]:
    kec = gpd.read_file(KECAMATAN)
    population = pd.read_csv(POPULATION, dtype={"kode_kec": str})
    population = population.drop(columns=["nama_kec"]).rename(columns={"tahun": "tahun_penduduk"})
    kec = kec.merge(population, on="kode_kec", how="left")
    roads = gpd.read_file(ROADS)
    if n_roads is not None:
        roads = roads.iloc[:n_roads]
    roads["source"] = "osm"
    return {"polygon": gpd.read_file(KELURAHAN), "kecamatan": kec, "line": roads}


def make_frames(layers: dict[str, Layer], n_roads: int | None = 400, seed: int = 7):
    """One frame per layer: admin layers and roads from the real files, the rest on
    real geometry (kelurahan polygons, OSM lines) with random attribute values."""
    rng = np.random.default_rng(seed)
    real = _real_sources(n_roads)
    frames = {}
    for lid, layer in layers.items():
        family = layer.geometry_family
        if lid == "admin_kecamatan":
            source = real["kecamatan"]
        elif lid in ("admin_kelurahan", ROAD):
            source = real[family]
        elif family == "point":
            kel = real["polygon"].iloc[:SMALL]
            source = gpd.GeoDataFrame(geometry=kel.representative_point(), crs=4326)
        else:
            source = real[family].sample(SMALL, random_state=seed)[["geometry"]]
        frames[lid] = _frame(layer, source, rng)
    return frames


def pad_roads(frame: gpd.GeoDataFrame, layer: Layer, total: int, seed: int = 3):
    """The road frame grown to ``total`` segments with random lines across the city."""
    rng = np.random.default_rng(seed)
    city = gpd.read_file(KECAMATAN).union_all()
    x0, y0, x1, y1 = city.bounds
    lines = []
    while len(frame) + len(lines) < total:
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        if not city.contains(shapely.Point(x, y)):
            continue
        steps = rng.normal(0, 0.002, size=(int(rng.integers(1, 6)), 2)).cumsum(axis=0)
        lines.append(LineString([(x, y), *((x + dx, y + dy) for dx, dy in steps)]))
    extra = gpd.GeoDataFrame(geometry=lines, crs=4326)
    extra["source"] = "synthetic"
    extra = _frame(layer, extra, rng)
    extra[layer.primary_key] = [f"syn-{i:05d}" for i in range(len(extra))]
    return pd.concat([frame, extra], ignore_index=True)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def layers() -> dict[str, Layer]:
    return load_layers()


@pytest.fixture(scope="module")
def frames(layers):
    return make_frames(layers)


@pytest.fixture(scope="module")
def site(layers, frames, tmp_path_factory) -> Path:
    outdir = tmp_path_factory.mktemp("site")
    build_site(layers, frames, outdir, generated_at=GENERATED, basemap="none")
    return outdir


class _Tags(HTMLParser):
    """Collects script/link references and legend entries of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []
        self.legend: dict[str, list[str]] = {}
        self._section: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.refs.append(a["src"] or "")
        elif tag == "link" and a.get("href"):
            self.refs.append(a["href"] or "")
        elif tag == "section" and "onemap-legend-layer" in (a.get("class") or ""):
            self._section = a["data-layer"]
            self.legend[self._section or ""] = []
        elif tag == "li" and self._section and "data-value" in a:
            self.legend[self._section].append(a["data-value"] or "")


def parse(page: Path) -> _Tags:
    tags = _Tags()
    tags.feed(page.read_text(encoding="utf-8"))
    return tags


def page_names(layers) -> list[str]:
    return ["index.html", "onemap.html", *(f"{lid}.html" for lid in layers)]


# ---------------------------------------------------------------- the files


def test_every_page_is_written(site, layers):
    for name in page_names(layers):
        assert (site / name).is_file(), name


def test_every_page_is_under_the_budget(site, layers):
    for name in page_names(layers):
        assert (site / name).stat().st_size < MAX_PAGE_BYTES, name


def test_pages_load_only_local_assets(site, layers):
    for name in page_names(layers):
        text = (site / name).read_text(encoding="utf-8")
        assert not re.search(r"<(script|link)\b[^>]*(src|href)=[\"']?(https?:)?//", text), name
        refs = parse(site / name).refs
        assert refs, name
        for ref in refs:
            assert (site / ref).is_file(), f"{name}: {ref} missing"


def test_vendored_packages_keep_their_licence(site):
    for pkg in VENDORED:
        assert (site / "assets" / pkg.folder / pkg.license).is_file(), pkg.npm


def test_legend_entries_are_the_style_field_values(site, layers):
    onemap_legend = parse(site / "onemap.html").legend
    for lid, layer in layers.items():
        legend = parse(site / f"{lid}.html").legend
        expected = list(layer.style_field.allowed) if layer.style_field else []
        assert legend[lid] == expected, lid
        assert onemap_legend[lid] == expected, lid


def test_synthetic_layers_say_so(site, layers, frames):
    """As the rows drawn say (the roads here are all OSM: no badge)."""
    index = (site / "index.html").read_text(encoding="utf-8")
    for lid, layer in loaded_layers(layers, frames).items():
        card = index.split(f'id="card-{lid}"', 1)[1].split("</article>", 1)[0]
        page = (site / f"{lid}.html").read_text(encoding="utf-8")
        # the badge (the layer file's attribution text may still name the demo's sources)
        assert ("onemap-badge-synthetic" in card) == layer.synthetic, lid
        if layer.synthetic:
            note = " ".join(layer.synthetic_note.split()[:6])
            assert note in " ".join(card.split()), lid
            assert note in " ".join(page.split()), lid


def test_osm_basemap_is_attributed(layers, frames, tmp_path):
    pages = build_site(layers, frames, tmp_path, generated_at=GENERATED)
    text = next(p for p in pages if p.name == "onemap.html").read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" in text
    assert "www.openstreetmap.org/copyright" in text


def test_geometry_encoding_round_trips():
    line = LineString([(110.41234, -6.98765), (110.41300, -6.98700), (110.41300, -6.98700)])
    kind, flat = encode_geometry(line)
    xy = np.cumsum(np.asarray(flat).reshape(-1, 2), axis=0) / SCALE
    assert kind == "LineString"
    assert np.allclose(xy, [(110.41234, -6.98765), (110.413, -6.987)])


def test_full_road_layer_stays_under_the_budget(layers, tmp_path):
    """All OSM roads padded to 13,000 segments, the size the demo generator makes."""
    frames = make_frames(layers, n_roads=None)
    frames[ROAD] = pad_roads(frames[ROAD], layers[ROAD], 13_000)
    pages = build_site(layers, frames, tmp_path, generated_at=GENERATED, basemap="none")
    for page in pages:
        assert page.stat().st_size < MAX_PAGE_BYTES, (page.name, page.stat().st_size)


def test_missing_empty_and_point_frames_still_give_maps(layers, frames, tmp_path):
    """A missing frame, an empty one and a point layer: every page is written and works."""
    others = [lid for lid in layers if not lid.startswith("admin_")]
    as_points, empty, missing = others[:3]
    layers = dict(layers)
    layers[as_points] = layers[as_points].model_copy(
        update={"geometry": Geometry(type="MultiPoint")}
    )
    frames = dict(frames)
    frames[as_points] = frames[as_points].set_geometry(frames[as_points].representative_point())
    frames[empty] = frames[empty].iloc[:0]
    del frames[missing]
    build_site(layers, frames, tmp_path, generated_at=GENERATED, basemap="none")
    with DevTools() as browser:
        for lid, drawn in ((as_points, len(frames[as_points])), (empty, 0), (missing, 0)):
            browser.open(tmp_path / f"{lid}.html", "!!document.querySelector('path')")
            count = browser.evaluate(
                "document.querySelectorAll('.leaflet-onemap-point-pane path').length"
                if lid == as_points
                else "document.querySelectorAll('path.leaflet-interactive').length"
            )
            assert count == drawn, lid
            assert browser.errors == [], lid


# ---------------------------------------------------------------- in the browser


def test_onemap_renders_in_chromium(site, layers, frames):
    """The One Map opens with the layers whose file says map.visible (the others off)."""
    dom = dump_dom(site / "onemap.html")
    assert "leaflet-container" in dom
    paths = len(re.findall(r"<path\b[^>]*leaflet-interactive", dom))
    shown = [lid for lid, layer in layers.items() if layer.map.visible]
    assert 0 < len(shown) < len(layers)
    assert paths == sum(len(frames[lid]) for lid in shown)
    # the legend and title panels were moved into the map as Leaflet controls
    assert re.search(r'class="[^"]*onemap-legend[^"]*leaflet-control', dom)
    assert re.search(r'class="[^"]*onemap-title[^"]*leaflet-control', dom)
    assert "leaflet-control-layers" in dom


def test_pages_run_offline_without_errors(site, layers):
    with DevTools() as browser:
        for name in page_names(layers):
            browser.errors.clear()
            browser.requests.clear()
            ready = "!document.querySelector('.folium-map') || !!document.querySelector('path')"
            browser.open(site / name, ready)
            assert browser.errors == [], name
            offsite = [u for u in browser.requests if not u.startswith("file://")]
            assert offsite == [], name


def _layer_bounds_js(pane: str) -> str:
    return f"""(() => {{
        const map = window[document.querySelector('.folium-map').id];
        let b = null;
        map.eachLayer(l => {{ if (l instanceof L.GeoJSON && l.options.pane === {json.dumps(pane)})
                               b = l.getBounds(); }});
        return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
    }})()"""


_CLICK_FIRST = """(() => {
    const p = document.querySelector('.leaflet-pane path.leaflet-interactive');
    p.dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: 600, clientY: 400}));
    return document.querySelector('.leaflet-popup-content').innerText;
})()"""


def _popup_rows(text: str) -> dict[str, str]:
    """``{header: value}`` from a popup's innerText (one ``header\tvalue`` line per row)."""
    rows = (line.split("\t", 1) for line in text.splitlines() if "\t" in line)
    return {th.removesuffix(" sintetis").strip(): td.strip() for th, td in rows}


def test_features_land_where_the_data_is_and_pop_up_labels(site, layers, frames):
    with DevTools() as browser:
        for lid, layer in layers.items():
            browser.open(site / f"{lid}.html", "!!document.querySelector('path')")
            drawn = browser.evaluate(_layer_bounds_js(f"onemap-{layer.geometry_family}"))
            assert np.allclose(drawn, frames[lid].total_bounds, atol=1e-4), lid
            popup = browser.evaluate(_CLICK_FIRST)
            rows = _popup_rows(popup)
            assert popup.startswith(layer.title), lid
            assert [f.display("id") for f in layer.fields] == list(rows)[: len(layer.fields)]
            for field in layer.fields:
                if field.values:  # a value label (with its English one), never the raw code
                    labels = {v.label for v in field.values}
                    assert any(rows[field.display("id")].startswith(x) for x in labels), lid
