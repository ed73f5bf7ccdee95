"""``cirt correlate``: values stored since the last run that incidents already hold (for cron).

Also ``say_seen``, the notice ``indicator add``, ``import``, ``taxii pull`` and ``misp pull``
print after they store something: where its values were seen before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, warn, workspace

if TYPE_CHECKING:
    from cirt.workspace import Workspace


def register(app: typer.Typer) -> None:
    app.command("correlate")(correlate)


def correlate(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the new matches without moving the cursor.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """New matches since the last run; exit status 1 when there are any (for cron)."""
    # Imported here: start-up time (this module loads with every ``cirt`` command).
    from cirt.correlation import correlate as run

    ws = workspace(ctx)
    found = run(ws.context, dry_run=dry_run)
    now = ws.clock()

    def render() -> None:
        out = console()
        if not found:
            out.print("no new matches")
        for match in found:
            where = f" ({', '.join(match.new_incidents)})" if match.new_incidents else ""
            out.print(f"{match.object_type} {match.object_id}{where}: {match.line(now)}")

    emit([m.as_dict() for m in found], as_json, render)
    if found:
        raise typer.Exit(1)


def mark(ws: Workspace) -> str:
    """Where the store is before a command writes (see ``say_seen``)."""
    from cirt.correlation import mark as position  # imported here: start-up time (above)

    return position(ws.context)


def say_seen(ws: Workspace, since: str) -> None:
    """One line on stderr per value stored after ``since`` that another incident holds."""
    from cirt.correlation import seen_since  # imported here: start-up time (above)

    now = ws.clock()
    for match in seen_since(ws.context, since):
        warn(match.line(now))
