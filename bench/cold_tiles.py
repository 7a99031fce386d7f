"""Cold tiles at 1,000,000 road segments: every z10–z12 tile of the layer, rendered.

    .venv/bin/python -m bench.cold_tiles [--segments 1000000] [--rounds 3] [--seconds 5]

The target of issue 14: at 1M, z10–z12 tiles rendered without a cache answer within
300 ms at p95, and cached tiles serve ≥ 20× the requests/s of cold ones. In one run,
on the road table bench/serve.py leaves in ``onemap_bench`` (loaded here when it holds
another size):

1. **Latency**: onemap with its tile cache off (2 workers), freshly started (so the first
   tile at each zoom in each worker is included), one client asking for every tile over
   the layer's extent at z10, z11 and z12 in a seeded random order, ``--rounds`` times;
   per zoom p50, p95 and max of the request time, the largest tile, how many were
   thinned (``X-Onemap-Tile-Thinned``).
2. **Throughput**: the centre tile of each zoom driven by wrk (8 connections), cache off
   and then cache on (bench/serve.py's machinery).

Writes bench/results/cold_tiles.json and bench/COLDTILES.md (bench/report.py puts it in
bench/RESULTS.md). A benchmark, not a test: nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import time
import urllib.request
from datetime import UTC, datetime

from bench import serve
from bench.common import BENCH, RESULTS, WORK, machine
from bench.inputs import input_file
from onemap.core.layers import get_layer
from onemap.core.settings import DbSettings, export
from onemap.load.loader import load_layer

ZOOMS = (10, 11, 12)
PORT = 5720
REPORT = BENCH / "COLDTILES.md"
RESULTS_FILE = RESULTS / "cold_tiles.json"
SEED = 14


def ensure_table(settings: DbSettings, n: int) -> None:
    """The bench table with ``n`` segments (loaded when it holds another count)."""
    import psycopg

    from onemap.db.connect import owner_conninfo

    with psycopg.connect(owner_conninfo(settings)) as conn:
        have = conn.execute(
            "SELECT CASE WHEN to_regclass('onemap.road_condition') IS NULL THEN -1 "
            "ELSE (SELECT count(*) FROM onemap.road_condition) END"
        ).fetchone()[0]
        if have == n:
            return
    load_layer(get_layer("road_condition"), input_file("roads", n), settings=settings)
    serve.settle(settings)


def extent(settings: DbSettings) -> tuple[float, float, float, float]:
    """The table's extent in longitude/latitude."""
    import psycopg

    from onemap.db.connect import reader_conninfo

    with psycopg.connect(reader_conninfo(settings)) as conn:
        return conn.execute(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT ST_Extent(geom) AS e FROM onemap.road_condition) s"
        ).fetchone()


def tile_range(z: int, box: tuple[float, float, float, float]) -> list[tuple[int, int]]:
    """(x, y) of every WebMercatorQuad tile over ``box`` at zoom ``z``."""
    n = 2**z

    def col(lon: float) -> int:
        return int((lon + 180) / 360 * n)

    def row(lat: float) -> int:
        return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    x0, y0, x1, y1 = col(box[0]), row(box[3]), col(box[2]), row(box[1])
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def url(z: int, x: int, y: int) -> str:
    """The tile's URL on the benchmark's server."""
    base = f"http://127.0.0.1:{PORT}/collections/road_condition/tiles/WebMercatorQuad"
    return f"{base}/{z}/{y}/{x}?f=mvt"


def fetch(u: str) -> dict:
    """One request: time, bytes, thinning."""
    t0 = time.perf_counter()
    with urllib.request.urlopen(u, timeout=120) as r:
        body = r.read()
        thinned = r.headers.get("X-Onemap-Tile-Thinned")
    return {"ms": (time.perf_counter() - t0) * 1000, "bytes": len(body), "thinned": thinned}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (linear between the closest ranks)."""
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def start(settings: DbSettings, cached: bool):
    """onemap on ``PORT`` with its tile cache on or off (an empty cache directory)."""
    cache_dir = WORK / "tile-cache-cold"
    shutil.rmtree(cache_dir, ignore_errors=True)
    cache_dir.mkdir(parents=True)
    from bench.ten_million import _own

    _own(cache_dir)
    export(ONEMAP_TILE_CACHE="true" if cached else "false", ONEMAP_TILE_CACHE_DIR=str(cache_dir))
    return serve.start("onemap", PORT, serve.write_configs(settings), settings)


def run(n: int, rounds: int, seconds: int) -> dict:
    """The latency rounds and the wrk cells, as JSON."""
    settings = DbSettings(name=serve.DB)
    ensure_table(settings, n)
    box = extent(settings)
    tiles = [(z, x, y) for z in ZOOMS for x, y in tile_range(z, box)]
    latency: list[dict] = []
    proc = start(settings, cached=False)
    try:
        for r in range(rounds):
            order = tiles[:]
            random.Random(SEED + r).shuffle(order)
            for z, x, y in order:
                latency.append({"round": r, "z": z, "x": x, "y": y} | fetch(url(z, x, y)))
        driven = [_drive("cold", z, seconds) for z in ZOOMS]
    finally:
        serve.stop(proc, settings)
    proc = start(settings, cached=True)
    try:
        driven += [_drive("cached", z, seconds) for z in ZOOMS]
    finally:
        serve.stop(proc, settings)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "segments": n,
        "rounds": rounds,
        "extent": box,
        "latency": latency,
        "wrk": driven,
    }


def _drive(label: str, z: int, seconds: int) -> dict:
    x, y = serve.tile_xy(z)
    u = url(z, x, y)
    serve.check(u)  # the cached server renders it once here
    return {"cache": label, "z": z, "url": u} | serve.wrk(u, seconds)


def report(res: dict) -> str:
    """COLDTILES.md from the JSON."""
    lines = [
        f"`python -m bench.cold_tiles` ({res['date'][:10]}): {res['segments']:,} generated "
        "road segments, onemap with 2 workers, the tile cache off; one client asks for every "
        f"tile over the layer's extent at z10–z12, {res['rounds']} rounds in a seeded random "
        "order, starting with a fresh server (each worker's first tile at a zoom included). "
        "Then the centre tile of each zoom driven by wrk (8 connections), cache off and on.",
        "",
        "| zoom | tiles | requests | p50 ms | p95 ms | max ms | largest kB | thinned "
        "| cold req/s | cached req/s | cached ÷ cold |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for z in ZOOMS:
        rows = [r for r in res["latency"] if r["z"] == z]
        ms = [r["ms"] for r in rows]
        cold = next(w for w in res["wrk"] if w["z"] == z and w["cache"] == "cold")
        cached = next(w for w in res["wrk"] if w["z"] == z and w["cache"] == "cached")
        lines.append(
            f"| {z} | {len({(r['x'], r['y']) for r in rows})} | {len(rows)} "
            f"| {percentile(ms, 50):.0f} | {percentile(ms, 95):.0f} | {max(ms):.0f} "
            f"| {max(r['bytes'] for r in rows) / 1000:.0f} "
            f"| {sum(1 for r in rows if r['thinned'])} "
            f"| {cold['rps']:.1f} | {cached['rps']:.0f} | {cached['rps'] / cold['rps']:.0f}× |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """CLI: python -m bench.cold_tiles [--segments N] [--rounds R] [--seconds S]."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--segments", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--report", action="store_true", help="only rewrite COLDTILES.md")
    args = ap.parse_args()
    if not args.report:
        RESULTS.mkdir(exist_ok=True)
        RESULTS_FILE.write_text(json.dumps(run(args.segments, args.rounds, args.seconds), indent=1))
    REPORT.write_text(report(json.loads(RESULTS_FILE.read_text())))
    print(f"wrote {RESULTS_FILE} and {REPORT}")


if __name__ == "__main__":
    main()
