"""Binary COPY encoding (onemap.load.encode), decoded back by the format's own rules.

No database: the decoder below follows PostgreSQL's documentation of ``COPY … (FORMAT
binary)`` (per row a 16-bit field count; per field a 32-bit length, -1 for NULL, then the
value in the type's binary send form), so a wrong length, byte order or epoch shows as
a wrong value here, not as a load that fails later.
"""

from __future__ import annotations

import datetime as dt
import math
import struct

import pyarrow as pa
import pytest
import shapely

from onemap.load.encode import HEADER, TRAILER, copy_binary, multi_headers
from onemap.load.validate import PG_TYPES

PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _value(raw: bytes, pg_type: str) -> object:
    if pg_type == "int4":
        return struct.unpack(">i", raw)[0]
    if pg_type == "int8":
        return struct.unpack(">q", raw)[0]
    if pg_type == "float8":
        return struct.unpack(">d", raw)[0]
    if pg_type == "bool":
        assert raw in (b"\x00", b"\x01"), raw
        return raw == b"\x01"
    if pg_type == "date":
        return PG_EPOCH.date() + dt.timedelta(days=struct.unpack(">i", raw)[0])
    if pg_type == "timestamptz":
        return PG_EPOCH + dt.timedelta(microseconds=struct.unpack(">q", raw)[0])
    if pg_type == "text":
        return raw.decode("utf-8")
    if pg_type == "geometry":
        return shapely.from_wkb(raw)
    raise AssertionError(pg_type)


def decode(payload: bytes, pg_types: list[str]) -> list[tuple]:
    """The rows of binary COPY tuples (no header, no trailer)."""
    rows, at = [], 0
    while at < len(payload):
        (fields,) = struct.unpack_from(">h", payload, at)
        at += 2
        assert fields == len(pg_types)
        row = []
        for pg_type in pg_types:
            (size,) = struct.unpack_from(">i", payload, at)
            at += 4
            if size == -1:
                row.append(None)
                continue
            assert size >= 0 and at + size <= len(payload)
            row.append(_value(payload[at : at + size], pg_type))
            at += size
        rows.append(tuple(row))
    assert at == len(payload)
    return rows


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, shapely.Geometry):
        return isinstance(b, shapely.Geometry) and shapely.equals_exact(a, b, 0)
    return type(a) is type(b) and a == b


LINE = shapely.LineString([(110.42, -6.99), (110.4205, -6.9905)])
SQUARE = shapely.box(110.40, -7.0, 110.41, -6.99)
UTC = dt.UTC
# PostgreSQL type -> (Arrow array, the Python values PostgreSQL would read)
COLUMNS = {
    "int4": (pa.array([7, None, -2_147_483_648, 2_147_483_647], pa.int32()), None),
    "int8": (pa.array([2**40, -1, None, 0], pa.int64()), None),
    "float8": (pa.array([0.1, None, -0.0, float("nan")], pa.float64()), None),
    "bool": (pa.array([True, False, None, True]), None),
    "date": (
        pa.array([dt.date(2025, 6, 1), dt.date(2000, 1, 1), dt.date(1999, 12, 31), None]),
        None,
    ),
    "timestamptz": (
        pa.array(
            [
                dt.datetime(2025, 6, 1, 3, 0, tzinfo=UTC),
                None,
                dt.datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
                dt.datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
            ],
            pa.timestamp("us", tz="UTC"),
        ),
        None,
    ),
    "text": (pa.array(["Jalan Pemuda – Kauman", "", None, "Café"]), None),
    "geometry": (
        pa.array([shapely.to_wkb(LINE), None, shapely.to_wkb(SQUARE), shapely.to_wkb(LINE)]),
        [LINE, None, SQUARE, LINE],
    ),
}


def _expected(pg_type: str) -> list[object]:
    array, python = COLUMNS[pg_type]
    return python if python is not None else array.to_pylist()


def test_header_and_trailer_are_postgresqls() -> None:
    # signature, 32-bit flags (no OIDs), 32-bit header extension length; trailer: -1 as int16
    assert HEADER == b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    assert TRAILER == struct.pack(">h", -1)


def test_every_type_a_layer_field_can_have_is_encoded() -> None:
    loader_types = set(PG_TYPES.values()) | {"text", "int8", "geometry", "int4"}
    assert loader_types <= set(COLUMNS)


@pytest.mark.parametrize("pg_type", list(COLUMNS))
def test_a_column_decodes_to_what_was_encoded(pg_type) -> None:
    array, _ = COLUMNS[pg_type]
    payload = bytes(copy_binary(pa.table({"c": array}), [pg_type]))
    got = [row[0] for row in decode(payload, [pg_type])]
    expected = _expected(pg_type)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert _same(e, g), (pg_type, e, g)


def test_empty_text_is_not_null() -> None:
    payload = bytes(copy_binary(pa.table({"c": pa.array(["", None])}), ["text"]))
    assert payload == struct.pack(">hi", 1, 0) + struct.pack(">hi", 1, -1)


def test_rows_interleave_every_column_in_order() -> None:
    table = pa.table({t: COLUMNS[t][0] for t in COLUMNS})
    rows = decode(bytes(copy_binary(table, list(COLUMNS))), list(COLUMNS))
    expected = list(zip(*(_expected(t) for t in COLUMNS), strict=True))
    assert len(rows) == len(expected) == 4
    for got, want in zip(rows, expected, strict=True):
        assert all(_same(w, g) for w, g in zip(want, got, strict=True)), (want, got)


def test_sliced_and_chunked_columns_encode_their_own_rows() -> None:
    """A batch is often a slice (validity bitmap not at bit 0) or in several chunks."""
    table = pa.table({t: COLUMNS[t][0] for t in COLUMNS})
    whole = decode(bytes(copy_binary(table, list(COLUMNS))), list(COLUMNS))
    sliced = decode(bytes(copy_binary(table.slice(1, 3), list(COLUMNS))), list(COLUMNS))
    assert len(sliced) == 3
    for got, want in zip(sliced, whole[1:], strict=True):
        assert all(_same(w, g) for w, g in zip(want, got, strict=True))
    batch = pa.RecordBatch.from_pydict({t: COLUMNS[t][0] for t in COLUMNS}).slice(1, 3)
    assert batch.column(0).offset == 1  # a batch's columns are not re-based on the way in
    assert bytes(copy_binary(batch, list(COLUMNS))) == bytes(
        copy_binary(table.slice(1, 3), list(COLUMNS))
    )
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1, 2), table.slice(3)])
    assert chunked.column(0).num_chunks == 3
    assert bytes(copy_binary(chunked, list(COLUMNS))) == bytes(copy_binary(table, list(COLUMNS)))


def test_an_empty_batch_is_no_bytes() -> None:
    assert bytes(copy_binary(pa.table({"c": pa.array([], pa.int32())}), ["int4"])) == b""


def test_the_full_stream_is_header_rows_trailer() -> None:
    body = bytes(copy_binary(pa.table({"c": pa.array([1, 2], pa.int32())}), ["int4"]))
    stream = HEADER + body + TRAILER
    assert stream[len(HEADER) : -len(TRAILER)] == struct.pack(">hii", 1, 4, 1) + struct.pack(
        ">hii", 1, 4, 2
    )


@pytest.mark.parametrize(
    ("single", "code", "multi"),
    [
        (LINE, 5, shapely.MultiLineString([LINE])),
        (SQUARE, 6, shapely.MultiPolygon([SQUARE])),
        (shapely.Point(110.42, -6.99), 4, shapely.MultiPoint([(110.42, -6.99)])),
    ],
    ids=["line", "polygon", "point"],
)
def test_multi_headers_make_a_one_part_multi(single, code, multi) -> None:
    wkb = pa.array([shapely.to_wkb(single), shapely.to_wkb(single), None])
    heads = multi_headers([True, False, False], code)
    assert heads.to_pylist()[1] == b""
    rows = decode(bytes(copy_binary(pa.table({"g": wkb}), ["geometry"], {0: heads})), ["geometry"])
    got = [r[0] for r in rows]
    assert got[0].geom_type == multi.geom_type and shapely.equals_exact(got[0], multi, 0)
    assert shapely.equals_exact(got[1], single, 0)
    assert got[2] is None
