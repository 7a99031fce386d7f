"""What the build writes and the server reads: file locations, URL paths and page limits.

``onemap.publish`` generates ``pygeoapi.yml`` and the style files; ``onemap.serve`` serves
them. Both import these names from here, so the server never imports the build code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from onemap.core.settings import project_root

if TYPE_CHECKING:
    from onemap.core.layers import Layer

# Page size: pygeoapi defaults to 10; QGIS and GDAL page far better with larger pages.
# Declared in pygeoapi.yml and in the API document's components.parameters.limit.
LIMITS = {"default_items": 100, "max_items": 10000, "on_exceed": "throttle"}
# File suffix -> media type the server sends and the collection links declare.
STYLE_TYPES = {".sld": "application/vnd.ogc.sld+xml", ".qml": "text/xml"}
STYLES_PATH = "styles"  # URL path under the server URL, and the folder in the checkout


def config_path() -> Path:
    """The committed pygeoapi.yml at the top of the checkout."""
    return project_root() / "pygeoapi.yml"


def styles_dir() -> Path:
    """The committed folder of generated styles (``styles/`` at the top of the checkout)."""
    return project_root() / STYLES_PATH


def tile_provider(layer: Layer, data: dict, options: dict | None = None) -> dict:
    """The pygeoapi tile provider block of a layer (pygeoapi.yml, ``onemap tiles seed``)."""
    return {
        "type": "tile",
        # pygeoapi's MVT-postgresql, generalised per zoom and cached (onemap/serve/tiles.py)
        "name": "onemap.serve.tiles.OnemapMVTProvider",
        "data": data,
        "id_field": layer.primary_key,
        "table": layer.id,
        "geom_field": "geom",
        # no "schemes" list: pygeoapi passes non-dict options to its cached engine factory
        "options": {
            "zoom": {"min": layer.tiles.min_zoom, "max": layer.tiles.max_zoom},
            **(options or {}),
        },
        "format": {"name": "pbf", "mimetype": "application/vnd.mapbox-vector-tile"},
    }
