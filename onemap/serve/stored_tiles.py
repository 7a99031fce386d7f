"""Tiles already drawn, answered before pygeoapi runs.

A tile request whose tile of the published version is stored (the seeded archive or the
disk cache, ``onemap.serve.tiles.stored_tile``) is answered here from the stored bytes,
without pygeoapi building the tile provider for it (its per-request plugin load and
table model); a revalidation naming the published version (``If-None-Match``) gets
``304 Not Modified`` without even reading them. The response is made by pygeoapi's own
``execute_from_flask`` with the headers its tile endpoint sets (``_cached_tile``), and
goes through the same after-request hooks (ETag from the version, the thinning note).
Anything else — a miss, a layer that changes between loads, another format — goes on to
pygeoapi as before. The version is read from the database on every request, so a new
load is never answered from the old version's tiles.
"""

from __future__ import annotations

from http import HTTPStatus

import psycopg
from flask import Flask, Response, g, request

from onemap.core.layers import load_layers
from onemap.core.settings import ServeSettings
from onemap.db.connect import reader_conninfo
from onemap.serve.connections import RoleConnection
from onemap.serve.tiles import TILE_PATH, VERSION_SQL, stored_tile, version_key

CACHE_MAX_AGE = ServeSettings().cache_max_age
TILE_FORMAT = "mvt"  # the only format the tile endpoint serves (pygeoapi's ``f=mvt``)


def _cached_tile(api, api_request, dataset: str, data: bytes):
    """pygeoapi's tile endpoint's answer (``pygeoapi.api.tiles.get_collection_tiles_data``:
    its headers and the provider's media type) with stored bytes."""
    from pygeoapi.api import SYSTEM_LOCALE
    from pygeoapi.provider import get_provider_by_type

    headers = api_request.get_response_headers(SYSTEM_LOCALE, **api.api_headers)
    provider = get_provider_by_type(api.config["resources"][dataset]["providers"], "tile")
    headers["Content-Type"] = provider["format"]["mimetype"]
    return headers, HTTPStatus.OK, data


def install(app: Flask) -> None:
    """Register the hook (after the request checks: they run in registration order)."""
    from pygeoapi.flask_app import execute_from_flask

    reader = RoleConnection(reader_conninfo)
    layers = load_layers()

    @app.before_request
    def _onemap_stored_tile() -> Response | None:
        match = TILE_PATH.match(request.path)
        if request.method != "GET" or not match:
            return None
        layer = layers.get(match["layer"])
        if layer is None or layer.changes_between_loads:
            return None
        if request.args.get("f", TILE_FORMAT) != TILE_FORMAT:
            return None
        try:
            version = reader.get().execute(VERSION_SQL, (layer.id,)).fetchone()[0]
        except psycopg.Error:
            return None  # the tile request itself will say what is wrong
        key = version_key(version, layer)
        if key is None:
            return None
        if request.if_none_match and request.if_none_match.contains(key):
            resp = Response(status=304)
            resp.set_etag(key)
            resp.headers["Cache-Control"] = f"public, max-age={CACHE_MAX_AGE}"
            return resp
        z, y, x = int(match["z"]), int(match["y"]), int(match["x"])
        tile = stored_tile(layer.id, key, match["tms"], z, y, x)
        if tile is None or not tile.data:  # an empty tile: pygeoapi says 204 its own way
            return None
        g.onemap_tile = (key, tile, True)  # ETag, cache and thinning notes (extras)
        return execute_from_flask(_cached_tile, request, layer.id, tile.data)
