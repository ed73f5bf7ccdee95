"""``cirt indicator …``: indicators of compromise as STIX patterns."""

from __future__ import annotations

from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, ok, styled, tlp_text, workspace
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


# --- issue 13: what we know of an indicator, and the end of its life ----------------------------


@app.command("show")
def show(ctx: typer.Context, indicator: Annotated[str, typer.Argument(help="indicator--…")],
         as_json: JsonFlag = False) -> None:
    """An indicator: its state, versions, incidents and sightings."""
    view = workspace(ctx).indicators.show(indicator)

    def render() -> None:
        from rich.text import Text

        out = console()
        line = Text()
        line.append_text(tlp_text(view.tlp))
        line.append_text(styled(f" {view.obj['pattern']}  [{view.state or 'active'}]"))
        out.print(line)
        out.print(f"{view.obj['id']}, {len(view.versions)} version(s), "
                  f"valid from {view.obj.get('valid_from', '?')}"
                  + (f" until {view.obj['valid_until']}" if view.obj.get("valid_until") else ""))
        for ref in view.incidents:
            out.print(f"incident {ref.reference} ({ref.tlp.label}): {ref.title}")
        total = sum(s.count for s in view.sightings)
        out.print(f"sightings: {len(view.sightings)} ({total} time(s))")
        for s in view.sightings:
            out.print(f"  {', '.join(s.by)}: {s.count}x, {s.first_seen or '?'} to "
                      f"{s.last_seen or '?'} ({s.tlp.label}, from {s.source})")

    emit(view.as_dict(), as_json, render)


def _retire(ctx: typer.Context, indicator: str, action: str, reason: str, as_json: bool) -> None:
    result = workspace(ctx).indicators.retire(indicator, action, reason=reason)

    def render() -> None:
        ok(f"{indicator}: {action} (version {result.indicator['modified']})")
        if not result.recipients:
            console().print("no partner has received it")
        for r in result.recipients:
            console().print(f"  {r['recipient']} ({r['channel']}): {r['delivery']}")

    emit(result.as_dict(), as_json, render)


Reason = Annotated[str, typer.Option("--reason", help="Why: partners read it.")]
IndicatorId = Annotated[str, typer.Argument(help="indicator--…")]


@app.command("revoke")
def revoke(ctx: typer.Context, indicator: IndicatorId, reason: Reason,
           as_json: JsonFlag = False) -> None:
    """A revoked version: nobody should use it any more."""
    _retire(ctx, indicator, "revoke", reason, as_json)


@app.command("expire")
def expire(ctx: typer.Context, indicator: IndicatorId, reason: Reason,
           as_json: JsonFlag = False) -> None:
    """A version valid until now."""
    _retire(ctx, indicator, "expire", reason, as_json)


@app.command("false-positive")
def false_positive(ctx: typer.Context, indicator: IndicatorId, reason: Reason,
                   as_json: JsonFlag = False) -> None:
    """A version labelled false-positive and valid until now."""
    _retire(ctx, indicator, "false-positive", reason, as_json)
