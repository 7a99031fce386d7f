"""The site's front page: one card per map, and a link to the combined One Map."""

from __future__ import annotations

from collections.abc import Iterable

from onemap.maps.pages import PageOptions, PreparedLayer
from onemap.maps.templating import render

FAMILY_LABELS = {"point": "titik / point", "line": "garis / line", "polygon": "poligon / polygon"}

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
  <section class="onemap-featured">
    <h2><a href="{{ onemap_href }}">One Map: semua lapisan / all layers</a></h2>
    <p>{{ cards | length }} lapisan dalam satu peta dengan kontrol lapisan dan legenda /
      {{ cards | length }} layers on one map with a layer control and legends.</p>
  </section>
  <div class="onemap-cards">
{% for c in cards %}
  <article class="onemap-card{% if c.layer.synthetic %} onemap-card-synthetic{% endif %}"
           id="card-{{ c.layer.id }}" data-layer="{{ c.layer.id }}">
    <h2><a href="{{ c.href }}">{{ c.layer.title }}</a></h2>
    <span class="onemap-en">{{ c.layer.title_en }}</span>
{% if c.layer.synthetic %}
    <p><span class="onemap-badge onemap-badge-synthetic">sintetis / synthetic</span></p>
    <p class="onemap-note">{{ c.layer.synthetic_note }}</p>
{% endif %}
    <p class="onemap-description">{{ c.layer.description }}</p>
    <dl>
      <dt>Fitur / Features</dt><dd class="onemap-feature-count">{{ c.count | number }}</dd>
      <dt>Geometri / Geometry</dt><dd>{{ c.family }}</dd>
      <dt>{{ c.update_label }}</dt><dd>{{ c.updated }}</dd>
      <dt>Frekuensi / Frequency</dt><dd>{{ c.layer.update_frequency }}</dd>
      <dt>Instansi / Office</dt><dd>{{ c.layer.office }}</dd>
      <dt>Lisensi / Licence</dt><dd>{{ c.layer.license }}</dd>
      <dt>Atribusi / Attribution</dt><dd>{{ c.layer.attribution }}</dd>
    </dl>
    <a class="onemap-open" href="{{ c.href }}">Buka peta / Open map &rarr;</a>
  </article>
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


def index_html(
    prepared: Iterable[PreparedLayer],
    opts: PageOptions,
    *,
    onemap_href: str = "onemap.html",
    basemap_osm: bool = True,
) -> str:
    """The index page: a card per layer map (``<layer_id>.html``), then the One Map link."""
    cards = [
        {
            "layer": p.layer,
            "href": f"{p.layer.id}.html",
            "count": p.count,
            "family": FAMILY_LABELS[p.layer.geometry_family],
            "updated": p.updated,
            "update_label": p.update_label,
        }
        for p in prepared
    ]
    return render(_INDEX, cards=cards, opts=opts, onemap_href=onemap_href, basemap_osm=basemap_osm)
