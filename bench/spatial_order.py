"""Rows in spatial order: what the loader's Hilbert sort costs and what a bbox page saves.

    .venv/bin/python -m bench.spatial_order [--rows 1000000]

On the benchmark's road segments (bench/inputs.py: random places, so file order is random
order), in database ``onemap_bench_order`` (dropped and built anew):

1. ``onemap load road_condition`` (the loader sorts each 100,000 validated rows by their
   Hilbert key before the COPY, ``onemap.load.hilbert``), timed as a whole, and the
   Python work the sort adds (keys and ``take``, on the same rows);
2. the two ways of a global sort in PostgreSQL, on the same rows replayed by binary COPY
   from a file: COPY into a temporary table then an ordered ``INSERT`` into the stage,
   or COPY into the stage as before then a rewrite of it (an ordered ``INSERT … SELECT``
   into a new table that replaces it); plain COPY as the base; and the GiST build on
   file-ordered and on ordered rows;
3. ``EXPLAIN (ANALYZE, BUFFERS)`` of the provider's bbox queries (a 100-row page, the
   count capped at 10,001, every match) on the rows in file order (as loads stored them
   before), as the loader stores them now, and globally sorted (``ORDER BY geom``,
   PostGIS's Hilbert order), each with the same GiST index: rows, heap blocks, buffers.

Prints Markdown tables for bench/RESULTS.md ("Rows in spatial order"); writes
bench/results/spatial_order.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.common import RESULTS, WORK, fresh_database, machine
from bench.inputs import input_file
from onemap.core.settings import export

DB = "onemap_bench_order"
LIVE = "onemap.road_condition"
BOXES = {  # the serve benchmark's
    "bbox ~3 blocks": (110.415, -6.985, 110.425, -6.975),
    "bbox one kecamatan": (110.40, -7.00, 110.45, -6.96),
}
QUERIES = {
    "page of 100": "SELECT * FROM {t} WHERE geom && {env} LIMIT 100",
    "count, capped": "SELECT count(*) FROM (SELECT 1 FROM {t} WHERE geom && {env} LIMIT 10001) c",
    "every match": "SELECT * FROM {t} WHERE geom && {env}",
}


def timed(conn, statement: str) -> float:
    """Seconds one statement takes."""
    t = time.perf_counter()
    conn.execute(statement)
    return time.perf_counter() - t


def replay(conn, table: str, dump: Path) -> float:
    """COPY the dumped rows into ``table``; seconds."""
    t = time.perf_counter()
    with conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT binary)") as cp, dump.open("rb") as f:
        while chunk := f.read(1 << 20):
            cp.write(chunk)
    return time.perf_counter() - t


def orderings(conn, dump: Path) -> dict[str, float]:
    """Seconds for each way of staging the dumped rows (each committed, then dropped)."""
    like = f"(LIKE {LIVE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
    out: dict[str, float] = {}
    conn.execute("SET work_mem = '376MB'")  # what the loader gives its sort here (Tuning)
    for name in ("plain COPY (before)", "temp + ordered INSERT (loader)", "COPY + rewrite"):
        conn.execute("DROP TABLE IF EXISTS bench.s, bench.s2")
        t = time.perf_counter()
        conn.execute(f"CREATE TABLE bench.s {like}")
        if name.startswith("temp"):
            conn.execute(f"CREATE TEMP TABLE u {like}")
            replay(conn, "u", dump)
            conn.execute("INSERT INTO bench.s SELECT * FROM u ORDER BY geom")
            conn.execute("DROP TABLE u")
        else:
            replay(conn, "bench.s", dump)
        conn.commit()
        if name.startswith("COPY +"):
            conn.execute(f"CREATE TABLE bench.s2 {like}")
            conn.execute("INSERT INTO bench.s2 SELECT * FROM bench.s ORDER BY geom")
            conn.execute("DROP TABLE bench.s")
            conn.execute("ALTER TABLE bench.s2 RENAME TO s")
            conn.commit()
        out[name] = time.perf_counter() - t
        print(f"  {name}: {out[name]:.2f} s", flush=True)
    for table, label in (("bench.file_order", "GiST build, file order"),
                         ("bench.s", "GiST build, ordered")):  # fmt: skip
        conn.execute("SET maintenance_work_mem = '376MB'")
        out[label] = timed(conn, f"CREATE INDEX ON {table} USING gist (geom)")
        conn.commit()
        print(f"  {label}: {out[label]:.2f} s", flush=True)
    conn.execute("DROP TABLE bench.s")
    conn.commit()
    return out


def reads(conn, table: str) -> dict[str, dict[str, int | float]]:
    """Per bbox and query: rows, heap blocks, buffers, ms (second run: warm cache)."""
    out: dict[str, dict[str, int | float]] = {}
    for box, (x0, y0, x1, y1) in BOXES.items():
        env = f"ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 4326)"
        for q, text in QUERIES.items():
            sql = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + text.format(t=table, env=env)
            conn.execute(sql)
            top = conn.execute(sql).fetchone()[0][0]
            heap = _find(top["Plan"], "Bitmap Heap Scan") or {}
            out[f"{box}: {q}"] = {
                "rows": (heap or top["Plan"])["Actual Rows"],
                "heap_blocks": heap.get("Exact Heap Blocks", 0) + heap.get("Lossy Heap Blocks", 0),
                "buffers": top["Plan"]["Shared Hit Blocks"] + top["Plan"]["Shared Read Blocks"],
                "ms": round(top["Execution Time"], 1),
            }
    return out


def python_cost(conn) -> float:
    """Seconds the loader's sort adds: keys from the bounding-box centres (as the validator
    has them) and one ``take`` per 100,000 rows, on the loaded rows and attributes."""
    import numpy as np
    import pyarrow as pa
    from pyproj import CRS

    from onemap.core.city import get_city
    from onemap.core.layers import get_layer
    from onemap.load.geometry import GeometryChecker
    from onemap.load.hilbert import KEY, hilbert_keys, in_curve_order
    from onemap.load.loader import SORT_WINDOW

    grid = GeometryChecker(get_layer("road_condition"), CRS.from_epsg(4326), get_city()).grid
    rows = conn.execute(
        "SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom), segment_id, "
        f"name, status, function, condition, iri, ST_AsBinary(geom) FROM {LIVE}"
    ).fetchall()
    cols = list(zip(*rows, strict=True))
    b = np.array(cols[:4], dtype=np.float64).T
    table = pa.table({f"c{i}": pa.array(c) for i, c in enumerate(cols[4:])})
    t = time.perf_counter()
    for i in range(0, len(b), SORT_WINDOW):
        w = b[i : i + SORT_WINDOW]
        keys = hilbert_keys((w[:, 0] + w[:, 2]) / 2, (w[:, 1] + w[:, 3]) / 2, grid)
        part = table.slice(i, len(w)).append_column(KEY, pa.array(keys))
        in_curve_order([part])
    return time.perf_counter() - t


def _find(plan: dict, node: str) -> dict | None:
    if plan["Node Type"] == node:
        return plan
    for child in plan.get("Plans", []):
        if (hit := _find(child, node)) is not None:
            return hit
    return None


def main() -> None:
    """Load, compare the orderings, compare the reads; print and write the results."""
    import psycopg

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    rows = ap.parse_args().rows
    export(ONEMAP_DB_NAME=DB)
    from onemap.core.layers import get_layer
    from onemap.db.connect import owner_conninfo
    from onemap.load.loader import load_layer

    settings = fresh_database(DB)
    path = input_file("roads", rows)
    t = time.perf_counter()
    load_layer(get_layer("road_condition"), path, settings=settings)
    load_s = time.perf_counter() - t
    print(f"onemap load {rows:,}: {load_s:.1f} s", flush=True)
    dump = WORK / f"roads_{rows}.copy"
    with psycopg.connect(owner_conninfo(settings)) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
        conn.execute(  # the order the loader kept before: the file's (segment SMG-<row>)
            f"CREATE TABLE bench.file_order AS SELECT * FROM {LIVE} "
            "ORDER BY substr(segment_id, 5)::int"
        )
        with conn.cursor().copy("COPY bench.file_order TO STDOUT (FORMAT binary)") as cp:
            with dump.open("wb") as f:
                for chunk in cp:
                    f.write(chunk)
        conn.commit()
        cost = orderings(conn, dump)
        conn.execute(
            "CREATE TABLE bench.global_order AS SELECT * FROM bench.file_order ORDER BY geom"
        )
        conn.execute("CREATE INDEX ON bench.global_order USING gist (geom)")
        conn.commit()
        conn.autocommit = True
        tables = {"file order (before)": "bench.file_order", "loader (now)": LIVE,
                  "global sort": "bench.global_order"}  # fmt: skip
        for t in tables.values():
            conn.execute(f"VACUUM ANALYZE {t}")
        pages = {
            t: conn.execute(
                f"SELECT relpages FROM pg_class WHERE oid = '{t}'::regclass"
            ).fetchone()[0]
            for t in tables.values()
        }
        found = {name: reads(conn, t) for name, t in tables.items()}
        cost["Python: Hilbert keys + sort, 100k windows"] = python_cost(conn)
    dump.unlink()
    report = {"rows": rows, "load_s": round(load_s, 2), "table_pages": pages,
              "cost_s": {k: round(v, 2) for k, v in cost.items()}, "reads": found,
              "machine": machine()}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "spatial_order.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"\n{rows:,} rows, {pages[LIVE]:,} heap pages; onemap load {load_s:.1f} s\n")
    print("| staging | s |\n|---|---:|")
    for k, v in cost.items():
        print(f"| {k} | {v:.2f} |")
    names = list(found)
    print("\n| query | rows | " + " | ".join(f"blocks / buffers / ms, {n}" for n in names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for q in found[names[0]]:
        cells = [found[n][q] for n in names]
        line = " | ".join(f"{c['heap_blocks']:,} / {c['buffers']:,} / {c['ms']}" for c in cells)
        print(f"| {q} | {cells[0]['rows']:,} | {line} |")


if __name__ == "__main__":
    main()
