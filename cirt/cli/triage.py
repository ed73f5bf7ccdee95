"""``cirt triage …``: reports from the web form and e-mail, waiting for an analyst's decision."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cirt.workspace import Workspace

from cirt.cli.output import JsonFlag, console, emit, markup, ok, styled, table, workspace
from cirt.stixtime import local_text, parse_ts, time_zone

app = typer.Typer(no_args_is_help=True)


def _local(ws: Workspace, stamp: str) -> str:
    """A stored UTC time as the CIRT reads it (without the zone name: the title says it)."""
    return local_text(parse_ts(stamp), time_zone(ws.config.timezone)).rsplit(" ", 1)[0]


@app.command("list")
def list_reports(
    ctx: typer.Context,
    state: Annotated[
        str | None, typer.Option("--state", help="new, accepted or rejected (default: new).")
    ] = "new",
    every: Annotated[bool, typer.Option("--all", help="Every state.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Reports in the order they came, newest last."""
    ws = workspace(ctx)
    rows = ws.intake.list(None if every else state)

    def render() -> None:
        if not rows:
            ok("no reports" + ("" if every else f" in state {state}"))
            return
        reports = table(f"Reports (times in {ws.config.timezone})")
        for column in ("Reference", "Received", "Channel", "Category"):
            reports.add_column(column, no_wrap=True)
        reports.add_column("State", overflow="fold")
        reports.add_column("Summary", ratio=1, overflow="fold")
        for r in rows:
            reports.add_row(
                r.reference,
                _local(ws, r.received),
                r.channel,
                r.category,
                r.state + (f" {r.incident}" if r.incident else ""),
                r.summary,
            )
        console().print(reports)

    emit([{k: v for k, v in r.as_dict().items() if k != "what"} for r in rows], as_json, render)


@app.command("show")
def show(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="R-… reference.")],
    as_json: JsonFlag = False,
) -> None:
    """One report in full: what the reporter wrote, who they are, attachments, candidates."""
    ws = workspace(ctx)
    report = ws.intake.get(reference)

    def render() -> None:
        out = console()
        r = report.row
        received = local_text(parse_ts(r.received), time_zone(ws.config.timezone))
        for label, value in (
            ("Reference", r.reference),
            ("Received", received),
            ("Channel", r.channel),
            ("Category", r.category),
            ("When", r.occurred or "-"),
            ("Reporter", f"{r.reporter_name or '-'} <{r.reporter_contact or '-'}> ({r.reporter_kind})"),
            (
                "State",
                r.state + (f" {r.incident}" if r.incident else "") + (f": {r.reason}" if r.reason else ""),
            ),
        ):
            out.print(markup("[bold]{}:[/bold] {}", label, value))
        out.print(styled("What happened:", "bold"))
        out.print(r.what)
        for a in report.attachments:
            out.print(f"attachment {a.name} ({a.media_type}, {a.size} bytes) sha256 {a.sha256}")
        for kind, value in report.indicators:
            out.print(f"candidate {kind}: {value}")

    emit(report.as_dict(), as_json, render)


@app.command("accept")
def accept(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="R-… reference.")],
    into: Annotated[
        str | None, typer.Option("--into", help="Join this incident (BZ-…) instead of opening a new one.")
    ] = None,
    severity: Annotated[str, typer.Option("--severity")] = "medium",
    org: Annotated[
        list[str] | None,
        typer.Option("--org", help="Affected organisation (default: those whose assets it names)."),
    ] = None,
    tlp: Annotated[str | None, typer.Option("--tlp", help="Of a new incident.")] = None,
    title: Annotated[str | None, typer.Option("--title")] = None,
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            help="Instead of the reporter's choice: phishing, fraud, … or an "
            "RSIT category such as malicious-code:infected-system.",
        ),
    ] = None,
    indicators: Annotated[
        bool, typer.Option("--indicators/--no-indicators", help="Add the candidate indicators.")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """A report becomes a new incident (its playbook applied) or joins one; attachments become
    evidence, candidates indicators (validated and routed like any inbound object)."""
    done = workspace(ctx).intake.accept(
        reference,
        into=into,
        severity=severity,
        organisations=org,
        tlp=tlp,
        title=title,
        category=category,
        with_indicators=indicators,
    )
    verb = "opened" if done.created else "joined"
    emit(
        done.as_dict(),
        as_json,
        lambda: ok(
            f"{done.reference} accepted: {verb} {done.incident} ({done.indicators} indicators, "
            f"{done.evidence} evidence)"
        ),
    )


@app.command("reject")
def reject(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(help="R-… reference.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept with the report).")],
    as_json: JsonFlag = False,
) -> None:
    """Close a report without an incident; the reason is kept, the reporter sees it closed."""
    row = workspace(ctx).intake.reject(reference, reason)
    emit(row.as_dict(), as_json, lambda: ok(f"{row.reference} rejected"))
