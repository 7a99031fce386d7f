"""Every published version of every layer: the history store and how to read it.

**Store.** ``onemap.<layer>`` holds the current row versions; its ``load_id`` is the run
that published each version. ``onemap_hist.<layer>`` (built from the layer model,
``onemap.db.models.history_table``) holds every superseded version with ``valid_from``
(the run that published it) and ``valid_to`` (the run that superseded it), in itself and
its child tables. A row version is written once, and closed when superseded:

- a replace or a rollback moves the whole previous table into history: renamed to
  ``onemap_hist.<layer>__<run>`` and made a child (``INHERIT``) of ``onemap_hist.<layer>``,
  without copying or even reading a row;
- an upsert moves the rows it changes into ``onemap_hist.<layer>``;
- an append supersedes nothing.

The publishing step writes it (``onemap.load.archive``); this module reads and prunes it.

Run ids of a layer grow in the order its versions were published (runs take the
layer's lock before their id, ``onemap.load.runs``), so the layer as published right
after run R is: current rows with ``load_id <= R``, plus superseded rows with
``valid_from <= R < valid_to``.

**API** for other modules: ``relation_as_of(layer, load_id)`` (a subquery usable as
``FROM <relation> AS src``) and ``run_at(layer, timestamp)``; ``runs`` lists the runs
(``onemap history``), ``prune`` forgets old versions (``onemap prune-history``).
Restoring a version is a load whose source is the history: ``onemap.load.rollback``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from onemap.core.errors import UserError
from onemap.core.layers import Layer, get_layer
from onemap.core.settings import DbSettings
from onemap.db.connect import connect_owner
from onemap.db.names import DATA_SCHEMA, HIST_SCHEMA
from onemap.load.archive import content_columns
from onemap.load.runs import lock_layer, reap_stale_runs, unlock_layer

PRUNED = sql.Identifier(HIST_SCHEMA, "_pruned")  # onemap/db/sql/040_history_prune.sql


def _layer(layer: Layer | str) -> Layer:
    return get_layer(layer) if isinstance(layer, str) else layer


def relation_as_of(layer: Layer | str, load_id: int) -> sql.Composable:
    """The layer's rows as published right after run ``load_id``, as a subquery.

    Columns: the layer's fields, ``source``, ``geom`` and ``load_id`` (the run that
    published each row version). Use it as ``FROM {relation} AS src``.
    """
    layer = _layer(layer)
    cols = sql.SQL(", ").join(map(sql.Identifier, content_columns(layer)))
    run = sql.Literal(int(load_id))
    return sql.SQL(
        "(SELECT {cols}, load_id FROM {live} WHERE coalesce(load_id, 0) <= {run} "
        "UNION ALL "
        "SELECT {cols}, valid_from AS load_id FROM {hist} "
        "WHERE coalesce(valid_from, 0) <= {run} AND valid_to > {run})"
    ).format(
        cols=cols,
        live=sql.Identifier(DATA_SCHEMA, layer.id),
        hist=sql.Identifier(HIST_SCHEMA, layer.id),
        run=run,
    )


def run_at(
    layer: Layer | str,
    when: dt.datetime,
    settings: DbSettings | None = None,
    conn: psycopg.Connection | None = None,
) -> int | None:
    """The run whose version of ``layer`` was published at ``when`` (None: none yet).

    Asks the database of ``conn``, or of ``settings`` (default: ``ONEMAP_DB_*``): the
    run id means something only in the database whose history it names. It goes through
    ``onemap_meta.run_at`` (SECURITY DEFINER, onemap/db/sql/035_run_at.sql), so the
    read-only role can ask too without reading the load records.
    """
    layer = _layer(layer)
    if when.tzinfo is None:
        raise ValueError("run_at needs an aware timestamp (with a time zone)")
    query = "SELECT onemap_meta.run_at(%s, %s)"
    if conn is not None:
        row = conn.execute(query, (layer.id, when)).fetchone()
    else:
        with connect_owner(settings) as own:
            row = own.execute(query, (layer.id, when)).fetchone()
    return None if row[0] is None else int(row[0])


@dataclass
class Run:
    """One row of ``onemap history``."""

    load_id: int
    started_at: dt.datetime
    finished_at: dt.datetime | None
    mode: str
    source_file: str
    rows_read: int | None
    rows_loaded: int | None
    rows_rejected: int | None
    status: str
    who: str
    message: str | None
    details: dict
    restored_from: int | None
    current: bool = False
    pruned: bool = False  # its version is no longer in the history (prune)


def runs(
    layer: Layer | str,
    settings: DbSettings | None = None,
    limit: int = 50,
    region: str | None = None,
) -> list[Run]:
    """The layer's latest runs (of one ``region``'s partition, if given; see
    ``onemap.load.regions``), newest first; the one published now is marked current."""
    layer = _layer(layer)
    with connect_owner(settings) as conn:
        reap_stale_runs(conn)
        conn.commit()
        rows = conn.execute(
            "SELECT load_id, started_at, finished_at, mode, source_file, rows_read, "
            "rows_loaded, rows_rejected, status, coalesce(run_by, loaded_by), message, "
            "details, restored_from FROM onemap_meta.loads WHERE layer = %s "
            "AND (%s::text IS NULL OR region = %s) ORDER BY load_id DESC LIMIT %s",
            (layer.id, region, region, limit),
        ).fetchall()
        current = _current(conn, layer, region)
        oldest = oldest_kept(conn, layer, region)
    return [
        Run(
            *r,
            current=r[0] == current,
            pruned=oldest is not None and r[0] < oldest and r[8] == "succeeded",
        )
        for r in rows
    ]


def _current(conn: psycopg.Connection, layer: Layer, region: str | None = None) -> int | None:
    row = conn.execute(
        "SELECT max(load_id) FROM onemap_meta.loads WHERE layer = %s AND status = 'succeeded' "
        "AND (%s::text IS NULL OR region = %s)",
        (layer.id, region, region),
    ).fetchone()
    return row[0]


def _pruned_key(layer: Layer, region: str | None) -> str:
    """The row of ``onemap_hist._pruned``: the layer, or ``<layer>@<region>`` for the
    history of one region's partition."""
    return layer.id if region is None else f"{layer.id}@{region}"


def oldest_kept(
    conn: psycopg.Connection, layer: Layer | str, region: str | None = None
) -> int | None:
    """The oldest run whose version the history still holds (None: never pruned).

    Of the whole layer: the latest of its regions' (a version of the layer needs every
    region's rows of that time); of one ``region``: that region's.
    """
    layer = _layer(layer)
    if region is not None:
        query = sql.SQL("SELECT oldest_kept FROM {} WHERE layer = %s").format(PRUNED)
        row = conn.execute(query, (_pruned_key(layer, region),)).fetchone()
    else:
        query = sql.SQL("SELECT max(oldest_kept) FROM {} WHERE split_part(layer, '@', 1) = %s")
        row = conn.execute(query.format(PRUNED), (layer.id,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def ensure_kept(
    conn: psycopg.Connection, layer: Layer | str, run: int, region: str | None = None
) -> None:
    """Refuse a version the history no longer holds (pruned), rather than answer partly
    (of one ``region``'s partition, if given: ``oldest_kept``)."""
    layer = _layer(layer)
    oldest = oldest_kept(conn, layer, region)
    if oldest is not None and run < oldest:
        where = "" if region is None else f" (region {region})"
        raise UserError(
            f"the version of '{layer.id}'{where} published by run {run} was pruned from the "
            f"history (the oldest kept is run {oldest})"
        )


# --- pruning ---------------------------------------------------------------------------


@dataclass
class Pruned:
    """What ``prune`` removed."""

    oldest_kept: int | None
    versions: int
    row_versions: int


def prune(
    layer: Layer | str,
    keep: int,
    settings: DbSettings | None = None,
    notify: Callable[[str], None] = lambda _msg: None,
    region: str | None = None,
) -> Pruned:
    """Keep the ``keep`` latest published versions of ``layer`` (the current one counts);
    delete the row versions only older versions need, in one transaction. With
    ``region``: the versions of that region's partition (``onemap.load.regions``), its
    replaced partitions and rows only.

    A row version superseded by run S belongs to the versions published before S; the
    oldest version kept, published by run K, needs those with ``valid_to > K``. So the
    replaced tables of runs up to K are dropped and archived rows with ``valid_to <= K``
    deleted; ``onemap_hist._pruned`` records K for ``ensure_kept``.
    """
    layer = _layer(layer)
    if keep < 1:
        raise UserError("--keep must be at least 1 (the version published now)")
    with connect_owner(settings) as conn:
        lock_layer(conn, layer, notify)
        try:
            published = published_runs(conn, layer, region)
            before = oldest_kept(conn, layer, region)
            if len(published) <= keep or (before is not None and published[keep - 1] <= before):
                return Pruned(before, 0, 0)
            cutoff = published[keep - 1]
            rows = 0
            parent = sql.Identifier(HIST_SCHEMA, layer.id)
            children = conn.execute(  # of a region: the partitions its runs replaced
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = %s::regclass AND (%s::text IS NULL OR EXISTS ("
                "SELECT 1 FROM onemap_meta.loads l WHERE l.layer = %s AND l.region = %s "
                "AND c.relname = l.layer || '__' || l.load_id))",
                (f"{HIST_SCHEMA}.{layer.id}", region, layer.id, region),
            ).fetchall()
            for (name,) in children:
                superseded_by = name.rsplit("__", 1)[-1]
                if superseded_by.isdigit() and int(superseded_by) <= cutoff:
                    child = sql.Identifier(HIST_SCHEMA, name)
                    rows += conn.execute(
                        sql.SQL("SELECT count(*) FROM {}").format(child)
                    ).fetchone()[0]
                    conn.execute(sql.SQL("DROP TABLE {}").format(child))
            where = sql.SQL("valid_to <= %s")
            if region is not None:
                where = sql.SQL("{} AND region = {}").format(where, sql.Literal(region))
            cur = conn.execute(
                sql.SQL("DELETE FROM ONLY {} WHERE {}").format(parent, where), (cutoff,)
            )
            rows += cur.rowcount
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (layer, oldest_kept) VALUES (%s, %s) ON CONFLICT (layer) "
                    "DO UPDATE SET oldest_kept = excluded.oldest_kept, pruned_at = now(), "
                    "pruned_by = current_user"
                ).format(PRUNED),
                (_pruned_key(layer, region), cutoff),
            )
            conn.commit()
            versions = sum(1 for run in published if (before or 0) <= run < cutoff)
            return Pruned(cutoff, versions, rows)
        finally:
            unlock_layer(conn, layer)


def versions_to_keep(
    conn: psycopg.Connection, layer: Layer, region: str | None = None
) -> int | None:
    """How many of the layer's latest versions its ``history:`` policy keeps (None: all).

    ``keep_days``: the version current D days ago and every later one, i.e. the runs
    that finished within the last D days plus the newest one before them.
    """
    policy = layer.history
    if policy is None:
        return None
    counts = [policy.keep] if policy.keep is not None else []
    if policy.keep_days is not None:
        recent, total = conn.execute(
            "SELECT count(*) FILTER (WHERE finished_at > now() - make_interval(days => %s)), "
            "count(*) FROM onemap_meta.loads WHERE layer = %s AND status = 'succeeded' "
            "AND (%s::text IS NULL OR region = %s)",
            (policy.keep_days, layer.id, region, region),
        ).fetchone()
        counts.append(min(total, recent + 1) if total else 1)
    return max(max(counts), 1)


def apply_policy(
    layer: Layer,
    settings: DbSettings | None = None,
    notify: Callable[[str], None] = lambda _msg: None,
    region: str | None = None,
) -> Pruned | None:
    """Prune ``layer`` (or one ``region``'s partition) as its ``history:`` policy says
    (None without a policy)."""
    if layer.history is None:
        return None
    with connect_owner(settings) as conn:
        keep = versions_to_keep(conn, layer, region)
    if keep is None:
        return None
    done = prune(layer, keep, settings, notify, region)
    if done.versions:
        where = "" if region is None else f" (region {region})"
        notify(
            f"{layer.id}{where}: history policy kept {keep} versions; pruned {done.versions} "
            f"older ({done.row_versions:,} row versions)"
        )
    return done


def published_runs(conn: psycopg.Connection, layer: Layer, region: str | None = None) -> list[int]:
    """The runs that published a version of ``layer`` (of ``region``'s partition, if
    given), newest first."""
    return [
        r[0]
        for r in conn.execute(
            "SELECT load_id FROM onemap_meta.loads WHERE layer = %s AND status = 'succeeded' "
            "AND (%s::text IS NULL OR region = %s) ORDER BY load_id DESC",
            (layer.id, region, region),
        )
    ]
