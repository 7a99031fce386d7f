"""QGIS layer styles (QML) from a layer file, written with ElementTree.

A QML file is a ``<qgis>`` element holding the same style elements a project's
``<maplayer>`` holds (renderer, labeling, field aliases), so ``style_elements`` serves both
the ``.qml`` files and the generated QGIS projects. The XML follows what QGIS 3.22 writes
(``renderer-v2`` with ``<Option type="Map">`` symbol-layer properties), reduced to the
properties that differ from QGIS's defaults; newer QGIS versions read it too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from onemap.core.layers import Layer
from onemap.publish.styles.rules import (
    POINT_RADIUS_PX,
    StyleClass,
    label_field,
    label_min_scale,
    mm,
    rgba,
    style_classes,
)

QGIS_VERSION = "3.22.0"
DOCTYPE = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
# QgsWkbTypes::GeometryType and the symbol type QGIS draws each family with.
GEOMETRY_TYPE = {"point": 0, "line": 1, "polygon": 2}
SYMBOL_TYPE = {"point": "marker", "line": "line", "polygon": "fill"}
# QgsPalLayerSettings::Placement: OverPoint (polygon centroid), Curved (along lines),
# OrderedPositionsAroundPoint (cartographic, points); line flags OnLine | MapOrientation.
LABEL_PLACEMENT = {"point": "6", "line": "3", "polygon": "1"}
LINE_PLACEMENT_FLAGS = "9"
LABEL_LAYER_TYPE = {"point": "PointGeometry", "line": "LineGeometry", "polygon": "PolygonGeometry"}
LABEL_FONT_SIZE = "8"
LABEL_COLOR = "40,40,40,255"


def _options(parent: ET.Element, props: dict[str, str]) -> None:
    opt = ET.SubElement(parent, "Option", type="Map")
    for key, value in props.items():
        ET.SubElement(opt, "Option", type="QString", name=key, value=value)


def _symbol_layer_props(layer: Layer, color: str) -> tuple[str, dict[str, str]]:
    """QGIS symbol-layer class and properties for one colour of ``layer``."""
    st, family = layer.style, layer.geometry_family
    if family == "line":
        return "SimpleLine", {
            "line_color": rgba(color),
            "line_width": mm(st.weight),
            "line_width_unit": "MM",
            "line_style": "solid",
            "capstyle": "round",
            "joinstyle": "round",
        }
    outline = {
        "outline_color": rgba(color, st.opacity),
        "outline_style": "solid",
        "outline_width": mm(st.weight),
        "outline_width_unit": "MM",
    }
    if family == "polygon":
        return "SimpleFill", {
            "color": rgba(color, st.fill_opacity),
            "style": "solid" if st.fill_opacity > 0 else "no",
            "joinstyle": "round",
            **outline,
        }
    return "SimpleMarker", {
        "name": "circle",
        "color": rgba(color, st.fill_opacity),
        "size": mm(2 * POINT_RADIUS_PX),
        "size_unit": "MM",
        **outline,
    }


def symbol(layer: Layer, color: str, name: str) -> ET.Element:
    """One ``<symbol>`` drawing ``layer``'s geometry in ``color``."""
    family = layer.geometry_family
    # Line opacity is the symbol's; fills and markers carry it in their colours.
    alpha = layer.style.opacity if family == "line" else 1.0
    sym = ET.Element(
        "symbol",
        type=SYMBOL_TYPE[family],
        name=name,
        alpha=f"{alpha:g}",
        clip_to_extent="1",
        force_rhr="0",
    )
    cls, props = _symbol_layer_props(layer, color)
    _options(ET.SubElement(sym, "layer", {"class": cls, "pass": "0", "enabled": "1"}), props)
    return sym


def renderer(layer: Layer) -> ET.Element:
    """Categorized renderer on ``style.field``, or a single-symbol renderer."""
    classes = style_classes(layer)
    common = {"symbollevels": "0", "enableorderby": "0", "forceraster": "0"}
    if layer.style_field is None:
        rend = ET.Element("renderer-v2", type="singleSymbol", **common)
        ET.SubElement(rend, "symbols").append(symbol(layer, classes[0].color, "0"))
        return rend
    rend = ET.Element("renderer-v2", type="categorizedSymbol", attr=layer.style.field, **common)
    cats, syms = ET.SubElement(rend, "categories"), ET.SubElement(rend, "symbols")
    for i, cls in enumerate(classes):
        _category(cats, cls, str(i))
        syms.append(symbol(layer, cls.color, str(i)))
    ET.SubElement(rend, "source-symbol").append(symbol(layer, layer.style.color, "0"))
    return rend


def _category(parent: ET.Element, cls: StyleClass, sym: str) -> None:
    ET.SubElement(
        parent, "category", render="true", symbol=sym, value=cls.value or "", label=cls.label
    )


def labeling(layer: Layer) -> ET.Element | None:
    """Simple labels on the layer's label field (None when the layer gets none)."""
    fname = label_field(layer)
    if fname is None:
        return None
    family = layer.geometry_family
    lab = ET.Element("labeling", type="simple")
    settings = ET.SubElement(lab, "settings", calloutType="simple")
    text = ET.SubElement(
        settings,
        "text-style",
        fieldName=fname,
        isExpression="0",
        fontSize=LABEL_FONT_SIZE,
        fontSizeUnit="Point",
        textColor=LABEL_COLOR,
        textOpacity="1",
    )
    ET.SubElement(
        text,
        "text-buffer",
        bufferDraw="1",
        bufferSize="0.8",
        bufferSizeUnits="MM",
        bufferColor="255,255,255,255",
        bufferOpacity="0.8",
    )
    placement = {"placement": LABEL_PLACEMENT[family], "layerType": LABEL_LAYER_TYPE[family]}
    if family == "line":
        placement["placementFlags"] = LINE_PLACEMENT_FLAGS
    if family == "polygon":
        placement["centroidInside"] = "1"
    ET.SubElement(settings, "placement", placement)
    scale = label_min_scale(layer)
    ET.SubElement(
        settings,
        "rendering",
        drawLabels="1",
        obstacle="1",
        mergeLines="1" if family == "line" else "0",
        scaleVisibility="0" if scale is None else "1",
        # QGIS 3.22 writes the minimum (outermost) scale as scaleMax.
        scaleMax=str(scale or 0),
        scaleMin="0",
    )
    return lab


def aliases(layer: Layer) -> ET.Element:
    """Field aliases: the Indonesian field labels (with units) in attribute tables and forms."""
    elem = ET.Element("aliases")
    for i, f in enumerate(layer.fields):
        ET.SubElement(elem, "alias", field=f.name, index=str(i), name=f.display("id"))
    return elem


def style_elements(layer: Layer) -> list[ET.Element]:
    """The style children of a ``<qgis>`` (QML) or ``<maplayer>`` (project) element."""
    elems = [renderer(layer)]
    lab = labeling(layer)
    if lab is not None:
        elems.append(lab)
    elems.append(aliases(layer))
    return elems


def labels_enabled(layer: Layer) -> str:
    """The ``labelsEnabled`` attribute QGIS reads from the QML root or ``<maplayer>``."""
    return "1" if label_field(layer) else "0"


def qml_document(layer: Layer) -> str:
    """The whole ``.qml`` file for ``layer``."""
    root = ET.Element(
        "qgis",
        version=QGIS_VERSION,
        styleCategories="Symbology|Labeling|Fields",
        labelsEnabled=labels_enabled(layer),
    )
    root.append(ET.Comment(f" GENERATED by `onemap publish` from layers/{layer.id}; do not edit "))
    root.extend(style_elements(layer))
    ET.SubElement(root, "layerGeometryType").text = str(GEOMETRY_TYPE[layer.geometry_family])
    ET.indent(root)
    return DOCTYPE + "\n" + ET.tostring(root, encoding="unicode") + "\n"
