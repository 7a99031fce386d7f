"""The server's own HTML pages: pygeoapi's templates overridden where they load from the
internet, speak one language only or look unlike the One Map, through pygeoapi's
configuration (``server.templates``, ``server.locale_dir``), not a fork.

- ``templates/``: the templates onemap replaces; pygeoapi's own serve the rest.
- ``static/``: everything the pages load (``/static/…``): onemap's CSS and JS, Bootstrap's
  CSS and Swagger UI vendored with their licences (``python -m onemap.publish.api_assets``),
  Leaflet and the map runtime shared with the site (links into
  ``onemap/publish/maps/assets``).
- ``locale/id``: the Indonesian words of every template (``messages.po``, compiled to
  ``messages.mo``); English is the templates' own text.
"""

from __future__ import annotations

from pathlib import Path

HTML_DIR = Path(__file__).resolve().parent
# The variable pygeoapi.yml's template, static and locale paths start with; the server
# sets it to HTML_DIR (a path that depends on where onemap is installed).
HTML_DIR_VARIABLE = "ONEMAP_HTML_DIR"
