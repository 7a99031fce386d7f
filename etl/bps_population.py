"""BPS population per kecamatan → the population columns of ``admin_kecamatan``.

Source: BPS Kota Semarang, *Jumlah Penduduk Menurut Kecamatan dan Jenis Kelamin*, 2025
(via firmanhadi21/sigro-data; attribution, no explicit licence). See data/real/PROVENANCE.md.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from etl.real_data import real_dir

POP_FILE = "population_bps/semarang_penduduk_kecamatan_2025.csv"
# ``tahun`` maps onto the layer's tahun_penduduk through its ``source_names``.
COLUMNS = ("penduduk_total", "penduduk_laki_laki", "penduduk_perempuan", "tahun")


def read_population() -> pd.DataFrame:
    """One row per kecamatan: ``kode_kec`` and the ``COLUMNS``."""
    pop = pd.read_csv(real_dir() / POP_FILE, dtype={"kode_kec": str})
    return pop[["kode_kec", *COLUMNS]]


def with_population(kec: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``kec`` joined one-to-one with the population; fails if a kecamatan has none."""
    out = kec.merge(read_population(), on="kode_kec", how="left", validate="one_to_one")
    missing = out["penduduk_total"].isna()
    if missing.any():
        raise ValueError(f"no BPS population for {out.loc[missing, 'nama_kec'].tolist()}")
    return out
