"""``cirt db …``: which database the workspace is on, its schema, and moving it to another one."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cirt.cli.output import JsonFlag, console, emit, home_option, ok, styled, table, warn, workspace
from cirt.config import CONFIG_FILE, Config, load_config, resolve_home
from cirt.errors import InvalidValue, WorkspaceMissing
from cirt.store.copy import copy_store
from cirt.store.database import redact_url
from cirt.store.engines import database_status, open_store
from cirt.store.sql import SQLStore

app = typer.Typer(no_args_is_help=True)


def _unmigrated_store(ctx: typer.Context) -> tuple[Config, SQLStore]:
    """The workspace's store as it is: unlike every other command, no migration on opening."""

    home = resolve_home(home_option(ctx))
    if not (home / CONFIG_FILE).exists():
        raise WorkspaceMissing(str(home))
    config = load_config(home)
    return config, open_store(config.database_url)


@app.command("status")
def status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Engine, URL (password hidden), schema version, pending migrations, what the store holds."""

    config, store = _unmigrated_store(ctx)
    try:
        report = database_status(store, config.database_url)
    finally:
        store.close()

    def render() -> None:

        grid = Table.grid(padding=(0, 2))
        grid.add_row("Engine", report.engine)
        grid.add_row("URL", report.url)
        grid.add_row("Schema version", f"{report.schema_version} (latest {report.latest_version})")
        grid.add_row("Pending migrations", ", ".join(map(str, report.pending)) or "none")
        grid.add_row("Objects", f"{report.distinct_objects} ({report.objects} versions)")
        grid.add_row("Incidents", str(report.incidents))
        grid.add_row("Disclosures", str(report.disclosures))
        console().print(grid)
        if report.pending:
            warn("run 'cirt db migrate' (any other command also migrates on opening)")

    emit(report.as_dict(), as_json, render)


@app.command("migrate")
def migrate(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Apply the migrations the database lacks, each in its own transaction."""

    config, store = _unmigrated_store(ctx)
    try:
        applied = store.migrate()
        version = store.schema_version()
    finally:
        store.close()
    data = {"url": redact_url(config.database_url), "applied": applied, "schema_version": version}
    emit(
        data,
        as_json,
        lambda: ok(
            f"applied migrations {', '.join(map(str, applied))}; schema version {version}"
            if applied
            else f"schema up to date (version {version})"
        ),
    )


@app.command("copy")
def copy(
    ctx: typer.Context,
    to: Annotated[
        str, typer.Option("--to", help="Target database URL, e.g. postgresql://cirt@db.example:5432/cirt.")
    ],
    force: Annotated[bool, typer.Option("--force", help="Replace what the target already holds.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Copy the whole store (every version, the disclosure log, cursors…) to another database."""

    ws = workspace(ctx)
    if to == ws.config.database_url:
        raise InvalidValue("--to names the database this workspace already uses")
    target = open_store(to)
    try:
        result = copy_store(ws.store, target, force=force)
    finally:
        target.close()
    data = {"from": redact_url(ws.config.database_url), "to": redact_url(to), **result.as_dict()}

    def render() -> None:
        copied = table(styled(f"Copied to {data['to']}"))
        copied.add_column("Table", ratio=1, overflow="fold")
        copied.add_column("Rows", justify="right", no_wrap=True)
        for name, rows in result.tables.items():
            copied.add_row(name, str(rows))
        console().print(copied)
        ok(f"{sum(result.tables.values())} rows copied (schema version {result.schema_version})")
        console().print(f"to use it: set [database] url in {ws.home / 'config.toml'} or CIRT_DB_URL")

    emit(data, as_json, render)
