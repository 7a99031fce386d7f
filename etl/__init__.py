"""Source recipes and seeded generators: what providers hand over → onemap layer files.

One module per real source (``admin_boundaries``, ``bps_population``, ``osm_roads``) turns
the bundled files under ``data/real`` into rows of a layer; ``etl.synthetic`` holds the
seeded generators for the layers no open source covers. ``python -m etl.demo_dataset
OUTDIR [--seed N]`` writes the whole demo dataset. See ``etl/README.md``.
"""
