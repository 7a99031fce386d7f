"""Summary statistics of a demo run, for a human to sanity-check (lengths, areas in UTM)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from etl.common import UTM
from etl.synthetic.terrain import Terrain


def _km(gdf: gpd.GeoDataFrame) -> pd.Series:
    return gdf.geometry.to_crs(UTM).length / 1000


def print_summary(layers: dict[str, gpd.GeoDataFrame], terrain: Terrain) -> None:
    """Print counts, lengths per class and flooded shares per kecamatan."""
    for layer_id, gdf in layers.items():
        print(f"{layer_id:16s} {len(gdf):6d} features")
    kec = layers["admin_kecamatan"]
    print(f"\npopulation {kec['penduduk_total'].sum():,} (BPS {kec['tahun'].iloc[0]})")
    _roads(layers["road_condition"])
    _drainage(layers["drainage"])
    _flood(layers["flood_zones"], kec)
    z = layers["zoning"].assign(km2=lambda d: d.geometry.to_crs(UTM).area / 1e6)
    print("\nzoning km² by code:")
    print(z.groupby("zone_code")["km2"].agg(["size", "sum"]).round(2).T.to_string())
    print(
        f"\nDEM {terrain.dem[terrain.city].min():.1f}–{terrain.dem[terrain.city].max():.1f} m "
        f"in the city; {terrain.grid.shape} cells of 50 m"
    )


def _roads(roads: gpd.GeoDataFrame) -> None:
    r = roads.assign(km=_km(roads))
    print("\nroads km by source × function:")
    print(
        r.pivot_table(index="source", columns="function", values="km", aggfunc="sum")
        .round(1)
        .to_string()
    )
    share = r.groupby("condition")["km"].sum() / r["km"].sum() * 100
    print("condition, % of length:", share.round(1).to_dict())
    syn = r[r["source"] == "synthetic"]
    verts = syn.geometry.count_coordinates()
    print(
        f"synthetic segments {len(syn)}: length m min/median/max "
        f"{syn['km'].min() * 1000:.0f}/{syn['km'].median() * 1000:.0f}/"
        f"{syn['km'].max() * 1000:.0f}; vertices {verts.min()}–{verts.max()}"
    )
    print("IRI median by function:", r.groupby("function")["iri"].median().to_dict())


def _drainage(d: gpd.GeoDataFrame) -> None:
    d = d.assign(km=_km(d))
    print("\ndrainage by hierarchy:")
    print(
        d.groupby("hierarchy")
        .agg(
            n=("km", "size"),
            km=("km", "sum"),
            width_min=("width_m", "min"),
            width_max=("width_m", "max"),
            depth_max=("depth_m", "max"),
        )
        .round(2)
        .to_string()
    )
    print("by system:", d["system"].value_counts().to_dict())
    print("primer names:", sorted(d.loc[d["hierarchy"] == "primer", "name"].unique()))


def _flood(zones: gpd.GeoDataFrame, kec: gpd.GeoDataFrame) -> None:
    zu, ku = zones.to_crs(UTM), kec.to_crs(UTM)
    city_km2 = ku.area.sum() / 1e6
    print("\nflood zones (n, km²):")
    t = zu.assign(km2=zu.area / 1e6).groupby(["flood_type", "hazard"])["km2"]
    print(pd.concat([t.size().rename("n"), t.sum().round(2)], axis=1).T.to_string())
    print(f"flooded share of the city: {zu.union_all().area / 1e6 / city_km2 * 100:.1f} %")
    print("share of each kecamatan flooded, % (rob / hujan / sungai):")
    for row in ku.itertuples():
        shares = []
        for ftype in ("rob", "hujan", "sungai"):
            sub = zu[zu["flood_type"] == ftype]
            inter = sub.intersection(row.geometry).area.sum() if len(sub) else 0.0
            shares.append(inter / row.geometry.area * 100)
        print(f"  {row.nama_kec:17s}" + "".join(f"{s:7.1f}" for s in shares))
    print(
        "depth range m:",
        float(np.min(zones["depth_min_m"])),
        "–",
        float(np.max(zones["depth_max_m"])),
    )
