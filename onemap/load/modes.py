"""Make a filled, committed stage the layer's current (published) version: ``replace``,
``upsert`` or ``append``, keeping history.

In the loader, "publish" means exactly this: a new version becomes the one readers see.
(``onemap.publish`` is something else: the build-time products — pygeoapi.yml, styles,
the maps site — made from the published layers.) It is one short transaction under the
layer's lock, after the checks:

- **replace**: first the stage's primary key and indexes are built side by side on two
  connections (and the outgoing table is counted); then, in the transaction, the stage
  becomes ``onemap.<layer>`` by rename and the previous table becomes, as it is, this
  run's history (``onemap.load.archive.archive_table``). Grants are re-applied from
  the old table; the table comment comes from the layer model. When something refers to
  the published table by its OID (a view, a foreign key, a trigger:
  ``onemap_meta.swap_blockers``), the rows are replaced in place instead.
- **upsert**: rows whose key is published and whose content differs are superseded
  (moved to history), new and changed rows inserted; identical rows are left alone and
  keep the run that published them.
- **append**: only new keys (the validator already refused published ones).

In every mode the version's generalised tables for low-zoom vector tiles
(``onemap.load.generalise``) are swapped in by the same transaction.
"""

from __future__ import annotations

import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import errors, sql

from onemap.core.errors import LoadError
from onemap.core.layers import Layer
from onemap.core.regions import layer_partitioned
from onemap.core.settings import LimitSettings
from onemap.db.names import DATA_SCHEMA, table_comment
from onemap.load import regions
from onemap.load.archive import archive_rows, archive_table
from onemap.load.generalise import (
    build_generalised,
    build_generalised_parallel,
    swap_generalised,
)
from onemap.load.stage import (
    JobsFailed,
    attach_pkey,
    drop_stage,
    duplicates,
    index_jobs,
    live_name,
    move_stage_home,
    run_parallel,
    stage_name,
    unstage,
)


class Mode(enum.StrEnum):
    """How a load changes the published layer."""

    REPLACE = "replace"
    UPSERT = "upsert"
    APPEND = "append"


@dataclass
class Published:
    """What publishing did."""

    rows: int  # rows of the new version written by this run
    archived: int = 0  # row versions moved to history
    unchanged: int = 0  # upsert: rows identical to the published ones, left as they were
    in_place: bool = False  # replace done row by row (something depends on the table)


def columns(layer: Layer) -> list[str]:
    """Every column of a layer table, in order (``region`` last when it is partitioned)."""
    cols = [f.name for f in layer.fields] + ["source", "load_id", "geom"]
    return [*cols, "region"] if layer_partitioned(layer) else cols


def make_current(
    conn: psycopg.Connection,
    settings,
    layer: Layer,
    mode: Mode,
    run_id: int,
    staged: int,
    record: Callable[[psycopg.Cursor, Published], None],
    refuse: Callable[[list[tuple[int, str, int]]], None] = lambda _d: None,
    region: str | None = None,
) -> Published:
    """Make the committed stage the published version of ``layer`` and commit.

    The stage's unique index is built first (with, for a replace, the other indexes and
    the count of the outgoing table beside it); if the file repeats a key, the later
    rows are removed from the stage and handed to ``refuse`` (which may raise to abort),
    and the index is built again. ``record`` runs inside the publishing transaction (the
    loader records the run as succeeded there: the record and the version commit
    together). ``region``: replace that region's partition only (``onemap.load.regions``).
    """
    if mode is Mode.REPLACE:  # the longest first: GiST, then the key, the rest
        with conn.cursor() as cur:
            move_stage_home(cur, layer)  # before its indexes are built
        conn.commit()
        unique, *model = index_jobs(layer) if region is None else regions.index_jobs(layer, region)
        jobs = dict(enumerate([*model[:1], unique, *model[1:]]))
    else:
        jobs = {0: index_jobs(layer)[0]}
    count = len(jobs)
    if mode is Mode.REPLACE:
        jobs[count] = (
            sql.SQL("SELECT count(*) FROM {}").format(live_name(layer))
            if region is None
            else regions.count_query(layer, region)
        )
    done: dict[int, list[tuple] | None] = {}
    while len(done) < len(jobs):
        try:
            done.update(run_parallel(settings, {i: j for i, j in jobs.items() if i not in done}))
        except JobsFailed as failed:
            if not isinstance(failed.error, errors.UniqueViolation):
                raise failed.error from None
            done.update(failed.done)
            with conn.cursor() as cur:
                dups = duplicates(cur, layer)
            conn.commit()
            if not dups:
                raise failed.error from None
            staged -= len(dups)
            refuse(dups)
    previous = done[count][0][0] if mode is Mode.REPLACE else 0
    if mode is Mode.REPLACE and region is None:  # the tiles' tables, before taking the lock
        build_generalised_parallel(conn, settings, layer, stage_name(layer))
    with conn.cursor() as cur:
        if mode is Mode.REPLACE and region is None:
            result = replace(cur, layer, run_id, staged, previous)
        elif mode is Mode.REPLACE:  # the union of the regions exists only here
            result = replace_region(cur, layer, region, run_id, staged, previous)
            build_generalised(cur, layer, live_name(layer))
        else:
            result = _change_rows(cur, layer, mode, run_id, staged, region)
        swap_generalised(cur, layer)
        record(cur, result)
    conn.commit()
    return result


def _change_rows(
    cur: psycopg.Cursor, layer: Layer, mode: Mode, run_id: int, staged: int, region: str | None
) -> Published:
    """Upsert or append the stage, drop it, build the version's tiles' tables."""
    if region is not None:  # the region's first load may be an upsert or append
        regions.ensure_partition(cur, layer, region)
    if mode is Mode.UPSERT:
        result = upsert(cur, layer, run_id, staged, region)
    else:
        result = append(cur, layer)
    drop_stage(cur, layer)
    build_generalised(cur, layer, live_name(layer))  # the version exists only here
    return result


def replace(
    cur: psycopg.Cursor, layer: Layer, run_id: int, staged: int, previous: int
) -> Published:
    """Swap the indexed stage in; archive the previous table as this run's history."""
    live = live_name(layer)
    regclass = f"{DATA_SCHEMA}.{layer.id}"
    blockers = _blockers(cur, regclass)
    if not blockers:  # the swap needs the table to itself, for an instant
        lock_exclusive(cur, live, regclass)
        blockers = _blockers(cur, regclass)  # again, now that nothing can change
    if blockers:  # readers go on reading the old rows until the commit
        archived = archive_rows(cur, layer, run_id)
        cols = sql.SQL(", ").join(map(sql.Identifier, columns(layer)))
        cur.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
                live, cols, cols, stage_name(layer)
            )
        )
        rows = cur.rowcount
        drop_stage(cur, layer)
        return Published(rows, archived, in_place=True)
    grants = cur.execute("SELECT * FROM onemap_meta.table_grants(%s)", (regclass,)).fetchall()
    archive_table(cur, layer, run_id, previous)
    unstage(cur, layer)
    attach_pkey(cur, layer)
    cur.execute(
        sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
            stage_name(layer), sql.Identifier(DATA_SCHEMA)
        )
    )
    comment = sql.Literal(table_comment(layer))
    cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(live, comment))
    for grantee, privilege in grants:
        cur.execute(
            sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(privilege), live, sql.Identifier(grantee)
            )
        )
    return Published(staged, previous)


def replace_region(
    cur: psycopg.Cursor, layer: Layer, region: str, run_id: int, staged: int, previous: int
) -> Published:
    """Swap the indexed stage in as the region's partition (``onemap.load.regions``)."""
    live = live_name(layer)
    lock_exclusive(cur, live, f"{DATA_SCHEMA}.{layer.id}")  # DETACH locks the parent
    regions.replace_partition(cur, layer, region, run_id, previous)
    return Published(staged, previous)


def lock_exclusive(
    cur: psycopg.Cursor, live: sql.Composable, regclass: str, limits: LimitSettings | None = None
) -> int:
    """Take the swap's ACCESS EXCLUSIVE lock in short tries; the number of tries.

    While the swap waits for a long reader, every new reader of the table queues behind
    it. So each try waits at most ``swap_lock_timeout_ms`` (a savepoint undoes a failed
    try), then steps back for as long again, letting the queued readers through, until
    ``swap_lock_wait_s`` have passed (LimitSettings; PostgreSQL manual 13.3.1 and
    ``lock_timeout``).
    """
    limits = limits or LimitSettings()
    deadline = time.monotonic() + limits.swap_lock_wait_s
    lock = sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(live)
    cur.execute(
        sql.SQL("SET LOCAL lock_timeout = {}").format(
            sql.Literal(f"{limits.swap_lock_timeout_ms}ms")
        )
    )
    tries = 0
    while True:
        tries += 1
        try:
            with cur.connection.transaction():  # a savepoint: a failed try leaves no error
                cur.execute(lock)
            break
        except errors.LockNotAvailable as exc:
            if time.monotonic() >= deadline:
                raise LoadError(
                    f"{regclass} stayed in use by another session for "
                    f"{limits.swap_lock_wait_s:g} s (a long query or an idle transaction); "
                    "the new version was not published"
                ) from exc
            pause = limits.swap_lock_timeout_ms / 1000 * random.uniform(0.5, 1.5)  # noqa: S311
            time.sleep(pause)
    cur.execute("SET LOCAL lock_timeout = 0")
    return tries


def _blockers(cur: psycopg.Cursor, regclass: str) -> list[str]:
    return [r[0] for r in cur.execute("SELECT onemap_meta.swap_blockers(%s)", (regclass,))]


def upsert(
    cur: psycopg.Cursor, layer: Layer, run_id: int, staged: int, region: str | None = None
) -> Published:
    """Supersede changed rows, insert new and changed ones, leave identical rows alone
    (of one ``region``'s partition, if given: a key is a key within its region)."""
    live, stage = live_name(layer), stage_name(layer)
    key = sql.Identifier(layer.primary_key)
    # a row delivered again unchanged keeps its run and its source (the file that first
    # published it): every file's rows name that file by default (onemap.core.provenance)
    content = [c for c in columns(layer) if c not in ("load_id", "source", layer.primary_key)]
    differs = sql.SQL("({}) IS DISTINCT FROM ({})").format(
        sql.SQL(", ").join(sql.Identifier("t", c) for c in content),
        sql.SQL(", ").join(sql.Identifier("s", c) for c in content),
    )
    same = sql.SQL("s.{k} = t.{k}").format(k=key)
    if region is not None:  # a constant, so that only the region's partition is read
        same = sql.SQL("{} AND t.region = {}").format(same, sql.Literal(region))
    changed = sql.SQL("{} AND {}").format(same, differs)
    archived = archive_rows(cur, layer, run_id, where=changed, using=sql.SQL("{} s").format(stage))
    cols = sql.SQL(", ").join(map(sql.Identifier, columns(layer)))
    cur.execute(
        sql.SQL(
            "INSERT INTO {live} ({cols}) SELECT {cols} FROM {stage} s "
            "WHERE NOT EXISTS (SELECT 1 FROM {live} t WHERE {same})"
        ).format(live=live, cols=cols, stage=stage, same=same)
    )
    inserted = cur.rowcount
    return Published(inserted, archived, unchanged=staged - inserted)


def append(cur: psycopg.Cursor, layer: Layer) -> Published:
    """Insert the staged rows (their keys are new: the validator refused published ones)."""
    cols = sql.SQL(", ").join(map(sql.Identifier, columns(layer)))
    cur.execute(
        sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            live_name(layer), cols, cols, stage_name(layer)
        )
    )
    return Published(cur.rowcount)
