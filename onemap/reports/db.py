"""Database side of citizen reports: roles, the private table, schema objects, grants.

Three roles touch the reports, each with the least it needs (granted in ``ensure``):

- the read-only role (pygeoapi's public collections, the maps): ``SELECT`` on
  ``onemap.reports`` like on every published layer, and nothing in ``onemap_private``;
- the intake role (``POST /collections/reports/items``): ``INSERT`` on the report
  columns a new report may set (not status, updated_at, closed_at), on its personal data
  and on its first history row; ``EXECUTE`` on the rate limiter and the spatial lookup;
- the staff role (the authenticated staff collection and status changes): exactly the
  status workflow and nothing on the tables: ``SELECT`` on the staff view, which shows
  only the rows of the office whose token the transaction carries (``STAFF_TOKEN``),
  and ``EXECUTE`` on the functions that check a token, its office, ``If-Match`` and the
  workflow before changing or deleting a report (``sql/040_staff.sql``).
"""

from __future__ import annotations

from importlib import resources

import psycopg
from geoalchemy2 import Geometry
from psycopg import sql
from sqlalchemy import Column, ForeignKey, MetaData, Table

from onemap.core.layers import Layer, load_layers
from onemap.core.settings import DbSettings
from onemap.db.models import DATA_SCHEMA, PRIVATE_SCHEMA, SQL_TYPES, field_checks, field_comment
from onemap.reports import LAYER_ID
from onemap.reports.config import load_config
from onemap.reports.private import private_of
from onemap.reports.roles import RoleNames
from onemap.reports.workflow import FINAL, ORDER

# Columns of onemap.reports only staff change (the intake role may not set them).
STAFF_COLUMNS = ("status", "updated_at", "closed_at")
LOCATE_TYPES = {"text": "text", "integer": "integer", "real": "double precision"}
# The setting a staff transaction carries its token in (set_config(…, true): the
# transaction's only); the staff view shows the rows of that token's office.
STAFF_TOKEN = "onemap.staff_token"
# Staff functions (sql/040_staff.sql) the staff role may call, with their signatures.
STAFF_FUNCTIONS = (
    "staff_session(text)",
    "staff_change(text, text, text, text, text, text, text)",
    "staff_delete(text, text, text, text)",
)


def sql_text(name: str) -> str:
    """One SQL file of onemap/reports/sql."""
    return (resources.files("onemap.reports") / "sql" / name).read_text(encoding="utf-8")


def private_name(layer: Layer, name: str | None = None) -> sql.Identifier:
    """``onemap_private.<name>`` (default: the layer's private table)."""
    return sql.Identifier(PRIVATE_SCHEMA, name or layer.id)


def private_table(layer: Layer, metadata: MetaData) -> Table | None:
    """The personal data of a layer (``onemap_private.<layer>``), or None without any.

    Keyed like the layer (and deleted with its row); ``geom`` holds the exact geometry
    when the published one is coarsened (``private.location_grid_m``). Created and
    checked with the layer tables (``onemap.db.schema``, through the feature's ``tables``).
    """
    private = private_of(layer)
    if private is None:
        return None
    pk = layer.pk
    columns = [
        Column(
            pk.name,
            SQL_TYPES[pk.type],
            ForeignKey(f"{DATA_SCHEMA}.{layer.id}.{pk.name}", ondelete="CASCADE"),
            primary_key=True,
            comment=field_comment(pk),
        ),
        *[
            Column(f.name, SQL_TYPES[f.type], nullable=not f.required, comment=field_comment(f))
            for f in private.fields
        ],
        Column(
            "geom",
            Geometry(layer.geometry.type, srid=layer.geometry.srid, spatial_index=False),
            nullable=True,
            comment="Exact geometry when the published one is coarsened",
        ),
    ]
    checks = [c for f in private.fields for c in field_checks(layer, f)]
    return Table(
        layer.id,
        metadata,
        *columns,
        *checks,
        schema=PRIVATE_SCHEMA,
        comment=f"Personal data of {DATA_SCHEMA}.{layer.id}, never published. "
        f"{private.description}",
    )


def staff_view(layer: Layer) -> sql.Composed:
    """``CREATE VIEW`` of the staff collection: public columns, personal data, exact geometry."""
    private = private_of(layer)
    assert private is not None
    cols = [sql.Identifier("p", f.name) for f in layer.fields]
    cols += [sql.Identifier("x", f.name) for f in private.fields]
    cols.append(sql.Identifier("p", "source"))
    geom = sql.SQL("COALESCE(x.geom, p.geom)::geometry({}, {}) AS geom").format(
        sql.SQL(layer.geometry.type), sql.Literal(layer.geometry.srid)
    )
    view = private_name(layer, private.staff_collection)
    # Rows of the token's office only (every row for an admin; none without a valid
    # token): a security barrier, so a caller's filter cannot see rows before this one.
    scope = (
        sql.SQL("s.role = 'admin' OR p.{} = s.office").format(sql.Identifier(private.scope_field))
        if private.scope_field
        else sql.SQL("true")
    )
    return sql.SQL(
        "DROP VIEW IF EXISTS {view}; CREATE VIEW {view} WITH (security_barrier) AS "
        "SELECT {cols}, {geom} FROM {public} p LEFT JOIN {private} x USING ({pk}) "
        "CROSS JOIN onemap_private.staff_session(pg_catalog.current_setting({token}, true)) s "
        "WHERE {scope}; COMMENT ON VIEW {view} IS {note}"
    ).format(
        view=view,
        cols=sql.SQL(", ").join(cols),
        geom=geom,
        public=sql.Identifier(DATA_SCHEMA, layer.id),
        private=private_name(layer),
        pk=sql.Identifier(layer.primary_key),
        token=sql.Literal(STAFF_TOKEN),
        scope=scope,
        note=sql.Literal(
            f"Staff collection of {DATA_SCHEMA}.{layer.id}, with personal data: the rows "
            f"the staff token in {STAFF_TOKEN} may see"
        ),
    )


def staff_rules() -> sql.Composed:
    """The staff functions (sql/040_staff.sql) with the status workflow of onemap.reports.staff."""
    return sql.SQL(sql_text("040_staff.sql")).format(
        order=sql.Literal(list(ORDER)),
        final=sql.Literal(list(FINAL)),
        token_days=sql.Literal(load_config().staff.token_days),
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
        kind = LOCATE_TYPES[layer.field(lk.into).type]
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


def _grants(layer: Layer, names: RoleNames, roles: set[str]) -> list[sql.Composed]:
    public, private = sql.Identifier(DATA_SCHEMA, layer.id), private_name(layer)
    # public: where PostGIS lives (its USAGE is revoked from PUBLIC in onemap.db.schema)
    schemas = sql.SQL("public, {}, {}").format(
        sql.Identifier(DATA_SCHEMA), sql.Identifier(PRIVATE_SCHEMA)
    )
    out: list[sql.Composed] = []
    intake, staff = sql.Identifier(names.intake), sql.Identifier(names.staff)
    if names.intake in roles:
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
                "GRANT EXECUTE ON FUNCTION {}(bytea, integer, integer), {}(public.geometry) TO {}"
            ).format(
                private_name(layer, "intake_allow"), private_name(layer, "reports_locate"), intake
            ),
        ]
    block = private_of(layer)
    if names.staff in roles and block is not None:
        # nothing on the tables (what earlier versions granted is taken back): the view
        # and the functions that apply the staff rules
        tables = [
            public,
            private,
            *(private_name(layer, n) for n in ("reports_status", "reports_deleted", "staff_users")),
        ]
        functions = sql.SQL(", ").join(
            sql.SQL("{}.{}").format(sql.Identifier(PRIVATE_SCHEMA), sql.SQL(f))
            for f in STAFF_FUNCTIONS
        )
        out += [
            sql.SQL("REVOKE ALL ON {} FROM {}").format(sql.SQL(", ").join(tables), staff),
            sql.SQL("GRANT USAGE ON SCHEMA public, {} TO {}").format(
                sql.Identifier(PRIVATE_SCHEMA), staff
            ),
            sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(sql.Identifier(DATA_SCHEMA), staff),
            sql.SQL("GRANT SELECT ON {} TO {}").format(
                private_name(layer, block.staff_collection), staff
            ),
            sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(functions, staff),
        ]
    return out


def ensure(conninfo: str, settings: DbSettings | None = None) -> None:
    """Create or update the reports' objects and grants (no-op without the layer)."""
    layers = load_layers()
    if LAYER_ID not in layers:
        return
    layer = layers[LAYER_ID]
    with psycopg.connect(conninfo) as conn:
        conn.execute(sql_text("010_reports.sql"))
        conn.execute(staff_rules())
        conn.execute(staff_view(layer))
        conn.execute(locate_functions(layer))
        roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles")}
        for stmt in _grants(layer, RoleNames(), roles):
            conn.execute(stmt)
        conn.commit()
