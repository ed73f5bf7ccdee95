"""``cirt overdue`` and ``cirt dashboard``: what is late and what is due, across all incidents."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, markup, ok, styled, table, workspace

if TYPE_CHECKING:
    from cirt.dashboard import DueEntry, Overdue

SoonOption = Annotated[str, typer.Option("--within", help="What counts as due soon: 4h, 24h, 2d.")]
DASHBOARD_ROWS = 8
FailOption = Annotated[
    bool, typer.Option("--fail-on-overdue", help="Exit 1 when anything is overdue (for cron and monitoring).")
]


def register(app: typer.Typer) -> None:
    app.command("overdue")(overdue)
    app.command("dashboard")(dashboard)


def _due_table(
    title: str, entries: tuple[DueEntry, ...], view: Overdue, style: str, limit: int | None = None
) -> object:
    """Soonest first; ``limit`` keeps the dashboard to one screen (``cirt overdue`` has all)."""
    from cirt.cli.task import due_text  # imported here: start-up time (see overdue)

    shown = entries[:limit] if limit else entries
    more = f", first {len(shown)}: cirt overdue for all" if len(shown) < len(entries) else ""
    due = table(styled(f"{title} ({len(entries)}{more}, times in {view.zone.key})", style))
    for column in ("Incident", "#", "Due"):
        due.add_column(column, no_wrap=column != "Due")
    due.add_column("Task or duty · owner or to whom", ratio=1, overflow="fold")
    for e in shown:
        t = e.task
        who = "tell " + ", ".join(t.parties) if t.kind == "duty" else (t.owner or "")
        due.add_row(
            markup("{}\n[dim]{}[/dim]", e.reference, e.severity),
            str(t.number),
            due_text(t, view.now, view.zone, compact=True),
            markup("{}\n[dim]{}[/dim]", t.title, who),
        )
    return due


def _exit(view: Overdue, fail_on_overdue: bool) -> None:
    if fail_on_overdue and view.overdue:
        raise typer.Exit(1)


def overdue(
    ctx: typer.Context,
    within: SoonOption = "24h",
    fail_on_overdue: FailOption = False,
    as_json: JsonFlag = False,
) -> None:
    """Tasks and duties of open incidents that are late or due soon (times in the CIRT's zone)."""
    # Imported here: start-up time (this module loads with every ``cirt`` command; the
    # deadline views, the store and the clock code load only when this command runs).
    from cirt.cli.options import duration
    from cirt.dashboard import Deadlines
    from cirt.stixtime import local_text

    soon = duration(within)
    view = Deadlines(workspace(ctx).context).overdue(soon=soon)

    def render() -> None:
        out = console()
        out.print(styled(f"Deadlines at {local_text(view.now, view.zone)}", "bold"))
        if not view.overdue and not view.due_soon:
            ok(f"nothing overdue, nothing due within {within}")
            return
        if view.overdue:
            out.print(_due_table("Overdue", view.overdue, view, "bold red"))
        if view.due_soon:
            out.print(_due_table(f"Due within {within}", view.due_soon, view, "yellow"))

    emit(view.as_dict(), as_json, render)
    _exit(view, fail_on_overdue)


def dashboard(
    ctx: typer.Context,
    within: SoonOption = "24h",
    fail_on_overdue: FailOption = False,
    as_json: JsonFlag = False,
) -> None:
    """One screen: open incidents by sector and severity, what is late, what is due soon."""
    # Imported here: start-up time (this module loads with every ``cirt`` command; the
    # deadline views, the store and the clock code load only when this command runs).
    from cirt.cli.options import duration
    from cirt.dashboard import Deadlines
    from cirt.incidents import SEVERITIES
    from cirt.stixtime import local_text

    soon = duration(within)
    ws = workspace(ctx)
    board = Deadlines(ws.context).dashboard(soon=soon)
    view = board.due

    def render() -> None:
        # Imported here: start-up time (the incident and task command groups load on use).
        from cirt.cli.incident import SEVERITY_STYLE
        from cirt.cli.task import due_text

        out = console()
        out.print(
            markup(
                "[bold]{} — {}[/bold]  [red]{} overdue[/red] · [yellow]{} due within "
                "{}[/yellow] · {} open incidents",
                ws.community.national.name,
                local_text(view.now, view.zone),
                len(view.overdue),
                len(view.due_soon),
                within,
                len(board.incidents),
            )
        )
        duties = board.duties
        out.print(
            f"Notification duties, all incidents: {duties['done']} done, "
            f"{duties['waived']} waived, {duties['cancelled']} not applicable, "
            f"{duties['open']} open"
        )
        matrix = table("Open incidents by sector and severity")
        matrix.add_column("Sector")
        for severity in SEVERITIES:
            matrix.add_column(severity, justify="right")
        for sector, counts in board.by_sector.items():
            matrix.add_row(
                sector,
                *[styled(counts[s], SEVERITY_STYLE.get(s, "")) if counts[s] else "·" for s in SEVERITIES],
            )
        out.print(matrix)
        if board.incidents:
            lines = table("Open incidents")
            for column in ("Incident", "Sev", "Late", "Next due"):
                lines.add_column(column, no_wrap=column != "Next due")
            lines.add_column("Title · level · organisations", ratio=1, overflow="fold")
            for line in board.incidents[:DASHBOARD_ROWS]:
                nxt = (
                    due_text(line.next_due.task, view.now, view.zone, compact=True) if line.next_due else "—"
                )
                lines.add_row(
                    line.reference,
                    styled(line.severity, SEVERITY_STYLE.get(line.severity, "")),
                    styled(line.overdue, "bold red") if line.overdue else "0",
                    nxt,
                    markup("{}\n[dim]{} · {}[/dim]", line.title, line.level, ", ".join(line.organisations)),
                )
            out.print(lines)
        if view.overdue:
            out.print(_due_table("Overdue", view.overdue, view, "bold red", DASHBOARD_ROWS))
        if view.due_soon:
            out.print(_due_table(f"Due within {within}", view.due_soon, view, "yellow", DASHBOARD_ROWS))

    emit(board.as_dict(), as_json, render)
    _exit(view, fail_on_overdue)
