"""Page weight and time to first render of the road map, 10k and 100k segments.

    python -m bench.maps [--sizes 10000 100000] [--runs 3] [--no-tiles]   (make bench-maps)

For each size the seeded street network of bench/inputs.py (``streets``: a jittered
lattice clipped to the kecamatan, 3 vertices and 90–270 m per segment, about the demo
network's shape) is drawn three ways:

- onemap, static: ``build_site``'s road page with every segment embedded;
- onemap, tiles (unless ``--no-tiles``): the same page drawing the layer from the OGC API
  vector tiles of a pygeoapi serving the network from a bench database
  (``onemap_maps_bench``);
- the peer: what an analyst would otherwise publish, ``GeoDataFrame.explore(column=
  "condition")`` saved as HTML (folium's ``GeoJson`` with every column, full-precision
  coordinates). Its scripts are pointed at the same vendored copies as onemap's pages
  (``onemap.publish.maps.assets.localise``), and its legend is off: it loads jQuery UI from a
  CDN, which this offline machine cannot reach.

Time to first render, in headless Chromium over the DevTools protocol: a probe injected
before the page's own scripts (``Page.addScriptToEvaluateOnNewDocument``) polls on every
animation frame until the features are there — static: the line pane holds one SVG path
per segment (explore: the overlay pane does); tiles: ``onemap.js`` marked the tile
layer's first ``load`` (every tile in view fetched and drawn) — then waits two more
frames, so the frame with the features has been produced, and records
``performance.now()``: milliseconds since navigation start.
Pages load from ``file://`` (no transfer time; the gzip size is what a server would send).
Each run is a first visit in a fresh Chromium with the cache off (tiles fetched anew),
after one unmeasured warm-up; the JS heap is read after a forced garbage collection.
Results: ``bench/results/maps.json`` and the table in ``bench/MAPS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import re
import socket
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd

from bench.common import machine
from bench.inputs import KECAMATAN, input_file
from onemap.core.layers import load_layers
from onemap.publish.maps import MAX_PAGE_BYTES, build_site
from onemap.publish.maps.assets import copy_assets, localise, remote_references

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / "work"
RESULTS = BENCH / "results" / "maps.json"
TABLE = BENCH / "MAPS.md"
ROAD, DISTRICTS = "road_condition", "admin_kecamatan"
BENCH_DB = "onemap_maps_bench"

_PROBE = """(() => {
  const ready = () => %s;
  const tick = () => {
    if (ready()) {
      requestAnimationFrame(() => requestAnimationFrame(() => {
        window.__firstRender = performance.now();
      }));
    } else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();"""
STATIC_READY = "document.querySelectorAll('.leaflet-onemap-line-pane path').length >= %d"
TILES_READY = f"performance.getEntriesByName('onemap:tiles:{ROAD}').length > 0"
SLOW_PEER_ABOVE = 10_000
EXPLORE_READY = "document.querySelectorAll('.leaflet-overlay-pane path').length >= %d"
MODES = {"static": "onemap: embedded rows", "tiles": "onemap: OGC API MVT",
         "explore": "geopandas explore()"}  # fmt: skip


def build(n: int, roads: gpd.GeoDataFrame, tiles_url: str | None) -> tuple[Path, float]:
    """The road page of the ``n`` network (static, or tiled from ``tiles_url``); build s."""
    layers = load_layers()
    layers = {lid: layers[lid] for lid in (DISTRICTS, ROAD)}
    districts = gpd.read_file(KECAMATAN)
    out = WORK / f"maps_site_{n}_{'tiles' if tiles_url else 'static'}"
    started = time.perf_counter()
    build_site(
        layers,
        {DISTRICTS: districts, ROAD: roads},
        out,
        basemap="none",
        tiles_url=tiles_url,
        tile_above_bytes=0,  # with a server, the road layer always comes from the tiles
        generated_at=dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
    )
    return out / f"{ROAD}.html", time.perf_counter() - started


def build_explore(n: int, roads: gpd.GeoDataFrame) -> tuple[Path, float]:
    """The peer's page: ``explore()`` of the same network, scripts from the vendored copies."""
    out = WORK / f"maps_site_{n}_explore"
    out.mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    started = time.perf_counter()
    m = roads.explore(column="condition", tiles=None, legend=False)
    localise(m.get_root())
    page = out / f"{ROAD}.html"
    m.save(page)
    elapsed = time.perf_counter() - started
    if remote_references(page.read_text(encoding="utf-8")):
        raise RuntimeError(f"{page} still loads from the internet")
    return page, elapsed


def weight(page: Path) -> dict[str, int]:
    """Bytes of the page, gzipped, and of the scripts and styles it loads."""
    html = page.read_bytes()
    refs = set(re.findall(rb'<(?:script|link)\b[^>]*?(?:src|href)="(assets/[^"]+)"', html))
    assets = sum((page.parent / ref.decode()).stat().st_size for ref in refs)
    return {
        "html_bytes": len(html),
        "html_gzip_bytes": len(gzip.compress(html, 6)),
        "asset_bytes": assets,
    }


def _run(page: Path, ready: str, shot: bool) -> dict[str, float]:
    """One first visit of ``page`` in a fresh Chromium: times, heap, tiles received."""
    from tests.browser import DevTools

    with DevTools(size=(1280, 800), timeout=300) as browser:
        browser.call("Performance.enable")
        browser.call("Network.setCacheDisabled", cacheDisabled=True)
        browser.call("Page.addScriptToEvaluateOnNewDocument", source=_PROBE % ready)
        browser.open(page, "window.__firstRender !== undefined")
        nav = browser.evaluate(
            "(() => { const n = performance.getEntriesByType('navigation')[0];"
            " const p = performance.getEntriesByName('first-contentful-paint')[0];"
            " return [window.__firstRender, p ? p.startTime : null,"
            " n.domContentLoadedEventEnd]; })()"
        )
        browser.call("HeapProfiler.collectGarbage")  # the heap the drawn page keeps
        metrics = {m["name"]: m["value"] for m in browser.call("Performance.getMetrics")["metrics"]}
        if browser.errors:
            raise RuntimeError(f"{page.name}: {browser.errors}")
        if shot:
            browser.screenshot(page.with_suffix(".png"))
        return {
            "first_render_ms": round(nav[0], 1),
            "fcp_ms": None if nav[1] is None else round(nav[1], 1),
            "dom_content_loaded_ms": round(nav[2], 1),
            "js_heap_mb": round(metrics["JSHeapUsedSize"] / 1e6, 1),
            # tiles of the first view as sent (gzipped: pygeoapi.yml has gzip: true)
            "tile_bytes": sum(n for url, n in browser.received if url.startswith("http")),
            "tile_requests": sum(url.startswith("http") for url in browser.requests),
        }


def render_times(page: Path, ready: str, runs: int, warm_up: bool = True) -> list[dict]:
    """``runs`` measured first visits, after one unmeasured (warms the server and the OS)."""
    if warm_up:
        _run(page, ready, shot=True)
    return [_run(page, ready, shot=not warm_up and i == 0) for i in range(runs)]


class TileServer:
    """pygeoapi on a free port serving ``BENCH_DB``, where each network is loaded in turn."""

    def __enter__(self) -> TileServer:
        from onemap.core.settings import DbSettings, export

        export(ONEMAP_DB_NAME=BENCH_DB)
        from onemap.db import schema
        from onemap.load.demo import load_all, prepare
        from onemap.serve.server import start_background

        self.settings = DbSettings(name=BENCH_DB)
        schema.up(self.settings)
        demo = ROOT / "build" / "demo"
        prepare(demo)
        load_all(demo, settings=self.settings)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.proc = start_background(port, workers=2, log=WORK / "maps_pygeoapi.log")
        self.url = f"http://127.0.0.1:{port}"
        return self

    def load(self, path: Path) -> None:
        """Publish ``path`` as the road layer of the bench database."""
        from onemap.load.loader import load_layer

        load_layer(load_layers()[ROAD], path, settings=self.settings)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def measure(n: int, runs: int, server: TileServer | None) -> list[dict]:
    """Both variants of the ``n``-segment road page: weights, build and render times."""
    path = input_file("streets", n)
    roads = gpd.read_file(path)
    variants = [("static", None)]
    if server is not None:
        server.load(path)
        variants.append(("tiles", server.url))
    variants.append(("explore", None))
    rows = []
    for mode, url in variants:
        if mode == "explore":
            page, build_s = build_explore(n, roads)
        else:
            page, build_s = build(n, roads, url)
        ready = {"static": STATIC_READY % n, "tiles": TILES_READY, "explore": EXPLORE_READY % n}[
            mode
        ]
        # explore() past 10,000 segments takes over a minute per visit: one, no warm-up
        slow = mode == "explore" and n > SLOW_PEER_ABOVE
        times = render_times(page, ready, 1 if slow else runs, warm_up=not slow)
        # a measure a visit could not take (None) is left out of that key's median
        seen = {k: [t[k] for t in times if t.get(k) is not None] for k in times[0]}
        med = {k: statistics.median(v) for k, v in seen.items() if v}
        rows.append(
            {
                "segments": n,
                "mode": mode,
                **weight(page),
                "build_s": round(build_s, 2),
                **{f"median_{k}": round(v, 1) for k, v in med.items()},
                "runs": times,
            }
        )
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "runs"}), flush=True)
    return rows


def table(rows: list[dict]) -> str:
    """The Markdown table of ``bench/MAPS.md``."""
    lines = [
        "| segments | page | page (HTML) | gzip | scripts+styles | tiles, first view | "
        "page under 5 MB | build | first render (median) | DOMContentLoaded | JS heap |",
        "|---:|---|---:|---:|---:|---:|:-:|---:|---:|---:|---:|",
    ]
    for r in rows:
        tiles = "–"
        if r["mode"] == "tiles":
            tiles = f"{r['median_tile_bytes'] / 1e6:.2f} MB in {r['median_tile_requests']:.0f}"
        lines.append(
            f"| {r['segments']:,} | {MODES[r['mode']]} "
            f"| {r['html_bytes'] / 1e6:.2f} MB | {r['html_gzip_bytes'] / 1e6:.2f} MB "
            f"| {r['asset_bytes'] / 1e3:.0f} kB "
            f"| {tiles} "
            f"| {'yes' if r['html_bytes'] <= MAX_PAGE_BYTES else '**no**'} "
            f"| {r['build_s']:.1f} s | {r['median_first_render_ms'] / 1e3:.2f} s "
            f"| {r['median_dom_content_loaded_ms'] / 1e3:.2f} s | {r['median_js_heap_mb']:.0f} MB |"
        )
    lines += ["", "| segments | onemap page | ÷ explore(): HTML bytes | gzip | first render "
              "| JS heap |", "|---:|---|---:|---:|---:|---:|"]  # fmt: skip
    for n in sorted({r["segments"] for r in rows}):
        by = {r["mode"]: r for r in rows if r["segments"] == n}
        peer = by.get("explore")
        for mode in ("static", "tiles"):
            if peer is None or mode not in by:
                continue
            r = by[mode]
            lines.append(
                f"| {n:,} | {MODES[mode]} | {r['html_bytes'] / peer['html_bytes']:.2f}× "
                f"| {r['html_gzip_bytes'] / peer['html_gzip_bytes']:.2f}× "
                f"| {r['median_first_render_ms'] / peer['median_first_render_ms']:.2f}× "
                f"| {r['median_js_heap_mb'] / peer['median_js_heap_mb']:.2f}× |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Measure, then write ``bench/results/maps.json`` and the table in ``bench/MAPS.md``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-tiles", action="store_true", help="static pages only (no server)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    rows: list[dict] = []
    if args.no_tiles:
        for n in args.sizes:
            rows += measure(n, args.runs, None)
    else:
        with TileServer() as server:
            for n in args.sizes:
                rows += measure(n, args.runs, server)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "date": dt.datetime.now(dt.UTC).date().isoformat(),
                "machine": machine(),
                "runs": args.runs,
                "results": rows,
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    text = TABLE.read_text(encoding="utf-8") if TABLE.exists() else ""
    start, end = "<!-- maps-table -->\n", "<!-- /maps-table -->\n"
    block = start + table(rows) + end
    if start in text and end in text:
        text = text.split(start)[0] + block + text.split(end, 1)[1]
    else:
        text += "\n" + block
    TABLE.write_text(text, encoding="utf-8")
    print(table(rows))


if __name__ == "__main__":
    main()
