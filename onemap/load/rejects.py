"""The rejects file a user asks for with ``--rejects-file``: one CSV line per problem.

Columns ``row, field, value, reason``, UTF-8 with a byte-order mark so that spreadsheet
software opens Indonesian and accented text correctly. It is written as the load goes,
so it is complete even (especially) when the load is refused.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from onemap.core.errors import LoadError
from onemap.load.validate import Reject


def rejects_path(requested: Path, source: Path) -> Path:
    """The file to write: ``requested``, or ``<source stem>.rejects.csv`` inside a folder."""
    requested = Path(requested)
    if requested.is_dir():
        return requested / f"{source.name.split('.')[0]}.rejects.csv"
    return requested


class RejectsFile:
    """A CSV of refused and dropped rows, written incrementally."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self._fh = path.open("w", encoding="utf-8-sig", newline="")
        except OSError as exc:
            raise LoadError(f"{path}: cannot write the rejects file ({exc.strerror})") from exc
        self._writer = csv.writer(self._fh)
        self._writer.writerow(["row", "field", "value", "reason"])
        self.count = 0

    def write(self, rejects: Iterable[Reject]) -> None:
        """Append problems (rows are numbered as the user sees them)."""
        for r in rejects:
            self._writer.writerow(
                [r.row, r.field or "", "" if r.value is None else r.value, r.reason]
            )
            self.count += 1

    def close(self) -> None:
        """Flush and close."""
        self._fh.close()
