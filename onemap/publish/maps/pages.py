"""Assemble the folium maps: one per layer, and the combined One Map.

The frame every page shares (basemap, panes, title, locate list, zoom, fullscreen,
scale bar) is in :mod:`onemap.publish.maps.mapframe`. Here: the data layers (embedded rows, or
the OGC API's vector tiles for big layers), the reference overlay (kecamatan
boundaries) on top of the data without catching clicks, the layer control, the legends
and the attribution of every source. Layers are drawn in panes per geometry family,
polygons under lines under points; within a family, in the order of ``layers/index.yaml``.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping

import folium

from onemap.publish.maps.assets import localise, remote_references
from onemap.publish.maps.elements import LegendSync, LocateControl, Panel, TileLayer, VectorLayer
from onemap.publish.maps.legend import LegendSection, legend_html, legend_section
from onemap.publish.maps.mapframe import (
    FAMILY_PANES,
    REFERENCE_PANE,
    PageOptions,
    PreparedLayer,
    add_controls,
    base_map,
    layer_label,
    locate_items,
)
from onemap.publish.maps.panels import layer_title_html, site_title_html
from onemap.publish.maps.styles import layer_spec, reference_style

TILE_PATH = "/collections/{id}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}?f=mvt"


def tile_url(api_url: str, layer_id: str) -> str:
    """The MVT template of a collection on the OGC API at ``api_url``."""
    return api_url.rstrip("/") + TILE_PATH.format(id=layer_id)


def _data_layer(prepared: PreparedLayer, opts: PageOptions, show: bool = True):
    """The layer's features: embedded rows, or vector tiles when ``prepared.tiled``."""
    layer = prepared.layer
    pane = FAMILY_PANES[layer.geometry_family][0]
    common = {"name": layer_label(layer), "pane": pane, "attribution": layer.attribution}
    if prepared.tiled:
        if not opts.tiles_url:
            raise ValueError(f"layer {layer.id} is tiled but no tiles_url is set")
        url = tile_url(opts.tiles_url, layer.id)
        return TileLayer(url, prepared.spec, show=show, **common)
    return VectorLayer(prepared.data, prepared.spec, show=show, **common)


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
        # Geometry and key only: the locate list outlines an area by its key.
        fields = reference.data["fields"]
        key = fields.index(layer.primary_key)
        data = {
            **reference.data,
            "fields": [layer.primary_key],
            "rows": [[g, [values[key]]] for g, values in reference.data["rows"]],
        }
        spec = layer_spec(layer, [layer.primary_key])
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
    m = base_map(bounds, opts, tiles=prepared.tiled)
    title_id, legend_id = f"title-{layer.id}", f"legend-{layer.id}"
    data_layer = _data_layer(prepared, opts)
    if reference is not None and reference.layer.id != layer.id:
        outline = _reference_layer(reference)
    else:
        outline = data_layer if reference is not None else None
    # Layers before the controls: the locate list's script refers to the outline layer.
    m.add_child(data_layer)
    if outline is not None and outline is not data_layer:
        m.add_child(outline)
    add_controls(
        m,
        layer_title_html(
            layer,
            element_id=title_id,
            count=prepared.count,
            updated=prepared.updated,
            update_label=prepared.update_label,
        ),
        title_id,
        _locate(reference, outline),
    )
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
    ``visible`` names the layers switched on when the page opens (default: the layers
    whose file says ``map: {visible: true}``, the default); the others are in the layer
    control, and their legend shows when they are switched on.
    """
    unknown = set(visible or ()) - set(prepared)
    if unknown:
        raise ValueError(f"unknown layers in visible: {sorted(unknown)}")
    m = base_map(bounds, opts, tiles=any(p.tiled for p in prepared.values()))
    layers = [p.layer for p in prepared.values()]
    vector_layers: list[tuple[VectorLayer | TileLayer, LegendSection]] = []
    outline = None
    for lid, p in prepared.items():
        is_reference = reference is not None and lid == reference.layer.id
        show = p.layer.map.visible if visible is None else lid in visible
        if is_reference:
            vl = outline = _reference_layer(p, interactive=True, show=show)
        else:
            vl = _data_layer(p, opts, show=show)
        section = legend_section(
            p.layer, p.frame, f"legend-onemap-{lid}", outline_only=is_reference
        )
        vector_layers.append((vl, section))
        m.add_child(vl)
    add_controls(
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
        _locate(reference, outline),
    )
    sections = [section for _, section in vector_layers]
    m.add_child(Panel(legend_html(sections, "legend-onemap"), "legend-onemap", "bottomright"))
    m.add_child(LegendSync([(vl, section.element_id) for vl, section in vector_layers]))
    folium.LayerControl(position="topright", collapsed=False).add_to(m)
    return m


def _locate(reference: PreparedLayer | None, target: object) -> LocateControl | None:
    """The locate list of the reference areas, outlining the picked one in ``target``.

    ``target`` is an embedded layer whose rows carry the reference key (else no outline).
    """
    items = locate_items(reference)
    if not items or reference is None:
        return None
    key = reference.layer.primary_key
    spec_fields = (
        [f["name"] for f in target.spec["fields"]] if isinstance(target, VectorLayer) else []
    )
    key_index = spec_fields.index(key) if key in spec_fields else -1
    return LocateControl(items, target if key_index >= 0 else None, key_index)


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
