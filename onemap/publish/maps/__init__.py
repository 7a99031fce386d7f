"""The public web maps: an index, one folium map per layer, the combined One Map and the
per-kecamatan choropleths of the city indicators.

Everything is derived from the layer files (``onemap.core.layers``) and the indicators
(``onemap.indicators``); the pages load their scripts and styles from a vendored
``assets/`` folder so they work offline. Guide: ``docs/maps.md``.
"""

from onemap.publish.maps.choropleth import SiteIndicators
from onemap.publish.maps.site import DEFAULT_REFERENCE, MAX_PAGE_BYTES, build_site

__all__ = ["DEFAULT_REFERENCE", "MAX_PAGE_BYTES", "SiteIndicators", "build_site"]
