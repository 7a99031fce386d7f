"""Database side of citizen reports: role connections, schema objects, grants.

Three roles touch the reports, each with the least it needs (granted in ``ensure``):

- the read-only role (pygeoapi's public collections, the maps): ``SELECT`` on
  ``onemap.reports`` like on every published layer, and nothing in ``onemap_private``;
- the intake role (``POST /collections/reports/items``): ``INSERT`` on the report
  columns a new report may set (not status, updated_at, closed_at), on its personal data
  and on its first history row; ``EXECUTE`` on the rate limiter and the spatial lookup;
- the staff role (the authenticated staff collection and status changes): ``SELECT`` on
  the staff view and tokens, ``UPDATE`` of status, office, category and their times,
  ``DELETE`` of reports (admins only, checked by the application), history inserts.
"""

from __future__ import annotations

import threading
from importlib import resources

import psycopg
from psycopg import sql

from onemap.core.layers import Layer, load_layers
from onemap.core.settings import DbSettings
from onemap.db.connect import role_conninfo
from onemap.db.models import DATA_SCHEMA, PRIVATE_SCHEMA
from onemap.reports import LAYER_ID
from onemap.reports.config import load_config

# Columns of onemap.reports only staff change (the intake role may not set them).
STAFF_COLUMNS = ("status", "updated_at", "closed_at")
STAFF_UPDATABLE = ("status", "office", "category", "updated_at", "closed_at")
SQL_TYPES = {"text": "text", "integer": "integer", "real": "double precision"}


def sql_text(name: str) -> str:
    """One SQL file of onemap/reports/sql."""
    return (resources.files("onemap.reports") / "sql" / name).read_text(encoding="utf-8")


def private_name(layer: Layer, name: str | None = None) -> sql.Identifier:
    """``onemap_private.<name>`` (default: the layer's private table)."""
    return sql.Identifier(PRIVATE_SCHEMA, name or layer.id)


class RoleConnection:
    """One lazily opened autocommit connection per role and process (gunicorn workers).

    A sync worker serves one request at a time; the lock makes threaded use safe too.
    Callers open transactions with ``conn.transaction()``. A broken connection is
    replaced on the next ``get``.
    """

    def __init__(self, role: str, settings: DbSettings | None = None):
        self.role = role
        self.settings = settings
        self.lock = threading.RLock()
        self._conn: psycopg.Connection | None = None

    def get(self) -> psycopg.Connection:
        """A live connection (opened or reopened on demand)."""
        with self.lock:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(
                    role_conninfo(self.role, self.settings), autocommit=True, connect_timeout=10
                )
            return self._conn

    def close(self) -> None:
        """Close the connection if open."""
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def staff_view(layer: Layer) -> sql.Composed:
    """``CREATE VIEW`` of the staff collection: public columns, personal data, exact geometry."""
    assert layer.private is not None
    cols = [sql.Identifier("p", f.name) for f in layer.fields]
    cols += [sql.Identifier("x", f.name) for f in layer.private.fields]
    cols.append(sql.Identifier("p", "source"))
    geom = sql.SQL("COALESCE(x.geom, p.geom)::geometry({}, {}) AS geom").format(
        sql.SQL(layer.geometry.type), sql.Literal(layer.geometry.srid)
    )
    view = private_name(layer, layer.private.staff_collection)
    return sql.SQL(
        "DROP VIEW IF EXISTS {view}; CREATE VIEW {view} AS SELECT {cols}, {geom} "
        "FROM {public} p LEFT JOIN {private} x USING ({pk}); COMMENT ON VIEW {view} IS {note}"
    ).format(
        view=view,
        cols=sql.SQL(", ").join(cols),
        geom=geom,
        public=sql.Identifier(DATA_SCHEMA, layer.id),
        private=private_name(layer),
        pk=sql.Identifier(layer.primary_key),
        note=sql.Literal(f"Staff collection of {DATA_SCHEMA}.{layer.id}, with personal data"),
    )


def locate_functions(layer: Layer) -> sql.Composed:
    """The spatial lookup function and fill trigger, from config/reports.yaml ``locate:``."""
    layers = load_layers()
    outputs, selects, joins, derived = [], [], [], []
    for i, lk in enumerate(load_config().locate):
        alias = sql.Identifier(f"l{i}")
        src = layers[lk.layer]
        joins.append(
            sql.SQL(sql_text("021_nearest.sql")).format(
                field=sql.Identifier(lk.field),
                table=sql.Identifier(DATA_SCHEMA, src.id),
                srid=sql.Literal(src.geometry.srid),
                max_m=sql.Literal(lk.max_distance_m),
                alias=alias,
            )
        )
        kind = SQL_TYPES[layer.field(lk.into).type]
        outputs.append((lk.into, kind))
        selects.append(
            sql.SQL("{}.v::{} AS {}").format(alias, sql.SQL(kind), sql.Identifier(lk.into))
        )
        derived.append(lk.into)
        if lk.distance_into:
            outputs.append((lk.distance_into, "double precision"))
            selects.append(
                sql.SQL("round({}.d::numeric, 1)::double precision AS {}").format(
                    alias, sql.Identifier(lk.distance_into)
                )
            )
    names = [n for n, _ in outputs]
    return sql.SQL(sql_text("020_locate.sql")).format(
        outputs=sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in outputs
        ),
        selects=sql.SQL(", ").join(selects),
        joins=sql.SQL("\n").join(joins),
        derived=sql.SQL(", ").join(sql.SQL("NEW.{}").format(sql.Identifier(n)) for n in derived),
        outputs_list=sql.SQL(", ").join(sql.Identifier("l", n) for n in names),
        targets=sql.SQL(", ").join(sql.SQL("NEW.{}").format(sql.Identifier(n)) for n in names),
    )


def _grants(layer: Layer, settings: DbSettings, roles: set[str]) -> list[sql.Composed]:
    public, private = sql.Identifier(DATA_SCHEMA, layer.id), private_name(layer)
    # public: where PostGIS lives (its USAGE is revoked from PUBLIC in onemap.db.schema)
    schemas = sql.SQL("public, {}, {}").format(
        sql.Identifier(DATA_SCHEMA), sql.Identifier(PRIVATE_SCHEMA)
    )
    out: list[sql.Composed] = []
    intake, staff = sql.Identifier(settings.intake), sql.Identifier(settings.staff)
    if settings.intake in roles:
        cols = [f.name for f in layer.fields if f.name not in STAFF_COLUMNS] + ["source", "geom"]
        out += [
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schemas, intake),
            sql.SQL("GRANT INSERT ({}) ON {} TO {}").format(
                sql.SQL(", ").join(map(sql.Identifier, cols)), public, intake
            ),
            sql.SQL("GRANT INSERT ON {}, {} TO {}").format(
                private, private_name(layer, "reports_status"), intake
            ),
            sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(
                private_name(layer, "reports_number"), intake
            ),
            sql.SQL(
                "GRANT EXECUTE ON FUNCTION {}(bytea, integer, integer), {}(geometry) TO {}"
            ).format(
                private_name(layer, "intake_allow"), private_name(layer, "reports_locate"), intake
            ),
        ]
    if settings.staff in roles:
        assert layer.private is not None
        readable = [
            public,
            private,
            private_name(layer, layer.private.staff_collection),
            private_name(layer, "reports_status"),
            private_name(layer, "staff_users"),
        ]
        out += [
            sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schemas, staff),
            sql.SQL("GRANT SELECT ON {} TO {}").format(sql.SQL(", ").join(readable), staff),
            sql.SQL("GRANT UPDATE ({}) ON {} TO {}").format(
                sql.SQL(", ").join(map(sql.Identifier, STAFF_UPDATABLE)), public, staff
            ),
            sql.SQL("GRANT DELETE ON {} TO {}").format(public, staff),
            sql.SQL("GRANT INSERT ON {}, {} TO {}").format(
                private_name(layer, "reports_status"), private_name(layer, "reports_deleted"), staff
            ),
        ]
    return out


def ensure(conninfo: str, settings: DbSettings | None = None) -> None:
    """Create or update the reports' objects and grants (no-op without the layer)."""
    layers = load_layers()
    if LAYER_ID not in layers:
        return
    settings = settings or DbSettings()
    layer = layers[LAYER_ID]
    with psycopg.connect(conninfo) as conn:
        conn.execute(sql_text("010_reports.sql"))
        conn.execute(staff_view(layer))
        conn.execute(locate_functions(layer))
        roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles")}
        for stmt in _grants(layer, settings, roles):
            conn.execute(stmt)
        conn.commit()
