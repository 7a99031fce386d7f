"""The public web maps: an index, one folium map per layer and the combined One Map.

Everything is derived from the layer files (``onemap.layers``); the pages load their
scripts and styles from a vendored ``assets/`` folder so they work offline.
"""

from onemap.maps.site import DEFAULT_REFERENCE, MAX_PAGE_BYTES, build_site

__all__ = ["DEFAULT_REFERENCE", "MAX_PAGE_BYTES", "build_site"]
