"""Legends: one section per layer, built from the style field's declared values."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd

from onemap.core.layers import Layer
from onemap.publish.maps.styles import LegendEntry, legend_entries
from onemap.publish.maps.templating import render


@dataclass(frozen=True)
class LegendSection:
    """The legend of one layer: its title, the field it is coloured by and the entries."""

    layer_id: str
    title: str
    title_en: str
    family: str
    entries: tuple[LegendEntry, ...]
    field_label: str | None = None
    field_label_en: str | None = None
    fill_opacity: float = 1.0
    synthetic: bool = False
    synthetic_note: str | None = None
    element_id: str = ""
    note: str | None = None


def legend_section(
    layer: Layer,
    frame: gpd.GeoDataFrame | None,
    element_id: str,
    *,
    outline_only: bool = False,
) -> LegendSection:
    """The legend section of ``layer``, with feature counts per value taken from ``frame``.

    ``outline_only`` draws polygon swatches unfilled, as for the reference overlay.
    """
    field = layer.style_field
    values = None
    if frame is not None:
        values = frame[field.name] if field is not None and field.name in frame else None
        if field is None:
            values = frame.geometry
    return LegendSection(
        layer_id=layer.id,
        title=layer.title,
        title_en=layer.title_en,
        family=layer.geometry_family,
        entries=tuple(legend_entries(layer, values)),
        field_label=field.label if field else None,
        field_label_en=field.label_en if field else None,
        fill_opacity=0.0 if outline_only else layer.style.fill_opacity,
        synthetic=layer.synthetic,
        synthetic_note=layer.synthetic_note,
        element_id=element_id,
    )


_LEGEND = """\
<div class="onemap-panel onemap-legend" id="{{ element_id }}" hidden
     role="region" aria-label="Legenda / Legend">
{% for s in sections %}
  <section class="onemap-legend-layer" id="{{ s.element_id }}" data-layer="{{ s.layer_id }}">
    <h2>{{ s.title }}{% if s.synthetic %} <span class="onemap-badge onemap-badge-synthetic"
        title="{{ s.synthetic_note }}">sintetis / synthetic</span>{% endif %}</h2>
{% if show_en %}
    <span class="onemap-en">{{ s.title_en }}</span>
{% endif %}
{% if s.field_label %}
    <p class="onemap-field">{{ s.field_label }}
      {%- if s.field_label_en %} / {{ s.field_label_en }}{% endif %}</p>
{% endif %}
    <ul>
{% for e in s.entries %}
      <li class="onemap-legend-entry"
          {%- if e.value is not none %} data-value="{{ e.value }}"{% endif %}
          {%- if e.description %} title="{{ e.description }}"{% endif %}>
        <span class="onemap-swatch onemap-swatch-{{ s.family }}"
              {% if s.family == 'polygon' %}
              style="background-color: {{ e.color | rgba(s.fill_opacity) }};
                     border-color: {{ e.color }}"
{% else %}
              style="background-color: {{ e.color }}"
{% endif %}
              ></span>
        <span class="onemap-legend-label">{{ e.text }}</span>
{% if e.count is not none %}
        <span class="onemap-count">{{ e.count | number }}</span>
{% endif %}
      </li>
{% endfor %}
    </ul>
{% if s.note %}
    <p class="onemap-legend-note">{{ s.note }}</p>
{% endif %}
  </section>
{% endfor %}
</div>
"""


def legend_html(sections: list[LegendSection], element_id: str, *, show_en: bool = True) -> str:
    """The legend panel holding ``sections``; hidden until ``onemap.panel`` places it."""
    return render(_LEGEND, sections=sections, element_id=element_id, show_en=show_en)
