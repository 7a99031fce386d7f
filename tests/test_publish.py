"""pygeoapi.yml is generated: the committed file equals a fresh generation."""

from __future__ import annotations

from onemap.core.layers import load_layers
from onemap.publish.pygeoapi_config import build_config, render
from onemap.serve.contract import config_path


def test_committed_pygeoapi_yml_is_up_to_date(loaded, db_settings) -> None:
    fresh = render(build_config(db_settings))
    committed = config_path().read_text(encoding="utf-8")
    assert committed == fresh, (
        "pygeoapi.yml is stale: run `onemap publish` (make publish) and commit it"
    )


def test_config_has_no_secret_and_uses_the_reader(loaded, db_settings) -> None:
    cfg = build_config(db_settings)
    text = render(cfg)
    assert "${ONEMAP_READER_PASSWORD}" in text
    from onemap.db.connect import read_secrets

    for secret in read_secrets(db_settings).values():
        assert secret not in text
    database_providers = {
        rid: [p for p in res.get("providers", []) if isinstance(p.get("data"), dict)]
        for rid, res in cfg["resources"].items()
        if res.get("visibility") != "hidden"
    }
    database_providers = {rid: ps for rid, ps in database_providers.items() if ps}
    # features and tiles of every layer, and nothing else, read the database
    assert {rid: [p["type"] for p in ps] for rid, ps in database_providers.items()} == {
        lid: ["feature", "tile"] for lid in load_layers()
    }
    for providers in database_providers.values():
        for provider in providers:
            assert provider["data"]["user"] == "${ONEMAP_DB_READER:-onemap_reader}"
    # Hidden staff collections (personal data, onemap/reports) read as the staff role only.
    staff = [r for r in cfg["resources"].values() if r.get("visibility") == "hidden"]
    assert staff and all(
        r["providers"][0]["data"]["user"] == "${ONEMAP_DB_STAFF:-onemap_staff}" for r in staff
    )
