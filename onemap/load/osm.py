"""Turn an OpenStreetMap extract (``.osm.pbf`` or ``.osm``) into the rows of a layer.

GDAL's OSM driver reads the ways (its ``lines`` layer: ``osm_id``, ``name``, ``highway``,
the other tags as an hstore text in ``other_tags``; https://gdal.org/drivers/vector/osm.html).
The layer file's ``osm:`` block (``onemap.core.source_rules.OsmRules``) says what a way
becomes: ``highway`` → status and function, other tags → coded fields, some tags copied.
Ways whose highway the table does not list (footways, paths…) are skipped and counted.

With ``split_at_intersections`` a way is cut at every node it shares with another way —
OSM's own topology: coordinates shared by two ways are the same node, so a bridge over a
road, which shares none, is not cut. The pieces are clipped to the region (the union of
the ``clip_to`` layer as published, else the city's bbox) and keep the OSM id in their
key: ``w123`` for a whole way, ``w123-2`` for its second piece. The rows then go through
the same validation, staging and publishing as any vector file.

GDAL reads a truncated ``.pbf`` without an error (it stops at the damage, or returns no
ways), so the file's blocks are walked first (``check_pbf``) and a damaged file refused.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
import pyogrio
import shapely
from psycopg import sql
from pyogrio.errors import DataLayerError, DataSourceError
from pyproj import CRS

from onemap.core.city import get_city
from onemap.core.errors import LoadError
from onemap.core.layers import Layer, get_layer
from onemap.db.names import DATA_SCHEMA

OSM_SUFFIXES = (".pbf", ".osm")
SOURCE = "osm"  # the rows' source column, as the layer's synthetic_note names OSM rows
_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
_NUMBER = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(?:m|meter|metre)?\s*$")


def is_osm(path: Path) -> bool:
    """An OSM extract by its name: ``.osm.pbf``, ``.pbf`` or ``.osm``."""
    return Path(path).suffix.lower() in OSM_SUFFIXES


@dataclass
class OsmSource:
    """An OSM extract, read into the layer's rows."""

    path: Path
    crs: CRS
    columns: list[str]
    feature_count: int
    attrs: pa.RecordBatch
    wkb: pa.Array
    details: dict = field(default_factory=dict)
    skipped: Counter = field(default_factory=Counter)
    first_row: int = 1
    geometry_columns: tuple[str, ...] = ()


def open_osm(layer: Layer, path: Path, conn: psycopg.Connection) -> OsmSource:
    """Read the ways of an extract, map their tags, split, clip (see the module doc)."""
    path = Path(path)
    rules = layer.osm
    if rules is None:
        raise LoadError(
            f"{path}: is an OpenStreetMap extract, and layer '{layer.id}' has no osm: block "
            "in its layer file saying how OSM tags map onto its fields"
        )
    if not path.exists():
        raise LoadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: the file is empty")
    if path.suffix.lower() == ".pbf":
        check_pbf(path)
    table, wkb = _read_lines(path)
    highway = table.column("highway").to_pylist()
    keep = np.array([h in rules.highway for h in highway], dtype=bool)
    skipped = Counter(h or "(no highway)" for h, k in zip(highway, keep, strict=True) if not k)
    if not keep.any():
        found = ", ".join(f"{k} {v}" for k, v in skipped.most_common(8))
        raise LoadError(
            f"{path}: none of its {len(highway)} ways has a highway value layer '{layer.id}' "
            f"maps (its osm: block lists {', '.join(rules.highway)}; the file has {found})"
        )
    ways = shapely.from_wkb(np.asarray(wkb.to_pylist(), dtype=object)[keep])
    rows = table.filter(pa.array(keep)).to_pylist()
    if rules.split_at_intersections:
        pieces, owner, part = split_at_shared_nodes(ways)
    else:
        pieces, owner, part = ways, np.arange(len(ways)), np.zeros(len(ways), dtype=int)
    region = region_geometry(conn, rules.clip_to)
    clipped = shapely.intersection(pieces, region)
    lines = np.array([_lines_only(g) for g in clipped], dtype=object)
    inside = np.array([g is not None for g in lines], dtype=bool)
    counts = Counter(owner.tolist())
    attrs = _attributes(layer, rows, owner[inside], part[inside], counts)
    details = {
        "osm_ways": len(highway),
        "osm_ways_skipped": int((~keep).sum()),
        "osm_pieces_split": int(len(pieces) - len(ways)),
        "osm_pieces_outside": int((~inside).sum()),
    }
    return OsmSource(
        path,
        CRS.from_epsg(4326),
        attrs.schema.names,
        attrs.num_rows,
        attrs,
        pa.array(shapely.to_wkb(lines[inside]), pa.binary()),
        details,
        skipped,
    )


def osm_batches(src: OsmSource, batch_size: int) -> Iterator[tuple[int, pa.RecordBatch, pa.Array]]:
    """The rows in batches, as ``onemap.load.source.iter_batches`` yields a file's."""
    for start in range(0, src.attrs.num_rows, batch_size):
        attrs = src.attrs.slice(start, batch_size)
        yield src.first_row + start, attrs, src.wkb.slice(start, batch_size)


def _read_lines(path: Path) -> tuple[pa.Table, pa.Array]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            meta, table = pyogrio.read_arrow(
                path, layer="lines", columns=["osm_id", "name", "highway", "other_tags"]
            )
    except (DataSourceError, DataLayerError) as exc:
        raise LoadError(
            f"{path}: not an OpenStreetMap extract GDAL can read ({_first_line(exc)})"
        ) from exc
    if table.num_rows == 0:
        raise LoadError(f"{path}: the extract holds no ways")
    geom = meta["geometry_name"] or "wkb_geometry"
    return table.drop_columns([geom]), table.column(geom).combine_chunks()


def check_pbf(path: Path) -> None:
    """Walk the blocks of an OSM PBF file; refuse one that is cut short or not PBF.

    Each block is a 4-byte big-endian header length, a ``BlobHeader`` (protobuf: field 1
    the type, field 3 the blob's size) and the blob (https://wiki.openstreetmap.org/wiki/PBF_Format).
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        pos, blocks = 0, 0
        while pos < size:
            head = fh.read(4)
            if len(head) < 4:
                raise _damaged(path, pos, blocks, "a block header is cut short")
            n = int.from_bytes(head, "big")
            if n == 0 or n > 64 * 1024:
                raise _damaged(path, pos, blocks, "not an OSM PBF block header")
            header = fh.read(n)
            if len(header) < n:
                raise _damaged(path, pos, blocks, "a block header is cut short")
            kind, datasize = _blob_header(header)
            if kind is None or datasize is None:
                raise _damaged(path, pos, blocks, "not an OSM PBF block header")
            if blocks == 0 and kind != "OSMHeader":
                raise _damaged(path, pos, blocks, f"the first block is '{kind}', not OSMHeader")
            pos += 4 + n + datasize
            if pos > size:
                raise _damaged(path, pos, blocks, "the file ends inside a data block")
            fh.seek(pos)
            blocks += 1


def _damaged(path: Path, pos: int, blocks: int, why: str) -> LoadError:
    return LoadError(
        f"{path}: not a complete OSM PBF file ({why}, after {blocks} blocks at byte {pos}); "
        "download or export the extract again"
    )


def _blob_header(buf: bytes) -> tuple[str | None, int | None]:
    """(type, datasize) of a BlobHeader; None where the bytes are not one."""
    i, kind, datasize = 0, None, None
    try:
        while i < len(buf):
            key, i = _varint(buf, i)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, i = _varint(buf, i)
                if number == 3:
                    datasize = value
            elif wire == 2:
                length, i = _varint(buf, i)
                if number == 1:
                    kind = buf[i : i + length].decode("ascii")
                i += length
            else:
                return None, None
    except (IndexError, UnicodeDecodeError):
        return None, None
    return kind, datasize


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if not b & 0x80:
            return value, i
        shift += 7


def split_at_shared_nodes(ways: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut each line at its inner vertices that another line also has.

    Returns the pieces, the index of the way each came from and its piece number (0…).
    """
    coords, owner = shapely.get_coordinates(ways, return_index=True)
    _, node = np.unique(coords, axis=0, return_inverse=True)
    node = node.ravel()
    pairs = np.unique(np.column_stack([node, owner]), axis=0)
    shared = np.bincount(pairs[:, 0], minlength=node.max() + 1 if len(node) else 0) > 1
    pieces, owners, parts = [], [], []
    starts = np.searchsorted(owner, np.arange(len(ways)))
    ends = np.append(starts[1:], len(owner))
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        cuts = [a] + [j for j in range(a + 1, b - 1) if shared[node[j]]] + [b - 1]
        for k, (c0, c1) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
            pieces.append(shapely.linestrings(coords[c0 : c1 + 1]))
            owners.append(i)
            parts.append(k)
    return np.array(pieces, dtype=object), np.array(owners, dtype=int), np.array(parts, dtype=int)


def region_geometry(conn: psycopg.Connection, clip_to: str | None) -> shapely.Geometry:
    """The union of the published ``clip_to`` layer (WGS 84), else the city's bbox."""
    if clip_to is not None:
        get_layer(clip_to)  # an unknown layer id is a mistake in the layer file: say so
        query = sql.SQL("SELECT ST_AsBinary(ST_Transform(ST_Union(geom), 4326)) FROM {}").format(
            sql.Identifier(DATA_SCHEMA, clip_to)
        )
        try:
            with conn.transaction():
                row = conn.execute(query).fetchone()
        except psycopg.errors.UndefinedTable:
            row = None
        if row and row[0] is not None:
            return shapely.from_wkb(bytes(row[0]))
    return shapely.box(*get_city().bbox)


def _lines_only(g: shapely.Geometry) -> shapely.Geometry | None:
    """The line parts of a clipped piece (a touch at the boundary leaves a point)."""
    if g is None or g.is_empty:
        return None
    parts = [p for p in shapely.get_parts(g) if p.geom_type == "LineString" and p.length > 0]
    if not parts:
        return None
    return shapely.multilinestrings(parts)


def _attributes(
    layer: Layer, rows: list[dict], owner: np.ndarray, part: np.ndarray, counts: Counter
) -> pa.RecordBatch:
    rules = layer.osm
    assert rules is not None
    names = [f.name for f in layer.fields]
    cols: dict[str, list] = {n: [] for n in names}
    cols["source"] = []
    numeric = {f.name for f in layer.fields if f.type in ("real", "integer")}
    for i, k in zip(owner.tolist(), part.tolist(), strict=True):
        way = rows[i]
        tags = dict(_HSTORE.findall(way["other_tags"] or ""))
        tags.update({"name": way["name"], "highway": way["highway"]})
        values: dict[str, object] = dict(rules.highway[way["highway"]])
        for name, by_tag in rules.tags.items():
            for tag, table in by_tag.items():
                if tags.get(tag) in table:
                    values[name] = table[tags[tag]]
                    break
        for name, tag in rules.copy_tags.items():
            text = tags.get(tag)
            values[name] = _number(text) if name in numeric else text
        key = f"{rules.key_prefix}{way['osm_id']}"
        values[layer.primary_key] = key if counts[i] == 1 else f"{key}-{k + 1}"
        for n in names:
            cols[n].append(None if values.get(n) is None else str(values[n]))
        cols["source"].append(SOURCE)
    return pa.RecordBatch.from_pydict({n: pa.array(v, pa.large_string()) for n, v in cols.items()})


def _number(text: str | None) -> str | None:
    """An OSM width ('7', '7 m', '3,5'): the number in metres; other units, nothing."""
    m = _NUMBER.match(text or "")
    return m.group(1).replace(",", ".") if m else None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
