"""What onemap adds to pygeoapi's responses, as Flask hooks on pygeoapi's own app.

- ``/conformance`` also lists the OGC API Features Part 3 filter classes. pygeoapi
  implements ``filter=`` (CQL2 text) for SQL providers but does not declare Part 3's
  ``filter``/``features-filter`` classes; QGIS only sends a layer's subset string to the
  server when they are listed (OGC 19-079r2 §A, QGIS ``QgsOapifProvider``), otherwise it
  downloads the whole layer and filters client-side.
- GeoJSON pages from onemap's provider are written without parsing the JSON PostGIS built
  (``onemap.serve.provider.FeaturesJSON``); pygeoapi's bbox reprojection is skipped when it is
  the identity.
- Collection extents follow the data: refreshed when a new version is published
  (``onemap.serve.extents``), not frozen at ``onemap publish``.
- Feature and tile responses carry an ``ETag`` (a hash of the body) and ``Cache-Control``:
  a client or proxy revalidates with ``If-None-Match`` and gets ``304 Not Modified`` until
  a new load changes the data.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re

from flask import Flask, Response, request

from onemap.core.settings import ServeSettings

FILTER_CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
)
TIMESTAMP = re.compile(rb'"timeStamp":\s*"[^"]*",?')
CACHE_MAX_AGE = ServeSettings().cache_max_age


def _add_conformance(resp: Response) -> None:
    # pygeoapi sets Content-Type as a raw header, so Response.is_json/mimetype are unset
    if "json" not in resp.headers.get("Content-Type", ""):
        return
    gzipped = resp.headers.get("Content-Encoding") == "gzip"  # pygeoapi's `gzip: true`
    raw = resp.get_data()
    body = json.loads(gzip.decompress(raw) if gzipped else raw)
    body["conformsTo"] = sorted(set(body.get("conformsTo", [])) | set(FILTER_CONFORMANCE))
    data = json.dumps(body).encode()
    resp.set_data(gzip.compress(data) if gzipped else data)


def _add_caching(resp: Response) -> Response:
    """ETag from the content without pygeoapi's per-response ``timeStamp``."""
    raw = resp.get_data()
    if resp.headers.get("Content-Encoding") == "gzip":
        raw = gzip.decompress(raw)
    stable = TIMESTAMP.sub(b"", raw)
    resp.headers["Cache-Control"] = f"public, max-age={CACHE_MAX_AGE}"
    resp.set_etag(hashlib.sha1(stable, usedforsecurity=False).hexdigest())
    return resp.make_conditional(request)


def _speed_up_bbox_transform() -> None:
    """Skip pygeoapi's bbox reprojection when bbox-crs is the storage CRS.

    pygeoapi 0.24 calls ``transform_bbox(bbox, bbox_crs, storage_crs)`` on every items
    request, even when both are CRS84; building the pyproj CRS and transformer and
    calling ``CRS.to_epsg()`` took ~70 % of a 100-feature bbox request here (profiled
    with cProfile; see bench/RESULTS.md). Identity is decided on the URIs; other pairs
    reuse a cached transformer.
    """
    from pygeoapi.api import itemtypes
    from pygeoapi.crs import transform_bbox as original

    if getattr(itemtypes.transform_bbox, "_onemap", False):
        return

    @functools.lru_cache(maxsize=64)
    def cached(bbox: tuple, from_crs: str, to_crs: str, always_xy: bool) -> list:
        return original(list(bbox), from_crs, to_crs, always_xy)

    def transform_bbox(bbox, from_crs, to_crs, always_xy=False):
        if str(from_crs) == str(to_crs):
            return list(bbox)
        if isinstance(from_crs, str) and isinstance(to_crs, str):
            return list(cached(tuple(bbox), from_crs, to_crs, always_xy))
        return original(bbox, from_crs, to_crs, always_xy)

    transform_bbox._onemap = True
    itemtypes.transform_bbox = transform_bbox


def _splice_feature_text() -> None:
    """Let pygeoapi write onemap's provider pages without parsing them (provider.to_json).

    The GeoJSON response splices the page's text in; anything else that serialises it
    (the HTML template's ``to_json`` filter) gets the parsed features from the encoder's
    ``default`` hook, pygeoapi's ``json_serial``.
    """
    from pygeoapi import util
    from pygeoapi.api import itemtypes

    from onemap.serve.provider import FeaturesJSON, to_json

    if getattr(util.json_serial, "_onemap", False):
        return
    original = util.json_serial

    def json_serial(obj):
        return obj.parsed if isinstance(obj, FeaturesJSON) else original(obj)

    json_serial._onemap = True
    util.json_serial = json_serial
    itemtypes.to_json = to_json


def _live_extents(app: Flask) -> None:
    """Refresh the collections' extents from the data before collection metadata requests."""
    from pygeoapi.flask_app import api_

    from onemap.core.layers import load_layers
    from onemap.reports.db import RoleConnection
    from onemap.serve.extents import METADATA_PATH, LiveExtents

    live = LiveExtents(api_.config["resources"], load_layers(), RoleConnection("reader").get)

    @app.before_request
    def _onemap_extents() -> None:
        if request.method == "GET" and METADATA_PATH.match(request.path):
            live.refresh()


def install(app: Flask) -> None:
    """Register the hooks on pygeoapi's Flask app."""
    _speed_up_bbox_transform()
    _splice_feature_text()
    _live_extents(app)

    @app.after_request
    def _onemap_after(resp: Response) -> Response:
        if request.method != "GET" or resp.status_code != 200 or resp.direct_passthrough:
            return resp
        path = request.path.rstrip("/")
        if path == "/conformance":
            _add_conformance(resp)
        if path.startswith("/collections/") and ("/items" in path or "/tiles" in path):
            return _add_caching(resp)
        return resp
