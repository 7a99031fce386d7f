"""The demo dataset: ``python -m etl.demo_dataset OUTDIR [--seed N] [--preview PNG]``.

One load-ready file per layer, named by the layer's ``demo_file``, plus ``dem.tif`` and
``flood_depth.tif``: the real sources through their recipes (``etl.admin_boundaries``,
``etl.bps_population``, ``etl.osm_roads``), the rest from the seeded generators in
``etl.synthetic``. The same seed gives the same files, byte for byte.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from etl import admin_boundaries, osm_roads
from etl.common import CITY_BBOX, UTM, finish, layer, write_vector
from etl.conformance import problems
from etl.demo_statistics import print_summary
from etl.synthetic import drainage, flood_zones, reports, road_condition, roadnet, zoning
from etl.synthetic.hydro import route
from etl.synthetic.seeds import DEFAULT_SEED, rng_for
from etl.synthetic.terrain import Terrain, build_terrain

DRAIN_MIN_M = 20.0  # channel pieces shorter than this after clipping are dropped


@dataclass(frozen=True)
class Demo:
    """What a run produced: the layers as written (EPSG:4326) and the rasters behind them."""

    layers: dict[str, gpd.GeoDataFrame]
    terrain: Terrain
    depth: np.ndarray
    kind: np.ndarray


def generate(outdir: Path, seed: int = DEFAULT_SEED) -> Demo:
    """Generate every layer into ``outdir``."""
    outdir.mkdir(parents=True, exist_ok=True)
    kec, kel = admin_boundaries.read_kecamatan(), admin_boundaries.read_kelurahan()
    # Synthetic layers are clipped to the outline cut to the published (rounded) bbox.
    city = admin_boundaries.read_city().union_all().intersection(shapely.box(*CITY_BBOX))
    kec_utm, kel_utm = kec.to_crs(UTM), kel.to_crs(UTM)
    city_utm = gpd.GeoSeries([city], crs=kec.crs).to_crs(UTM).iloc[0]

    terrain = build_terrain(city_utm, kec_utm, rng_for(seed, "terrain"))
    routing = route(terrain.dem.astype("float64"), terrain.sea)

    channels = drainage.build_drainage(terrain, routing, kel_utm, rng_for(seed, "drainage"))
    channels = finish(channels, "line", clip=city, min_size=DRAIN_MIN_M)
    channels["channel_id"] = [f"drn-{i:06d}" for i in range(1, len(channels) + 1)]
    channels = channels[[f.name for f in layer("drainage").fields] + ["source", "geometry"]]

    depth, kind = flood_zones.depth_and_type(terrain, routing)
    zones = flood_zones.build_flood_zones(terrain, depth, kind, kec_utm)
    zones = finish(zones, "polygon", clip=city, min_size=flood_zones.MIN_ZONE_M2)
    zones = zones.sort_values(["flood_type", "hazard", "kode_kec"], kind="stable")
    zones.insert(0, "zone_id", [f"fz-{i:04d}" for i in range(1, len(zones) + 1)])
    zones = zones[[f.name for f in layer("flood_zones").fields] + ["source", "geometry"]]

    road_frame = _roads(kec, kel_utm, kec_utm, city, terrain, depth, seed)
    zones_plan = zoning.build_zoning(kel_utm, city_utm, terrain, rng_for(seed, "zoning"))
    zones_plan = finish(
        zones_plan, "polygon", clip=city, min_size=zoning.MIN_ZONE_M2, explode=False
    )

    frames = {
        "admin_kecamatan": kec,
        "admin_kelurahan": kel,
        "road_condition": road_frame,
        "drainage": channels,
        "flood_zones": zones.reset_index(drop=True),
        "zoning": zones_plan,
        "reports": reports.build_reports(
            road_frame, channels, zones, kel, city, rng_for(seed, "reports")
        ),
    }
    for layer_id, frame in frames.items():
        found = problems(layer_id, frame)
        if found:
            raise ValueError(f"{layer_id}: " + "; ".join(found))
        write_vector(frame, outdir / layer(layer_id).demo_file, layer_id)
    flood_zones.write_rasters(terrain, depth, outdir)
    return Demo(frames, terrain, depth, kind)


def _roads(kec, kel_utm, kec_utm, city, terrain, depth, seed: int) -> gpd.GeoDataFrame:
    """OSM ways plus the synthetic network outside the OSM cells, all with condition."""
    osm = osm_roads.read_osm()
    # A 5 m margin (in degrees) keeps synthetic roads off the cells' edges after rounding.
    allowed = city.difference(osm_roads.osm_cells().buffer(0.00005))
    allowed_utm = gpd.GeoSeries([allowed], crs=kec.crs).to_crs(UTM).iloc[0]
    density = dict(zip(kec["kode_kec"], kec["penduduk_total"] / kec["luas_km2"], strict=True))
    net = roadnet.build_network(
        kel_utm, kec_utm, density, terrain, allowed_utm, rng_for(seed, "roadnet")
    )
    net = finish(net, "line", clip=allowed, min_size=roadnet.SEGMENT_M[0])
    net = road_condition.synthetic_attributes(net, rng_for(seed, "roads-synthetic"))
    both = pd.concat([osm, net], ignore_index=True)
    both = gpd.GeoDataFrame(both, geometry="geometry", crs=osm.crs)
    rng = rng_for(seed, "road-condition")
    return road_condition.condition_attributes(both, terrain, depth, rng)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m etl.demo_dataset", description=__doc__)
    parser.add_argument("outdir", type=Path, help="folder to write the files into")
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    parser.add_argument("--preview", type=Path, help="also draw an overview PNG here")
    parser.add_argument("--quiet", action="store_true", help="no summary statistics")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    demo = generate(args.outdir, args.seed)
    elapsed = time.perf_counter() - start
    if not args.quiet:
        print_summary(demo.layers, demo.terrain)
    if args.preview:
        from etl.demo_overview import draw

        draw(demo, args.preview)
        print(f"preview: {args.preview}")
    print(f"wrote {args.outdir} (seed {args.seed}) in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
