"""Citizen reports over HTTP: hooks on pygeoapi's Flask app (``install``, from onemap.serve.wsgi).

pygeoapi keeps serving every read (items in every format, queryables, schema, tiles) of
both collections; this module answers only what pygeoapi cannot do safely:

- ``POST /collections/reports/items`` (OGC API Features Part 4 create, GeoJSON): rate
  limit per client address, size limit, validation, then the intake role stores it;
  201 with ``Location`` and the report as the public collection shows it. A CQL2-JSON
  search POST (``application/query-cql-json``) still goes to pygeoapi.
- every request to the staff collection (``reports_staff``): a staff token first (401
  without); ``PATCH``/``PUT`` change status, office or category with ``If-Match`` (412
  when stale, 428 when missing); ``DELETE`` for admins, with ``If-Match`` too; reads go
  on to pygeoapi, whose provider (``onemap.reports.provider``) reads the staff view in a
  transaction carrying the token, so the database shows an operator their office only.
- writes to the public collection's items: 401 anonymously, 405 with a token (staff
  write through the staff collection).

Staff responses are marked ``Cache-Control: private, no-store`` and carry the report's
ETag. This module's after-request hook must run after ``onemap.serve.extras``' (which marks
item responses public), so ``install`` is called before that one (Flask runs
after-request hooks in reverse order of registration).
"""

from __future__ import annotations

import functools
import gzip
import ipaddress
import json
import logging
import re
from functools import cache
from http import HTTPStatus
from typing import Any

import psycopg
from flask import Flask, Response, g, request

from onemap.core.layers import Layer, get_layer, load_layers
from onemap.core.settings import DbSettings, ServeSettings
from onemap.db.connect import read_secrets, role_conninfo
from onemap.reports import LAYER_ID, staff
from onemap.reports.auth import Staff, authenticate
from onemap.reports.config import load_config
from onemap.reports.intake import allow, client_key, public_feature, store
from onemap.reports.private import private_of
from onemap.reports.roles import INTAKE_SECRET
from onemap.reports.submission import Invalid, clean_text, feature, parse_json, too_large
from onemap.serve.connections import RoleConnection

LOG = logging.getLogger(__name__)
COLLECTION = re.compile(r"^/collections/(?P<cid>[^/]+)(?P<rest>/.*)?$")
ITEM = re.compile(r"^/items/(?P<item>[^/]+)$")
JSON_TYPES = ("application/geo+json", "application/json", "application/merge-patch+json")
SEARCH_TYPE = "application/query-cql-json"  # pygeoapi's POST search, left to pygeoapi
GEOJSON = "application/geo+json"
CONNECTIONS = {
    role: RoleConnection(functools.partial(role_conninfo, role))
    for role in ("intake", "staff", "reader")
}


@cache
def _layer() -> Layer:
    return get_layer(LAYER_ID)


@cache
def _secret() -> str:
    return read_secrets(DbSettings(), keys=(INTAKE_SECRET,))[INTAKE_SECRET]


def _conn(role: str) -> psycopg.Connection:
    return CONNECTIONS[role].get()


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None):
    body = json.dumps({"code": code, "description": message})
    resp = Response(body, status=status, mimetype="application/json")
    resp.headers["Cache-Control"] = "no-store"
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def _unauthorized(message: str = "a staff token is required (Authorization: Bearer …)"):
    return _error(
        HTTPStatus.UNAUTHORIZED,
        "NotAuthorized",
        message,
        {"WWW-Authenticate": 'Bearer realm="onemap-staff"'},
    )


def _target() -> tuple[str, str] | None:
    """(collection id, rest of the path) when the request concerns a collection."""
    match = COLLECTION.match(request.path.rstrip("/") or "/")
    if match:
        return match["cid"], match["rest"] or ""
    routed = (request.view_args or {}).get("collection_id")
    return (str(routed).split("/")[0], "") if routed else None


def client_address() -> str:
    """The client's address; X-Forwarded-For only when it comes from a trusted proxy."""
    remote = request.remote_addr or "unknown"
    trusted = set(load_config().intake.trusted_proxies)
    if remote not in trusted:
        return remote
    chain = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
    for address in reversed([a for a in chain if a]):
        if address in trusted:
            continue
        try:
            return str(ipaddress.ip_address(address))
        except ValueError:
            break
    return remote


def _read_body() -> bytes:
    limit = load_config().intake.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise too_large(request.content_length)
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise too_large(len(body))
    return body


def _json_response(doc: Any, status: int, headers: dict[str, str]) -> Response:
    resp = Response(json.dumps(doc, ensure_ascii=False), status=status, mimetype=GEOJSON)
    resp.headers["Cache-Control"] = "no-store"
    for key, value in headers.items():
        resp.headers[key] = value
    return resp


def intake() -> Response:
    """POST /collections/reports/items."""
    config = load_config()
    if not allow(_conn("intake"), client_key(client_address(), _secret()), config):
        return _error(
            HTTPStatus.TOO_MANY_REQUESTS,
            "TooManyRequests",
            f"at most {config.intake.rate_limit.requests} reports per "
            f"{config.intake.rate_limit.per_seconds} s from one address",
            {"Retry-After": str(config.intake.rate_limit.per_seconds)},
        )
    if request.mimetype not in JSON_TYPES:
        return _error(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            f"send the report as {GEOJSON} (a GeoJSON Feature with a Point)",
        )
    sub = feature(_read_body(), config)
    report_id = store(_conn("intake"), sub, actor=f"intake:{sub.channel}")
    doc = public_feature(_conn("reader"), report_id)
    base = (ServeSettings().public_url or request.host_url).rstrip("/")
    location = f"{base}/collections/{LAYER_ID}/items/{report_id}"
    return _json_response(doc, HTTPStatus.CREATED, {"Location": location})


def _staff_write(who: Staff, item: str) -> Response:
    if_match = request.headers.get("If-Match")
    if request.method == "DELETE":
        note = request.args.get("note")
        note = clean_text("note", note, staff.NOTE_MAX) if note is not None else None
        staff.delete(_conn("staff"), who, item, if_match, note)
        return Response(status=HTTPStatus.NO_CONTENT, headers={"Cache-Control": "no-store"})
    if request.mimetype not in JSON_TYPES:
        raise Invalid(
            "send JSON (application/merge-patch+json for PATCH, application/geo+json for PUT)",
            "UnsupportedMediaType",
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        )
    changes = staff.parse_changes(parse_json(_read_body()), replace=request.method == "PUT")
    doc, tag = staff.update(_conn("staff"), who, item, changes, if_match)
    return _json_response(doc, HTTPStatus.OK, {"ETag": tag})


def _staff_gate(rest: str) -> Response | None:
    who = authenticate(_conn("staff"), request.headers.get("Authorization"))
    if who is None:
        return _unauthorized()
    g.onemap_staff = who
    item = ITEM.match(rest)
    if item and request.method in ("PUT", "PATCH", "DELETE"):
        return _staff_write(who, item["item"])
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        return _error(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            f"new reports are posted to /collections/{LAYER_ID}/items",
        )
    return None  # pygeoapi serves the read; the provider scopes it to the user


def _public_gate(rest: str) -> Response | None:
    if rest == "/items" and request.method == "POST":
        return None if request.mimetype == SEARCH_TYPE else intake()
    if rest == "/items" and request.method == "OPTIONS":
        return Response(status=200, headers={"Allow": "GET, HEAD, POST, OPTIONS"})
    if ITEM.match(rest) and request.method in ("PUT", "PATCH", "DELETE"):
        if authenticate(_conn("staff"), request.headers.get("Authorization")) is None:
            return _unauthorized("reports are changed by staff only")
        staff_id = private_of(_layer()).staff_collection
        return _error(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            f"change reports through /collections/{staff_id}/items/{{id}}",
            {"Allow": "GET, HEAD, OPTIONS"},
        )
    return None


def gate() -> Response | None:
    """Before every request: answer what this module owns, let pygeoapi do the rest."""
    target = _target()
    if target is None:
        return None
    cid, rest = target
    if LAYER_ID not in load_layers():  # the reports layer is not enabled here
        return None
    layer = _layer()
    try:
        private = private_of(layer)
        if private and cid == private.staff_collection:
            return _staff_gate(rest)
        if cid == layer.id:
            return _public_gate(rest)
    except Invalid as exc:
        return _error(exc.status, exc.code, str(exc))
    except psycopg.OperationalError:
        LOG.exception("reports: database unavailable")
        return _error(HTTPStatus.SERVICE_UNAVAILABLE, "ServiceUnavailable", "try again later")
    except psycopg.Error:
        LOG.exception("reports: database refused the request")
        return _error(HTTPStatus.BAD_REQUEST, "InvalidParameterValue", "the report was refused")
    return None


def _etag_from_body(resp: Response) -> None:
    raw = resp.get_data()
    if resp.headers.get("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    try:
        updated = json.loads(raw)["properties"]["updated_at"]
    except (ValueError, KeyError, TypeError):
        return
    resp.headers["ETag"] = staff.etag_of_iso(updated)


def after(resp: Response) -> Response:
    """Staff responses: never cached by shared caches; an item read carries its ETag."""
    if g.get("onemap_staff") is None:
        return resp
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["Vary"] = "Authorization"
    target = _target()
    json_body = "json" in resp.headers.get("Content-Type", "")
    if request.method == "GET" and resp.status_code == 200 and json_body and target:
        if ITEM.match(target[1]):
            _etag_from_body(resp)
    return resp


def install(app: Flask) -> None:
    """Register the hooks on pygeoapi's Flask app (before onemap.serve.extras.install)."""
    app.before_request(gate)
    app.after_request(after)
