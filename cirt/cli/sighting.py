"""``cirt sighting add``: an organisation of the community saw an indicator."""

from __future__ import annotations

from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, emit, ok, workspace

app = typer.Typer(no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    indicator: Annotated[str, typer.Argument(help="The indicator id (indicator--…).")],
    by: Annotated[
        str, typer.Option("--by", help="Who saw it: an organisation or partner id of sectors.yaml.")
    ],
    count: Annotated[int, typer.Option("--count", help="How many times.")] = 1,
    first: Annotated[str | None, typer.Option("--first", help="First seen (RFC 3339).")] = None,
    last: Annotated[str | None, typer.Option("--last", help="Last seen (RFC 3339).")] = None,
    tlp: Annotated[
        str | None,
        typer.Option(
            "--tlp", help="Default: the indicator's TLP, at least AMBER (a sighting names a victim)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a STIX sighting whose where_sighted_refs is the organisation's identity."""
    sighting = workspace(ctx).indicators.sight(indicator, by=by, count=count, first=first, last=last, tlp=tlp)
    emit(sighting, as_json, lambda: ok(f"sighting of {indicator} by {by} ({count}x): {sighting['id']}"))
