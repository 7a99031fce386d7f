"""The real administrative layers: kecamatan (with BPS 2025 population) and kelurahan.

Boundaries: cahyadsn/wilayah_boundaries (MIT, © 2024 Cahya DSN), Kemendagri codes;
population: BPS Kota Semarang 2025. See data/real/PROVENANCE.md.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import shapely

from etl.common import real_dir

KEC_FILE = "admin_cahyadsn/semarang_kecamatan.geojson"
KEL_FILE = "admin_cahyadsn/semarang_kelurahan.geojson"
CITY_FILE = "admin_cahyadsn/semarang_kota.geojson"
POP_FILE = "population_bps/semarang_penduduk_kecamatan_2025.csv"
SOURCE = "kemendagri"


def read_kecamatan() -> gpd.GeoDataFrame:
    """The 16 kecamatan joined with BPS population; ``tahun`` maps to tahun_penduduk."""
    kec = gpd.read_file(real_dir() / KEC_FILE)
    pop = pd.read_csv(real_dir() / POP_FILE, dtype={"kode_kec": str})
    cols = ["kode_kec", "penduduk_total", "penduduk_laki_laki", "penduduk_perempuan", "tahun"]
    out = kec.merge(pop[cols], on="kode_kec", how="left", validate="one_to_one")
    missing = out["penduduk_total"].isna()
    if missing.any():
        raise ValueError(f"no BPS population for {out.loc[missing, 'nama_kec'].tolist()}")
    out["source"] = SOURCE
    keep = ["kode_kec", "nama_kec", "luas_km2", "jumlah_kel", *cols[1:], "source", "geometry"]
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
