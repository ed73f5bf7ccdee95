"""``cirt bulletin …``: bulletins for a sector organisation, to a file or by signed e-mail."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.text import Text

from cirt.bulletin import DeliveryRefused, parse_period
from cirt.cli.output import JsonFlag, console, emit, ok, styled, table, tlp_text, warn, workspace
from cirt.errors import CirtError, InvalidValue, UsageError
from cirt.tlp import TLP

app = typer.Typer(no_args_is_help=True)

ForOrg = Annotated[
    str, typer.Option("--for", help="An organisation or partner (sectors.yaml id), or 'public' (TLP:CLEAR).")
]
Format = Literal["md", "html", "txt", "stix"]
Since = Annotated[str, typer.Option("--since", help="How far back: 24h, 7d, 2w.")]


@app.command("build")
def build(
    ctx: typer.Context,
    org: ForOrg,
    since: Since = "7d",
    fmt: Annotated[Format, typer.Option("--format", help="stix: the bundle itself.")] = "md",
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file instead of standard output.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """The bulletin for ORG: only what the sharing gate releases to it (logged when written
    to a file; on the terminal it is a preview)."""
    bulletins = workspace(ctx).bulletins  # to the terminal: a preview, not a release (issue 11)
    built = (bulletins.build if output is not None else bulletins.preview)(
        org, period=period_option(since), fmt=fmt
    )
    if output is not None:
        try:
            output.write_text(built.text, encoding="utf-8")
        except OSError as exc:
            raise CirtError(f"cannot write {output}: {exc.strerror}") from None
    data = {
        **built.bulletin.as_dict(),
        "format": fmt,
        "output": str(output) if output else None,
        "content": None if output else built.text,
    }

    def render() -> None:
        if output is None:
            sys.stdout.write(built.text)
            return
        b = built.bulletin
        out = console()
        out.print(tlp_text(b.tlp), end=" ")
        out.print(
            f"bulletin {b.number} for {b.recipient}: {len(b.incidents)} incidents, "
            f"{len(b.indicators)} indicators",
            markup=False,
        )
        ok(f"written to {output}")

    emit(data, as_json, render)


@app.command("send")
def send(
    ctx: typer.Context,
    org: ForOrg,
    since: Since = "7d",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show who would get what; send and log nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """One signed e-mail per contact of ORG, encrypted to those with a key; RED only to the named.

    Exits 1 when a contact was refused (AMBER or above, no key, plain mail not allowed).
    """
    outcomes = workspace(ctx).bulletins.send(org, period=period_option(since), dry_run=dry_run)

    def render() -> None:
        sent = table(styled(f"Bulletin for {org}" + (" (dry run)" if dry_run else "")))
        sent.add_column("Contact", ratio=2, overflow="fold")
        for column in ("TLP", "Outcome"):
            sent.add_column(column, no_wrap=True)
        sent.add_column("Detail", ratio=3)
        for o in outcomes:
            sent.add_row(o.contact, tlp_text_or_blank(o.tlp), o.status, o.detail)
        console().print(sent)

    emit([o.as_dict() for o in outcomes], as_json, render)
    refused = [o for o in outcomes if o.status in ("refused", "failed")]
    if refused and not dry_run:
        raise DeliveryRefused(refused)
    if refused:
        warn(f"{len(refused)} contact(s) would be refused")


def period_option(text: str) -> timedelta:
    """``--since``; anything but a period such as 24h, 7d or 2w is a usage error (exit 2)."""
    try:
        return parse_period(text)
    except InvalidValue as exc:
        raise UsageError(f"--since: {exc}") from None


def tlp_text_or_blank(slug: str | None) -> Text:
    return tlp_text(TLP.parse(slug)) if slug else Text("")
