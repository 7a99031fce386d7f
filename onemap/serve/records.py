"""The catalogue: one OGC API Records record per layer, from the layer file and its loads.

Each record carries the core elements of SNI 8843-1:2019 *Profil Metadata Spasial
Indonesia* (an ISO 19115 profile; BIG Surat Edaran 6/2021 makes it the national metadata
standard): identifier, title, abstract, keywords, topic category, responsible party
(the office), dates (created/updated), spatial and temporal extent, reference system,
lineage (from ``onemap_meta.loads``), maintenance frequency, use constraints (licence,
attribution) and distribution (links to the API). They are written as OGC API Records
core properties (OGC 20-004) plus an ``sni8843`` block naming the ISO 19115 elements.

The catalogue is a TinyDB file served by pygeoapi's ``TinyDBCatalogue`` provider; it
is rewritten when the server starts, so lineage is as of the last start.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg import sql

from onemap.core.city import get_city
from onemap.core.layers import Layer, load_layers
from onemap.core.provenance import describe, split_sources
from onemap.core.settings import DbSettings
from onemap.db.connect import connect_reader
from onemap.db.models import DATA_SCHEMA
from onemap.serve.extents import table_extents

CATALOG_ID = "catalog"


def _history(conn, layer: Layer) -> list[dict[str, Any]]:
    # as the reader, through the one function it may call on the history (045_catalogue.sql)
    rows = conn.execute(
        "SELECT load_id, finished_at, source_file, source_sha256, rows_loaded, loaded_by, "
        "sources FROM onemap_meta.published_runs(%s)",
        (layer.id,),
    ).fetchall()
    return [
        {
            "run": r[0],
            "loaded": r[1].isoformat() if r[1] else None,
            "file": r[2],
            "sha256": r[3],
            "features": r[4],
            "by": r[5],
        }
        # the rows each run staged, by source (runs before provenance have none)
        | ({"sources": _sides(r[6].items())} if r[6] else {})
        for r in rows
    ]


def _sides(counts) -> dict[str, list[dict[str, Any]]]:
    real, synthetic = split_sources(counts)
    return {
        side: [describe(value) | {"features": n} for value, n in sorted(found.items())]
        for side, found in (("real", real), ("synthetic", synthetic))
    }


def _published_sources(conn, layer: Layer) -> dict[str, list[dict[str, Any]]]:
    """The published rows' sources, real and synthetic apart (what the layer holds now)."""
    query = sql.SQL("SELECT source, count(*) FROM {} GROUP BY source").format(
        sql.Identifier(DATA_SCHEMA, layer.id)
    )
    return _sides(conn.execute(query).fetchall())


def _lineage(layer: Layer, sources: dict[str, list[dict[str, Any]]], runs: int) -> str:
    def names(side: str) -> str:
        return "; ".join(f"{s['source']} ({s['features']} features)" for s in sources[side])

    parts = [f"Loaded by onemap from {runs} published run(s)."]
    if sources["real"]:
        parts.append(f"Real sources: {names('real')}.")
    if sources["synthetic"]:
        note = f" {layer.synthetic_note}" if layer.synthetic_note else ""
        parts.append(f"Synthetic sources: {names('synthetic')}.{note}")
    parts.append(f"Attribution: {layer.attribution}.")
    return " ".join(parts)


def _extent(conn, layer: Layer) -> tuple[list[float], list[str | None]]:
    """The layer's bbox (CRS84) and time interval (RFC 3339), as its collection has them."""
    extents = table_extents(conn, layer)
    temporal = extents.get("temporal")
    interval = [temporal["begin"].isoformat(), temporal["end"].isoformat()] if temporal else []
    return extents["spatial"]["bbox"], interval or [None, None]


def layer_record(layer: Layer, conn, base_url: str) -> dict[str, Any]:
    """The catalogue record of one layer (GeoJSON Feature, OGC API Records core)."""
    history = _history(conn, layer)
    bbox, interval = _extent(conn, layer)
    x0, y0, x1, y1 = bbox
    sources = _published_sources(conn, layer)
    lineage = _lineage(layer, sources, len(history))
    # what the published rows are, not what the layer file expects (an empty layer: the file)
    synthetic = bool(sources["synthetic"]) or (layer.synthetic and not sources["real"])
    collection = f"{base_url}/collections/{layer.id}"
    return {
        "id": layer.id,
        "type": "Feature",
        "conformsTo": ["http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core"],
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
        },
        "time": {"interval": interval} if any(interval) else None,
        "properties": {
            "type": "dataset",
            "title": f"{layer.title} / {layer.title_en}",
            "description": layer.description,
            "keywords": list(layer.keywords),
            "themes": [
                {
                    "concepts": [{"id": layer.topic_category}],
                    "scheme": "https://standards.iso.org/iso/19139/resources/gmxCodelists.xml#MD_TopicCategoryCode",
                }
            ],
            "language": {"code": "id"},
            "created": history[0]["loaded"] if history else None,
            "updated": history[-1]["loaded"] if history else None,
            "contacts": [{"organization": layer.office, "roles": ["custodian"]}],
            "license": layer.license,
            "rights": layer.attribution,
            "formats": [{"name": "GeoJSON"}, {"name": "MVT"}, {"name": "HTML"}],
            "updateFrequency": layer.update_frequency,
            "synthetic": synthetic,
            "lineage": lineage,
            "sources": sources,
            "history": history,
            # searched by pygeoapi's TinyDBCatalogue for ?q= (it only adds it on create)
            "_metadata-anytext": " ".join(
                [layer.title, layer.title_en, layer.description, *layer.keywords]
            ),
            "sni8843": {
                "fileIdentifier": layer.id,
                "MD_DataIdentification.citation.title": layer.title,
                "MD_DataIdentification.abstract": layer.description,
                "MD_DataIdentification.topicCategory": layer.topic_category,
                "MD_DataIdentification.pointOfContact": layer.office,
                "MD_MaintenanceInformation.maintenanceAndUpdateFrequency": layer.update_frequency,
                "MD_ReferenceSystem": f"EPSG:{layer.geometry.srid}",
                "MD_Constraints.useLimitation": layer.license,
                "LI_Lineage.statement": lineage,
                "LI_Lineage.source": [
                    s.get("title") or s["source"] for side in sources.values() for s in side
                ],
                "EX_Extent.geographicElement": bbox,
                "EX_Extent.temporalElement": interval,
                "MD_Distribution.onLine": collection,
            },
        },
        "links": [
            {
                "rel": "item",
                "type": "application/geo+json",
                "title": "Features",
                "href": f"{collection}/items?f=json",
            },
            {
                "rel": "describedby",
                "type": "application/json",
                "title": "Collection",
                "href": f"{collection}?f=json",
            },
        ],
    }


def write_catalogue(path: Path, base_url: str, settings: DbSettings | None = None) -> Path:
    """Write the TinyDB file pygeoapi's TinyDBCatalogue provider serves (as the reader:
    an API node holds no owner password)."""
    with connect_reader(settings) as conn:
        records = [layer_record(lyr, conn, base_url) for lyr in load_layers().values()]
    table = {str(i): rec for i, rec in enumerate(records, start=1)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"_default": table}, ensure_ascii=False, default=_iso))
    return path


def _iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value))


def catalogue_resource() -> dict[str, Any]:
    """The pygeoapi collection of the catalogue (records), for pygeoapi.yml."""
    city = get_city()
    x0, y0, x1, y1 = city.bbox
    return {
        "type": "collection",
        "title": {
            "en": f"Catalogue of the {city.name} One Map layers",
            "id": f"Katalog lapisan Satu Peta {city.name}",
        },
        "description": "One metadata record per layer (SNI 8843-1:2019 core elements, "
        "as OGC API Records): abstract, keywords, office, licence, lineage, extent.",
        "keywords": ["katalog", "metadata", "SNI 8843-1:2019", "ISO 19115"],
        "links": [],
        "extents": {
            "spatial": {
                "bbox": [x0, y0, x1, y1],
                "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            }
        },
        "providers": [
            {
                "type": "record",
                "name": "TinyDBCatalogue",
                "data": "${ONEMAP_RECORDS}",
                "id_field": "id",
                "time_field": "updated",
                "title_field": "title",
            }
        ],
    }
