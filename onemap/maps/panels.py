"""Title panels of the map pages: what the map shows, how much, how fresh, and whether
it is synthetic. Rendered with the autoescaping environment of ``templating``."""

from __future__ import annotations

from onemap.layers import Layer
from onemap.maps.templating import render

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
