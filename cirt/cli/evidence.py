"""``cirt evidence …``: evidence of an incident and its chain of custody."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, markup, ok, table, workspace
from cirt.stixtime import local_text, parse_ts

if TYPE_CHECKING:
    from cirt.evidence import Evidence

app = typer.Typer(no_args_is_help=True)


def _summary(item: Evidence) -> str:
    return (
        f"{item.number} {item.name} sha256:{item.sha256[:16]}… ({item.size} bytes), held by {item.custodian}"
    )


@app.command("add")
def add(
    ctx: typer.Context,
    ref: str,
    file: Annotated[Path, typer.Argument(help="The file to record (it is hashed, not copied).")],
    note: Annotated[str | None, typer.Option("--note", help="Where and how it was obtained.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who collected it (default: you).")] = None,
    tlp: Annotated[str | None, typer.Option("--tlp", help="Default: red.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a file as evidence: SHA-256, size, who collected it and when."""
    item = workspace(ctx).evidence.add(ref, file, note=note, collected_by=by, tlp=tlp)
    emit(item.as_dict(), as_json, lambda: ok(f"{ref} evidence {_summary(item)}"))


@app.command("handover")
def handover(
    ctx: typer.Context,
    ref: str,
    evidence: Annotated[str, typer.Argument(help="E1, E2… or the SHA-256.")],
    to: Annotated[str, typer.Option("--to", help="Who receives it (name, unit).")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Record that the evidence changed hands (chain of custody)."""
    item = workspace(ctx).evidence.handover(ref, evidence, to=to, note=note)
    emit(item.as_dict(), as_json, lambda: ok(f"{ref} evidence {_summary(item)}"))


@app.command("verify")
def verify(
    ctx: typer.Context,
    ref: str,
    evidence: str,
    file: Annotated[Path, typer.Argument(help="The file as it is now.")],
    as_json: JsonFlag = False,
) -> None:
    """Re-hash a file and check it is the recorded evidence, unchanged; exit 1 if not."""
    result = workspace(ctx).evidence.verify(ref, evidence, file)

    def render() -> None:
        if result.matches:
            ok(f"{file} is evidence {result.evidence.number} unchanged (SHA-256 {result.sha256})")
        else:
            console(stderr=True).print(
                markup(
                    "[red]✗[/red] {} does NOT match evidence {}: SHA-256 {}, recorded {}",
                    file,
                    result.evidence.number,
                    result.sha256,
                    result.evidence.sha256,
                )
            )

    emit(result.as_dict(), as_json, render)
    if not result.matches:
        raise typer.Exit(1)


@app.command("list")
def list_(ctx: typer.Context, ref: str, as_json: JsonFlag = False) -> None:
    """List an incident's evidence with every custody event."""
    ws = workspace(ctx)
    items = ws.evidence.list(ref)

    def render() -> None:
        zone = ws.tasks.zone
        out = console()
        out.print(f"Evidence of {ref} (times in {zone.key})")
        for item in items:
            out.print(
                markup(
                    "\n[bold]{}[/bold]  {}  ({} bytes)\nSHA-256 {}",
                    item.number,
                    item.name,
                    item.size,
                    item.sha256,
                )
            )
            custody = table("")
            custody.add_column("When", no_wrap=True)
            custody.add_column("Custody", ratio=1, overflow="fold")
            for event in item.events:
                what = (
                    f"collected by {event.by}" if event.action == "collected" else f"{event.by} → {event.to}"
                )
                if event.note:
                    what += f" — {event.note}"
                custody.add_row(local_text(parse_ts(event.at), zone), what)
            out.print(custody)

    emit([i.as_dict() for i in items], as_json, render)
