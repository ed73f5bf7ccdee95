"""``cirt audit …``: the disclosure log (who got what), the refusal log (what each source tried
and was refused), whether both chains are intact, checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, ok, styled, table, tlp_text, workspace

app = typer.Typer(no_args_is_help=True)


@app.command("log")
def log(
    ctx: typer.Context,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="An organisation or partner id (its contacts included), a contact "
            "e-mail, or a recipient such as org:cbb or public.",
        ),
    ] = None,
    object_id: Annotated[
        str | None, typer.Option("--object", help="Only releases that contained this STIX id.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every release recorded, oldest first: when, analyst, recipient, channel, objects, TLP."""
    entries = workspace(ctx).audit.entries(to=to, object_id=object_id)

    def render() -> None:
        if not entries:
            console().print("no release recorded" + (" for that filter" if to or object_id else ""))
            return
        releases = table("Disclosure log (object versions: --json, or --object ID)")
        for column in ("#", "When (UTC)"):
            releases.add_column(column, no_wrap=True)
        for column in ("Analyst", "Recipient", "Channel"):
            releases.add_column(column, ratio=1, overflow="fold")
        for column in ("TLP", "Objects"):
            releases.add_column(column, no_wrap=True)
        for e in entries:
            channel = e.channel + (f" ({e.delivery})" if e.delivery else "")
            releases.add_row(
                str(e.seq),
                e.when[:16].replace("T", " "),
                e.analyst,
                e.recipient,
                channel,
                tlp_text(e.tlp),
                str(len(e.objects)),
            )
        console().print(releases)

    emit([e.as_dict() for e in entries], as_json, render)


_OUTCOME_STYLE = {"rejected": "red", "refused": "bold red", "conflict": "yellow"}


@app.command("refusals")
def refusals(
    ctx: typer.Context,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            help="Only what this party (a partner or organisation id, or the "
            "--source given to an import) sent.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """What each source sent and was refused, oldest first: when, source, object, outcome,
    reason (whole documents and single objects)."""
    entries = workspace(ctx).store.ingest_log(source=source)

    def render() -> None:
        if not entries:
            console().print("no refusal recorded" + (" for that source" if source else ""))
            return
        shown = table("Refusal log")
        for column in ("#", "When (UTC)", "Source and outcome", "Object and reason"):
            shown.add_column(column, overflow="fold")
        shown.columns[2].max_width = 28  # a long source name folds; the reason keeps room
        for e in entries:
            via = f"{e.source_kind}: {e.source}" + (f"\n{e.collection}" if e.collection else "")
            what = f"{e.object_id} @ {e.version or '-'}" if e.object_id else "(the whole document)"
            shown.add_row(
                str(e.seq) if e.seq else "-",
                e.when[:16].replace("T", " "),
                styled(via + "\n") + styled(e.outcome, _OUTCOME_STYLE.get(e.outcome, "")),
                styled(f"{what}\n{e.reason}"),
            )
        console().print(shown)

    emit([e.as_dict() for e in entries], as_json, render)


@app.command("verify")
def verify(
    ctx: typer.Context,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            help="A signed checkpoint file: also prove nothing up to the heads "
            "it vouches for was removed from either log.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check both hash chains (disclosures, refusals); exit 1 naming the log and its first
    edited, removed or reordered entry."""
    report = workspace(ctx).audit.verify_all(checkpoint)

    def render() -> None:
        for name, chain in (("disclosure log", report.disclosures), ("refusal log", report.refusals)):
            if chain.ok:
                vouched = (
                    f"; reaches the signed checkpoint at entry #{chain.checkpoint.seq}"
                    if chain.checkpoint
                    else ""
                )
                ok(
                    f"{name} intact: {chain.entries} entries, head #{chain.head.seq} "
                    f"{chain.head.hash[:16]}…{vouched}"
                )

    emit({**report.disclosures.as_dict(), "refusals": report.refusals.as_dict()}, as_json, render)
    report.raise_if_broken()


@app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write it; keep a copy outside this machine.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Sign the heads of both chains (disclosures, refusals) with the CIRT's OpenPGP key, into a
    file kept elsewhere."""
    written = workspace(ctx).audit.checkpoint(output)
    emit(
        written.as_dict(),
        as_json,
        lambda: ok(
            f"checkpoint of disclosure entry #{written.head.seq} ({written.head.hash[:16]}…) and "
            f"refusal entry #{written.refusals.seq} ({written.refusals.hash[:16]}…) signed by "
            f"{written.fingerprint} written to {written.path}"
        ),
    )
