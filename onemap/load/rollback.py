"""``onemap rollback``: a load whose source is the history.

A rollback publishes again the layer as it was right after an earlier run: it is a
replace whose stage is filled from the history store (``relation_as_of`` of that run,
``INSERT … SELECT`` into the stage) instead of from a file. The rest (lock, run record,
publishing, failure handling) is the loader's run sequence, ``onemap.load.lifecycle``;
the run is recorded with mode 'rollback' and the run it restored.

In a deployment partitioned by region (``onemap.core.regions``) a rollback, like a load,
replaces one region's partition: ``region`` names it, the version is one the region's
own runs published, and the other regions are untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from onemap.core.errors import LoadError, UserError
from onemap.core.layers import Layer, get_layer
from onemap.core.settings import DbSettings
from onemap.load.archive import content_columns
from onemap.load.history import ensure_kept, published_runs, relation_as_of
from onemap.load.lifecycle import LayerRun, RunStart
from onemap.load.modes import Mode, Published
from onemap.load.regions import check_region, prepare_stage
from onemap.load.runs import RunRecord
from onemap.load.stage import create_stage


@dataclass
class Rollback:
    """What a rollback did."""

    load_id: int
    restored_from: int
    rows: int


def rollback(
    layer: Layer | str,
    to: int | None = None,
    settings: DbSettings | None = None,
    notify: Callable[[str], None] = lambda _msg: None,
    region: str | None = None,
) -> Rollback:
    """Publish again the version of ``layer`` (of ``region``'s partition, in a deployment
    partitioned by region) right after run ``to`` (default: the version before the
    current one), in one transaction; the rollback is recorded as a run."""
    layer = get_layer(layer) if isinstance(layer, str) else layer
    check_region(layer, region, "roll back")
    run = HistoryLoad(layer, to, settings, notify)
    run.region = region
    run.execute()
    return Rollback(run.record.load_id, run.target, run.record.rows_loaded)


class HistoryLoad(LayerRun):
    """A replace whose rows come from the history: the version published by a run."""

    noun = "rollback"

    def __init__(
        self,
        layer: Layer,
        to: int | None,
        settings: DbSettings | None,
        notify: Callable[[str], None],
    ):
        super().__init__(layer, Mode.REPLACE, settings, notify)
        self.to = to
        self.target = 0  # the run whose version is restored, decided under the lock

    def begin(self) -> RunStart:
        """Which version: refused (no run recorded) if it is not one to roll back to."""
        self.target = _target(self.conn, self.layer, self.to, self.region)
        self.conn.commit()
        return RunStart(f"rollback to run {self.target}", "rollback", self.target, self.region)

    def record_for(self, load_id: int) -> RunRecord:
        """Counts only: a rollback rejects and repairs nothing."""
        return RunRecord(load_id)

    def stage(self) -> int:
        """Copy the version into the stage, inside the database."""
        cols = sql.SQL(", ").join(map(sql.Identifier, content_columns(self.layer)))
        with self.conn.cursor() as cur:
            stage = create_stage(cur, self.layer)
            where = sql.SQL("")
            if self.region is not None:  # the region's rows, into a stage bound to it
                prepare_stage(cur, self.layer, self.region)
                where = sql.SQL(" WHERE r.region = {}").format(sql.Literal(self.region))
            cur.execute(
                sql.SQL(
                    # in spatial order, as a load stores rows (onemap.load.hilbert): the
                    # geometry b-tree order is a Hilbert curve too since PostGIS 3.0
                    "INSERT INTO {} ({}, load_id) SELECT {}, {} FROM {} AS r{} ORDER BY r.geom"
                ).format(
                    stage,
                    cols,
                    cols,
                    sql.Literal(self.record.load_id),
                    relation_as_of(self.layer, self.target),
                    where,
                )
            )
            self.record.rows_read = self.record.rows_loaded = cur.rowcount
        if self.record.rows_loaded == 0:
            raise LoadError(
                f"run {self.target} of '{self.layer.id}' is not in the history store "
                "(it predates it); nothing was changed"
            )
        self.conn.commit()
        return self.record.rows_loaded

    def published(self, cur: psycopg.Cursor, published: Published) -> None:
        """What the run row's details say: how much went to history, what was restored."""
        self.record.details = {"archived": published.archived, "restored_from": self.target}

    def refused(self, exc: psycopg.Error) -> str:
        """PostgreSQL's message."""
        return f"the database refused the rollback ({exc.diag.message_primary or exc})"


def _target(conn: psycopg.Connection, layer: Layer, to: int | None, region: str | None) -> int:
    published = published_runs(conn, layer, region)
    name = f"'{layer.id}'" + ("" if region is None else f" in region {region}")
    runs_of = f"onemap history {layer.id}" + ("" if region is None else f" --region {region}")
    if not published:
        raise UserError(f"layer {name} has never been published: nothing to roll back")
    if to is None:
        if len(published) < 2:
            raise UserError(
                f"layer {name} has only one published version (run {published[0]}): "
                "nothing to roll back to"
            )
        ensure_kept(conn, layer, published[1], region)
        return published[1]
    if to == published[0]:
        raise UserError(f"run {to} is the version of {name} published now")
    if to not in published:
        raise UserError(
            f"run {to} did not publish a version of {name}; see '{runs_of}' for the runs that did"
        )
    ensure_kept(conn, layer, to, region)
    return to
