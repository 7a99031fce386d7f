"""What every map page shares: options, the prepared layers, basemap, panes and controls.

Every page has the same frame: basemap (or a plain background), title panel, a
locate-by-kecamatan list, zoom, fullscreen, metric scale bar, and panes per geometry
family (polygons under lines under points, the reference outlines on top).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import folium
import geopandas as gpd
import shapely
from folium.map import CustomPane
from folium.plugins import Fullscreen

from onemap.core.city import get_city
from onemap.core.layers import Layer
from onemap.publish.maps.elements import LeafletControl, LocateControl, OnemapRuntime, Panel
from onemap.publish.maps.styles import layer_spec

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
    site_title: str = field(default_factory=lambda: get_city().site_title)
    site_title_en: str = field(default_factory=lambda: get_city().site_title_en)
    generated: str = "–"
    tiles_url: str | None = None  # an OGC API root: big layers drawn from its vector tiles


@dataclass
class PreparedLayer:
    """A layer with its frame, its embedded display rows and its last-update text.

    ``tiled``: drawn from the OGC API's vector tiles instead of the embedded rows.
    """

    layer: Layer
    frame: gpd.GeoDataFrame
    data: dict[str, Any]
    updated: str
    update_label: str = "Pembaruan terakhir / Last update"
    tiled: bool = False
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


def base_map(
    bounds: list[list[float]] | None, opts: PageOptions, *, tiles: bool = False
) -> folium.Map:
    """A map fitted to ``bounds`` with the basemap of ``opts`` and the onemap panes.

    ``tiles``: the page draws a layer from vector tiles (loads Leaflet.VectorGrid).
    """
    if bounds:
        centre = [(bounds[0][0] + bounds[1][0]) / 2, (bounds[0][1] + bounds[1][1]) / 2]
        m = folium.Map(location=centre, zoom_start=12, tiles=None, zoom_control=False)
    else:
        m = folium.Map(tiles=None, zoom_control=False)
    m.add_child(OnemapRuntime(opts.assets_url, tiles=tiles))
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


def add_controls(
    m: folium.Map, title_html: str, title_id: str, locate: LocateControl | None = None
) -> None:
    """Title panel first in the top-left corner, the kecamatan list, zoom and fullscreen."""
    m.add_child(Panel(title_html, title_id, "topleft"))
    if locate is not None:
        m.add_child(locate)
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


def locate_items(reference: PreparedLayer | None) -> list[dict[str, Any]]:
    """``[{name, code, bounds}]`` of the reference layer's areas, sorted by name.

    Names and codes are the layer's ``label_field`` and primary key; ``bounds`` is
    ``[[south, west], [north, east]]`` for ``fitBounds``. Empty without a reference.
    """
    if reference is None:
        return []
    layer, frame = reference.layer, reference.frame
    name_col = layer.label_field or layer.primary_key
    if frame.empty or name_col not in frame or layer.primary_key not in frame:
        return []
    items = []
    for name, code, geom in zip(
        frame[name_col], frame[layer.primary_key], frame.geometry, strict=True
    ):
        if geom is None or shapely.is_empty(geom):
            continue
        west, south, east, north = geom.bounds
        items.append(
            {
                "name": str(name),
                "code": str(code),
                "bounds": [[round(south, 5), round(west, 5)], [round(north, 5), round(east, 5)]],
            }
        )
    return sorted(items, key=lambda i: (i["name"], i["code"]))
