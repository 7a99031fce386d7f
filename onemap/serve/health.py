"""``/health``: what this API node reads, how far behind the primary it is, and which
version of each layer it serves; 503 when its database is unreachable or lags more than
``ONEMAP_MAX_REPLICA_LAG_S`` (docs/scale-out.md).

A load balancer checks it (HAProxy's ``http-check``, onemap.cluster.haproxy) and takes a
node that answers 503 out of rotation, so a lagging or lost replica stops being read
without anyone acting. The node is stateless: the versions are read from the database it
serves, on every request, like the tile cache's (``onemap.serve.tile_cache``).
"""

from __future__ import annotations

import json
from http import HTTPStatus

import psycopg
from flask import Flask, Response

from onemap.core.layers import load_layers
from onemap.core.settings import DbSettings, TopologySettings
from onemap.db.connect import reader_conninfo, role_params
from onemap.serve.connections import RoleConnection

# Replay lag of a standby (PostgreSQL 15 manual 28.2 "Monitoring"): nothing received
# beyond what is replayed → 0, else the time since the last replayed commit. After a
# restart the received position starts behind the replayed one, or is NULL until the WAL
# receiver streams: also 0 (it replays whatever it receives). A standby that has WAL to
# replay but has replayed no commit since it started (the timestamp is NULL) lags since
# its start: on a quiet primary that is the only commit, and a stuck replay must show.
# A primary lags 0.
STATE_SQL = """
SELECT pg_catalog.pg_is_in_recovery(),
       CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN 0
            WHEN pg_catalog.pg_last_wal_receive_lsn() IS NULL
              OR pg_catalog.pg_last_wal_receive_lsn() <= pg_catalog.pg_last_wal_replay_lsn()
            THEN 0
            ELSE extract(epoch FROM pg_catalog.now()
                         - coalesce(pg_catalog.pg_last_xact_replay_timestamp(),
                                    pg_catalog.pg_postmaster_start_time()))::float8
       END,
       CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn()
            ELSE pg_catalog.pg_current_wal_lsn() END::text
"""
VERSIONS_SQL = (
    "SELECT id, onemap_meta.run_at(id, pg_catalog.now()) FROM pg_catalog.unnest(%s::text[]) id"
)


def node_state(conn: psycopg.Connection, layers: list[str], max_lag_s: float) -> dict:
    """The node's database state; ``ok`` false when it lags more than ``max_lag_s``."""
    replica, lag, lsn = conn.execute(STATE_SQL).fetchone()
    versions = dict(conn.execute(VERSIONS_SQL, (layers,)).fetchall())
    return {
        "ok": lag <= max_lag_s,
        "role": "replica" if replica else "primary",
        "replay_lag_s": round(lag, 3),
        "max_replica_lag_s": max_lag_s,
        "lsn": lsn,
        "published_versions": versions,
    }


def install(app: Flask) -> None:
    """Add ``GET /health``."""
    reader = RoleConnection(reader_conninfo)
    layers = sorted(load_layers())
    max_lag = TopologySettings().max_replica_lag_s
    params = role_params("reader", DbSettings())
    where = {k: params[k] for k in ("host", "port", "dbname")}

    @app.get("/health")
    def health() -> Response:
        body: dict = {"database": where}
        try:
            body |= node_state(reader.get(), layers, max_lag)
        except psycopg.Error as exc:
            body |= {"ok": False, "error": f"database unavailable ({exc.__class__.__name__})"}
        status = HTTPStatus.OK if body["ok"] else HTTPStatus.SERVICE_UNAVAILABLE
        resp = Response(json.dumps(body), status=status, mimetype="application/json")
        resp.headers["Cache-Control"] = "no-store"
        return resp
