"""Merge the benchmark results into bench/results/latest.json, bench/RESULTS.md and plots.

Reads whatever parts exist (load.json, serve.json, maps.json in bench/results/) so each
part can be rerun alone; the README quotes RESULTS.md.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from bench.common import BENCH, RESULTS

PEERS = ("pygeoapi", "tipg")


def _read(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


# --- serve ----------------------------------------------------------------------------


def _serve_rows(serve: dict) -> dict[tuple[int, str], dict[str, dict]]:
    rows: dict[tuple[int, str], dict[str, dict]] = defaultdict(dict)
    for r in serve["results"]:
        rows[(r["size"], r["scenario"])][r["server"]] = r
    return rows


def serve_tables(serve: dict) -> list[str]:
    """One table per size: requests/s per server and onemap's ratio to each peer."""
    rows = _serve_rows(serve)
    out = [
        f"Measured {serve['date']} with wrk (8 connections, {serve['duration_s']} s per "
        "run, 2 server workers each) on loopback; requests/s (p50 / p95 latency in ms)"
        + (
            f" of each cell's median of {serve['rounds']} rounds (every server in turn per "
            "round), [the rounds' lowest–highest requests/s]. "
            if serve.get("rounds", 1) > 1
            else ", one run per cell. "
        )
        + "Ratio > 1: onemap is faster. *timeout*: the server took longer than the check's "
        "timeout for one request, so the cell was not driven. Response kB: the size of "
        "one response (uncompressed; onemap's tiles are simplified per zoom, the others' are not).",
        "",
    ]
    for size in sorted({k[0] for k in rows}):
        out += [
            f"**{size:,} road segments**",
            "",
            "| scenario | onemap | pygeoapi (stock) | tipg | onemap/pygeoapi | onemap/tipg "
            "| response kB (onemap / pygeoapi / tipg) |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for (sz, scenario), by in rows.items():
            if sz != size:
                continue
            cells = [_cell(by.get(s)) for s in ("onemap", *PEERS)]
            ratios = [_ratio(by.get("onemap"), by.get(p)) for p in PEERS]
            sizes = " / ".join(_kb(by.get(s)) for s in ("onemap", *PEERS))
            out.append(f"| {scenario} | " + " | ".join([*cells, *ratios, sizes]) + " |")
        out.append("")
    return out


SERVE_READING = [
    "**What makes the difference.** onemap's provider builds each page's GeoJSON in "
    "PostGIS and hands it to the response as text (pygeoapi's stock provider converts "
    "every row in Python), serialises only the rows of the "
    "page, counts an unfiltered layer once per published version and a filtered one up "
    "to 10,000 matches, and its connections skip parallel workers and JIT, which cost "
    "more than they save on short queries when the workers already use both cores. Its "
    "tiles are simplified to a quarter pixel per zoom (smaller responses: the kB "
    "column) and SRIDs are resolved once per process (pyproj's `to_epsg` was 70% of a "
    "z16 tile).",
    "",
    "**Tiles.** onemap's tiles are drawn from the generalised tables of each zoom "
    "(classes and attributes per zoom, lines merged up to z11, simplified), never over "
    "500 kB (thinned by importance), and served from its tile cache after the first "
    "request, answered before pygeoapi builds a tile provider (`onemap.serve.stored_tiles`; "
    'this table: cached; cold figures in "Cold tiles at 1M" and "10 million segments"). '
    "tipg and stock pygeoapi draw every intersecting feature at full resolution (tipg's "
    "cap of 10,000 features per tile lifted), which is why they time out at low zoom over "
    "a dense layer.",
    "",
    "**The 3-block bbox.** Its page and its count of 6,677 matches come from one statement "
    "since 2026-12-07 (they ran the exact `ST_Intersects` on the 6,881 candidate rows "
    "twice). Profile at 1M (2026-12-07): the statement takes 15.8 ms in the database "
    "(`EXPLAIN ANALYZE`, warm): the bitmap scan and exact test 11.3 ms of it — the index "
    "finds the candidates in 1 ms, reading them costs ~1 ms more, the exact test ~8 ms "
    "(3,712 candidates cross the box's edge and need GEOS) — then the keys' sort and the "
    "page's GeoJSON; in the server process a request costs ~22 ms, 17.6 of them waiting "
    "on that statement (cProfile). Tried and dropped: skipping GEOS for rows whose box "
    "lies inside the query box (`geom @ box OR ST_Intersects`) saved 0.7 ms; "
    "`ST_DWithin(geom, box, 0)` was no faster. The page needs every match as much as the "
    "count does (in key order, a page needs them all). So 59–82 req/s (rounds and runs "
    "differ; an A/B of two commits on one table, alternating, gave 68–82 each) is "
    "1.6–2.2× the issue's 37 and 2.4–3.0× tipg: 4× (148 req/s) would need under 13.5 ms "
    "of CPU per request on the 2 cores, less than the database's part alone.",
    "",
]


def _cell(r: dict | None) -> str:
    if not r:
        return "–"
    if r.get("timeout_s"):
        return f"timeout (> {r['timeout_s']} s)"
    if r.get("error"):
        return "error"
    if not r.get("rps"):
        return "0 (timeouts)"
    spread = r.get("rps_rounds") or []
    rounds = f" [{min(spread):.0f}–{max(spread):.0f}]" if len(spread) > 1 else ""
    return f"{r['rps']:.0f} ({r['p50_ms']:.0f} / {r['p95_ms']:.0f}){rounds}"


def _kb(r: dict | None) -> str:
    return f"{r['bytes'] / 1e3:,.0f}" if r and r.get("bytes") is not None else "–"


def _ratio(a: dict | None, b: dict | None) -> str:
    if not a or not a.get("rps") or not b or b.get("error"):
        return "–"
    if b.get("timeout_s") or not b.get("rps"):
        return "∞ (peer timed out)"
    return f"{a['rps'] / b['rps']:.1f}×"


# --- load -----------------------------------------------------------------------------


def load_tables() -> list[str]:
    """The load benchmark's own markdown (bench/LOAD.md), without its title."""
    return _body(BENCH / "LOAD.md")


def maps_tables() -> list[str]:
    """The maps benchmark's description and tables (bench/MAPS.md), without its title."""
    return _body(BENCH / "MAPS.md")


def _body(md: Path) -> list[str]:
    """A part's markdown without its title and the blank lines after it."""
    if not md.exists():
        return []
    lines = md.read_text().splitlines()[1:]
    while lines and not lines[0].strip():
        lines.pop(0)
    return lines


# --- ratios at a glance ---------------------------------------------------------------


def glance(parts: dict) -> list[str]:
    """One line per comparison and size: onemap's ratio to each peer."""
    out = ["| comparison | size | onemap ÷ peer |", "|---|---:|---|"]
    if parts.get("load"):
        out += _glance_load(parts["load"])
    if parts.get("serve"):
        for (size, scenario), by in sorted(_serve_rows(parts["serve"]).items()):
            ratios = ", ".join(f"{p} {_ratio(by.get('onemap'), by.get(p))}" for p in PEERS)
            out.append(f"| serve {scenario}, requests/s | {size:,} | {ratios} |")
    if parts.get("maps"):
        out += _glance_maps(parts["maps"])
    return out


def _glance_load(load: dict) -> list[str]:
    out = []
    for r in load["results"]:
        ratio = r["onemap_speed_over"]
        out.append(
            f"| load {r['dataset']} ({r['format']}), features/s | {r['features']:,} "
            f"| ogr2ogr {ratio['ogr2ogr']:.2f}×, to_postgis {ratio['to_postgis']:.2f}×"
            + (f", COPY limit {ratio['copy_limit']:.2f}×" if "copy_limit" in ratio else "")
            + " |"
        )
    return out


def _glance_maps(maps: dict) -> list[str]:
    by: dict[int, dict[str, dict]] = defaultdict(dict)
    for r in maps["results"]:
        by[r["segments"]][r["mode"]] = r
    out = []
    for n, modes in sorted(by.items()):
        peer = modes.get("explore")
        for mode, label in (("static", "embedded"), ("tiles", "tiled")):
            if peer and mode in modes:
                r = modes[mode]
                out.append(
                    f"| map page ({label}) vs geopandas explore(), gzip bytes / first "
                    f"render (lower is better) | {n:,} "
                    f"| {r['html_gzip_bytes'] / peer['html_gzip_bytes']:.2f}× / "
                    f"{r['median_first_render_ms'] / peer['median_first_render_ms']:.2f}× |"
                )
    return out


# --- plots ----------------------------------------------------------------------------


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot_serve(serve: dict, path: Path) -> bool:
    """requests/s against size per server for each scenario (needs matplotlib)."""
    plt = _pyplot()
    if plt is None:
        return False
    scenarios = list(dict.fromkeys(r["scenario"] for r in serve["results"]))
    fig, axes = plt.subplots(2, (len(scenarios) + 1) // 2, figsize=(14, 7), squeeze=False)
    for ax, scenario in zip(axes.flat, scenarios, strict=False):
        for server in ("onemap", *PEERS):
            pts = sorted(
                (r["size"], r.get("rps") or 0)
                for r in serve["results"]
                if r["scenario"] == scenario and r["server"] == server
            )
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=server)
        ax.set_xscale("log")
        ax.set_title(scenario, fontsize=9)
        ax.set_xlabel("road segments")
        ax.set_ylabel("requests/s")
    axes.flat[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def plot_load(load: dict, path: Path) -> bool:
    """Wall time against features per tool, one panel per dataset (GeoPackage inputs)."""
    plt = _pyplot()
    if plt is None:
        return False
    datasets = list(dict.fromkeys(r["dataset"] for r in load["results"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
    for ax, dataset in zip(axes.flat, datasets, strict=True):
        rows = [r for r in load["results"] if r["dataset"] == dataset and r["format"] == "gpkg"]
        for tool in ("onemap", "ogr2ogr", "to_postgis"):
            pts = sorted((r["features"], r["best"][tool]["wall_s"]) for r in rows)
            ax.plot(*zip(*pts, strict=True), marker="o", label=tool)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"load {dataset} (GeoPackage)", fontsize=9)
        ax.set_xlabel("features")
        ax.set_ylabel("wall time, s")
    axes.flat[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def main() -> None:
    """Write latest.json, RESULTS.md and the plots from the parts present."""
    parts = {name: _read(name) for name in ("load", "serve", "maps")}
    (RESULTS / "latest.json").write_text(json.dumps(parts, indent=1) + "\n")
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (bench/report.py) from bench/results/*.json; inputs are "
        "generated (bench/inputs.py, seeded) into bench/work/, never committed. Each part "
        "compares onemap with the tools a user would pick instead, in the same run on the "
        "same machine; compare ratios within a run, not absolutes across runs.",
        "",
    ]
    some = next((p for p in parts.values() if p and isinstance(p.get("machine"), dict)), None)
    if some:
        m = some["machine"]
        lines += [
            f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_mb']:,} MB, {m['os']}, "
            f"Python {m['python']}.",
            "",
        ]
    lines += ["## Ratios at a glance", "", *glance(parts), ""]
    if parts["load"]:
        lines += ["## Load: onemap load vs ogr2ogr vs GeoDataFrame.to_postgis", ""]
        lines += load_tables() + [""]
        if plot_load(parts["load"], BENCH / "load_scaling.png"):
            lines += ["![load wall time by size](load_scaling.png)", ""]
    if parts["serve"]:
        v = parts["serve"].get("versions", {})
        lines += [
            "## Serve: onemap vs pygeoapi (stock PostgreSQL/MVT providers) vs tipg",
            "",
            "`make bench-serve` (bench/serve.py): the road files of the load benchmark, "
            "loaded by onemap and served by each server from the same table. "
            + ", ".join(f"{k} {val}" for k, val in v.items())
            + ".",
            "",
        ]
        lines += serve_tables(parts["serve"]) + SERVE_READING
        if plot_serve(parts["serve"], BENCH / "scaling.png"):
            lines += ["![requests/s by size](scaling.png)", ""]
    if parts["maps"]:
        lines += ["## Maps: page weight and first render in headless Chromium", ""]
        lines += maps_tables() + [""]
    for part, title in (
        ("ORDER.md", "Rows in spatial order"),
        ("QUICKSTART.md", "Quick start"),
        ("SOAK.md", "Soak"),
        ("CLUSTER.md", "Cluster: HAProxy, API nodes, replicas"),  # bench/cluster.py writes it
        ("LOADCORES.md", "Load on both cores"),  # bench/load_cores.py, before/after
        ("GENERALISE.md", "Generalised tables: what a road load spends on them"),  # by hand
        ("COLDTILES.md", "Cold tiles at 1M: every z10–z12 tile rendered"),  # bench/cold_tiles.py
        ("TENM.md", "10 million segments"),  # make bench-10m (bench/ten_million.py)
        ("TARGETS.md", "Targets of the speed issue: met and missed"),  # by hand
    ):
        if (BENCH / part).exists():  # written by the part's own run, not by make bench
            lines += [f"## {title}", "", *_body(BENCH / part), ""]
    (BENCH / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {BENCH / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
