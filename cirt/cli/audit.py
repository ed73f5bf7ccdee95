"""``cirt audit …``: the disclosure log: who got what, whether the log is intact, checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, ok, tlp_text, workspace

app = typer.Typer(no_args_is_help=True)


@app.command("log")
def log(ctx: typer.Context,
        to: Annotated[str | None, typer.Option(
            "--to", help="An organisation or partner id (its contacts included), a contact "
                         "e-mail, or a recipient such as org:cbb or public.")] = None,
        object_id: Annotated[str | None, typer.Option(
            "--object", help="Only releases that contained this STIX id.")] = None,
        as_json: JsonFlag = False) -> None:
    """Every release recorded, oldest first: when, analyst, recipient, channel, objects, TLP."""
    entries = workspace(ctx).audit.entries(to=to, object_id=object_id)

    def render() -> None:
        from rich.table import Table
        from rich.text import Text

        if not entries:
            console().print("no release recorded" + (" for that filter" if to or object_id else ""))
            return
        table = Table(title="Disclosure log", title_justify="left")
        for column in ("#", "When (UTC)", "Analyst", "Recipient", "Channel", "TLP", "Objects"):
            table.add_column(column)
        for e in entries:
            objects = "\n".join(f"{i} @ {v}" for i, v, _ in e.objects) or "(none)"
            table.add_row(str(e.seq), e.when[:19].replace("T", " "), e.analyst, e.recipient,
                          e.channel, tlp_text(e.tlp), Text(objects))
        console().print(table)

    emit([e.as_dict() for e in entries], as_json, render)


@app.command("verify")
def verify(ctx: typer.Context,
           checkpoint: Annotated[Path | None, typer.Option(
               "--checkpoint", help="A signed checkpoint file: also prove nothing up to its "
                                    "head was removed.")] = None,
           as_json: JsonFlag = False) -> None:
    """Check the hash chain; exit 1 naming the first edited, removed or reordered entry."""
    from cirt.audit import LogBroken

    report = workspace(ctx).audit.verify(checkpoint)

    def render() -> None:
        if report.ok:
            vouched = (f"; reaches the signed checkpoint at entry #{report.checkpoint.seq}"
                       if report.checkpoint else "")
            ok(f"disclosure log intact: {report.entries} entries, head #{report.head.seq} "
               f"{report.head.hash[:16]}…{vouched}")

    emit(report.as_dict(), as_json, render)
    if not report.ok:
        raise LogBroken(report)


@app.command("checkpoint")
def checkpoint(ctx: typer.Context,
               output: Annotated[Path, typer.Option(
                   "-o", "--output", help="Where to write it; keep a copy outside this machine.")],
               as_json: JsonFlag = False) -> None:
    """Sign the head of the chain with the CIRT's OpenPGP key, into a file kept elsewhere."""
    written = workspace(ctx).audit.checkpoint(output)
    emit(written.as_dict(), as_json, lambda: ok(
        f"checkpoint of entry #{written.head.seq} ({written.head.hash[:16]}…) signed by "
        f"{written.fingerprint} written to {written.path}"))
