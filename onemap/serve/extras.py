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
- Request bodies and CQL2 filters are bounded (``onemap.serve.limits``).
- Feature and tile responses carry an ``ETag`` (a hash of the body) and ``Cache-Control``:
  a client or proxy revalidates with ``If-None-Match`` and gets ``304 Not Modified`` until
  a new load changes the data.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re

from flask import Flask, Response, request

from onemap.core.settings import ServeSettings
from onemap.serve import limits, pygeoapi_patches

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


def install(app: Flask) -> None:
    """Register the hooks on pygeoapi's Flask app (and install the guarded patches)."""
    pygeoapi_patches.install()
    limits.install(app)  # body size and CQL2 size, before anything reads them
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
