"""What staff do to a report: change status, office or category; delete (admins).

Changes are optimistic: the client sends the ``ETag`` it read as ``If-Match``; the row
is locked, its current ETag compared, and a stale one answered with 412, so two
operators cannot overwrite each other. The ETag is derived from ``updated_at``, which
every change moves. Status moves forward along baru → diverifikasi → diteruskan →
dikerjakan → selesai (steps may be skipped), or to ditolak from any open status;
selesai and ditolak are final.
"""

from __future__ import annotations

import datetime as dt
from http import HTTPStatus
from typing import Any

import psycopg
from psycopg import sql

from onemap.core.layers import get_layer
from onemap.reports import LAYER_ID
from onemap.reports.auth import Staff
from onemap.reports.config import load_config
from onemap.reports.db import private_name
from onemap.reports.intake import FINAL, feature_query
from onemap.reports.private import private_of
from onemap.reports.submission import Invalid, clean_text, coded

ORDER = ("baru", "diverifikasi", "diteruskan", "dikerjakan", "selesai")
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


def allowed(old: str, new: str) -> bool:
    """Whether a status may move from ``old`` to ``new``."""
    if old in FINAL or new == old:
        return False
    if new == "ditolak":
        return True
    return new in ORDER and ORDER.index(new) > ORDER.index(old)


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
    """A change that cannot apply to the report as it is (HTTP 403, 404, 409, 412, 428)."""


def _current(conn: psycopg.Connection, report_id: str) -> tuple[str, str, str, dt.datetime]:
    row = conn.execute(
        "SELECT status, office, category, updated_at FROM onemap.reports "
        "WHERE report_id = %s FOR UPDATE",
        (report_id,),
    ).fetchone()
    if row is None:
        raise Conflict(f"no report {report_id}", "NotFound", HTTPStatus.NOT_FOUND)
    return row


def _check(who: Staff, office: str, updated: dt.datetime, if_match: str | None) -> None:
    if not who.may_touch(office):
        raise Conflict(
            f"operators of {who.office} change only their office's reports",
            "Forbidden",
            HTTPStatus.FORBIDDEN,
        )
    if if_match is None:
        raise Conflict(
            "send the report's ETag as If-Match (read it with GET first)",
            "PreconditionRequired",
            HTTPStatus.PRECONDITION_REQUIRED,
        )
    if if_match.strip() not in (etag(updated), "*"):
        raise Conflict(
            "the report changed since you read it: GET it again",
            "PreconditionFailed",
            HTTPStatus.PRECONDITION_FAILED,
        )


def update(
    conn: psycopg.Connection,
    who: Staff,
    report_id: str,
    changes: dict[str, Any],
    if_match: str | None,
) -> tuple[dict[str, Any], str]:
    """Apply a change as ``who``; returns the staff feature and its new ETag."""
    with conn.transaction():
        status, office, category, updated = _current(conn, report_id)
        _check(who, office, updated, if_match)
        new_status = changes.get("status", status)
        if new_status != status and not allowed(status, new_status):
            raise Conflict(
                f"status cannot go from {status} to {new_status}",
                "InvalidTransition",
                HTTPStatus.CONFLICT,
            )
        values = {
            "status": new_status,
            "office": changes.get("office", office),
            "category": changes.get("category", category),
        }
        closing = new_status in FINAL and status not in FINAL
        updated = conn.execute(
            "UPDATE onemap.reports SET status = %(status)s, office = %(office)s, "
            "category = %(category)s, updated_at = clock_timestamp(), "
            "closed_at = CASE WHEN %(closing)s THEN clock_timestamp() ELSE closed_at END "
            "WHERE report_id = %(id)s RETURNING updated_at",
            values | {"closing": closing, "id": report_id},
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO onemap_private.reports_status "
            "(report_id, status, office, changed_by, note) VALUES (%s, %s, %s, %s, %s)",
            (report_id, new_status, values["office"], who.name, changes.get("note")),
        )
    return staff_feature(conn, report_id), etag(updated)


def delete(
    conn: psycopg.Connection, who: Staff, report_id: str, if_match: str | None, note: str | None
) -> None:
    """Delete a report with its personal data and history (admins only)."""
    if not who.is_admin:
        raise Conflict("only admins delete reports", "Forbidden", HTTPStatus.FORBIDDEN)
    with conn.transaction():
        _status, _office, _category, updated = _current(conn, report_id)
        if if_match is not None:
            _check(who, _office, updated, if_match)
        conn.execute("DELETE FROM onemap.reports WHERE report_id = %s", (report_id,))
        conn.execute(
            "INSERT INTO onemap_private.reports_deleted (report_id, deleted_by, note) "
            "VALUES (%s, %s, %s)",
            (report_id, who.name, note),
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
