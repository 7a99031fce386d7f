"""Per-kecamatan choropleth pages of the city indicators.

The figures come from ``onemap.indicators.district_choropleths`` (the one computation
behind ``onemap stats``, the Processes API and the site's downloads); nothing is
recomputed here. The districts are drawn from the layer whose primary key is the
choropleth's ``join_field`` (``kode_kec``), classed by natural breaks
(:mod:`onemap.publish.maps.classify`), with popups giving the district's value, the city's
value for comparison and the class.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium

from onemap.core.city import get_city
from onemap.indicators import Choropleth
from onemap.indicators.export import JSON_NAME
from onemap.publish.maps.classify import METHOD, MISSING_COLOR, ClassBreaks, classify
from onemap.publish.maps.elements import LocateControl, Panel, VectorLayer
from onemap.publish.maps.legend import LegendSection, legend_html
from onemap.publish.maps.mapframe import (
    FAMILY_PANES,
    PageOptions,
    PreparedLayer,
    add_controls,
    base_map,
    locate_items,
)
from onemap.publish.maps.panels import indicator_title_html
from onemap.publish.maps.prepare import display_rows
from onemap.publish.maps.styles import LegendEntry
from onemap.publish.maps.templating import format_number

MISSING = "none"
STROKE = "#5a5a5a"


@dataclass(frozen=True)
class SiteIndicators:
    """What ``build_site`` needs of the indicators, or why there are none.

    ``choropleths``: from ``district_choropleths``; ``exports``: the files
    ``write_exports`` wrote, relative to the site folder; ``synthetic_inputs``: titles
    of the synthetic layers the indicators read; ``error``: why the indicators could not
    be computed (the index says so and the rest of the site is built as usual).
    """

    choropleths: Sequence[Choropleth] = ()
    exports: Sequence[Path] = ()
    synthetic_inputs: Sequence[str] = ()
    city_name: str = field(default_factory=lambda: get_city().name)
    error: str | None = None
    hrefs: dict[str, str] = field(default_factory=dict)
    skipped: Sequence[str] = ()  # choropleths without a page, and why


def page_name(ch: Choropleth) -> str:
    """File name of a choropleth's page."""
    return f"indikator-{ch.name}.html"


def district_layer(
    choropleths: Sequence[Choropleth], prepared: Mapping[str, PreparedLayer]
) -> PreparedLayer:
    """The polygon layer keyed by the choropleths' join field (the kecamatan)."""
    keys = {ch.join_field for ch in choropleths}
    for p in prepared.values():
        if p.layer.primary_key in keys and p.layer.geometry_family == "polygon":
            return p
    raise ValueError(f"no polygon layer has the primary key {', '.join(sorted(keys))}")


def drawable(
    choropleths: Sequence[Choropleth], districts: PreparedLayer
) -> tuple[list[Choropleth], list[str]]:
    """The choropleths with a value for at least one drawn district, and why the others
    have no page (e.g. an empty layer gives no district values)."""
    key = districts.layer.primary_key
    codes = set(map(str, districts.frame[key])) if key in districts.frame else set()
    keep, skipped = [], []
    for ch in choropleths:
        if any(ch.values.get(code) is not None for code in codes):
            keep.append(ch)
        else:
            skipped.append(
                f"{ch.label} / {ch.label_en}: tidak ada nilai per kecamatan / "
                "no value for any district"
            )
    return keep, skipped


def _label(ch: Choropleth, en: bool = False) -> str:
    text = ch.label_en if en else ch.label
    return f"{text} ({ch.unit})" if ch.unit else text


def _spec(
    ch: Choropleth, districts: PreparedLayer, breaks: ClassBreaks, city: str, synthetic: bool
) -> dict[str, Any]:
    layer = districts.layer
    name_field = layer.field(layer.label_field or layer.primary_key)
    key_field = layer.pk
    classes = {f"c{i}": [breaks.label(i, ch.unit), None] for i in range(len(breaks.ranges))}
    classes[MISSING] = ["tanpa nilai", "no value"]
    fields = [
        {"name": name_field.name, "label": name_field.label, "labelEn": name_field.label_en},
        {"name": key_field.name, "label": key_field.label, "labelEn": key_field.label_en},
        {"name": "value", "label": _label(ch), "labelEn": _label(ch, en=True)},
        {"name": "city", "label": f"{city} ({ch.unit})", "labelEn": f"City ({ch.unit})"},
        {"name": "class", "label": "Kelas", "labelEn": "Class", "values": classes},
    ]
    colors = {f"c{i}": c for i, c in enumerate(breaks.colors)}
    colors[MISSING] = MISSING_COLOR
    return {
        "id": f"indikator-{ch.name}",
        "title": ch.label,
        "titleEn": ch.label_en,
        "family": "polygon",
        "synthetic": synthetic,
        "fields": fields,
        "style": {"color": STROKE, "weight": 1, "opacity": 1, "fillOpacity": 0.85},
        "strokeColor": STROKE,
        "colorIndex": 4,
        "colors": colors,
        "tooltipIndex": [0],
    }


def choropleth_data(
    ch: Choropleth, districts: PreparedLayer, city: str, synthetic: bool = False
) -> tuple[dict[str, Any], dict[str, Any], ClassBreaks]:
    """The embedded rows, the layer spec and the classes of one choropleth."""
    layer = districts.layer
    name_col = layer.label_field or layer.primary_key
    base = display_rows(layer, districts.frame, columns=[name_col, layer.primary_key])
    codes = [row[1][1] for row in base["rows"]]
    values = [ch.values.get(str(code)) for code in codes]
    breaks = classify(values)
    rows = []
    for (geom, (name, code)), value in zip(base["rows"], values, strict=True):
        i = breaks.index(value)
        rows.append([geom, [name, code, value, ch.city_value, MISSING if i is None else f"c{i}"]])
    data = {
        "fields": [name_col, layer.primary_key, "value", "city", "class"],
        "scale": base["scale"],
    }
    data["rows"] = rows
    return data, _spec(ch, districts, breaks, city, synthetic), breaks


def _legend(ch: Choropleth, breaks: ClassBreaks, city: str, element_id: str) -> LegendSection:
    entries = [
        LegendEntry(f"c{i}", color, breaks.label(i, ch.unit), None, count=n)
        for i, (color, n) in enumerate(zip(breaks.colors, breaks.counts, strict=True))
    ]
    if breaks.missing:
        entries.append(
            LegendEntry(MISSING, MISSING_COLOR, "Tanpa nilai", "No value", breaks.missing)
        )
    city_value = "–" if ch.city_value is None else f"{format_number(ch.city_value)} {ch.unit}"
    note = f"{city}: {city_value}. {METHOD[0]} / {METHOD[1]}."
    return LegendSection(
        layer_id=f"indikator-{ch.name}",
        title=ch.label,
        title_en=ch.label_en,
        family="polygon",
        entries=tuple(entries),
        field_label="Nilai per kecamatan",
        field_label_en=f"value per district ({ch.unit})",
        fill_opacity=0.85,
        element_id=element_id,
        note=note,
    )


def choropleth_page(
    ch: Choropleth,
    *,
    districts: PreparedLayer,
    indicators: SiteIndicators,
    bounds: list[list[float]] | None,
    opts: PageOptions,
) -> folium.Map:
    """The map of one indicator per district, with legend, popups and locate list."""
    city = indicators.city_name
    data, spec, breaks = choropleth_data(ch, districts, city, bool(indicators.synthetic_inputs))
    m = base_map(bounds, opts)
    vl = VectorLayer(
        data,
        spec,
        name=f'{html.escape(ch.label)}<span class="onemap-en">{html.escape(ch.label_en)}</span>',
        pane=FAMILY_PANES["polygon"][0],
        attribution=districts.layer.attribution,
    )
    m.add_child(vl)
    title_id, legend_id = f"title-{spec['id']}", f"legend-{spec['id']}"
    others = [(page_name(c), c.label, c.label_en) for c in indicators.choropleths if c is not ch]
    add_controls(
        m,
        indicator_title_html(
            ch,
            element_id=title_id,
            city=city,
            generated=opts.generated,
            synthetic_inputs=list(indicators.synthetic_inputs),
            downloads={
                name: href
                for name, href in indicators.hrefs.items()
                if name in (f"{ch.indicator}.csv", JSON_NAME)
            },
            others=others,
        ),
        title_id,
        LocateControl(locate_items(districts), vl, 1),
    )
    section = _legend(ch, breaks, city, f"{legend_id}-{ch.name}")
    m.add_child(Panel(legend_html([section], legend_id), legend_id, "bottomright"))
    folium.LayerControl(position="topright", collapsed=False).add_to(m)
    return m
