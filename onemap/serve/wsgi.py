"""The WSGI app ``onemap serve`` runs: pygeoapi's Flask app plus onemap's own routes.

A thin wrapper, not a fork: pygeoapi's ``APP`` is imported as it is (it reads
``PYGEOAPI_CONFIG`` and ``PYGEOAPI_OPENAPI`` at import) and hooks and routes are added
to it: the features' (``onemap.core.extensions``), onemap's (``onemap.serve.extras``) and
these routes:

- ``/styles/<id>.sld`` and ``/styles/<id>.qml``: the generated layer styles (``styles/``,
  written by ``onemap publish``), which every collection links to. ``/static`` holds the
  HTML pages' files (``onemap/serve/html/static``), so the styles get their own path.
- ``/health``: the node's database, replay lag and published versions
  (``onemap.serve.health``).
- ``/site/…``: the One Map site ``onemap maps`` writes into ``site/`` (with the QGIS project
  of ``onemap qgis-project``), and ``/docs/<name>.md``: the docs for analysts; the
  landing page links to both on the same server.
"""

from __future__ import annotations

from pathlib import Path

from flask import Response, abort, send_from_directory
from pygeoapi.flask_app import APP, CONFIG

from onemap.core import extensions
from onemap.core.settings import project_root
from onemap.serve import extras as api_extras
from onemap.serve import health
from onemap.serve.contract import STYLE_TYPES, STYLES_PATH, styles_dir
from onemap.serve.warmup import warm_up

# The features' hooks (e.g. citizen reports) first: Flask runs after-request hooks in
# reverse order of registration, so theirs run after api_extras' (a staff response stays
# private after api_extras marked item responses public).
for feature in extensions.features():
    feature.install_app(APP)
api_extras.install(APP)
health.install(APP)  # /health: the node's database, replay lag, published versions


@APP.get(f"/{STYLES_PATH}/<name>")
def layer_style(name: str) -> Response:
    """One generated style file, with its media type (404 for anything else)."""
    media_type = STYLE_TYPES.get(Path(name).suffix)
    if media_type is None:
        abort(404)
    return send_from_directory(styles_dir(), name, mimetype=media_type)


@APP.get("/site/")
@APP.get("/site/<path:name>")
def one_map_site(name: str = "index.html") -> Response:
    """The public site written by ``onemap maps`` (404 until it is built)."""
    return send_from_directory(project_root() / "site", name)


@APP.get("/docs/<name>.md")
def analyst_doc(name: str) -> Response:
    """A page of the docs (Markdown, shown as text by browsers)."""
    return send_from_directory(
        project_root() / "docs", f"{name}.md", mimetype="text/markdown; charset=utf-8"
    )


warm_up(CONFIG)  # in each worker: gunicorn imports the app after forking
app = APP
