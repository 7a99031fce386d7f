"""Validate a batch against a layer: attributes, keys, geometry; collect what is refused.

A row with any problem is refused as a whole, and every problem is reported with row,
field, value and reason. Rows with no geometry at all are dropped and reported, but do
not count against the layer's reject ratio (a Shapefile's null-shape records are not an
error in the data that is there). Columns are converted with Arrow kernels
(``onemap.load.attributes``) and geometries with shapely (``onemap.load.geometry``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyproj import CRS

from onemap.core.city import City
from onemap.core.layers import Layer
from onemap.load.attributes import ARROW_TYPES, Problem, convert, map_columns
from onemap.load.derive import Boundaries, Deriver
from onemap.load.encode import copy_binary, multi_headers
from onemap.load.geometry import FAMILY_TYPES, GeometryChecker
from onemap.load.hilbert import KEY

PG_TYPES = {
    "text": "text",
    "integer": "int4",
    "real": "float8",
    "date": "date",
    "timestamp": "timestamptz",
    "boolean": "bool",
}


@dataclass(frozen=True)
class Reject:
    """One problem with one input row."""

    row: int
    field: str | None
    value: str | None
    reason: str


@dataclass
class Checked:
    """The outcome of one batch: rows to COPY, refused rows, dropped rows."""

    good: pa.Table
    rejects: list[Reject]
    dropped: list[Reject]
    rows: int
    rows_rejected: int
    rows_dropped: int


def copy_columns(layer: Layer) -> tuple[list[str], list[str]]:
    """Column names and PostgreSQL types of the COPY into a layer's staging table
    (``_row``: the row number the user sees, for messages about duplicate keys)."""
    names = [f.name for f in layer.fields] + ["source", "load_id", "geom", "_row"]
    types = [PG_TYPES[f.type] for f in layer.fields] + ["text", "int8", "geometry", "int4"]
    return names, types


def encode_rows(layer: Layer, good: pa.Table, load_id: int) -> pa.Buffer:
    """Binary COPY data for validated rows (``Checked.good``) of run ``load_id``."""
    names, pg_types = copy_columns(layer)
    heads = {}
    if layer.geometry.type.startswith("Multi"):
        multi = good.column("_multi").to_numpy()
        if multi.any():
            code = FAMILY_TYPES[layer.geometry_family][1]
            heads[names.index("geom")] = multi_headers(multi, code)
    table = good.drop_columns([c for c in ("_multi", KEY) if c in good.column_names]).add_column(
        len(layer.fields) + 1, "load_id", pa.array(np.full(good.num_rows, load_id), pa.int64())
    )
    return copy_binary(table, pg_types, heads)


class BatchValidator:
    """Validates batches of one source against one layer."""

    def __init__(
        self,
        layer: Layer,
        columns: list[str],
        src_crs: CRS,
        city: City,
        filename: str,
        *,
        constants: dict[str, str] | None = None,
        geometry_columns: tuple[str, ...] = (),
        published: Callable[[list], dict] | None = None,
        default_source: Callable[[], str],
        boundaries: Callable[[str], Boundaries | None] = lambda _layer: None,
    ):
        self.layer = layer
        self.default_source = default_source
        self.constants = constants or {}
        self.mapping = map_columns(layer, columns, filename, self.constants)
        self.source_col = next((c for c in columns if c.lower() == "source"), None)
        self.geometry_columns = [c for c in geometry_columns if c in columns]
        self.geometry = GeometryChecker(layer, src_crs, city)
        self.derived = Deriver(layer, city, boundaries)
        self.published = published

    @property
    def counts(self) -> dict[str, int]:
        """Geometry counts so far (repaired, z_dropped, promoted_to_multi, …), and the
        rows whose derived fields were filled."""
        return self.geometry.counts.as_dict() | self.derived.details

    def validate(self, first_row: int, attrs: pa.RecordBatch, wkb: pa.Array) -> Checked:
        """Check one batch; ``first_row`` is the number the user sees for its first row."""
        n = attrs.num_rows
        rows = np.arange(first_row, first_row + n)
        problems: list[Problem] = []
        out: dict[str, pa.Array] = {}
        for f in self.layer.fields:
            raw = _column(attrs, self.mapping.get(f.name), n)
            if f.name in self.constants:
                raw = pc.fill_null(raw.cast(pa.large_string()), self.constants[f.name])
            value = convert(f, raw, problems)
            out[f.name] = value.cast(ARROW_TYPES[f.type])
            if (f.required or f.name == self.layer.primary_key) and not f.derive:
                empty = pc.is_null(value).to_numpy(zero_copy_only=False)
                empty &= pc.is_null(_as_nullable_text(raw)).to_numpy(zero_copy_only=False)
                problems.append(Problem(empty, f.name, None, f"required field '{f.name}' is empty"))
        self._check_published(out[self.layer.primary_key], problems)
        out["source"] = self._source(attrs, n)
        out["geom"], promote, keys = self.geometry.check(wkb, self._geometry_text(attrs), problems)
        self.derived.apply(out, out["geom"], problems)
        for f in self.derived.fields:
            if f.required:
                empty = pc.is_null(out[f.name]).to_numpy(zero_copy_only=False)
                why = f"required field '{f.name}' is empty and not derivable from the geometry"
                problems.append(Problem(empty, f.name, None, why))
        out["_multi"] = pa.array(promote)
        out[KEY] = pa.array(keys)
        out["_row"] = pa.array(rows, pa.int32())
        return _split(pa.table(out), rows, problems)

    def _source(self, attrs: pa.RecordBatch, n: int) -> pa.Array:
        """The file's own source column where filled, else the load's default (asked for
        only when needed: the file's checksum is still being computed)."""
        if not self.source_col:
            return pa.array([self.default_source()] * n, pa.large_string())
        text = pc.utf8_trim_whitespace(attrs.column(self.source_col).cast(pa.large_string()))
        text = pc.if_else(pc.equal(text, ""), None, text)
        if text.null_count == 0:
            return text
        return pc.fill_null(text, self.default_source())

    def _geometry_text(self, attrs: pa.RecordBatch) -> pa.Array | None:
        """For a CSV: the text the geometry came from (WKT, or 'lon, lat'), for messages."""
        if not self.geometry_columns:
            return None
        parts = [
            pc.utf8_trim_whitespace(attrs.column(c).cast(pa.large_string()))
            for c in self.geometry_columns
        ]
        parts = [pc.if_else(pc.equal(p, ""), None, p) for p in parts]
        if len(parts) == 1:
            return parts[0]
        anything = pc.or_(*[pc.is_valid(p) for p in parts])
        joined = pc.binary_join_element_wise(
            *[pc.fill_null(p, "") for p in parts], pa.scalar(", ", pa.large_string())
        )
        return pc.if_else(anything, joined, None)

    def _check_published(self, keys: pa.Array, problems: list[Problem]) -> None:
        """In append mode, refuse keys that are already published.

        Duplicates within the file are found by PostgreSQL when it builds the stage's
        unique index (``onemap.load.stage.duplicates``): no per-key work here.
        """
        if self.published is None:
            return
        values = keys.to_pylist()
        fresh = [k for k in values if k is not None]
        known = self.published(fresh) if fresh else {}
        if known:
            taken = np.array([k in known for k in values], dtype=bool)
            why = np.full(len(values), "", dtype=object)
            why[taken] = [
                f"key '{k}' is already published (run {known[k]}); --mode append only adds "
                "new keys, use --mode upsert to update them"
                for k in np.asarray(values, dtype=object)[taken]
            ]
            problems.append(Problem(taken, self.layer.primary_key, keys, why))


def _column(attrs: pa.RecordBatch, name: str | None, n: int) -> pa.Array:
    if name is None:
        return pa.nulls(n, pa.large_string())
    col = attrs.column(name)
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def _as_nullable_text(raw: pa.Array) -> pa.Array:
    if pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type):
        text = pc.utf8_trim_whitespace(raw)
        return pc.if_else(pc.equal(text, ""), None, text)
    return raw


def _split(table: pa.Table, rows: np.ndarray, problems: list[Problem]) -> Checked:
    """Separate good rows from refused and dropped ones, materialising only the problems."""
    n = table.num_rows
    refused = np.zeros(n, dtype=bool)
    dropped = np.zeros(n, dtype=bool)
    rejects: list[Reject] = []
    drops: list[Reject] = []
    for p in problems:
        idx = np.flatnonzero(p.mask)
        if not len(idx):
            continue
        (refused if p.counts else dropped)[idx] = True
        values = [None] * len(idx) if p.values is None else p.values.take(idx).to_pylist()
        for j, i in enumerate(idx):
            value = values[j]
            text = None if value is None else str(value)[:200]
            reason = p.reason if isinstance(p.reason, str) else str(p.reason[i])
            (rejects if p.counts else drops).append(Reject(int(rows[i]), p.field, text, reason))
    dropped &= ~refused
    drops = [d for d in drops if not refused[d.row - rows[0]]]
    rejects.sort(key=lambda r: r.row)
    drops.sort(key=lambda r: r.row)
    keep = ~(refused | dropped)
    good = table if keep.all() else table.filter(pa.array(keep))
    return Checked(good, rejects, drops, n, int(refused.sum()), int(dropped.sum()))
