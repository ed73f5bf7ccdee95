"""``cirt init``: create a workspace."""

from __future__ import annotations

from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, emit, home_option, ok


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(ctx: typer.Context,
         db: Annotated[str | None, typer.Option("--db", help="Database URL (default SQLite).")] = None,
         as_json: JsonFlag = False) -> None:
    """Create a workspace (config.toml, database, sectors.yaml, playbooks/)."""
    from cirt.workspace import Workspace

    with Workspace.init(home_option(ctx), database_url=db) as ws:
        data = {"home": str(ws.home), "database": ws.config.database_url.split("@")[-1],
                "schema_version": ws.store.schema_version()}
    emit(data, as_json, lambda: ok(f"workspace ready at {data['home']} "
                                   f"(schema version {data['schema_version']})"))
