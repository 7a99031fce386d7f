"""Headless QGIS as a client of the live server: run under Debian's /usr/bin/python3.

Not a test module: ``tests/test_qgis.py`` runs it in a subprocess (QGIS's Python bindings
live in the system Python, not the venv) with ``QT_QPA_PLATFORM=offscreen`` and a scratch
HOME, passing a JSON request file as the only argument. It reports what QGIS saw as one
JSON document on stdout and asserts nothing itself; the test compares the report with
PostGIS and with the server's access log.

Request keys: ``api`` (server URL), ``collections`` ({id: {pk, qml, sld}}), ``bbox``
({collection, rect}), ``subsets`` ([{collection, expression}]), ``projects`` ([paths]).
"""

from __future__ import annotations

import json
import sys

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsFeatureRequest,
    QgsLayerTreeGroup,
    QgsLayerTreeLayer,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)


def oapif(api: str, collection: str, restrict_to_bbox: bool = False) -> QgsVectorLayer:
    """A fresh OAPIF layer (its own feature cache) for one collection.

    With ``restrict_to_bbox`` QGIS sends a request's filter rectangle to the server as
    ``bbox=`` instead of downloading the whole collection and filtering it itself.
    """
    uri = f"url='{api}' typename='{collection}'"
    if restrict_to_bbox:
        uri += " restrictToRequestBBOX='1'"
    return QgsVectorLayer(uri, collection, "OAPIF")


def ids(layer: QgsVectorLayer, pk: str, request: QgsFeatureRequest | None = None) -> list:
    """The primary-key values of the features QGIS returns for ``request``."""
    request = request or QgsFeatureRequest()
    return [f[pk] for f in layer.getFeatures(request)]


def renderer_report(layer: QgsVectorLayer) -> dict:
    """Renderer type, classified field, categories and labels of a styled layer."""
    rend = layer.renderer()
    out: dict = {"renderer": rend.type() if rend else None}
    if rend and rend.type() == "categorizedSymbol":
        cats = rend.categories()  # keep the list alive while reading its symbols
        out["attr"] = rend.classAttribute()
        out["categories"] = [
            [c.value(), c.label(), c.symbol().color().name(), c.symbol().color().alphaF()]
            for c in cats
        ]
    elif rend and rend.type() == "singleSymbol":
        out["color"] = rend.symbol().color().name()
    elif rend and rend.type() == "RuleRenderer":
        out["rules"] = len(rend.rootRule().children())
    labeling = layer.labeling()
    settings = labeling.settings() if labeling else None
    out["labels"] = {
        "enabled": layer.labelsEnabled(),
        "field": settings.fieldName if settings else None,
        "min_scale": settings.minimumScale if settings and settings.scaleVisibility else None,
    }
    return out


def collection_report(api: str, cid: str, spec: dict) -> dict:
    """Open one collection, read every feature, apply its QML, then its SLD."""
    layer = oapif(api, cid)
    out: dict = {"valid": layer.isValid()}
    if not layer.isValid():
        return out
    out["feature_count"] = layer.featureCount()
    out["ids"] = ids(layer, spec["pk"])
    message, ok = layer.loadNamedStyle(spec["qml"])
    out["qml"] = {"ok": ok, "message": message, **renderer_report(layer)}
    styled = oapif(api, cid)
    message, ok = styled.loadSldStyle(spec["sld"])
    out["sld"] = {"ok": ok, "message": message, **renderer_report(styled)}
    return out


def bbox_report(api: str, spec: dict, pk: str) -> dict:
    """Features QGIS returns for a rectangle: by bounding box, and exactly intersecting."""
    layer = oapif(api, spec["collection"], restrict_to_bbox=True)
    rect = QgsRectangle(*spec["rect"])
    exact = QgsFeatureRequest().setFilterRect(rect).setFlags(QgsFeatureRequest.ExactIntersect)
    return {
        "valid": layer.isValid(),
        "bbox_ids": ids(layer, pk, QgsFeatureRequest().setFilterRect(rect)),
        "exact_ids": ids(layer, pk, exact),
    }


def subset_report(api: str, spec: dict, pk: str) -> dict:
    """Features QGIS returns once a subset string (provider filter) is set."""
    layer = oapif(api, spec["collection"])
    ok = layer.isValid() and layer.setSubsetString(spec["expression"])
    return {**spec, "ok": ok, "ids": ids(layer, pk) if ok else []}


def tree_groups(root: QgsLayerTreeGroup) -> list:
    """``[[group name, [layer ids top to bottom]], …]`` of a project's layer tree."""
    groups = []
    for node in root.children():
        if isinstance(node, QgsLayerTreeGroup):
            members = [c.layerId() for c in node.children() if isinstance(c, QgsLayerTreeLayer)]
            groups.append([node.name(), members])
    return groups


def project_report(path: str) -> dict:
    """Read a .qgs and describe its CRS, view, groups and every layer."""
    project = QgsProject.instance()
    project.clear()
    out: dict = {"read": project.read(path)}
    view = project.viewSettings().defaultViewExtent()
    out["crs"] = project.crs().authid()
    out["title"] = project.title()
    out["view_crs"] = view.crs().authid()
    out["view_extent"] = [view.xMinimum(), view.yMinimum(), view.xMaximum(), view.yMaximum()]
    out["groups"] = tree_groups(project.layerTreeRoot())
    out["layers"] = {
        lid: {
            "name": layer.name(),
            "valid": layer.isValid(),
            "provider": layer.providerType(),
            "crs": layer.crs().authid(),
            "feature_count": layer.featureCount() if layer.isValid() else None,
            **renderer_report(layer),
        }
        for lid, layer in project.mapLayers().items()
    }
    project.clear()
    return out


def run(request: dict) -> dict:
    """Every check the request asks for."""
    api = request["api"]
    cols = request.get("collections", {})
    report: dict = {"qgis_version": Qgis.version(), "qgis_version_int": Qgis.versionInt()}
    report["collections"] = {cid: collection_report(api, cid, s) for cid, s in cols.items()}
    if "bbox" in request:
        pk = cols[request["bbox"]["collection"]]["pk"]
        report["bbox"] = bbox_report(api, request["bbox"], pk)
    report["subsets"] = [
        subset_report(api, s, cols[s["collection"]]["pk"]) for s in request.get("subsets", [])
    ]
    report["projects"] = {p: project_report(p) for p in request.get("projects", [])}
    return report


def main() -> None:
    """Start QGIS without a GUI, run the request, print the report."""
    with open(sys.argv[1], encoding="utf-8") as fh:
        request = json.load(fh)
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], False)
    app.initQgis()
    report = run(request)
    sys.stdout.write(json.dumps(report, default=str) + "\n")
    sys.stdout.flush()
    app.exitQgis()


if __name__ == "__main__":
    main()
