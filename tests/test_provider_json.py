"""onemap's provider writes the GeoJSON PostGIS built without parsing it, as pygeoapi would."""

from __future__ import annotations

import json

from pygeoapi.util import to_json as pygeoapi_to_json

from onemap.serve.provider import FeaturesJSON, to_json
from onemap.serve.pygeoapi_patches import patched

PAGE = [
    {"type": "Feature", "id": "a<1>", "geometry": None, "properties": {"name": "Jalan <b>"}},
    {"type": "Feature", "id": "b", "geometry": None, "properties": {"name": "Gang & Co"}},
]


def _doc(features) -> dict:
    return {"type": "FeatureCollection", "features": features, "numberReturned": 2, "links": []}


def test_spliced_text_equals_pygeoapis_output() -> None:
    text = json.dumps(PAGE, separators=(",", ":"))
    spliced = to_json(_doc(FeaturesJSON(text, 2)))
    assert spliced == pygeoapi_to_json(_doc(PAGE))  # same bytes, < and > escaped alike
    assert "&lt;b&gt;" in spliced and "<" not in spliced


def test_a_page_read_by_a_hook_is_written_as_read() -> None:
    page = FeaturesJSON(json.dumps(PAGE), 2)
    assert len(page) == 2 and page.untouched
    page[1] = {**page[1], "properties": {"name": "changed"}}  # as pygeoapi's JSON-LD does
    assert not page.untouched
    assert json.loads(to_json(_doc(page)))["features"][1]["properties"] == {"name": "changed"}


def test_other_serialisers_get_the_parsed_features(monkeypatch) -> None:
    """pygeoapi's HTML template runs its own to_json over the features alone."""
    page = FeaturesJSON(json.dumps(PAGE), 2)
    with patched():  # pygeoapi_to_json looks json_serial up when it runs
        written = pygeoapi_to_json({"features": page})
    assert json.loads(written.replace("&lt;", "<").replace("&gt;", ">"))["features"] == PAGE
