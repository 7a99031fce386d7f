"""The extension point: a feature's layer-file block is validated by the feature's model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from onemap.core import extensions
from onemap.core.layers import Layer, layers_dir
from onemap.core.yamlfile import read_yaml
from onemap.reports.private import Private, private_of


def _reports(**changes) -> dict:
    data = read_yaml(layers_dir() / "reports" / "reports.yaml")
    return {**data, **changes}


def test_the_reports_block_is_the_reports_model() -> None:
    layer = Layer.model_validate(_reports())
    private = private_of(layer)
    assert isinstance(private, Private)
    assert private.staff_collection == "reports_staff"
    assert layer.changes_between_loads  # the block says rows arrive through an intake
    without = Layer.model_validate({k: v for k, v in _reports().items() if k != "private"})
    assert private_of(without) is None and not without.changes_between_loads


def test_a_bad_block_is_reported_at_its_path_in_the_file() -> None:
    private = {**_reports()["private"], "staff_collection": "Not An Identifier", "extra": 1}
    with pytest.raises(ValidationError) as exc:
        Layer.model_validate(_reports(private=private))
    locs = {e["loc"] for e in exc.value.errors()}
    assert locs == {("private", "staff_collection"), ("private", "extra")}


def test_the_block_is_checked_against_the_layer() -> None:
    private = {**_reports()["private"], "scope_field": "reporter_name"}  # private, not public
    with pytest.raises(ValidationError, match="scope_field 'reporter_name' is not a declared"):
        Layer.model_validate(_reports(private=private))


def test_a_key_no_feature_owns_is_refused(monkeypatch) -> None:
    monkeypatch.setattr("onemap.core.layers.layer_blocks", dict)  # reports not enabled
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Layer.model_validate(_reports())


def test_every_enabled_feature_loads_and_claims_distinct_keys() -> None:
    names = [f.name for f in extensions.features()]
    assert len(names) == len(extensions.FEATURES) == len(set(names))
    assert set(extensions.layer_blocks()) == {"private"}
    assert {r.secret for r in extensions.roles()} == {
        "ONEMAP_INTAKE_PASSWORD",
        "ONEMAP_STAFF_PASSWORD",
    }
