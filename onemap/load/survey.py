"""Turn a road-condition survey by link and chainage into condition segments of a layer.

Road agencies survey per link (ruas) and chainage (STA, metres from the link's start, often
written km+m: ``1+200``), per 100 m or 200 m, with IRI, SDI and a condition class (Bina
Marga / IRMS practice). ``onemap load road_condition survey.csv --network road_condition``
cuts each row's piece out of the published network link with ``ST_LineSubstring``
(``sql/survey_segments.sql``), measured in the city's metric CRS, and carries the link's
other fields (name, status, function…) onto it. The layer file's ``survey:`` block
(``onemap.core.source_rules.SurveyRules``) names the link field, the carried fields and
the IRI/SDI bands that give a class to a row without one (docs/standards.md §2.2, §2.8).

Rows whose link is unknown, whose chainage is unreadable, reversed or past the link's
length (beyond the tolerance) are rejects with the reason. Gaps and overlaps in a link's
chainage are reported (the run's details and the load summary), not refused: a survey
that skips a bridge is normal, and the indicators only count what was surveyed.
"""

from __future__ import annotations

import bisect
import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import psycopg
import pyarrow as pa
from psycopg import sql
from pyproj import CRS

from onemap.core.city import get_city
from onemap.core.errors import LoadError
from onemap.core.layers import Layer, get_layer, normalise_token
from onemap.core.source_rules import SurveyRules
from onemap.db.names import DATA_SCHEMA
from onemap.load.validate import Reject

# Column names surveys use (IRMS/PKRMS exports, Indonesian spreadsheets), besides the
# layer fields' own names and synonyms.
LINK_NAMES = ("link", "link_id", "link_no", "no_ruas", "nomor_ruas", "kode_ruas", "ruas")
FROM_NAMES = ("sta_from", "sta_awal", "sta_dari", "dari_sta", "from_m", "km_awal", "from")
TO_NAMES = ("sta_to", "sta_akhir", "sta_sampai", "sampai_sta", "to_m", "km_akhir", "to")
SDI_NAMES = ("sdi", "nilai_sdi")
_STA = re.compile(r"^\s*(\d+)\s*\+\s*(\d+(?:[.,]\d+)?)\s*$")  # 1+200 or 1+200.5
_METRES = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*$")
GAP_TOLERANCE_M = 1.0  # chainage written to the metre: smaller steps are rounding
REPORTED_CHAINAGE_PROBLEMS = 50  # gaps/overlaps listed in the run's details


@dataclass
class SurveySource:
    """A survey, cut into the layer's rows; the rows it refused already, with reasons."""

    path: Path
    crs: CRS
    columns: list[str]
    feature_count: int
    attrs: pa.RecordBatch
    wkb: pa.Array
    rows: np.ndarray  # the CSV line of each good row
    rejects: list[Reject]
    read: int
    details: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    geometry_columns: tuple[str, ...] = ()


def open_survey(
    layer: Layer, path: Path, network_id: str, conn: psycopg.Connection
) -> SurveySource:
    """Read the survey, cut its pieces out of the network, classify (see the module doc)."""
    path = Path(path)
    rules = layer.survey
    if rules is None:
        raise LoadError(
            f"{path}: --network loads a survey by link and chainage, and layer '{layer.id}' "
            "has no survey: block in its layer file"
        )
    network = get_layer(network_id)
    link_field = (
        rules.link_field if rules.link_field in network.field_names else network.primary_key
    )
    carry = [c for c in rules.carry if c in network.field_names]
    header, lines = _read_table(path)
    cols = _columns(layer, rules, network, link_field, header, path)
    rejects: list[Reject] = []
    parsed = []
    for row_no, rec in lines:
        row = _parse(rules, cols, rec, row_no, rejects)
        if row is not None:
            parsed.append(row)
    pieces = _cut(conn, network, link_field, carry, parsed)
    good, chainage = [], {}
    for p, (known, single, length, parts, wkb, *carried) in zip(parsed, pieces, strict=True):
        why = _refusal(p, known, single, length, parts, rules.tolerance_m, network_id)
        if why:
            rejects.append(Reject(p["row"], cols[why[0]], *why[1:]))  # as the file names it
            continue
        p["to"] = min(p["to"], length)
        chainage.setdefault(p["link"], (length, []))[1].append((p["from"], p["to"], p["row"]))
        good.append((p, bytes(wkb), dict(zip(carry, carried, strict=True))))
    rejects.sort(key=lambda r: r.row)
    attrs, wkbs, rows = _attributes(layer, rules, good, path.name)
    warnings = chainage_problems(chainage)
    details = {
        "survey_links": len(chainage),
        "survey_gaps": sum(" gap " in w for w in warnings),
        "survey_overlaps": sum(" overlap " in w for w in warnings),
    }
    if warnings:
        details["survey_chainage"] = warnings[:REPORTED_CHAINAGE_PROBLEMS]
    return SurveySource(
        path, CRS.from_epsg(4326), attrs.schema.names, len(lines), attrs, wkbs, rows,
        rejects, len(lines), details, warnings,
    )  # fmt: skip


def survey_batches(
    src: SurveySource, batch_size: int
) -> Iterator[tuple[int, pa.RecordBatch, pa.Array]]:
    """Runs of consecutive good rows, so that every row keeps its CSV line number."""
    n = len(src.rows)
    start = 0
    while start < n:
        end = start + 1
        while end < n and end - start < batch_size and src.rows[end] == src.rows[end - 1] + 1:
            end += 1
        yield (
            int(src.rows[start]),
            src.attrs.slice(start, end - start),
            src.wkb.slice(start, end - start),
        )
        start = end


def fmt_sta(metres: float) -> str:
    """Chainage as surveyors write it: 1250 m → '1+250'."""
    km, m = divmod(round(metres), 1000)
    return f"{km}+{m:03d}"


def parse_sta(text: str | None) -> float | None:
    """'1+250', '1+250.5', '1250' or '1250.5' → metres; anything else → None."""
    m = _STA.match(text or "")
    if m:
        return int(m.group(1)) * 1000 + float(m.group(2).replace(",", "."))
    m = _METRES.match(text or "")
    return float(m.group(1).replace(",", ".")) if m else None


def classify(rules: SurveyRules, iri: float | None, sdi: float | None) -> str | None:
    """The worse of the IRI and SDI classes (a value on a bound is in the worse class)."""
    idx = [
        bisect.bisect_right(bins, v)
        for v, bins in ((iri, rules.iri_bins), (sdi, rules.sdi_bins))
        if v is not None and bins
    ]
    return rules.classes[max(idx)] if idx else None


def chainage_problems(chainage: dict[str, tuple[float, list]]) -> list[str]:
    """Gaps (including an unsurveyed start or end) and overlaps, per link."""
    out = []
    for link, (length, spans) in sorted(chainage.items()):
        at = 0.0
        for lo, hi, row in sorted(spans):
            if lo > at + GAP_TOLERANCE_M:
                out.append(f"{link}: gap {fmt_sta(at)}–{fmt_sta(lo)} ({lo - at:.0f} m)")
            elif lo < at - GAP_TOLERANCE_M:
                out.append(
                    f"{link}: overlap {fmt_sta(lo)}–{fmt_sta(min(hi, at))} "
                    f"({min(hi, at) - lo:.0f} m, row {row})"
                )
            at = max(at, hi)
        if at < length - GAP_TOLERANCE_M:
            out.append(
                f"{link}: gap {fmt_sta(at)}–{fmt_sta(length)} ({length - at:.0f} m, not surveyed)"
            )
    return out


def _read_table(path: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    """Header and (line number, record) of a CSV; ``,``, ``;`` or tab separated."""
    if not path.exists():
        raise LoadError(f"{path}: no such file")
    raw = path.read_bytes()
    if not raw.strip():
        raise LoadError(f"{path}: the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")  # a spreadsheet saved as "CSV" on Windows
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = next(reader, [])
    records = [
        (i, dict(zip(header, rec, strict=False)))
        for i, rec in enumerate(reader, start=2)
        if any(v.strip() for v in rec)
    ]
    if not records:
        raise LoadError(f"{path}: the survey has a header and no rows")
    return header, records


def _columns(layer, rules, network, link_field, header, path) -> dict[str, str | None]:
    by_norm = {normalise_token(c): c for c in reversed(header)}

    def find(names, required=None):
        for n in names:
            if normalise_token(n) in by_norm:
                return by_norm[normalise_token(n)]
        if required:
            raise LoadError(
                f"{path}: no column for the {required} (looked for {', '.join(names)}); "
                f"the file has columns: {', '.join(header)}"
            )
        return None

    def names_of(lyr, fname):
        return (fname, *lyr.field(fname).source_names) if fname else ()

    return {
        "link": find((*names_of(network, link_field), *LINK_NAMES), "link id"),
        "from": find(FROM_NAMES, "chainage where a row starts (STA from)"),
        "to": find(TO_NAMES, "chainage where a row ends (STA to)"),
        "iri": find(names_of(layer, rules.iri_field)),
        "sdi": find(SDI_NAMES),
        "class": find(names_of(layer, rules.field)),
        "date": find(names_of(layer, rules.date_field)),
    }


def _parse(rules, cols, rec, row_no, rejects) -> dict | None:
    def get(key):
        name = cols[key]
        value = rec.get(name, "").strip() if name else ""
        return value or None

    link, f, t = get("link"), get("from"), get("to")
    if link is None:
        rejects.append(Reject(row_no, cols["link"], None, "no link id"))
        return None
    sta = {}
    for key, text in (("from", f), ("to", t)):
        sta[key] = parse_sta(text)
        if sta[key] is None:
            why = f"STA {key} '{text or ''}' is not a chainage (metres, or km+m as in 1+200)"
            rejects.append(Reject(row_no, cols[key], text, why))
            return None
    if sta["to"] <= sta["from"]:
        why = f"STA to {fmt_sta(sta['to'])} is not after STA from {fmt_sta(sta['from'])}"
        rejects.append(Reject(row_no, cols["to"], t, why))
        return None
    iri, sdi = _number(get("iri")), _number(get("sdi"))
    condition = get("class") or classify(rules, iri, sdi)
    if condition is None:
        why = "no condition class, and no IRI or SDI to classify the row by"
        rejects.append(Reject(row_no, cols["class"] or rules.field, None, why))
        return None
    return {
        "row": row_no, "link": link, "from": sta["from"], "to": sta["to"],
        "iri": get("iri"), "condition": condition, "date": get("date"),
    }  # fmt: skip


def _number(text: str | None) -> float | None:
    try:
        return float(text.replace(",", ".")) if text else None
    except ValueError:
        return None  # the loader's check of the IRI field refuses the row with its reason


def _cut(conn, network: Layer, link_field: str, carry: list[str], parsed: list[dict]) -> list:
    template = (resources.files("onemap.load") / "sql" / "survey_segments.sql").read_text("utf-8")
    text = "\n".join(ln for ln in template.splitlines() if not ln.lstrip().startswith("--"))
    query = sql.SQL(text).format(
        network=sql.Identifier(DATA_SCHEMA, network.id),
        link=sql.Identifier(link_field),
        srid=sql.Literal(get_city().metric_crs),
        carry=sql.SQL("").join(
            sql.SQL(", {c}::text AS {c}").format(c=sql.Identifier(c)) for c in carry
        ),
        carry_out=sql.SQL("").join(sql.SQL(", m.{}").format(sql.Identifier(c)) for c in carry),
    )
    params = (
        [p["row"] for p in parsed],
        [p["link"] for p in parsed],
        [p["from"] for p in parsed],
        [p["to"] for p in parsed],
    )
    try:
        with conn.transaction():
            rows = conn.execute(query, params).fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise LoadError(
            f"--network {network.id}: the layer is not built yet (onemap db up)"
        ) from exc
    return [r[1:] for r in rows]


def _refusal(p, known, single, length, parts, tolerance, network_id) -> tuple | None:
    """(field, value, reason) when the row cannot be placed on its link."""
    if not known:
        return "link", p["link"], f"unknown link '{p['link']}' (not in layer '{network_id}')"
    if not single:
        return (
            "link",
            p["link"],
            (
                f"link '{p['link']}' is not one continuous line ({parts} parts), so chainage "
                "along it is undefined"
            ),
        )
    if p["from"] >= length:
        return (
            "from",
            fmt_sta(p["from"]),
            f"STA from {fmt_sta(p['from'])} is at or past the end of link '{p['link']}' "
            f"({length:.0f} m long)",
        )
    if p["to"] > length + tolerance:
        return (
            "to",
            fmt_sta(p["to"]),
            (
                f"STA to {fmt_sta(p['to'])} is past the end of link '{p['link']}' "
                f"({length:.0f} m long; tolerance {tolerance:.0f} m)"
            ),
        )
    return None


def _attributes(layer: Layer, rules: SurveyRules, good: list, filename: str):
    names = [f.name for f in layer.fields]
    cols: dict[str, list] = {n: [] for n in names}
    cols["source"] = []
    for p, _wkb, carried in good:
        values = dict(carried)
        values[layer.primary_key] = f"{p['link']}/{fmt_sta(p['from'])}-{fmt_sta(p['to'])}"
        values[rules.field] = p["condition"]
        if rules.iri_field:
            values[rules.iri_field] = p["iri"]
        if rules.date_field:
            values[rules.date_field] = p["date"]
        for n in names:
            cols[n].append(values.get(n))
        cols["source"].append(f"survey:{filename}")
    attrs = pa.RecordBatch.from_pydict({n: pa.array(v, pa.large_string()) for n, v in cols.items()})
    wkbs = pa.array([w for _p, w, _c in good], pa.binary())
    rows = np.array([p["row"] for p, _w, _c in good], dtype=np.int64)
    return attrs, wkbs, rows
