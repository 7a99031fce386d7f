"""Page weight and time to first render of the road map, 10k and 100k segments.

    python -m bench.maps [--sizes 10000 100000] [--runs 3] [--no-tiles]   (make bench-maps)

For each size a seeded street network is generated into ``bench/work/`` (a jittered
lattice clipped to the kecamatan, one segment per block side with a bend in the middle:
about the demo network's shape, 3 vertices and 90–270 m per segment; ``bench/roads.py``
makes 5–50-vertex random walks for the API benchmarks, which would overstate a page). The
road page is built twice with ``build_site``: static (every segment embedded) and, unless
``--no-tiles``, drawn from the OGC API vector tiles of a pygeoapi serving the same network
from a bench database (``onemap_maps_bench``).

Time to first render, in headless Chromium over the DevTools protocol: a probe injected
before the page's own scripts (``Page.addScriptToEvaluateOnNewDocument``) polls on every
animation frame until the features are there — static: the line pane holds one SVG path
per segment; tiles: ``onemap.js`` marked the tile layer's first ``load`` (every tile in
view fetched and drawn) — then waits two more frames, so the frame with the features has
been produced, and records ``performance.now()``: milliseconds since navigation start.
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
import os
import platform
import re
import socket
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from etl.roads import condition_from_iri
from onemap.layers import load_layers
from onemap.maps import MAX_PAGE_BYTES, build_site

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / "work"
RESULTS = BENCH / "results" / "maps.json"
TABLE = BENCH / "MAPS.md"
KECAMATAN = ROOT / "data" / "real" / "admin_cahyadsn" / "semarang_kecamatan.geojson"
ROAD, DISTRICTS = "road_condition", "admin_kecamatan"
BENCH_DB = "onemap_maps_bench"
UTM = 32749
SEED = 20261124

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


def street_network(n: int, seed: int = SEED) -> gpd.GeoDataFrame:
    """``n`` road segments on a jittered lattice inside the city, road_condition's fields."""
    rng = np.random.default_rng(seed)
    city = gpd.read_file(KECAMATAN).to_crs(UTM).union_all()
    spacing = (2 * city.area / n) ** 0.5 * 0.97  # 2 edges per lattice node
    x0, y0, x1, y1 = city.bounds
    gx, gy = np.meshgrid(np.arange(x0, x1 + spacing, spacing), np.arange(y0, y1 + spacing, spacing))
    nodes = np.stack([gx, gy], axis=-1) + rng.uniform(-0.3, 0.3, gx.shape + (2,)) * spacing
    starts = np.concatenate([nodes[:, :-1].reshape(-1, 2), nodes[:-1, :].reshape(-1, 2)])
    ends = np.concatenate([nodes[:, 1:].reshape(-1, 2), nodes[1:, :].reshape(-1, 2)])
    mids = (starts + ends) / 2 + rng.normal(0, 0.08 * spacing, starts.shape)
    inside = shapely.contains_xy(city, mids[:, 0], mids[:, 1])
    keep = rng.permutation(np.flatnonzero(inside))[:n]
    if len(keep) < n:
        raise RuntimeError(f"lattice gave {len(keep)} segments inside the city, not {n}")
    coords = np.stack([starts[keep], mids[keep], ends[keep]], axis=1)
    frame = gpd.GeoDataFrame(geometry=shapely.linestrings(coords), crs=UTM).to_crs(4326)
    function = rng.choice(
        ["arteri", "kolektor", "lokal", "lingkungan"], n, p=[0.05, 0.1, 0.25, 0.6]
    )
    status = np.where(function == "arteri", "nasional", "kota")
    status[(function == "kolektor") & (rng.random(n) < 0.4)] = "provinsi"
    iri = np.round(rng.lognormal(1.6, 0.5, n).clip(0.5, 29.9), 1)
    days = rng.integers(0, 183, n)
    frame["segment_id"] = [f"bench-{i:06d}" for i in range(n)]
    frame["name"] = [f"Jalan Uji {i % 4000}" if i % 2 else None for i in range(n)]
    frame["status"], frame["function"] = status, function
    frame["surface"] = rng.choice(["aspal", "beton", "paving"], n, p=[0.6, 0.25, 0.15])
    frame["width_m"] = np.round(rng.uniform(3, 12, n), 1)
    frame["condition"], frame["iri"] = condition_from_iri(iri), iri
    frame["survey_date"] = [
        (dt.date(2026, 4, 1) + dt.timedelta(days=int(d))).isoformat() for d in days
    ]
    frame["source"] = "synthetic"
    return frame


def network_file(n: int) -> Path:
    """The seeded network of ``n`` segments as a GeoPackage (made once, then reused)."""
    path = WORK / f"maps_roads_{n}.gpkg"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        street_network(n).to_file(path, layer=ROAD, driver="GPKG")
    return path


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


def render_times(page: Path, ready: str, runs: int) -> list[dict[str, float]]:
    """``runs`` measured first visits, after one unmeasured (warms the server and the OS)."""
    _run(page, ready, shot=True)
    return [_run(page, ready, shot=False) for _ in range(runs)]


class TileServer:
    """pygeoapi on a free port serving ``BENCH_DB``, where each network is loaded in turn."""

    def __enter__(self) -> TileServer:
        os.environ["ONEMAP_DB_NAME"] = BENCH_DB
        from onemap.db import schema
        from onemap.demo import load_all, prepare
        from onemap.serve import start_background
        from onemap.settings import DbSettings

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
        from onemap.etl.load import load_layer

        load_layer(load_layers()[ROAD], path, settings=self.settings)

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)


def measure(n: int, runs: int, server: TileServer | None) -> list[dict]:
    """Both variants of the ``n``-segment road page: weights, build and render times."""
    path = network_file(n)
    roads = gpd.read_file(path)
    variants = [("static", None)]
    if server is not None:
        server.load(path)
        variants.append(("tiles", server.url))
    rows = []
    for mode, url in variants:
        page, build_s = build(n, roads, url)
        ready = STATIC_READY % n if mode == "static" else TILES_READY
        times = render_times(page, ready, runs)
        med = {
            k: statistics.median(t[k] for t in times) for k in times[0] if times[0][k] is not None
        }
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
        "| segments | drawn from | page (HTML) | gzip | scripts+styles | tiles, first view | "
        "page under 5 MB | build | first render (median) | DOMContentLoaded | JS heap |",
        "|---:|---|---:|---:|---:|---:|:-:|---:|---:|---:|---:|",
    ]
    for r in rows:
        tiles = "–"
        if r["mode"] == "tiles":
            tiles = f"{r['median_tile_bytes'] / 1e6:.2f} MB in {r['median_tile_requests']:.0f}"
        lines.append(
            f"| {r['segments']:,} | {'embedded rows' if r['mode'] == 'static' else 'OGC API MVT'} "
            f"| {r['html_bytes'] / 1e6:.2f} MB | {r['html_gzip_bytes'] / 1e6:.2f} MB "
            f"| {r['asset_bytes'] / 1e3:.0f} kB "
            f"| {tiles} "
            f"| {'yes' if r['html_bytes'] <= MAX_PAGE_BYTES else '**no**'} "
            f"| {r['build_s']:.1f} s | {r['median_first_render_ms'] / 1e3:.2f} s "
            f"| {r['median_dom_content_loaded_ms'] / 1e3:.2f} s | {r['median_js_heap_mb']:.0f} MB |"
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
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}"
    RESULTS.write_text(
        json.dumps(
            {
                "date": dt.datetime.now(dt.UTC).date().isoformat(),
                "machine": machine,
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
