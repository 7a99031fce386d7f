"""What onemap adds to pygeoapi's responses, as Flask hooks on pygeoapi's own app.

- ``/conformance`` also lists the OGC API Features Part 3 filter classes. pygeoapi
  implements ``filter=`` (CQL2 text) for SQL providers but does not declare Part 3's
  ``filter``/``features-filter`` classes; QGIS only sends a layer's subset string to the
  server when they are listed (OGC 19-079r2 §A, QGIS ``QgsOapifProvider``), otherwise it
  downloads the whole layer and filters client-side.
- GeoJSON pages from onemap's provider are written without parsing the JSON PostGIS built
  (``onemap.serve.provider.FeaturesJSON``); pygeoapi's bbox reprojection is skipped when it is
  the identity. Both replace pygeoapi functions: ``onemap.serve.pygeoapi_patches``, guarded,
  listed in docs/pygeoapi-extensions.md.
- Collection extents follow the data: refreshed when a new version is published
  (``onemap.serve.extents``), not frozen at ``onemap publish``.
- A coverage collection's description gives its native grid (``storageCrs``, the CIS
  domain set and range type): ``onemap.serve.coverages.describe_grid``, so GDAL's OGCAPI
  driver opens the raster at its own size rather than 1e-8° cells over the CRS84 bbox.
- Request bodies and CQL2 filters are bounded (``onemap.serve.limits``).
- Feature and tile responses carry an ``ETag`` (a hash of the body) and ``Cache-Control``:
  a client or proxy revalidates with ``If-None-Match`` and gets ``304 Not Modified`` until
  a new load changes the data. A tile's ETag is the layer's published version
  (``onemap.serve.tiles.version_key``), so a revalidation is answered before any tile is
  drawn or read, and a stored tile is sent before pygeoapi runs
  (``onemap.serve.stored_tiles``); a thinned tile says so (``X-Onemap-Tile-Thinned:
  kept/total``).
- Client mistakes are 4xx, and responses are what their headers say: a JSON body nested
  too deeply is a 400 before any parser recurses into it (``_check_body``); a gzip
  ``Content-Encoding`` is only sent on a gzipped body, every response varies on
  ``Accept-Encoding``, and a 503 (a statement timeout) says when to retry
  (``_honest_headers``). Values pygeoapi itself would answer with a 500 (tile indexes, a
  coverage bbox, execution members) are 400s first (``onemap.serve.request_check``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable
from http import HTTPStatus

from flask import Flask, Response, g, request

from onemap.core.settings import ServeSettings
from onemap.serve import busy, limits, pygeoapi_patches, request_check, stored_tiles
from onemap.serve.coverages import describe_grid
from onemap.serve.query_check import MAX_JSON_DEPTH, json_nesting

FILTER_CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
)
TIMESTAMP = re.compile(rb'"timeStamp":\s*"[^"]*",?')
CACHE_MAX_AGE = ServeSettings().cache_max_age
# Seconds a client is asked to wait after a 503 (the server cut a query short).
RETRY_AFTER_S = 5
GZIP_MAGIC = b"\x1f\x8b"


def _edit_json(resp: Response, edit: Callable[[dict], None], media: str = "json") -> None:
    """Change a JSON response body in place (gzipped or not)."""
    # pygeoapi sets Content-Type as a raw header, so Response.is_json/mimetype are unset
    if media not in resp.headers.get("Content-Type", ""):
        return
    gzipped = resp.headers.get("Content-Encoding") == "gzip"  # pygeoapi's `gzip: true`
    raw = resp.get_data()
    body = json.loads(gzip.decompress(raw) if gzipped else raw)
    edit(body)
    data = json.dumps(body).encode()
    resp.set_data(gzip.compress(data) if gzipped else data)


def _add_conformance(resp: Response) -> None:
    def edit(body: dict) -> None:
        body["conformsTo"] = sorted(set(body.get("conformsTo", [])) | set(FILTER_CONFORMANCE))

    _edit_json(resp, edit)


def _coverage_providers() -> dict[str, dict]:
    """``/collections/<id>`` path → coverage provider definition, from pygeoapi's config."""
    from pygeoapi.flask_app import api_

    return {
        f"/collections/{rid}": p
        for rid, r in api_.config["resources"].items()
        if r.get("type") == "collection"
        for p in r.get("providers", [])
        if p.get("type") == "coverage"
    }


def _add_caching(resp: Response) -> Response:
    """ETag from the content without pygeoapi's per-response ``timeStamp``."""
    raw = resp.get_data()
    if resp.headers.get("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    stable = TIMESTAMP.sub(b"", raw)
    resp.headers["Cache-Control"] = f"public, max-age={CACHE_MAX_AGE}"
    tag = hashlib.sha1(stable, usedforsecurity=False).hexdigest()
    # a strong ETag differs between content codings of one resource (RFC 9110 §8.8.3)
    gzipped = resp.headers.get("Content-Encoding") == "gzip"
    resp.set_etag(f"{tag}-gzip" if gzipped else tag)
    return resp.make_conditional(request)


def _tile_headers(resp: Response) -> Response:
    """ETag from the published version (set by the tile provider), the thinning note, and
    whether the tile was stored (``X-Onemap-Tile-Cache: hit``) or drawn (``miss``)."""
    key, tile, stored = g.pop("onemap_tile", (None, None, False))
    if tile is not None and tile.thinned:
        resp.headers["X-Onemap-Tile-Thinned"] = f"{tile.kept}/{tile.total}"
    if key is not None:  # a layer with versions: its tiles are stored (else drawn each time)
        resp.headers["X-Onemap-Tile-Cache"] = "hit" if stored else "miss"
    if key is None:
        return _add_caching(resp)
    resp.headers["Cache-Control"] = f"public, max-age={CACHE_MAX_AGE}"
    resp.set_etag(key)
    return resp.make_conditional(request)


def _live_extents(app: Flask) -> None:
    """Refresh the collections' extents from the data before collection metadata requests."""
    from pygeoapi.flask_app import api_

    from onemap.core.layers import load_layers
    from onemap.db.connect import reader_conninfo
    from onemap.serve.connections import RoleConnection
    from onemap.serve.extents import METADATA_PATH, LiveExtents

    reader = RoleConnection(reader_conninfo)
    live = LiveExtents(api_.config["resources"], load_layers(), reader.get)

    @app.before_request
    def _onemap_extents() -> None:
        if request.method == "GET" and METADATA_PATH.match(request.path):
            live.refresh()


def _error(status: HTTPStatus, code: str, message: str) -> Response:
    body = json.dumps({"code": code, "type": code, "description": message})
    return Response(body, status=status, mimetype="application/json")


def _check_body() -> Response | None:
    """400 for a JSON body nested deeper than ``MAX_JSON_DEPTH`` (or an execution request
    that is not an object).

    pygeoapi parses process inputs and CQL2 JSON with recursive parsers: a body of a few
    thousand nested brackets raised RecursionError there, a 500. pygeoapi reads the whole
    body anyway (``APIRequest.from_flask``), so reading it here first costs no memory.
    """
    if request.method not in ("POST", "PUT", "PATCH") or not request.content_length:
        return None
    try:
        doc = json.loads(request.get_data())
        depth = json_nesting(doc)
    except RecursionError:
        doc, depth = {}, MAX_JSON_DEPTH + 1
    except ValueError:  # not JSON (or not UTF-8): the endpoint says what it expects
        return None
    if request.path.endswith("/execution") and not isinstance(doc, dict):
        # pygeoapi calls .get() on it: a list or a number was an AttributeError, a 500
        return _error(
            HTTPStatus.BAD_REQUEST,
            "InvalidParameterValue",
            "an execution request is a JSON object with 'inputs' (OGC 18-062r2 §7.11.2)",
        )
    if depth > MAX_JSON_DEPTH:
        return _error(
            HTTPStatus.BAD_REQUEST,
            "InvalidParameterValue",
            f"the JSON body is nested more than {MAX_JSON_DEPTH} levels deep",
        )
    return None


def _honest_headers(resp: Response) -> Response:
    """Headers that match the body: encoding, ``Vary``, ``Retry-After`` on a 503.

    pygeoapi adds ``Content-Encoding: gzip`` to its headers whenever the client accepts
    gzip, but compresses only the bodies of its API functions: its format errors
    (``/collections?f=xyz``) went out uncompressed under that header, which requests,
    browsers and QGIS fail to decode. It also gzips for ``Accept-Encoding: gzip;q=0``.
    """
    resp.vary.add("Accept-Encoding")
    if resp.status_code == HTTPStatus.SERVICE_UNAVAILABLE and "Retry-After" not in resp.headers:
        resp.headers["Retry-After"] = str(RETRY_AFTER_S)
    if resp.headers.get("Content-Encoding") != "gzip" or resp.direct_passthrough:
        return resp
    raw = resp.get_data()
    gzipped = raw.startswith(GZIP_MAGIC)
    if not raw or request.accept_encodings["gzip"] <= 0:
        del resp.headers["Content-Encoding"]  # nothing to decode, or refused by the client
        if gzipped:
            resp.set_data(gzip.decompress(raw))
    elif not gzipped:
        resp.set_data(gzip.compress(raw))
    return resp


def install(app: Flask) -> None:
    """Register the hooks on pygeoapi's Flask app (and install the guarded patches)."""
    pygeoapi_patches.install()
    limits.install(app)  # body size and CQL2 size, before anything reads them
    _live_extents(app)
    coverages = _coverage_providers()
    app.before_request(_check_body)
    request_check.install(app)  # values pygeoapi would answer with a 500
    busy.install(app)  # a process whose statement timed out: 503 (before _honest_headers)
    # first in the list: Flask runs after-request hooks in reverse, so this one runs last
    # and sees the headers every other hook (the features' too) has set
    app.after_request_funcs.setdefault(None, []).insert(0, _honest_headers)
    stored_tiles.install(app)  # stored tiles and revalidations, before pygeoapi runs

    @app.after_request
    def _onemap_after(resp: Response) -> Response:
        if request.method != "GET" or resp.status_code != 200 or resp.direct_passthrough:
            return resp
        path = request.path.rstrip("/")
        if path == "/conformance":
            _add_conformance(resp)
        if path in coverages:  # application/json only, not JSON-LD
            _edit_json(resp, lambda b: describe_grid(b, coverages[path]), "application/json")
        if "onemap_tile" in g:
            return _tile_headers(resp)
        if path.startswith("/collections/") and ("/items" in path or "/tiles" in path):
            return _add_caching(resp)
        return resp
