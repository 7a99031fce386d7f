"""What a Shapefile needs before GDAL reads it: its encoding, and whether it is whole.

**Encoding.** A ``.cpg`` beside the ``.dbf`` names the encoding, and GDAL honours it.
Without one, GDAL falls back to the DBF header's language-driver byte, and then to
ISO-8859-1. Offices in Indonesia mostly hand over DBFs written by Windows software in
code page 1252 (a superset of Latin-1 that also has the en dash of "Jalan Pemuda –
Kauman") with no ``.cpg`` and a zero or "ANSI" language byte; read as ISO-8859-1 the dash
becomes a control character. So when there is no ``.cpg`` and the language byte is
0 or one of Windows' ANSI codes, the records are sniffed: valid UTF-8 (QGIS output whose
``.cpg`` got lost) is read as UTF-8, anything else as CP1252.

**Truncation.** The ``.shp`` header records the file length; a copy cut short (a failed
download, a full USB stick) is refused with both sizes instead of yielding rows whose
geometry silently reads as NULL.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path, PurePosixPath

from onemap.core.errors import LoadError

# DBF language-driver ids that mean "Windows ANSI" (or nothing): sniff instead.
_ANSI_LDIDS = {0x00, 0x03, 0x57, 0x58, 0x59}
_SNIFF_BYTES = 4 << 20


class ShapefileParts:
    """The files that make up one Shapefile, plain or inside a zip archive."""

    def __init__(self, shp: Path, member: str | None = None):
        self.shp = shp  # the .shp on disk, or the zip archive holding it
        self.member = member  # path of the .shp inside the zip

    def _sibling(self, suffix: str) -> str | Path | None:
        if self.member is None:
            for candidate in (self.shp.with_suffix(suffix), self.shp.with_suffix(suffix.upper())):
                if candidate.exists():
                    return candidate
            return None
        stem = PurePosixPath(self.member).with_suffix("")
        names = {n.lower(): n for n in zipfile.ZipFile(self.shp).namelist()}
        return names.get(f"{stem}{suffix}".lower())

    def _open(self, part: str | Path):
        if self.member is None:
            return Path(part).open("rb")
        return zipfile.ZipFile(self.shp).open(str(part))

    def _size(self, part: str | Path) -> int:
        if self.member is None:
            return Path(part).stat().st_size
        return zipfile.ZipFile(self.shp).getinfo(str(part)).file_size

    @property
    def label(self) -> str:
        """How to name the .shp in messages."""
        return str(self.shp) if self.member is None else f"{self.shp} ({self.member})"

    def check_complete(self) -> None:
        """Refuse a .shp shorter than its header says, or a Shapefile without .shx/.dbf."""
        shp = self.shp if self.member is None else self.member
        with self._open(shp) as fh:
            header = fh.read(100)
        if len(header) < 100 or struct.unpack(">i", header[:4])[0] != 9994:
            raise LoadError(f"{self.label}: not a Shapefile (the .shp header is missing or broken)")
        declared = struct.unpack(">i", header[24:28])[0] * 2
        actual = self._size(shp)
        if actual < declared:
            raise LoadError(
                f"{self.label}: the .shp is truncated ({actual} of the {declared} bytes its "
                "header declares); copy or export it again"
            )
        for suffix, what in ((".shx", "index"), (".dbf", "attribute table")):
            if self._sibling(suffix) is None:
                raise LoadError(
                    f"{self.label}: the {suffix} {what} is missing; "
                    "a Shapefile needs its .shp, .shx and .dbf together (zip them all)"
                )

    def encoding(self) -> str | None:
        """The encoding to read the .dbf with, or None to let GDAL decide (.cpg, LDID)."""
        if self._sibling(".cpg") is not None:
            return None
        dbf = self._sibling(".dbf")
        if dbf is None:
            return None
        with self._open(dbf) as fh:
            head = fh.read(32)
            if len(head) < 32:
                return None
            header_len = struct.unpack("<H", head[8:10])[0]
            fh.read(max(0, header_len - 32))
            records = fh.read(_SNIFF_BYTES)
        if head[29] not in _ANSI_LDIDS:
            return None  # a DOS or other code page GDAL maps from the language byte
        if all(b < 0x80 for b in records):
            return None
        try:
            records.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(records) - 4:  # not merely a character cut by the sniff limit
                return "CP1252"
        return "UTF-8"
