"""Seeded generators for the layers no open source covers (terrain, drainage, flood, zoning,
the streets outside the OSM extract, road condition, citizen reports); see etl/README.md.

The same seed (``seeds.DEFAULT_SEED`` unless given) gives the same output, byte for byte.
"""
