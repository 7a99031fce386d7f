"""QGIS projects (``.qgs``) with every layer, styled from the layer files, written as XML.

Two variants: ``onemap.qgs`` reads the layers from the OGC API (OAPIF provider), for
planners; ``onemap-postgis.qgs`` reads the PostGIS tables directly as the read-only role,
for analysts and editors on the office network. Neither holds a password: libpq (inside
QGIS) takes it from ``PGPASSWORD``, ``~/.pgpass`` or a service file, or QGIS asks.

Layers are grouped "Batas administrasi" (on top, kecamatan first, drawn above everything
as outlines) and "Tematik" (points over lines over polygons). The project CRS is the city's
metric CRS (config/city.yaml) and the initial view is the city's extent. Written with
ElementTree so ``onemap`` does not need QGIS installed; tests open the files with PyQGIS.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path

from pyproj import CRS, Transformer

from onemap.core.city import get_city
from onemap.core.layers import Layer, load_layers
from onemap.db.models import DATA_SCHEMA
from onemap.publish.styles.qml import DOCTYPE, QGIS_VERSION, labels_enabled, style_elements

ADMIN_GROUP = "Batas administrasi"
THEMATIC_GROUP = "Tematik"
ADMIN_KEYWORD = "batas administrasi"  # layers whose keywords say so go in the admin group
FAMILY_ORDER = {"point": 0, "line": 1, "polygon": 2}  # top to bottom within a group
QGIS_GEOMETRY = {"point": "Point", "line": "Line", "polygon": "Polygon"}
SYNTHETIC_SUFFIX = " (data sintetis)"
ELLIPSOID = "EPSG:7030"  # WGS 84: QGIS measures lengths and areas on it
# A layer's provider key and data source string, e.g. ("OAPIF", "url='…' typename='roads'").
Source = Callable[[Layer], tuple[str, str]]


def _quote(value: str) -> str:
    """A value in QgsDataSourceUri's single-quoted syntax."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def oapif_source(url: str) -> Source:
    """Layers read from the OGC API Features server at ``url``."""
    return lambda layer: ("OAPIF", f"url={_quote(url.rstrip('/'))} typename={_quote(layer.id)}")


def postgis_source(host: str, port: int, dbname: str, user: str, schema: str) -> Source:
    """Layers read from PostGIS as ``user``; no password (libpq or QGIS supplies it)."""

    def source(layer: Layer) -> tuple[str, str]:
        return "postgres", (
            f"dbname={_quote(dbname)} host={host} port={port} user={_quote(user)} "
            f"key={_quote(layer.primary_key)} srid={layer.geometry.srid} "
            f"type={layer.geometry.type} checkPrimaryKeyUnicity='0' "
            f'table="{schema}"."{layer.id}" (geom)'
        )

    return source


def is_admin(layer: Layer) -> bool:
    """Whether the layer is an administrative boundary (its keywords say so)."""
    return ADMIN_KEYWORD in (k.lower() for k in layer.keywords)


def grouped(layers: Iterable[Layer]) -> list[tuple[str, list[Layer]]]:
    """Groups top to bottom; admin layers in index order, thematic ones by geometry."""
    layers = list(layers)
    admin = [lyr for lyr in layers if is_admin(lyr)]
    thematic = sorted(
        (lyr for lyr in layers if not is_admin(lyr)),
        key=lambda lyr: FAMILY_ORDER[lyr.geometry_family],
    )
    groups = ((ADMIN_GROUP, admin), (THEMATIC_GROUP, thematic))
    return [(name, members) for name, members in groups if members]


def layer_name(layer: Layer) -> str:
    """The name shown in the layers panel (Indonesian title; synthetic data says so)."""
    return layer.title + (SYNTHETIC_SUFFIX if layer.synthetic else "")


def layer_key(layer: Layer) -> str:
    """The project's id for a layer (QGIS replaces ids of 10 characters or fewer)."""
    return f"onemap_{layer.id}"


def _srs(parent: ET.Element, epsg: int) -> None:
    crs = CRS.from_epsg(epsg)
    srs = ET.SubElement(parent, "spatialrefsys")
    for tag, text in (
        ("wkt", crs.to_wkt()),
        ("srid", str(epsg)),
        ("authid", f"EPSG:{epsg}"),
        ("description", crs.name),
        ("geographicflag", "true" if crs.is_geographic else "false"),
    ):
        ET.SubElement(srs, tag).text = text


def _text(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    elem = ET.SubElement(parent, tag, attrs)
    elem.text = text
    return elem


def maplayer(layer: Layer, source: Source) -> ET.Element:
    """A ``<maplayer>`` with its data source, metadata and the layer's QGIS style."""
    provider, datasource = source(layer)
    elem = ET.Element(
        "maplayer",
        type="vector",
        geometry=QGIS_GEOMETRY[layer.geometry_family],
        wkbType=layer.geometry.type,
        labelsEnabled=labels_enabled(layer),
    )
    _text(elem, "id", layer_key(layer))
    _text(elem, "datasource", datasource)
    _text(elem, "layername", layer_name(layer))
    _text(elem, "title", f"{layer.title} / {layer.title_en}")
    abstract = layer.description
    if layer.synthetic and layer.synthetic_note:
        abstract += f" SYNTHETIC DATA: {layer.synthetic_note}"
    _text(elem, "abstract", f"{abstract}\n\nLicence: {layer.license}. {layer.attribution}")
    _srs(ET.SubElement(elem, "srs"), layer.geometry.srid)
    _text(elem, "provider", provider, encoding="UTF-8")
    elem.extend(style_elements(layer))
    return elem


def _tree(parent: ET.Element, groups: list[tuple[str, list[Layer]]], source: Source) -> None:
    root = ET.SubElement(parent, "layer-tree-group")
    for name, layers in groups:
        group = ET.SubElement(
            root, "layer-tree-group", name=name, checked="Qt::Checked", expanded="1"
        )
        for layer in layers:
            provider, datasource = source(layer)
            ET.SubElement(
                group,
                "layer-tree-layer",
                id=layer_key(layer),
                name=layer_name(layer),
                source=datasource,
                providerKey=provider,
                checked="Qt::Checked",
                expanded="1" if layer.style_field else "0",
            )


def city_extent(epsg: int) -> tuple[float, float, float, float]:
    """The city's bounding box (with a small margin) in ``epsg``, rounded to metres."""
    x0, y0, x1, y1 = get_city().bbox
    to = Transformer.from_crs(4326, epsg, always_xy=True)
    xmin, ymin, xmax, ymax = to.transform_bounds(x0, y0, x1, y1)
    pad = 0.03 * max(xmax - xmin, ymax - ymin)
    return tuple(round(v) for v in (xmin - pad, ymin - pad, xmax + pad, ymax + pad))


def _view(parent: ET.Element, epsg: int) -> None:
    xmin, ymin, xmax, ymax = (str(v) for v in city_extent(epsg))
    canvas = ET.SubElement(parent, "mapcanvas", name="theMapCanvas", annotationsVisible="1")
    _text(canvas, "units", "meters" if not CRS.from_epsg(epsg).is_geographic else "degrees")
    extent = ET.SubElement(canvas, "extent")
    for tag, value in (("xmin", xmin), ("ymin", ymin), ("xmax", xmax), ("ymax", ymax)):
        _text(extent, tag, value)
    _text(canvas, "rotation", "0")
    _srs(ET.SubElement(canvas, "destinationsrs"), epsg)
    settings = ET.SubElement(parent, "ProjectViewSettings", UseProjectScales="0", rotation="0")
    view = ET.SubElement(settings, "DefaultViewExtent", xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax)
    _srs(view, epsg)


def _properties(parent: ET.Element) -> None:
    """Project properties: on-the-fly reprojection on, measurements on the WGS 84 ellipsoid.

    Without ``ProjectionsEnabled`` QGIS 3.22 ignores ``<projectCrs>``.
    """
    props = ET.SubElement(parent, "properties")
    _text(ET.SubElement(props, "SpatialRefSys"), "ProjectionsEnabled", "1", type="int")
    _text(ET.SubElement(props, "Measure"), "Ellipsoid", ELLIPSOID, type="QString")


def project_document(source: Source, title: str, epsg: int | None = None) -> str:
    """The whole ``.qgs`` file: every enabled layer from ``source``, grouped and styled."""
    epsg = epsg or get_city().metric_crs
    layers = list(load_layers().values())
    root = ET.Element("qgis", projectname=title, version=QGIS_VERSION)
    root.append(ET.Comment(" GENERATED by `onemap qgis-project` from layers/; do not edit "))
    _text(root, "title", title)
    _srs(ET.SubElement(root, "projectCrs"), epsg)
    _tree(root, grouped(layers), source)
    _view(root, epsg)
    ET.SubElement(root, "projectlayers").extend(maplayer(lyr, source) for lyr in layers)
    _properties(root)
    ET.indent(root)
    return DOCTYPE + "\n" + ET.tostring(root, encoding="unicode") + "\n"


def write_projects(
    outdir: Path, url: str, db: dict[str, str | int], schema: str = DATA_SCHEMA
) -> list[Path]:
    """Write ``onemap.qgs`` (OGC API at ``url``) and ``onemap-postgis.qgs`` into ``outdir``.

    ``db`` holds ``host``, ``port``, ``dbname`` and ``user`` (a password is ignored).
    """
    city = get_city().name
    outdir.mkdir(parents=True, exist_ok=True)
    variants = {
        "onemap.qgs": (oapif_source(url), f"onemap — Satu Peta {city} (OGC API)"),
        "onemap-postgis.qgs": (
            postgis_source(
                str(db["host"]), int(db["port"]), str(db["dbname"]), str(db["user"]), schema
            ),
            f"onemap — Satu Peta {city} (PostGIS)",
        ),
    }
    paths = []
    for name, (source, title) in variants.items():
        path = outdir / name
        path.write_text(project_document(source, title), encoding="utf-8")
        paths.append(path)
    return paths
