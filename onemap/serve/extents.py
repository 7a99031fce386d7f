"""Collection extents from the data: written by ``onemap publish``, kept current by the server.

``onemap publish`` writes each layer's extent into pygeoapi.yml. A later load can move
it (a survey that reaches a new kecamatan), and clients zoom to what the collection says
(QGIS "Zoom to Layer" uses the collection's ``extent``). So the server refreshes the
extents in pygeoapi's in-memory configuration before it answers a collection request:
a layer's extent is computed again only when a new version of it has been published
(``onemap_meta.version_at(layer, now())``, which the reader may call), and on every request
for layers that change between loads (citizen reports arrive one at a time).
"""

from __future__ import annotations

import logging
import math
import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
from psycopg import sql

from onemap.core.city import get_city
from onemap.core.layers import Layer
from onemap.db.models import DATA_SCHEMA

LOGGER = logging.getLogger(__name__)
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# GET /collections and /collections/{id}: the responses that carry extents
METADATA_PATH = re.compile(r"^/collections(/[^/]+)?/?$")


def time_field(layer: Layer) -> str | None:
    """The first date or timestamp field, used for ``datetime`` filtering."""
    return next((f.name for f in layer.fields if f.type in ("date", "timestamp")), None)


def table_extents(conn: psycopg.Connection, layer: Layer) -> dict[str, Any]:
    """Spatial (CRS84) and, for layers with a date field, temporal extent of the table."""
    table = sql.Identifier(DATA_SCHEMA, layer.id)
    box = conn.execute(
        sql.SQL(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT ST_Extent(ST_Transform(geom, 4326)) AS e FROM {}) s"
        ).format(table)
    ).fetchone()
    extents: dict[str, Any] = {}
    if box[0] is None:  # empty table: fall back to the city extent
        box = get_city().bbox
    # Round outwards to 1e-6° (~0.1 m) so the file is stable and still covers the data.
    lo = [_floor6(box[0]), _floor6(box[1])]
    hi = [_ceil6(box[2]), _ceil6(box[3])]
    extents["spatial"] = {"bbox": [*lo, *hi], "crs": CRS84}
    tf = time_field(layer)
    if tf:
        t0, t1 = conn.execute(
            sql.SQL("SELECT min({f}), max({f}) FROM {t}").format(f=sql.Identifier(tf), t=table)
        ).fetchone()
        if isinstance(t0, datetime):  # a timestamp field: whole seconds, outwards
            extents["temporal"] = {
                "begin": t0.astimezone(UTC).replace(microsecond=0),
                "end": (t1.astimezone(UTC) + timedelta(seconds=1)).replace(microsecond=0),
            }
        elif t0 is not None:
            # datetime objects: YAML timestamps, which pygeoapi compares as RFC 3339
            extents["temporal"] = {
                "begin": datetime.combine(t0, time.min, tzinfo=UTC),
                "end": datetime.combine(t1, time.max.replace(microsecond=0), tzinfo=UTC),
            }
    return extents


def _floor6(v: float) -> float:
    return math.floor(v * 1e6) / 1e6


def _ceil6(v: float) -> float:
    return math.ceil(v * 1e6) / 1e6


class LiveExtents:
    """Keeps the ``extents`` of the layers' collections in a pygeoapi config current."""

    def __init__(self, resources: dict[str, dict], layers: dict[str, Layer], connect) -> None:
        self.resources = resources
        self.layers = {lid: layer for lid, layer in layers.items() if lid in resources}
        self.connect = connect  # returns a live reader connection (autocommit)
        self.published: dict[str, str | None] = {}  # layer -> version (036_version_at.sql)

    def refresh(self) -> None:
        """Recompute the extents of layers published anew since the last call."""
        try:
            conn = self.connect()
            # the version, not the run id alone: run ids repeat in a rebuilt database
            runs = dict(
                conn.execute(
                    "SELECT l, onemap_meta.version_at(l, now()) FROM unnest(%s::text[]) AS l",
                    (list(self.layers),),
                ).fetchall()
            )
            for lid, layer in self.layers.items():
                cached = not layer.changes_between_loads and lid in self.published
                if cached and self.published[lid] == runs[lid]:
                    continue
                current = table_extents(conn, layer)
                self.resources[lid]["extents"] = {**self.resources[lid]["extents"], **current}
                self.published[lid] = runs[lid]
        except psycopg.Error as exc:  # keep the configured extents: metadata stays up
            LOGGER.warning("could not refresh collection extents: %s", exc)
