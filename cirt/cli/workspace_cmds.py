"""``cirt init`` creates a workspace; ``cirt check`` reports every problem in one."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, home_option, markup, ok, warn


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("check")(check)


def init(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (default SQLite).")] = None,
    analyst: Annotated[
        str | None,
        typer.Option("--analyst", help="Your name, recorded with every change (asked if not given)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a workspace (config.toml, database, sectors.yaml, playbooks/); asks your name."""
    # start-up: init and check are registered for every command; their modules load on use
    from cirt.workspace import Workspace

    if analyst is None and sys.stdin.isatty() and not as_json:
        analyst = typer.prompt("Your name, as recorded with every change (e.g. Maria Chan)")
    with Workspace.init(home_option(ctx), database_url=db, analyst=analyst) as ws:
        data = {
            "home": str(ws.home),
            "database": ws.config.database_url.split("@")[-1],
            "schema_version": ws.store.schema_version(),
            "analyst": ws.analyst,
            "analyst_configured": ws.analyst_configured,
        }

    def render() -> None:
        ok(f"workspace ready at {data['home']} (schema version {data['schema_version']})")
        if data["analyst_configured"]:
            ok(f"changes are recorded as {data['analyst']}")
        else:
            warn(
                f"no analyst name given: changes would be recorded as the Unix user "
                f"'{data['analyst']}'; run cirt init --analyst 'Your Name'"
            )

    emit(data, as_json, render)


def check(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Check config, time zone, sectors.yaml, every playbook and the database at once; exit 1."""
    # start-up: as in init (cirt.checks loads the sectors.yaml and playbook schemas)
    from cirt.checks import check_workspace
    from cirt.config import resolve_home

    findings = check_workspace(resolve_home(home_option(ctx)))

    def render() -> None:
        for f in findings:
            mark = "[green]✓[/green]" if f.ok else "[red]✗[/red]"
            console(stderr=not f.ok).print(markup(mark + " {}: {}", f.area, f.message))

    emit([f.as_dict() for f in findings], as_json, render)
    if not all(f.ok for f in findings):
        raise typer.Exit(1)
