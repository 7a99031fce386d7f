"""The ``onemap`` command: parses arguments and calls the modules that do the work."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

from onemap.core import extensions
from onemap.core.errors import UserError

if TYPE_CHECKING:
    import click


class FeatureGroup(TyperGroup):
    """The top command: the features' sub-commands (``onemap reports …``, ``onemap users …``)
    are listed from the registry's static ``COMMANDS`` and imported only when run."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: D102
        return [*super().list_commands(ctx), *extensions.COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: D102
        if cmd_name not in self.commands and cmd_name in extensions.COMMANDS:
            holder = typer.Typer()
            holder.add_typer(extensions.command(cmd_name), name=cmd_name)
            group = typer.main.get_group(holder)
            self.add_command(group.commands[cmd_name], cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Click's listing, with the features' one-line help from the registry."""
        rows = [(n, c) for n, c in self.commands.items() if not c.hidden]
        names = [n for n, _ in rows] + [n for n in extensions.COMMANDS if n not in self.commands]
        if not names:
            return
        limit = formatter.width - 6 - max(map(len, names))
        helps = [(n, c.get_short_help_str(limit)) for n, c in rows]
        helps += [(n, h) for n, (_m, h) in extensions.COMMANDS.items() if n not in self.commands]
        with formatter.section("Commands"):
            formatter.write_dl(helps)


# Plain help, no pretty tracebacks: rich's help (markdown, pygments) took a third of the
# start-up time; errors are one line anyway (_fail).
app = typer.Typer(
    cls=FeatureGroup,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    help="onemap: a city's One Map — PostGIS, OGC APIs, public maps.",
    no_args_is_help=True,
)
db_app = typer.Typer(
    help="The project's PostGIS database.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(db_app, name="db")
cluster_app = typer.Typer(
    help="A primary, replicas, PgBouncers, API nodes and HAProxy on this machine "
    "(docs/scale-out.md).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(cluster_app, name="cluster")
tiles_app = typer.Typer(
    help="Vector tile archives (PMTiles) of the published layers.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(tiles_app, name="tiles")


class _LazyConsole:
    """A rich Console made on first use: rich is imported by the commands that print."""

    def __init__(self, **options: object):
        self._options = options
        self._console = None

    def __getattr__(self, name: str):
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)


out = _LazyConsole()
err = _LazyConsole(stderr=True)


def _table(*headers: str):
    """A rich Table (rich is imported by the commands that draw one)."""
    from rich.table import Table

    return Table(*headers)


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@db_app.command("up")
def db_up() -> None:
    """Install PostGIS if needed, start the project cluster, create roles, schemas, tables."""
    from onemap.db import schema

    try:
        out.print(schema.up())
    except UserError as exc:
        _fail(exc)


@db_app.command("down")
def db_down() -> None:
    """Stop the project cluster."""
    from onemap.core.settings import DbSettings
    from onemap.db import cluster

    out.print("stopped" if cluster.stop(DbSettings()) else "not running")


@db_app.command("status")
def db_status() -> None:
    """Say whether the cluster runs and what each layer table holds."""
    from onemap.core.settings import DbSettings
    from onemap.db import cluster
    from onemap.db.connect import is_external
    from onemap.load.status import layer_counts

    settings = DbSettings()
    if not is_external():
        cl = cluster.Cluster(settings)
        running = cl.is_running()
        out.print(
            f"cluster {cl.data_dir} port {settings.port}: {'running' if running else 'stopped'}"
        )
        if not running:
            raise typer.Exit(1)
    try:
        table = _table("layer", "features", "last load", "status")
        for row in layer_counts(settings):
            table.add_row(*(str(v) for v in row))
        out.print(table)
    except UserError as exc:
        _fail(exc)


@db_app.command("rebuild")
def db_rebuild(
    layer: str,
    force_delete_private: Annotated[
        bool,
        typer.Option(help="also when the layer's private table holds rows (deletes them)"),
    ] = False,
) -> None:
    """Drop and recreate one layer's table after its layer file changed (drops its data)."""
    from onemap.core.layers import get_layer
    from onemap.db import schema
    from onemap.db.connect import owner_conninfo

    try:
        schema.rebuild_table(get_layer(layer), owner_conninfo(), force_delete_private)
    except (UserError, KeyError) as exc:
        _fail(exc)
    out.print(f"rebuilt onemap.{layer}")


@cluster_app.command("up")
def cluster_up() -> None:
    """Start the rehearsal: the primary, its replicas, PgBouncers, API nodes, HAProxy."""
    from onemap.cluster import control

    try:
        lay = control.up(report=lambda m: out.print(m, highlight=False))
    except UserError as exc:
        _fail(exc)
    out.print("loads that wait for the replicas (read-your-writes) need:", highlight=False)
    for name, value in lay.loader_env().items():
        out.print(f"  export {name}='{value}'", highlight=False, soft_wrap=True)


@cluster_app.command("down")
def cluster_down(
    purge: Annotated[
        bool, typer.Option(help="also delete the replicas' copies and the nodes' folders")
    ] = False,
) -> None:
    """Stop the rehearsal's processes (the primary keeps running: onemap db down)."""
    from onemap.cluster import control

    try:
        control.down(purge=purge)
    except UserError as exc:
        _fail(exc)
    out.print("stopped")


@cluster_app.command("status")
def cluster_status(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Each process's port and state; each API node's database, replay lag and versions."""
    from onemap.cluster import control

    try:
        state = control.status()
    except UserError as exc:
        _fail(exc)
    if fmt == "json":
        sys.stdout.write(json.dumps(state, indent=2) + "\n")
        return
    table = _table("process", "port", "state")
    table.add_row("primary", str(state["primary"]["port"]), _running(state["primary"]))
    for i, rep in state["replicas"].items():
        lag = rep.get("replay_lag_s")
        detail = f"{rep['state']}, {rep.get('behind_bytes') or 0} bytes behind"
        if lag is not None:
            detail += f", replay lag {lag:.3f} s"
        table.add_row(f"replica {i}", str(rep["port"]), f"{_running(rep)}: {detail}")
    for j, bouncer in state["pgbouncers"].items():
        table.add_row(f"pgbouncer {j}", str(bouncer["port"]), _running(bouncer))
    for k, node in state["nodes"].items():
        health = node["health"]
        if health is None:
            detail = "not answering"
        elif "error" in health:
            detail = f"503: {health['error']}"
        else:
            detail = (
                f"{'ok' if health['ok'] else '503'}: reads {health['role']} "
                f"port {health['database']['port']}, lag {health['replay_lag_s']} s, "
                f"versions {health['published_versions']}"
            )
        table.add_row(f"API node {k}", str(node["port"]), detail)
    table.add_row("haproxy", str(state["haproxy"]["port"]), _running(state["haproxy"]))
    out.print(table)


def _running(entry: dict) -> str:
    return "running" if entry["running"] else "stopped"


@tiles_app.command("seed")
def tiles_seed(
    layer: Annotated[str, typer.Argument(help="layer id")],
    max_zoom: Annotated[int, typer.Option(help="the highest zoom drawn")] = 12,
    min_zoom: Annotated[int, typer.Option(help="the lowest zoom drawn")] = 0,
    output: Annotated[
        Path | None,
        typer.Option(help="archive file (default: ONEMAP_TILE_ARCHIVE_DIR/<layer>.pmtiles)"),
    ] = None,
) -> None:
    """Draw a layer's tiles over its extent into a PMTiles archive of its published version.

    The server answers from it until a load publishes a new version; a static web server or
    CDN can serve the same file (docs/api.md, "Tile archives").
    """
    from onemap.core.layers import get_layer
    from onemap.serve.tile_seed import seed

    try:
        path, done = seed(
            get_layer(layer), max_zoom, min_zoom, output, notify=lambda m: err.print(m)
        )
    except (UserError, KeyError) as exc:
        _fail(exc)
    out.print(
        f"wrote {path}: {done.tiles} tiles at zooms {done.min_zoom}–{done.max_zoom} "
        f"({done.thinned} thinned), version {done.version}"
    )


@app.command(
    "load",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def load(
    ctx: typer.Context,
    layer: Annotated[str, typer.Argument(help="layer id, as in layers/index.yaml")],
    path: Annotated[
        Path,
        typer.Argument(
            help="GeoJSON(Seq), Shapefile (.shp/.zip), GeoPackage, CSV, KML/KMZ, FileGDB, "
            "an OpenStreetMap extract (.osm.pbf) for a layer whose file has an osm: block, "
            "or a raster (GeoTIFF) for a layer whose file has a raster: block"
        ),
    ],
    layer_name: Annotated[
        str | None, typer.Option("--layer", help="layer inside a multi-layer file")
    ] = None,
    source_crs: Annotated[
        str | None,
        typer.Option(
            help="CRS when the file declares none, e.g. EPSG:4326 or a UTM zone's EPSG code"
        ),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="replace (the file is the new version), upsert (by key), append")
    ] = "replace",
    max_reject_ratio: Annotated[
        float | None,
        typer.Option(help="refuse the load above this share of rejected rows (layer default)"),
    ] = None,
    rejects_file: Annotated[
        Path | None,
        typer.Option(help="write every refused row (row, field, value, reason) to this CSV"),
    ] = None,
    class_bounds: Annotated[
        str | None, typer.Option(help="raster class bounds instead of the layer's, e.g. 0.5,1.2")
    ] = None,
    network: Annotated[
        str | None,
        typer.Option(
            help="the file is a survey by link and chainage (CSV: link, STA from, STA to, IRI, "
            "SDI, condition, date), cut out of this published layer's links"
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            help="where the rows come from (free text or an id of config/sources.yaml) when "
            "the file has no source column; default: the file's name and SHA-256"
        ),
    ] = None,
    bands: Annotated[
        str | None,
        typer.Option(
            help="a raster's band set, as its layer file names them (flood_zones: depth "
            "in metres, the default, or index for a 0–1 hazard index)"
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            help="in a deployment of several regions: the Kemendagri code (e.g. 33.22) whose "
            "partition the file replaces"
        ),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(help="wait until every replica (ONEMAP_READ_DSNS) has replayed the load"),
    ] = True,
    wait_timeout: Annotated[
        float | None,
        typer.Option(help="seconds to wait for the replicas (default ONEMAP_REPLICA_WAIT_S)"),
    ] = None,
) -> None:
    """Validate a file and publish it as the layer's new version (all or nothing).

    Values for fields the file lacks can be given as --<field> VALUE (e.g. --flood-type rob).
    With replicas configured, waits until each has replayed the publish (--no-wait: not).
    """
    from onemap.core.layers import get_layer
    from onemap.load.console import extra_options, load_summary
    from onemap.load.loader import load_layer
    from onemap.load.progress import RichProgress

    try:
        lyr = get_layer(layer)
        if mode not in ("replace", "upsert", "append"):
            raise UserError(f"--mode {mode}: use replace, upsert or append")
        bounds = _bounds(class_bounds) if class_bounds else None
        res = load_layer(
            lyr,
            path,
            mode=mode,
            layer_name=layer_name,
            source_crs=source_crs,
            notify=lambda m: err.print(m, highlight=False),
            progress=RichProgress(),
            max_reject_ratio=max_reject_ratio,
            rejects_file=rejects_file,
            constants=extra_options(lyr, ctx.args),
            class_bounds=bounds,
            network=network,
            source=source,
            bands=bands,
            region=region,
        )
    except (UserError, KeyError) as exc:
        _fail(exc)
    load_summary(out, res, path)
    if wait:
        _wait_for_replicas(wait_timeout)


def _wait_for_replicas(timeout_s: float | None) -> None:
    """Read-your-writes: wait until the configured replicas replayed the publish."""
    from onemap.db.replication import wait_for_replicas

    try:
        wait_for_replicas(timeout_s, notify=lambda m: err.print(m, highlight=False))
    except UserError as exc:  # the primary itself is gone after the publish
        _fail(exc)


def _bounds(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError as exc:
        raise UserError(f"--class-bounds '{text}': give numbers separated by commas") from exc


@app.command("history")
def history_cmd(
    layer: Annotated[str, typer.Argument(help="layer id")],
    limit: Annotated[int, typer.Option(help="how many runs, newest first")] = 30,
    fmt: Annotated[
        str, typer.Option("--format", help="table (fits the terminal), csv or json (full values)")
    ] = "table",
    region: Annotated[
        str | None, typer.Option(help="only the runs of this region's partition (e.g. 33.22)")
    ] = None,
) -> None:
    """List a layer's load runs: id, time, mode, file, counts, status, who."""
    from onemap.core.layers import get_layer
    from onemap.core.regions import get_region
    from onemap.load import history
    from onemap.load.console import HISTORY_FIELDS, history_rows, history_tables

    try:
        if fmt not in ("table", "csv", "json"):
            raise UserError(f"unknown format '{fmt}'; choose one of table, csv, json")
        lyr = get_layer(layer)
        if region is not None:
            get_region(region)
        runs = history.runs(lyr, limit=limit, region=region)
    except (UserError, KeyError) as exc:
        _fail(exc)
    if fmt == "table":
        for table in history_tables(lyr, runs, out.width):
            out.print(table)
    else:
        sys.stdout.write(_records(history_rows(runs), HISTORY_FIELDS, fmt))


def _records(rows: list[dict], fields: tuple[str, ...], fmt: str) -> str:
    """Records as CSV (a header line, then one line each) or a JSON array, verbatim."""
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


@app.command("prune-history")
def prune_history_cmd(
    layer: Annotated[str, typer.Argument(help="layer id")],
    keep: Annotated[
        int, typer.Option(help="published versions to keep, the current one included")
    ] = 10,
    region: Annotated[
        str | None, typer.Option(help="prune only this region's versions (e.g. 33.22)")
    ] = None,
) -> None:
    """Delete a layer's oldest versions from the history, keeping the latest --keep."""
    from onemap.core.layers import get_layer
    from onemap.core.regions import get_region
    from onemap.load import history

    try:
        if region is not None:
            get_region(region)
        done = history.prune(get_layer(layer), keep, notify=lambda m: err.print(m), region=region)
    except (UserError, KeyError) as exc:
        _fail(exc)
    if not done.versions:
        out.print(f"{layer}: nothing to prune (at most {keep} published versions)")
        return
    out.print(
        f"{layer}: pruned {done.versions} older versions ({done.row_versions:,} row versions); "
        f"the oldest kept is the version of run {done.oldest_kept}"
    )


@app.command("rollback")
def rollback_cmd(
    layer: Annotated[str, typer.Argument(help="layer id")],
    to: Annotated[
        int | None,
        typer.Option(help="the run whose version to restore (default: the one before now)"),
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(help="wait until every replica (ONEMAP_READ_DSNS) has replayed it"),
    ] = True,
    region: Annotated[
        str | None,
        typer.Option(
            help="in a deployment of several regions: the region (e.g. 33.22) whose "
            "partition is rolled back; the others are untouched"
        ),
    ] = None,
) -> None:
    """Publish an earlier version of a layer again, in one transaction (recorded as a run)."""
    from onemap.core.layers import get_layer
    from onemap.load.rollback import rollback

    try:
        done = rollback(get_layer(layer), to, notify=lambda m: err.print(m), region=region)
    except (UserError, KeyError) as exc:
        _fail(exc)
    where = "" if region is None else f" (region {region})"
    out.print(
        f"{layer}{where}: restored the version of run {done.restored_from} "
        f"({done.rows} rows) as run {done.load_id}"
    )
    if wait:
        _wait_for_replicas(None)


@app.command("load-demo")
def load_demo(
    data_dir: Annotated[Path, typer.Option(help="where the prepared demo files go")] = Path(
        "build/demo"
    ),
    regenerate: bool = typer.Option(False, help="rebuild the demo files even if present"),
) -> None:
    """Prepare the demo data (package etl: real sources + seeded generators) and load it."""
    from onemap.core.settings import project_root
    from onemap.load import demo

    data_dir = data_dir if data_dir.is_absolute() else project_root() / data_dir
    try:
        if demo.prepare(data_dir, force=regenerate):
            out.print(f"prepared demo data in {data_dir}")
        demo.load_all(data_dir, report=out.print)
    except UserError as exc:
        _fail(exc)


@app.command("publish")
def publish(
    output: Annotated[Path | None, typer.Option(help="where to write the pygeoapi config")] = None,
) -> None:
    """Generate pygeoapi.yml from layers/ with extents computed from the data, and styles/."""
    from onemap.publish.pygeoapi_config import write_config
    from onemap.publish.styles import write_styles
    from onemap.serve.contract import styles_dir

    try:
        path = write_config(output)
    except UserError as exc:
        _fail(exc)
    out.print(f"wrote {path}")
    out.print(f"wrote {len(write_styles())} styles (QML, SLD) to {styles_dir()}")


@app.command("qgis-project")
def qgis_project(
    output: Annotated[Path, typer.Option(help="folder for the .qgs files")] = Path("site"),
    url: Annotated[
        str | None, typer.Option(help="OGC API server URL (default: ONEMAP_PUBLIC_URL or local)")
    ] = None,
) -> None:
    """Write onemap.qgs (layers from the OGC API) and onemap-postgis.qgs (PostGIS, no password)."""
    from onemap.core.settings import DbSettings, ServeSettings
    from onemap.db.connect import role_params
    from onemap.publish.qgis_project import write_projects

    try:
        db = role_params("reader", DbSettings())
    except UserError as exc:
        _fail(exc)
    for path in write_projects(output, url or ServeSettings().url, db):
        out.print(f"wrote {path}")


@app.command("serve")
def serve(
    port: Annotated[int | None, typer.Option(help="port (default ONEMAP_PORT or 5000)")] = None,
    workers: Annotated[int | None, typer.Option(help="gunicorn workers")] = None,
) -> None:
    """Serve the OGC APIs (pygeoapi under gunicorn) in the foreground."""
    from onemap.serve.server import run_foreground

    try:
        run_foreground(port=port, workers=workers)
    except UserError as exc:
        _fail(exc)


@app.command("maps")
def maps(
    output: Annotated[Path, typer.Option(help="site folder")] = Path("site"),
    basemap: Annotated[str, typer.Option(help="osm or none (offline)")] = "osm",
    tiles_url: Annotated[
        str | None,
        typer.Option(help="OGC API root (e.g. http://127.0.0.1:5000): big layers from its tiles"),
    ] = None,
) -> None:
    """Write the public web maps (site/) from the published layers."""
    from onemap.publish.maps.write import write_site

    try:
        pages = write_site(output, basemap=basemap, tiles_url=tiles_url)
    except UserError as exc:
        _fail(exc)
    out.print(f"wrote {len(pages)} pages to {output}")


@app.command("stats")
def stats(
    indicator: Annotated[
        str, typer.Argument(help="summary (default), all, or one indicator (docs/indicators.md)")
    ] = "summary",
    kecamatan: Annotated[
        str | None, typer.Option(help="one kecamatan code (kode_kec) instead of all")
    ] = None,
    polygon: Annotated[
        Path | None, typer.Option(help="a GeoJSON file: compute for its polygon(s) instead")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, csv or json")] = "table",
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="a load run id or a date (YYYY-MM-DD): the data then"),
    ] = None,
    lang: Annotated[str, typer.Option(help="table labels: en or id")] = "en",
) -> None:
    """The city's indicators, city-wide and per kecamatan (flood, roads, drainage, budget)."""
    from onemap.indicators import Request, compute
    from onemap.indicators.output import check_format, render

    try:
        geojson = polygon.read_text(encoding="utf-8") if polygon is not None else None
        request = Request(indicator, kecamatan, geojson, as_of)
        check_format(fmt, len(request.names))
        blocks = render(compute(request), fmt, lang, out.width)
    except (UserError, OSError) as exc:
        _fail(exc)
    for block in blocks:
        if isinstance(block, str):
            sys.stdout.write(block + "\n")  # csv/json verbatim: no wrapping, no markup
        else:
            out.print(block)


@app.command("layers")
def layers_cmd() -> None:
    """List the layers defined in layers/."""
    from onemap.core.layers import load_layers

    table = _table("id", "title", "geometry", "fields", "synthetic")
    for lyr in load_layers().values():
        table.add_row(
            lyr.id,
            lyr.title_en,
            lyr.geometry.type,
            str(len(lyr.fields)),
            "yes" if lyr.synthetic else "",
        )
    out.print(table)


if __name__ == "__main__":
    app()
