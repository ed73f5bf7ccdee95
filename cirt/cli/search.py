"""``cirt search TERM``: every object that holds a value or words, with its TLP and incidents."""

from __future__ import annotations

from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, styled, table, tlp_text, workspace


def register(app: typer.Typer) -> None:
    app.command("search")(search)


def search(
    ctx: typer.Context,
    term: Annotated[
        str,
        typer.Argument(
            help="An address or range, domain, URL, hash, e-mail address, incident reference or words."
        ),
    ],
    limit: Annotated[int, typer.Option("--limit", help="At most this many hits.")] = 50,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Index every stored object again first (a workspace from before the index existed).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Have we seen it before? Indicators, observables, incidents, notes, evidence, sightings."""
    # Imported here: start-up time (this module loads with every ``cirt`` command).
    from cirt.search import search as run
    from cirt.store.search_index import rebuild as reindex

    ws = workspace(ctx)
    if rebuild:
        reindex(ws.store.db)
    result = run(ws.context, term, limit=limit)

    def render() -> None:
        from rich.text import Text  # imported here: start-up time (--json never renders)

        hits = table(styled(f"{len(result.hits)} hit(s) for {result.term} ({result.kind})"))
        hits.add_column("TLP", no_wrap=True)
        hits.add_column("What", ratio=3, overflow="fold")
        hits.add_column("Matched", ratio=1, overflow="fold")
        hits.add_column("Incidents", ratio=2, overflow="fold")
        hits.add_column("Added", no_wrap=True)
        for hit in result.hits:
            incidents = Text()
            for n, ref in enumerate(hit.incidents):
                incidents.append(", " if n else "")
                incidents.append_text(styled(ref.reference + " "))
                incidents.append_text(tlp_text(ref.tlp))
            what = (
                f"{hit.type}: {hit.summary}"
                + (f" [{hit.state}]" if hit.state else "")
                + (f" · sighted {hit.sightings}x" if hit.sightings else "")
            )
            hits.add_row(tlp_text(hit.tlp), what, ", ".join(hit.matched), incidents, hit.added[:10])
        console().print(hits)
        if result.truncated:
            console().print(f"… more hits: use --limit {limit * 2} or a narrower term")

    emit(result.as_dict(), as_json, render)
