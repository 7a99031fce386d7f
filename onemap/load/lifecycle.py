"""The life of one run of a layer, the same for a load and a rollback.

A load (``onemap.load.loader``) stages the rows of a file; a rollback
(``onemap.load.rollback``) stages a version read from the history. Everything else is
this sequence, written once:

1. take the layer's lock (``onemap.load.runs``: runs of one layer follow each other, so
   their ids grow in the order their versions are published) and mark the runs whose
   loader died as failed;
2. ``begin``: decide, under the lock, what the run is; a refusal here records no run;
3. record the run as running, on the autocommit connection ``meta`` (so the record
   survives a refusal);
4. ``stage``: fill the staging table and commit it;
5. publish it (``onemap.load.modes``); success is recorded inside the publishing
   transaction, so a run is 'succeeded' exactly when its version was published;
   on any error the stage is dropped, the failure recorded, and a ``LoadError`` raised:
   the published layer is unchanged;
6. release the lock and ANALYZE the published table;
7. apply the layer file's ``history:`` retention policy (``onemap.load.history``).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import NamedTuple

import psycopg
from psycopg import sql

from onemap.core.errors import LoadError, UserError
from onemap.core.layers import Layer
from onemap.core.settings import DbSettings, LimitSettings, env_name
from onemap.db.connect import connect_owner
from onemap.db.names import DATA_SCHEMA
from onemap.load.history import apply_policy
from onemap.load.modes import Mode, Published, make_current
from onemap.load.runs import (
    RunRecord,
    finish_run,
    lock_layer,
    reap_stale_runs,
    session_kwargs,
    start_run,
    unlock_layer,
)
from onemap.load.stage import drop_stage


def refuse_wholesale(layer: Layer, mode: Mode) -> None:
    """Refuse a replace or upsert of a layer whose rows arrive outside loads (citizen
    reports): the new version would delete the rows it lacks or supersedes, and with
    them what a feature keeps beside them (the reporters' private data, by its foreign
    key). Appending is allowed: it changes no stored row."""
    if mode is Mode.APPEND or not layer.changes_between_loads:
        return
    hints = "; ".join(b.import_hint for b in layer.blocks.values() if b.import_hint)
    raise UserError(
        f"layer '{layer.id}' receives rows outside loads, and a {mode} would delete or "
        f"supersede them and the private data kept with them: refused"
        + (f"; {hints}" if hints else "; use --mode append")
    )


class RunStart(NamedTuple):
    """What the run row says about a run before it has done anything."""

    source_file: str  # the file, or "rollback to run N"
    mode: str  # replace, upsert, append, or rollback
    restored_from: int | None = None  # a rollback: the run whose version it restores
    region: str | None = None  # a load of one region's partition (onemap.load.regions)


class LayerRun(abc.ABC):
    """One run of ``layer``: ``execute`` runs the sequence of the module doc; subclasses
    say where the staged rows come from and what the run records."""

    noun = "load"  # in messages: "the load was interrupted"

    def __init__(
        self,
        layer: Layer,
        mode: Mode,
        settings: DbSettings | None,
        notify: Callable[[str], None],
    ):
        self.layer = layer
        self.mode = mode  # how the stage is published
        self.settings = settings
        self.notify = notify
        self.record: RunRecord | None = None  # set once the run row exists
        self.region: str | None = None  # replace only this region's partition
        self.conn: psycopg.Connection  # stages and publishes; holds the lock
        self.meta: psycopg.Connection  # autocommit: the run row, rejects

    # --- what a kind of run says ---------------------------------------------------

    @abc.abstractmethod
    def begin(self) -> RunStart:
        """Under the lock, before the run row: what the run is (may refuse: UserError)."""

    @abc.abstractmethod
    def record_for(self, load_id: int) -> RunRecord:
        """The record the run fills in (counts, details) once its row exists."""

    @abc.abstractmethod
    def stage(self) -> int:
        """Fill the stage and commit it; the rows staged."""

    @abc.abstractmethod
    def published(self, cur: psycopg.Cursor, published: Published) -> None:
        """Inside the publishing transaction, before success is recorded: last checks
        (raise ``LoadError`` to abort), counts and details."""

    @abc.abstractmethod
    def refused(self, exc: psycopg.Error) -> str:
        """The message when the database refuses the run."""

    def refuse(self, dups: list[tuple[int, str, int]]) -> None:
        """Staged rows whose key an earlier staged row has (``modes.make_current`` found and
        removed them): a load rejects them; by default the run is refused, rather than
        publish a version with rows silently missing."""
        raise LoadError(
            f"the {self.noun} staged key '{dups[0][1]}' twice; the published layer was not changed"
        )

    def sha(self) -> str | None:
        """The SHA-256 of the input, if it is a file."""
        return None

    def close(self) -> None:  # noqa: B027 - optional: only a load opens something
        """Release what the run opened (files, progress display), success or not."""

    # --- the sequence --------------------------------------------------------------

    def execute(self) -> None:
        """Run it (see the module doc); raises ``LoadError`` when the run is refused."""
        layer = self.layer
        refuse_wholesale(layer, self.mode)
        with (
            connect_owner(self.settings, autocommit=True, **session_kwargs()) as self.meta,
            connect_owner(self.settings, **session_kwargs()) as self.conn,
        ):
            self.conn.execute("SET client_encoding TO 'UTF8'")
            lock_layer(self.conn, layer, self.notify)
            try:
                self._run()
            finally:
                self.close()
                unlock_layer(self.conn, layer)
            self.conn.autocommit = True
            self.conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(DATA_SCHEMA, layer.id)))
        apply_policy(layer, self.settings, self.notify, self.region)  # the layer's retention

    def _run(self) -> None:
        try:
            reap_stale_runs(self.meta)
            start = self.begin()
            self.record = self.record_for(start_run(self.meta, self.layer, *start))
            staged = self.stage()
            make_current(
                self.conn,
                self.settings,
                self.layer,
                self.mode,
                self.record.load_id,
                staged,
                self._succeeded,
                self.refuse,
                self.region,
            )
        except LoadError as exc:
            self._failed(str(exc))
            raise
        except psycopg.Error as exc:
            message = self.refused(exc)
            if isinstance(exc, psycopg.errors.DiskFull):  # SQLSTATE 53100
                message += (
                    ". The database ran out of disk space; the published layer was not changed."
                    " Free space (or give the stage a volume of its own: "
                    f"{env_name(LimitSettings, 'stage_tablespace')}) and load again"
                )
            self._failed(message)
            raise LoadError(message) from exc
        except BaseException:
            self._failed(f"the {self.noun} was interrupted; the published layer was not changed")
            raise

    def _succeeded(self, cur: psycopg.Cursor, published: Published) -> None:
        self.published(cur, published)
        finish_run(cur.connection, self.record, "succeeded", None, self.sha())

    def _failed(self, message: str) -> None:
        """Drop a committed stage and record the failure (nothing to record before the
        run row exists: a refusal in ``begin``)."""
        if self.record is None:
            return
        try:
            self.conn.rollback()
            with self.conn.cursor() as cur:
                drop_stage(cur, self.layer)
            self.conn.commit()
        except psycopg.Error:
            pass  # the connection is gone: PostgreSQL discarded the transaction
        finish_run(self.meta, self.record, "failed", message, self.sha())
