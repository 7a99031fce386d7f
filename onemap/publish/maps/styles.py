"""Map styles, popups and legend entries, derived from the layer file only.

Nothing here names a layer, field or colour: the colour of a feature is the ``color`` of
its value of ``layer.style.field`` (falling back to ``layer.style.color``), line weight and
opacities come from ``layer.style``, popup labels from ``LayerField.display()``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd

from onemap.core.layers import Layer, LayerField
from onemap.publish.maps.prepare import SOURCE_COLUMN

# Label of the system column `source` in popups.
SOURCE_LABEL = ("Sumber data", "Data source")
# Legend line of a layer drawn in one colour.
ALL_FEATURES_LABEL = ("Semua fitur", "All features")
# Radius in pixels of the circle markers that draw point layers.
POINT_RADIUS = 6


@dataclass(frozen=True)
class LegendEntry:
    """One legend line: the coded value, its colour, labels and how many features have it."""

    value: str | None  # None: not a declared value (single-colour layer, "other")
    color: str
    label: str
    label_en: str | None
    count: int | None = None
    description: str | None = None

    @property
    def text(self) -> str:
        """``"Label / Label EN"`` (or just the label when the English one is missing/equal)."""
        if self.label_en and self.label_en != self.label:
            return f"{self.label} / {self.label_en}"
        return self.label


def base_style(layer: Layer) -> dict[str, Any]:
    """Leaflet path options from ``layer.style`` (colour is replaced per feature when styled)."""
    style: dict[str, Any] = {
        "color": layer.style.color,
        "weight": layer.style.weight,
        "opacity": layer.style.opacity,
        "fillColor": layer.style.color,
        "fillOpacity": layer.style.fill_opacity,
    }
    if layer.geometry_family == "line":
        style["fill"] = False
    if layer.geometry_family == "point":
        style["radius"] = POINT_RADIUS
    return style


def reference_style(layer: Layer) -> dict[str, Any]:
    """Outline-only style for ``layer`` drawn as a reference overlay above other data."""
    return {**base_style(layer), "fill": False}


def value_colors(layer: Layer) -> dict[str, str]:
    """``{value: colour}`` for the style field's values that declare a colour."""
    field = layer.style_field
    if field is None:
        return {}
    return {v.value: v.color for v in field.values if v.color}


def _field_spec(field: LayerField) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": field.name,
        "label": field.display("id"),
        "labelEn": field.display("en") if field.label_en else None,
    }
    if field.values:
        spec["values"] = {v.value: [v.label, v.label_en] for v in field.values}
    if field.type in ("integer", "real") and field.unit is None:
        # Quantities carry a unit and get thousands separators (55.213 jiwa); unitless
        # numbers are often years or ratios, which read wrong grouped (2.025).
        spec["plain"] = True
    if field.synthetic:
        spec["synthetic"] = True
    return spec


def layer_spec(layer: Layer, columns: list[str], family: str | None = None) -> dict[str, Any]:
    """What ``onemap.js`` needs to style, label and pop up a layer whose rows hold ``columns``.

    ``columns`` are the embedded value columns, in order (see ``prepare.display_rows``).
    """
    fields = []
    for name in columns:
        if name == SOURCE_COLUMN:
            fields.append({"name": name, "label": SOURCE_LABEL[0], "labelEn": SOURCE_LABEL[1]})
        else:
            fields.append(_field_spec(layer.field(name)))

    def index(name: str | None) -> int:
        return columns.index(name) if name in columns else -1

    return {
        "id": layer.id,
        "title": layer.title,
        "titleEn": layer.title_en,
        "family": family or layer.geometry_family,
        "synthetic": layer.synthetic,
        "fields": fields,
        "style": base_style(layer),
        "colorIndex": index(layer.style.field),
        "colors": value_colors(layer),
        "tooltipIndex": [i for i in (index(layer.label_field), index(layer.primary_key)) if i >= 0],
    }


def legend_entries(layer: Layer, values: pd.Series | None = None) -> list[LegendEntry]:
    """Legend lines for ``layer``: one per value of the style field, in declared order.

    A layer without a style field gets one line in ``layer.style.color``. With ``values``
    (the style-field column), each line carries its feature count, and values outside the
    declared ones, drawn in ``layer.style.color``, get a last line of their own.
    """
    counts = Counter(values.dropna().astype(str)) if values is not None else None
    field = layer.style_field
    if field is None:
        total = None if values is None else int(len(values))
        return [LegendEntry(None, layer.style.color, *ALL_FEATURES_LABEL, count=total)]
    entries = [
        LegendEntry(
            value=v.value,
            color=v.color or layer.style.color,
            label=v.label,
            label_en=v.label_en,
            count=None if counts is None else counts.get(v.value, 0),
            description=v.description,
        )
        for v in field.values
    ]
    if counts is not None:
        other = sum(n for value, n in counts.items() if value not in field.allowed)
        other += int(values.isna().sum()) if values is not None else 0
        if other:
            entries.append(
                LegendEntry(
                    None, layer.style.color, "Lainnya / tanpa nilai", "Other / no value", other
                )
            )
    return entries
