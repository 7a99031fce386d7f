"""What staff do to a report: change status, office or category; delete (admins).

Changes are optimistic: the client sends the ``ETag`` it read as ``If-Match``; the row
is locked, its current ETag compared, and a stale one answered with 412, so two
operators cannot overwrite each other. The ETag is derived from ``updated_at``, which
every change moves. Status moves forward along baru → diverifikasi → diteruskan →
dikerjakan → selesai (steps may be skipped), or to ditolak from any open status;
selesai and ditolak are final. The database enforces all of it, the office scope and
the token too (``sql/040_staff.sql``): the staff role can do nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any

import psycopg
from psycopg import sql

from onemap.core.layers import get_layer
from onemap.reports import LAYER_ID
from onemap.reports.auth import Staff
from onemap.reports.config import load_config
from onemap.reports.db import STAFF_TOKEN, private_name
from onemap.reports.intake import feature_query
from onemap.reports.private import private_of
from onemap.reports.submission import Invalid, clean_text, coded

EDITABLE = ("status", "office", "category", "note")
NOTE_MAX = 2000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def etag(updated_at: dt.datetime) -> str:
    """The strong ETag of a report version (quoted, as in the header)."""
    micros = (updated_at - EPOCH) // dt.timedelta(microseconds=1)  # exact, no float
    return f'"{micros:x}"'


def etag_of_iso(text: str) -> str:
    """The ETag from ``updated_at`` as a JSON response spells it."""
    return etag(dt.datetime.fromisoformat(text))


def parse_changes(doc: Any, replace: bool) -> dict[str, Any]:
    """The requested changes from a PATCH (merge patch) or PUT (whole Feature) body."""
    props = _properties(doc)
    if replace:  # PUT: the whole feature; only the editable properties are taken
        if "status" not in props:
            raise Invalid("PUT replaces the report: 'status' is required")
        props = {k: v for k, v in props.items() if k in EDITABLE}
    unknown = set(props) - set(EDITABLE)
    if unknown:
        raise Invalid(f"cannot change {sorted(unknown)}; staff change {', '.join(EDITABLE)}")
    layer = get_layer(LAYER_ID)
    out: dict[str, Any] = {
        name: coded(layer, name, props[name])
        for name in ("status", "category")
        if props.get(name) is not None
    }
    offices = load_config().offices
    if props.get("office") is not None:
        if props["office"] not in offices:
            raise Invalid(f"unknown office; one of {', '.join(offices)}")
        out["office"] = props["office"]
    if props.get("note") is not None:
        out["note"] = clean_text("note", props["note"], NOTE_MAX)
    if not set(out) - {"note"}:
        raise Invalid("nothing to change: give status, office or category")
    return out


def _properties(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise Invalid("the body must be a JSON object (a Feature or its properties)")
    if "properties" not in doc and doc.get("type") != "Feature":
        return doc  # the properties themselves
    extra = set(doc) - {"type", "id", "properties", "geometry", "links"}
    if extra or doc.get("geometry") is not None and doc.get("type") != "Feature":
        raise Invalid(f"unexpected member(s) {sorted(extra) or ['geometry']}")
    props = doc.get("properties")
    if not isinstance(props, dict):
        raise Invalid("the Feature needs 'properties'")
    return props


class Conflict(Invalid):
    """A change that cannot apply to the report as it is (HTTP 401, 403, 404, 409, 412, 428)."""


# The SQLSTATEs the staff functions raise (sql/040_staff.sql) -> HTTP status and code.
RULES = {
    "OM401": (HTTPStatus.UNAUTHORIZED, "NotAuthorized"),
    "OM403": (HTTPStatus.FORBIDDEN, "Forbidden"),
    "OM404": (HTTPStatus.NOT_FOUND, "NotFound"),
    "OM409": (HTTPStatus.CONFLICT, "InvalidTransition"),
    "OM412": (HTTPStatus.PRECONDITION_FAILED, "PreconditionFailed"),
    "OM428": (HTTPStatus.PRECONDITION_REQUIRED, "PreconditionRequired"),
}


@contextmanager
def as_staff(conn: psycopg.Connection, who: Staff) -> Iterator[None]:
    """A transaction carrying ``who``'s token, which the staff view and functions check;
    a rule the database enforces comes back as a ``Conflict``."""
    try:
        with conn.transaction():
            conn.execute("SELECT pg_catalog.set_config(%s, %s, true)", (STAFF_TOKEN, who.token))
            yield
    except psycopg.Error as exc:
        rule = RULES.get(exc.sqlstate or "")
        if rule is None:
            raise
        raise Conflict(exc.diag.message_primary or rule[1], rule[1], rule[0]) from exc


def update(
    conn: psycopg.Connection,
    who: Staff,
    report_id: str,
    changes: dict[str, Any],
    if_match: str | None,
) -> tuple[dict[str, Any], str]:
    """Apply a change as ``who``; returns the staff feature and its new ETag.

    The database checks the token, the office, ``If-Match`` and the workflow
    (``onemap_private.staff_change``) and locks the row, so two changes cannot
    overwrite each other.
    """
    with as_staff(conn, who):
        updated = conn.execute(
            "SELECT onemap_private.staff_change(%s, %s, %s, %s, %s, %s, %s)",
            (
                who.token,
                report_id,
                if_match,
                changes.get("status"),
                changes.get("office"),
                changes.get("category"),
                changes.get("note"),
            ),
        ).fetchone()[0]
        try:
            doc = staff_feature(conn, report_id)
        except Conflict:  # handed over to another office: no longer this user's to see
            doc = {"type": "Feature", "id": report_id, "geometry": None, "properties": {}}
            doc["properties"] = {k: v for k, v in changes.items() if k != "note"}
    return doc, etag(updated)


def delete(
    conn: psycopg.Connection, who: Staff, report_id: str, if_match: str | None, note: str | None
) -> None:
    """Delete a report with its personal data and history (admins only, with If-Match)."""
    with as_staff(conn, who):
        conn.execute(
            "SELECT onemap_private.staff_delete(%s, %s, %s, %s)",
            (who.token, report_id, if_match, note),
        )


def staff_feature(conn: psycopg.Connection, report_id: str) -> dict[str, Any]:
    """The report as the staff collection shows it (with personal data)."""
    layer = get_layer(LAYER_ID)
    private = private_of(layer)
    assert private is not None
    names = [f.name for f in layer.fields] + [f.name for f in private.fields]
    view = private_name(layer, private.staff_collection)
    row = conn.execute(feature_query(view, names, layer.primary_key), {"id": report_id}).fetchone()
    if row is None:
        raise Conflict(f"no report {report_id}", "NotFound", HTTPStatus.NOT_FOUND)
    return row[0]


def history(conn: psycopg.Connection, report_id: str) -> list[dict[str, Any]]:
    """The status history of a report, oldest first."""
    rows = conn.execute(
        sql.SQL(
            "SELECT status, office, changed_at, changed_by, note FROM {} "
            "WHERE report_id = %s ORDER BY change_id"
        ).format(private_name(get_layer(LAYER_ID), "reports_status")),
        (report_id,),
    ).fetchall()
    keys = ("status", "office", "changed_at", "changed_by", "note")
    return [dict(zip(keys, r, strict=True)) for r in rows]
