"""Client values checked against the columns' types before any SQL is built.

PostgreSQL casts a query's text values to the column's type only when it runs the
statement, so ``?iri=abc`` or the CQL2 filter ``condition = 5`` used to reach the database
and come back as a 500 (``invalid input syntax for type double precision``, ``operator does
not exist: text = integer``). Here each value is checked first and a mismatch raises
``QueryValueError``, whose message names the property (the provider answers it with 400).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping

import shapely.geometry
from pygeofilter import ast, values
from shapely.validation import explain_validity
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Numeric, String

# PostgreSQL's bigint; OFFSET and integer columns cannot hold more.
MAX_BIGINT = 2**63 - 1
INT_RANGES = {"smallint": 2**15 - 1, "integer": 2**31 - 1, "bigint": MAX_BIGINT}
# Plain decimal notation as both Python and PostgreSQL read it (no "1_0", no "٣").
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", re.ASCII)
INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([Zz]|[+-]\d{2}:\d{2})?", re.ASCII
)
NUMERIC_KINDS = ("number", "smallint", "integer", "bigint")


class QueryValueError(ValueError):
    """A client value that does not fit its property (the message says which)."""


def column_kind(sa_type: object) -> str | None:
    """The kind of value a column holds, or None where onemap does not check it."""
    if isinstance(sa_type, Boolean):
        return "boolean"
    if isinstance(sa_type, Integer):
        name = type(sa_type).__name__.lower()
        return "smallint" if "small" in name else "bigint" if "big" in name else "integer"
    if isinstance(sa_type, Float | Numeric):
        return "number"
    if isinstance(sa_type, DateTime):
        return "datetime"
    if isinstance(sa_type, Date):
        return "date"
    if isinstance(sa_type, String):
        return "string"
    if type(sa_type).__name__ in ("Geometry", "Geography"):  # geoalchemy2
        return "geometry"
    return None


def column_kinds(columns: Iterable) -> dict[str, str | None]:
    """{column name: kind} of a SQLAlchemy table's columns."""
    return {c.name: column_kind(c.type) for c in columns}


def text_fits(kind: str | None, text: str) -> bool:
    """Whether PostgreSQL reads ``text`` as a value of a column of this kind."""
    if kind == "number":
        return bool(NUMBER.fullmatch(text)) and math.isfinite(float(text))
    if kind in INT_RANGES:
        return bool(INTEGER.fullmatch(text)) and abs(int(text)) <= INT_RANGES[kind]
    if kind == "boolean":
        return text.lower() in ("true", "false", "t", "f", "1", "0", "yes", "no")
    try:
        if kind == "date":
            return bool(DATE.fullmatch(text)) and dt.date.fromisoformat(text) is not None
        if kind == "datetime":
            ok = DATETIME.fullmatch(text)
            return bool(ok) and bool(dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00")))
    except ValueError:
        return False
    return True


WHAT = {
    "number": "a number",
    "smallint": "an integer",
    "integer": "an integer",
    "bigint": "an integer",
    "boolean": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "datetime": "a date-time (RFC 3339)",
    "string": "text",
    "geometry": "a geometry",
}


def check_properties(properties: Iterable[tuple[str, object]], kinds: Mapping) -> None:
    """``?name=value`` filters: each value must be readable as its column's type."""
    for name, value in properties:
        kind = kinds.get(name)
        if not text_fits(kind, str(value)):
            raise QueryValueError(f"{name} must be {WHAT[kind]}, not {str(value)[:40]!r}")


def _literal_kind(value: object) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise QueryValueError(f"filter: {value} is not a finite number")
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, values.Geometry):
        _check_geometry(value.geometry)
        return "geometry"
    if isinstance(value, values.Envelope):
        return "geometry"
    return None


def _check_geometry(geojson: dict) -> None:
    """A filter geometry PostGIS can read and GEOS can compare (valid, finite)."""
    try:
        shape = shapely.geometry.shape(geojson)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise QueryValueError(f"filter: malformed {geojson.get('type')} geometry ({exc})") from exc
    if not shape.is_empty and not math.isfinite(sum(shape.bounds)):
        raise QueryValueError("filter: geometry coordinates must be finite numbers")
    if not shape.is_valid:
        raise QueryValueError(f"filter: invalid {shape.geom_type} ({explain_validity(shape)})")


def _compatible(a: str | None, b: str | None, other: object) -> bool:
    """Whether values of kinds ``a`` (a column) and ``b`` can be compared in SQL."""
    if a is None or b is None or a == b:
        return True
    if a in NUMERIC_KINDS and b in NUMERIC_KINDS:
        return True
    if {a, b} <= {"date", "datetime"}:
        return True
    if b == "string" and isinstance(other, str):  # PostgreSQL casts a quoted literal
        return text_fits(a, other)
    return False


class FilterChecker:
    """Walks a parsed CQL2 filter and raises ``QueryValueError`` on a type mismatch."""

    def __init__(self, kinds: Mapping[str, str | None]) -> None:
        self.kinds = kinds

    def kind(self, node: object) -> str | None:
        """The kind of an expression (and the check of everything below it)."""
        if isinstance(node, ast.Attribute):
            return self.kinds.get(node.name)
        if isinstance(node, ast.Arithmetic):
            for side in (node.lhs, node.rhs):
                if self.kind(side) not in (*NUMERIC_KINDS, None):
                    raise QueryValueError(f"filter: arithmetic on non-number {self._name(side)}")
            return "number"
        if isinstance(node, ast.Node):
            self.check(node)
            return None
        return _literal_kind(node)

    @staticmethod
    def _name(node: object) -> str:
        return node.name if isinstance(node, ast.Attribute) else repr(node)[:40]

    def _pair(self, lhs: object, rhs: object) -> None:
        left, right = self.kind(lhs), self.kind(rhs)
        if isinstance(rhs, ast.Attribute) and not isinstance(lhs, ast.Attribute):
            lhs, rhs, left, right = rhs, lhs, right, left
        if not _compatible(left, right, rhs):
            raise QueryValueError(
                f"filter: {self._name(lhs)} is {WHAT.get(left, left)} and cannot be compared "
                f"with {self._name(rhs)}"
            )

    def check(self, node: object) -> None:
        """Raise ``QueryValueError`` where a comparison mixes types PostgreSQL cannot."""
        if isinstance(node, ast.Comparison | ast.SpatialComparisonPredicate):
            self._pair(node.lhs, node.rhs)
        elif isinstance(node, ast.Between):
            self._pair(node.lhs, node.low)
            self._pair(node.lhs, node.high)
        elif isinstance(node, ast.In):
            for item in node.sub_nodes:
                self._pair(node.lhs, item)
        elif isinstance(node, ast.Like | ast.TemporalPredicate | ast.BBox):
            self._operand(node)
        elif isinstance(node, ast.Node):
            for sub in node.get_sub_nodes():
                self.kind(sub)

    def _operand(self, node: ast.Like | ast.TemporalPredicate | ast.BBox) -> None:
        """LIKE on text, temporal operators on dates, BBOX on a geometry."""
        kind = self.kind(node.lhs)
        if isinstance(node, ast.Like):
            if kind not in ("string", None) or not isinstance(node.pattern, str):
                raise QueryValueError(f"filter: LIKE needs text, not {self._name(node.lhs)}")
        elif isinstance(node, ast.TemporalPredicate):
            if kind not in ("date", "datetime", None):
                raise QueryValueError(f"filter: {self._name(node.lhs)} is not a date or time")
            self.kind(node.rhs)
        else:
            if kind not in ("geometry", None):
                raise QueryValueError(f"filter: {self._name(node.lhs)} is not a geometry")
            box = (node.minx, node.miny, node.maxx, node.maxy)
            if not all(isinstance(v, int | float) and math.isfinite(v) for v in box):
                raise QueryValueError("filter: BBOX needs four finite numbers")


def check_filter(node: object, kinds: Mapping[str, str | None]) -> None:
    """Check a parsed CQL2 filter (``QueryValueError`` naming the property on a mismatch)."""
    try:
        FilterChecker(kinds).check(node)
    except RecursionError as exc:
        raise QueryValueError("filter: nested too deeply") from exc


# Deepest JSON nesting accepted in a request body: a CQL2 JSON filter with a multipolygon
# inside a few logical operators stays well below; Python's own parsers stop near 1000.
MAX_JSON_DEPTH = 64


def json_nesting(doc: object) -> int:
    """How deeply arrays and objects nest in a parsed JSON document (without recursion)."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return deepest


def set_geometry_srid(node: object, srid: int) -> None:
    """Give every geometry literal of a parsed filter the storage SRID as an EPSG URN.

    pygeoapi tags filter geometries with the storage CRS URI (``…/OGC/1.3/CRS84``) and
    pygeofilter's SQLAlchemy backend takes the text after ``::`` as the SRID, so every
    spatial filter on a CRS84 collection became ``SRID=http://…;POLYGON(…)``: a 500.
    """
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, values.Geometry):
            item.geometry["crs"] = {"properties": {"name": f"urn:ogc:def:crs:EPSG::{srid}"}}
        elif isinstance(item, ast.Node):
            stack.extend(item.get_sub_nodes())
