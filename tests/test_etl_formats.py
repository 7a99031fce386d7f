"""What agencies hand over, format by format and CRS by CRS, loads into the right place."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import psycopg
import pyogrio
import pytest
from pyproj import Transformer

from onemap.core.errors import LoadError
from onemap.core.layers import get_layer
from onemap.db.connect import owner_conninfo
from onemap.load.loader import load_layer
from tests.test_load import road_frame

ROADS = get_layer("road_condition")
NAMES = ["Jalan Pemuda – Kauman", "Kelurahan Bulustalan", "Café Tugu"]


def published(settings) -> list[tuple]:
    """(segment_id, name, x, y of the first vertex) of every published road."""
    with psycopg.connect(owner_conninfo(settings)) as conn:
        return conn.execute(
            "SELECT segment_id, name, ST_X(p), ST_Y(p) FROM (SELECT segment_id, name, "
            "ST_StartPoint(ST_GeometryN(geom, 1)) AS p FROM onemap.road_condition) s ORDER BY 1"
        ).fetchall()


def zipped(path: Path, *members: Path) -> Path:
    out = path.with_suffix(".zip")
    with zipfile.ZipFile(out, "w") as z:
        for m in members:
            if m.is_dir():
                for f in m.rglob("*"):
                    z.write(f, f.relative_to(m.parent))
            else:
                z.write(m, m.name)
    return out


def shapefile_parts(shp: Path) -> list[Path]:
    return sorted(p for p in shp.parent.iterdir() if p.stem == shp.stem)


def write(frame, path: Path, **kwargs) -> Path:
    pyogrio.write_dataframe(frame, path, **kwargs)
    return path


def _gpkg(tmp: Path) -> Path:
    return write(road_frame(3, name=NAMES), tmp / "roads.gpkg")


def _geojsonseq(tmp: Path) -> Path:
    return write(road_frame(3, name=NAMES), tmp / "roads.geojsonl", driver="GeoJSONSeq")


def _kml(tmp: Path) -> Path:
    return write(road_frame(3, name=NAMES), tmp / "roads.kml", driver="LIBKML")


def _kmz(tmp: Path) -> Path:
    kml = _kml(tmp)
    out = tmp / "roads.kmz"
    with zipfile.ZipFile(out, "w") as z:
        z.write(kml, "doc.kml")
    return out


def _filegdb(tmp: Path) -> Path:
    return write(road_frame(3, name=NAMES), tmp / "roads.gdb", driver="OpenFileGDB")


def _filegdb_zip(tmp: Path) -> Path:
    return zipped(tmp / "roads_gdb", _filegdb(tmp))


def _shp_utf8_zip(tmp: Path) -> Path:
    shp = write(road_frame(3, name=NAMES), tmp / "roads.shp")
    return zipped(shp, *shapefile_parts(shp))


def _shp_cp1252_cpg_zip(tmp: Path) -> Path:
    shp = write(road_frame(3, name=NAMES), tmp / "roads.shp", encoding="CP1252")
    assert shp.with_suffix(".cpg").read_text().strip() in ("1252", "CP1252")
    return zipped(shp, *shapefile_parts(shp))


def _shp_utf8_no_cpg(tmp: Path) -> Path:
    shp = write(road_frame(3, name=NAMES), tmp / "roads.shp")
    shp.with_suffix(".cpg").unlink()  # QGIS output whose .cpg got lost: sniffed as UTF-8
    return shp


def _latin1_zip(tmp: Path) -> Path:
    src = Path(__file__).parent / "fixtures" / "bad" / "latin1"
    for p in src.iterdir():
        shutil.copy(p, tmp / p.name)
    return zipped(tmp / "jalan", *shapefile_parts(tmp / "jalan.shp"))


def _csv_lonlat(tmp: Path) -> Path:
    out = tmp / "roads.csv"
    lines = ["segment_id,nama,status,fungsi,kondisi,lon,lat"] + [
        f'{sid},"{name}",kota,lokal,baik,{110.42 + i * 0.001},-6.99'
        for i, (sid, name) in enumerate(zip(["t-0", "t-1", "t-2"], NAMES, strict=True))
    ]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


FORMATS = {
    "geopackage": _gpkg,
    "geojson-seq": _geojsonseq,
    "kml": _kml,
    "kmz": _kmz,
    "filegdb": _filegdb,
    "filegdb-zip": _filegdb_zip,
    "shapefile-zip-utf8": _shp_utf8_zip,
    "shapefile-zip-cp1252-cpg": _shp_cp1252_cpg_zip,
    "shapefile-utf8-no-cpg": _shp_utf8_no_cpg,
    "shapefile-zip-latin1-no-cpg": _latin1_zip,
}


@pytest.mark.parametrize("make", FORMATS.values(), ids=FORMATS.keys())
def test_format_loads_with_its_text_intact(scratch_settings, tmp_path, make) -> None:
    path = make(tmp_path)
    res = load_layer(ROADS, path, settings=scratch_settings)
    assert (res.rows_loaded, res.rows_rejected) == (3, 0)
    rows = published(scratch_settings)
    assert sorted(r[1] for r in rows) == sorted(NAMES)
    x0 = min(r[2] for r in rows)
    assert x0 == pytest.approx(110.42, abs=1e-6)


def test_csv_lon_lat_gives_points_the_message_says_so(scratch_settings, tmp_path) -> None:
    """A spreadsheet of coordinates is read (WGS 84); points do not make a road layer."""
    with pytest.raises(
        LoadError,
        match=r"3 of 3 rows rejected .* row 2: geometry type Point not allowed: layer "
        r"'road_condition' takes MultiLineString \(POINT \(110\.42 -6\.99\)\)",
    ):
        load_layer(ROADS, _csv_lonlat(tmp_path), settings=scratch_settings)


def test_geopackage_with_several_layers_names_them(scratch_settings, tmp_path) -> None:
    path = tmp_path / "dinas_pu.gpkg"
    write(road_frame(2), path, layer="jalan_kota")
    write(road_frame(4), path, layer="jalan_provinsi", append=False)
    with pytest.raises(LoadError, match=r"holds 2 layers \(jalan_kota, jalan_provinsi\); choose"):
        load_layer(ROADS, path, settings=scratch_settings)
    with pytest.raises(LoadError, match=r"has no layer 'jalan'; its layers are jalan_kota"):
        load_layer(ROADS, path, layer_name="jalan", settings=scratch_settings)
    res = load_layer(ROADS, path, layer_name="jalan_provinsi", settings=scratch_settings)
    assert res.rows_loaded == 4


@pytest.mark.parametrize(
    ("epsg", "how"),
    [(23879, "shp"), (9489, "gpkg"), (4755, "gpkg"), (9470, "shp"), (32749, "shp")],
    ids=["DGN95-UTM49S", "SRGI2013-UTM49S", "DGN95", "SRGI2013", "WGS84-UTM49S"],
)
def test_indonesian_crs_land_in_the_right_place(scratch_settings, tmp_path, epsg, how) -> None:
    """The file's own CRS is used: stored lon/lat = PROJ's transform of its coordinates."""
    frame = road_frame(3).to_crs(epsg)
    path = write(frame, tmp_path / f"roads.{how}")
    load_layer(ROADS, path, settings=scratch_settings)
    to_wgs84 = Transformer.from_crs(epsg, 4326, always_xy=True)
    expected = [to_wgs84.transform(*g.coords[0]) for g in frame.geometry]
    got = [(r[2], r[3]) for r in published(scratch_settings)]
    for (x, y), (ex, ey) in zip(got, expected, strict=True):
        assert x == pytest.approx(ex, abs=1e-7) and y == pytest.approx(ey, abs=1e-7)
    for (x, y), i in zip(got, range(3), strict=True):  # and that is where the roads are
        assert x == pytest.approx(110.42 + i * 0.001, abs=2e-5)
        assert y == pytest.approx(-6.99, abs=2e-5)


def test_shapefile_in_utm_without_prj_takes_source_crs(scratch_settings, tmp_path) -> None:
    shp = write(road_frame(3).to_crs(23879), tmp_path / "roads.shp")
    shp.with_suffix(".prj").unlink()
    with pytest.raises(LoadError, match="--source-crs"):
        load_layer(ROADS, zipped(shp, *shapefile_parts(shp)), settings=scratch_settings)
    res = load_layer(ROADS, shp, source_crs="EPSG:23879", settings=scratch_settings)
    assert res.rows_loaded == 3


def test_wrong_cpg_is_refused_with_a_hint(scratch_settings, tmp_path) -> None:
    shp = write(road_frame(3, name=NAMES), tmp_path / "roads.shp", encoding="CP1252")
    shp.with_suffix(".cpg").write_text("UTF-8")
    with pytest.raises(LoadError, match=r"column 'name' .* is not valid UTF-8.*\.cpg"):
        load_layer(ROADS, shp, settings=scratch_settings)


def test_timestamps_with_and_without_zone_reach_postgres(scratch_settings) -> None:
    """A timestamp field: ISO 8601 with an offset, or local time (WIB); junk is refused."""
    import datetime as dt

    import pyarrow as pa

    from onemap.core.layers import LayerField
    from onemap.load.attributes import Problem, convert
    from onemap.load.encode import HEADER, TRAILER, copy_binary

    field = LayerField(name="reported_at", type="timestamp", label="t", description="t")
    raw = pa.array(
        ["2025-06-01T10:00:00+07:00", "2025-06-01 10:00", "2025-06-01T03:00:00Z", "kemarin",
         "2025-13-01 10:00", None]
    )  # fmt: skip
    problems: list[Problem] = []
    value = convert(field, raw, problems)
    bad = [i for p in problems for i in p.mask.nonzero()[0]]
    assert sorted(bad) == [3, 4]
    with psycopg.connect(owner_conninfo(scratch_settings)) as conn:
        conn.execute("CREATE TEMP TABLE t (reported_at timestamptz)")
        with conn.cursor().copy("COPY t FROM STDIN (FORMAT binary)") as cp:
            cp.write(HEADER)
            cp.write(copy_binary(pa.table({"reported_at": value}), ["timestamptz"]))
            cp.write(TRAILER)
        got = [r[0] for r in conn.execute("SELECT reported_at FROM t")]
    utc = dt.datetime(2025, 6, 1, 3, 0, tzinfo=dt.UTC)
    assert got[:3] == [utc, utc, utc] and got[3:] == [None, None, None]
