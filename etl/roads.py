"""Road segments: real OSM ways plus the synthetic network, with synthetic condition.

Status and function of an OSM way follow its ``highway`` tag (rule below); surface, IRI,
condition and survey date are synthetic everywhere, because no open condition survey of
Semarang exists (the OSM extract has no surface or smoothness either).
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd

from etl.common import UTM, allowed, layer, real_dir, require_values
from etl.terrain import Terrain, sample

OSM_FILE = "osm_roads/semarang_roads_osm.geojson"
NOT_ROADS = ("setapak",)  # footways, paths, steps, pedestrian ways: not carriageways
# OSM highway → (status, function). PP 34/2006 gives the classes (docs/standards.md §2.4); the
# mapping is ours: motorway/trunk are the national Pantura and toll roads, primary the
# provincial arterials, secondary city collectors, tertiary city local roads, the rest
# neighbourhood streets. A primary way narrower than PRIMARY_ARTERI_MIN_WIDTH_M, and any
# primary_link, is a collector.
STATUS_FUNCTION = {
    "motorway": ("nasional", "arteri"),
    "motorway_link": ("nasional", "arteri"),
    "trunk": ("nasional", "arteri"),
    "trunk_link": ("nasional", "arteri"),
    "primary": ("provinsi", "arteri"),
    "primary_link": ("provinsi", "kolektor"),
    "secondary": ("kota", "kolektor"),
    "secondary_link": ("kota", "kolektor"),
    "tertiary": ("kota", "lokal"),
    "tertiary_link": ("kota", "lokal"),
}
OTHER_ROADS = ("kota", "lingkungan")
PRIMARY_ARTERI_MIN_WIDTH_M = 7.0
# Width fill for ways without an OSM width tag when no way of that highway has one.
FALLBACK_WIDTH_M = {"arteri": 10.0, "kolektor": 7.0, "lokal": 5.0, "lingkungan": 3.0}
SYNTHETIC_WIDTH_M = {
    "arteri": (9.0, 14.0),
    "kolektor": (6.0, 8.0),
    "lokal": (4.5, 6.0),
    "lingkungan": (2.5, 4.5),
}

# Bina Marga IRI bands, m/km (Permen PU 13/PRT/M/2011 practice; docs/standards.md §2.2, the 4 and 8
# cut-points rest on practice [U]): < 4 baik, 4–8 sedang, 8–12 rusak ringan, > 12 rusak
# berat. On a cut-point: 4.0 is sedang, 8.0 rusak ringan, 12.0 rusak ringan.
IRI_BANDS = ((4.0, "baik"), (8.0, "sedang"), (12.0, "rusak_ringan"))
IRI_WORST = "rusak_berat"
# Synthetic IRI: lognormal around a median per function, scaled by surface and by how
# low (flood-prone, sinking) the road lies.
IRI_MEDIAN = {"arteri": 3.0, "kolektor": 3.6, "lokal": 4.5, "lingkungan": 5.2}
IRI_SIGMA = 0.42
SURFACE_IRI = {"aspal": 1.0, "beton": 0.85, "paving": 1.15, "kerikil": 1.6, "tanah": 2.0}
LOWLAND_IRI = 0.45  # up to +45 % on land near sea level (rob, subsidence)
FLOODED_IRI = 1.2  # +20 % where the synthetic flood map has water
SURFACE_P = {
    "arteri": {"aspal": 0.85, "beton": 0.15},
    "kolektor": {"aspal": 0.75, "beton": 0.2, "paving": 0.05},
    "lokal": {"aspal": 0.55, "beton": 0.3, "paving": 0.15},
    "lingkungan": {"aspal": 0.3, "beton": 0.25, "paving": 0.35, "kerikil": 0.05, "tanah": 0.05},
}
SURVEY_WINDOW = (dt.date(2026, 4, 1), dt.date(2026, 9, 30))  # dry-season survey campaign


def condition_from_iri(iri: np.ndarray) -> np.ndarray:
    """Bina Marga condition class for each IRI value (see ``IRI_BANDS``)."""
    out = np.full(len(iri), IRI_WORST, dtype=object)
    for bound, cls in reversed(IRI_BANDS):
        upper_inclusive = cls == "rusak_ringan"
        out[(iri <= bound) if upper_inclusive else (iri < bound)] = cls
    return out


def read_osm() -> gpd.GeoDataFrame:
    """OSM ways that are roads, with status, function and a width for every way."""
    osm = gpd.read_file(real_dir() / OSM_FILE)
    osm = osm[~osm["road_class"].isin(NOT_ROADS)].reset_index(drop=True)
    pair = osm["highway"].map(STATUS_FUNCTION)
    pair = pair.where(pair.notna(), pd.Series([OTHER_ROADS] * len(osm)))
    osm["status"] = [p[0] for p in pair]
    osm["function"] = [p[1] for p in pair]
    narrow = (osm["highway"] == "primary") & (osm["width_m"] < PRIMARY_ARTERI_MIN_WIDTH_M)
    osm.loc[narrow, "function"] = "kolektor"
    # Missing width: the median tagged width of the same highway, else a class default.
    median = osm.groupby("highway")["width_m"].transform("median")
    fallback = osm["function"].map(FALLBACK_WIDTH_M)
    width = osm["width_m"].fillna(median).fillna(fallback)
    field = layer("road_condition").field("width_m")
    osm["width_m"] = width.clip(field.minimum, field.maximum)  # 0.5 m OSM tags → 1 m
    osm["source"] = "osm"
    return osm[["segment_id", "name", "status", "function", "width_m", "source", "geometry"]]


def synthetic_attributes(net: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """Status, width and ids for the synthetic network (EPSG:4326 in, same out)."""
    net = net.copy()
    net["status"] = "kota"
    lo = net["function"].map(lambda f: SYNTHETIC_WIDTH_M[f][0]).to_numpy()
    hi = net["function"].map(lambda f: SYNTHETIC_WIDTH_M[f][1]).to_numpy()
    net["width_m"] = np.round(rng.uniform(lo, hi) * 2) / 2  # tape-measured to 0.5 m
    net["segment_id"] = [f"syn-{i:06d}" for i in range(1, len(net) + 1)]
    net["source"] = "synthetic"
    return net


def condition_attributes(
    roads: gpd.GeoDataFrame, terrain: Terrain, depth: np.ndarray, rng: np.random.Generator
) -> gpd.GeoDataFrame:
    """Surface, IRI, condition and survey date for every segment."""
    require_values("road_condition", "surface", {s for p in SURFACE_P.values() for s in p})
    require_values("road_condition", "condition", [c for _, c in IRI_BANDS] + [IRI_WORST])
    require_values("road_condition", "function", SURFACE_P)
    require_values("road_condition", "status", {p[0] for p in STATUS_FUNCTION.values()})
    n = len(roads)
    function = roads["function"].to_numpy()
    surface = np.empty(n, dtype=object)
    for f, probs in SURFACE_P.items():
        mask = function == f
        surface[mask] = rng.choice(list(probs), size=mask.sum(), p=list(probs.values()))
    z, wet = _sample_midpoints(roads, terrain, depth)
    low = 1 + LOWLAND_IRI * np.exp(-np.maximum(z, 0) / 2.5)
    median = pd.Series(function).map(IRI_MEDIAN).to_numpy()
    scale = pd.Series(surface).map(SURFACE_IRI).to_numpy() * low * np.where(wet, FLOODED_IRI, 1)
    iri_field = layer("road_condition").field("iri")
    iri = median * scale * np.exp(rng.normal(0, IRI_SIGMA, n))
    iri = np.round(np.clip(iri, 1.0, iri_field.maximum - 0.1), 1)
    days = (SURVEY_WINDOW[1] - SURVEY_WINDOW[0]).days + 1
    dates = [SURVEY_WINDOW[0] + dt.timedelta(days=int(d)) for d in rng.integers(0, days, n)]
    roads = roads.copy()
    roads["surface"] = surface
    roads["iri"] = iri
    roads["condition"] = condition_from_iri(iri)
    roads["survey_date"] = [d.isoformat() for d in dates]
    order = [f.name for f in layer("road_condition").fields] + ["source", "geometry"]
    assert set(roads["condition"]) <= set(allowed("road_condition", "condition"))
    return roads[order]


def _sample_midpoints(roads, terrain: Terrain, depth: np.ndarray):
    """DEM height and flooded flag at each segment's midpoint (EPSG:32749 grid)."""
    mid = roads.geometry.to_crs(UTM).interpolate(0.5, normalized=True)
    return sample(terrain, terrain.dem, mid.x, mid.y).astype(float), sample(
        terrain, depth, mid.x, mid.y
    ) > 0
