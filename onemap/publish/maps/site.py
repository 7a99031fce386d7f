"""``build_site``: the public web maps (index, one map per layer, the One Map, choropleths)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping
from dataclasses import replace
from pathlib import Path

import geopandas as gpd

from onemap.core.city import get_city
from onemap.core.layers import Layer
from onemap.core.provenance import as_loaded
from onemap.publish.maps.assets import copy_assets
from onemap.publish.maps.choropleth import (
    SiteIndicators,
    choropleth_page,
    district_layer,
    drawable,
    page_name,
)
from onemap.publish.maps.index import IndexCard, index_html
from onemap.publish.maps.mapframe import BASEMAP_OSM, PageOptions, PreparedLayer
from onemap.publish.maps.pages import layer_page, onemap_page, render_page
from onemap.publish.maps.prepare import display_bounds, display_rows, popup_columns, to_script_json
from onemap.publish.maps.previews import write_previews
from onemap.publish.maps.templating import format_when

log = logging.getLogger(__name__)

DEFAULT_REFERENCE = "admin_kecamatan"
MAX_PAGE_BYTES = 5_000_000
# With a tiles_url, a layer whose embedded rows would exceed this is drawn from tiles
# (half the page budget: below it, a static page is lighter than the tiles of its first
# view, which carry every attribute; bench/MAPS.md).
TILE_ABOVE_BYTES = 2_500_000
INDEX_PAGE = "index.html"
ONEMAP_PAGE = "onemap.html"


def _frame_for(layer: Layer, frames: Mapping[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    frame = frames.get(layer.id)
    if frame is None:
        log.warning("no frame for layer %s: its map is drawn empty", layer.id)
        columns = [f.name for f in layer.fields] + ["source"]
        return gpd.GeoDataFrame(columns=columns, geometry=gpd.GeoSeries([]), crs=4326)
    if frame.crs is None:
        raise ValueError(f"frame of layer {layer.id} has no CRS (expected EPSG:4326)")
    missing = [f.name for f in layer.fields if f.name not in frame.columns]
    if missing:
        log.warning("frame of layer %s lacks columns %s: shown as empty", layer.id, missing)
    return frame


def loaded_layers(
    layers: Mapping[str, Layer], frames: Mapping[str, gpd.GeoDataFrame]
) -> dict[str, Layer]:
    """The layers as their frames' ``source`` values show them: synthetic badges follow
    the data drawn (``onemap.core.provenance.as_loaded``)."""
    out = {}
    for lid, layer in layers.items():
        frame = frames.get(lid)
        has = frame is not None and "source" in frame.columns
        out[lid] = as_loaded(layer, frame["source"].dropna().unique() if has else ())
    return out


def _prepare(
    layer: Layer,
    frame: gpd.GeoDataFrame,
    updated: dt.datetime | dt.date | str | None,
    generated: str,
    tolerance_m: Mapping[str, float] | None,
) -> PreparedLayer:
    data = display_rows(
        layer,
        frame,
        columns=popup_columns(layer, frame),
        tolerance_m=dict(tolerance_m) if tolerance_m else None,
    )
    if updated is None:
        return PreparedLayer(layer, frame, data, generated, "Data per / As of")
    return PreparedLayer(layer, frame, data, format_when(updated))


def _choose_tiled(prepared: Mapping[str, PreparedLayer], tile_above: int) -> None:
    """Mark the layers drawn from tiles: each one over ``tile_above`` embedded bytes, then
    the biggest others until the One Map (every layer embedded) fits the page budget."""
    sizes = {lid: len(to_script_json(p.data).encode()) for lid, p in prepared.items()}
    for lid in sorted(sizes, key=sizes.__getitem__, reverse=True):
        embedded = sum(n for other, n in sizes.items() if not prepared[other].tiled)
        if sizes[lid] > tile_above or embedded > MAX_PAGE_BYTES * 0.9:
            prepared[lid].tiled = True
            log.info("layer %s is drawn from vector tiles (%d bytes embedded)", lid, sizes[lid])


def _bounds(
    reference: PreparedLayer | None, prepared: Mapping[str, PreparedLayer]
) -> list[list[float]] | None:
    """The initial extent: the reference layer (the city), else every layer together."""
    if reference is not None and (bounds := display_bounds(reference.frame)):
        return bounds
    boxes = [b for p in prepared.values() if (b := display_bounds(p.frame))]
    if not boxes:
        return None
    return [
        [min(b[0][0] for b in boxes), min(b[0][1] for b in boxes)],
        [max(b[1][0] for b in boxes), max(b[1][1] for b in boxes)],
    ]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    size = path.stat().st_size
    if size > MAX_PAGE_BYTES:
        log.warning(
            "%s is %.1f MB, over the %.0f MB page budget",
            path.name,
            size / 1e6,
            MAX_PAGE_BYTES / 1e6,
        )
    else:
        log.info("wrote %s (%.2f MB)", path.name, size / 1e6)
    return path


def _choropleths(
    indicators: SiteIndicators | None,
    prepared: Mapping[str, PreparedLayer],
    outdir: Path,
    bounds: list[list[float]] | None,
    opts: PageOptions,
) -> tuple[list[Path], SiteIndicators | None]:
    """Write one page per choropleth; on failure, the indicators say why (no pages)."""
    if indicators is None or indicators.error or not indicators.choropleths:
        return [], indicators
    try:
        districts = district_layer(indicators.choropleths, prepared)
    except ValueError as exc:
        log.warning("choropleths not drawn: %s", exc)
        return [], replace(indicators, choropleths=(), error=str(exc))
    if districts.frame.empty:
        reason = (
            f"lapisan {districts.layer.title} kosong, tidak ada peta indikator / "
            f"the layer {districts.layer.title_en} is empty: no indicator maps"
        )
        log.warning("choropleths not drawn: %s", reason)
        return [], replace(indicators, choropleths=(), error=reason)
    keep, skipped = drawable(indicators.choropleths, districts)
    for reason in skipped:
        log.warning("choropleth not drawn: %s", reason)
    indicators = replace(indicators, choropleths=tuple(keep), skipped=tuple(skipped))
    if not keep:
        return [], replace(indicators, error="; ".join(skipped))
    pages = []
    for ch in indicators.choropleths:
        m = choropleth_page(
            ch, districts=districts, indicators=indicators, bounds=bounds, opts=opts
        )
        title = f"{ch.label} / {ch.label_en}"
        pages.append(_write(outdir / page_name(ch), render_page(m, title, opts)))
    return pages, indicators


def build_site(
    layers: Mapping[str, Layer],
    frames: Mapping[str, gpd.GeoDataFrame],
    outdir: Path | str,
    *,
    generated_at: dt.datetime | None = None,
    basemap: str = BASEMAP_OSM,
    basemap_attribution: str | None = None,
    reference: str | None = DEFAULT_REFERENCE,
    updated_at: Mapping[str, dt.datetime | dt.date | str] | None = None,
    tolerance_m: Mapping[str, float] | None = None,
    onemap_visible: Collection[str] | None = None,
    indicators: SiteIndicators | None = None,
    tiles_url: str | None = None,
    tile_above_bytes: int = TILE_ABOVE_BYTES,
    site_title: str | None = None,
    site_title_en: str | None = None,
) -> list[Path]:
    """Write the public web maps into ``outdir`` and return the pages written.

    ``layers`` are the layer models in ``layers/index.yaml`` order; ``frames`` one
    GeoDataFrame per layer id in EPSG:4326 with the layer's field columns, ``source`` and
    ``geometry`` (a missing frame gives an empty map). Writes ``index.html`` (a card with
    an SVG preview per map, under ``previews/``), one ``<layer_id>.html`` per layer,
    ``onemap.html``, one ``indikator-<name>.html`` per choropleth of ``indicators``, and
    the ``assets/`` folder the pages load their scripts and styles from (offline).

    ``generated_at`` (timezone-aware, default now) is shown as the data date;
    ``updated_at`` may give a layer's own last update instead. ``basemap`` is ``"osm"``
    (OpenStreetMap tiles), ``"none"`` (plain background) or an XYZ URL template, which
    then needs ``basemap_attribution``. ``reference`` is the layer drawn as boundaries on
    every map and listed by the locate control (``None`` for none); ``tolerance_m``
    overrides the display simplification per geometry family (``prepare.TOLERANCE_M``).
    ``onemap_visible`` names the layers switched on when the One Map opens (default: the
    layer files' ``map.visible``). With ``tiles_url`` (an OGC API root, e.g.
    ``http://127.0.0.1:5000``), layers whose embedded rows would exceed
    ``tile_above_bytes`` are drawn from its vector tiles instead, and the biggest others
    too while the One Map would exceed ``MAX_PAGE_BYTES``.
    """
    outdir = Path(outdir)
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    generated = format_when(generated_at)
    opts = PageOptions(
        basemap=basemap,
        basemap_attribution=basemap_attribution,
        site_title=site_title or get_city().site_title,
        site_title_en=site_title_en or get_city().site_title_en,
        generated=generated,
        tiles_url=tiles_url.rstrip("/") if tiles_url else None,
    )
    updated_at = updated_at or {}
    layers = loaded_layers(layers, frames)
    prepared = {
        lid: _prepare(layer, _frame_for(layer, frames), updated_at.get(lid), generated, tolerance_m)
        for lid, layer in layers.items()
    }
    if tiles_url:
        _choose_tiled(prepared, tile_above_bytes)
    ref = prepared.get(reference) if reference else None
    if reference and ref is None:
        log.warning("reference layer %s is not among the layers: no reference overlay", reference)
    bounds = _bounds(ref, prepared)

    outdir.mkdir(parents=True, exist_ok=True)
    copy_assets(outdir)
    pages = []
    for lid, p in prepared.items():
        m = layer_page(p, reference=ref, bounds=bounds, opts=opts)
        title = f"{p.layer.title} / {p.layer.title_en}"
        pages.append(_write(outdir / f"{lid}.html", render_page(m, title, opts)))
    m = onemap_page(prepared, reference=ref, bounds=bounds, opts=opts, visible=onemap_visible)
    pages.append(
        _write(outdir / ONEMAP_PAGE, render_page(m, f"{site_title} / {site_title_en}", opts))
    )
    choropleth_pages, indicators = _choropleths(indicators, prepared, outdir, bounds, opts)
    pages += choropleth_pages
    previews = write_previews(
        outdir, prepared, ref, indicators if choropleth_pages else None, onemap_visible
    )
    cards = [
        IndexCard.for_layer(p, href=f"{lid}.html", preview=previews.get(lid))
        for lid, p in prepared.items()
    ]
    index = index_html(
        cards,
        opts,
        onemap_href=ONEMAP_PAGE,
        onemap_preview=previews.get("onemap"),
        basemap_osm=basemap == BASEMAP_OSM,
        onemap_opens_with=[
            p.layer.title
            for lid, p in prepared.items()
            if (p.layer.map.visible if onemap_visible is None else lid in onemap_visible)
        ],
        indicators=indicators,
        indicator_cards=[
            IndexCard.for_choropleth(
                ch, href=page_name(ch), preview=previews.get(f"indikator-{ch.name}")
            )
            for ch in (indicators.choropleths if choropleth_pages and indicators else ())
        ],
    )
    pages.insert(0, _write(outdir / INDEX_PAGE, index))
    return pages
