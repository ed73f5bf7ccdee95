"""``cirt intake …``: the citizens' reporting form, and reports that arrive by e-mail."""

from __future__ import annotations

from typing import Annotated

import typer

from cirt.cli.output import console, workspace

app = typer.Typer(no_args_is_help=True)


@app.command("serve")
def serve(ctx: typer.Context,
          host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8443,
          workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 2,
          cert: Annotated[str | None, typer.Option("--cert", help="TLS certificate (PEM).")] = None,
          key: Annotated[str | None, typer.Option("--key", help="TLS private key (PEM).")] = None,
          ) -> None:
    """Serve the reporting form (gunicorn): English and Spanish, no JavaScript, nothing released."""
    from cirt.intake.serving import serve as run

    ws = workspace(ctx)
    scheme = "https" if cert else "http"
    console(stderr=True).print(f"reporting form at {scheme}://{host}:{port}/ ({workers} workers)",
                               markup=False)
    run(ws.home, host=host, port=port, workers=workers, cert=cert, key=key)
