"""Map source columns onto a layer's fields and validate a batch, column by column.

Work is vectorised (pandas for attributes, shapely 2 for geometry) so a batch of
50,000 rows costs milliseconds, not a Python loop per row. A row with any problem is
rejected as a whole; every problem is reported with row, field, value and reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from onemap.city import City
from onemap.errors import LoadError
from onemap.layers import Layer, LayerField, normalise_token

# shapely type ids (shapely.GeometryType) accepted per family, single and multi.
FAMILY_TYPES = {"point": (0, 4), "line": (1, 5), "polygon": (3, 6)}
TRUE = {"true", "t", "1", "ya", "y", "yes", "benar"}
FALSE = {"false", "f", "0", "tidak", "n", "no", "salah"}


@dataclass(frozen=True)
class Reject:
    """One problem with one input row."""

    row: int
    field: str | None
    value: str | None
    reason: str


def map_columns(layer: Layer, columns: list[str], filename: str) -> dict[str, str]:
    """field name -> source column, matched case-insensitively by name or synonym."""
    by_norm = {normalise_token(c): c for c in columns}
    mapping: dict[str, str] = {}
    for f in layer.fields:
        for candidate in (f.name, *f.source_names):
            col = by_norm.get(normalise_token(candidate))
            if col is not None:
                mapping[f.name] = col
                break
    missing = [f.name for f in layer.fields if f.required and f.name not in mapping]
    if missing:
        looked = "; ".join(f"{n}: {', '.join((n, *layer.field(n).source_names))}" for n in missing)
        raise LoadError(
            f"{filename}: no column for required field(s) {', '.join(missing)} of layer "
            f"'{layer.id}' (looked for {looked}); "
            f"the file has columns: {', '.join(columns) or 'none'}"
        )
    return mapping


class BatchValidator:
    """Validates batches of one source against one layer; remembers keys across batches."""

    def __init__(self, layer: Layer, columns: list[str], src_crs: CRS, city: City, filename: str):
        self.layer = layer
        self.city = city
        self.mapping = map_columns(layer, columns, filename)
        self.source_col = next((c for c in columns if c.lower() == "source"), None)
        target = CRS.from_epsg(layer.geometry.srid)
        self.to_storage = (
            None
            if src_crs.equals(target)
            else Transformer.from_crs(src_crs, target, always_xy=True)
        )
        self.to_lonlat = (
            None
            if target.equals(CRS.from_epsg(4326))
            else Transformer.from_crs(target, CRS.from_epsg(4326), always_xy=True)
        )
        self.seen_keys: dict[str, int] = {}  # key -> row where it was first seen
        self.repaired = 0

    def validate(
        self, first_row: int, attrs: pd.DataFrame, geoms: np.ndarray
    ) -> tuple[pd.DataFrame, list[Reject]]:
        """Return the good rows (fields + source + geom as shapely) and the rejects."""
        n = len(attrs)
        rows = np.arange(first_row, first_row + n)
        out = pd.DataFrame(index=attrs.index)
        problems: list[tuple[np.ndarray, str, pd.Series | None, str | pd.Series]] = []
        for f in self.layer.fields:
            raw = (
                attrs[self.mapping[f.name]]
                if f.name in self.mapping
                else pd.Series([None] * n, index=attrs.index, dtype="object")
            )
            value, bad = _convert(f, raw, problems)
            out[f.name] = value
            if f.required or f.name == self.layer.primary_key:
                empty = value.isna().to_numpy() & ~bad
                problems.append((empty, f.name, None, f"required field '{f.name}' is empty"))
        self._check_keys(out, rows, problems)
        if self.source_col:
            src = attrs[self.source_col].astype("string").str.strip()
            out["source"] = src.fillna(self.layer.default_source).replace(
                "", self.layer.default_source
            )
        else:
            out["source"] = self.layer.default_source
        out["geom"] = self._geometry(geoms, problems)

        bad_any = np.zeros(n, dtype=bool)
        rejects: list[Reject] = []
        for mask, fname, vals, reason in problems:
            idx = np.flatnonzero(mask)
            if not len(idx):
                continue
            bad_any[idx] = True
            for i in idx:
                value = None if vals is None else _text(vals.iloc[i])
                why = reason if isinstance(reason, str) else str(reason.iloc[i])
                rejects.append(Reject(int(rows[i]), fname, value, why))
        rejects.sort(key=lambda r: r.row)
        return out[~bad_any], rejects

    def _check_keys(self, out: pd.DataFrame, rows: np.ndarray, problems: list) -> None:
        """Refuse a key seen in an earlier row (earlier batches, then this batch)."""
        keys = out[self.layer.primary_key].astype("string")
        present = keys.notna().to_numpy()
        arr = keys.to_numpy(dtype=object, na_value=None)
        seen = self.seen_keys
        dup = present & (
            np.fromiter(map(seen.__contains__, arr), dtype=bool, count=len(arr))
            | keys.duplicated().to_numpy()
        )
        reasons = pd.Series("", index=keys.index, dtype="object")
        if dup.any():
            first_here = pd.Series(rows, index=keys.index).groupby(keys).transform("min")
            for i in np.flatnonzero(dup):
                first = seen.get(arr[i], first_here.iloc[i])
                reasons.iloc[i] = f"duplicate key '{arr[i]}' (first at row {first})"
        new = present & ~dup
        seen.update(zip(arr[new], rows[new].tolist(), strict=True))
        problems.append((dup, self.layer.primary_key, keys, reasons))

    def _geometry(self, geoms: np.ndarray, problems: list) -> np.ndarray:
        layer, city = self.layer, self.city
        wkt = pd.Series(shapely.to_wkt(geoms, rounding_precision=6, trim=True)).str.slice(0, 80)
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        problems.append((missing, "geometry", None, "missing, empty or unreadable geometry"))
        geoms = shapely.force_2d(geoms)  # Z and M are dropped: storage is 2D
        fam = FAMILY_TYPES[layer.geometry_family]
        type_ids = shapely.get_type_id(geoms)
        invalid = ~missing & ~shapely.is_valid(geoms)
        if invalid.any():
            fixed = shapely.make_valid(geoms[invalid])
            geoms[invalid] = [_keep_family(g, fam) for g in fixed]
            self.repaired += int(invalid.sum())
            type_ids = shapely.get_type_id(geoms)
        wrong = ~missing & ~np.isin(type_ids, fam)
        problems.append(
            (
                wrong,
                "geometry",
                wkt,
                f"geometry type not allowed: layer '{layer.id}' takes {layer.geometry.type}",
            )
        )
        ok = ~missing & ~wrong
        if self.to_storage is not None and ok.any():
            geoms[ok] = shapely.transform(geoms[ok], _xy(self.to_storage))
        lonlat = geoms.copy()
        if self.to_lonlat is not None and ok.any():
            lonlat[ok] = shapely.transform(lonlat[ok], _xy(self.to_lonlat))
        b = shapely.bounds(lonlat)
        inside = ~ok | city.contains_bounds_array(b)
        swapped = ~inside & city.contains_bounds_array(b[:, [1, 0, 3, 2]])
        problems.append(
            (swapped, "geometry", wkt, "coordinates look swapped (lat/lon instead of lon/lat)")
        )
        problems.append(
            (
                ~inside & ~swapped,
                "geometry",
                wkt,
                f"outside {city.name} (beyond {city.extent_margin_deg}° of the city bbox): "
                "wrong CRS or wrong coordinates?",
            )
        )
        return geoms


def _xy(transformer: Transformer):
    def fn(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return fn


def _keep_family(geom, type_ids: tuple[int, int]):
    """After make_valid, keep only the parts of the layer's geometry family."""
    if shapely.get_type_id(geom) in type_ids:
        return geom
    parts = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) in type_ids]
    if not parts:
        return geom
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]


def _text(v) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return None
    return str(v)[:200]


def _convert(f: LayerField, raw: pd.Series, problems: list) -> tuple[pd.Series, np.ndarray]:
    """Coerce one column to the field's type; record type, domain and range problems."""
    present = raw.notna() & (raw.astype("string").str.strip() != "")
    present = present.fillna(False).to_numpy(dtype=bool)
    if f.type in ("integer", "real"):
        num = pd.to_numeric(raw, errors="coerce")
        bad = present & num.isna().to_numpy()
        if f.type == "integer":
            frac = num.notna().to_numpy() & ((num % 1) != 0).fillna(False).to_numpy(dtype=bool)
            bad |= frac
            value = num.where(~pd.Series(bad, index=raw.index)).astype("Int64")
        else:
            value = num.where(~pd.Series(bad, index=raw.index)).astype("Float64")
        problems.append(
            (bad, f.name, raw, f"not a {'whole ' if f.type == 'integer' else ''}number")
        )
        for limit, op, word in ((f.minimum, np.less, "below"), (f.maximum, np.greater, "above")):
            if limit is not None:
                out = op(value.to_numpy(dtype=float, na_value=np.nan), limit)
                kind = "minimum" if word == "below" else "maximum"
                unit = f" {f.unit}" if f.unit else ""
                problems.append((out, f.name, raw, f"{word} the allowed {kind} {limit:g}{unit}"))
        return value, bad
    if f.type == "date":
        text = raw.astype("string").str.strip().str.slice(0, 10)
        parsed = pd.to_datetime(text, errors="coerce", format="mixed", dayfirst=True)
        bad = present & parsed.isna().to_numpy()
        problems.append((bad, f.name, raw, "not a date (use YYYY-MM-DD)"))
        return parsed.dt.date.astype("object").where(parsed.notna(), None), bad
    if f.type == "boolean":
        norm = raw.astype("string").str.strip().str.lower()
        value = norm.map(lambda v: True if v in TRUE else False if v in FALSE else None)
        bad = present & value.isna().to_numpy()
        problems.append((bad, f.name, raw, "not a yes/no value"))
        return value, bad
    text = raw.astype("string").str.strip().where(pd.Series(present, index=raw.index))
    bad = np.zeros(len(raw), dtype=bool)
    if f.values:
        lookup = f.lookup()
        uniques = {u: lookup.get(normalise_token(u)) for u in text.dropna().unique()}
        value = text.map(uniques, na_action="ignore")
        bad = present & value.isna().to_numpy()
        problems.append(
            (bad, f.name, raw, f"unknown value for '{f.name}'; allowed: {', '.join(f.allowed)}")
        )
        return value.astype("string"), bad
    if f.pattern:
        nomatch = present & ~text.str.fullmatch(f.pattern).fillna(False).to_numpy(dtype=bool)
        problems.append((nomatch, f.name, raw, f"does not match the pattern {f.pattern}"))
        bad |= nomatch
    return text, bad
