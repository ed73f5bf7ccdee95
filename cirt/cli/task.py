"""``cirt task …``: an incident's tasks and notification duties, with their deadlines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cirt.cli.options import deadline
from cirt.cli.output import (
    JsonFlag,
    console,
    emit,
    markup,
    ok,
    styled,
    table,
    warn,
    workspace,
)
from cirt.incidents import Answer, Phase
from cirt.stixtime import format_duration, local_text

if TYPE_CHECKING:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from rich.text import Text

    from cirt.incidents import Incident
    from cirt.playbook_rules import Proposal
    from cirt.tasks import TaskView
    from cirt.workspace import Workspace

app = typer.Typer(no_args_is_help=True)

STATUS_STYLE = {
    "overdue": "bold red",
    "due-soon": "yellow",
    "open": "",
    "waiting": "dim",
    "done": "green",
    "cancelled": "dim strike",
    "waived": "magenta",
}


def status_text(status: str) -> Text:
    return styled(status, STATUS_STYLE.get(status, ""))


def due_text(task: TaskView, now: datetime, zone: ZoneInfo, compact: bool = False) -> str:
    """The deadline in the CIRT's zone, and how far off it is (``compact``: day and time)."""
    if task.due is None:
        return f"{format_duration(task.offset)} after {task.after}" if task.after else "—"
    text = task.due.astimezone(zone).strftime("%a %d %H:%M") if compact else local_text(task.due, zone)
    if task.state == "open":
        delta = task.due - now
        text += (
            f" (in {format_duration(delta)})"
            if delta.total_seconds() > 0
            else f" ({format_duration(-delta)} late)"
        )
    return text


def show_proposal(proposal: Proposal | None, reference: str) -> None:
    """Say which escalation the incident now calls for and why (used after open and update)."""
    if proposal is None:
        return
    reasons = "; ".join(t.reason for t in proposal.reasons)
    warn(
        f"{reference}: escalation to {proposal.level} proposed ({reasons}). "
        f'Run: cirt incident escalate {reference} --to {proposal.level} --reason "…"'
    )


@app.command("list")
def list_(
    ctx: typer.Context,
    ref: str,
    open_only: Annotated[bool, typer.Option("--open", help="Only items still open.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """List an incident's tasks by phase and its duties, with deadlines in the CIRT's zone."""
    ws = workspace(ctx)
    incident, tasks = ws.tasks.list(ref)
    now, zone = ws.clock(), ws.tasks.zone
    shown = [t for t in tasks if not open_only or t.state == "open"]

    def render() -> None:
        items = table(f"{incident.reference} tasks and duties (times in {zone.key})")
        for column in ("#", "Status", "Due"):
            items.add_column(column, no_wrap=column != "Due")
        items.add_column("Task or duty", ratio=1, overflow="fold")
        for t in shown:
            who = (
                "tell " + ", ".join(t.parties) + (f" ({t.role})" if t.role else "")
                if t.kind == "duty"
                else (t.owner or "")
            )
            asks = ("answered " + t.answer) if t.answer else "decision: --answer yes|no"
            title = markup(
                "{}"
                + (" [bold]({})[/bold]" if t.decision else "{}")
                + "\n[dim]{} · {}[/dim]"
                + (" [dim]— {}[/dim]" if t.note else ""),
                t.title,
                asks if t.decision else "",
                t.phase,
                who,
                t.note,
            )
            items.add_row(
                str(t.number), status_text(t.status(now)), due_text(t, now, zone, compact=True), title
            )
        console().print(items)

    emit(
        {
            "incident": incident.reference,
            "timezone": zone.key,
            "tasks": [t.as_dict(now, zone) for t in shown],
        },
        as_json,
        render,
    )


@app.command("done")
def done(
    ctx: typer.Context,
    ref: str,
    task: Annotated[str, typer.Argument(help="Number from 'task list', or its id.")],
    note: Annotated[str | None, typer.Option("--note", help="What was done.")] = None,
    answer: Annotated[Answer | None, typer.Option("--answer", help="The answer to a decision task.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Mark a task or duty done (a decision with its answer); items waiting for it start."""
    ws = workspace(ctx)
    result = ws.tasks.done(ref, task, note=note, answer=answer)
    now, zone = ws.clock(), ws.tasks.zone

    def render() -> None:
        answered = f" — {result.task.answer}" if result.task.answer else ""
        ok(f"{ref} task {result.task.number} done: {result.task.title}{answered}")
        for started in result.started:
            ok(
                f"clock started for task {started.number}: {started.title} — due "
                f"{due_text(started, now, zone)}"
            )
        for skipped in result.not_needed:
            ok(f"task {skipped.number} not needed: {skipped.title}")

    emit(
        {
            "task": result.task.as_dict(now, zone),
            "started": [t.as_dict(now, zone) for t in result.started],
            "not_needed": [t.as_dict(now, zone) for t in result.not_needed],
        },
        as_json,
        render,
    )


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    ref: str,
    task: str,
    note: Annotated[str, typer.Option("--note", help="Why it does not apply.")],
    as_json: JsonFlag = False,
) -> None:
    """Mark a task or duty as not applicable, with the reason."""
    ws = workspace(ctx)
    result = ws.tasks.cancel(ref, task, note=note)
    emit(
        {"task": result.task.as_dict(ws.clock(), ws.tasks.zone)},
        as_json,
        lambda: ok(f"{ref} task {result.task.number} cancelled: {result.task.title}"),
    )


@app.command("waive")
def waive(
    ctx: typer.Context,
    ref: str,
    task: str,
    reason: Annotated[
        str, typer.Option("--reason", help="Who decided the notification is not needed, and why.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Waive a notification duty with the reason; history and the dashboard show it."""
    ws = workspace(ctx)
    result = ws.tasks.waive(ref, task, reason=reason)
    emit(
        {"task": result.task.as_dict(ws.clock(), ws.tasks.zone)},
        as_json,
        lambda: ok(f"{ref} duty {result.task.number} waived: {result.task.title} — {reason}"),
    )


@app.command("add")
def add(
    ctx: typer.Context,
    ref: str,
    title: Annotated[str, typer.Option("--title", help="What has to be done.")],
    due: Annotated[
        str | None,
        typer.Option(
            "--due",
            help="Deadline: a duration from now (30m, 4h, 1d12h) or a time in the "
            "CIRT's zone ('tomorrow 09:00', '17:30', '2026-03-12 09:00').",
        ),
    ] = None,
    phase: Annotated[Phase, typer.Option("--phase")] = "containment",
    owner: Annotated[str | None, typer.Option("--owner", help="Default: you.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a task of your own to an incident."""
    ws = workspace(ctx)
    duration, due_at = deadline(ws, "--due", due)
    created = ws.tasks.add(ref, title=title, due=duration, due_at=due_at, phase=phase, owner=owner)
    now, zone = ws.clock(), ws.tasks.zone
    emit(
        created.as_dict(now, zone),
        as_json,
        lambda: ok(
            f"{ref} task {created.number} added: {created.title} — due {due_text(created, now, zone)}"
        ),
    )


def show_escalation(ws: Workspace, incident: Incident, as_json: bool) -> None:
    """After ``incident escalate``: which triggers hold, and the level's duties now tracked."""
    if as_json:
        return
    out = console(stderr=True)
    holding = ws.tasks.holding(incident)
    if holding:
        for trigger in holding:
            out.print(
                markup(
                    "  trigger → {}: {} [dim]({})[/dim]",
                    trigger.level,
                    trigger.reason,
                    trigger.condition.describe(),
                )
            )
    else:
        out.print("  no escalation trigger holds: this escalation is the analyst's judgement")
    _, tasks = ws.tasks.list(incident.reference)
    now, zone = ws.clock(), ws.tasks.zone
    for t in tasks:
        if t.level == incident.escalation_level and t.state == "open":
            out.print(
                f"  duty {t.number}: tell {', '.join(t.parties)} — {t.title} — due {due_text(t, now, zone)}"
            )
