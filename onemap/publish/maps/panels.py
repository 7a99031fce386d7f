"""Title panels of the map pages: what the map shows, how much, how fresh, and whether
it is synthetic. Rendered with the autoescaping environment of ``templating``."""

from __future__ import annotations

from typing import Any

from onemap.core.layers import Layer
from onemap.publish.maps.templating import render

_NAV = """\
<nav class="onemap-nav"><a href="{{ index_href }}">&larr; Semua peta / All maps</a>
{% if onemap_href %} &middot; <a href="{{ onemap_href }}">One Map</a>{% endif %}</nav>
"""

_LAYER_TITLE = (
    '<div class="onemap-panel onemap-title" id="{{ element_id }}" hidden>\n'
    + _NAV
    + """\
  <h1>{{ layer.title }}</h1>
  <span class="onemap-en">{{ layer.title_en }}</span>
{% if layer.synthetic %}
  <span class="onemap-badge onemap-badge-synthetic">sintetis / synthetic</span>
{% endif %}
  <p class="onemap-meta">{{ count | number }} fitur / features &middot;
    {{ update_label }}: {{ updated }}</p>
{% if layer.synthetic %}
  <p class="onemap-note"><strong>Data sintetis / synthetic data.</strong>
    {{ layer.synthetic_note }}</p>
{% endif %}
</div>
"""
)

_SITE_TITLE = (
    '<div class="onemap-panel onemap-title" id="{{ element_id }}" hidden>\n'
    + _NAV
    + """\
  <h1>{{ title }}</h1>
  <span class="onemap-en">{{ title_en }}</span>
  <p class="onemap-meta">{{ layers | length }} lapisan / layers &middot;
    {{ total | number }} fitur / features &middot; data per / as of {{ generated }}</p>
{% if synthetic %}
  <p class="onemap-note"><span class="onemap-badge onemap-badge-synthetic">sintetis /
    synthetic</span> Lapisan berikut berisi data sintetis / these layers contain synthetic
    data: {{ synthetic | join(", ") }}.</p>
{% endif %}
</div>
"""
)


def layer_title_html(
    layer: Layer,
    *,
    element_id: str,
    count: int,
    updated: str,
    update_label: str,
    index_href: str = "index.html",
    onemap_href: str | None = "onemap.html",
) -> str:
    """Title panel of one layer's map: titles, feature count, update, synthetic note."""
    return render(
        _LAYER_TITLE,
        layer=layer,
        element_id=element_id,
        count=count,
        updated=updated,
        update_label=update_label,
        index_href=index_href,
        onemap_href=onemap_href,
    )


def site_title_html(
    *,
    element_id: str,
    title: str,
    title_en: str,
    layers: list[Layer],
    total: int,
    generated: str,
    index_href: str = "index.html",
) -> str:
    """Title panel of the combined One Map, naming the synthetic layers."""
    return render(
        _SITE_TITLE,
        element_id=element_id,
        title=title,
        title_en=title_en,
        layers=layers,
        total=total,
        generated=generated,
        synthetic=[layer.title for layer in layers if layer.synthetic],
        index_href=index_href,
        onemap_href=None,
    )


_INDICATOR_TITLE = (
    '<div class="onemap-panel onemap-title" id="{{ element_id }}" hidden>\n'
    + _NAV
    + """\
  <h1>{{ ch.label }}</h1>
  <span class="onemap-en">{{ ch.label_en }}</span>
  <p class="onemap-meta">Indikator per kecamatan / indicator per district
    {%- if ch.unit %} ({{ ch.unit }}){% endif %} &middot; {{ city }}:
    <strong class="onemap-city-value">{{ ch.city_value | number }}{% if ch.unit %}
    {{ ch.unit }}{% endif %}</strong> &middot; data per / as of {{ generated }}</p>
{% if downloads %}
  <p class="onemap-meta">Unduh / Download:
{% for label, href in downloads.items() %}
    <a href="{{ href }}" download>{{ label }}</a>{% if not loop.last %} &middot;{% endif %}
{% endfor %}
  </p>
{% endif %}
{% if synthetic_inputs %}
  <p class="onemap-note"><span class="onemap-badge onemap-badge-synthetic">sintetis /
    synthetic</span> Dihitung dari data sintetis / computed from synthetic data:
    {{ synthetic_inputs | join(", ") }}.</p>
{% endif %}
{% if others %}
  <details class="onemap-others"><summary>Indikator lain / Other indicators</summary>
    <ul>
{% for href, label, label_en in others %}
      <li><a href="{{ href }}">{{ label }}</a>
        <span class="onemap-en-inline">{{ label_en }}</span></li>
{% endfor %}
    </ul>
  </details>
{% endif %}
</div>
"""
)


def indicator_title_html(
    ch: Any,
    *,
    element_id: str,
    city: str,
    generated: str,
    synthetic_inputs: list[str],
    downloads: dict[str, str],
    others: list[tuple[str, str, str]],
    index_href: str = "index.html",
) -> str:
    """Title panel of a choropleth: the indicator, the city's value, downloads, sources.

    ``ch`` is an ``onemap.indicators.Choropleth``; ``downloads`` maps link text to a
    file of the site; ``others`` lists the other choropleths as (href, label, label_en).
    """
    return render(
        _INDICATOR_TITLE,
        ch=ch,
        element_id=element_id,
        city=city,
        generated=generated,
        synthetic_inputs=synthetic_inputs,
        downloads=downloads,
        others=others,
        index_href=index_href,
        onemap_href="onemap.html",
    )
