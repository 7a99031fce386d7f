"""Layer styles for desktop GIS and OGC clients, generated from the layer files.

``onemap publish`` writes ``styles/<id>.qml`` (QGIS) and ``styles/<id>.sld`` (SLD 1.1 / SE)
for every layer; they are committed like ``pygeoapi.yml`` and never hand-edited. The server
serves them under ``/styles/`` (``onemap.wsgi``) and every collection links to them.
``onemap qgis-project`` embeds the same QGIS styles in ``site/onemap.qgs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onemap.layers import Layer, load_layers
from onemap.settings import project_root
from onemap.styles.qml import qml_document
from onemap.styles.sld import sld_document

# File suffix -> media type the server sends and the collection links declare.
STYLE_TYPES = {".sld": "application/vnd.ogc.sld+xml", ".qml": "text/xml"}
STYLES_PATH = "styles"  # URL path under the server URL, and the folder in the checkout


def styles_dir() -> Path:
    """The committed folder of generated styles (``styles/`` at the top of the checkout)."""
    return project_root() / STYLES_PATH


def render_styles(layer: Layer) -> dict[str, str]:
    """``{file name: text}`` of the layer's styles."""
    return {f"{layer.id}.qml": qml_document(layer), f"{layer.id}.sld": sld_document(layer)}


def write_styles(outdir: Path | None = None) -> list[Path]:
    """Write every enabled layer's QML and SLD into ``outdir`` (default ``styles/``)."""
    outdir = outdir or styles_dir()
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    for layer in load_layers().values():
        for name, text in render_styles(layer).items():
            path = outdir / name
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def style_links(layer: Layer, base_url: str) -> list[dict[str, Any]]:
    """Links from a collection to its stylesheets (pygeoapi ``links`` entries)."""
    base = f"{base_url.rstrip('/')}/{STYLES_PATH}/{layer.id}"
    return [
        {
            "type": STYLE_TYPES[".sld"],
            "rel": "stylesheet",
            "title": "Style (SLD 1.1 / Symbology Encoding)",
            "href": f"{base}.sld",
        },
        {
            "type": STYLE_TYPES[".qml"],
            "rel": "stylesheet",
            "title": "QGIS layer style (QML)",
            "href": f"{base}.qml",
        },
    ]
