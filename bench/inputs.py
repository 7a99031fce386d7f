"""Seeded benchmark inputs, generated into bench/work/ (never committed).

    python -m bench.inputs roads 10000 100000 [--format gpkg|geojson]

One generator per dataset, at any size, each reproducible from its seed and written once
(a JSON stamp beside the file records the parameters; a changed generator writes anew):

- ``roads``: road segments of 5–50 vertices (5–20 m apart, a smoothly turning heading)
  inside the city extent, with the ``road_condition`` layer's fields and vocabulary. Used
  by the load and serve benchmarks, so both measure the same files.
- ``streets``: a jittered lattice clipped to the kecamatan, one segment per block side
  with a bend in the middle (3 vertices, 90–270 m): the demo network's shape, for the map
  pages, where 5–50-vertex random walks would overstate what a page draws.
- ``zoning``: a tessellation of the city into parcels (a jittered lattice whose cell
  sides bend at their middle: 8 vertices, shared with the neighbours, so no gaps or
  overlaps), with the ``zoning`` layer's fields (zone codes of the RDTR, KDB/KLB/KDH).
- ``flood``: irregular star-shaped patches (12–40 vertices, 30–400 m across), denser on
  the low northern coast, with the ``flood_zones`` layer's fields (BNPB hazard classes
  from the depth range).

Attribute values come from the layer files (``layers/*``), so every row is one that
``onemap load`` accepts; the generators are synthetic and say so (``source``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from etl.synthetic.road_condition import condition_from_iri
from onemap.core.city import get_city
from onemap.core.layers import get_layer

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / "work"
KECAMATAN = ROOT / "data" / "real" / "admin_cahyadsn" / "semarang_kecamatan.geojson"
SEED = 20261123
UTM = get_city().metric_crs
NAMES = [
    "Jalan Pemuda", "Jalan Pandanaran", "Jalan Gajah Mada", "Jalan Siliwangi",
    "Jalan Kaligawe", "Jalan Majapahit", "Jalan Setiabudi", "Jalan Ngesrep Timur V",
    "Gang Mawar III", "Jalan Bulustalan", "Jalan Pemuda – Kauman", "Jalan Dr. Cipto",
]  # fmt: skip


def _city_utm() -> shapely.Geometry:
    return gpd.read_file(KECAMATAN).to_crs(UTM).union_all()


def _pick_inside(city: shapely.Geometry, xy: np.ndarray, n: int, rng, what: str) -> np.ndarray:
    """Indices of ``n`` of the points ``xy`` that lie inside the city, in random order."""
    inside = np.flatnonzero(shapely.contains_xy(city, xy[:, 0], xy[:, 1]))
    if len(inside) < n:
        raise RuntimeError(f"the lattice gave {len(inside)} {what} inside the city, not {n}")
    return rng.permutation(inside)[:n]


def roads(n: int, seed: int = SEED, start: int = 0) -> gpd.GeoDataFrame:
    """``n`` road segments, 5–50 vertices each, road_condition's fields (EPSG:4326);
    ``start``: the number in the first segment's id (``SMG-<start>``)."""
    rng = np.random.default_rng(seed)
    verts = rng.integers(5, 51, n)
    owner = np.repeat(np.arange(n), verts)
    first = np.r_[0, np.cumsum(verts)[:-1]]
    heading = rng.uniform(0, 2 * np.pi, n)[owner] + np.cumsum(rng.normal(0, 0.25, len(owner)))
    step = rng.uniform(5e-5, 2e-4, n)[owner]  # 5–20 m between vertices
    xy = np.column_stack([np.cos(heading), np.sin(heading)]) * step[:, None]
    xy[first] = 0
    xy = np.cumsum(xy, axis=0)
    xy -= np.repeat(xy[first], verts, axis=0)
    xy += np.repeat(
        np.column_stack([rng.uniform(110.30, 110.48, n), rng.uniform(-7.08, -6.96, n)]),
        verts,
        axis=0,
    )
    iri = np.round(rng.lognormal(1.6, 0.5, n).clip(0.5, 29.9), 1)
    return gpd.GeoDataFrame(
        {
            "segment_id": np.char.add("SMG-", np.arange(start, start + n).astype(str)),
            "name": rng.choice(np.array(NAMES, dtype=object), n),
            "status": rng.choice(["kota", "provinsi", "nasional"], n, p=[0.85, 0.1, 0.05]),
            "function": rng.choice(["lokal", "kolektor", "arteri", "lingkungan"], n),
            "surface": rng.choice(["aspal", "beton", "paving", "kerikil", "tanah"], n),
            "width_m": np.round(rng.uniform(3, 14, n), 1),
            "condition": condition_from_iri(iri),
            "iri": iri,
            "survey_date": pd.Timestamp("2025-01-02")
            + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        },
        geometry=shapely.linestrings(xy, indices=owner),
        crs="EPSG:4326",
    )


def streets(n: int, seed: int = SEED + 1) -> gpd.GeoDataFrame:
    """``n`` segments on a jittered lattice inside the city, road_condition's fields."""
    rng = np.random.default_rng(seed)
    city = _city_utm()
    spacing = (2 * city.area / n) ** 0.5 * 0.97  # 2 edges per lattice node
    x0, y0, x1, y1 = city.bounds
    gx, gy = np.meshgrid(np.arange(x0, x1 + spacing, spacing), np.arange(y0, y1 + spacing, spacing))
    nodes = np.stack([gx, gy], axis=-1) + rng.uniform(-0.3, 0.3, gx.shape + (2,)) * spacing
    starts = np.concatenate([nodes[:, :-1].reshape(-1, 2), nodes[:-1, :].reshape(-1, 2)])
    ends = np.concatenate([nodes[:, 1:].reshape(-1, 2), nodes[1:, :].reshape(-1, 2)])
    mids = (starts + ends) / 2 + rng.normal(0, 0.08 * spacing, starts.shape)
    keep = _pick_inside(city, mids, n, rng, "segments")
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
    frame["survey_date"] = pd.Timestamp("2026-04-01") + pd.to_timedelta(days, unit="D")
    frame["source"] = "synthetic"
    return frame


def zoning(n: int, seed: int = SEED + 2) -> gpd.GeoDataFrame:
    """``n`` parcels tessellating part of the city, zoning's fields (EPSG:4326)."""
    rng = np.random.default_rng(seed)
    city = _city_utm()
    spacing = (city.area / n) ** 0.5 * 0.97
    x0, y0, x1, y1 = city.bounds
    gx, gy = np.meshgrid(np.arange(x0, x1 + spacing, spacing), np.arange(y0, y1 + spacing, spacing))
    nodes = np.stack([gx, gy], axis=-1) + rng.uniform(-0.2, 0.2, gx.shape + (2,)) * spacing
    # one bent midpoint per cell side, shared by the two cells on either side of it
    bend = 0.06 * spacing
    horiz = (nodes[:, :-1] + nodes[:, 1:]) / 2 + rng.uniform(-bend, bend, nodes[:, 1:].shape)
    vert = (nodes[:-1, :] + nodes[1:, :]) / 2 + rng.uniform(-bend, bend, nodes[1:, :].shape)
    rings = np.stack(
        [
            nodes[:-1, :-1], horiz[:-1, :], nodes[:-1, 1:], vert[:, 1:],
            nodes[1:, 1:], horiz[1:, :], nodes[1:, :-1], vert[:, :-1], nodes[:-1, :-1],
        ],
        axis=2,
    ).reshape(-1, 9, 2)  # fmt: skip
    keep = _pick_inside(city, rings[:, :8].mean(axis=1), n, rng, "parcels")
    frame = gpd.GeoDataFrame(geometry=shapely.polygons(rings[keep]), crs=UTM).to_crs(4326)
    codes = np.array(get_layer("zoning").field("zone_code").allowed)
    weights = np.where(np.char.startswith(codes.astype(str), "R-"), 6.0, 1.0)
    code = rng.choice(codes, n, p=weights / weights.sum())
    kdb = rng.choice([40, 50, 60, 70, 80], n).astype(float)
    frame["zone_id"] = np.char.add("Z-", np.arange(n).astype(str))
    frame["zone_code"] = code
    frame["zone_name"] = np.char.add("Zona ", code.astype(str))
    frame["kdb_pct"] = kdb
    frame["klb"] = np.round(kdb / 100 * rng.integers(1, 9, n), 1)
    frame["kdh_pct"] = np.minimum(100 - kdb, rng.choice([10, 20, 30], n)).astype(float)
    return frame


def flood(n: int, seed: int = SEED + 3) -> gpd.GeoDataFrame:
    """``n`` flood patches, denser on the northern coast, flood_zones' fields (EPSG:4326)."""
    rng = np.random.default_rng(seed)
    city = _city_utm()
    x0, y0, x1, y1 = city.bounds
    # draw 4× the centres, skewed north (low-lying coast), keep n inside the city
    cx = rng.uniform(x0, x1, 4 * n)
    cy = y1 - (y1 - y0) * rng.beta(1.2, 3.0, 4 * n)
    keep = _pick_inside(city, np.column_stack([cx, cy]), n, rng, "flood patches")
    verts = rng.integers(12, 41, n)
    owner = np.repeat(np.arange(n), verts)
    first = np.r_[0, np.cumsum(verts)[:-1]]
    angle = 2 * np.pi * (np.arange(len(owner)) - first[owner]) / verts[owner]
    radius = rng.uniform(15, 200, n)[owner] * rng.uniform(0.6, 1.0, len(owner))
    xy = np.column_stack([np.cos(angle), np.sin(angle)]) * radius[:, None]
    xy += np.repeat(np.column_stack([cx[keep], cy[keep]]), verts, axis=0)
    # close each ring: repeat its first vertex after its last
    closed = np.insert(xy, np.r_[first[1:], len(xy)], xy[first], axis=0)
    ring_of = np.repeat(np.arange(n), verts + 1)
    geoms = shapely.polygons(shapely.linearrings(closed, indices=ring_of))
    frame = gpd.GeoDataFrame(geometry=geoms, crs=UTM).to_crs(4326)
    depth_min = np.round(rng.choice([0.0, 0.3, 0.76, 1.5], n, p=[0.4, 0.3, 0.2, 0.1]), 2)
    depth_max = np.round(depth_min + rng.uniform(0.2, 1.2, n), 2)
    frame["zone_id"] = np.char.add("F-", np.arange(n).astype(str))
    frame["hazard"] = np.select(
        [depth_max < 0.76, depth_max <= 1.5], ["rendah", "sedang"], "tinggi"
    )
    frame["depth_min_m"], frame["depth_max_m"] = depth_min, depth_max
    frame["flood_type"] = rng.choice(["rob", "hujan", "sungai"], n, p=[0.4, 0.45, 0.15])
    frame["observed_date"] = pd.Timestamp("2025-02-01") + pd.to_timedelta(
        rng.integers(0, 120, n), unit="D"
    )
    return frame


# dataset -> (generator, onemap layer, generator version: bump when the output changes)
DATASETS: dict[str, tuple[Callable[[int], gpd.GeoDataFrame], str, int]] = {
    "roads": (roads, "road_condition", 1),
    "streets": (streets, "road_condition", 1),
    "zoning": (zoning, "zoning", 1),
    "flood": (flood, "flood_zones", 1),
}
DRIVERS = {"gpkg": "GPKG", "geojson": "GeoJSON"}


def layer_of(dataset: str) -> str:
    """The onemap layer a dataset loads into."""
    return DATASETS[dataset][1]


def input_file(dataset: str, n: int, fmt: str = "gpkg") -> Path:
    """bench/work/<dataset>_<n>.<fmt>, generated once (seeded) and reused."""
    make, layer, version = DATASETS[dataset]
    path = WORK / f"{dataset}_{n}.{fmt}"
    stamp = path.with_name(path.name + ".json")
    want = {"dataset": dataset, "n": n, "seed": SEED, "version": version}
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == want:
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.unlink(missing_ok=True)
    frame = make(n)
    pyogrio.write_dataframe(frame, tmp, layer=dataset, driver=DRIVERS[fmt], use_arrow=True)
    tmp.rename(path)
    stamp.write_text(json.dumps(want))
    return path


STREAM_CHUNK = 100_000  # rows generated and written at a time by ``streamed_roads``


def streamed_roads(n: int, fmt: str = "gpkg") -> Path:
    """bench/work/roads-streamed_<n>.<fmt>: ``n`` road segments written chunk by chunk.

    For sizes whose frame would not fit in memory (10 million segments: ~5 GB of
    geometry): each chunk of ``STREAM_CHUNK`` rows is ``roads`` with its own seed and id
    range, appended to the file, so the generator's memory is that of one chunk. No
    spatial index in the file (the loaders read it in order; the GeoPackage R-tree would
    be updated row by row by triggers).
    """
    path = WORK / f"roads-streamed_{n}.{fmt}"
    stamp = path.with_name(path.name + ".json")
    want = {"dataset": "roads", "n": n, "seed": SEED, "chunk": STREAM_CHUNK, "version": 1}
    if path.exists() and stamp.exists() and json.loads(stamp.read_text()) == want:
        return path
    WORK.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.unlink(missing_ok=True)
    for k, first in enumerate(range(0, n, STREAM_CHUNK)):
        frame = roads(min(STREAM_CHUNK, n - first), seed=SEED + 100 + k, start=first)
        pyogrio.write_dataframe(
            frame, tmp, layer="roads", driver=DRIVERS[fmt], use_arrow=True, append=k > 0,
            **({"layer_options": {"SPATIAL_INDEX": "NO"}} if fmt == "gpkg" else {}),
        )  # fmt: skip
        del frame
    tmp.rename(path)
    stamp.write_text(json.dumps(want))
    return path


def main() -> None:
    """Write the named inputs and print their paths."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", choices=sorted(DATASETS))
    ap.add_argument("sizes", nargs="+", type=int)
    ap.add_argument("--format", choices=sorted(DRIVERS), default="gpkg")
    ap.add_argument("--streamed", action="store_true", help="roads only: chunk by chunk")
    args = ap.parse_args()
    for n in args.sizes:
        if args.streamed:
            print(streamed_roads(n, args.format))
        else:
            print(input_file(args.dataset, n, args.format))


if __name__ == "__main__":
    main()
