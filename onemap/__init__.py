"""onemap: a city's One Map — declarative layers, PostGIS, OGC APIs, public maps."""

__version__ = "0.1.0"
