"""Front-end assets: vendored JS/CSS so the map pages work with no internet.

folium points its pages at CDNs (jsdelivr, cdnjs, code.jquery.com). The situation room
is an intranet, so every script and stylesheet a page loads is served from a relative
``assets/`` folder that :func:`copy_assets` puts beside the pages.

``VENDORED`` lists, per npm package, the only files the pages use and the licence kept
beside them; ``python -m onemap.publish.maps.assets`` fetches them again with ``npm pack``.
``FOLIUM_RESOURCES`` maps each resource name folium declares (``default_js`` /
``default_css``) to a vendored file, or to ``None`` with the reason it is left out.
A resource missing from that table is an error, so adding a plugin without vendoring its
assets fails at build time instead of silently loading from a CDN.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from branca.element import Element, Figure
from folium.elements import JSCSSMixin

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parent / "assets"


@dataclass(frozen=True)
class Vendored:
    """One npm package: the files taken from it (package path -> path under ``folder``)."""

    npm: str
    folder: str
    files: dict[str, str]
    license: str = "LICENSE"


VENDORED: tuple[Vendored, ...] = (
    Vendored(
        # The version folium 0.20 itself references.
        npm="leaflet@1.9.3",
        folder="leaflet",
        files={
            "dist/leaflet.js": "leaflet.js",
            "dist/leaflet.css": "leaflet.css",
            # leaflet.css also names marker-icon.png, fetched only when a default
            # L.Marker is created; the pages draw points as circle markers.
            "dist/images/layers.png": "images/layers.png",
            "dist/images/layers-2x.png": "images/layers-2x.png",
        },
    ),
    Vendored(
        # folium.plugins.Fullscreen; the package ships no .min.js (jsdelivr minifies on the fly).
        npm="leaflet.fullscreen@3.0.0",
        folder="leaflet.fullscreen",
        files={
            "Control.FullScreen.js": "Control.FullScreen.js",
            "Control.FullScreen.css": "Control.FullScreen.css",
            "icon-fullscreen.svg": "icon-fullscreen.svg",
        },
    ),
    Vendored(
        # Draws OGC API vector tiles (MVT) for layers too big to embed (onemap.tiles in onemap.js).
        # The package has no LICENSE file: its licence (Beerware) is in README.md, which
        # also lists what the bundle includes; their licences are vendored below.
        npm="leaflet.vectorgrid@1.3.0",
        folder="leaflet.vectorgrid",
        files={"dist/Leaflet.VectorGrid.bundled.min.js": "Leaflet.VectorGrid.bundled.min.js"},
        license="README.md",
    ),
    # Licences of the libraries bundled into Leaflet.VectorGrid.bundled.min.js (its
    # package.json dependencies, theirs, and the geojson-vt of its slicer worker).
    *(
        Vendored(
            npm=npm,
            folder=f"leaflet.vectorgrid/bundled/{npm.rsplit('@', 1)[0]}",
            files={},
            license=licence,
        )
        for npm, licence in (
            ("pbf@3.3.0", "LICENSE"),
            ("ieee754@1.2.1", "LICENSE"),
            ("vector-tile@1.3.0", "LICENSE.txt"),
            ("point-geometry@0.0.0", "package.json"),  # no licence file: "license": "ISC"
            ("topojson-client@2.1.0", "LICENSE.md"),
            ("whatwg-fetch@2.0.4", "LICENSE"),
            ("geojson-vt@2.2.0", "LICENSE"),
        )
    ),
)

# folium resource name -> file under assets/, or None when the pages do not need it.
FOLIUM_RESOURCES: dict[str, str | None] = {
    "leaflet": "leaflet/leaflet.js",
    "leaflet_css": "leaflet/leaflet.css",
    "Control.Fullscreen.js": "leaflet.fullscreen/Control.FullScreen.js",
    "Control.FullScreen.css": "leaflet.fullscreen/Control.FullScreen.css",
    # folium.Map loads these for folium.Icon markers (awesome-markers + Bootstrap 3
    # glyphicons + Font Awesome) and for `$(document).ready` with keep_in_front. The
    # pages draw points as circle markers and use neither, so they are not loaded.
    "jquery": None,
    "bootstrap": None,
    "bootstrap_css": None,
    "glyphicons_css": None,
    "awesome_markers": None,
    "awesome_markers_css": None,
    "awesome_markers_font_css": None,
    "awesome_rotate_css": None,
}

# onemap's own runtime (popups, legends) and styles, loaded after Leaflet.
OWN_JS = "onemap/onemap.js"
OWN_CSS = "onemap/onemap.css"
VECTORGRID_JS = "leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js"

_REMOTE_REF = re.compile(
    r"<(?:script|link)\b[^>]*?\b(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", re.IGNORECASE
)


def _local(name: str, url: str, base_url: str) -> str | None:
    if name not in FOLIUM_RESOURCES:
        raise ValueError(
            f"folium resource '{name}' ({url}) has no vendored copy: add it to VENDORED and "
            "FOLIUM_RESOURCES in onemap/publish/maps/assets.py, or stop using the element"
        )
    path = FOLIUM_RESOURCES[name]
    return None if path is None else f"{base_url}/{path}"


def _walk(element: Element):
    yield element
    for child in element._children.values():
        yield from _walk(child)


def localise(figure: Figure, base_url: str = "assets") -> None:
    """Point every folium JS/CSS resource in ``figure`` at the vendored copy under ``base_url``.

    Sets instance-level ``default_js``/``default_css`` (folium's class-level lists are
    shared, so they are never mutated). Resources the pages do not use are dropped.
    """
    for element in _walk(figure):
        if not isinstance(element, JSCSSMixin):
            continue
        for attr in ("default_js", "default_css"):
            local = []
            for name, url in getattr(element, attr):
                path = url if url.startswith(f"{base_url}/") else _local(name, url, base_url)
                if path is not None:
                    local.append((name, path))
            setattr(element, attr, local)


def remote_references(html: str) -> list[str]:
    """The ``<script src>``/``<link href>`` tags in ``html`` that point off the site."""
    return [m.group(0) for m in _REMOTE_REF.finditer(html)]


def asset_files() -> list[Path]:
    """Every file the pages may load, plus the licences, as paths under ``ASSETS_DIR``."""
    files = [ASSETS_DIR / OWN_JS, ASSETS_DIR / OWN_CSS]
    for pkg in VENDORED:
        files += [ASSETS_DIR / pkg.folder / dest for dest in pkg.files.values()]
        files.append(ASSETS_DIR / pkg.folder / pkg.license)
    return files


def copy_assets(outdir: Path) -> Path:
    """Copy the assets the pages load into ``outdir/assets`` and return that folder."""
    missing = [str(p) for p in asset_files() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"vendored assets missing ({', '.join(missing)}); "
            "run python -m onemap.publish.maps.assets"
        )
    target = outdir / "assets"
    for src in asset_files():
        dest = target / src.relative_to(ASSETS_DIR)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
    return target


def fetch_vendored(
    dest: Path = ASSETS_DIR, npm: str = "npm", packages: tuple[Vendored, ...] = VENDORED
) -> None:
    """Fetch the ``packages`` files with ``npm pack`` (needs the npm registry) into ``dest``."""
    with tempfile.TemporaryDirectory() as tmp:
        for pkg in packages:
            out = subprocess.run(
                [npm, "pack", pkg.npm, "--silent"],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
            )
            tarball = Path(tmp) / out.stdout.strip().splitlines()[-1]
            with tarfile.open(tarball) as tar:
                wanted = {**pkg.files, pkg.license: pkg.license}
                for member_path, dest_name in wanted.items():
                    member = tar.extractfile(f"package/{member_path}")
                    if member is None:
                        raise FileNotFoundError(f"{pkg.npm}: no file {member_path}")
                    target = dest / pkg.folder / dest_name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(member.read())
            log.info("vendored %s into %s", pkg.npm, dest / pkg.folder)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    fetch_vendored()
