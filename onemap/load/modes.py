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
from sqlalchemy import MetaData

from onemap.core.errors import LoadError
from onemap.core.layers import Layer
from onemap.core.settings import LimitSettings
from onemap.db.models import DATA_SCHEMA, layer_table
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
    run_parallel,
    stage_name,
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
    """Every column of a layer table, in order."""
    return [f.name for f in layer.fields] + ["source", "load_id", "geom"]


def make_current(
    conn: psycopg.Connection,
    settings,
    layer: Layer,
    mode: Mode,
    run_id: int,
    staged: int,
    record: Callable[[psycopg.Cursor, Published], None],
    refuse: Callable[[list[tuple[int, str, int]]], None] = lambda _d: None,
) -> Published:
    """Make the committed stage the published version of ``layer`` and commit.

    The stage's unique index is built first (with, for a replace, the other indexes and
    the count of the outgoing table beside it); if the file repeats a key, the later
    rows are removed from the stage and handed to ``refuse`` (which may raise to abort),
    and the index is built again. ``record`` runs inside the publishing transaction (the
    loader records the run as succeeded there: the record and the version commit
    together).
    """
    if mode is Mode.REPLACE:  # the longest first: GiST, then the key, the rest
        unique, *model = index_jobs(layer)
        jobs = dict(enumerate([*model[:1], unique, *model[1:]]))
    else:
        jobs = {0: index_jobs(layer)[0]}
    count = len(jobs)
    if mode is Mode.REPLACE:
        jobs[count] = sql.SQL("SELECT count(*) FROM {}").format(live_name(layer))
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
    if mode is Mode.REPLACE:  # the tiles' tables of the new version, before taking the lock
        build_generalised_parallel(conn, settings, layer, stage_name(layer))
    with conn.cursor() as cur:
        if mode is Mode.REPLACE:
            result = replace(cur, layer, run_id, staged, previous)
        else:
            result = (
                upsert(cur, layer, run_id, staged) if mode is Mode.UPSERT else append(cur, layer)
            )
            drop_stage(cur, layer)
            build_generalised(cur, layer, live_name(layer))  # the version exists only here
        swap_generalised(cur, layer)
        record(cur, result)
    conn.commit()
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
    cur.execute(sql.SQL("ALTER TABLE {} DROP COLUMN _row").format(stage_name(layer)))
    attach_pkey(cur, layer)
    cur.execute(
        sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
            stage_name(layer), sql.Identifier(DATA_SCHEMA)
        )
    )
    table = layer_table(layer, MetaData())
    cur.execute(sql.SQL("COMMENT ON TABLE {} IS {}").format(live, sql.Literal(table.comment)))
    for grantee, privilege in grants:
        cur.execute(
            sql.SQL("GRANT {} ON {} TO {}").format(
                sql.SQL(privilege), live, sql.Identifier(grantee)
            )
        )
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


def upsert(cur: psycopg.Cursor, layer: Layer, run_id: int, staged: int) -> Published:
    """Supersede changed rows, insert new and changed ones, leave identical rows alone."""
    live, stage = live_name(layer), stage_name(layer)
    key = sql.Identifier(layer.primary_key)
    content = [c for c in columns(layer) if c not in ("load_id", layer.primary_key)]
    differs = sql.SQL("({}) IS DISTINCT FROM ({})").format(
        sql.SQL(", ").join(sql.Identifier("t", c) for c in content),
        sql.SQL(", ").join(sql.Identifier("s", c) for c in content),
    )
    changed = sql.SQL("s.{k} = t.{k} AND {d}").format(k=key, d=differs)
    archived = archive_rows(cur, layer, run_id, where=changed, using=sql.SQL("{} s").format(stage))
    cols = sql.SQL(", ").join(map(sql.Identifier, columns(layer)))
    cur.execute(
        sql.SQL(
            "INSERT INTO {live} ({cols}) SELECT {cols} FROM {stage} s "
            "WHERE NOT EXISTS (SELECT 1 FROM {live} t WHERE t.{k} = s.{k})"
        ).format(live=live, cols=cols, stage=stage, k=key)
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
