"""``onemap reports …`` and ``onemap users …``: parse arguments, call onemap.reports."""

from __future__ import annotations

import csv
import datetime as dt
import getpass
import json
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from onemap.core.errors import UserError
from onemap.core.terminal import Column, fitted_tables

reports_app = typer.Typer(help="Citizen reports: import, monthly evaluation.", no_args_is_help=True)
users_app = typer.Typer(
    help="Staff tokens for the reports (operators, admins).", no_args_is_help=True
)
out = Console()
err = Console(stderr=True)


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _owner():
    from onemap.db.connect import connect_owner

    return connect_owner(autocommit=True)


@reports_app.command("import")
def import_cmd(
    path: Annotated[Path, typer.Argument(help="CSV (lon/lat or WKT), GeoJSON, GeoPackage …")],
    skip_invalid: Annotated[
        bool, typer.Option(help="store the valid rows even when some are refused")
    ] = False,
) -> None:
    """Import reports exported from another channel, through the intake's checks."""
    from onemap.reports.importer import import_file

    actor = f"import:{getpass.getuser()}@{socket.gethostname()}"
    try:
        with _owner() as conn:
            res = import_file(conn, path, actor=actor, skip_invalid=skip_invalid)
    except UserError as exc:
        _fail(exc)
    if res.refused:
        table = Table("row", "reason", title=f"refused rows ({len(res.refused)}, first 30)")
        for row, reason in res.refused[:30]:
            table.add_row(str(row), reason)
        out.print(table)
    out.print(
        f"{path}: {res.rows} rows, {len(res.stored)} stored, "
        f"{len(res.already)} already stored, {len(res.refused)} refused"
    )
    if res.refused and not skip_invalid:
        err.print("nothing was stored: fix the rows or use --skip-invalid")
        raise typer.Exit(1)


@reports_app.command("sla")
def sla_cmd(
    month: Annotated[str, typer.Option(help="YYYY-MM: reports received in this month")],
    as_of: Annotated[
        str | None, typer.Option(help="evaluate at this RFC 3339 time (default: now)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
) -> None:
    """Per office: received, resolved, within the service standard, median days, overdue."""
    from onemap.reports.evaluation import evaluate

    try:
        when = dt.datetime.fromisoformat(as_of) if as_of else None
        if fmt not in ("table", "json", "csv"):
            raise UserError("--format is table, json or csv")
        result = evaluate(month, as_of=when)
    except (UserError, ValueError) as exc:
        _fail(exc)
    if fmt == "json":
        sys.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False, indent=2) + "\n")
        return
    rows = [*result.offices, result.total]
    keys = list(result.total.__dict__)
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(keys)
        writer.writerows([getattr(r, k) for k in keys] for r in rows)
        return
    title = f"Reports received in {result.month}, evaluated at {result.as_of}"
    table = Table(
        "office",
        "received",
        "rejected",
        "resolved",
        "within SLA",
        "% within SLA",
        "median days",
        "open",
        "overdue",
        title=title,
    )
    for r in rows:
        table.add_row(
            r.office,
            *(str(getattr(r, k)) for k in ("received", "rejected", "resolved", "within_sla")),
            "" if r.within_sla_pct is None else f"{r.within_sla_pct:.1f}",
            "" if r.median_days_to_resolve is None else f"{r.median_days_to_resolve:.2f}",
            str(r.open),
            str(r.overdue),
        )
    out.print(table)
    if result.overdue:
        late = Table(
            "report", "office", "category", "status", "due", "working days late", title="overdue"
        )
        for o in result.overdue:
            late.add_row(
                o["report_id"],
                o["office"],
                o["category"],
                o["status"],
                o["sla_due"],
                str(o["working_days_late"]),
            )
        out.print(late)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="user name (letters, digits, . _ @ -)")],
    role: Annotated[str, typer.Option(help="operator or admin")] = "operator",
    office: Annotated[
        str | None, typer.Option(help="an operator's office code (config/reports.yaml)")
    ] = None,
    expires_days: Annotated[
        int | None,
        typer.Option(help="the token expires after N days (default: config/reports.yaml staff)"),
    ] = None,
) -> None:
    """Create a staff user; prints the token once (only its hash is stored)."""
    from onemap.reports.auth import add_user

    try:
        with _owner() as conn:
            token = add_user(conn, name, role, office, expires_days)
    except UserError as exc:
        _fail(exc)
    err.print(
        f"created {role} '{name}'"
        + (f" of {office}" if office else "")
        + ". The token (shown once; send it as 'Authorization: Bearer <token>'):"
    )
    sys.stdout.write(token + "\n")


@users_app.command("list")
def users_list(
    all_: Annotated[bool, typer.Option("--all", help="include revoked")] = False,
) -> None:
    """List staff users (never their tokens)."""
    from onemap.reports.auth import list_users

    try:
        with _owner() as conn:
            rows = list_users(conn, all_)
    except UserError as exc:
        _fail(exc)
    # no value is cut (a name is what `users revoke` takes; dates are read whole): on a
    # narrow terminal the table is split into parts that repeat the name
    headers = ("name", "role", "office", "token", "created", "expires", "revoked")
    columns = [Column(h, wrap=h == "office") for h in headers]
    cells = [[str(v) for v in row] for row in rows]
    for table in fitted_tables("staff users", columns, cells, out.width):
        out.print(table)


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="user name")]) -> None:
    """Revoke a user's token at once."""
    from onemap.reports.auth import revoke_user

    try:
        with _owner() as conn:
            n = revoke_user(conn, name)
    except UserError as exc:
        _fail(exc)
    if not n:
        _fail(UserError(f"no active user '{name}'"))
    out.print(f"revoked '{name}'")
