"""Layer styles for desktop GIS and OGC clients, generated from the layer files.

``onemap publish`` writes ``styles/<id>.qml`` (QGIS) and ``styles/<id>.sld`` (SLD 1.1 / SE)
for every layer; they are committed like ``pygeoapi.yml`` and never hand-edited. The server
serves them under ``/styles/`` (``onemap.serve.wsgi``) and every collection links to them.
``onemap qgis-project`` embeds the same QGIS styles in ``site/onemap.qgs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onemap.core.layers import Layer, load_layers
from onemap.publish.styles.qml import qml_document
from onemap.publish.styles.sld import sld_document
from onemap.serve.contract import STYLE_TYPES, STYLES_PATH, styles_dir


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
