"""The physical limit of a load: COPY of rows encoded in advance, then the GiST index.

What PostgreSQL alone needs to take a file's rows on this machine: the rows onemap would
COPY (validated and binary-encoded by onemap's own code, ``encode_rows``) are written
to a file beforehand, untimed; the timed part is ``psql`` creating a table shaped like
the layer (no CHECK constraints, no indexes) and ``\\copy``-ing that file into it in the
same transaction (as onemap's stage and ogr2ogr's table: a new, logged table), then
``CREATE INDEX … USING gist (geom)``. No reading of the source, no validation, no
primary key, no swap, no history: no loader that checks its rows can be faster, so
onemap's features/s over it says how much of the machine's speed onemap leaves unused.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.common import WORK
from onemap.core.settings import find_pg_bin

TABLE = "bench.{dataset}_limit"


def table(dataset: str) -> str:
    """Where the limit's COPY writes ``dataset``."""
    return TABLE.format(dataset=dataset)


def encoded_file(layer_id: str, path: Path) -> Path:
    """``path``'s rows as onemap's binary COPY data (header to trailer), written once.

    Streamed batch by batch (memory stays that of one batch); a stamp beside the output
    records the input's size and time, so a regenerated input is encoded anew.
    """
    out = WORK / f"{path.stem}.pgcopy"
    stamp = out.with_name(out.name + ".json")
    st = path.stat()
    want = {"input": path.name, "size": st.st_size, "mtime": st.st_mtime, "layer": layer_id}
    if out.exists() and stamp.exists() and json.loads(stamp.read_text()) == want:
        return out
    from onemap.core.city import get_city
    from onemap.core.layers import get_layer
    from onemap.load.encode import HEADER, TRAILER
    from onemap.load.source import iter_batches, open_source
    from onemap.load.validate import BatchValidator, encode_rows

    layer = get_layer(layer_id)
    src = open_source(path)
    validator = BatchValidator(
        layer, src.columns, src.crs, get_city(), str(path), default_source=lambda: path.name
    )
    tmp = out.with_name(f".tmp-{out.name}")
    with tmp.open("wb") as f:
        f.write(HEADER)
        for first_row, attrs, wkb in iter_batches(src, 50_000):
            good = validator.validate(first_row, attrs, wkb).good
            f.write(memoryview(encode_rows(layer, good, 0)))
        f.write(TRAILER)
    tmp.rename(out)
    stamp.write_text(json.dumps(want))
    return out


def script(dataset: str, layer_id: str, columns: list[str], data: Path) -> Path:
    """The psql script the limit runs (a file: ``\\copy`` must be a line of its own)."""
    target = table(dataset)
    cols = ", ".join(f'"{c}"' for c in columns)  # the layer's own field names, fixed
    text = "\n".join(
        [
            f"DROP TABLE IF EXISTS {target};",
            "BEGIN;",
            f"CREATE TABLE {target} (LIKE onemap.{layer_id} INCLUDING DEFAULTS);",
            f"ALTER TABLE {target} ADD COLUMN _row integer;",
            f"\\copy {target} ({cols}) FROM '{data}' WITH (FORMAT binary)",
            "COMMIT;",
            f"CREATE INDEX ON {target} USING gist (geom);",
            "",
        ]
    )
    out = WORK / f"limit-{data.stem}.sql"  # per input: two benchmarks may run side by side
    out.write_text(text)
    return out


def command(dataset: str, layer_id: str, path: Path, conninfo: str) -> list[str]:
    """The timed command: psql running ``script`` (the password travels in PGPASSWORD)."""
    from onemap.core.layers import get_layer
    from onemap.load.validate import copy_columns

    columns = copy_columns(get_layer(layer_id))[0]
    sql_file = script(dataset, layer_id, columns, encoded_file(layer_id, path))
    psql = find_pg_bin() / "psql"
    return [str(psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", str(sql_file)]
