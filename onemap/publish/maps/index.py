"""The site's front page: the One Map, the district indicators, then one card per layer.

Each card has a preview (an SVG from :mod:`onemap.publish.maps.previews`), the title in Bahasa
Indonesia with the English one, a description, the last update, licence and attribution,
and the synthetic badge where it applies. The indicators section links the choropleths
and the CSV/JSON downloads, or says why there are none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from onemap.core.city import get_city
from onemap.publish.maps.choropleth import SiteIndicators
from onemap.publish.maps.mapframe import PageOptions, PreparedLayer
from onemap.publish.maps.templating import format_number, render

FAMILY_LABELS = {"point": "titik / point", "line": "garis / line", "polygon": "poligon / polygon"}


@dataclass(frozen=True)
class IndexCard:
    """One map on the index: where it is, what it shows, and its facts (label, value)."""

    id: str
    href: str
    title: str
    title_en: str
    description: str
    preview: str | None = None
    synthetic: bool = False
    synthetic_note: str | None = None
    facts: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    @classmethod
    def for_layer(cls, p: PreparedLayer, *, href: str, preview: str | None) -> IndexCard:
        """The card of one layer's map."""
        layer = p.layer
        facts = [
            ("Fitur / Features", format_number(p.count)),
            ("Geometri / Geometry", FAMILY_LABELS[layer.geometry_family]),
            (p.update_label, p.updated),
            ("Frekuensi / Frequency", layer.update_frequency),
            ("Instansi / Office", layer.office),
            ("Lisensi / Licence", layer.license),
            ("Atribusi / Attribution", layer.attribution),
        ]
        if p.tiled:
            facts.append(("Gambar / Drawn", "ubin vektor OGC API / OGC API vector tiles"))
        return cls(
            id=layer.id,
            href=href,
            title=layer.title,
            title_en=layer.title_en,
            description=layer.description,
            preview=preview,
            synthetic=layer.synthetic,
            synthetic_note=layer.synthetic_note,
            facts=tuple(facts),
        )

    @classmethod
    def for_choropleth(cls, ch: Any, *, href: str, preview: str | None) -> IndexCard:
        """The card of one choropleth (an ``onemap.indicators.Choropleth``)."""
        city = "–" if ch.city_value is None else format_number(ch.city_value)
        return cls(
            id=f"indikator-{ch.name}",
            href=href,
            title=ch.label,
            title_en=ch.label_en,
            description=f"Per kecamatan / per district ({ch.unit}).",
            preview=preview,
            facts=((f"{get_city().kind} / {get_city().kind_en}", f"{city} {ch.unit}"),),
        )


def _downloads(indicators: SiteIndicators | None) -> list[dict[str, str]]:
    if indicators is None:
        return []
    out = []
    for path in indicators.exports:
        rel = PurePosixPath(path.as_posix() if hasattr(path, "as_posix") else str(path))
        out.append({"href": str(rel), "name": rel.name})
    return out


_INDEX = """\
<!DOCTYPE html>
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ opts.site_title }} / {{ opts.site_title_en }}</title>
<link rel="stylesheet" href="{{ opts.assets_url }}/onemap/onemap.css">
</head>
<body class="onemap-index">
<header>
  <h1>{{ opts.site_title }}</h1>
  <span class="onemap-en">{{ opts.site_title_en }}</span>
  <p>Data per / as of {{ opts.generated }}.</p>
</header>
<main>
  <section class="onemap-featured" id="card-onemap">
{% if onemap_preview %}
    <a href="{{ onemap_href }}"><img class="onemap-preview" src="{{ onemap_preview }}"
       width="320" height="200" alt="Pratinjau / preview: One Map"></a>
{% endif %}
    <div>
      <h2><a href="{{ onemap_href }}">One Map: semua lapisan / all layers</a></h2>
      <p>{{ cards | length }} lapisan dalam satu peta dengan kontrol lapisan, legenda dan
        pencarian kecamatan / {{ cards | length }} layers on one map with a layer control,
        legends and a district finder.</p>
{% if onemap_opens_with %}
      <p class="onemap-meta">Dibuka dengan / opens with: {{ onemap_opens_with | join(", ") }};
        lapisan lain di kontrol lapisan / the others are in the layer control.</p>
{% endif %}
    </div>
  </section>
{% if indicators is not none %}
  <section class="onemap-indicators" id="indicators">
    <h2>Indikator per kecamatan <span class="onemap-en">District indicators</span></h2>
{% if indicators.error %}
    <p class="onemap-note onemap-indicators-error"><strong>Indikator tidak tersedia /
      indicators unavailable.</strong> {{ indicators.error }}</p>
{% else %}
{% if indicators.synthetic_inputs %}
    <p class="onemap-note"><span class="onemap-badge onemap-badge-synthetic">sintetis /
      synthetic</span> Dihitung dari data sintetis / computed from synthetic data:
      {{ indicators.synthetic_inputs | join(", ") }}.</p>
{% endif %}
    <div class="onemap-cards onemap-cards-small">
{% for c in indicator_cards %}
{{ card(c, "indicator") }}
{% endfor %}
    </div>
{% endif %}
{% if indicators.skipped and not indicators.error %}
    <ul class="onemap-note onemap-indicators-skipped">
{% for reason in indicators.skipped %}
      <li>{{ reason }}</li>
{% endfor %}
    </ul>
{% endif %}
{% if downloads %}
    <p class="onemap-downloads">Unduh / Download (CSV, JSON):
{% for d in downloads %}
      <a href="{{ d.href }}" download>{{ d.name }}</a>{% if not loop.last %} &middot;{% endif %}
{% endfor %}
    </p>
{% endif %}
  </section>
{% endif %}
  <h2 class="onemap-section-title">Lapisan <span class="onemap-en">Layers</span></h2>
  <div class="onemap-cards">
{% for c in cards %}
{{ card(c, "layer") }}
{% endfor %}
  </div>
</main>
<footer>
  <p>Dibuat / generated {{ opts.generated }}.
{% if basemap_osm %}
  Peta dasar / basemap &copy; OpenStreetMap contributors (ODbL).
{% endif %}
  Sumber tiap lapisan tercantum pada kartunya / each card names its sources.</p>
</footer>
</body>
</html>
"""

_CARD = """\
{% macro card(c, kind) %}
  <article class="onemap-card onemap-card-{{ kind }}
                  {%- if c.synthetic %} onemap-card-synthetic{% endif %}"
           id="card-{{ c.id }}" data-layer="{{ c.id }}">
{% if c.preview %}
    <a href="{{ c.href }}"><img class="onemap-preview" src="{{ c.preview }}" width="320"
       height="200" alt="Pratinjau / preview: {{ c.title }}"></a>
{% endif %}
    <h3><a href="{{ c.href }}">{{ c.title }}</a></h3>
    <span class="onemap-en">{{ c.title_en }}</span>
{% if c.synthetic %}
    <p><span class="onemap-badge onemap-badge-synthetic">sintetis / synthetic</span></p>
    <p class="onemap-note">{{ c.synthetic_note }}</p>
{% endif %}
    <p class="onemap-description">{{ c.description }}</p>
    <dl>
{% for label, value in c.facts %}
      <dt>{{ label }}</dt><dd>{{ value }}</dd>
{% endfor %}
    </dl>
    <a class="onemap-open" href="{{ c.href }}">Buka peta / Open map &rarr;</a>
  </article>
{% endmacro %}
"""


def index_html(
    cards: Sequence[IndexCard],
    opts: PageOptions,
    *,
    onemap_href: str = "onemap.html",
    onemap_preview: str | None = None,
    basemap_osm: bool = True,
    indicators: SiteIndicators | None = None,
    indicator_cards: Sequence[IndexCard] = (),
    onemap_opens_with: Sequence[str] = (),
) -> str:
    """The index page: the One Map, the indicators (or why none), then the layer cards."""
    return render(
        _CARD + _INDEX,
        cards=list(cards),
        opts=opts,
        onemap_href=onemap_href,
        onemap_preview=onemap_preview,
        basemap_osm=basemap_osm,
        indicators=indicators,
        indicator_cards=list(indicator_cards),
        onemap_opens_with=list(onemap_opens_with),
        downloads=_downloads(indicators),
    )
