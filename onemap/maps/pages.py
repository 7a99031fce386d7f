"""Assemble the folium maps: one per layer, and the combined One Map.

Every page has the same frame: basemap (or a plain background), title panel, zoom,
fullscreen, metric scale bar, layer control, legend, the reference overlay (kecamatan
boundaries) on top of the data without catching clicks, and the attribution of every
source shown. Layers are drawn in panes per geometry family, polygons under lines under
points; within a family, in the order of ``layers/index.yaml``.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import folium
import geopandas as gpd
from folium.map import CustomPane
from folium.plugins import Fullscreen

from onemap.layers import Layer
from onemap.maps.assets import localise, remote_references
from onemap.maps.elements import LeafletControl, LegendSync, OnemapRuntime, Panel, VectorLayer
from onemap.maps.legend import LegendSection, legend_html, legend_section
from onemap.maps.panels import layer_title_html, site_title_html
from onemap.maps.styles import layer_spec, reference_style

# Leaflet's overlayPane is at z-index 400, markers at 600, tooltips 650, popups 700.
FAMILY_PANES = {
    "polygon": ("onemap-polygon", 410),
    "line": ("onemap-line", 420),
    "point": ("onemap-point", 430),
}
REFERENCE_PANE = ("onemap-reference", 440)
BASEMAP_OSM = "osm"
BASEMAP_NONE = "none"


@dataclass(frozen=True)
class PageOptions:
    """What every page shares: basemap, where the assets are, the site's titles."""

    basemap: str = BASEMAP_OSM
    basemap_attribution: str | None = None
    assets_url: str = "assets"
    site_title: str = "Peta Terpadu Kota Semarang"
    site_title_en: str = "One Map, Kota Semarang"
    generated: str = "–"


@dataclass
class PreparedLayer:
    """A layer with its frame, its embedded display rows and its last-update text."""

    layer: Layer
    frame: gpd.GeoDataFrame
    data: dict[str, Any]
    updated: str
    update_label: str = "Pembaruan terakhir / Last update"
    spec: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.spec = layer_spec(self.layer, self.data["fields"])

    @property
    def count(self) -> int:
        """Number of features in the layer."""
        return int(len(self.frame))


def layer_label(layer: Layer) -> str:
    """Layer-control label (HTML, escaped): the title with the English one below."""
    return f'{html.escape(layer.title)}<span class="onemap-en">{html.escape(layer.title_en)}</span>'


def _base_map(bounds: list[list[float]] | None, opts: PageOptions) -> folium.Map:
    if bounds:
        centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
        m = folium.Map(location=centre, zoom_start=12, tiles=None, zoom_control=False)
    else:
        m = folium.Map(tiles=None, zoom_control=False)
    m.add_child(OnemapRuntime(opts.assets_url))
    if opts.basemap == BASEMAP_OSM:
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap", max_zoom=19, control=False).add_to(
            m
        )
    elif opts.basemap != BASEMAP_NONE:
        if not opts.basemap_attribution:
            raise ValueError("a basemap URL template needs basemap_attribution")
        folium.TileLayer(
            opts.basemap, attr=opts.basemap_attribution, name="Basemap", control=False
        ).add_to(m)
    # Panes ignore the pointer themselves (their <svg> would hide the panes below);
    # interactive paths inside still catch it (leaflet.css: path.leaflet-interactive).
    for pane, z_index in (*FAMILY_PANES.values(), REFERENCE_PANE):
        m.add_child(CustomPane(pane, z_index=z_index, pointer_events=False))
    if bounds:
        m.fit_bounds(bounds)
    return m


def _add_controls(m: folium.Map, title_html: str, title_id: str) -> None:
    """Title panel first in the top-left corner, then zoom and fullscreen below it."""
    m.add_child(Panel(title_html, title_id, "topleft"))
    m.add_child(
        LeafletControl(
            "zoom",
            position="topleft",
            zoomInTitle="Perbesar / Zoom in",
            zoomOutTitle="Perkecil / Zoom out",
        )
    )
    m.add_child(
        Fullscreen(
            position="topleft",
            title="Layar penuh / Full screen",
            title_cancel="Keluar layar penuh / Exit full screen",
        )
    )
    m.add_child(LeafletControl("scale", position="bottomleft", imperial=False, maxWidth=160))


def _data_layer(prepared: PreparedLayer, show: bool = True) -> VectorLayer:
    layer = prepared.layer
    return VectorLayer(
        prepared.data,
        prepared.spec,
        name=layer_label(layer),
        pane=FAMILY_PANES[layer.geometry_family][0],
        attribution=layer.attribution,
        show=show,
    )


def _reference_layer(
    reference: PreparedLayer, *, interactive: bool = False, show: bool = True
) -> VectorLayer:
    """The reference layer as outlines above the data, in the reference pane.

    By default a plain overlay (geometry only). Interactive (the One Map, where it is
    also a layer of its own), only its outlines catch the pointer (SVG paths without
    fill), so clicks inside a polygon still reach the layers underneath.
    """
    layer = reference.layer
    if interactive:
        data, spec, label = reference.data, reference.spec, layer_label(layer)
    else:
        data = {
            **reference.data,
            "fields": [],
            "rows": [[g, []] for g, _ in reference.data["rows"]],
        }
        spec = layer_spec(layer, [])
        label = (
            f"{html.escape(layer.title)} (referensi)"
            f'<span class="onemap-en">{html.escape(layer.title_en)} (reference)</span>'
        )
    spec = {**spec, "style": reference_style(layer)}
    return VectorLayer(
        data,
        spec,
        name=label,
        pane=REFERENCE_PANE[0],
        attribution=layer.attribution,
        interactive=interactive,
        show=show,
    )


def layer_page(
    prepared: PreparedLayer,
    *,
    reference: PreparedLayer | None,
    bounds: list[list[float]] | None,
    opts: PageOptions,
) -> folium.Map:
    """The map of one layer, with the reference overlay unless it is the reference itself."""
    layer = prepared.layer
    m = _base_map(bounds, opts)
    title_id, legend_id = f"title-{layer.id}", f"legend-{layer.id}"
    _add_controls(
        m,
        layer_title_html(
            layer,
            element_id=title_id,
            count=prepared.count,
            updated=prepared.updated,
            update_label=prepared.update_label,
        ),
        title_id,
    )
    m.add_child(_data_layer(prepared))
    if reference is not None and reference.layer.id != layer.id:
        m.add_child(_reference_layer(reference))
    section = legend_section(layer, prepared.frame, f"{legend_id}-{layer.id}")
    m.add_child(Panel(legend_html([section], legend_id, show_en=False), legend_id, "bottomright"))
    folium.LayerControl(position="topright", collapsed=False).add_to(m)
    return m


def onemap_page(
    prepared: Mapping[str, PreparedLayer],
    *,
    reference: PreparedLayer | None,
    bounds: list[list[float]] | None,
    opts: PageOptions,
    visible: Collection[str] | None = None,
) -> folium.Map:
    """The combined One Map: every layer, a layer control, one legend section per layer.

    The reference layer is drawn once, as interactive outlines above the other layers.
    ``visible`` names the layers switched on when the page opens (default: all); the
    others are in the layer control, and their legend shows when they are switched on.
    """
    unknown = set(visible or ()) - set(prepared)
    if unknown:
        raise ValueError(f"unknown layers in visible: {sorted(unknown)}")
    m = _base_map(bounds, opts)
    layers = [p.layer for p in prepared.values()]
    _add_controls(
        m,
        site_title_html(
            element_id="title-onemap",
            title=opts.site_title,
            title_en=opts.site_title_en,
            layers=layers,
            total=sum(p.count for p in prepared.values()),
            generated=opts.generated,
        ),
        "title-onemap",
    )
    vector_layers: list[tuple[VectorLayer, LegendSection]] = []
    for lid, p in prepared.items():
        is_reference = reference is not None and lid == reference.layer.id
        show = visible is None or lid in visible
        if is_reference:
            vl = _reference_layer(p, interactive=True, show=show)
        else:
            vl = _data_layer(p, show=show)
        m.add_child(vl)
        section = legend_section(
            p.layer, p.frame, f"legend-onemap-{lid}", outline_only=is_reference
        )
        vector_layers.append((vl, section))
    sections = [section for _, section in vector_layers]
    m.add_child(Panel(legend_html(sections, "legend-onemap"), "legend-onemap", "bottomright"))
    m.add_child(LegendSync([(vl, section.element_id) for vl, section in vector_layers]))
    folium.LayerControl(position="topright", collapsed=False).add_to(m)
    return m


def render_page(m: folium.Map, title: str, opts: PageOptions) -> str:
    """The page's HTML, loading every script and stylesheet from ``opts.assets_url``.

    Raises ``RuntimeError`` if any ``<script src>``/``<link href>`` still points off-site.
    """
    figure = m.get_root()
    figure.title = html.escape(title)
    localise(figure, opts.assets_url)
    text = figure.render().replace("<html>", '<html lang="id">', 1)
    remote = remote_references(text)
    if remote:
        raise RuntimeError(f"page '{title}' still loads remote resources: {remote}")
    return text
