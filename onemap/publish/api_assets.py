"""Third-party files the API's HTML pages load, vendored into ``onemap/serve/html/static``.

The pages must render with no internet (a city data centre), so nothing is loaded from a
CDN: Bootstrap's CSS (pygeoapi's templates are written for Bootstrap 5) and Swagger UI
(the API document's page) are taken from their npm packages with their licences;
``python -m onemap.publish.api_assets --fetch`` fetches them again. Leaflet and the map runtime
are the site's own copies (``onemap/publish/maps/assets``), linked, not copied.
"""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from onemap.publish.maps.assets import Vendored, fetch_vendored
from onemap.serve.html import HTML_DIR

VENDOR_DIR = HTML_DIR / "static" / "vendor"
WORDS = HTML_DIR / "locale" / "id" / "LC_MESSAGES" / "messages.po"

API_VENDORED: tuple[Vendored, ...] = (
    # The version pygeoapi 0.24's templates were written for (and load from unpkg).
    Vendored(
        npm="bootstrap@5.1.3",
        folder="bootstrap",
        files={"dist/css/bootstrap.min.css": "bootstrap.min.css"},
    ),
    Vendored(
        npm="swagger-ui-dist@5.17.14",
        folder="swagger-ui",
        files={
            "swagger-ui.css": "swagger-ui.css",
            "swagger-ui-bundle.js": "swagger-ui-bundle.js",
            "swagger-ui-standalone-preset.js": "swagger-ui-standalone-preset.js",
            "favicon-32x32.png": "favicon-32x32.png",
            "NOTICE": "NOTICE",
        },
    ),
)


def vendored_files() -> list[Path]:
    """Every vendored file (with the licences), as paths."""
    return [
        VENDOR_DIR / pkg.folder / name
        for pkg in API_VENDORED
        for name in (*pkg.files.values(), pkg.license)
    ]


def compiled_words(po: Path = WORDS) -> bytes:
    """``messages.mo`` as compiled from ``messages.po`` (what gettext reads)."""
    with po.open("rb") as f:
        catalog = read_po(f)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def compile_words(po: Path = WORDS) -> Path:
    """Write ``messages.mo`` beside ``messages.po``; returns its path."""
    mo = po.with_suffix(".mo")
    mo.write_bytes(compiled_words(po))
    return mo


if __name__ == "__main__":
    # --fetch: take the vendored files again from the npm registry; always: compile the words
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    if "--fetch" in sys.argv[1:]:
        fetch_vendored(VENDOR_DIR, packages=API_VENDORED)
    logging.info("compiled %s", compile_words())
