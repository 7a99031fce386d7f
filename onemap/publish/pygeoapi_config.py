"""Generate ``pygeoapi.yml`` from the layer files, with extents computed from the data.

The file is committed and never hand-edited; ``tests/test_publish.py`` regenerates it
from the demo data and fails on any difference. Connection details and the reader's
password are ``${VAR}`` references that pygeoapi resolves from the environment at load
time (``onemap serve`` sets them), so no secret is written into the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from onemap.core import extensions
from onemap.core.city import get_city
from onemap.core.layers import Layer, load_layers
from onemap.core.settings import (
    DbSettings,
    LimitSettings,
    ServeSettings,
    env_name,
    password_variable,
)
from onemap.db.connect import connect_owner
from onemap.db.models import DATA_SCHEMA
from onemap.load.coverage_files import published_path
from onemap.publish.page_specs import page_spec
from onemap.publish.styles import style_links
from onemap.serve.contract import LIMITS, config_path, tile_provider
from onemap.serve.coverages import coverage_resource
from onemap.serve.extents import table_extents, time_field
from onemap.serve.html import HTML_DIR_VARIABLE
from onemap.serve.processes import resources as process_resources
from onemap.serve.records import CATALOG_ID, catalogue_resource

# Output CRSs offered on every collection (OGC API Features Part 2): CRS84 and the
# city's list (config/city.yaml, which says why each).
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
OUTPUT_CRS = [CRS84] + [f"http://www.opengis.net/def/crs/EPSG/0/{c}" for c in get_city().output_crs]
# Session settings of the serving connections (libpq ``options``): one request is one
# short query and the workers already use the cores, so no parallel query workers
# (starting them cost ~80 ms of a 14 ms z14 tile, measured on the bench table) and no JIT
# compilation; a runaway request is cancelled after LimitSettings.statement_timeout_s,
# resolved when the server starts (the same value as onemap's own serving connections).
STATEMENT_TIMEOUT = (
    f"${{{env_name(LimitSettings, 'statement_timeout_s')}"
    f":-{LimitSettings.model_fields['statement_timeout_s'].default:g}}}s"
)
SESSION = (
    f"-c max_parallel_workers_per_gather=0 -c jit=off -c statement_timeout={STATEMENT_TIMEOUT}"
)
# Connections per gunicorn worker: a sync worker serves one request at a time, and the
# feature and tile providers share one engine when their options match (pygeoapi caches
# engines by their arguments), so workers × 4 connections at most.
POOL = {"pool_size": 2, "max_overflow": 2, "pool_pre_ping": True, "options": SESSION}


def env_ref(variable: str, default: object = None) -> str:
    """A ``${VAR}`` (or ``${VAR:-default}``) pygeoapi resolves from the server's environment."""
    return f"${{{variable}}}" if default is None else f"${{{variable}:-{default}}}"


def db_ref(field: str) -> str:
    """``env_ref`` of a ``DbSettings`` field, with its default (not this environment's
    value: the committed file is the same on every machine)."""
    return env_ref(env_name(DbSettings, field), DbSettings.model_fields[field].default)


# The server URL as pygeoapi resolves it (`onemap serve` sets ONEMAP_PUBLIC_URL).
SERVE_DEFAULTS = ServeSettings.model_construct()
SERVER_URL = env_ref(env_name(ServeSettings, "public_url"), SERVE_DEFAULTS.url)
# The server's own HTML pages (onemap/serve/html): templates, static files and the
# Indonesian words, at the path `onemap serve` gives in ONEMAP_HTML_DIR.
HTML_DIR = env_ref(HTML_DIR_VARIABLE)
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://openstreetmap.org/copyright">OpenStreetMap contributors</a>'
)


def data_extents(layer: Layer, settings: DbSettings | None = None) -> dict[str, Any]:
    """Spatial (CRS84) and, for layers with a date field, temporal extent from the table."""
    with connect_owner(settings) as conn:
        return table_extents(conn, layer)


def resource(layer: Layer, extents: dict[str, Any]) -> dict[str, Any]:
    """One pygeoapi collection for a layer."""
    provider: dict[str, Any] = {
        "type": "feature",
        # pygeoapi's PostgreSQL provider with GeoJSON built in PostGIS (onemap/serve/provider.py)
        "name": "onemap.serve.provider.OnemapPostgreSQLProvider",
        "data": {
            "host": db_ref("host"),
            "port": db_ref("port"),
            "dbname": db_ref("name"),
            "user": db_ref("reader"),
            "password": env_ref(password_variable("reader")),
            "search_path": [DATA_SCHEMA, "public"],
        },
        "id_field": layer.primary_key,
        "table": layer.id,
        "geom_field": "geom",
        "crs": OUTPUT_CRS,
        "storage_crs": OUTPUT_CRS[0],
        "options": POOL,
    }
    tf = time_field(layer)
    if tf:
        provider["time_field"] = tf
    tiles = tile_provider(layer, provider["data"], POOL)
    description = layer.description
    if layer.synthetic and layer.synthetic_note:
        description += f" SYNTHETIC DATA: {layer.synthetic_note}"
    return {
        "type": "collection",
        "title": {"en": layer.title_en, "id": layer.title},
        "description": description,
        "keywords": list(layer.keywords),
        "links": style_links(layer, SERVER_URL),
        "extents": extents,
        "limits": LIMITS,
        "providers": [provider, tiles],
        # labels, coded values and map style for the HTML pages (onemap/publish/page_specs.py)
        "onemap": page_spec(layer),
    }


def build_config(settings: DbSettings | None = None) -> dict[str, Any]:
    """The whole pygeoapi configuration as a dict."""
    city = get_city()
    layers = load_layers()
    public = {lid: resource(layer, data_extents(layer, settings)) for lid, layer in layers.items()}
    return {
        "server": {
            "bind": {"host": SERVE_DEFAULTS.host, "port": SERVE_DEFAULTS.port},
            "url": SERVER_URL,
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": True,
            # Indonesian first: the default, as on the site; English on ?lang=en or
            # Accept-Language
            "languages": ["id-ID", "en-US"],
            "templates": {"path": f"{HTML_DIR}/templates", "static": f"{HTML_DIR}/static"},
            "locale_dir": f"{HTML_DIR}/locale",
            "cors": True,
            "pretty_print": False,
            "limits": LIMITS,
            "map": {"url": OSM_TILES, "attribution": OSM_ATTRIBUTION},
            "admin": False,
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": {
                    "en": f"onemap — One Map {city.name}",
                    "id": f"onemap — Satu Peta {city.name}",
                },
                "description": {
                    "en": f"Thematic and administrative layers of {city.name} as OGC APIs",
                    "id": f"Data tematik dan batas administrasi {city.name} sebagai OGC API",
                },
                "keywords": ["One Map", "Satu Peta", city.name, "OGC API"],
                "keywords_type": "theme",
                "terms_of_service": "Each collection states its own licence and attribution.",
                "url": SERVER_URL,
            },
            "license": {
                "name": "Per collection: see each collection's licence and attribution",
                "url": f"{SERVER_URL}/collections",
            },
            "provider": {"name": city.government},
            "contact": {
                "name": city.contact.name,
                "city": city.contact.city,
                "stateorprovince": city.province,
                "country": city.contact.country,
                "role": "pointOfContact",
            },
        },
        "resources": {
            **public,
            # Collections features derive from a layer's (e.g. the reports' staff collection)
            **{
                cid: collection
                for feature in extensions.features()
                for lid, layer in layers.items()
                for cid, collection in feature.collections(layer, public[lid]).items()
            },
            # OGC API Coverages: rasters published beside layers (onemap/serve/coverages.py)
            **{
                layer.coverage.id: coverage_resource(layer, path)
                for layer in layers.values()
                if layer.coverage and (path := published_path(layer, settings))
            },
            # OGC API Records: one record per layer (onemap/serve/records.py)
            CATALOG_ID: catalogue_resource(),
            # OGC API Processes (the city's indicators), after the collections.
            **process_resources(),
        },
    }


def render(config: dict[str, Any]) -> str:
    """YAML text with a do-not-edit header."""
    header = (
        "# GENERATED by `onemap publish` from layers/ and the loaded data. Do not edit:\n"
        "# change the layer files and regenerate. ${VAR} values come from the environment.\n"
    )
    return header + yaml.dump(
        config, Dumper=_NoAliases, sort_keys=False, allow_unicode=True, width=100
    )


class _NoAliases(yaml.SafeDumper):
    """Write repeated blocks out in full (no &anchors): easier to read and diff."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_config(output: Path | None = None, settings: DbSettings | None = None) -> Path:
    """Generate and write pygeoapi.yml; returns its path."""
    path = output or config_path()
    path.write_text(render(build_config(settings)), encoding="utf-8")
    return path
