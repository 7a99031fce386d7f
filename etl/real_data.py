"""Where the bundled real data is: ``data/real/`` under the project root.

The root is the one that holds ``layers/`` and ``config/`` (``ONEMAP_ROOT`` overrides it,
see ``onemap.core.settings.project_root``), so an installed ``etl`` reads the same files
as a checkout. What each file is and its licence: ``data/real/PROVENANCE.md``.
"""

from __future__ import annotations

from pathlib import Path

from onemap.core.settings import project_root


def real_dir() -> Path:
    """Folder holding the real input data (``data/real``)."""
    return project_root() / "data" / "real"


def real_files() -> list[Path]:
    """Every bundled real file (provenance included), sorted: what the recipes may read."""
    return sorted(p for p in real_dir().rglob("*.*") if p.is_file())
