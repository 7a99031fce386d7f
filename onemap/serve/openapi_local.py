"""The API document made self-contained: no ``$ref`` outside the document.

pygeoapi's generated OpenAPI document refers to OGC schema fragments by URL
(schemas.opengis.net, raw GitHub). On a network without internet (common in city data
centres) validators, code generators and fuzzers cannot resolve them. The components
they name are defined in ``openapi/ogc-components.yaml`` (after the standards, with the
sources noted there); each remote ``$ref`` is rewritten to ``#/components/<kind>/<name>``
and the components are added to the document. A remote ``$ref`` that file does not know
is an error at ``onemap serve`` time, so a pygeoapi upgrade that adds one is noticed.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from onemap.core.errors import UserError
from onemap.core.yamlfile import read_yaml

COMPONENTS = files("onemap.serve") / "openapi" / "ogc-components.yaml"


def local_components() -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """({kind: {name: definition}}, {remote URL: local $ref}) from the shipped file."""
    source = read_yaml(COMPONENTS)
    components: dict[str, dict[str, Any]] = {}
    refs: dict[str, str] = {}
    for kind, entries in source.items():
        for name, entry in entries.items():
            components.setdefault(kind, {})[name] = entry["definition"]
            for url in entry.get("url", []):
                refs[url] = f"#/components/{kind}/{name}"
    return components, refs


def remote_refs(node: Any) -> set[str]:
    """Every ``$ref`` in ``node`` that points outside the document."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and not ref.startswith("#"):
                found.add(ref)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _rewrite(node: Any, refs: dict[str, str]) -> None:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and ref in refs:
                item["$ref"] = refs[ref]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def localise(doc: dict) -> dict:
    """Rewrite the remote ``$ref``s of an API document to local components (in place)."""
    components, refs = local_components()
    unknown = remote_refs(doc) - set(refs)
    if unknown:
        raise UserError(
            "the API document refers to schemas onemap does not ship "
            f"(add them to {COMPONENTS.name}): {', '.join(sorted(unknown))}"
        )
    _rewrite(doc, refs)
    for kind, named in components.items():
        doc.setdefault("components", {}).setdefault(kind, {}).update(named)
    _correct_tiles(doc)
    return doc


def _correct_tiles(doc: dict) -> None:
    """pygeoapi 0.24 declares ``tileMatrixSetLinks`` required in its tiles schema but
    writes the tile sets under ``tilesets`` (OGC 20-057 §7.2): declare what it sends."""
    tiles = doc.get("components", {}).get("schemas", {}).get("tiles")
    if isinstance(tiles, dict) and "tileMatrixSetLinks" in tiles.get("required", []):
        tiles["required"] = [r for r in tiles["required"] if r != "tileMatrixSetLinks"]
        tiles.setdefault("properties", {})["tilesets"] = {"type": "array"}
