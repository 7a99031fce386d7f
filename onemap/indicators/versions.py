"""Which version of the layers an indicator reads: the injection point for history.

Every indicator query reads each layer through a *relation* placed in its SQL: by default
the published table ``onemap.<layer>``; for an earlier version, the subquery
``onemap.load.history.relation_as_of(layer, load_id)`` returns (the layer's rows as published
right after run ``load_id``). A version is asked for as a run id (``12``) or a date/time
(``2024-01-31``, ``2024-01-31T12:00``; a bare date means the end of that day in the
city's time zone); for a date, ``onemap.load.history.run_at(layer, timestamp)`` names the run
that was published then, layer by layer.

A relation is used as ``FROM <relation> AS src``: a table name, or a parenthesised
subquery without an alias, returning the layer's columns (``geom`` and its fields, and
``load_id``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from onemap.core.city import get_city
from onemap.core.errors import UserError
from onemap.core.layers import Layer
from onemap.db.models import DATA_SCHEMA
from onemap.load import history


@dataclass(frozen=True)
class Version:
    """The relation each layer is read through, and how the version was asked for."""

    as_of: str | None
    relations: dict[str, sql.Composable] = field(default_factory=dict)
    load_ids: dict[str, int] = field(default_factory=dict)

    def relation(self, layer_id: str) -> sql.Composable:
        """The relation to read a layer from (the published table unless overridden)."""
        rel = self.relations.get(layer_id)
        return rel if rel is not None else sql.Identifier(DATA_SCHEMA, layer_id)

    def describe(self) -> dict[str, object]:
        """JSON-ready description for the results."""
        out: dict[str, object] = {"as_of": self.as_of}
        if self.load_ids:
            out["load_ids"] = dict(self.load_ids)
        return out


def parse_as_of(text: str) -> int | dt.datetime:
    """A run id (digits) or an aware timestamp; a bare date is the end of that day (city time)."""
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            day = dt.date.fromisoformat(text) + dt.timedelta(days=1)
            return dt.datetime.combine(day, dt.time(), get_city().tz) - dt.timedelta(microseconds=1)
        stamp = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise UserError(
            f"--as-of '{text}': give a load run id (e.g. 12) or a date (YYYY-MM-DD[THH:MM])"
        ) from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=get_city().tz)


def resolve(as_of: str | None, layers: list[Layer], conn: psycopg.Connection) -> Version:
    """The version of ``layers`` to compute on: current tables, or history for ``as_of``.

    Runs are looked up in the database of ``conn`` (the one the indicators are computed
    on): a run id or a date means something only there.
    """
    if as_of is None or not str(as_of).strip():
        return Version(as_of=None)
    when = parse_as_of(str(as_of))
    load_ids: dict[str, int] = {}
    relations: dict[str, sql.Composable] = {}
    for layer in layers:
        run = when if isinstance(when, int) else history.run_at(layer, when, conn=conn)
        if run is None:
            raise UserError(f"layer '{layer.id}' had no published version at {when.isoformat()}")
        history.ensure_kept(conn, layer, int(run))
        load_ids[layer.id] = int(run)
        relations[layer.id] = history.relation_as_of(layer, int(run))
    return Version(as_of=str(as_of).strip(), relations=relations, load_ids=load_ids)
