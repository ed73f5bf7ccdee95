"""``cirt search TERM``: every object that holds a value or words, with its TLP and incidents."""

from __future__ import annotations

from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, styled, tlp_text, workspace


def register(app: typer.Typer) -> None:
    app.command("search")(search)


def search(
    ctx: typer.Context,
    term: Annotated[str, typer.Argument(help="An address or range, domain, URL, hash, e-mail "
                                              "address, incident reference or words.")],
    limit: Annotated[int, typer.Option("--limit", help="At most this many hits.")] = 50,
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="Index every stored object again first (a workspace from before the "
                          "index existed).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Have we seen it before? Indicators, observables, incidents, notes, evidence, sightings."""
    from cirt.search import search as run
    from cirt.store.search_index import rebuild as reindex

    ws = workspace(ctx)
    if rebuild:
        reindex(ws.store.db)
    result = run(ws, term, limit=limit)

    def render() -> None:
        from rich.table import Table
        from rich.text import Text

        table = Table(title=f"{len(result.hits)} hit(s) for {result.term} ({result.kind})",
                      title_justify="left")
        for column in ("TLP", "Type", "What", "Matched", "Incidents", "Sightings", "Added"):
            table.add_column(column)
        for hit in result.hits:
            incidents = Text()
            for n, ref in enumerate(hit.incidents):
                incidents.append(", " if n else "")
                incidents.append_text(styled(ref.reference + " "))
                incidents.append_text(tlp_text(ref.tlp))
            what = hit.summary + (f" [{hit.state}]" if hit.state else "")
            table.add_row(tlp_text(hit.tlp), hit.type, what, ", ".join(hit.matched),
                          incidents, str(hit.sightings or ""), hit.added[:16])
        console().print(table)
        if result.truncated:
            console().print(f"… more hits: use --limit {limit * 2} or a narrower term")

    emit(result.as_dict(), as_json, render)
