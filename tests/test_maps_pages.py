"""The site `onemap maps` writes from the demo data in the test database, in Chromium.

Every page (index, layer maps, One Map, choropleths) is opened with no network: no console
error, nothing requested off the site, the expected layers and legend entries, features
drawn; a screenshot of each is saved under tests/output/<db>/maps/. The choropleths carry
exactly the numbers ``onemap.indicators.district_choropleths`` gives.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onemap.core.layers import load_layers
from onemap.core.settings import DbSettings
from onemap.indicators import district_choropleths
from onemap.publish.maps import MAX_PAGE_BYTES, build_site
from onemap.publish.maps.choropleth import page_name
from onemap.publish.maps.write import site_indicators, write_site
from tests.browser import DevTools
from tests.conftest import OUTPUT

SHOTS = OUTPUT / "maps"
MAP = "window[document.querySelector('.folium-map').id]"
READY = "!document.querySelector('.folium-map') || !!document.querySelector('path')"
CONTROL_ENTRIES = "document.querySelectorAll('.leaflet-control-layers-overlays label').length"
CONTROL_ON = (
    "Array.from(document.querySelectorAll('.leaflet-control-layers-overlays input'))"
    ".filter(i => i.checked).length"
)
LEGEND = (
    "Array.from(document.querySelectorAll('.onemap-legend-layer')).filter(s => !s.hidden)"
    ".map(s => s.querySelectorAll('li.onemap-legend-entry').length)"
)
DRAWN = "document.querySelectorAll('.leaflet-onemap-{}-pane path').length"
# [name, code, value, city value, class] of every district drawn on a choropleth page
FEATURES = f"""(() => {{ const out = []; {MAP}.eachLayer(l => {{
    if (l.feature && l.options.pane === 'onemap-polygon') out.push(l.feature.properties); }});
    return out; }})()"""


@pytest.fixture(scope="module")
def demo_site(loaded, db_settings: DbSettings, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_site")
    write_site(out, basemap="none", settings=db_settings)
    return out


@pytest.fixture(scope="module")
def choropleths(loaded, db_settings):
    return district_choropleths(settings=db_settings)


def _id_number(value: float) -> str:
    """``value`` as onemap.js shows it (id-ID, up to 3 decimals): 11,768 or 2.595,615."""
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return text.replace(",", "_").replace(".", ",").replace("_", ".")


def _pages(site: Path) -> list[Path]:
    return sorted(site.glob("*.html"))


def test_every_page_is_under_the_budget_with_the_demo_data(demo_site, choropleths):
    weights = {p.name: p.stat().st_size for p in _pages(demo_site)}
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "page_weights.json").write_text(json.dumps(weights, indent=1))
    # the index, the One Map, a page per layer and one per choropleth
    assert choropleths, "the demo data gives district choropleths"
    assert len(weights) == 2 + len(load_layers()) + len(choropleths)
    for name, size in weights.items():
        assert size <= MAX_PAGE_BYTES, (name, size)


def test_choropleths_carry_the_indicator_values(demo_site, choropleths):
    index = (demo_site / "index.html").read_text(encoding="utf-8")
    with DevTools() as browser:
        for ch in choropleths:
            assert f'href="{page_name(ch)}"' in index, ch.name
            browser.open(demo_site / page_name(ch), READY)
            rows = browser.evaluate(FEATURES)
            assert len(rows) == len(ch.values) == 16, ch.name
            for _name, code, value, city, cls in rows:
                assert value == ch.values[code], (ch.name, code)
                assert city == ch.city_value
                assert cls.startswith("c") or (value is None and cls == "none")
            legend = browser.evaluate(LEGEND)
            classes = {r[4] for r in rows}
            assert legend == [len(classes)], ch.name
            note = browser.evaluate("document.querySelector('.onemap-legend-note').innerText")
            assert "natural breaks" in note and "Kota Semarang" in note
            assert browser.errors == [], ch.name


def test_choropleth_popup_gives_value_unit_and_city_value(demo_site, choropleths):
    ch = next(c for c in choropleths if c.name == "flooded_pct")
    with DevTools() as browser:
        browser.open(demo_site / page_name(ch), READY)
        box = browser.evaluate(
            "(() => { const r = document.querySelector('.leaflet-onemap-polygon-pane path')"
            ".getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        rows = browser.evaluate(FEATURES)
        browser.click(*box)
        text = browser.evaluate("document.querySelector('.leaflet-popup-content').innerText")
    assert text.startswith("Luas tergenang")
    assert "Luas tergenang (%)" in text and "Kota Semarang (%)" in text
    assert _id_number(ch.city_value) in text  # the city's value
    assert any(r[0] in text for r in rows)  # the district's name


def test_exports_are_written_and_linked(demo_site):
    index = (demo_site / "index.html").read_text(encoding="utf-8")
    files = sorted((demo_site / "indicators").iterdir())
    assert {f.suffix for f in files} == {".csv", ".json"}
    for f in files:
        assert f'href="indicators/{f.name}"' in index, f.name
    document = json.loads((demo_site / "indicators" / "indicators.json").read_text())
    assert document["indicators"][0]["indicator"] == "summary"


def _expect(name: str, layers) -> tuple[int, list[int], dict[str, int]]:
    """Layer-control entries, visible legend entry counts, drawn paths per pane."""
    if name == "onemap.html":
        shown = [lyr for lyr in layers.values() if lyr.map.visible]
        legend = [len(lyr.style_field.values) if lyr.style_field else 1 for lyr in shown]
        return len(layers), legend, {}
    layer = layers.get(name.removesuffix(".html"))
    if layer is None:  # a choropleth: one layer, its legend checked above
        return 1, [], {"polygon": 16}
    legend = [len(layer.style_field.values) if layer.style_field else 1]
    return (1 if layer.id == "admin_kecamatan" else 2), legend, {}


def test_every_page_runs_offline_with_its_layers_and_legend(demo_site, choropleths):
    layers = load_layers()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with DevTools() as browser:
        for page in _pages(demo_site):
            browser.errors.clear()
            browser.requests.clear()
            browser.open(page, READY + " && Array.from(document.images).every(i => i.complete)")
            assert browser.errors == [], page.name
            assert [u for u in browser.requests if not u.startswith("file://")] == [], page.name
            browser.screenshot(SHOTS / page.with_suffix(".png").name)
            if page.name == "index.html":
                sizes = browser.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
                assert len(sizes) == 1 + len(layers) + len(choropleths)
                assert all(w > 0 for w in sizes)
                continue
            entries, legend, drawn = _expect(page.name, layers)
            assert browser.evaluate(CONTROL_ENTRIES) == entries, page.name
            if legend:
                assert browser.evaluate(LEGEND) == legend, page.name
            for family, n in drawn.items():
                assert browser.evaluate(DRAWN.format(family)) == n, page.name
            assert browser.evaluate("document.querySelectorAll('path').length") > 0, page.name


def test_onemap_opens_with_the_layers_the_files_ask_for(demo_site):
    layers = load_layers()
    with DevTools() as browser:
        browser.open(demo_site / "onemap.html", READY)
        assert browser.evaluate(CONTROL_ON) == sum(lyr.map.visible for lyr in layers.values())
        hidden = [lid for lid, lyr in layers.items() if not lyr.map.visible]
        off = browser.evaluate(
            "Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
            ".filter(l => !l.querySelector('input').checked).map(l => l.innerText)"
        )
        assert [t.split("\n")[0].strip() for t in off] == [layers[h].title for h in hidden]


def test_locate_list_zooms_to_the_kecamatan(demo_site):
    with DevTools() as browser:
        for name in ("onemap.html", "road_condition.html", "indikator-mantap_pct.html"):
            browser.open(demo_site / name, READY)
            options = browser.evaluate(
                "Array.from(document.querySelectorAll('#onemap-locate-select option'))"
                ".map(o => o.textContent)"
            )
            assert len(options) == 17, name  # the prompt and the 16 kecamatan
            zoom = browser.evaluate(f"{MAP}.getZoom()")
            picked = browser.evaluate(
                """(() => { const s = document.getElementById('onemap-locate-select');
                s.value = '3'; s.dispatchEvent(new Event('change'));
                return s.options[s.selectedIndex].textContent; })()"""
            )
            # the fly-to animation takes its time on a busy machine: wait for it (5 s at most)
            browser.evaluate(
                "new Promise(r => { const t0 = Date.now(); (function wait() {"
                f" if ({MAP}.getZoom() > {zoom} || Date.now() - t0 > 5000) r();"
                " else setTimeout(wait, 50); })(); })"
            )
            assert browser.evaluate(f"{MAP}.getZoom()") > zoom, name
            outlined = browser.evaluate(
                "Array.from(document.querySelectorAll('path')).filter("
                "p => p.getAttribute('stroke-width') === '4').length"
            )
            assert outlined == 1, (name, picked)
            browser.screenshot(SHOTS / f"locate-{Path(name).stem}.png")
            assert browser.errors == [], name


def test_site_is_built_when_the_indicators_fail(tmp_path):
    """No database for the indicators: the maps are written, the index says why."""
    from tests.test_maps_site import GENERATED, make_frames

    layers = load_layers()
    indicators = site_indicators(tmp_path, layers, DbSettings(name="onemap_test_maps_absent"))
    assert "onemap_test_maps_absent" in (indicators.error or "")
    assert not indicators.choropleths and not indicators.exports
    pages = build_site(
        layers, make_frames(layers), tmp_path, generated_at=GENERATED, indicators=indicators
    )
    assert {p.name for p in pages} == {"index.html", "onemap.html"} | {
        f"{lid}.html" for lid in layers
    }
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "Indikator tidak tersedia" in index and "onemap_test_maps_absent" in index
