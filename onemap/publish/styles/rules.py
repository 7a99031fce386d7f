"""What a layer's style says, independent of the output format (QML, SLD, QGIS project).

Everything comes from the layer file: one class per allowed value of ``style.field`` (its
colour, falling back to ``style.color``, and the label "Indonesian / English"), or a single
symbol in ``style.color``; widths and opacities from ``style``; labels on ``label_field``.

Units: ``style.weight`` is in screen pixels, as the web maps (Leaflet) use it. SLD keeps
pixels; QGIS styles convert to millimetres at QGIS's own ratio (a 1 px line is 0.26 mm),
so a layer looks the same in QGIS as on the web map.
"""

from __future__ import annotations

from dataclasses import dataclass

from onemap.core.layers import Layer

MM_PER_PIXEL = 0.26
# Labels appear from this scale in (1:25 000), except on layers with a handful of
# features (checks.max_rows <= ALWAYS_LABEL_MAX_ROWS, e.g. the 16 kecamatan), which are
# labelled at every scale.
LABEL_MIN_SCALE = 25_000
ALWAYS_LABEL_MAX_ROWS = 50
POINT_RADIUS_PX = 6  # as the web maps draw points


@dataclass(frozen=True)
class StyleClass:
    """One symbol: the value it applies to (None: every feature), its colour and legend text."""

    value: str | None
    color: str
    label: str


def bilingual(label: str, label_en: str | None) -> str:
    """``"Label / Label EN"``, or just the label when the English one is missing or equal."""
    return f"{label} / {label_en}" if label_en and label_en != label else label


def style_classes(layer: Layer) -> list[StyleClass]:
    """The classes of the layer's style, in the order the layer file declares the values."""
    field = layer.style_field
    if field is None:
        return [StyleClass(None, layer.style.color, bilingual(layer.title, layer.title_en))]
    return [
        StyleClass(v.value, v.color or layer.style.color, bilingual(v.label, v.label_en))
        for v in field.values
    ]


def label_field(layer: Layer) -> str | None:
    """The field to label features with, or None when labels would only repeat the colours."""
    if layer.label_field is None or layer.label_field == layer.style.field:
        return None
    return layer.label_field


def label_min_scale(layer: Layer) -> int | None:
    """Scale denominator from which labels show (None: at every scale)."""
    few = layer.checks.max_rows is not None and layer.checks.max_rows <= ALWAYS_LABEL_MAX_ROWS
    return None if few else LABEL_MIN_SCALE


def rgba(color: str, opacity: float = 1.0) -> str:
    """``#rrggbb`` and an opacity as QGIS writes colours: ``"r,g,b,a"`` with a in 0–255."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"{r},{g},{b},{round(opacity * 255)}"


def mm(pixels: float) -> str:
    """A width in screen pixels as QGIS millimetres, without float noise."""
    return f"{pixels * MM_PER_PIXEL:.3f}".rstrip("0").rstrip(".")
