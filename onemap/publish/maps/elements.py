"""folium elements for the onemap pages, drawing through ``assets/onemap/onemap.js``.

folium's ``GeoJson`` embeds a full FeatureCollection and, with a ``style_function``,
one ``case`` per feature: too heavy for 13,000 road segments. ``VectorLayer`` embeds the
compact rows of :mod:`onemap.publish.maps.prepare` and lets ``onemap.js`` style them from the
layer spec of :mod:`onemap.publish.maps.styles`.
"""

from __future__ import annotations

import html
from typing import Any

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from onemap.publish.maps.assets import OWN_CSS, OWN_JS, VECTORGRID_JS
from onemap.publish.maps.prepare import to_script_json


class OnemapRuntime(JSCSSMixin, MacroElement):
    """Loads onemap.js and onemap.css (after Leaflet's, so its rules win).

    ``tiles``: also Leaflet.VectorGrid, for pages drawing a layer from vector tiles.
    """

    _template = Template("")

    def __init__(self, assets_url: str = "assets", *, tiles: bool = False):
        super().__init__()
        self._name = "OnemapRuntime"
        self.default_js = [("onemap_js", f"{assets_url}/{OWN_JS}")]
        if tiles:
            self.default_js.insert(0, ("vectorgrid_js", f"{assets_url}/{VECTORGRID_JS}"))
        self.default_css = [("onemap_css", f"{assets_url}/{OWN_CSS}")]


def _options(pane: str | None, attribution: str | None, **options: Any) -> str:
    """A data layer's Leaflet options as script JSON (the attribution HTML-escaped)."""
    if pane:
        options["pane"] = pane
    if attribution:
        options["attribution"] = html.escape(attribution)
    return to_script_json(options)


class VectorLayer(Layer):
    """One layer's display rows drawn by ``onemap.layer`` (styles, tooltips, popups).

    ``name`` is the layer-control label and is inserted as HTML by Leaflet: pass it
    escaped. ``attribution`` is plain text, escaped here.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = onemap.layer(
            {{ this.data_json }},
            {{ this.spec_json }},
            {{ this.options_json }}
        );
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: dict[str, Any],
        spec: dict[str, Any],
        *,
        name: str,
        pane: str | None = None,
        attribution: str | None = None,
        interactive: bool = True,
        show: bool = True,
        control: bool = True,
    ):
        super().__init__(name=name, overlay=True, control=control, show=show)
        self._name = "VectorLayer"
        self.spec = spec
        self.data_json = to_script_json(data)
        self.spec_json = to_script_json(spec)
        self.options_json = _options(pane, attribution, interactive=interactive)


class TileLayer(Layer):
    """One layer drawn from OGC API vector tiles (MVT) by ``onemap.tiles`` (onemap.js).

    ``url`` is the tile template (``…/tiles/WebMercatorQuad/{z}/{y}/{x}?f=mvt``); the
    features are styled and popped up from ``spec`` like the embedded layers.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = onemap.tiles(
            {{ this.url|tojson }},
            {{ this.spec_json }},
            {{ this.options_json }}
        );
        {% endmacro %}
        """
    )

    def __init__(
        self,
        url: str,
        spec: dict[str, Any],
        *,
        name: str,
        pane: str | None = None,
        attribution: str | None = None,
        show: bool = True,
    ):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TileLayer"
        self.url = url
        self.spec_json = to_script_json(spec)
        self.options_json = _options(pane, attribution)


class LocateControl(MacroElement):
    """A list of the kecamatan: picking one zooms the map to it (no geocoder, no network).

    ``items`` are ``{name, code, bounds}`` (``mapframe.locate_items``). With ``target``
    (a layer whose features carry the code at ``key_index``), the picked area is outlined.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        onemap.locate({{ this._parent.get_name() }}, {{ this.items_json }},
                      {{ this.target.get_name() if this.target else 'null' }},
                      {{ this.key_index }});
        {% endmacro %}
        """
    )

    def __init__(
        self, items: list[dict[str, Any]], target: Layer | None = None, key_index: int = -1
    ):
        super().__init__()
        self._name = "LocateControl"
        self.items_json = to_script_json(items)
        self.target = target
        self.key_index = int(key_index)


class Panel(MacroElement):
    """Server-rendered HTML (already escaped) shown as a Leaflet control in a map corner."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        {{ this.panel_html }}
        {% endmacro %}
        {% macro script(this, kwargs) %}
        onemap.panel({{ this._parent.get_name() }}, {{ this.element_id|tojson }},
                     {{ this.position|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, element_id: str, position: str = "topleft"):
        super().__init__()
        self._name = "Panel"
        self.panel_html = html_text
        self.element_id = element_id
        self.position = position


class LeafletControl(MacroElement):
    """A built-in Leaflet control, ``L.control.<kind>(options)``: zoom, scale, ..."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.{{ this.kind }}({{ this.options|tojson }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, kind: str, **options: Any):
        super().__init__()
        if not kind.isidentifier():
            raise ValueError(f"not a Leaflet control name: {kind!r}")
        self._name = "LeafletControl"
        self.kind = kind
        self.options = options


class LegendSync(MacroElement):
    """Shows a legend section only while its layer is on the map."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        onemap.syncLegend({{ this._parent.get_name() }}, [
        {%- for layer, section_id in this.pairs %}
            [{{ layer.get_name() }}, {{ section_id|tojson }}],
        {%- endfor %}
        ]);
        {% endmacro %}
        """
    )

    def __init__(self, pairs: list[tuple[VectorLayer, str]]):
        super().__init__()
        self._name = "LegendSync"
        self.pairs = pairs
