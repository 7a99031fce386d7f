"""What the database holds: features per layer and the last load of each."""

from __future__ import annotations

from psycopg import sql

from onemap.core.layers import load_layers
from onemap.core.settings import DbSettings
from onemap.db.connect import connect_owner
from onemap.db.names import DATA_SCHEMA
from onemap.load.runs import reap_stale_runs


def layer_counts(settings: DbSettings | None = None) -> list[tuple[str, int, str, str]]:
    """(layer, feature count, last load time, last load status) for every layer."""
    rows = []
    with connect_owner(settings) as conn:
        reap_stale_runs(conn)
        conn.commit()
        for layer in load_layers().values():
            n = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(DATA_SCHEMA, layer.id))
            ).fetchone()[0]
            last = conn.execute(
                "SELECT to_char(started_at, 'YYYY-MM-DD HH24:MI'), status FROM onemap_meta.loads "
                "WHERE layer = %s ORDER BY load_id DESC LIMIT 1",
                (layer.id,),
            ).fetchone() or ("never", "")
            rows.append((layer.id, n, last[0], last[1]))
    return rows
