"""Synthetic drainage network: channels traced down the synthetic terrain to the sea.

Channel cells are those draining enough area (``etl.synthetic.channels`` on the routing of
``etl.synthetic.hydro``); the carved main rivers (``etl.synthetic.rivers``) are the primer channels.
Hierarchy follows Permen PU 12/PRT/M/2014 Lampiran IV (docs/standards.md §4.1): tersier feed
sekunder, sekunder feed primer, primer reach the sea. The system (Perda 7/2014
masterplan) is decided by the longitude where a channel's water reaches the sea, so a
catchment stays in one system.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from etl.common import UTM, WGS84, require_values
from etl.synthetic import channels
from etl.synthetic.hydro import Routing
from etl.synthetic.terrain import Terrain

SEKUNDER_MIN_KM2 = 1.0  # upstream area where a channel counts as sekunder
# Boundaries between the masterplan systems, by longitude of the mouth: Tugu–Mangkang up to
# Kali Tugu, Barat up to Banjir Kanal Barat, Tengah up to Kali Banger, Timur from BKT east.
SYSTEM_BY_LON = (
    (110.352, "tugu_mangkang"),
    (110.397, "barat"),
    (110.450, "tengah"),
    (np.inf, "timur"),
)
HIERARCHY = ("tersier", "sekunder", "primer")  # cell classes 1, 2, 3
TYPE_P = {
    "primer": {"terbuka": 1.0},
    "sekunder": {"terbuka": 0.75, "tertutup": 0.2, "gorong_gorong": 0.05},
    "tersier": {"terbuka": 0.55, "tertutup": 0.35, "gorong_gorong": 0.1},
}
MATERIAL_P = {
    "primer": {"tanah": 0.35, "pasangan_batu": 0.45, "beton": 0.2},
    "sekunder": {"tanah": 0.1, "pasangan_batu": 0.6, "beton": 0.3},
    "tersier": {"tanah": 0.1, "pasangan_batu": 0.4, "beton": 0.5},
}
# Condition classes baik, sedang, rusak_ringan, rusak_berat; worse on the silting, sinking
# lowland (docs/standards.md §4.2: silting and subsidence drive the masterplan).
CONDITION = ("baik", "sedang", "rusak_ringan", "rusak_berat")
CONDITION_P = {"upland": (0.40, 0.35, 0.17, 0.08), "lowland": (0.22, 0.36, 0.27, 0.15)}
SEA_NAME = "Laut Jawa"
# Dimension ranges by hierarchy, disjoint so that primer > sekunder > tersier always holds;
# primer channels take their river's nominal size (etl.synthetic.rivers), never below this share.
WIDTH_M = {"tersier": (0.4, 1.5), "sekunder": (1.8, 6.0), "primer": (0.0, np.inf)}
DEPTH_M = {"tersier": (0.3, 0.9), "sekunder": (1.0, 2.0), "primer": (0.0, np.inf)}
PRIMER_MIN_SHARE = 0.85


def _check_vocab() -> None:
    require_values("drainage", "hierarchy", HIERARCHY)
    require_values("drainage", "system", [s for _, s in SYSTEM_BY_LON])
    require_values("drainage", "condition", CONDITION)
    for table, field in ((TYPE_P, "channel_type"), (MATERIAL_P, "material")):
        require_values("drainage", field, {k for p in table.values() for k in p})


def build_drainage(
    terrain: Terrain, routing: Routing, kel_utm: gpd.GeoDataFrame, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Channel reaches with every drainage field, in EPSG:32749 (not yet clipped)."""
    _check_vocab()
    grid = terrain.grid
    rec = channels.axis_receivers(routing)
    city = terrain.city.ravel()
    area_km2 = channels.channel_area(routing, rec, city, terrain.dem.ravel())
    primer = channels.trace_primer(terrain, rec)
    cls = np.where(area_km2 >= SEKUNDER_MIN_KM2, 2, np.where(area_km2 > 0, 1, 0))
    cls = np.where(primer > 0, 3, np.where(city, cls, 0))
    key = cls * 100 + primer  # reaches never mix classes or rivers
    reaches = channels.reaches(cls > 0, key, rec)

    x, y = grid.centres()
    x, y = x.ravel(), y.ravel()
    mouth = channels.mouths(rec)
    mouth_lon, _ = Transformer.from_crs(UTM, WGS84, always_xy=True).transform(x[mouth], y[mouth])
    kel_id = grid.rasterize(
        [(g, i + 1) for i, g in enumerate(kel_utm.geometry)], dtype="int32"
    ).ravel()
    kel_names = np.array(["", *kel_utm["nama_kel"]], dtype=object)
    dem = terrain.dem.ravel()
    river_names = [r.name for r, _ in terrain.rivers]
    # Reach name per cell, for the outlet of the reaches feeding it.
    cell_name: dict[int, str] = {}
    rows = []
    for path in reaches:
        first, last = path[0], path[-2] if len(path) > 1 else path[0]
        level = HIERARCHY[cls[first] - 1]
        mid = path[len(path) // 2]
        if level == "primer":
            name = river_names[primer[first] - 1]
        else:
            kel = kel_names[kel_id[mid]] or kel_names[kel_id[first]] or "Semarang"
            name = f"Saluran {level.capitalize()} {kel}"
        for c in path[:-1] if len(path) > 1 else path:
            cell_name.setdefault(c, name)
        xy = channels.chaikin(np.column_stack([x[path], y[path]]))
        rows.append((level, name, first, last, path[-1], mid, shapely.LineString(xy)))

    out = []
    for level, name, first, last, end, mid, line in rows:
        outlet = _outlet(end, last, name, cell_name, rec, terrain.sea.ravel())
        out.append(
            {
                "name": name,
                "hierarchy": level,
                "outlet": outlet,
                "system": _system(mouth_lon[first]),
                "area_km2": area_km2[last],
                "primer": primer[first],
                "lowland": dem[mid] < 5.0,
                "geometry": line.simplify(10.0),
            }
        )
    gdf = gpd.GeoDataFrame(out, geometry="geometry", crs=UTM)
    return _attributes(gdf, terrain, rng)


def _outlet(end, last, name, cell_name, rec, sea) -> str:
    """Name of the first differently named channel downstream, or the sea."""
    cell = end if end != last else rec[last]
    while cell >= 0:
        if sea[cell]:
            return SEA_NAME
        other = cell_name.get(cell)
        if other is not None and other != name:
            return other
        cell = rec[cell]
    return SEA_NAME


def _system(lon: float) -> str:
    for bound, system in SYSTEM_BY_LON:
        if lon < bound:
            return system
    raise AssertionError("unreachable")


def _attributes(gdf: gpd.GeoDataFrame, terrain: Terrain, rng) -> gpd.GeoDataFrame:
    """Dimensions, type, material and condition, consistent with the hierarchy."""
    n = len(gdf)
    level = gdf["hierarchy"].to_numpy()
    area = gdf["area_km2"].to_numpy()
    jitter = rng.uniform(0.85, 1.15, n)
    root = np.sqrt(area)
    w_lo, w_hi = np.array([WIDTH_M[h] for h in level]).T
    d_lo, d_hi = np.array([DEPTH_M[h] for h in level]).T
    width = np.clip(
        np.where(level == "tersier", 0.4 + 0.9 * root, 0.8 + 1.2 * root) * jitter, w_lo, w_hi
    )
    depth = np.clip(
        np.where(level == "tersier", 0.3 + 0.6 * root, 0.8 + 0.35 * root) * jitter, d_lo, d_hi
    )
    rivers = [r for r, _ in terrain.rivers]
    is_p = level == "primer"
    if is_p.any():
        idx = gdf["primer"].to_numpy()[is_p] - 1
        nominal_w = np.array([rivers[i].width_m for i in idx])
        nominal_d = np.array([rivers[i].depth_m for i in idx])
        # Upstream reaches of a river are narrower: scale by the share of its mouth's area.
        mouth_area = gdf[is_p].groupby("primer")["area_km2"].transform("max").to_numpy()
        share = np.clip(np.sqrt(area[is_p] / mouth_area), PRIMER_MIN_SHARE, 1.0)
        width[is_p] = nominal_w * share * rng.uniform(0.95, 1.05, is_p.sum())
        depth[is_p] = nominal_d * share * rng.uniform(0.95, 1.05, is_p.sum())
    gdf["width_m"] = np.round(width, 1)
    gdf["depth_m"] = np.round(depth, 2)
    gdf["channel_type"] = _draw(rng, level, TYPE_P)
    gdf["material"] = _draw(rng, level, MATERIAL_P)
    lowland = gdf["lowland"].to_numpy()
    cond = np.empty(n, dtype=object)
    for zone, mask in (("lowland", lowland), ("upland", ~lowland)):
        cond[mask] = rng.choice(CONDITION, size=mask.sum(), p=CONDITION_P[zone])
    gdf["condition"] = cond
    gdf["source"] = "synthetic"
    return gdf


def _draw(rng: np.random.Generator, level: np.ndarray, table: dict) -> np.ndarray:
    out = np.empty(len(level), dtype=object)
    for h, probs in table.items():
        mask = level == h
        out[mask] = rng.choice(list(probs), size=mask.sum(), p=list(probs.values()))
    return out
