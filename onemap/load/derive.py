"""Fields that follow from the geometry (``derive:`` in the layer file).

A derived field is filled from the geometry when the file lacks it (no column, or an
empty cell) and checked when the file has it; a mismatch refuses the row with the
reason ("kode_kec 33.74.01 but the geometry lies in 33.74.05"). Boundary codes come
from the published boundary layer (``admin_kecamatan``, ``admin_kelurahan``): the unit
holding the geometry's point on surface; a given code is accepted when its unit holds
that point or at least touches the geometry (a zone across a border may carry either
code). Measures (area, length) are planar in the city's metric CRS (config/city.yaml
``metric_crs``) and accepted within the rule's relative tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import psycopg
import pyarrow as pa
import shapely
from psycopg import sql
from pyproj import Transformer

from onemap.core.city import City
from onemap.core.derive_rules import BOUNDARY_RULES, MEASURE_RULES
from onemap.core.layers import Layer, LayerField, load_layers
from onemap.db.names import DATA_SCHEMA
from onemap.load.attributes import ARROW_TYPES, Problem


@dataclass
class Boundaries:
    """The units of a boundary layer: codes, polygons (in the loaded layer's CRS), index."""

    layer: str
    codes: np.ndarray
    geoms: np.ndarray
    tree: shapely.STRtree = field(init=False)
    by_code: dict[str, object] = field(init=False)

    def __post_init__(self) -> None:
        self.tree = shapely.STRtree(self.geoms)
        self.by_code = dict(zip(self.codes.tolist(), self.geoms, strict=True))


def read_boundaries(conn: psycopg.Connection, layer_id: str, srid: int) -> Boundaries | None:
    """The published units of ``layer_id`` in ``srid`` (None: not enabled, or empty)."""
    boundary = load_layers().get(layer_id)
    if boundary is None:
        return None
    query = sql.SQL("SELECT {k}, ST_AsBinary(ST_Transform(geom, %s)) FROM {t}").format(
        k=sql.Identifier(boundary.primary_key), t=sql.Identifier(DATA_SCHEMA, layer_id)
    )
    try:
        rows = conn.execute(query, (srid,)).fetchall()
    except psycopg.errors.UndefinedTable:
        return None
    if not rows:
        return None
    codes = np.array([r[0] for r in rows], dtype=object)
    return Boundaries(layer_id, codes, shapely.from_wkb([bytes(r[1]) for r in rows]))


class Deriver:
    """Fills and checks the derived fields of one layer, batch by batch."""

    def __init__(
        self, layer: Layer, city: City, boundaries: Callable[[str], Boundaries | None]
    ) -> None:
        self.fields = [f for f in layer.fields if f.derive]
        self.boundaries: dict[str, Boundaries | None] = {}
        for f in self.fields:
            lid = BOUNDARY_RULES.get(f.derive.rule)
            if lid is not None and lid not in self.boundaries:
                self.boundaries[lid] = boundaries(lid)
        metric = Transformer.from_crs(layer.geometry.srid, city.metric_crs, always_xy=True)
        self.to_metric = metric.transform
        self.filled: dict[str, int] = {}
        self.unavailable: dict[str, str] = {}

    @property
    def details(self) -> dict:
        """For the run's details: rows filled per field, and fields that could not be."""
        out: dict = {}
        if self.filled:
            out["derived"] = dict(self.filled)
        if self.unavailable:
            out["not_derived"] = dict(self.unavailable)
        return out

    def apply(self, out: dict[str, pa.Array], wkb: pa.Array, problems: list[Problem]) -> None:
        """Fill and check ``out``'s derived fields from the storage geometries ``wkb``."""
        if not self.fields:
            return
        geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False), on_invalid="ignore")
        usable = ~shapely.is_missing(geoms)
        usable[usable] = ~shapely.is_empty(geoms[usable])
        for f in self.fields:
            rule = f.derive.rule
            if rule in BOUNDARY_RULES:
                units = self.boundaries[BOUNDARY_RULES[rule]]
                if units is None:
                    self.unavailable[f.name] = f"{BOUNDARY_RULES[rule]} is not loaded"
                    continue
                out[f.name] = self._code(f, units, out[f.name], geoms, usable, problems)
            else:
                out[f.name] = self._measure(f, out[f.name], geoms, usable, problems)

    def _fill(self, f: LayerField, given: list, derived: list) -> pa.Array:
        missing = [g is None and d is not None for g, d in zip(given, derived, strict=True)]
        if any(missing):
            self.filled[f.name] = self.filled.get(f.name, 0) + sum(missing)
        values = [d if m else g for g, d, m in zip(given, derived, missing, strict=True)]
        if f.type == "integer":
            values = [None if v is None else round(v) for v in values]
        return pa.array(values, ARROW_TYPES[f.type])

    def _code(self, f, units, column, geoms, usable, problems) -> pa.Array:
        derived: list = [None] * len(geoms)
        points = shapely.point_on_surface(geoms[usable])
        rows = np.flatnonzero(usable)
        found, unit = units.tree.query(points, predicate="within")
        for i, u in zip(found, unit, strict=True):
            if derived[rows[i]] is None:  # on a shared border: the first unit
                derived[rows[i]] = units.codes[u]
        given = column.to_pylist()
        bad = np.zeros(len(geoms), dtype=bool)
        why = np.full(len(geoms), "", dtype=object)
        for i, (g, d) in enumerate(zip(given, derived, strict=True)):
            if g is None or not usable[i] or g == d:
                continue
            named = units.by_code.get(g)
            if named is None:
                bad[i], why[i] = True, f"{f.name} {g} is not a code of {units.layer}"
            elif d is not None and not shapely.intersects(named, geoms[i]):
                bad[i], why[i] = True, f"{f.name} {g} but the geometry lies in {d}"
        problems.append(Problem(bad, f.name, column, why))
        return self._fill(f, given, derived)

    def _measure(self, f, column, geoms, usable, problems) -> pa.Array:
        family, factor = MEASURE_RULES[f.derive.rule]
        values = np.full(len(geoms), np.nan)
        if usable.any():
            metric = shapely.transform(geoms[usable], self._xy)
            size = shapely.area(metric) if family == "polygon" else shapely.length(metric)
            values[usable] = size * factor
        given = column.to_pylist()
        g = np.array([np.nan if v is None else v for v in given], dtype=float)
        tol = f.derive.tolerance
        with np.errstate(invalid="ignore"):
            # an integer field may hold a rounded measure
            bad = np.abs(g - values) > tol * values + (0.5 if f.type == "integer" else 0.0)
        bad &= ~np.isnan(g) & ~np.isnan(values)
        unit = f" {f.unit}" if f.unit else ""
        why = np.full(len(geoms), "", dtype=object)
        why[bad] = [
            f"{f.name} {gv:g}{unit} but the geometry measures {mv:.6g}{unit} "
            f"(more than {tol:.0%} apart)"
            for gv, mv in zip(g[bad], values[bad], strict=True)
        ]
        problems.append(Problem(bad, f.name, column, why))
        derived = [None if np.isnan(v) else float(v) for v in values]
        return self._fill(f, given, derived)

    def _xy(self, coords: np.ndarray) -> np.ndarray:
        x, y = self.to_metric(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])
