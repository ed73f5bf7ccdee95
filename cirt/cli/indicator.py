"""``cirt indicator …``: indicators of compromise as STIX patterns."""

from __future__ import annotations

from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, ok, tlp_text, workspace
from cirt.errors import UsageError

app = typer.Typer(no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    incident: Annotated[str | None, typer.Option("--incident", help="Attach to this incident.")] = None,
    pattern: Annotated[str | None, typer.Option("--pattern", help="A full STIX 2.1 pattern.")] = None,
    ip: Annotated[str | None, typer.Option("--ip")] = None,
    domain: Annotated[str | None, typer.Option("--domain")] = None,
    url: Annotated[str | None, typer.Option("--url")] = None,
    sha256: Annotated[str | None, typer.Option("--sha256")] = None,
    md5: Annotated[str | None, typer.Option("--md5")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    tlp: Annotated[str | None, typer.Option("--tlp")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add an indicator from a pattern or a quick form (quoting and escaping done for you)."""
    forms = {"ip": ip, "domain": domain, "url": url, "sha256": sha256, "md5": md5, "email": email}
    given = {k: v for k, v in forms.items() if v is not None}
    if len(given) + (pattern is not None) != 1:
        raise UsageError("give exactly one of --pattern, --ip, --domain, --url, --sha256, --md5, "
                         "--email")
    form, value = next(iter(given.items())) if given else (None, None)
    from cirt.cli.correlate import mark, say_seen

    ws = workspace(ctx)
    before = mark(ws)
    indicator = ws.indicators.add(pattern=pattern, form=form, value=value, incident=incident,
                                  tlp=tlp, name=name)
    emit(indicator, as_json, lambda: ok(f"indicator {indicator['pattern']} ({indicator['id']})"))
    say_seen(ws, before)


@app.command("list")
def list_(ctx: typer.Context,
          incident: Annotated[str | None, typer.Option("--incident")] = None,
          as_json: JsonFlag = False) -> None:
    """List indicators (newest versions), optionally of one incident."""
    indicators = workspace(ctx).indicators.list(incident=incident)

    def render() -> None:
        from rich.table import Table

        from cirt.tlp import TLP, object_level

        table = Table(title=f"Indicators ({len(indicators)})", title_justify="left")
        for column in ("TLP", "Created", "Pattern", "Id"):
            table.add_column(column)
        for obj in indicators:
            table.add_row(tlp_text(object_level(obj, TLP.AMBER)), obj["created"][:16],
                          obj["pattern"], obj["id"])
        console().print(table)

    emit(indicators, as_json, render)
