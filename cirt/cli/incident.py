"""``cirt incident …``: the analyst's day from the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from cirt.cli import task
from cirt.cli.options import when
from cirt.cli.output import (
    JsonFlag,
    console,
    emit,
    markup,
    ok,
    styled,
    table,
    tlp_option,
    tlp_text,
    warn,
    workspace,
)
from cirt.errors import InvalidValue, UsageError
from cirt.incidents import (
    INTERNAL_MARKING_ID,
    RSIT_CATEGORIES,
    Channel,
    Determination,
    EscalationLevel,
    Reporter,
    ReporterKind,
    Severity,
    Status,
    parse_category,
)
from cirt.stixtime import local_text, parse_ts, time_zone
from cirt.store.incidents import IncidentFilter
from cirt.tlp import TLP, object_level

if TYPE_CHECKING:
    from cirt.incidents import Incident
    from cirt.linking import Linking
    from cirt.workspace import Workspace

app = typer.Typer(no_args_is_help=True)

IfVersion = Annotated[
    str | None,
    typer.Option("--if-version", help="Refuse (conflict) if the incident changed since this 'modified'."),
]

SEVERITY_STYLE = {"low": "dim", "medium": "yellow", "high": "bold red", "critical": "bold white on red"}


def _linking(ws: Workspace) -> Linking:
    """Related incidents and merges (issue 13), given the services they use."""
    # Imported here: start-up time (the incident desk, tasks and playbook rules: ~38 ms on top
    # of what listing loads) that ``cirt incident list`` never needs.
    from cirt.linking import Linking

    return Linking(ws.context, incidents=ws.incidents, tasks=ws.tasks)


def _show_one(incident: Incident, as_json: bool, verb: str) -> None:
    emit(
        incident.summary(),
        as_json,
        lambda: ok(
            f"{incident.reference} {verb}: {incident.title} "
            f"[{incident.status}, {incident.severity}, {incident.escalation_level}]"
        ),
    )


@app.command("open")
def open_(
    ctx: typer.Context,
    title: Annotated[str, typer.Option("--title", help="Short title of the incident.")],
    category: Annotated[
        str, typer.Option("--category", help="RSIT category, e.g. phishing or fraud:phishing.")
    ],
    severity: Annotated[Severity, typer.Option("--severity")],
    sector: Annotated[
        list[str], typer.Option("--sector", help="Affected organisation id from sectors.yaml (repeatable).")
    ],
    tlp: Annotated[str | None, typer.Option("--tlp", help="TLP label (default from sectors.yaml).")] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="Internal description: never released.")
    ] = None,
    summary: Annotated[
        str | None, typer.Option("--summary", help="Shareable summary: what bulletins and partners see.")
    ] = None,
    reported_at: Annotated[
        str | None,
        typer.Option(
            "--reported-at",
            help="When the report reached us (CIRT's time): '02:00', "
            "'yesterday 23:10', '2026-03-10 02:00', '6h ago'. Duties count from it. Default: now.",
        ),
    ] = None,
    occurred_at: Annotated[
        str | None, typer.Option("--occurred-at", help="When it happened, if known (same forms).")
    ] = None,
    reporter: Annotated[
        str | None, typer.Option("--reporter", help="Who reported it (personal data: never released).")
    ] = None,
    reporter_contact: Annotated[
        str | None, typer.Option("--reporter-contact", help="Their phone or e-mail (never released).")
    ] = None,
    reporter_kind: Annotated[ReporterKind, typer.Option("--reporter-kind")] = "citizen",
    channel: Annotated[Channel | None, typer.Option("--channel", help="How the report came in.")] = None,
    playbook: Annotated[
        str | None,
        typer.Option(
            "--playbook",
            help="The playbook to apply (default: the best match; see the others offered after opening).",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Open an incident as a new STIX 2.1 incident object."""
    ws = workspace(ctx)
    if reporter_contact and not reporter:
        raise UsageError("--reporter-contact needs --reporter NAME")
    incident = ws.incidents.open(
        title=title,
        category=category,
        severity=severity,
        organisations=sector,
        tlp=tlp_option(tlp),
        description=description,
        summary=summary,
        reported_at=when(ws, "--reported-at", reported_at, past=True),
        occurred_at=when(ws, "--occurred-at", occurred_at, past=True),
        reporter=Reporter(reporter, reporter_contact or "", reporter_kind) if reporter else None,
        channel=channel,
        playbook=playbook,
    )
    _show_one(incident, as_json, "opened")
    others = ws.tasks.alternatives(incident)
    if not as_json and incident.playbook:
        ok(f"playbook {incident.playbook} applied: cirt task list {incident.reference}")
    if not as_json and others:
        warn(
            f"also matching: {', '.join(others)} (to follow one instead: cirt incident "
            f"update {incident.reference} --playbook NAME)"
        )
    task.show_proposal(ws.tasks.proposal(incident), incident.reference)


@app.command("list")
def list_(
    ctx: typer.Context,
    status: Annotated[Status | None, typer.Option("--status")] = None,
    sector: Annotated[str | None, typer.Option("--sector", help="Affected organisation id.")] = None,
    severity: Annotated[Severity | None, typer.Option("--severity")] = None,
    tlp: Annotated[str | None, typer.Option("--tlp")] = None,
    category: Annotated[str | None, typer.Option("--category")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1)] = 100,
    as_json: JsonFlag = False,
) -> None:
    """List incidents, newest first.  An unknown filter value is a usage error (exit 2)."""
    ws = workspace(ctx)
    if sector is not None and sector not in ws.community.organisations:
        raise UsageError(
            f"--sector: '{sector}' is not an organisation in sectors.yaml (known: "
            f"{', '.join(ws.community.organisations)})"
        )
    try:
        wanted = parse_category(category) if category else None
    except InvalidValue as exc:
        raise UsageError(f"--category: {exc}") from None
    level = tlp_option(tlp)
    # The record's index, not the incident desk: listing needs no playbook code (start-up).
    rows = ws.incident_records.list(
        IncidentFilter(
            status=status,
            organisation=sector,
            severity=severity,
            tlp=int(level) if level is not None else None,
            category=wanted,
            limit=limit,
        )
    )

    def render() -> None:
        zone = time_zone(workspace(ctx).config.timezone)
        listing = table(f"Incidents ({len(rows)}, newest first, times in {zone.key})")
        for column in ("Ref", "TLP", "Sev", "Status"):
            listing.add_column(column, no_wrap=True)
        listing.add_column("Title · organisations · opened", ratio=1, overflow="fold")
        for r in rows:
            listing.add_row(
                r.reference,
                tlp_text(r.tlp),
                styled(r.severity, SEVERITY_STYLE.get(r.severity, "")),
                f"{r.status}\n{r.escalation}",
                markup(
                    "{}\n[dim]{} · {}[/dim]",
                    r.title,
                    ", ".join(r.organisations),
                    local_text(parse_ts(r.created), zone),
                ),
            )
        console().print(listing)

    data = [
        {
            "id": r.id,
            "reference": r.reference,
            "title": r.title,
            "status": r.status,
            "severity": r.severity,
            "category": r.category,
            "tlp": TLP(r.tlp).slug,
            "escalation_level": r.escalation,
            "assignee": r.assignee,
            "organisations": list(r.organisations),
            "created": r.created,
            "modified": r.modified,
        }
        for r in rows
    ]
    emit(data, as_json, render)


@app.command("show")
def show(ctx: typer.Context, ref: str, as_json: JsonFlag = False) -> None:
    """Show an incident: its fields and everything linked to it."""
    ws = workspace(ctx)
    incident = ws.incidents.get(ref)
    linked = ws.incidents.linked_objects(ref)
    related = _linking(ws).related(ref)

    def render() -> None:
        # Imported here: start-up time (--json never renders).
        from rich.panel import Panel
        from rich.table import Table

        zone = time_zone(ws.config.timezone)
        fields = Table.grid(padding=(0, 2))
        fields.add_column(style="bold")
        fields.add_column()
        summary = incident.summary()
        fields.add_row("TLP", tlp_text(incident.tlp(ws.community.default_tlp)))
        reporter = incident.reporter
        if reporter:
            summary["reporter"] = (
                f"{reporter['name']} ({reporter['kind']})"
                + (f", {reporter['contact']}" if reporter.get("contact") else "")
                + " [internal]"
            )
        if summary["description"]:
            summary["description"] += " [internal]"
        for key in ("reported_at", "occurred_at", "created", "modified"):
            if summary[key]:
                summary[key] = local_text(parse_ts(summary[key]), zone)
        for key in (
            "id",
            "category",
            "severity",
            "status",
            "determination",
            "escalation_level",
            "organisations",
            "assignee",
            "playbook",
            "resolution",
            "reported_at",
            "occurred_at",
            "channel",
            "reporter",
            "created",
            "modified",
            "summary",
            "description",
        ):
            value = summary[key]
            if value:
                fields.add_row(
                    key.replace("_", " "), ", ".join(value) if isinstance(value, list) else str(value)
                )
        console().print(
            Panel(fields, title=styled(f"{incident.reference}  {incident.title}"), title_align="left")
        )
        if linked:
            attached = table("Linked objects")
            for column in ("Type", "TLP", "Created"):
                attached.add_column(column, no_wrap=True)
            attached.add_column("What", ratio=1, overflow="fold")
            for obj in (o for o in linked if o["type"] != "relationship"):
                what = obj.get("name") or obj.get("content") or obj.get("pattern") or obj["id"]
                if obj["type"] == "note":
                    what = (
                        "" if INTERNAL_MARKING_ID in obj.get("object_marking_refs", ()) else "[shared] "
                    ) + str(what)
                attached.add_row(
                    obj["type"],
                    tlp_text(object_level(obj, TLP.AMBER)),
                    local_text(parse_ts(str(obj["created"])), zone),
                    str(what),
                )
            console().print(attached)
        for other in related:
            console().print(f"related: {other.line()}")

    emit(
        {
            **incident.summary(),
            "linked": linked,
            "related": [r.as_dict() for r in related],
            "stix": incident.obj,
        },
        as_json,
        render,
    )


@app.command("update")
def update(
    ctx: typer.Context,
    ref: str,
    title: Annotated[str | None, typer.Option("--title")] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="Internal description: never released.")
    ] = None,
    summary: Annotated[
        str | None, typer.Option("--summary", help="Shareable summary: what bulletins and partners see.")
    ] = None,
    severity: Annotated[Severity | None, typer.Option("--severity")] = None,
    category: Annotated[str | None, typer.Option("--category")] = None,
    status: Annotated[
        Status | None,
        typer.Option("--status", help="new or open (closing and reopening have their own commands)."),
    ] = None,
    tlp: Annotated[str | None, typer.Option("--tlp")] = None,
    sector: Annotated[
        list[str] | None, typer.Option("--sector", help="Add an affected organisation (repeatable).")
    ] = None,
    playbook: Annotated[
        str | None,
        typer.Option(
            "--playbook",
            help="Follow this playbook instead (its open tasks replace the old "
            "one's; what is done stays done).",
        ),
    ] = None,
    if_version: IfVersion = None,
    as_json: JsonFlag = False,
) -> None:
    """Change fields of an incident (a new version; the old one is kept)."""
    ws = workspace(ctx)
    before = ws.incidents.get(ref)
    fields = (title, description, summary, severity, category, status, tlp, sector)
    incident = before
    if playbook is None or any(f is not None for f in fields):
        incident = ws.incidents.update(
            ref,
            title=title,
            description=description,
            summary=summary,
            severity=severity,
            category=category,
            status=status,
            tlp=tlp_option(tlp),
            add_organisations=sector,
            if_version=if_version,
        )
    if playbook is not None:
        incident = ws.tasks.switch_playbook(
            ref, playbook, if_version=None if incident is not before else if_version
        ).incident
    _show_one(incident, as_json, "updated")
    if playbook is not None and not as_json:
        ok(f"playbook {playbook} applied: cirt task list {incident.reference}")
    task.show_proposal(ws.tasks.proposal(incident, before), incident.reference)


@app.command("note")
def note(
    ctx: typer.Context,
    ref: str,
    text: str,
    share: Annotated[
        bool, typer.Option("--share", help="Shareable: bulletins and partners may get it (TLP permitting).")
    ] = False,
    tlp: Annotated[str | None, typer.Option("--tlp")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Attach a note to an incident: internal (never released) unless --share."""
    created = workspace(ctx).incidents.note(ref, text, tlp=tlp_option(tlp), share=share)
    kind = "shareable" if share else "internal"
    emit(created, as_json, lambda: ok(f"{kind} note {created['id']} added to {ref}"))


@app.command("assign")
def assign(ctx: typer.Context, ref: str, analyst: str, as_json: JsonFlag = False) -> None:
    """Assign an incident to an analyst."""
    _show_one(workspace(ctx).incidents.assign(ref, analyst), as_json, f"assigned to {analyst}")


@app.command("escalate")
def escalate(
    ctx: typer.Context,
    ref: str,
    to: Annotated[EscalationLevel, typer.Option("--to")],
    reason: Annotated[str, typer.Option("--reason")],
    de_escalate: Annotated[bool, typer.Option("--de-escalate", help="Move down a level.")] = False,
    if_version: IfVersion = None,
    as_json: JsonFlag = False,
) -> None:
    """Escalate an incident; records who, when and why. Upward only unless --de-escalate."""
    ws = workspace(ctx)
    incident = ws.incidents.escalate(
        ref, level=to, reason=reason, de_escalate=de_escalate, if_version=if_version
    )
    _show_one(incident, as_json, f"{'de-escalated' if de_escalate else 'escalated'} to {to}")
    task.show_escalation(ws, incident, as_json)


@app.command("close")
def close(
    ctx: typer.Context,
    ref: str,
    resolution: Annotated[str, typer.Option("--resolution")],
    determination: Annotated[Determination, typer.Option("--determination")] = "confirmed",
    if_version: IfVersion = None,
    as_json: JsonFlag = False,
) -> None:
    """Close an incident with its resolution."""
    incident = workspace(ctx).incidents.close(
        ref, resolution=resolution, determination=determination, if_version=if_version
    )
    _show_one(incident, as_json, "closed")


@app.command("reopen")
def reopen(
    ctx: typer.Context,
    ref: str,
    reason: Annotated[str, typer.Option("--reason")] = "reopened",
    as_json: JsonFlag = False,
) -> None:
    """Reopen a closed incident."""
    _show_one(workspace(ctx).incidents.reopen(ref, reason=reason), as_json, "reopened")


@app.command("history")
def history(ctx: typer.Context, ref: str, as_json: JsonFlag = False) -> None:
    """Every version and attached object of an incident, oldest first."""
    entries = workspace(ctx).incidents.history(ref)

    def render() -> None:
        zone = time_zone(workspace(ctx).config.timezone)
        lines = table(f"History of {ref} (times in {zone.key})")
        lines.add_column("When", no_wrap=True)
        lines.add_column("Who · what", ratio=1, overflow="fold")
        for e in entries:
            lines.add_row(
                local_text(parse_ts(e.at), zone), markup("[dim]{} · {}[/dim]\n{}", e.by, e.kind, e.what)
            )
        console().print(lines)

    data: list[dict[str, Any]] = [e.as_dict() for e in entries]
    emit(data, as_json, render)


@app.command("categories")
def categories(as_json: JsonFlag = False) -> None:
    """The RSIT incident categories accepted by --category."""

    def render() -> None:
        for cls, kinds in RSIT_CATEGORIES.items():
            console().print(markup("[bold]{}[/]: {}", cls, ", ".join(kinds)))

    emit({k: list(v) for k, v in RSIT_CATEGORIES.items()}, as_json, render)


# --- issue 13: incidents related to each other ---------------------------------------------------


@app.command("link")
def link(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The incident the relationship starts from.")],
    target: Annotated[str, typer.Argument(help="The incident it points to.")],
    link_type: Annotated[
        str, typer.Option("--type", help="related-to, duplicate-of or derived-from.")
    ] = "related-to",
    as_json: JsonFlag = False,
) -> None:
    """Record that two incidents are related (a STIX relationship, on both records)."""
    ws = workspace(ctx)
    relationship = _linking(ws).link(source, target, link_type)
    emit(relationship, as_json, lambda: ok(f"{source} {link_type} {target} ({relationship['id']})"))


@app.command("merge")
def merge(
    ctx: typer.Context,
    duplicate: Annotated[str, typer.Argument(help="The duplicate incident (it is closed).")],
    into: Annotated[str, typer.Argument(help="The incident that carries on.")],
    as_json: JsonFlag = False,
) -> None:
    """Close a duplicate with a pointer; its indicators, notes, tasks and evidence join INTO."""
    ws = workspace(ctx)
    merged = _linking(ws).merge(duplicate, into)
    emit(
        merged.as_dict(),
        as_json,
        lambda: ok(
            f"{merged.duplicate} closed as a duplicate of {merged.into}; {merged.moved} object(s)"
            f" attached to {merged.into}"
        ),
    )
