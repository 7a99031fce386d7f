"""OpenStreetMap road centrelines → the real rows of ``road_condition``.

Source: © OpenStreetMap contributors, ODbL 1.0 (via ernestpr21-beep/peta-semarang); see
data/real/PROVENANCE.md. Status and function of a way follow its ``highway`` tag (rule
below) and every way gets a width; surface, IRI, condition and survey date are synthetic
(``etl.synthetic.road_condition``): the extract has no surface or smoothness.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from etl.common import layer
from etl.real_data import real_dir

OSM_FILE = "osm_roads/semarang_roads_osm.geojson"
NOT_ROADS = ("setapak",)  # footways, paths, steps, pedestrian ways: not carriageways
# OSM highway → (status, function): the layer file's osm: table (layers/road_condition,
# docs/standards.md §2.4, §2.7), the one `onemap load road_condition city.osm.pbf` applies.
# A primary way narrower than PRIMARY_ARTERI_MIN_WIDTH_M is a collector (this extract's
# rule: its widths are tagged), and a highway the table lacks a neighbourhood street.
OTHER_ROADS = ("kota", "lingkungan")
PRIMARY_ARTERI_MIN_WIDTH_M = 7.0
# Width fill for ways without an OSM width tag when no way of that highway has one.
FALLBACK_WIDTH_M = {"arteri": 10.0, "kolektor": 7.0, "lokal": 5.0, "lingkungan": 3.0}
# The 0.01° cells the OSM extract covers completely (data/real/PROVENANCE.md §3), as
# floor(lon×100)_floor(lat×100).
OSM_CELLS = tuple(
    """
    11040_-700 11040_-699 11040_-698 11040_-697
    11041_-700 11041_-699 11041_-698 11041_-697
    11042_-700 11042_-699 11042_-698 11042_-697 11042_-696
    11043_-700 11043_-699 11043_-698 11043_-697 11043_-696
    11044_-699 11044_-698 11044_-697
    11045_-696 11046_-696
    """.split()
)


def read_osm() -> gpd.GeoDataFrame:
    """OSM ways that are roads, with status, function and a width for every way."""
    osm = gpd.read_file(real_dir() / OSM_FILE)
    osm = osm[~osm["road_class"].isin(NOT_ROADS)].reset_index(drop=True)
    table = layer("road_condition").osm.highway
    pair = osm["highway"].map({hw: (v["status"], v["function"]) for hw, v in table.items()})
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


def osm_cells() -> shapely.Geometry:
    """Union of the 0.01° cells the extract covers completely, EPSG:4326."""
    boxes = []
    for cell in OSM_CELLS:
        x, y = (int(v) for v in cell.split("_"))
        boxes.append(shapely.box(x / 100, y / 100, (x + 1) / 100, (y + 1) / 100))
    return shapely.union_all(boxes)
