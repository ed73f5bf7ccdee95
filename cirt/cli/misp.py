"""``cirt misp``: MISP events and feeds through the gate, live push and pull with partners."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cirt.cli.correlate import mark, say_seen
from cirt.cli.output import JsonFlag, console, emit, markup, ok, table, tlp_text, warn, workspace
from cirt.misp_tlp import DISTRIBUTION_FLOOR, DISTRIBUTIONS, TABLE

app = typer.Typer(no_args_is_help=True)

ForOption = Annotated[
    str, typer.Option("--for", help="Recipient: an organisation or partner id of sectors.yaml.")
]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="Only what changed after this UTC timestamp (2026-03-01T00:00:00Z)."),
]


@app.command("export")
def export_command(
    ctx: typer.Context,
    recipient: ForOption,
    incident: Annotated[
        str | None, typer.Option("--incident", help="The incident (BZ-2026-0001 or incident--uuid).")
    ] = None,
    since: SinceOption = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File (default: standard output).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """A MISP event of what the gate releases to the recipient (recorded in the log)."""
    from cirt.misp.to_misp import event_dict  # start-up: PyMISP, 0.2-0.35 s to load

    built = workspace(ctx).misp.export(recipient, incident=incident, since=since)
    text = json.dumps(event_dict(built.event), indent=1, ensure_ascii=False) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    summary = {
        "file": str(output),
        "event": str(built.event.uuid),
        "attributes": built.attributes,
        "withheld": built.withheld,
    }
    emit(
        summary,
        as_json,
        lambda: ok(
            f"MISP event {built.event.uuid} ({built.attributes} attribute(s), {built.withheld}"
            f" object(s) withheld) written to {output}"
        ),
    )


@app.command("feed")
def feed_command(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Feed directory (created if missing).")],
    recipient: ForOption,
    since: SinceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """A MISP feed (manifest.json, hashes.csv, one file per incident event) for the recipient."""
    result = workspace(ctx).misp.write_feed(directory, recipient, since)

    def render() -> None:
        for event in result.events:
            console().print(
                f"  {event['uuid']}  {event['attributes']:>4} attribute(s)  {event['info']}", markup=False
            )
        ok(f"{len(result.events)} event(s) written to the feed in {directory}")

    emit(result.to_dict(), as_json, render)


@app.command("push")
def push_command(
    ctx: typer.Context,
    partner: Annotated[str, typer.Argument(help="Partner id of sectors.yaml (with misp: url).")],
    since: SinceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Send the partner's MISP each incident event it may receive, unless it has it already."""
    result = workspace(ctx).misp.push(partner, since)
    emit(
        result.to_dict(),
        as_json,
        lambda: ok(f"{partner}: {len(result.sent)} event(s) sent, {len(result.unchanged)} unchanged"),
    )


@app.command("pull")
def pull_command(
    ctx: typer.Context,
    partner: Annotated[str, typer.Argument(help="Partner id of sectors.yaml (with misp: url).")],
    since: SinceOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Store the partner's events changed since the last pull, with their TLP and provenance."""
    ws = workspace(ctx)
    before = mark(ws)
    result = ws.misp.pull(partner, since)
    summary = result.summary

    def render() -> None:
        for note in summary.notes:
            console().print(markup("[cyan]note[/cyan] {}", note))
        ok(
            f"{partner}: {len(result.events)} event(s); {summary.new} new, {summary.updated}"
            f" updated, {summary.duplicates} duplicate(s), {len(summary.rejected)} rejected"
        )
        for ref, reason in summary.rejected:
            warn(f"rejected {ref}: {reason}")

    emit(result.to_dict(), as_json, render)
    say_seen(ws, before)


@app.command("tlp")
def tlp_command(as_json: JsonFlag = False) -> None:
    """The one TLP translation table: STIX markings, MISP tags and distribution levels."""
    rows = [
        {
            "tlp": row.level.label,
            "stix_2_0_marking": row.stix2_marking,
            "stix_1_0_markings": list(row.stix1_markings),
            "misp_tags": list(row.misp_tags),
            "misp_distribution_out": None
            if row.misp_distribution is None
            else f"{row.misp_distribution} ({DISTRIBUTIONS[row.misp_distribution]})",
        }
        for row in TABLE
    ]
    floors = {f"{d} ({DISTRIBUTIONS[d]})": level.label for d, level in DISTRIBUTION_FLOOR.items()}

    def render() -> None:
        mapping = table("One translation table, both ways")
        mapping.add_column("TLP", no_wrap=True)
        mapping.add_column("MISP tags", ratio=1, overflow="fold")
        mapping.add_column("MISP distribution out", ratio=1)
        mapping.add_column("STIX 2.0 / 1.0 marking definitions", ratio=2, overflow="fold")
        for row, data in zip(TABLE, rows, strict=True):
            mapping.add_row(
                tlp_text(row.level),
                ", ".join(row.misp_tags),
                str(data["misp_distribution_out"] or "never leaves"),
                "\n".join([row.stix2_marking, *row.stix1_markings]),
            )
        console().print(mapping)
        console().print(
            "Received from MISP: at least "
            + "; ".join(f"{level} for distribution {d}" for d, level in floors.items())
            + "; several labels: the most restrictive; no label: default_tlp of sectors.yaml;"
            " an unknown tlp: tag: TLP:RED.",
            markup=False,
        )

    emit({"levels": rows, "received_distribution_floor": floors}, as_json, render)
