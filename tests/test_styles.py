"""Generated styles (QML, SLD) mirror the layer files, are committed, linked and served."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests
from lxml import etree

from onemap.core.layers import load_layers
from onemap.publish.pygeoapi_config import resource
from onemap.publish.styles import render_styles, style_links, write_styles
from onemap.publish.styles.rules import rgba
from onemap.serve.contract import STYLE_TYPES, styles_dir

LAYERS = load_layers()
NS = {"sld": "http://www.opengis.net/sld", "se": "http://www.opengis.net/se"}
OGC = "{http://www.opengis.net/ogc}"


def test_committed_styles_are_up_to_date(tmp_path) -> None:
    fresh = {p.name: p.read_text(encoding="utf-8") for p in write_styles(tmp_path)}
    assert len(fresh) == 2 * len(LAYERS)
    for name, text in fresh.items():
        committed = styles_dir() / name
        assert committed.exists() and committed.read_text(encoding="utf-8") == text, (
            f"styles/{name} is stale: run `onemap publish` (make publish) and commit styles/"
        )


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_sld_has_one_rule_per_value(layer_id) -> None:
    layer = LAYERS[layer_id]
    text = render_styles(layer)[f"{layer_id}.sld"]
    root = etree.fromstring(text.encode())  # lxml: well-formed, namespaces declared
    assert root.tag == f"{{{NS['sld']}}}StyledLayerDescriptor" and root.get("version") == "1.1.0"
    assert root.findtext("sld:NamedLayer/se:Name", namespaces=NS) == layer_id
    rules = root.findall(".//se:FeatureTypeStyle/se:Rule", NS)
    filtered = [r for r in rules if r.find(f"{OGC}Filter") is not None]
    if layer.style_field is None:
        assert not filtered
        return
    assert len(filtered) == len(layer.style_field.values)
    for rule, value in zip(filtered, layer.style_field.values, strict=True):
        eq = rule.find(f"{OGC}Filter/{OGC}PropertyIsEqualTo")
        assert eq.findtext(f"{OGC}PropertyName") == layer.style.field
        assert eq.findtext(f"{OGC}Literal") == value.value
        colours = {p.text for p in rule.iterfind(".//se:SvgParameter", NS)}
        assert value.color in colours
        assert rule.findtext("se:Description/se:Title", namespaces=NS).startswith(value.label)
    ET.fromstring(text)  # the standard library parses it too


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_qml_classifies_by_the_style_field(layer_id) -> None:
    layer = LAYERS[layer_id]
    doc = render_styles(layer)[f"{layer_id}.qml"]
    assert doc.startswith("<!DOCTYPE qgis")
    root = ET.fromstring(doc.split("\n", 1)[1])
    rend = root.find("renderer-v2")
    if layer.style_field is None:
        assert rend.get("type") == "singleSymbol"
        return
    assert rend.get("type") == "categorizedSymbol" and rend.get("attr") == layer.style.field
    cats = rend.findall("categories/category")
    assert [c.get("value") for c in cats] == [v.value for v in layer.style_field.values]
    assert cats[0].get("label").startswith(layer.style_field.values[0].label)
    props = {
        o.get("name"): o.get("value")
        for o in rend.iterfind("symbols/symbol[@name='0']/layer/Option/Option")
    }
    colour = props.get("line_color") or props["color"]  # lines, or fills and markers
    assert colour.rsplit(",", 1)[0] == rgba(layer.style_field.values[0].color).rsplit(",", 1)[0]


def test_collection_config_links_its_styles() -> None:
    layer = LAYERS["road_condition"]
    links = resource(layer, {})["links"]
    assert links == style_links(layer, "${ONEMAP_PUBLIC_URL:-http://127.0.0.1:5000}")
    assert {lk["type"] for lk in links} == set(STYLE_TYPES.values())
    assert all(lk["rel"] == "stylesheet" for lk in links)


@pytest.mark.parametrize("layer_id", list(LAYERS))
def test_server_links_and_serves_the_styles(api, layer_id) -> None:
    body = requests.get(f"{api}/collections/{layer_id}", params={"f": "json"}, timeout=30).json()
    links = [lk for lk in body["links"] if lk["rel"] == "stylesheet"]
    assert {lk["type"] for lk in links} == set(STYLE_TYPES.values())
    for link in links:
        assert link["href"].startswith(f"{api}/styles/")
        r = requests.get(link["href"], timeout=30)
        assert r.status_code == 200, f"{link['href']}: {r.status_code}"
        assert r.headers["Content-Type"].split(";")[0] == link["type"]
        name = link["href"].rsplit("/", 1)[1]
        assert r.text == (styles_dir() / name).read_text(encoding="utf-8")


def test_server_refuses_other_files_under_styles(api) -> None:
    for path in ("/styles/road_condition.yaml", "/styles/..%2Fpygeoapi.yml", "/styles/x.sld"):
        assert requests.get(api + path, timeout=30).status_code == 404, path
