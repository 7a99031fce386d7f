"""Load a file into a layer: read → validate → COPY to staging → checks → publish.

The published layer changes only in the last, short transaction (``onemap.load.modes``),
under the layer's lock; before it, rows go to a staging table (``onemap.load.stage``).
So a refused file, a failed check, a killed loader or a dropped connection leaves the
published layer exactly as it was. The run's sequence (lock, run record, stage, publish,
failure handling) is ``onemap.load.lifecycle``, shared with rollback; this module is the
source of a load's rows: the file, read and validated. Rejected rows are recorded on the
run's autocommit connection, so they survive a refusal.

Vector files stream in Arrow batches (``onemap.load.source``); rasters are classified and
polygonised first (``onemap.load.raster``). Each batch is validated
(``onemap.load.validate``) and binary-COPYed by a writer thread while the next is read.
Batches are small (10,000 rows) on purpose: shapely holds the GIL while it parses a
batch, and the writer thread must get it often to keep PostgreSQL fed. Validated rows
are gathered up to ``SORT_WINDOW`` and COPYed sorted by their Hilbert key
(``onemap.load.hilbert``), so that neighbours share heap pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from psycopg import sql
from pyproj import CRS

from onemap.core.city import get_city
from onemap.core.errors import LoadError, UserError
from onemap.core.layers import Layer, get_layer
from onemap.core.provenance import file_source, source_text
from onemap.core.regions import get_region
from onemap.core.settings import DbSettings
from onemap.db.names import DATA_SCHEMA
from onemap.load.attributes import Problem, convert
from onemap.load.derive import read_boundaries
from onemap.load.hilbert import in_curve_order
from onemap.load.lifecycle import LayerRun, RunStart
from onemap.load.modes import Mode, Published
from onemap.load.osm import is_osm
from onemap.load.progress import Progress
from onemap.load.regions import check_region, prepare_stage
from onemap.load.rejects import RejectsFile, rejects_path
from onemap.load.runs import FileHash, RejectStore, RunRecord
from onemap.load.source import RASTER_SUFFIXES, iter_batches, open_source
from onemap.load.stage import StageWriter, create_stage
from onemap.load.validate import BatchValidator, Checked, Reject, copy_columns, encode_rows

__all__ = ["LoadResult", "Mode", "load_layer"]

MAX_REJECTS_KEPT = 1000  # in memory for the summary; onemap_meta.rejects: RejectStore
# Rows sorted together before the COPY: a file up to this size is stored in Hilbert order,
# a larger one in runs this long. A bbox query reads about (matches / rows per page) +
# (runs × a few) heap pages, so 100k-row runs read close to a global sort at 1M rows
# (bench/RESULTS.md), for ~60 MB of buffered rows and no second pass in PostgreSQL.
SORT_WINDOW = 100_000


@dataclass(kw_only=True)
class LoadResult(RunRecord):
    """What a load did (what its run records, and more), for the CLI summary and tests."""

    layer: str
    source_file: str
    mode: str = "replace"
    rows_dropped: int = 0
    rejects: list[Reject] = field(default_factory=list)
    rejects_file: Path | None = None

    def keep(self, rejects: list[Reject]) -> None:
        """Remember the first problems for the summary."""
        self.rejects.extend(rejects[: max(0, MAX_REJECTS_KEPT - len(self.rejects))])


def load_layer(
    layer: Layer,
    path: Path,
    *,
    mode: Mode | str = Mode.REPLACE,
    layer_name: str | None = None,
    source_crs: str | None = None,
    settings: DbSettings | None = None,
    notify: Callable[[str], None] = lambda _msg: None,
    progress: Progress | None = None,
    batch_size: int = 10_000,
    max_reject_ratio: float | None = None,
    rejects_file: Path | None = None,
    constants: dict[str, str] | None = None,
    class_bounds: tuple[float, ...] | None = None,
    network: str | None = None,
    source: str | None = None,
    bands: str | None = None,
    region: str | None = None,
) -> LoadResult:
    """Publish the valid rows of ``path`` as the layer's new version (see the module doc).

    ``mode``: replace, upsert or append (``onemap.load.modes``). ``constants``: values
    for fields the file lacks (``--flood-type rob``). ``class_bounds``: a raster's class
    bounds instead of the layer file's. ``network``: the file is a survey by link and
    chainage, cut out of this published layer's links (``onemap.load.survey``).
    ``source``: where rows without a ``source`` column value come from (free text or a
    config/sources.yaml id; default: the file's name and SHA-256,
    ``onemap.core.provenance``). ``bands``: a raster's band set (``--bands index``; the
    layer file's ``raster.bands``). ``region``: in a deployment partitioned by region,
    the region (Kemendagri code) whose partition the file replaces. Raises ``LoadError``
    (the message names the file, the row and the reason) and leaves the published table
    untouched when the file cannot be read, a check fails or too many rows are rejected.
    """
    path = Path(path)
    if network is not None:
        get_layer(network)  # an unknown id is refused before the run is recorded
    try:
        given = source_text(source) if source is not None else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    check_region(layer, region)
    opts = _Options(
        Mode(mode),
        layer_name,
        source_crs,
        batch_size,
        max_reject_ratio,
        check_constants(layer, constants or {}),
        class_bounds,
        settings,
        progress or Progress(),
        FileHash(path),
        network,
        given,
        bands,
    )
    run = FileLoad(layer, path, opts, rejects_file, notify)
    run.region = region
    run.execute()
    return run.res


@dataclass
class _Options:
    mode: Mode
    layer_name: str | None
    source_crs: str | None
    batch_size: int
    max_reject_ratio: float | None
    constants: dict[str, str]
    class_bounds: tuple[float, ...] | None
    settings: DbSettings | None
    progress: Progress
    digest: FileHash
    network: str | None = None
    source: str | None = None
    bands: str | None = None


@dataclass
class _Input:
    crs: CRS
    columns: list[str]
    total: int
    geometry_columns: tuple[str, ...]
    batches: Iterator
    refused: list[Reject] = field(default_factory=list)  # by the reader (a survey's rows)


class FileLoad(LayerRun):
    """A load: a run whose rows come from a file, read and validated."""

    def __init__(
        self,
        layer: Layer,
        path: Path,
        opts: _Options,
        rejects_file: Path | None,
        notify: Callable[[str], None],
    ):
        super().__init__(layer, opts.mode, opts.settings, notify)
        self.path = path
        self.opts = opts
        self.rejects_file = rejects_file
        self.res: LoadResult  # set by record_for, once the run row exists
        self.stored_rejects: RejectStore  # likewise
        self.out: RejectsFile | None = None
        self.staged = 0
        self.sources: dict[str, int] = {}
        self._default_source: str | None = None

    def default_source(self) -> str:
        """``--source``, else the file's name and checksum (waits for the digest once)."""
        if self._default_source is None:
            self._default_source = self.opts.source or file_source(
                self.path.name, self.opts.digest.result()
            )
        return self._default_source

    def begin(self) -> RunStart:
        """The file and the mode."""
        return RunStart(str(self.path), self.opts.mode, region=self.region)

    def record_for(self, load_id: int) -> LoadResult:
        """A ``LoadResult``, returned to the caller."""
        self.res = LoadResult(
            load_id, layer=self.layer.id, source_file=str(self.path), mode=self.opts.mode
        )
        self.stored_rejects = RejectStore(self.meta, load_id)
        return self.res

    def stage(self) -> int:
        """Stage the file's valid rows (committed)."""
        if self.rejects_file is not None:
            self.out = RejectsFile(rejects_path(self.rejects_file, self.path))
            self.res.rejects_file = self.out.path
        self.stage_input(self.open_input())
        self.opts.progress.phase(f"{self.layer.id}: indexing and publishing ({self.opts.mode})")
        return self.staged

    def open_input(self) -> _Input:
        """A survey or an OSM extract, a raster (classified into polygons), or a vector file."""
        o = self.opts
        if o.network is not None or is_osm(self.path):
            return self.open_road_source()
        if self.path.suffix.lower() in RASTER_SUFFIXES:
            from onemap.load.raster import open_raster, raster_batches  # rasterio: only here

            r = open_raster(
                self.layer, self.path, o.constants, o.source_crs, o.class_bounds, o.bands
            )
            self.res.details["raster_cells"] = r.cells
            return _Input(r.crs, r.columns, 1, (), raster_batches(r))
        if o.bands:
            raise UserError(f"--bands {o.bands}: {self.path.name} is not a raster")
        src = open_source(self.path, layer=o.layer_name, source_crs=o.source_crs)
        if src.encoding:
            self.res.details["encoding"] = src.encoding
        return _Input(
            src.crs,
            src.columns,
            src.feature_count,
            src.geometry_columns,
            iter_batches(src, o.batch_size),
        )

    def open_road_source(self) -> _Input:
        """A survey by link and chainage (``--network``) or an OpenStreetMap extract."""
        o, name = self.opts, self.path.name
        if o.network is not None:
            from onemap.load.survey import open_survey, survey_batches

            s = open_survey(self.layer, self.path, o.network, self.meta)
            self.res.details.update(s.details)
            for warning in s.warnings[:10]:
                self.notify(f"{name}: chainage {warning}")
            if len(s.warnings) > 10:
                self.notify(f"{name}: {len(s.warnings) - 10} more gaps/overlaps (run details)")
            batches = survey_batches(s, o.batch_size)
            return _Input(s.crs, s.columns, s.read, (), batches, s.rejects)
        from onemap.load.osm import open_osm, osm_batches

        osm = open_osm(self.layer, self.path, self.meta)
        self.res.details.update(osm.details)
        if osm.skipped:
            self.res.details["osm_skipped_highway"] = dict(osm.skipped.most_common())
            listed = ", ".join(f"{k} {v}" for k, v in osm.skipped.most_common(8))
            self.notify(
                f"{name}: {sum(osm.skipped.values())} ways skipped, their highway is not a "
                f"road of layer '{self.layer.id}' ({listed})"
            )
        return _Input(osm.crs, osm.columns, osm.feature_count, (), osm_batches(osm, o.batch_size))

    def stage_input(self, src: _Input) -> None:
        """Validate batch by batch, COPY the good rows; commit the stage if checks pass."""
        layer, res, o = self.layer, self.res, self.opts
        validator = BatchValidator(
            layer,
            src.columns,
            src.crs,
            get_city() if self.region is None else get_region(self.region).extent(get_city()),
            str(self.path),
            constants=o.constants,
            geometry_columns=src.geometry_columns,
            published=(
                _published_keys(self.meta, layer, self.region) if o.mode is Mode.APPEND else None
            ),
            default_source=self.default_source,
            boundaries=lambda lid: read_boundaries(self.meta, lid, layer.geometry.srid),
        )
        o.progress.start(src.total or None, f"{layer.id}: reading {self.path.name}")
        with self.conn.cursor() as cur:
            stage = create_stage(cur, layer)
            if self.region is not None:
                prepare_stage(cur, layer, self.region)
            writer = StageWriter(cur, stage, copy_columns(layer)[0])
            window: list[pa.Table] = []
            buffered = 0
            if src.refused:
                n = len(src.refused)
                self.account(Checked(pa.table({}), src.refused, [], n, n, 0))
            try:
                for first_row, attrs, wkb in src.batches:
                    checked = validator.validate(first_row, attrs, wkb)
                    self.account(checked)
                    if checked.good.num_rows:
                        window.append(checked.good)
                        buffered += checked.good.num_rows
                    if buffered >= SORT_WINDOW:
                        writer.write(encode_rows(layer, in_curve_order(window), res.load_id))
                        self.staged += buffered
                        window, buffered = [], 0
                    o.progress.advance(checked.rows)
                if buffered:
                    writer.write(encode_rows(layer, in_curve_order(window), res.load_id))
                    self.staged += buffered
                writer.close()
            except BaseException:
                writer.abort()
                raise
        res.rows_repaired = validator.geometry.counts.repaired
        res.details.update(validator.counts)
        res.details["sources"] = self.sources
        self.check(self.staged)
        self.conn.commit()  # the stage, not the layer: see onemap.load.stage

    def account(self, checked: Checked) -> None:
        """Count a batch's rows and keep its problems (database, rejects file, summary)."""
        res = self.res
        res.rows_read += checked.rows
        res.rows_rejected += checked.rows_rejected
        res.rows_dropped += checked.rows_dropped
        res.keep(checked.rejects)
        if checked.good.num_rows:
            counts = pc.value_counts(checked.good.column("source").combine_chunks())
            for item in counts.to_pylist():
                self.sources[item["values"]] = self.sources.get(item["values"], 0) + item["counts"]
        problems = sorted(checked.rejects + checked.dropped, key=lambda r: r.row)
        self._store(problems)
        if self.out is not None:
            self.out.write(problems)

    def check(self, rows: int) -> None:
        """The reject ratio, and for a replace the row count of the new version."""
        _check_rejects(self.layer, self.res, self.opts.max_reject_ratio)
        if self.opts.mode is Mode.REPLACE:
            _check_count(self.layer, self.res, rows)

    def _store(self, problems: list[Reject]) -> None:
        """Into onemap_meta.rejects (capped per kind); the counts into the run's details."""
        self.stored_rejects.add(problems)
        self.res.details.update(self.stored_rejects.details())

    def refuse(self, dups: list[tuple[int, str, int]]) -> None:
        """Rows whose key an earlier row has (found by PostgreSQL): rejected, checked."""
        key = self.layer.primary_key
        rejects = [
            Reject(row, key, value, f"duplicate key '{value}' (first at row {first})")
            for row, value, first in dups
        ]
        self.res.rows_rejected += len(rejects)
        self.res.rejects = sorted(self.res.rejects + rejects, key=lambda r: r.row)
        del self.res.rejects[MAX_REJECTS_KEPT:]
        self._store(rejects)
        if self.out is not None:
            self.out.write(rejects)
        self.staged -= len(rejects)
        self.check(self.staged)

    def published(self, cur: psycopg.Cursor, published: Published) -> None:
        """Inside the publishing transaction: the row count of the new version, counts."""
        if self.opts.mode is not Mode.REPLACE:
            live = sql.Identifier(DATA_SCHEMA, self.layer.id)
            count = sql.SQL("SELECT count(*) FROM {}").format(live)
            if self.region is not None:  # the version of the region
                count = sql.SQL("{} WHERE region = {}").format(count, sql.Literal(self.region))
            n = cur.execute(count).fetchone()[0]
            _check_count(self.layer, self.res, n)
        self.res.rows_loaded = published.rows
        self.res.details.update({k: v for k, v in published.__dict__.items() if k != "rows" and v})

    def refused(self, exc: psycopg.Error) -> str:
        """Names the file, with PostgreSQL's message and detail."""
        return f"{self.path}: the database refused the load ({_db_message(exc)})"

    def sha(self) -> str | None:
        """The file's digest, computed while it was read."""
        return self.opts.digest.result()

    def close(self) -> None:
        """The progress display and the rejects file."""
        self.opts.progress.stop()
        if self.out is not None:
            self.out.close()


def _db_message(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    text = (diag.message_primary if diag else None) or str(exc).strip().splitlines()[0]
    detail = diag.message_detail if diag else None
    return f"{text}: {detail}" if detail else text


def _published_keys(meta: psycopg.Connection, layer: Layer, region: str | None = None):
    """For append: which of these keys are published already (key -> run), in
    ``region`` if the load is of one region (``onemap.load.regions``)."""
    query = sql.SQL("SELECT {k}, load_id FROM {t} WHERE {k} = ANY(%s){r}").format(
        k=sql.Identifier(layer.primary_key),
        t=sql.Identifier(DATA_SCHEMA, layer.id),
        r=sql.SQL("")
        if region is None
        else sql.SQL(" AND region = {}").format(sql.Literal(region)),
    )

    def lookup(keys: list) -> dict:
        return dict(meta.execute(query, (keys,)).fetchall())

    return lookup


def _first(res: LoadResult) -> str:
    if not res.rejects:
        return ""
    r = res.rejects[0]
    return f"; first problem: row {r.row}: {r.reason}" + (f" ({r.value})" if r.value else "")


def _check_rejects(layer: Layer, res: LoadResult, override: float | None) -> None:
    limit = layer.checks.max_reject_ratio if override is None else override
    if res.rows_read and res.rows_rejected / res.rows_read > limit:
        origin = "--max-reject-ratio" if override is not None else "the layer's max_reject_ratio"
        raise LoadError(
            f"{res.source_file}: {res.rows_rejected} of {res.rows_read} rows rejected "
            f"({res.rows_rejected / res.rows_read:.1%}), above the limit of {limit:.1%} "
            f"({origin}){_first(res)}"
        )


def _check_count(layer: Layer, res: LoadResult, n: int) -> None:
    c = layer.checks
    if n < c.min_rows or (c.max_rows is not None and n > c.max_rows):
        want = f"{c.min_rows}" + (f"–{c.max_rows}" if c.max_rows is not None else " or more")
        dropped = f", {res.rows_dropped} without geometry" if res.rows_dropped else ""
        raise LoadError(
            f"{res.source_file}: {n} valid rows{dropped}, layer '{layer.id}' expects "
            f"{want}{_first(res)}"
        )


def check_constants(layer: Layer, constants: dict[str, str]) -> dict[str, str]:
    """Validate values given on the command line (``--flood-type rob``) against the layer."""
    names = [f.name for f in layer.fields]
    out = {}
    for name, value in constants.items():
        if name not in names:
            raise UserError(
                f"--{name.replace('_', '-')}: layer '{layer.id}' has no field '{name}' "
                f"(its fields: {', '.join(names)})"
            )
        problems: list[Problem] = []
        converted = convert(layer.field(name), pa.array([value], pa.large_string()), problems)
        bad = [p for p in problems if p.mask.any()]
        if bad:
            raise UserError(f"--{name.replace('_', '-')} '{value}': {bad[0].reason}")
        out[name] = str(converted[0].as_py())
    return out
