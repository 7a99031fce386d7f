"""Synthetic spatial-plan zoning: kelurahan cut into parts, a zone code per part.

Each kelurahan is split by a seeded Voronoi diagram (about ``PARTS_PER_KM2`` parts per
km²) and every part gets a code from plausible rules: transport hubs, the coastal strip,
industry by the port and the Genuk/Tugu coast, the old centre, the southern hills and
the dense lowland. Codes, labels and their meaning come from the layer file (Permen
ATR/BPN 16/2018); the KDB/KLB/KDH intensities are typical RDTR values, NOT Semarang's.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from etl.admin_boundaries import disjoint
from etl.common import UTM, WGS84, layer, require_values
from etl.synthetic.terrain import Terrain, sample

PARTS_PER_KM2 = 1.6
PARTS_RANGE = (2, 10)
MIN_ZONE_M2 = 5_000.0
# (lon, lat, code): Ahmad Yani airport, Tanjung Emas port, Terboyo and Mangkang
# terminals, Tawang station; UNDIP Tembalang campus; Bergota cemetery.
LANDMARKS = (
    (110.3746, -6.9721, "TR"),
    (110.4236, -6.9440, "TR"),
    (110.4620, -6.9540, "TR"),
    (110.3001, -6.9705, "TR"),
    (110.4275, -6.9645, "TR"),
    (110.4385, -7.0506, "SPU-1"),
    (110.4110, -6.9930, "RTH-7"),
)
CENTRE = ((110.4216, -6.9899), 2500.0)  # Simpang Lima and radius of the old centre, m
PORT = ((110.4236, -6.9440), 2500.0)
INDUSTRIAL_KEC = ("Tugu", "Genuk", "Semarang Utara")
HILL_KEC = ("Gunungpati", "Mijen")
DENSE_KEC = (
    "Semarang Utara",
    "Semarang Timur",
    "Gayamsari",
    "Pedurungan",
    "Genuk",
    "Semarang Barat",
    "Candisari",
    "Semarang Selatan",
    "Semarang Tengah",
)
# Code mixes per setting: (code, probability).
MIX = {
    "centre": {
        "K-1": 0.3,
        "K-2": 0.2,
        "C-1": 0.15,
        "KT": 0.15,
        "SPU-1": 0.1,
        "RTH-2": 0.05,
        "C-2": 0.05,
    },
    "hills": {"R-4": 0.45, "RTH-1": 0.3, "R-3": 0.1, "SPU-3": 0.05, "RTH-7": 0.05, "K-3": 0.05},
    "dense": {
        "R-1": 0.35,
        "R-2": 0.35,
        "K-3": 0.1,
        "SPU-3": 0.07,
        "RTH-2": 0.05,
        "RTH-7": 0.04,
        "C-2": 0.04,
    },
    "suburb": {
        "R-2": 0.3,
        "R-3": 0.35,
        "K-2": 0.08,
        "K-3": 0.08,
        "SPU-2": 0.07,
        "RTH-2": 0.06,
        "RTH-7": 0.06,
    },
}
# Typical intensity per code: KDB %, KLB, KDH % (None: not applicable to a water body).
INTENSITY = {
    "R-1": (80, 2.4, 10),
    "R-2": (70, 2.1, 15),
    "R-3": (60, 1.8, 20),
    "R-4": (50, 1.0, 30),
    "K-1": (80, 6.4, 10),
    "K-2": (75, 4.5, 10),
    "K-3": (70, 2.8, 15),
    "KT": (60, 4.8, 20),
    "I": (70, 2.1, 15),
    "SPU-1": (60, 3.6, 20),
    "SPU-2": (60, 2.4, 20),
    "SPU-3": (60, 1.8, 25),
    "C-1": (75, 6.0, 10),
    "C-2": (70, 3.5, 15),
    "RTH-1": (10, 0.1, 80),
    "RTH-2": (10, 0.1, 80),
    "RTH-7": (5, 0.05, 80),
    "PS": (0, 0.0, 90),
    "BA": (None, None, None),
    "TR": (60, 1.2, 20),
}


def _split(poly: shapely.Geometry, n: int, rng: np.random.Generator) -> list:
    """Cut a polygon into about ``n`` parts by the Voronoi cells of random inner points."""
    if n < 2:
        return [poly]
    x0, y0, x1, y1 = poly.bounds
    shapely.prepare(poly)
    pts = []
    while len(pts) < n:  # rejection sampling inside the polygon
        cand = shapely.points(rng.uniform(x0, x1, 4 * n), rng.uniform(y0, y1, 4 * n))
        pts.extend(cand[shapely.contains(poly, cand)].tolist())
    cells = shapely.voronoi_polygons(shapely.MultiPoint(pts[:n]), extend_to=poly)
    parts = shapely.intersection(shapely.get_parts(cells), poly)
    return [p for p in parts if not p.is_empty and p.area >= MIN_ZONE_M2]


def _setting(kec: str, dist_centre: float, elev: float) -> str:
    if dist_centre < CENTRE[1]:
        return "centre"
    if kec in HILL_KEC or elev > 150:
        return "hills"
    return "dense" if kec in DENSE_KEC else "suburb"


def _code(row: dict, rng: np.random.Generator) -> str:
    """Zone code for one part from its setting (rules first, then a seeded draw)."""
    if row["landmark"]:
        return row["landmark"]
    if row["coast_m"] < 300 and row["elev"] < 1.5:
        return "BA" if row["elev"] < 0.8 else "PS"  # tambak/ponds, then the coastal setback
    industrial = row["kec"] in INDUSTRIAL_KEC and row["coast_m"] < 3000
    if (industrial or row["dist_port"] < PORT[1]) and rng.random() < 0.55:
        return "I"
    mix = MIX[_setting(row["kec"], row["dist_centre"], row["elev"])]
    return str(rng.choice(list(mix), p=list(mix.values())))


def build_zoning(kel_utm: gpd.GeoDataFrame, city_utm, terrain: Terrain, rng) -> gpd.GeoDataFrame:
    """Zones with every zoning field, in EPSG:32749 (clipped to the city by the caller)."""
    require_values("zoning", "zone_code", INTENSITY)
    for mix in MIX.values():
        require_values("zoning", "zone_code", mix)
    labels = {v.value: v.label for v in layer("zoning").field("zone_code").values}
    to_utm = Transformer.from_crs(WGS84, UTM, always_xy=True)
    centre = shapely.Point(to_utm.transform(*CENTRE[0]))
    port = shapely.Point(to_utm.transform(*PORT[0]))
    marks = [(shapely.Point(to_utm.transform(lon, lat)), code) for lon, lat, code in LANDMARKS]
    rows = []
    for kel, poly in zip(kel_utm.itertuples(), disjoint(kel_utm, city_utm), strict=True):
        if poly.is_empty:
            continue
        n = int(np.clip(round(poly.area / 1e6 * PARTS_PER_KM2), *PARTS_RANGE))
        for part in _split(poly, n, rng):
            p = part.representative_point()
            hit = [code for mark, code in marks if part.contains(mark)]
            rows.append(
                {
                    "kode_kel": kel.kode_kel,
                    "kec": kel.nama_kec,
                    "landmark": hit[0] if hit else None,
                    "elev": float(sample(terrain, terrain.dem, p.x, p.y)),
                    "coast_m": float(sample(terrain, terrain.coast_m, p.x, p.y)),
                    "dist_centre": p.distance(centre),
                    "dist_port": p.distance(port),
                    "geometry": part,
                }
            )
    for row in rows:
        row["zone_code"] = _code(row, rng)
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=UTM)
    gdf["zone_id"] = [f"zn-{i:05d}" for i in range(1, len(gdf) + 1)]
    gdf["zone_name"] = gdf["zone_code"].map(labels)
    intensity = gdf["zone_code"].map(INTENSITY)
    for k, col in enumerate(("kdb_pct", "klb", "kdh_pct")):
        gdf[col] = [v[k] for v in intensity]
    gdf["source"] = "synthetic"
    order = [f.name for f in layer("zoning").fields] + ["source", "geometry"]
    return gdf[order]
