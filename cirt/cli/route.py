"""``cirt route …``: inbound indicators that fall in an organisation's declared assets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, ok, table, warn, workspace

app = typer.Typer(no_args_is_help=True)

ForParty = Annotated[str | None, typer.Option("--for", help="One organisation or partner (sectors.yaml id).")]


@app.command("list")
def list_routes(
    ctx: typer.Context,
    party: ForParty = None,
    state: Annotated[str | None, typer.Option("--state", help="pending or sent (default: both).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Routed notifications, and whether the gate would release each to its party now."""
    views = workspace(ctx).routes.list(party, state=state)

    def render() -> None:
        if not views:
            ok("no routed notifications")
            return
        routed = table("Routed notifications")
        routed.add_column("For", no_wrap=True)
        for column in ("Value", "Asset"):
            routed.add_column(column, ratio=2, overflow="fold")
        routed.add_column("Seen", no_wrap=True)
        for column in ("Source", "State", "Gate"):
            routed.add_column(column, ratio=2, overflow="fold")
        for view in views:
            row = view.row
            state_text = f"sent {row.bulletin}" if row.state == "sent" else "pending"
            gate = "releasable" if view.allowed else f"withheld: {view.reason}"
            routed.add_row(row.party, row.value, row.asset, str(row.seen), row.source, state_text, gate)
        console().print(routed)

    emit([v.as_dict() for v in views], as_json, render)


@app.command("send")
def send(
    ctx: typer.Context,
    party: ForParty = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Directory the bulletins are written to.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, html, txt, or stix.")] = "md",
    mail: Annotated[
        bool,
        typer.Option(
            "--mail",
            help="E-mail each organisation's contacts instead (signed, encrypted where a key is known).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """One bulletin per party with pending notifications: only what the gate releases (logged),
    to files or by e-mail."""
    results = workspace(ctx).routes.send(party, out_dir=output, fmt=fmt, mail=mail)

    def render() -> None:
        if not results:
            ok("nothing to send: no pending notification the gate releases")
        for sent in results:
            where = sent.path if sent.path.startswith("e-mail") else f"written to {sent.path}"
            ok(f"bulletin {sent.number} for {sent.party}: {len(sent.values)} values, {where}")
            for value, reason in sent.withheld:
                warn(f"{value} not sent to {sent.party}: {reason}")

    emit([s.as_dict() for s in results], as_json, render)
