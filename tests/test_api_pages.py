"""The server's own HTML pages in headless Chromium, with everything but loopback cut off.

Every page (landing, collections, collection, items, item, queryables, tiles, processes,
the API document) must load with no request leaving the machine and no console error;
the items page draws its features in the layer's colours; ``?lang=id`` (the default) and
``?lang=en`` switch the words. Also: the Indonesian words are compiled and complete, and
the templates name no remote file.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.extract import extract_from_dir

from onemap.core.layers import load_layers
from onemap.publish.api_assets import WORDS, compiled_words, vendored_files
from onemap.serve.html import HTML_DIR
from tests.browser import DevTools, png_rgb
from tests.conftest import OUTPUT

SHOTS = OUTPUT / "api-pages"
# Chromium resolves no host but loopback: a page asking for a CDN fails instead of waiting.
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",)
LOCAL = {"127.0.0.1", "localhost", "[::1]", ""}
PYGEOAPI_TEMPLATES = Path(__import__("pygeoapi").__file__).parent / "templates"
REMOTE = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def pages(api: str) -> dict[str, tuple[str, str]]:
    """Page name -> (URL, JavaScript that is true once the page is drawn)."""
    item = _get_json(f"{api}/collections/road_condition/items?f=json&limit=1")["features"][0]
    drawn = "window.onemapDrawn > 0"
    return {
        "landing": (f"{api}/?f=html", "document.querySelector('#onemap-links')"),
        "collections": (f"{api}/collections?f=html", "true"),
        "collection": (f"{api}/collections/road_condition?f=html", drawn),
        "items": (f"{api}/collections/road_condition/items?f=html&limit=500&lang=id", drawn),
        "item": (f"{api}/collections/road_condition/items/{item['id']}?f=html", drawn),
        "queryables": (f"{api}/collections/road_condition/queryables?f=html", "true"),
        "tiles": (f"{api}/collections/road_condition/tiles?f=html", drawn),
        "processes": (f"{api}/processes?f=html", "true"),
        "api-document": (f"{api}/openapi?f=html", "document.querySelector('.opblock-tag')"),
    }


@pytest.mark.parametrize(
    "name",
    ["landing", "collections", "collection", "items", "item", "queryables", "tiles",
     "processes", "api-document"],
)  # fmt: skip
def test_page_loads_offline_without_errors(pages, name: str) -> None:
    url, ready = pages[name]
    with DevTools(flags=OFFLINE) as browser:
        browser.open(url, ready=f"document.readyState === 'complete' && ({ready})")
        browser.screenshot(SHOTS / f"{name}.png")
        styled = browser.evaluate("getComputedStyle(document.body).fontFamily")
    remote = [u for u in browser.requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
              and urlsplit(u).hostname not in LOCAL]  # fmt: skip
    assert remote == [], f"{name} asked the internet for {remote}"
    assert browser.errors == [], f"{name}: {browser.errors}"
    if name != "api-document":
        assert "system-ui" in styled, f"{name} is not styled by the One Map CSS: {styled}"


def _map_colours(browser: DevTools, selector: str) -> list[tuple[int, int, int]]:
    box = browser.evaluate(
        f"(() => {{ const r = document.querySelector('{selector}').getBoundingClientRect();"
        " return [r.x, r.y, r.width, r.height]; })()"
    )
    clip = dict(zip(("x", "y", "width", "height"), box, strict=True), scale=1)
    png = base64.b64decode(browser.call("Page.captureScreenshot", clip=clip)["data"])
    (SHOTS / "items-map.png").write_bytes(png)
    width, _, rows = png_rgb(png)
    return [tuple(row[i : i + 3]) for row in rows for i in range(0, width * 3, 3)]


def test_items_map_draws_the_layers_colours(pages) -> None:
    layer = load_layers()["road_condition"]
    colours = [v.color for v in layer.field(layer.style.field).values if v.color]
    targets = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in colours]
    with DevTools(flags=OFFLINE) as browser:
        browser.open(pages["items"][0], ready="window.onemapDrawn > 0")
        pixels = _map_colours(browser, "#items-map")
        legend = browser.evaluate("document.querySelector('.onemap-legend').innerText")

    def near(p, t):  # lines are drawn at 0.9 opacity over the plain background
        return sum(abs(a - b) for a, b in zip(p, t, strict=True)) < 40

    counts = {
        c: sum(1 for p in pixels if near(p, t)) for c, t in zip(colours, targets, strict=True)
    }
    assert sum(counts.values()) > 500, f"too few pixels of the layer's colours: {counts}"
    assert sum(1 for n in counts.values() if n > 20) >= 2, counts
    assert layer.field(layer.style.field).values[0].label in legend


def _words(browser: DevTools, url: str) -> dict[str, str]:
    browser.open(url)
    return browser.evaluate(
        "({lang: document.documentElement.lang,"
        " nav: document.querySelector('.onemap-nav').innerText,"
        " head: document.querySelector('#items-table thead') ?"
        " document.querySelector('#items-table thead').innerText : '',"
        " title: document.querySelector('h1').innerText})"
    )


def test_lang_switches_the_words(api: str) -> None:
    items = f"{api}/collections/road_condition/items?f=html&limit=5"
    with DevTools(flags=OFFLINE) as browser:
        indonesian = _words(browser, f"{items}&lang=id")
        english = _words(browser, f"{items}&lang=en")
        landing_en = _words(browser, f"{api}/?f=html&lang=en")
        landing_id = _words(browser, f"{api}/?f=html&lang=id")
    assert indonesian["lang"] == "id" and english["lang"] == "en"
    assert "Koleksi" in indonesian["nav"] and "Collections" in english["nav"]
    assert "Nama jalan" in indonesian["head"] and "Road name" in english["head"]
    assert "Kondisi Jalan" in indonesian["title"] and "Road condition" in english["title"]
    assert "Satu Peta" in landing_id["title"] and "One Map" in landing_en["title"]


def _html(url: str, **headers: str) -> str:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as r:
        return r.read().decode()


def test_indonesian_by_default_english_on_accept_language(api: str) -> None:
    plain = _html(f"{api}/collections?f=html")  # no language asked for: Indonesian, as the site
    assert '<html lang="id">' in plain and "Koleksi" in plain
    english = _html(f"{api}/collections?f=html", **{"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english and "Collections" in english


def test_indonesian_words_are_compiled_and_complete() -> None:
    assert (WORDS.with_suffix(".mo")).read_bytes() == compiled_words(), (
        "messages.mo is stale: run python -m onemap.publish.api_assets"
    )
    po = WORDS.read_text(encoding="utf-8")
    used = set()
    for root in (PYGEOAPI_TEMPLATES, HTML_DIR / "templates"):
        for filename, _, msg, _, _ in extract_from_dir(
            root, method_map=[("**.html", "jinja2")],
            options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
        ):  # fmt: skip
            if not filename.startswith(("stac/", "collections/edr/", "admin/")):
                used.add(msg if isinstance(msg, str) else msg[0])
    missing = sorted(m for m in used if f"msgid {json.dumps(m, ensure_ascii=False)}" not in po)
    assert missing == [], f"words with no Indonesian in messages.po: {missing}"


def test_templates_and_vendored_files_are_local() -> None:
    for path in (HTML_DIR / "templates").rglob("*.html"):
        assert not REMOTE.findall(path.read_text(encoding="utf-8")), path
    for path in vendored_files():
        assert path.is_file(), f"{path} missing: python -m onemap.publish.api_assets --fetch"
