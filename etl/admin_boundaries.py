"""Kemendagri boundaries → ``admin_kecamatan`` (with BPS population) and ``admin_kelurahan``.

Source: cahyadsn/wilayah_boundaries (MIT, © 2024 Cahya DSN), Kemendagri codes; the
kecamatan and the city outline are dissolved from the kelurahan. See
data/real/PROVENANCE.md.
"""

from __future__ import annotations

import geopandas as gpd
import shapely

from etl.bps_population import COLUMNS, with_population
from etl.real_data import real_dir

KEC_FILE = "admin_cahyadsn/semarang_kecamatan.geojson"
KEL_FILE = "admin_cahyadsn/semarang_kelurahan.geojson"
CITY_FILE = "admin_cahyadsn/semarang_kota.geojson"
# the compilation the files come from, not the ministry: Kemendagri publishes the codes, but
# these polygons are Cahya DSN's (MIT); `kemendagri` is for the ministry's own files
SOURCE = "cahyadsn-wilayah"


def read_kecamatan() -> gpd.GeoDataFrame:
    """The 16 kecamatan joined with BPS population (``bps_population``)."""
    out = with_population(gpd.read_file(real_dir() / KEC_FILE))
    out["source"] = SOURCE
    keep = ["kode_kec", "nama_kec", "luas_km2", "jumlah_kel", *COLUMNS, "source", "geometry"]
    return out[keep].sort_values("kode_kec").reset_index(drop=True)


def read_kelurahan() -> gpd.GeoDataFrame:
    """The 177 kelurahan with their codes, district and area."""
    kel = gpd.read_file(real_dir() / KEL_FILE)
    kel["source"] = SOURCE
    keep = ["kode_kel", "nama_kel", "kode_kec", "nama_kec", "luas_km2", "source", "geometry"]
    return kel[keep].sort_values("kode_kel").reset_index(drop=True)


def read_city() -> gpd.GeoDataFrame:
    """The city outline (dissolved from the kelurahan)."""
    return gpd.read_file(real_dir() / CITY_FILE)


def disjoint(kel_utm: gpd.GeoDataFrame, within: shapely.Geometry) -> list:
    """Kelurahan polygons made disjoint (the source overlaps: each keeps what earlier
    ones have not taken) and cut to ``within``; one geometry per row, maybe empty."""
    parts, taken = [], shapely.Polygon()
    for geom in kel_utm.geometry:
        parts.append(geom.difference(taken).intersection(within))
        taken = taken.union(geom)
    return parts
