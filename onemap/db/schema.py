"""Bring the database to the state the layer files describe: roles, schemas, tables."""

from __future__ import annotations

import hashlib
import warnings
from importlib import resources

import psycopg
import pyproj
from psycopg import sql
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine

from onemap.core import extensions
from onemap.core.city import get_city
from onemap.core.errors import UserError
from onemap.core.layers import Layer, load_layers
from onemap.core.settings import DbSettings, password_variable
from onemap.db import cluster as pgcluster
from onemap.db.connect import is_external, owner_conninfo, read_secrets
from onemap.db.models import (
    DATA_SCHEMA,
    HIST_SCHEMA,
    META_SCHEMA,
    PRIVATE_SCHEMA,
    STAGE_SCHEMA,
    TILES_SCHEMA,
    build_metadata,
)
from onemap.db.tile_tables import drop_generalised


def sql_files() -> list[tuple[str, str]]:
    """The numbered SQL files shipped in onemap/sql, in order."""
    folder = resources.files("onemap.db") / "sql"
    files = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(p.name, p.read_text(encoding="utf-8")) for p in files]


def sql_digest() -> str:
    """A digest of the core's SQL files (``onemap/db/sql``: names and text). ``onemap db
    up`` records it in the database (``onemap_meta.schema_digest()``) once everything is
    applied, so that a server can tell a database an older onemap set up (``check_current``).
    The features' own SQL (the reports') is applied by the same ``db up`` but not digested."""
    h = hashlib.sha256()
    for name, text in sql_files():
        h.update(f"{name}\0{text}\0".encode())
    return h.hexdigest()[:16]


def record_digest(conninfo: str) -> None:
    """Record ``sql_digest`` as a function anyone may call (no table, no grant needed)."""
    body = sql.Literal(f"SELECT '{sql_digest()}'::text")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "CREATE OR REPLACE FUNCTION onemap_meta.schema_digest() RETURNS text "
                "LANGUAGE sql IMMUTABLE AS {}"
            ).format(body)
        )


def check_current(conn: psycopg.Connection) -> None:
    """Refuse a database whose SQL (functions the server calls: ``onemap_meta.version_at``,
    ``published_runs``…) is not this onemap's: the server would fail request by request."""
    try:
        have = conn.execute("SELECT onemap_meta.schema_digest()").fetchone()[0]
    except psycopg.errors.UndefinedFunction:  # set up before the digest was recorded
        have = None
    if have != sql_digest():
        raise UserError(
            "the database was set up by another version of onemap (its SQL functions differ "
            "from this one's): run 'onemap db up' (safe to rerun; it keeps the data), then "
            "start the server again"
        )


def engine_for(conninfo: str) -> Engine:
    """A SQLAlchemy engine over psycopg 3 for a libpq conninfo string."""
    return create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(conninfo))


def _ensure_role(cur: psycopg.Cursor, name: str, password: str) -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    cur.execute(
        sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(name), sql.Literal(password)
        )
    )


def _ensure_feature_roles(cur: psycopg.Cursor, passwords: dict[str, str]) -> None:
    for role in extensions.roles():  # e.g. the reports' intake and staff roles
        _ensure_role(cur, role.name, passwords[role.secret])


def _bootstrap_cluster(settings: DbSettings, cl: pgcluster.Cluster) -> None:
    """As superuser: roles, database, extension, schemas, grants."""
    pw = read_secrets(settings, create=True)
    with cl.superuser_connect(autocommit=True) as conn, conn.cursor() as cur:
        _ensure_role(cur, settings.owner, pw[password_variable("owner")])
        _ensure_role(cur, settings.reader, pw[password_variable("reader")])
        _ensure_feature_roles(cur, pw)
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (settings.name,))
        if not cur.fetchone():
            cur.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(settings.name), sql.Identifier(settings.owner)
                )
            )
    with cl.superuser_connect(settings.name, autocommit=True) as conn:
        conn.execute(dict(sql_files())["000_extensions.sql"])
        ensure_srids(conn)
        _schemas_and_grants(conn, settings)


def ensure_srids(conn: psycopg.Connection) -> None:
    """Add the city's CRSs to spatial_ref_sys from PROJ when PostGIS' copy lacks them."""
    have = {r[0] for r in conn.execute("SELECT srid FROM spatial_ref_sys")}
    for code in get_city().srids:
        if code in have:
            continue
        crs = pyproj.CRS.from_epsg(code)
        with warnings.catch_warnings():  # proj4text is informative only; srtext is the WKT
            warnings.simplefilter("ignore", UserWarning)
            proj4 = crs.to_proj4()
        conn.execute(
            "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text) "
            "VALUES (%s, 'EPSG', %s, %s, %s)",
            (code, code, crs.to_wkt("WKT1_GDAL"), proj4),
        )


def _schemas_and_grants(conn: psycopg.Connection, settings: DbSettings) -> None:
    owner, reader = sql.Identifier(settings.owner), sql.Identifier(settings.reader)
    # PRIVATE_SCHEMA: personal data features keep (reports' `private:`); the reader gets nothing.
    for schema in (
        DATA_SCHEMA, META_SCHEMA, STAGE_SCHEMA, PRIVATE_SCHEMA, HIST_SCHEMA, TILES_SCHEMA
    ):  # fmt: skip
        conn.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {} AUTHORIZATION {}").format(
                sql.Identifier(schema), owner
            )
        )
    # The reader sees the published layers, their earlier versions (onemap.load.history:
    # indicators as of a past run) and their tiles' generalised tables (onemap_tiles), and
    # nothing else (no meta, no staging).
    conn.execute(sql.SQL("REVOKE ALL ON SCHEMA public FROM PUBLIC"))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}, {}").format(owner, reader))
    # onemap_meta: the reader may call onemap_meta.run_at (035_run_at.sql), not read tables
    conn.execute(
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(META_SCHEMA), reader)
    )
    for schema in (DATA_SCHEMA, HIST_SCHEMA, TILES_SCHEMA):
        data = sql.Identifier(schema)
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(data, reader))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(data, reader))
        conn.execute(
            sql.SQL(
                "ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}"
            ).format(owner, data, reader)
        )


def _bootstrap_external(settings: DbSettings) -> None:
    """On a user-supplied database: extension and schemas, reader role when allowed."""
    pw = read_secrets(settings, create=True)
    with psycopg.connect(owner_conninfo(settings), autocommit=True) as conn:
        try:
            conn.execute(dict(sql_files())["000_extensions.sql"])
            ensure_srids(conn)
            with conn.cursor() as cur:
                _ensure_role(cur, settings.reader, pw[password_variable("reader")])
                _ensure_feature_roles(cur, pw)
            user = conn.execute("SELECT current_user").fetchone()[0]
            _schemas_and_grants(conn, settings.model_copy(update={"owner": user}))
        except psycopg.Error as exc:
            raise UserError(
                f"the database at DATABASE_URL refused setup ({exc.diag.message_primary}); "
                "the connecting role needs CREATE on the database and CREATEROLE, "
                "and PostGIS must be available"
            ) from exc


def ensure_tables(layers: dict[str, Layer], conninfo: str) -> None:
    """Create meta tables and any missing layer table; refuse silent schema drift."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for name, text in sql_files():
            if not name.startswith("000_"):  # 000_* needs a superuser: done in bootstrap
                conn.execute(text)
    engine = engine_for(conninfo)
    metadata = build_metadata(layers)
    insp = inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if not insp.has_table(table.name, schema=table.schema):
                table.create(conn)
                continue
            have = [c["name"] for c in insp.get_columns(table.name, schema=table.schema)]
            want = [c.name for c in table.columns]
            if have != want:
                raise UserError(
                    f"table {table.schema}.{table.name} has columns {have} but "
                    f"layers/{table.name}/{table.name}.yaml declares {want}; "
                    f"run 'onemap db rebuild {table.name}' (drops its data) to apply the change"
                )
    engine.dispose()


def rebuild_table(layer: Layer, conninfo: str, force_delete_private: bool = False) -> None:
    """Drop and recreate one layer table (and its history) after a change to its layer file.

    Refused while the layer's private table (``onemap_private.<layer>``: e.g. reporters'
    contact data, which no file can bring back) holds rows, unless ``force_delete_private``.
    """
    with psycopg.connect(conninfo, autocommit=True) as conn:
        private = private_rows(conn, layer)
        if private and not force_delete_private:
            raise UserError(
                f"{PRIVATE_SCHEMA}.{layer.id} holds private data of {private} rows, which a "
                f"rebuild deletes and no load can bring back: refused. Back it up first "
                f"(pg_dump -t {PRIVATE_SCHEMA}.{layer.id}), then run "
                f"'onemap db rebuild {layer.id} --force-delete-private'"
            )
        for schema in (DATA_SCHEMA, HIST_SCHEMA, PRIVATE_SCHEMA):
            conn.execute(
                sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(sql.Identifier(schema, layer.id))
            )
        with conn.cursor() as cur:
            drop_generalised(cur, layer)
    ensure_tables({layer.id: layer}, conninfo)
    ensure_features(conninfo, DbSettings())


def private_rows(conn: psycopg.Connection, layer: Layer) -> int:
    """Rows of the layer's private table (0 when it has none)."""
    name = f"{PRIVATE_SCHEMA}.{layer.id}"
    if conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()[0] is None:
        return 0
    query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(PRIVATE_SCHEMA, layer.id))
    return int(conn.execute(query).fetchone()[0])


def ensure_features(conninfo: str, settings: DbSettings) -> None:
    """The features' functions, views and grants, after the layer tables they build on."""
    for feature in extensions.features():
        feature.ensure_db(conninfo, settings)


def up(settings: DbSettings | None = None) -> str:
    """Everything `onemap db up` does; returns a one-line description of the database."""
    settings = settings or DbSettings()
    if is_external():
        _bootstrap_external(settings)
        where = "existing database from DATABASE_URL/PG* variables"
    else:
        cl = pgcluster.start(settings)
        _bootstrap_cluster(settings, cl)
        where = f"project cluster {cl.data_dir} on 127.0.0.1:{settings.port}"
    ensure_tables(load_layers(), owner_conninfo(settings))
    ensure_features(owner_conninfo(settings), settings)
    record_digest(owner_conninfo(settings))  # last: a failed `db up` leaves it out of date
    return f"database '{settings.name}' ready ({where})"
