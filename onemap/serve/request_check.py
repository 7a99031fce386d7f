"""Client values that pygeoapi 0.24 turns into a 500, answered with a 400 before it runs.

Each check below names the parameter in its message. They are Flask hooks on pygeoapi's
app (installed by ``onemap.serve.extras``), so no pygeoapi code is replaced:

- **Tile path** ``…/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}``: the three
  indexes must be non-negative integers. pygeoapi hands them to the tile provider as text,
  which calls ``int()`` on them; ``NaN`` was a ValueError, a 500.
- **Coverage bbox** (``/collections/<coverage>/coverage?bbox=``): pygeoapi answers a bbox
  that ``validate_bbox`` refuses (``miny`` above ``maxy``, not numbers) with status 500
  (``pygeoapi.api.coverages.get_collection_coverage``); the same check here is a 400.
- **Process execution body** (OGC 18-062r2 §7.11.2, ``execute.yaml``): ``inputs`` and
  ``outputs`` are objects, ``response`` is ``raw`` or ``document``. ``subscriber``
  (callbacks, an optional conformance class) is refused: pygeoapi's ``DummyManager``
  fails on it (a ``subscriber`` that is not an object was a TypeError, one with URIs an
  AttributeError while notifying) and a callback would make the server POST to any URL
  a client names.
- **Record queryables** ``?profile=actual-domain&properties=q``: ``q`` is the catalogue's
  full-text parameter, not a record property; pygeoapi's TinyDB provider looked it up in
  every record (KeyError, a 500).
"""

from __future__ import annotations

import json
import math
import re
from http import HTTPStatus

from flask import Flask, Response, request
from pygeoapi.api import validate_bbox

TILE_INDEXES = re.compile(
    r"^/collections/[^/]+/tiles/[^/]+/(?P<tileMatrix>[^/]*)/(?P<tileRow>[^/]*)/(?P<tileCol>[^/]*)/?$"
)
# Far above any zoom or row of a tile matrix set (WebMercatorQuad ends at 2^24 columns),
# and short enough that int() never meets Python's 4,300-digit limit.
TILE_INDEX = re.compile(r"\d{1,9}", re.ASCII)
RESPONSES = ("raw", "document")
SEARCH_PARAMETER = "q"  # pygeoapi's TinyDBCatalogue adds it to the record fields


def _error(message: str) -> Response:
    code = "InvalidParameterValue"
    body = json.dumps({"code": code, "type": code, "description": message})
    return Response(body, status=HTTPStatus.BAD_REQUEST, mimetype="application/json")


def tile_problem(path: str) -> str | None:
    """What is wrong with a tile path's indexes (None when they are integers, or no tile)."""
    match = TILE_INDEXES.match(path)
    if match is None:
        return None
    for name, value in match.groupdict().items():
        if not TILE_INDEX.fullmatch(value):
            return f"{name} must be a non-negative integer, not {value[:40]!r}"
    return None


def bbox_problem(value: str) -> str | None:
    """What pygeoapi's ``validate_bbox`` refuses in a bbox, or a coordinate that is not finite."""
    try:
        box = validate_bbox(value)
    except ValueError as exc:
        return f"bbox: {exc}"
    if not all(math.isfinite(v) for v in box):
        return "bbox: coordinates must be finite numbers"
    return None


def execution_problem(doc: object) -> str | None:
    """What is wrong with the members of an execution request pygeoapi reads itself."""
    if not isinstance(doc, dict):
        return None  # extras._check_body answers it
    for name in ("inputs", "outputs"):
        if doc.get(name) is not None and not isinstance(doc[name], dict):
            return f"{name} must be a JSON object (OGC 18-062r2 §7.11.2)"
    if "response" in doc and doc["response"] not in RESPONSES:
        return f"response must be one of {', '.join(RESPONSES)}"
    if doc.get("subscriber") is not None:
        return "subscriber: this server does not call back; the result is in the response"
    return None


def queryables_problem(args) -> str | None:
    """``q`` asked for in a record collection's actual-domain queryables."""
    if args.get("profile") != "actual-domain":
        return None
    if SEARCH_PARAMETER in args.get("properties", "").split(","):
        return "properties: q is the full-text search parameter, not a record property"
    return None


def _collections_of(config: dict, provider_type: str) -> set[str]:
    return {
        rid
        for rid, r in config["resources"].items()
        if r.get("type") == "collection"
        and any(p.get("type") == provider_type for p in r.get("providers", []))
    }


def install(app: Flask) -> None:
    """Register the checks on pygeoapi's Flask app."""
    from pygeoapi.flask_app import api_

    coverages = {f"/collections/{c}/coverage" for c in _collections_of(api_.config, "coverage")}
    records = {f"/collections/{c}/queryables" for c in _collections_of(api_.config, "record")}

    @app.before_request
    def _onemap_request_check() -> Response | None:
        path = request.path.rstrip("/")
        problem = None
        if request.method == "GET":
            problem = tile_problem(request.path)
            if path in coverages and "bbox" in request.args:
                problem = bbox_problem(request.args["bbox"])
            elif path in records:
                problem = queryables_problem(request.args)
        elif request.method == "POST" and path.endswith("/execution"):
            try:
                problem = execution_problem(json.loads(request.get_data(cache=True)))
            except (ValueError, RecursionError):
                return None  # not JSON: pygeoapi (or extras._check_body) says so
        return _error(problem) if problem else None
