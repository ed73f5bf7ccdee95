"""``cirt triage …``: reports from the web form and e-mail, waiting for an analyst's decision."""

from __future__ import annotations

from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, markup, ok, styled, workspace

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_reports(ctx: typer.Context,
                 state: Annotated[str | None, typer.Option(
                     "--state", help="new, accepted or rejected (default: new).")] = "new",
                 every: Annotated[bool, typer.Option("--all", help="Every state.")] = False,
                 as_json: JsonFlag = False) -> None:
    """Reports in the order they came, newest last."""
    rows = workspace(ctx).intake.list(None if every else state)

    def render() -> None:
        from rich.table import Table

        if not rows:
            ok("no reports" + ("" if every else f" in state {state}"))
            return
        table = Table(title="Reports", title_justify="left")
        for column in ("Reference", "Received", "Channel", "Category", "State", "Summary"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(r.reference, r.received, r.channel, r.category,
                          r.state + (f" {r.incident}" if r.incident else ""), r.summary)
        console().print(table)

    emit([{k: v for k, v in r.as_dict().items() if k != "what"} for r in rows], as_json, render)


@app.command("show")
def show(ctx: typer.Context, reference: Annotated[str, typer.Argument(help="R-… reference.")],
         as_json: JsonFlag = False) -> None:
    """One report in full: what the reporter wrote, who they are, attachments, candidates."""
    report = workspace(ctx).intake.get(reference)

    def render() -> None:
        out = console()
        r = report.row
        for label, value in (("Reference", r.reference), ("Received", r.received),
                             ("Channel", r.channel), ("Category", r.category),
                             ("When", r.occurred or "-"),
                             ("Reporter", f"{r.reporter_name or '-'} <{r.reporter_contact or '-'}>"
                                          f" ({r.reporter_kind})"),
                             ("State", r.state + (f" {r.incident}" if r.incident else "")
                                       + (f": {r.reason}" if r.reason else ""))):
            out.print(markup("[bold]{}:[/bold] {}", label, value))
        out.print(styled("What happened:", "bold"))
        out.print(r.what)
        for a in report.attachments:
            out.print(f"attachment {a.name} ({a.media_type}, {a.size} bytes) sha256 {a.sha256}")
        for kind, value in report.indicators:
            out.print(f"candidate {kind}: {value}")

    emit(report.as_dict(), as_json, render)


@app.command("accept")
def accept(ctx: typer.Context, reference: Annotated[str, typer.Argument(help="R-… reference.")],
           into: Annotated[str | None, typer.Option(
               "--into", help="Join this incident (BZ-…) instead of opening a new one.")] = None,
           severity: Annotated[str, typer.Option("--severity")] = "medium",
           org: Annotated[list[str] | None, typer.Option(
               "--org", help="Affected organisation (default: those whose assets it names).")
           ] = None,
           tlp: Annotated[str | None, typer.Option("--tlp", help="Of a new incident.")] = None,
           title: Annotated[str | None, typer.Option("--title")] = None,
           category: Annotated[str | None, typer.Option(
               "--category", help="Instead of the reporter's choice: phishing, fraud, … or an "
               "RSIT category such as malicious-code:infected-system.")] = None,
           indicators: Annotated[bool, typer.Option(
               "--indicators/--no-indicators", help="Add the candidate indicators.")] = True,
           as_json: JsonFlag = False) -> None:
    """A report becomes a new incident (its playbook applied) or joins one; attachments become
    evidence, candidates indicators (validated and routed like any inbound object)."""
    done = workspace(ctx).intake.accept(reference, into=into, severity=severity, organisations=org,
                                        tlp=tlp, title=title, category=category,
                                        with_indicators=indicators)
    verb = "opened" if done.created else "joined"
    emit(done.as_dict(), as_json, lambda: ok(
        f"{done.reference} accepted: {verb} {done.incident} ({done.indicators} indicators, "
        f"{done.evidence} evidence)"))


@app.command("reject")
def reject(ctx: typer.Context, reference: Annotated[str, typer.Argument(help="R-… reference.")],
           reason: Annotated[str, typer.Option("--reason", help="Why (kept with the report).")],
           as_json: JsonFlag = False) -> None:
    """Close a report without an incident; the reason is kept, the reporter sees it closed."""
    row = workspace(ctx).intake.reject(reference, reason)
    emit(row.as_dict(), as_json, lambda: ok(f"{row.reference} rejected"))
