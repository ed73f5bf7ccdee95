"""``cirt taxii …``: exchange with TAXII 2.1 partners, and serve our own TAXII 2.1 server."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cirt.cli.correlate import mark, say_seen
from cirt.cli.output import (
    JsonFlag,
    console,
    emit,
    home_option,
    markup,
    ok,
    styled,
    table,
    warn,
    workspace,
)
from cirt.config import resolve_home
from cirt.errors import RemoteError
from cirt.taxii.auth import issue_credential, revoke_credential

app = typer.Typer(no_args_is_help=True)
credential_app = typer.Typer(no_args_is_help=True)
app.add_typer(
    credential_app, name="credential", help="Credentials of organisations and partners for our TAXII server."
)


ReadTimeout = Annotated[
    float | None,
    typer.Option("--read-timeout", help="Seconds any single read may wait (default: sectors.yaml, 60)."),
]
Deadline = Annotated[
    float | None,
    typer.Option("--deadline", help="Seconds the whole run may take (default: sectors.yaml, 3600)."),
]


@app.command("discover")
def discover(
    ctx: typer.Context,
    peer: Annotated[str, typer.Argument(help="Partner id.")],
    read_timeout: ReadTimeout = None,
    deadline: Deadline = None,
    as_json: JsonFlag = False,
) -> None:
    """A partner's TAXII server: API roots, collections, what we may read and write."""
    taxii = workspace(ctx).taxii
    found = taxii.discover(peer, taxii.peer_limits(peer, read_timeout=read_timeout, deadline=deadline))
    data = found.as_dict()

    def render() -> None:

        out = console()
        out.print(markup("[bold]{}[/] {}", found.title or peer, found.url))
        for root in found.api_roots:
            collections = table(
                styled(f"API root {root.url} (max_content_length {root.max_content_length:,} bytes)")
            )
            collections.add_column("Collection", no_wrap=True)
            collections.add_column("Title", ratio=1, overflow="fold")
            for column in ("Read", "Write", "Configured"):
                collections.add_column(column, no_wrap=True)
            for c in root.collections:
                collections.add_row(
                    c.id,
                    c.title,
                    "yes" if c.can_read else "no",
                    "yes" if c.can_write else "no",
                    c.configured or "",
                )
            out.print(collections)

    emit(data, as_json, render)


@app.command("pull")
def pull(
    ctx: typer.Context,
    peer: Annotated[str, typer.Argument(help="Partner id.")],
    collection: Annotated[
        str | None,
        typer.Option("--collection", help="One collection id (default: the partner's pull_collections)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Fetch what was added after this RFC 3339 time, not the cursor."),
    ] = None,
    read_timeout: ReadTimeout = None,
    deadline: Deadline = None,
    as_json: JsonFlag = False,
) -> None:
    """Fetch what is new in a partner's collections; validate and store it."""
    ws = workspace(ctx)
    limits = ws.taxii.peer_limits(peer, read_timeout=read_timeout, deadline=deadline)
    before = mark(ws)
    with _progress(as_json) as advance:
        result = ws.taxii.pull(peer, collection=collection, since=since, progress=advance, limits=limits)
    data = result.as_dict()

    def render() -> None:

        pulled = table(styled(f"Pulled from {peer}"))
        pulled.add_column("Collection", ratio=2, overflow="fold")
        for column in ("Pages", "Received", "New", "Updated", "Dup.", "Rejected"):
            pulled.add_column(column, justify="right", no_wrap=True)
        pulled.add_column("Cursor", ratio=1, overflow="fold")
        for c in result.collections:
            pulled.add_row(
                c.collection,
                str(c.pages),
                str(c.received),
                str(c.new),
                str(c.updated),
                str(c.duplicates),
                str(len(c.rejected)),
                c.cursor or "",
            )
        console().print(pulled)
        for c in result.collections:
            for rejected in c.rejected:
                warn(f"rejected {rejected['id']}: {rejected['reason']}")
            if c.stopped:
                warn(f"{c.collection}: paging stopped: {c.stopped}")

    emit(data, as_json, render)
    say_seen(ws, before)


@app.command("push")
def push(
    ctx: typer.Context,
    peer: Annotated[str, typer.Argument(help="Partner id.")],
    incident: Annotated[
        str | None,
        typer.Option("--incident", help="An incident (BZ-2026-0001 or incident--…) and what it links."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Objects added after this RFC 3339 time.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Send a partner what the gate lets it have; retries what failed before."""
    result = workspace(ctx).taxii.push(peer, incident=incident, since=since)
    data = result.as_dict()

    def render() -> None:
        ok(
            f"{peer}: {result.sent} sent in {result.envelopes} envelope(s), "
            f"{result.already} already there, {result.failed} failed, {result.pending} pending, "
            f"{result.withheld} withheld by the gate"
        )
        for failure in result.failures:
            warn(f"{failure['id']}: {failure['message']}")

    emit(data, as_json, render)
    if result.pending or result.failed:
        raise RemoteError(
            f"{peer}: {result.pending} object(s) pending and {result.failed} "
            "failed; 'cirt taxii push' again retries them after their backoff"
        )


@app.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 9800,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes.")] = 2,
    threads: Annotated[
        int,
        typer.Option("--threads", help="Requests each worker serves at once (a database connection each)."),
    ] = 4,
    cert: Annotated[str | None, typer.Option("--cert", help="TLS certificate (PEM).")] = None,
    key: Annotated[str | None, typer.Option("--key", help="TLS private key (PEM).")] = None,
    insecure_http: Annotated[
        bool,
        typer.Option(
            "--insecure-http", help="Plain HTTP on an address other machines reach (behind a TLS proxy only)."
        ),
    ] = False,
    read_timeout: Annotated[
        float, typer.Option("--read-timeout", help="Seconds each read from a client may wait.")
    ] = 10.0,
    max_page: Annotated[
        int, typer.Option("--max-page-size", help="Most objects in one page, whatever limit clients ask.")
    ] = 1000,
    max_content: Annotated[
        int, typer.Option("--max-content-length", help="Largest POST body accepted, in bytes.")
    ] = 10 * 1024 * 1024,
) -> None:
    """Serve our TAXII 2.1 server (gunicorn); every response passes the gate per party."""
    from cirt.servers.taxii_serving import serve as run  # start-up: gunicorn, only to serve

    def announce() -> None:
        scheme = "https" if cert else "http"
        console(stderr=True).print(
            f"TAXII 2.1 discovery at {scheme}://{host}:{port}/taxii2/ ({workers} workers, "
            f"{threads} threads each)"
        )
        if scheme == "http" and insecure_http:
            warn("plain HTTP: partners' passwords cross the network in clear unless a TLS proxy is in front")

    run(
        resolve_home(home_option(ctx)),
        host=host,
        port=port,
        workers=workers,
        threads=threads,
        cert=cert,
        key=key,
        insecure_http=insecure_http,
        read_timeout=read_timeout,
        max_page=max_page,
        max_content_length=max_content,
        announce=announce,
    )


@credential_app.command("add")
def credential_add(
    ctx: typer.Context,
    party: Annotated[str, typer.Argument(help="Organisation or partner id.")],
    as_json: JsonFlag = False,
) -> None:
    """Issue a credential; the password is printed once and stored only hashed."""
    issued = issue_credential(workspace(ctx), party)
    data = {"username": issued.username, "password": issued.password, "party": issued.party}

    def render() -> None:
        ok(f"credential for {party}")
        console().print(f"username: {issued.username}\npassword: {issued.password}")
        warn("the password is shown only now: hand it over through a secure channel")

    emit(data, as_json, render)


@credential_app.command("list")
def credential_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Issued credentials (usernames and parties; passwords are not kept)."""
    rows: list[dict[str, Any]] = [
        {"username": c.username, "party": c.party, "created": c.created}
        for c in workspace(ctx).store.taxii_credentials()
    ]

    def render() -> None:

        credentials = table("TAXII credentials")
        for column in ("Username", "Party", "Created"):
            credentials.add_column(column, overflow="fold")
        for r in rows:
            credentials.add_row(r["username"], r["party"], r["created"])
        console().print(credentials)

    emit(rows, as_json, render)


@credential_app.command("remove")
def credential_remove(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Username to revoke.")],
    as_json: JsonFlag = False,
) -> None:
    """Revoke a credential at once (running servers refuse it from the next request)."""
    revoke_credential(workspace(ctx).store, username)
    emit({"removed": username}, as_json, lambda: ok(f"removed {username}"))


class _progress:
    """A rich progress bar for people, nothing for --json; yields ``advance(objects, label)``."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self._progress: Any = None

    def __enter__(self) -> Any:
        if self.quiet:
            return lambda count, label: None
        # start-up: 25-50 ms, paid only by a pull that shows its progress
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console(stderr=True),
            transient=True,
        )
        self._progress.start()
        tasks: dict[str, Any] = {}

        def advance(count: int, label: str) -> None:
            if label not in tasks:
                tasks[label] = self._progress.add_task(label, total=None)
            self._progress.advance(tasks[label], count)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
