"""What a layer's tileset metadata says about its zooms (``/tiles/{tileset}/metadata``).

OGC API Tiles' tileset metadata (OGC 20-057, ``tileset.yaml``) describes each vector layer
with ``geometryDimension``, ``minTileMatrix``/``maxTileMatrix`` and a ``propertiesSchema``;
onemap adds, per field, the zoom it is carried from (``x-onemap-minZoom``) and, under
``onemap:zooms``, the zoom ranges with the fields and classes each carries, the size limit
and the thinning rule.
"""

from __future__ import annotations

from typing import Any

from onemap.core.layers import Layer
from onemap.core.tile_rules import MAX_TILE_BYTES

JSON_TYPES = {
    "text": {"type": "string"},
    "integer": {"type": "integer"},
    "real": {"type": "number"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
    "boolean": {"type": "boolean"},
}
DIMENSION = {"point": 0, "line": 1, "polygon": 2}


def zoom_ranges(layer: Layer, generalised: bool) -> list[dict[str, Any]]:
    """Consecutive zooms that carry the same fields and classes, as ranges (``generalised``:
    the tileset draws low zooms from the generalised tables, WebMercatorQuad only)."""
    rules = layer.tiles
    allowed = layer.field(rules.classes.field).allowed if rules.classes else ()
    ranges: list[dict[str, Any]] = []
    for z in range(rules.min_zoom, rules.max_zoom + 1):
        below = generalised and z < rules.detail_zoom
        merged = below and rules.merges(layer.geometry_family, z)
        # attribute names as tiles carry them: the primary key as "id" (as pygeoapi names it)
        names = [f for f in rules.fields_at(z, layer.field_names) if f != layer.primary_key]
        fields = [*([] if merged else ["id"]), *names]
        if z >= rules.detail_zoom:
            fields += ["source", "load_id"]  # the published table's own columns
        entry: dict[str, Any] = {"fields": fields, "generalised": below, "linesMerged": merged}
        classes = rules.classes_at(z, allowed)
        if classes is not None:
            entry["classes"] = {rules.classes.field: list(classes)}
        same = {k: v for k, v in (ranges[-1] if ranges else {}).items() if "Zoom" not in k}
        if same == entry:
            ranges[-1]["maxZoom"] = z
        else:
            ranges.append({"minZoom": z, "maxZoom": z, **entry})
    return ranges


def describe(layer: Layer, name: str, generalised: bool, thinning: str) -> dict[str, Any]:
    """The keys the tileset metadata gains: ``layers`` and ``onemap:zooms``."""
    rules = layer.tiles
    first = {f.name: rules.min_zoom for f in layer.fields}
    for f in layer.fields:
        if f.name != layer.primary_key:
            first[f.name] = max(
                rules.min_zoom, rules.fields_from_zoom.get(f.name, rules.detail_zoom)
            )
    props = {
        f.name: {
            **JSON_TYPES[f.type],
            "title": f.label_en or f.label,
            "description": f.description,
            "x-onemap-minZoom": first[f.name],
            **({"enum": list(f.allowed)} if f.values else {}),
        }
        for f in layer.fields
    }
    return {
        "layers": [
            {
                "id": name,
                "title": layer.title_en,
                "dataType": "vector",
                "geometryDimension": DIMENSION[layer.geometry_family],
                "minTileMatrix": str(rules.min_zoom),
                "maxTileMatrix": str(rules.max_zoom),
                "propertiesSchema": {"type": "object", "properties": props},
            }
        ],
        "onemap:zooms": zoom_ranges(layer, generalised),
        "onemap:maxTileBytes": MAX_TILE_BYTES,
        "onemap:thinning": thinning,
    }
