"""Honest provenance: a real file is never labelled synthetic by a default.

A file with no ``source`` column records its own name and checksum (or ``--source``);
the catalogue's lineage lists real and synthetic sources apart, from the published
rows; the maps' synthetic badges follow the rows drawn.
"""

from __future__ import annotations

import hashlib
import json

import geopandas as gpd
import psycopg
import pytest
from shapely.geometry import box

from onemap.core.errors import UserError
from onemap.core.layers import get_layer
from onemap.core.provenance import SYNTHETIC, file_source, is_synthetic, split_sources
from onemap.db.connect import owner_conninfo, reader_conninfo
from onemap.load.loader import load_layer
from onemap.publish.maps import build_site
from onemap.publish.maps.site import loaded_layers
from onemap.serve.records import layer_record

FLOOD = get_layer("flood_zones")


def hazard_file(path, source: str | None = None):
    """An agency's flood-hazard GeoJSON as handed over: its own field names, no source."""
    cells = [box(110.385 + i * 0.004, -6.975, 110.388 + i * 0.004, -6.972) for i in range(3)]
    frame = gpd.GeoDataFrame(
        {
            "id": ["sb-1", "sb-2", "sb-3"],
            "KECAMATAN": ["Semarang Barat"] * 3,
            "Kelas": ["Rendah", "Sedang", "Tinggi"],
            "Index_KRW": [0.2, 0.5, 0.8],
        },
        geometry=cells,
        crs=4326,
    )
    if source is not None:
        frame["source"] = source
    frame.to_file(path, driver="GeoJSON")
    return path


def sources(settings) -> dict[str, int]:
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return dict(
            conn.execute("SELECT source, count(*) FROM onemap.flood_zones GROUP BY 1").fetchall()
        )


def test_a_real_file_records_its_name_and_checksum(scratch_settings, tmp_path) -> None:
    path = hazard_file(tmp_path / "bahaya_banjir_semarang_barat.geojson")
    res = load_layer(FLOOD, path, settings=scratch_settings, constants={"flood_type": "hujan"})
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = file_source(path.name, digest)
    assert expected.startswith("file:bahaya_banjir_semarang_barat.geojson sha256:")
    assert digest.startswith(expected.rpartition(":")[2])
    assert sources(scratch_settings) == {expected: 3}
    assert res.details["sources"] == {expected: 3}

    # as the server writes it: as the reader, which may not read onemap_meta.loads itself
    with psycopg.connect(reader_conninfo(scratch_settings)) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT source_file FROM onemap_meta.loads")
        conn.rollback()
        record = layer_record(FLOOD, conn, "http://example.test")
    props = record["properties"]
    assert props["history"][-1]["file"] == path.name  # the name, not the loader's path
    assert props["synthetic"] is False
    assert [s["source"] for s in props["sources"]["real"]] == [expected]
    assert props["sources"]["synthetic"] == []
    assert "Real sources: " + expected in props["lineage"]
    assert "Synthetic sources" not in props["lineage"]
    assert props["history"][-1]["sources"]["real"][0]["features"] == 3
    json.dumps(record)  # the catalogue file is JSON

    # the maps: no synthetic badge for a layer whose rows are real
    frame = gpd.GeoDataFrame({"source": [expected]}, geometry=[box(0, 0, 1, 1)], crs=4326)
    assert (
        FLOOD.synthetic
        and not loaded_layers({FLOOD.id: FLOOD}, {FLOOD.id: frame})[FLOOD.id].synthetic
    )


def test_source_option_and_registered_ids(scratch_settings, tmp_path) -> None:
    path = hazard_file(tmp_path / "inarisk.geojson")
    load_layer(
        FLOOD,
        path,
        settings=scratch_settings,
        constants={"flood_type": "hujan"},
        source="bnpb-inarisk",
    )
    assert sources(scratch_settings) == {"bnpb-inarisk": 3}
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        real = layer_record(FLOOD, conn, "http://x")["properties"]["sources"]["real"]
    assert real[0]["agency"].startswith("Badan Nasional Penanggulangan Bencana")
    assert "BNPB" in real[0]["title"] or "InaRISK" in real[0]["title"]
    with pytest.raises(UserError, match="--source is empty"):
        load_layer(FLOOD, path, settings=scratch_settings, source="  ")


def test_what_the_generator_wrote_stays_synthetic(scratch_settings, tmp_path) -> None:
    """A file whose source column says synthetic (etl/synthetic) is published as such."""
    path = hazard_file(tmp_path / "generated.geojson", source=SYNTHETIC)
    load_layer(FLOOD, path, settings=scratch_settings, constants={"flood_type": "rob"})
    assert sources(scratch_settings) == {SYNTHETIC: 3}
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        props = layer_record(FLOOD, conn, "http://x")["properties"]
    assert props["synthetic"] is True
    assert props["sources"]["real"] == []
    assert "Synthetic sources: synthetic (3 features)." in props["lineage"]


def test_badges_follow_the_rows(tmp_path) -> None:
    """A synthetic layer loaded from a real file draws no badge; mixed rows keep it."""
    real = gpd.GeoDataFrame(
        {
            "zone_id": ["a"],
            "hazard": ["rendah"],
            "flood_type": ["rob"],
            "source": ["file:x.geojson sha256:0123456789abcdef"],
        },
        geometry=[box(110.40, -6.98, 110.41, -6.97)],
        crs=4326,
    )
    build_site({FLOOD.id: FLOOD}, {FLOOD.id: real}, tmp_path / "real", reference=None)
    assert "onemap-badge-synthetic" not in (tmp_path / "real" / "flood_zones.html").read_text()
    mixed = real.assign(source=[SYNTHETIC])
    build_site({FLOOD.id: FLOOD}, {FLOOD.id: mixed}, tmp_path / "syn", reference=None)
    assert "onemap-badge-synthetic" in (tmp_path / "syn" / "flood_zones.html").read_text()


def test_synthetic_values() -> None:
    assert is_synthetic("synthetic") and is_synthetic("synthetic:seed-7")
    assert not is_synthetic("file:synthetic.geojson sha256:00") and not is_synthetic(None)
    assert split_sources([("osm", 2), ("synthetic", 3)]) == ({"osm": 2}, {"synthetic": 3})


def test_an_upsert_of_the_same_rows_keeps_their_source(scratch_settings, tmp_path) -> None:
    """Rows delivered again unchanged from another file keep the file that published them."""
    first = hazard_file(tmp_path / "a.geojson")
    load_layer(FLOOD, first, settings=scratch_settings, constants={"flood_type": "hujan"})
    again = hazard_file(tmp_path / "b.geojson")
    res = load_layer(
        FLOOD, again, settings=scratch_settings, mode="upsert", constants={"flood_type": "hujan"}
    )
    assert res.details["unchanged"] == 3 and res.rows_loaded == 0
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert sources(scratch_settings) == {file_source("a.geojson", digest): 3}
