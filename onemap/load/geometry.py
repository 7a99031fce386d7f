"""Check, repair and prepare the geometries of a batch for the layer's typed column.

Vectorised with shapely 2 (GEOS) on whole arrays. What each row gets:

- null or empty geometry: dropped and reported (not counted as a rejection);
- unreadable geometry (bad WKB, a CSV cell that is not WKT): rejected;
- Z or M: dropped to 2D, counted;
- a collection: reduced to the parts of the layer's family;
- invalid (self-intersecting ring…): repaired with ``make_valid``, counted; rejected
  when nothing of the layer's family survives the repair;
- another family than the layer's (a point in a road layer): rejected;
- single part in a Multi layer: promoted (Polygon -> MultiPolygon), counted;
- reprojected to the storage CRS; outside the city (with a margin) or with swapped
  lon/lat: rejected.

Rows whose geometry needs none of that keep the WKB GDAL produced, promoted to Multi
by a 9-byte header the COPY encoder writes before it: no GEOS round trip on the common
path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS, Transformer

from onemap.core.city import City
from onemap.core.layers import Layer
from onemap.load.attributes import Problem
from onemap.load.hilbert import hilbert_keys
from onemap.load.wkb import plain_lines

# shapely type ids (shapely.GeometryType) per family: (single, multi)
FAMILY_TYPES = {"point": (0, 4), "line": (1, 5), "polygon": (3, 6)}
TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}


@dataclass
class GeometryCounts:
    """What the geometry checks changed, summed over the batches of one load."""

    repaired: int = 0
    z_dropped: int = 0
    promoted_to_multi: int = 0
    collections_reduced: int = 0
    empty_dropped: int = 0

    def as_dict(self) -> dict[str, int]:
        """Non-zero counts, for the run's details."""
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class GeometryChecker:
    """Checks geometries of one source (CRS) against one layer and the city extent."""

    layer: Layer
    src_crs: CRS
    city: City
    counts: GeometryCounts = field(default_factory=GeometryCounts)

    def __post_init__(self) -> None:
        target = CRS.from_epsg(self.layer.geometry.srid)
        wgs84 = CRS.from_epsg(4326)
        self.to_storage = (
            None
            if self.src_crs.equals(target, ignore_axis_order=True)
            else Transformer.from_crs(self.src_crs, target, always_xy=True)
        )
        self.src_to_lonlat = (
            None
            if self.src_crs.equals(wgs84, ignore_axis_order=True)
            else Transformer.from_crs(self.src_crs, wgs84, always_xy=True)
        )
        self.family = FAMILY_TYPES[self.layer.geometry_family]
        self.multi = self.layer.geometry.type.startswith("Multi")
        m, (x0, y0, x1, y1) = self.city.extent_margin_deg, self.city.bbox
        self.grid = (x0 - m, y0 - m, x1 + m, y1 + m)  # the Hilbert keys' extent: what loads

    def check(
        self, wkb: pa.Array, raw_text: pa.Array | None, problems: list[Problem]
    ) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """The storage WKB of every row (rows with problems hold anything: they are dropped),
        the rows whose WKB still needs a Multi header, and each row's Hilbert key
        (``onemap.load.hilbert``)."""
        n = len(wkb)
        fast, fast_bounds = np.zeros(n, dtype=bool), None
        if self.to_storage is None and self.family[0] == 1:  # plain lines: no GEOS needed
            fast, fast_bounds = plain_lines(wkb)
        geoms = np.full(n, None, dtype=object)
        if not fast.all():
            rest = wkb.filter(pa.array(~fast)).to_numpy(zero_copy_only=False)
            geoms[~fast] = shapely.from_wkb(rest, on_invalid="ignore")
        absent = wkb.is_null().to_numpy(zero_copy_only=False)
        unreadable = ~fast & ~absent & shapely.is_missing(geoms)
        empty = ~fast & (absent | (~unreadable & shapely.is_empty(geoms)))
        if raw_text is not None:  # a CSV: a cell that is not WKT is an error, not an empty row
            written = pc.is_valid(raw_text).to_numpy(zero_copy_only=False)
            unreadable |= empty & written
            empty &= ~written
        self.counts.empty_dropped += int(empty.sum())
        problems.append(
            Problem(empty, "geometry", None, "no geometry (null or empty): row dropped", False)
        )
        problems.append(
            Problem(unreadable, "geometry", raw_text, "unreadable geometry (not valid WKB/WKT)")
        )
        ok = ~(empty | unreadable)
        changed = np.zeros(n, dtype=bool)
        self._flatten(geoms, ok, changed)
        self._reduce_collections(geoms, ok, changed)
        type_ids = np.where(fast, self.family[0], shapely.get_type_id(geoms))
        ok &= ~self._repair(geoms, ok & ~fast, changed, type_ids, problems)
        type_ids = np.where(fast, self.family[0], shapely.get_type_id(geoms))
        wrong = ok & ~np.isin(type_ids, self.family)
        if wrong.any():
            reasons = np.full(n, "", dtype=object)
            reasons[wrong] = [
                f"geometry type {TYPE_NAMES.get(t, t)} not allowed: layer '{self.layer.id}' "
                f"takes {self.layer.geometry.type}"
                for t in type_ids[wrong]
            ]
            problems.append(Problem(wrong, "geometry", _wkt(geoms, wrong, wkb), reasons))
        ok &= ~wrong
        bounds = shapely.bounds(geoms)
        if fast_bounds is not None:
            bounds[fast] = fast_bounds[fast]
        lonlat = self._extent(geoms, wkb, bounds, ok, problems)
        if self.to_storage is not None and ok.any():
            geoms[ok] = shapely.transform(geoms[ok], _xy(self.to_storage))
            changed |= ok
        out, promote = self._output(wkb, geoms, ok, changed, type_ids)
        keys = hilbert_keys(
            (lonlat[:, 0] + lonlat[:, 2]) / 2, (lonlat[:, 1] + lonlat[:, 3]) / 2, self.grid
        )
        return out, promote, keys

    def _flatten(self, geoms: np.ndarray, ok: np.ndarray, changed: np.ndarray) -> None:
        """Drop Z and M (storage is 2D)."""
        has_zm = ok & (shapely.has_z(geoms) | _has_m(geoms))
        if has_zm.any():
            geoms[has_zm] = shapely.force_2d(geoms[has_zm])
            self.counts.z_dropped += int(has_zm.sum())
            changed |= has_zm

    def _reduce_collections(self, geoms: np.ndarray, ok: np.ndarray, changed: np.ndarray) -> None:
        """A GeometryCollection keeps the parts of the layer's family (if any)."""
        coll = ok & (shapely.get_type_id(geoms) == 7)
        for i in np.flatnonzero(coll):
            reduced = _keep_family(geoms[i], self.family)
            if reduced is not None:
                geoms[i] = reduced
                changed[i] = True
                self.counts.collections_reduced += 1

    def _repair(
        self,
        geoms: np.ndarray,
        ok: np.ndarray,
        changed: np.ndarray,
        type_ids: np.ndarray,
        problems: list[Problem],
    ) -> np.ndarray:
        """Repair invalid geometries (make_valid); return the rows that could not be."""
        invalid = ok & np.isin(type_ids, self.family) & ~shapely.is_valid(geoms)
        if not invalid.any():
            return invalid
        idx = np.flatnonzero(invalid)
        why = shapely.is_valid_reason(geoms[idx])
        before = _wkt(geoms, invalid)
        fixed = shapely.make_valid(geoms[idx])
        lost = np.zeros(len(geoms), dtype=bool)
        reasons = np.full(len(geoms), "", dtype=object)
        for j, i in enumerate(idx):
            kept = _keep_family(fixed[j], self.family)
            if kept is None or kept.is_empty:
                lost[i] = True
                reasons[i] = (
                    f"invalid geometry ({why[j]}) that cannot be repaired into a "
                    f"{self.layer.geometry_family}"
                )
            else:
                geoms[i] = kept
        changed |= invalid & ~lost
        self.counts.repaired += int((invalid & ~lost).sum())
        problems.append(Problem(lost, "geometry", before, reasons))
        return lost

    def _extent(
        self,
        geoms: np.ndarray,
        wkb: pa.Array,
        b: np.ndarray,
        ok: np.ndarray,
        problems: list[Problem],
    ) -> np.ndarray:
        """Reject what lies outside the city (or looks like lat/lon written as lon/lat);
        the lon/lat bounds."""
        if self.src_to_lonlat is not None:
            b = _bounds_to(self.src_to_lonlat, b)
        inside = ~ok | self.city.contains_bounds_array(b)
        swapped = ~inside & self.city.contains_bounds_array(b[:, [1, 0, 3, 2]])
        outside = ~inside & ~swapped
        crs = self.src_crs.to_string()
        problems.append(
            Problem(
                swapped,
                "geometry",
                _wkt(geoms, swapped, wkb),
                "coordinates look swapped (lat/lon instead of lon/lat)",
            )
        )
        problems.append(
            Problem(
                outside,
                "geometry",
                _wkt(geoms, outside, wkb),
                f"outside {self.city.name} (beyond {self.city.extent_margin_deg}° of the city "
                f"bbox) when read as {crs}: wrong CRS or wrong coordinates?",
            )
        )
        ok &= inside
        return b

    def _output(
        self,
        wkb: pa.Array,
        geoms: np.ndarray,
        ok: np.ndarray,
        changed: np.ndarray,
        type_ids: np.ndarray,
    ) -> tuple[pa.Array, np.ndarray]:
        """WKB per row, and which rows still need a Multi header (``encode.multi_headers``)."""
        single = ok & (type_ids == self.family[0])
        if self.multi:
            self.counts.promoted_to_multi += int(single.sum())
        out = wkb.cast(pa.large_binary())
        slow = ok & changed
        if slow.any():
            g = geoms[slow]
            if self.multi:
                g = _to_multi(g, self.family)
            encoded = np.full(len(geoms), None, dtype=object)
            encoded[slow] = shapely.to_wkb(g)
            out = pc.if_else(pa.array(slow), pa.array(encoded, pa.large_binary()), out)
        promote = single & ~changed if self.multi else np.zeros(len(geoms), dtype=bool)
        return out, promote


def _to_multi(geoms: np.ndarray, family: tuple[int, int]) -> np.ndarray:
    single = shapely.get_type_id(geoms) == family[0]
    if single.any():
        make = {0: shapely.multipoints, 1: shapely.multilinestrings, 3: shapely.multipolygons}
        geoms = geoms.copy()
        k = int(single.sum())
        geoms[single] = make[family[0]](geoms[single], indices=np.arange(k))
    return geoms


def _keep_family(geom, family: tuple[int, int]):
    """The parts of ``geom`` of the layer's family, as one geometry (None if there are none)."""
    if shapely.get_type_id(geom) in family:
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in family]
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    singles = [q for p in parts for q in shapely.get_parts(p)]
    make = {0: shapely.multipoints, 1: shapely.multilinestrings, 3: shapely.multipolygons}
    merged = make[family[0]](singles)
    return shapely.make_valid(merged) if family[0] == 3 else merged


def _has_m(geoms: np.ndarray) -> np.ndarray:
    has_m = getattr(shapely, "has_m", None)
    return has_m(geoms) if has_m else np.zeros(len(geoms), dtype=bool)


def _wkt(geoms: np.ndarray, mask: np.ndarray, wkb: pa.Array | None = None) -> pa.Array:
    """WKT (80 characters) of the masked rows only: the value shown for a rejected geometry
    (rows read without GEOS are parsed here, the few that are rejected)."""
    out = np.full(len(geoms), None, dtype=object)
    if mask.any():
        g = geoms[mask]
        if wkb is not None and shapely.is_missing(g).any():
            g = shapely.from_wkb(
                wkb.filter(pa.array(mask)).to_numpy(zero_copy_only=False), on_invalid="ignore"
            )
        text = shapely.to_wkt(g, rounding_precision=6, trim=True)
        out[mask] = [t[:80] if t else None for t in text]
    return pa.array(out, pa.large_string())


def _xy(transformer: Transformer):
    def fn(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return fn


def _bounds_to(transformer: Transformer, b: np.ndarray) -> np.ndarray:
    """Boxes transformed by their four corners (enough for an extent check)."""
    xs = b[:, [0, 0, 2, 2]].ravel()
    ys = b[:, [1, 3, 1, 3]].ravel()
    with np.errstate(invalid="ignore"):
        x, y = transformer.transform(xs, ys)
    x = np.asarray(x).reshape(-1, 4)
    y = np.asarray(y).reshape(-1, 4)
    return np.column_stack([x.min(1), y.min(1), x.max(1), y.max(1)])
