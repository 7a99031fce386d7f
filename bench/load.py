"""Load benchmark: ``onemap load`` against ogr2ogr (COPY) and GeoDataFrame.to_postgis.

    .venv/bin/python -m bench.load [--max 100000] [--only roads,zoning] [--repeat 2] [--profile]

Inputs (``CASES``) come from bench/inputs.py, generated once into bench/work/ (never
committed): road segments and zoning parcels at 10k, 100k and 1M, flood patches at 1k,
10k and 100k, as GeoPackage, and 100k road segments as GeoJSON. Each is loaded with:

- onemap:     ``onemap load <layer> FILE`` (validation, staging, constraints, the layer's
              indexes, history of the previous version) into database ``onemap_bench``;
- ogr2ogr:    ``ogr2ogr -f PostgreSQL PG:… FILE -lco GEOMETRY_NAME=geom
              --config PG_USE_COPY YES`` (GiST index, no validation) into the same database;
- to_postgis: ``geopandas.read_file`` + ``GeoDataFrame.to_postgis`` (GiST index);
- copy_limit: the physical limit (bench/copy_limit.py): psql COPYing the rows onemap
              would COPY, encoded beforehand (untimed), then the GiST index build.

Each tool runs as a child process under /usr/bin/time: wall time around it, peak RSS the
child's own (the PostgreSQL backends are not counted, for any tool). Tools alternate
within each repeat and the best run of each counts (to_postgis, minutes and gigabytes
each time, runs once): only ratios measured in one run mean anything. The database is
dropped and built anew at the start. Writes bench/results/load.json and bench/LOAD.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import copy_limit
from bench.common import (
    BENCH,
    RESULTS,
    ROOT,
    WORK,
    byte_compile,
    commit,
    fresh_database,
    machine,
)
from bench.inputs import input_file, layer_of
from onemap.core.settings import child_env, export

DB = "onemap_bench"
REPORT = BENCH / "LOAD.md"
RESULTS_FILE = RESULTS / "load.json"
# (dataset, format, features): roads and parcels at the three sizes, flood patches at a
# tenth of them (a city has fewer flood zones than parcels), one GeoJSON file (the other
# common hand-over format: a different reader, text coordinates).
CASES = [
    ("roads", "gpkg", 10_000), ("roads", "gpkg", 100_000), ("roads", "gpkg", 1_000_000),
    ("roads", "geojson", 100_000),
    ("zoning", "gpkg", 10_000), ("zoning", "gpkg", 100_000), ("zoning", "gpkg", 1_000_000),
    ("flood", "gpkg", 1_000), ("flood", "gpkg", 10_000), ("flood", "gpkg", 100_000),
]  # fmt: skip
TOOLS = ("onemap", "ogr2ogr", "copy_limit", "to_postgis")


def spawn(cmd: list[str], env: dict[str, str]) -> dict:
    """Run a child under /usr/bin/time: wall time, and the child's own peak RSS.

    (``ru_maxrss`` of a child forked from this process would count this process's pages,
    which the fork shares until exec; /usr/bin/time is small, so its child's is exact.)
    """
    with tempfile.NamedTemporaryFile("r") as stats, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        code = subprocess.call(
            ["/usr/bin/time", "-f", "%M", "-o", stats.name, *cmd],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        wall = time.perf_counter() - t0
        if code:
            err.seek(0)
            text = err.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"{cmd[0]} {cmd[1]} … failed ({code}):\n{text}")
        peak_kb = int(stats.read().split()[-1])
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(peak_kb / 1024, 1)}


def tools(
    dataset: str, path: Path, conninfo: str, only: tuple[str, ...] = TOOLS
) -> dict[str, list[str]]:
    """The commands loading ``path`` (tables: see ``tables``); the COPY limit's encoded
    rows are prepared here, before any timing, when it is in ``only``."""
    py = sys.executable
    gpd_script = (
        "import sys, geopandas as gpd, sqlalchemy as sa, psycopg;"
        "df = gpd.read_file(sys.argv[1]);"
        "eng = sa.create_engine('postgresql+psycopg://',"
        " creator=lambda: psycopg.connect(sys.argv[2]));"
        "df.to_postgis(sys.argv[3], eng, schema='bench', if_exists='replace', index=False)"
    )
    pg = "PG:" + conninfo  # no password here: it travels in PGPASSWORD (see main)
    return {
        "onemap": [py, "-m", "onemap.cli", "load", layer_of(dataset), str(path)],
        "ogr2ogr": [
            "ogr2ogr", "-f", "PostgreSQL", pg, str(path), "-nln", f"{dataset}_ogr",
            "-lco", "SCHEMA=bench", "-lco", "GEOMETRY_NAME=geom", "--config", "PG_USE_COPY", "YES",
        ],
        "to_postgis": [py, "-c", gpd_script, str(path), conninfo, f"{dataset}_gpd"],
        **({"copy_limit": copy_limit.command(dataset, layer_of(dataset), path, conninfo)}
           if "copy_limit" in only else {}),
    }  # fmt: skip


def tables(dataset: str) -> dict[str, str]:
    """Where each tool writes ``dataset``."""
    return {"onemap": f"onemap.{layer_of(dataset)}", "ogr2ogr": f"bench.{dataset}_ogr",
            "to_postgis": f"bench.{dataset}_gpd",
            "copy_limit": copy_limit.table(dataset)}  # fmt: skip


def count(conninfo: str, table: str) -> int:
    """Rows in a table (to check that every tool loaded everything)."""
    import psycopg

    with psycopg.connect(conninfo) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names


def versions(conninfo: str) -> dict[str, str]:
    """Versions of everything measured."""
    import geopandas
    import psycopg
    import pyogrio
    import shapely

    with psycopg.connect(conninfo) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        postgis = conn.execute("SELECT postgis_lib_version()").fetchone()[0]
    ogr = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout
    return {
        "python": platform.python_version(),
        "postgresql": pg,
        "postgis": postgis,
        "ogr2ogr": ogr.strip(),
        "gdal_in_pyogrio": pyogrio.__gdal_version_string__,
        "pyogrio": pyogrio.__version__,
        "geopandas": geopandas.__version__,
        "shapely": shapely.__version__,
        "psycopg": psycopg.__version__,
        "onemap_commit": commit(),
    }


def drop_peer_tables(conninfo: str, dataset: str) -> None:
    """Before each ogr2ogr/to_postgis run (as their -overwrite/replace would do)."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            f"DROP TABLE IF EXISTS bench.{dataset}_ogr, bench.{dataset}_gpd, "
            f"{copy_limit.table(dataset)}"
        )


def prepare_db(db: str = DB) -> tuple[str, str]:
    """A fresh bench database (built by `onemap db up`'s code) and its peer schema.

    Returns a libpq conninfo without the password, and the password (for PGPASSWORD, so
    that it appears in no command line)."""
    import psycopg

    export(ONEMAP_DB_NAME=db)
    from onemap.db.connect import owner_conninfo

    settings = fresh_database(db)
    params = psycopg.conninfo.conninfo_to_dict(owner_conninfo(settings))
    password = str(params.pop("password", "") or "")
    params.pop("application_name", None)
    conninfo = psycopg.conninfo.make_conninfo(**params)
    with psycopg.connect(conninfo, password=password, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
    return conninfo, password


def profile(path: Path) -> str:
    """cProfile of one onemap load (main thread), top functions by own time."""
    out = ROOT / "bench" / "results" / "load_profile.txt"
    prof = WORK / "load.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "onemap.cli"]
    subprocess.run(
        [*cmd, "load", "road_condition", str(path)],
        check=True,
        env=child_env(**{"ONEMAP_DB_NAME": DB}),
        capture_output=True,
    )
    import io
    import pstats

    buf = io.StringIO()
    pstats.Stats(str(prof), stream=buf).sort_stats("tottime").print_stats(25)
    out.write_text(buf.getvalue())
    return str(out.relative_to(ROOT))


def run_case(
    dataset: str,
    fmt: str,
    n: int,
    repeat: int,
    conninfo: str,
    env: dict,
    path: Path | None = None,
    only: tuple[str, ...] = TOOLS,
    measure=None,
) -> dict:
    """Every tool (of ``only``) on one input, ``repeat`` times (to_postgis once); the runs
    and the best. ``path``: the input (default: ``input_file``); ``measure``: called with
    the tool's name after each of its runs, before the peers' tables are dropped (what it
    returns is kept with the run)."""
    path = path or input_file(dataset, n, fmt)
    size_mb = path.stat().st_size / 1e6
    print(f"{dataset} {n:,} ({fmt}): {path.name} ({size_mb:.0f} MB)", flush=True)
    runs: dict[str, list[dict]] = {}
    commands = {k: v for k, v in tools(dataset, path, conninfo, only).items() if k in only}
    for r in range(repeat):
        order = list(commands.items())
        order = order[r % len(order) :] + order[: r % len(order)]  # no tool always first
        for name, cmd in order:
            if name == "to_postgis" and r:
                continue  # minutes and gigabytes each time, and far behind: run once
            if name != "onemap":
                drop_peer_tables(conninfo, dataset)
            got = spawn(cmd, env)
            rows = count(conninfo, tables(dataset)[name])
            if rows != n:
                raise SystemExit(f"{name} loaded {rows} of {n} rows from {path.name}")
            got["features_per_s"] = round(n / got["wall_s"])
            if measure is not None:
                got |= measure(name)
            runs.setdefault(name, []).append(got)
            print(f"  {name:10} {got['wall_s']:7.2f} s  {got['features_per_s']:>9,} f/s  "
                  f"{got['peak_rss_mb']:7.1f} MB", flush=True)  # fmt: skip
    drop_peer_tables(conninfo, dataset)
    best = {k: min(v, key=lambda x: x["wall_s"]) for k, v in runs.items()}
    onemap = best["onemap"]["features_per_s"]
    return {
        "dataset": dataset,
        "layer": layer_of(dataset),
        "format": fmt,
        "features": n,
        "vertices": vertices(path),
        "file_mb": round(size_mb, 1),
        "runs": runs,
        "best": best,
        "onemap_speed_over": {
            peer: round(onemap / best[peer]["features_per_s"], 2)
            for peer in best
            if peer != "onemap"
        },
    }


def vertices(path: Path) -> int:
    """Vertices in the file (the work a loader does grows with them, not only with rows);
    read in batches, so that a 10-million-row file is counted in little memory."""
    import pyogrio
    import shapely

    total = 0
    with pyogrio.open_arrow(path, columns=[], batch_size=100_000, use_pyarrow=True) as (
        meta,
        reader,
    ):
        for batch in reader:
            wkb = batch.column(meta["geometry_name"] or "wkb_geometry")
            total += int(shapely.get_num_coordinates(shapely.from_wkb(wkb)).sum())
    return total


def main() -> None:
    """Generate, load with each tool, record, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=1_000_000, help="skip inputs above this size")
    parser.add_argument("--only", help="comma-separated datasets (roads, zoning, flood)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="also cProfile one onemap load")
    parser.add_argument("--report", action="store_true", help="only rewrite LOAD.md from JSON")
    args = parser.parse_args()
    if args.report:
        REPORT.write_text(markdown(json.loads(RESULTS_FILE.read_text())))
        return
    only = set(args.only.split(",")) if args.only else None
    cases = [c for c in CASES if c[2] <= args.max and (only is None or c[0] in only)]
    byte_compile()
    conninfo, password = prepare_db()
    env = child_env(**{"ONEMAP_DB_NAME": DB, "PGPASSWORD": password})
    export(PGPASSWORD=password)  # for this process's own queries
    load_before = os.getloadavg()
    results = [run_case(*case, args.repeat, conninfo, env) for case in cases]
    report = {
        "load_average": [load_before, os.getloadavg()],
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(conninfo),
        "repeat": args.repeat,
        "results": results,
    }
    if args.profile:
        report["profile"] = profile(input_file("roads", max(c[2] for c in cases)))
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    REPORT.write_text(markdown(report))
    print(f"wrote {RESULTS_FILE.relative_to(ROOT)} and {REPORT.relative_to(ROOT)}")
    for res in results:
        ratios = res["onemap_speed_over"]
        print(
            f"{res['dataset']} {res['features']:>9,} {res['format']:7}: onemap is "
            f"{ratios['ogr2ogr']}× ogr2ogr and {ratios['to_postgis']}× to_postgis (features/s)"
        )


def reading(results: list[dict]) -> list[str]:
    """What the table says, from the figures themselves."""
    smallest = min(results, key=lambda r: r["features"])
    b = smallest["best"]
    lines = [
        "**Reading.** Below about 100,000 features onemap pays a fixed cost: the smallest "
        f"input ({smallest['features']:,} {smallest['dataset']}) took "
        f"{b['onemap']['wall_s']:.1f} s against ogr2ogr's {b['ogr2ogr']['wall_s']:.1f} s. "
        "Most of it is Python start-up (~0.8 s of imports, from byte-compiled modules: "
        "without .pyc files the 1,000-feature load took 3.3 s, bench/QUICKSTART.md), the "
        "rest the staging table, index builds, the generalised tile tables, swap and "
        "ANALYZE. As inputs grow the per-row work "
        "dominates; for a layer with generalised tiles (roads) most of it is building "
        'those tables (profile and before/after: "Load on both cores" in '
        "bench/RESULTS.md), not reading, validating or COPYing:",
        "",
    ]
    for r in results:
        if r["features"] >= 100_000:
            ratio = r["onemap_speed_over"]
            lines.append(
                f"- {r['dataset']} {r['features']:,} ({r['format']}): "
                f"{ratio['ogr2ogr']:.2f}× ogr2ogr's features/s, "
                + (
                    f"{ratio['copy_limit']:.2f}× the COPY limit's, "
                    if "copy_limit" in ratio
                    else ""
                )
                + f"{ratio['to_postgis']:.2f}× "
                f"to_postgis' (peak RSS {r['best']['onemap']['peak_rss_mb']:.0f} MB against "
                f"{r['best']['to_postgis']['peak_rss_mb']:.0f} MB)."
            )
    return [*lines, ""]


DESCRIBE = {
    "roads": "road segments, 5–50 vertices (road_condition)",
    "zoning": "zoning parcels, 8 vertices (zoning)",
    "flood": "flood patches, 12–40 vertices (flood_zones)",
}


def _fmt(run: dict | None, key: str, spec: str) -> str:
    return spec.format(run[key]) if run else "–"


def _ratio(ratios: dict, peer: str) -> str:
    return f"{ratios[peer]:.2f}×" if peer in ratios else "–"


def markdown(report: dict) -> str:
    """bench/LOAD.md from the results."""
    m, v = report["machine"], report["versions"]
    lines = [
        "# Load benchmark",
        "",
        "`make bench-load` (bench/load.py): seeded files from bench/inputs.py (road segments, "
        "zoning parcels and flood patches with the layers' own attributes) loaded into the "
        "same PostGIS by each tool; "
        f"best of {report['repeat']} runs for onemap, ogr2ogr and the COPY limit (tools "
        "alternating; "
        "to_postgis runs once). Peak RSS is the loading process's own (PostgreSQL's "
        "backends are not counted for any tool). Ratio: onemap's features/s over the "
        "peer's (> 1: onemap is faster).",
        "",
        "| input | format | features | vertices | file MB | onemap s | ogr2ogr s | "
        "COPY limit s | to_postgis s | onemap f/s | onemap ÷ ogr2ogr | onemap ÷ COPY limit "
        "| onemap ÷ to_postgis | peak RSS MB (onemap / ogr2ogr / COPY limit / to_postgis) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for res in report["results"]:
        b, ratio = res["best"], res["onemap_speed_over"]
        rss = " / ".join(_fmt(b.get(t), "peak_rss_mb", "{:.0f}") for t in TOOLS)
        lines.append(
            f"| {DESCRIBE.get(res['dataset'], res['dataset'])} | {res['format']} "
            f"| {res['features']:,} | {res['vertices']:,} | {res['file_mb']:.0f} "
            f"| {b['onemap']['wall_s']:.2f} | {b['ogr2ogr']['wall_s']:.2f} "
            f"| {_fmt(b.get('copy_limit'), 'wall_s', '{:.2f}')} "
            f"| {b['to_postgis']['wall_s']:.2f} | {b['onemap']['features_per_s']:,} "
            f"| {ratio['ogr2ogr']:.2f}× | {_ratio(ratio, 'copy_limit')} "
            f"| {ratio['to_postgis']:.2f}× | {rss} |"
        )
    lines += [
        "",
        "What each tool does: **onemap** validates every row against the layer file "
        "(types, allowed values, geometry validity, extent), COPYs into a staging table with "
        "the CHECK constraints, builds the primary key and the layer's indexes (two "
        "connections side by side), builds the generalised tables its low-zoom tiles are "
        "drawn from (one per zoom below the layer's detail zoom: 14 for roads, merged and "
        "simplified; again two connections side by side), swaps the table in and keeps "
        "the previous version as history; **ogr2ogr** COPYs into a new table with a GiST "
        "index; **to_postgis** "
        "reads the whole file into memory and writes it with a GiST index; the **COPY "
        "limit** is psql COPYing the rows onemap would COPY, binary-encoded beforehand "
        "(untimed), into a new table, then building its GiST index: PostgreSQL's own "
        "cost, the most any loader could approach (bench/copy_limit.py).",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_mb']:,} MB, {m['os']}. "
        f"Date: {report['date']}."
        + (
            " Load average (1/5/15 min) at the start and end: "
            + " → ".join("/".join(f"{x:.2f}" for x in la) for la in report["load_average"])
            + " (other jobs shared the machine: ratios within the run are what count)."
            if report.get("load_average")
            else ""
        ),
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
    ]
    lines += reading(report["results"])
    if report.get("profile"):
        lines += [
            f"cProfile of one onemap load of the largest road file: `{report['profile']}`.",
            "",
        ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
