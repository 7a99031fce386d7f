"""Replace one region's partition of a partitioned layer (``onemap.core.regions``).

In a deployment holding several kabupaten/kota, ``onemap.<layer>`` is LIST-partitioned
by ``region`` and ``onemap load LAYER FILE --region 33.22`` publishes a new version of
that region only:

- the stage gets ``region`` as a default (the file's rows do not carry it) and a CHECK
  constraint equal to the partition bound, evaluated as the rows are COPYed; with it,
  ATTACH PARTITION needs no scan of the rows (PostgreSQL manual 5.11.2.2,
  "Partition Maintenance");
- its indexes, named after the partition, match the parent's partitioned indexes
  (the key's unique index with ``region``), so ATTACH adopts them instead of building;
- under the layer's lock, in the publishing transaction: the region's partition is
  DETACHed and becomes this run's history (``onemap.load.archive.archive_table``, as a
  whole-table replace does), then the stage is renamed and ATTACHed in its place.

An upsert or append with ``--region`` changes only rows of that region (a key is a key
within its region), through the parent, in the partition (created empty if needed).
The other regions' partitions, rows and ``load_id`` are not touched. A rollback of a
partitioned layer is refused (not built yet).
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from onemap.core.errors import UserError
from onemap.core.layers import Layer
from onemap.core.regions import get_region, layer_partitioned, partition_table, regions
from onemap.db.names import DATA_SCHEMA, STAGE_SCHEMA, layer_indexes
from onemap.load.archive import archive_table
from onemap.load.stage import live_name, stage_name, unstage


def check_region(layer: Layer, region: str | None, verb: str = "load") -> None:
    """Refuse a load (or a ``verb`` such as "roll back") whose ``--region`` does not fit
    the layer's table."""
    if not layer_partitioned(layer):
        if region is not None:
            raise UserError(
                f"--region {region}: layer '{layer.id}' is not partitioned by region in this "
                f"deployment (one region, or rows that arrive outside loads); {verb} without "
                "--region"
            )
        return
    if region is None:
        codes = ", ".join(r.code for r in regions())
        what = "the region the file holds" if verb == "load" else "the region"
        raise UserError(
            f"layer '{layer.id}' is partitioned by region in this deployment: name {what} "
            f"with --region (one of {codes})"
        )
    get_region(region)


def _bound(layer: Layer) -> str:
    return f"{layer.id}_region_bound"


def prepare_stage(cur: psycopg.Cursor, layer: Layer, region: str) -> None:
    """Give the fresh stage the region as default and the partition bound as a CHECK."""
    stage = stage_name(layer)
    cur.execute(
        sql.SQL("ALTER TABLE {} ALTER COLUMN region SET DEFAULT {}").format(
            stage, sql.Literal(region)
        )
    )
    cur.execute(
        sql.SQL(
            "ALTER TABLE {} ADD CONSTRAINT {} CHECK (region IS NOT NULL AND region = {})"
        ).format(stage, sql.Identifier(_bound(layer)), sql.Literal(region))
    )


def index_jobs(layer: Layer, region: str) -> list[sql.Composable]:
    """The stage's CREATE INDEX statements, named after the partition: the key's unique
    index (key, region) first, then the model's (GiST first), as
    ``onemap.load.stage.index_jobs`` for a whole table."""
    part = partition_table(layer.id, region)
    model = [
        sql.SQL("CREATE INDEX {} ON {} {}({})").format(
            sql.Identifier(part + name[len(layer.id) :]),
            stage_name(layer),
            sql.SQL(f"USING {method} ") if method else sql.SQL(""),
            sql.Identifier(column),
        )
        for name, column, method in layer_indexes(layer)  # the GiST index is the first
    ]
    unique = sql.SQL("CREATE UNIQUE INDEX {} ON {} ({}, region)").format(
        sql.Identifier(f"{part}_pkey"), stage_name(layer), sql.Identifier(layer.primary_key)
    )
    return [unique, *model]


def count_query(layer: Layer, region: str) -> sql.Composable:
    """The rows of the region's published partition (0 before its first load)."""
    return sql.SQL(
        "SELECT CASE WHEN to_regclass({name}) IS NULL THEN 0 ELSE "
        "(SELECT count(*) FROM {live} WHERE region = {code}) END"
    ).format(
        name=sql.Literal(f"{DATA_SCHEMA}.{partition_table(layer.id, region)}"),
        live=live_name(layer),
        code=sql.Literal(region),
    )


def ensure_partition(cur: psycopg.Cursor, layer: Layer, region: str) -> None:
    """Create the region's partition, empty, if no load made it yet (for an upsert or
    append, which insert into the parent)."""
    part = sql.Identifier(DATA_SCHEMA, partition_table(layer.id, region))
    cur.execute(
        sql.SQL("CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES IN ({})").format(
            part, live_name(layer), sql.Literal(region)
        )
    )


def replace_partition(
    cur: psycopg.Cursor, layer: Layer, region: str, run_id: int, previous: int
) -> None:
    """In the publishing transaction, with the parent locked: the region's partition
    becomes this run's history and the indexed stage takes its place."""
    part = partition_table(layer.id, region)
    live = live_name(layer)
    exists = cur.execute("SELECT to_regclass(%s)", (f"{DATA_SCHEMA}.{part}",)).fetchone()[0]
    if exists is not None:
        cur.execute(
            sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                live, sql.Identifier(DATA_SCHEMA, part)
            )
        )
        archive_table(cur, layer, run_id, previous, table=part)
    stage = unstage(cur, layer)
    pkey = sql.Identifier(f"{part}_pkey")
    cur.execute(
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY USING INDEX {}").format(
            stage, pkey, pkey
        )
    )
    cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(stage, sql.Identifier(part)))
    table = sql.Identifier(STAGE_SCHEMA, part)
    cur.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(table, sql.Identifier(DATA_SCHEMA)))
    table = sql.Identifier(DATA_SCHEMA, part)
    cur.execute(  # no scan: the CHECK constraint proves the bound
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES IN ({})").format(
            live, table, sql.Literal(region)
        )
    )
    cur.execute(
        sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(table, sql.Identifier(_bound(layer)))
    )
    cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN region DROP DEFAULT").format(table))
    cur.execute(
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            table, sql.Literal(f"{DATA_SCHEMA}.{layer.id}, region {get_region(region).name}")
        )
    )
