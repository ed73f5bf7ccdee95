"""``cirt intake …``: the citizens' reporting form, and reports that arrive by e-mail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, ok, warn, workspace
from cirt.intake.mail import MailOutcome, intake_file, intake_imap

app = typer.Typer(no_args_is_help=True)


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8443,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 2,
    cert: Annotated[str | None, typer.Option("--cert", help="TLS certificate (PEM).")] = None,
    key: Annotated[str | None, typer.Option("--key", help="TLS private key (PEM).")] = None,
) -> None:
    """Serve the reporting form (gunicorn): English and Spanish, no JavaScript, nothing released."""
    # Imported here: start-up time (gunicorn, werkzeug, jinja2 and the workspace: ~0.6 s).
    from cirt.servers.intake_serving import serve as run

    ws = workspace(ctx)
    scheme = "https" if cert else "http"
    console(stderr=True).print(f"reporting form at {scheme}://{host}:{port}/ ({workers} workers)")
    run(ws.home, host=host, port=port, workers=workers, cert=cert, key=key)


def _render_mail(outcomes: list[MailOutcome]) -> None:
    if not outcomes:
        ok("no new messages")
    for o in outcomes:
        if o.status == "new":
            ok(f"{o.source}: report {o.reference} from {o.detail or 'an unknown sender'}")
        elif o.status == "duplicate":
            ok(f"{o.source}: already report {o.reference}")
        else:
            warn(f"{o.source}: refused: {o.detail}")
        for skipped in o.skipped:
            warn(f"{o.source}: attachment left out: {skipped}")


@app.command("mail")
def mail(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A .eml message or an mbox file.")],
    as_json: JsonFlag = False,
) -> None:
    """Each message becomes a report (the sender as reporter); attachments hashed; candidates
    from forwarded messages.  Exits 1 if any message was refused."""
    ws = workspace(ctx)
    outcomes = intake_file(ws.context, ws.intake, file)
    emit([o.as_dict() for o in outcomes], as_json, lambda: _render_mail(outcomes))
    if any(o.status == "refused" for o in outcomes):
        raise typer.Exit(1)


@app.command("imap")
def imap(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Read the unread messages of the [intake] imap_* mailbox into reports; mark them read."""
    ws = workspace(ctx)
    outcomes = intake_imap(ws.context, ws.intake)
    emit([o.as_dict() for o in outcomes], as_json, lambda: _render_mail(outcomes))
    if any(o.status == "refused" for o in outcomes):
        raise typer.Exit(1)
