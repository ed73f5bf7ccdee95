"""``cirt indicator …``: indicators of compromise as STIX patterns."""

from __future__ import annotations

from typing import Annotated

import typer

from cirt.cli.correlate import mark, say_seen
from cirt.cli.output import (
    JsonFlag,
    console,
    emit,
    ok,
    styled,
    table,
    tlp_option,
    tlp_text,
    warn,
    workspace,
)
from cirt.errors import UsageError
from cirt.listing import indicator_page
from cirt.stixtime import local_text, parse_ts, time_zone
from cirt.tlp import TLP, object_level

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
        raise UsageError("give exactly one of --pattern, --ip, --domain, --url, --sha256, --md5, --email")
    form, value = next(iter(given.items())) if given else (None, None)
    ws = workspace(ctx)
    held = ws.indicators.list(incident=incident) if incident else []
    before = mark(ws)
    indicator = ws.indicators.add(
        pattern=pattern, form=form, value=value, incident=incident, tlp=tlp_option(tlp), name=name
    )
    emit(indicator, as_json, lambda: ok(f"indicator {indicator['pattern']} ({indicator['id']})"))
    for same in (o for o in held if o.get("pattern") == indicator["pattern"]):
        warn(
            f"{incident} already held {same['pattern']} as {same['id']}: added again "
            f"(a second object; bulletins list it once)"
        )
    say_seen(ws, before)


@app.command("list")
def list_(
    ctx: typer.Context,
    incident: Annotated[str | None, typer.Option("--incident")] = None,
    tlp: Annotated[str | None, typer.Option("--tlp", help="Only at this TLP.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows per page.")] = 50,
    offset: Annotated[
        int, typer.Option("--offset", min=0, help="Skip this many (the next page: --offset 50).")
    ] = 0,
    as_json: JsonFlag = False,
) -> None:
    """List indicators, newest first, a page at a time (optionally of one incident)."""
    ws = workspace(ctx)
    page = indicator_page(
        ws.context, ws.incidents, incident=incident, tlp=tlp_option(tlp), limit=limit, offset=offset
    )

    def render() -> None:
        zone = time_zone(ws.config.timezone)
        shown = f"{page.offset + 1}-{page.offset + len(page.objects)} of " if page.objects else ""
        rows = table(f"Indicators ({shown}{page.total}, newest first, times in {zone.key})")
        rows.add_column("TLP", no_wrap=True)
        rows.add_column("Created", no_wrap=True)
        rows.add_column("Pattern / id", overflow="fold", ratio=1)
        for obj in page.objects:
            rows.add_row(
                tlp_text(object_level(obj, TLP.AMBER)),
                local_text(parse_ts(obj["created"]), zone).split(" ", 1)[0],
                f"{obj['pattern']}\n{obj['id']}",
            )
        console().print(rows)
        if page.next_offset is not None:
            console().print(
                f"next page: cirt indicator list --offset {page.next_offset}"
                + (f" --limit {limit}" if limit != 50 else "")
            )

    emit(page.as_dict(), as_json, render)


# --- issue 13: what we know of an indicator, and the end of its life ----------------------------


@app.command("show")
def show(
    ctx: typer.Context,
    indicator: Annotated[str, typer.Argument(help="indicator--…")],
    as_json: JsonFlag = False,
) -> None:
    """An indicator: its state, versions, incidents and sightings."""
    view = workspace(ctx).indicators.show(indicator)

    def render() -> None:
        from rich.text import Text  # imported here: start-up time (--json never renders)

        out = console()
        line = Text()
        line.append_text(tlp_text(view.tlp))
        line.append_text(styled(f" {view.obj['pattern']}  [{view.state or 'active'}]"))
        out.print(line)
        out.print(
            f"{view.obj['id']}, {len(view.versions)} version(s), "
            f"valid from {view.obj.get('valid_from', '?')}"
            + (f" until {view.obj['valid_until']}" if view.obj.get("valid_until") else "")
        )
        for ref in view.incidents:
            out.print(f"incident {ref.reference} ({ref.tlp.label}): {ref.title}")
        total = sum(s.count for s in view.sightings)
        out.print(f"sightings: {len(view.sightings)} ({total} time(s))")
        for s in view.sightings:
            out.print(
                f"  {', '.join(s.by)}: {s.count}x, {s.first_seen or '?'} to "
                f"{s.last_seen or '?'} ({s.tlp.label}, from {s.source})"
            )

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
def revoke(ctx: typer.Context, indicator: IndicatorId, reason: Reason, as_json: JsonFlag = False) -> None:
    """A revoked version: nobody should use it any more."""
    _retire(ctx, indicator, "revoke", reason, as_json)


@app.command("expire")
def expire(ctx: typer.Context, indicator: IndicatorId, reason: Reason, as_json: JsonFlag = False) -> None:
    """A version valid until now."""
    _retire(ctx, indicator, "expire", reason, as_json)


@app.command("false-positive")
def false_positive(
    ctx: typer.Context, indicator: IndicatorId, reason: Reason, as_json: JsonFlag = False
) -> None:
    """A version labelled false-positive and valid until now."""
    _retire(ctx, indicator, "false-positive", reason, as_json)
