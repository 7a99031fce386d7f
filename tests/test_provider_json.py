"""onemap's provider writes the GeoJSON PostGIS built without parsing it, as pygeoapi would."""

from __future__ import annotations

import json

from pygeoapi.util import to_json as pygeoapi_to_json

from onemap.serve.extras import _splice_feature_text
from onemap.serve.provider import FeaturesJSON, to_json

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
    from pygeoapi import util
    from pygeoapi.api import itemtypes

    # what the hook replaces comes back after the test: the rest of the session runs on
    # pygeoapi's own functions, as a test that does not install the hook expects
    monkeypatch.setattr(util, "json_serial", util.json_serial)
    monkeypatch.setattr(itemtypes, "to_json", itemtypes.to_json)
    _splice_feature_text()
    assert itemtypes.to_json is to_json
    page = FeaturesJSON(json.dumps(PAGE), 2)
    assert (
        json.loads(pygeoapi_to_json({"features": page}).replace("&lt;", "<").replace("&gt;", ">"))[
            "features"
        ]
        == PAGE
    )
