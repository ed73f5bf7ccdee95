"""``cirt share …``: who an object is shared with, and what the gate would do for a recipient."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from cirt.cli.output import (
    JsonFlag,
    console,
    emit,
    markup,
    ok,
    styled,
    table,
    tlp_text,
    workspace,
)

if TYPE_CHECKING:
    from cirt.sharing import Audience, Check

app = typer.Typer(no_args_is_help=True)

ObjectArg = Annotated[
    str, typer.Argument(metavar="ID", help="A STIX id or an incident reference such as BZ-2026-0001.")
]
OrgOpt = Annotated[
    list[str] | None,
    typer.Option("--org", help="An organisation (or partner) id of sectors.yaml; repeatable."),
]
ContactOpt = Annotated[
    list[str] | None,
    typer.Option("--contact", help="A named contact's e-mail address (for TLP:RED); repeatable."),
]
LinkedOpt = Annotated[
    bool, typer.Option("--linked", help="For an incident: also its notes, indicators and relationships.")
]
ChannelOpt = Annotated[str | None, typer.Option("--channel", help="email, bulletin, export, taxii or misp.")]


def _render_audience(audience: Audience) -> None:
    name = audience.reference or audience.object_id
    if not audience.orgs and not audience.contacts:
        console().print(f"{name}: no audience (TLP:CLEAR and TLP:GREEN need none)")
        return
    members = table(styled(f"Audience of {name}"))
    members.add_column("Kind", no_wrap=True)
    members.add_column("Member", ratio=1, overflow="fold")
    for org in audience.orgs:
        members.add_row("organisation", org)
    for contact in audience.contacts:
        members.add_row("named contact", contact)
    console().print(members)


@app.command("add")
def add(
    ctx: typer.Context,
    ref: ObjectArg,
    org: OrgOpt = None,
    contact: ContactOpt = None,
    linked: LinkedOpt = False,
    as_json: JsonFlag = False,
) -> None:
    """Share an object with organisations or named contacts (its TLP still decides)."""
    audience = workspace(ctx).sharing.add(ref, orgs=org or [], contacts=contact or [], linked=linked)

    def render() -> None:
        ok(
            f"audience of {audience.reference or audience.object_id}: "
            f"{', '.join([*audience.orgs, *audience.contacts])}"
        )

    emit(audience.as_dict(), as_json, render)


@app.command("remove")
def remove(
    ctx: typer.Context,
    ref: ObjectArg,
    org: OrgOpt = None,
    contact: ContactOpt = None,
    linked: LinkedOpt = False,
    as_json: JsonFlag = False,
) -> None:
    """Take organisations or named contacts out of an object's audience."""
    audience = workspace(ctx).sharing.remove(ref, orgs=org or [], contacts=contact or [], linked=linked)
    emit(audience.as_dict(), as_json, lambda: _render_audience(audience))


@app.command("list")
def list_(ctx: typer.Context, ref: ObjectArg, as_json: JsonFlag = False) -> None:
    """The organisations and named contacts an object is shared with."""
    audience = workspace(ctx).sharing.audience(ref)
    emit(audience.as_dict(), as_json, lambda: _render_audience(audience))


@app.command("check")
def check(
    ctx: typer.Context,
    ref: ObjectArg,
    to: Annotated[
        str, typer.Option("--to", help="An organisation, a contact's e-mail, a partner, or 'public'.")
    ],
    channel: ChannelOpt = None,
    as_json: JsonFlag = False,
) -> None:
    """Would the gate release this object to a recipient?  One line you may show them."""
    answer = workspace(ctx).sharing.check(ref, to, channel or "export")

    def render() -> None:
        mark = Text("✓ ", style="green") if answer.allowed else Text("✗ ", style="red")
        console().print(mark + Text(answer.line))

    emit(answer.as_dict(), as_json, render)
    if not answer.allowed:
        raise typer.Exit(1)  # withheld: scripts can test it


def _verdicts(checks: list[Check], title: str) -> None:
    verdicts = table(styled(title))
    verdicts.add_column("Recipient", ratio=2, overflow="fold")
    for column in ("Channel", "TLP", ""):
        verdicts.add_column(column, no_wrap=True)
    verdicts.add_column("Rule: why", ratio=3)
    for c in checks:
        verdict = Text("receives", style="green") if c.allowed else Text("withheld", style="red")
        if c.allowed and c.redacted:
            verdict = Text("in part", style="yellow")
        verdicts.add_row(
            c.recipient,
            c.channel,
            tlp_text(c.tlp) if c.tlp is not None else "?",
            verdict,
            markup("[bold]{}[/bold]: {}", c.rule, c.reason),
        )
    console().print(verdicts)


@app.command("who")
def who(
    ctx: typer.Context,
    ref: ObjectArg,
    channel: ChannelOpt = None,
    everyone: Annotated[
        bool, typer.Option("--all", help="Also list who would not receive it, and why.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Every organisation, contact and partner that would receive it, and by which rule."""
    checks = workspace(ctx).sharing.who(ref, channel)
    shown = checks if everyone else [c for c in checks if c.allowed]

    def render() -> None:
        name = checks[0].reference or checks[0].object_id
        if not shown:
            console().print(
                f"{name}: nobody outside the national CIRT would receive it (use --all to see why)"
            )
            return
        _verdicts(shown, f"Who would receive {name}")
        if not everyone:
            console().print(f"{len(checks) - len(shown)} other recipients would not (--all shows why)")

    emit([c.as_dict() for c in shown], as_json, render)


@app.command("lower")
def lower(
    ctx: typer.Context,
    ref: ObjectArg,
    tlp: Annotated[str, typer.Option("--tlp", help="The new, lower TLP level.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it may now go wider.")],
    as_json: JsonFlag = False,
) -> None:
    """Lower the marking of an object the national CIRT created (a new version, reason kept)."""
    lowered = workspace(ctx).sharing.lower_marking(ref, tlp, reason)
    emit(
        lowered.as_dict(),
        as_json,
        lambda: ok(
            f"{ref} lowered from {lowered.before.label} to {lowered.after.label} "
            f"(version {lowered.object['modified']}; reason kept in {lowered.note['id']})"
        ),
    )
