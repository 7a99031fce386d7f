"""Seeded synthetic road networks for benchmarks (never committed; written to bench/work/).

Segments of 5–50 vertices inside the Semarang extent, random-walk shaped like streets,
with attributes drawn from the road_condition layer's own vocabulary, so `onemap load`,
ogr2ogr and geopandas all read the same realistic file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

from onemap.city import get_city
from onemap.layers import get_layer

WORK = Path(__file__).resolve().parent / "work"


def generate(n: int, seed: int = 20261123) -> gpd.GeoDataFrame:
    """n road segments with realistic attributes, EPSG:4326."""
    rng = np.random.default_rng(seed)
    layer = get_layer("road_condition")
    x0, y0, x1, y1 = get_city().bbox
    verts = rng.integers(5, 51, n)
    starts = np.column_stack([rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)])
    total = int(verts.sum())
    steps = rng.normal(0, 0.0004, (total, 2))  # ~45 m per step
    owner = np.repeat(np.arange(n), verts)
    first = np.r_[0, np.cumsum(verts)[:-1]]
    steps[first] = 0
    coords = np.cumsum(steps, axis=0)
    coords -= np.repeat(coords[first], verts, axis=0)
    coords += np.repeat(starts, verts, axis=0)
    geoms = shapely.linestrings(coords, indices=owner)
    iri = np.round(rng.lognormal(1.6, 0.5, n).clip(0.5, 29.9), 1)
    condition = np.select(
        [iri < 4, iri < 8, iri <= 12], ["baik", "sedang", "rusak_ringan"], "rusak_berat"
    )
    pick = lambda field: rng.choice(layer.field(field).allowed, n)  # noqa: E731
    return gpd.GeoDataFrame(
        {
            "segment_id": np.char.add("b", np.arange(n).astype(str)),
            "name": np.char.add("Jalan Uji ", (np.arange(n) % 997).astype(str)),
            "status": pick("status"),
            "function": pick("function"),
            "surface": pick("surface"),
            "width_m": np.round(rng.uniform(3, 14, n), 1),
            "condition": condition,
            "iri": iri,
            "survey_date": "2025-08-01",
        },
        geometry=geoms,
        crs="EPSG:4326",
    )


def roads_file(n: int, suffix: str = "gpkg") -> Path:
    """The generated file for n segments, written once and reused."""
    path = WORK / f"segments_{n}.{suffix}"
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}")
        pyogrio.write_dataframe(generate(n), tmp, layer="roads", use_arrow=True)
        tmp.rename(path)
    return path


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("sizes", nargs="+", type=int)
    for size in ap.parse_args().sizes:
        print(roads_file(size))
