"""The index cards' previews: one SVG per map under ``<site>/previews/``.

What each preview shows is what its page opens with: a layer over the kecamatan
outlines, the One Map's initially visible layers, or a choropleth's classed districts.
Drawing is in :mod:`onemap.publish.maps.thumbnails`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path

import geopandas as gpd

from onemap.core.layers import Layer
from onemap.publish.maps.choropleth import STROKE, SiteIndicators
from onemap.publish.maps.choropleth import district_layer as _district_layer
from onemap.publish.maps.classify import MISSING_COLOR, classify
from onemap.publish.maps.mapframe import PreparedLayer
from onemap.publish.maps.styles import value_colors
from onemap.publish.maps.thumbnails import Drawing, stroke_width, thumbnail_svg, total_bounds

FOLDER = "previews"
FAMILY_ORDER = {"polygon": 0, "line": 1, "point": 2}


def layer_drawing(layer: Layer, frame: gpd.GeoDataFrame, *, outline_only: bool = False) -> Drawing:
    """A layer's features in its map colours (``layer.style``, colour per style value)."""
    colors = value_colors(layer)
    field = layer.style.field
    if field and field in frame.columns:
        per_feature = [colors.get(str(v), layer.style.color) for v in frame[field]]
    else:
        per_feature = [layer.style.color] * len(frame)
    return Drawing(
        geometries=list(frame.geometry),
        colors=per_feature,
        family=layer.geometry_family,
        fill_opacity=layer.style.fill_opacity,
        stroke_width=max(0.7, stroke_width(layer.style.weight))
        if outline_only
        else stroke_width(layer.style.weight),
        outline_only=outline_only,
    )


def _write(folder: Path, name: str, svg: str) -> str:
    (folder / f"{name}.svg").write_text(svg, encoding="utf-8")
    return f"{FOLDER}/{name}.svg"


def write_previews(
    outdir: Path,
    prepared: Mapping[str, PreparedLayer],
    reference: PreparedLayer | None,
    indicators: SiteIndicators | None,
    visible: Collection[str] | None = None,
) -> dict[str, str]:
    """Write the previews; return ``{key: href}`` with keys layer id, ``"onemap"`` and
    ``"indikator-<name>"`` per choropleth."""
    sources = [reference] if reference is not None else list(prepared.values())
    bounds = total_bounds(list(p.frame.geometry) for p in sources)
    if bounds is None:
        return {}
    folder = outdir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    outline = (
        [layer_drawing(reference.layer, reference.frame, outline_only=True)]
        if reference is not None
        else []
    )
    hrefs = {}
    for lid, p in prepared.items():
        top = outline if reference is not None and lid != reference.layer.id else []
        drawings = [layer_drawing(p.layer, p.frame), *top]
        hrefs[lid] = _write(folder, lid, thumbnail_svg(drawings, bounds, p.layer.title))
    shown = [
        p
        for lid, p in prepared.items()
        if (p.layer.map.visible if visible is None else lid in visible)
        and (reference is None or lid != reference.layer.id)
    ]
    shown.sort(key=lambda p: FAMILY_ORDER[p.layer.geometry_family])
    drawings = [layer_drawing(p.layer, p.frame) for p in shown] + outline
    hrefs["onemap"] = _write(folder, "onemap", thumbnail_svg(drawings, bounds, "One Map"))
    if indicators is not None and indicators.choropleths:
        districts = _district_layer(indicators.choropleths, prepared)
        key = districts.layer.primary_key
        codes = [str(c) for c in districts.frame[key]] if key in districts.frame else []
        for ch in indicators.choropleths:
            values = [ch.values.get(code) for code in codes]
            breaks = classify(values)
            colors = [
                MISSING_COLOR if (i := breaks.index(v)) is None else breaks.colors[i]
                for v in values
            ]
            drawing = Drawing(
                list(districts.frame.geometry), colors, "polygon", 0.85, 0.6, stroke=STROKE
            )
            name = f"indikator-{ch.name}"
            hrefs[name] = _write(folder, name, thumbnail_svg([drawing], bounds, ch.label))
    return hrefs
