"""Store a validated report: number it, locate it, route it, date it, keep its history.

One transaction per report writes the public row (``onemap.reports``), the personal
data (``onemap_private.reports``) and the first status-history row. The API runs it as
the intake role, which may insert and nothing else; the public answer is read back as
the read-only role, so it cannot contain what that role cannot read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

import psycopg
from psycopg import sql

from onemap.core.city import get_city
from onemap.core.layers import Layer, get_layer
from onemap.db.models import DATA_SCHEMA
from onemap.reports import LAYER_ID
from onemap.reports.config import ReportsConfig, load_config
from onemap.reports.db import private_name
from onemap.reports.private import private_of
from onemap.reports.sla import due_date
from onemap.reports.submission import Invalid, Submission
from onemap.reports.workflow import FINAL


def client_key(address: str, secret: str) -> bytes:
    """A keyed hash of a client address: rate limiting without storing addresses."""
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).digest()


def allow(conn: psycopg.Connection, key: bytes, config: ReportsConfig | None = None) -> bool:
    """Record an intake attempt; False when the client is over its rate limit."""
    limit = (config or load_config()).intake.rate_limit
    return bool(
        conn.execute(
            "SELECT onemap_private.intake_allow(%s, %s, %s)",
            (key, limit.requests, limit.per_seconds),
        ).fetchone()[0]
    )


def _point(srid: int) -> sql.Composed:
    return sql.SQL("ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), {})").format(
        sql.Literal(srid)
    )


def public_geometry(layer: Layer) -> sql.Composable:
    """The published point: as reported, or snapped to the layer's private grid."""
    private = private_of(layer)
    grid = private.location_grid_m if private else 0
    if not grid:
        return _point(layer.geometry.srid)
    return sql.SQL("ST_Transform(ST_SnapToGrid(ST_Transform({}, {}), {}), {})").format(
        _point(layer.geometry.srid),
        sql.Literal(get_city().metric_crs),
        sql.Literal(float(grid)),
        sql.Literal(layer.geometry.srid),
    )


def _insert(table: sql.Identifier, values: dict[str, Any], geom: sql.Composable | None):
    cols = [sql.Identifier(c) for c in values]
    params = [sql.Placeholder(c) for c in values]
    if geom is not None:
        cols.append(sql.Identifier("geom"))
        params.append(geom)
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        table, sql.SQL(", ").join(cols), sql.SQL(", ").join(params)
    )


def locate(conn: psycopg.Connection, lon: float, lat: float) -> dict[str, Any]:
    """The derived fields of a point (config/reports.yaml ``locate:``); refuses outside."""
    cur = conn.execute(
        "SELECT * FROM onemap_private.reports_locate("
        "ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))",
        {"lon": lon, "lat": lat},
    )
    row = cur.fetchone()
    found = dict(zip([d.name for d in cur.description], row, strict=True))
    for lk in load_config().locate:
        if lk.required and found.get(lk.into) is None:
            raise Invalid(
                f"the point is not in {get_city().name} (no {lk.layer} within "
                f"{lk.max_distance_m:g} m)",
                "OutsideCity",
            )
    return found


def store(
    conn: psycopg.Connection,
    sub: Submission,
    *,
    actor: str,
    config: ReportsConfig | None = None,
    now: dt.datetime | None = None,
    load_id: int | None = None,
) -> str:
    """Write one report in one transaction; returns its id (``load_id``: an import run)."""
    config = config or load_config()
    layer = get_layer(LAYER_ID)
    reported = sub.reported_at or now or dt.datetime.now(dt.UTC)
    route = config.route(sub.category)
    xy = {"lon": sub.lon, "lat": sub.lat}
    with conn.transaction():
        located = locate(conn, sub.lon, sub.lat)
        report_id = sub.report_id or _next_id(conn, config)
        public: dict[str, Any] = {
            "report_id": report_id,
            "category": sub.category,
            "description": sub.description,
            "channel": sub.channel,
            "reported_at": reported,
            "office": route.office,
            "sla_working_days": route.sla_working_days,
            "sla_due": due_date(reported, route.sla_working_days, config),
            **located,
            "location_grid_m": private.location_grid_m if (private := private_of(layer)) else 0.0,
            "source": sub.source,
        }
        if load_id is not None:  # imports are runs of onemap_meta.loads, like loads
            public["load_id"] = load_id
        if sub.status is not None:  # imports carry their history; intake starts 'baru'
            public |= {"status": sub.status, "updated_at": sub.closed_at or reported}
            public["closed_at"] = sub.closed_at if sub.status in FINAL else None
        conn.execute(
            _insert(sql.Identifier(DATA_SCHEMA, layer.id), public, public_geometry(layer)),
            public | xy,
        )
        personal = {
            "report_id": report_id,
            "reporter_name": sub.reporter_name,
            "reporter_phone": sub.reporter_phone,
            "reporter_email": sub.reporter_email,
            "description_original": sub.description_original,
        }
        conn.execute(
            _insert(private_name(layer), personal, _point(layer.geometry.srid)), personal | xy
        )
        _history(conn, report_id, "baru", route.office, reported, actor, f"via {sub.channel}")
        if sub.status not in (None, "baru"):
            when = sub.closed_at or reported
            _history(conn, report_id, sub.status, route.office, when, actor, "imported status")
    return report_id


def _next_id(conn: psycopg.Connection, config: ReportsConfig) -> str:
    n = conn.execute("SELECT nextval('onemap_private.reports_number')").fetchone()[0]
    return f"{config.id_prefix}-{n:06d}"


def _history(
    conn: psycopg.Connection,
    report_id: str,
    status: str,
    office: str,
    when: dt.datetime,
    actor: str,
    note: str | None,
) -> None:
    conn.execute(
        "INSERT INTO onemap_private.reports_status "
        "(report_id, status, office, changed_at, changed_by, note) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (report_id, status, office, when, actor, note),
    )


def feature_query(
    table: sql.Identifier, names: list[str], key: str, precision: int = 6
) -> sql.Composed:
    """One row as a GeoJSON Feature (built in PostGIS), selected by ``%(id)s``."""
    props = sql.SQL(", ").join(
        sql.SQL("{}, r.{}").format(sql.Literal(n), sql.Identifier(n)) for n in names
    )
    return sql.SQL(
        "SELECT json_build_object('type', 'Feature', 'id', r.{key}, "
        "'geometry', ST_AsGeoJSON(ST_Transform(r.geom, 4326), {prec})::json, "
        "'properties', json_build_object({props})) FROM {table} r WHERE r.{key} = %(id)s"
    ).format(key=sql.Identifier(key), prec=sql.Literal(precision), props=props, table=table)


def public_feature(conn: psycopg.Connection, report_id: str) -> dict[str, Any] | None:
    """The report as the public collection shows it (read it as the read-only role)."""
    layer = get_layer(LAYER_ID)
    query = feature_query(
        sql.Identifier(DATA_SCHEMA, layer.id), [f.name for f in layer.fields], layer.primary_key
    )
    row = conn.execute(query, {"id": report_id}).fetchone()
    return row[0] if row else None
