"""What the API's own HTML pages need to know about a layer, written into its collection
in ``pygeoapi.yml`` (key ``onemap``, which pygeoapi ignores and passes to the templates).

Labels are ``{id, en}`` language structs: pygeoapi picks the request's language
(``?lang=``, ``Accept-Language``) for every struct in the configuration it hands the
templates, as it does for titles. Lists of pairs, not mappings, hold the field and value
names, so a value that happens to look like a language code is never taken for one.
"""

from __future__ import annotations

from typing import Any

from onemap.core.layers import Layer, LayerField


def _label(label: str, label_en: str | None) -> dict[str, str]:
    return {"id": label, "en": label_en or label}


def _field_label(field: LayerField) -> dict[str, str]:
    return {"id": field.display("id"), "en": field.display("en")}


def page_spec(layer: Layer) -> dict[str, Any]:
    """Field labels, coded values and the map style of one layer's pages."""
    style = layer.style
    classes = (
        [[v.value, v.color or style.color, _label(v.label, v.label_en)]
         for v in layer.field(style.field).values]
        if style.field
        else []
    )  # fmt: skip
    spec: dict[str, Any] = {
        "geometry": layer.geometry.type,
        "style": {
            "field": style.field,
            "color": style.color,
            "weight": style.weight,
            "opacity": style.opacity,
            "fill_opacity": style.fill_opacity,
        },
        "classes": classes,
        "fields": [[f.name, _field_label(f)] for f in layer.fields],
        "values": [
            [f.name, [[v.value, _label(v.label, v.label_en)] for v in f.values]]
            for f in layer.fields
            if f.values
        ],
        "synthetic": layer.synthetic,
    }
    if layer.synthetic and layer.synthetic_note:
        spec["synthetic_note"] = layer.synthetic_note
    return spec
