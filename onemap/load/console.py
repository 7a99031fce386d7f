"""What ``onemap load``, ``onemap history`` and ``onemap rollback`` print (rich tables)."""

from __future__ import annotations

from collections import Counter, defaultdict

from rich.console import Console
from rich.table import Table

from onemap.core.errors import UserError
from onemap.core.layers import Layer
from onemap.core.terminal import Column, fitted_tables
from onemap.load.history import Run

DETAIL_LABELS = {
    "repaired": "invalid geometries repaired (make_valid)",
    "z_dropped": "Z/M coordinates dropped (storage is 2D)",
    "promoted_to_multi": "single geometries made Multi",
    "collections_reduced": "geometry collections reduced to the layer's type",
    "empty_dropped": "rows without geometry dropped",
    "unchanged": "rows identical to the published ones (left as they were)",
    "archived": "row versions moved to history",
    "encoding": "attribute encoding",
    "raster_cells": "raster cells classified",
    "in_place": "replaced in place (something depends on the table)",
    "osm_ways_skipped": "OSM ways skipped (highway not a road of the layer)",
    "osm_pieces_split": "OSM pieces added by splitting ways at shared nodes",
    "osm_pieces_outside": "OSM pieces outside the region (clipped away)",
    "survey_gaps": "gaps in a link's surveyed chainage",
    "survey_overlaps": "overlaps in a link's surveyed chainage",
}


def extra_options(layer: Layer, args: list[str]) -> dict[str, str]:
    """``--flood-type rob`` style arguments: constant values for fields of the layer."""
    out: dict[str, str] = {}
    names = {f.name for f in layer.fields}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise UserError(f"unexpected argument '{arg}'")
        name, _, value = arg[2:].partition("=")
        if not value:
            if i + 1 >= len(args):
                raise UserError(f"{arg} needs a value")
            value, i = args[i + 1], i + 1
        field = name.replace("-", "_")
        if field not in names:
            known = ", ".join(f"--{n.replace('_', '-')}" for n in sorted(names))
            raise UserError(
                f"no such option: {arg}; field values for layer '{layer.id}' can be given "
                f"as {known}"
            )
        out[field] = value
        i += 1
    return out


def load_summary(console: Console, res, path) -> None:
    """The outcome of a load: counts, what was changed, and the refused rows by reason."""
    console.print(
        f"{res.layer}: {res.mode} — {res.rows_loaded} of {res.rows_read} rows published from "
        f"{path} (run {res.load_id}; {res.rows_rejected} rejected, "
        f"{res.rows_dropped} dropped, {res.rows_repaired} geometries repaired)",
        highlight=False,
    )
    sources = res.details.get("sources") or {}
    if sources:  # where the rows say they came from (onemap.core.provenance)
        listed = "; ".join(f"{s} ({n})" for s, n in sorted(sources.items()))
        console.print(f"source: {listed}", highlight=False)
    notes = {k: v for k, v in res.details.items() if k in DETAIL_LABELS and v}
    derived = res.details.get("derived") or {}
    not_derived = res.details.get("not_derived") or {}
    if notes or derived or not_derived:
        table = Table("what", "count", title="changes made on the way", title_justify="left")
        for key, value in notes.items():
            table.add_row(DETAIL_LABELS[key], str(value))
        for name, n in derived.items():
            table.add_row(f"{name} filled from the geometry", str(n))
        for name, why in not_derived.items():
            table.add_row(f"{name} not derived: {why}", "–")
        console.print(table)
    rejects_summary(console, res.rejects)
    if res.rejects_file is not None:
        console.print(f"every refused or dropped row is listed in {res.rejects_file}")


def rejects_summary(console: Console, rejects: list) -> None:
    """Refused rows grouped by field and reason, with the first rows of each."""
    if not rejects:
        return
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in rejects:
        groups[(r.field or "", _general(r.reason))].append(r.row)
    table = Table(
        "field", "reason", "rows", "first rows", title="refused rows", title_justify="left"
    )
    counts = Counter({k: len(v) for k, v in groups.items()})
    for (field, reason), n in counts.most_common(15):
        first = ", ".join(str(row) for row in groups[(field, reason)][:5])
        table.add_row(field, reason, str(n), first)
    console.print(table)
    detail = Table("row", "field", "value", "reason", title="first refused rows")
    for r in rejects[:10]:
        detail.add_row(str(r.row), r.field or "", r.value or "", r.reason)
    console.print(detail)


def _general(reason: str) -> str:
    """A reason without the row-specific part (the key in 'duplicate key …')."""
    if reason.startswith("duplicate key"):
        return "duplicate key"
    if reason.startswith("key '") and "already published" in reason:
        return "key already published (append)"
    if reason.startswith("geometry type "):
        return reason.split(":")[0]
    return reason


HISTORY_FIELDS = (
    "run", "started", "mode", "file", "read", "loaded", "rejected", "status", "who", "note",
)  # fmt: skip


def history_rows(runs: list[Run]) -> list[dict[str, object]]:
    """``onemap history`` as records: full values, for ``--format csv|json`` and the table."""
    rows = []
    for r in runs:
        status = f"{r.status} (published now)" if r.current else r.status
        if r.pruned:
            status += " (version pruned)"
        note = r.message or ""
        if r.restored_from:
            note = f"restored the version of run {r.restored_from}" + (f"; {note}" if note else "")
        values = (
            r.load_id,
            r.started_at.astimezone().isoformat(timespec="seconds"),
            r.mode,
            r.source_file,
            r.rows_read,
            r.rows_loaded,
            r.rows_rejected,
            status,
            r.who,
            note,
        )
        rows.append(dict(zip(HISTORY_FIELDS, values, strict=True)))
    return rows


def history_tables(layer: Layer, runs: list[Run], width: int = 80) -> list[Table]:
    """``onemap history``: one line per run, newest first, the published one marked; fits
    ``width`` (file, status and note wrap; too many columns make a second table)."""
    wrap = {"file", "status", "who", "note"}
    numbers = {"run", "read", "loaded", "rejected"}
    columns = [
        Column(f, justify="right" if f in numbers else "left", wrap=f in wrap)
        for f in HISTORY_FIELDS
    ]
    cells = []
    for record in history_rows(runs):
        record["started"] = str(record["started"]).replace("T", " ")[:19]
        cells.append([_n(v) for v in record.values()])
    return fitted_tables(f"runs of {layer.id} (newest first)", columns, cells, width)


def _n(v: object) -> str:
    return "" if v is None else str(v)
