"""Road condition: synthetic attributes of the synthetic network, condition for every road.

Surface, IRI, condition and survey date are synthetic everywhere, on the real OSM ways
(``etl.osm_roads``) too, because no open condition survey of Semarang exists (the OSM
extract has no surface or smoothness either).
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd

from etl.common import UTM, allowed, layer, require_values
from etl.synthetic.terrain import Terrain, sample
from onemap.core.provenance import SYNTHETIC, is_synthetic

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
    # OSM ways carry generated condition: their rows say both (onemap.core.provenance)
    roads["source"] = [
        s if is_synthetic(s) else f"{s}+{SYNTHETIC}" for s in roads["source"].to_numpy()
    ]
    order = [f.name for f in layer("road_condition").fields] + ["source", "geometry"]
    assert set(roads["condition"]) <= set(allowed("road_condition", "condition"))
    return roads[order]


def _sample_midpoints(roads, terrain: Terrain, depth: np.ndarray):
    """DEM height and flooded flag at each segment's midpoint (EPSG:32749 grid)."""
    mid = roads.geometry.to_crs(UTM).interpolate(0.5, normalized=True)
    return sample(terrain, terrain.dem, mid.x, mid.y).astype(float), sample(
        terrain, depth, mid.x, mid.y
    ) > 0
