"""Seeded demo-data generator for onemap (Kota Semarang).

Run ``python -m etl.demo OUTDIR [--seed N]``: writes one load-ready file per layer
(named by the layer's ``demo_file``) plus the DEM and flood-depth rasters. Real data
(boundaries, population, OSM roads) is passed through; everything else is generated
from the seed. See ``etl/README.md``.
"""
