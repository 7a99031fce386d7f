"""The layer files: valid, consistent, and the tables built from them enforce them."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from onemap.core.layers import Layer, layers_dir, load_layers, read_layer
from onemap.core.settings import project_root
from onemap.core.yamlfile import read_yaml
from onemap.db.connect import owner_conninfo

LAYERS = load_layers()


def test_index_lists_each_layer_folder_once() -> None:
    """layers/index.yaml: one line per enabled layer, each with its folder and file."""
    root = layers_dir()
    listed = read_yaml(root / "index.yaml")["layers"]
    assert listed and len(listed) == len(set(listed)), "a layer listed twice"
    folders = sorted(p.name for p in root.iterdir() if (p / f"{p.name}.yaml").is_file())
    assert sorted(listed) == folders, "a layer folder not in the index: enable or remove it"


@pytest.mark.parametrize("layer", LAYERS.values(), ids=list(LAYERS))
def test_layer_declares_what_everything_downstream_needs(layer: Layer) -> None:
    assert layer.title and layer.title_en and layer.description and layer.keywords
    assert layer.license and layer.attribution and layer.office
    assert layer.pk.required or layer.primary_key == layer.pk.name
    if layer.style_field:
        assert all(v.color for v in layer.style_field.values), "every styled value needs a colour"
    if layer.synthetic:
        assert "synthetic" in layer.description.lower() or "SYNTHETIC" in layer.description


def test_road_condition_classes_follow_bina_marga() -> None:
    cond = LAYERS["road_condition"].field("condition")
    assert cond.allowed == ("baik", "sedang", "rusak_ringan", "rusak_berat")
    lookup = cond.lookup()
    assert lookup["rusak berat"] == lookup["rb"] == "rusak_berat"


def test_bad_layer_file_names_file_and_problem(tmp_path) -> None:
    text = (project_root() / "layers/zoning/zoning.yaml").read_text()
    bad = tmp_path / "zoning.yaml"
    bad.write_text(text.replace("primary_key: zone_id", "primary_key: nope"))
    with pytest.raises(ValueError, match=r"zoning\.yaml.*'nope' is not a declared field"):
        read_layer(bad)


@pytest.mark.parametrize("layer", LAYERS.values(), ids=list(LAYERS))
def test_table_matches_layer_file(db_settings, layer: Layer) -> None:
    with psycopg.connect(owner_conninfo(db_settings)) as conn:
        cols = conn.execute(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'onemap' AND table_name = %s ORDER BY ordinal_position",
            (layer.id,),
        ).fetchall()
        srid, gtype = conn.execute(
            "SELECT srid, type FROM geometry_columns WHERE f_table_schema = 'onemap' "
            "AND f_table_name = %s",
            (layer.id,),
        ).fetchone()
        gist = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'onemap' AND tablename = %s "
            "AND indexdef ILIKE '%%USING gist (geom)%%'",
            (layer.id,),
        ).fetchone()[0]
    assert [c[0] for c in cols] == [f.name for f in layer.fields] + ["source", "load_id", "geom"]
    required = {f.name for f in layer.fields if f.required}
    assert {c[0] for c in cols if c[1] == "NO"} == required | {"source", "geom"}
    assert (srid, gtype) == (layer.geometry.srid, layer.geometry.type.upper())
    assert gist == 1


def test_check_constraint_refuses_value_outside_the_domain(db_settings) -> None:
    layer = LAYERS["flood_zones"]
    with psycopg.connect(owner_conninfo(db_settings)) as conn:
        with pytest.raises(psycopg.errors.CheckViolation, match="flood_zones_hazard_values"):
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (zone_id, hazard, flood_type, source, geom) VALUES "
                    "('x', 'extreme', 'rob', 't', ST_GeomFromText("
                    "'MULTIPOLYGON(((110.4 -7,110.41 -7,110.41 -6.99,110.4 -7)))', 4326))"
                ).format(sql.Identifier("onemap", layer.id))
            )
        conn.rollback()


def test_reader_role_cannot_write_or_see_meta(db_settings, loaded) -> None:
    from onemap.db.connect import reader_conninfo

    with psycopg.connect(reader_conninfo(db_settings)) as conn:
        # the reader sees every published row (no grant or policy hides any)
        seen = conn.execute("SELECT count(*) FROM onemap.admin_kecamatan").fetchone()[0]
        assert seen == loaded["admin_kecamatan"] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM onemap.admin_kecamatan")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM onemap_meta.loads")
