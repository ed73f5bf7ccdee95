"""``cirt sector …``: the sharing community of sectors.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cirt.cli.output import JsonFlag, console, emit, home_option, markup, ok

if TYPE_CHECKING:
    from cirt.community import Community

app = typer.Typer(no_args_is_help=True)


def _community(ctx: typer.Context, path: Path | None = None) -> Community:
    from cirt.community import load_community
    from cirt.config import load_config, resolve_home

    if path is None:
        path = load_config(resolve_home(home_option(ctx))).sectors_path
    return load_community(path)


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Organisations and partners, with their sector and community membership."""
    community = _community(ctx)
    rows: list[dict[str, Any]] = [
        {"id": o.id, "kind": o.role, "name": o.name, "sector": o.sector, "cirt": o.cirt,
         "green_community": o.community, "contacts": len(o.contacts)}
        for o in community.organisations.values()
    ] + [
        {"id": p.id, "kind": "partner", "name": p.name, "sector": None, "cirt": None,
         "green_community": p.community, "contacts": len(p.contacts)}
        for p in community.partners.values()
    ]

    def render() -> None:
        from rich.table import Table

        table = Table(title=f"{community.national.name}: sharing community",
                      title_justify="left")
        for column in ("Id", "Kind", "Name", "Sector", "CIRT", "GREEN", "Contacts"):
            table.add_column(column)
        for r in rows:
            table.add_row(r["id"], r["kind"], r["name"], r["sector"] or "", r["cirt"] or "",
                          "yes" if r["green_community"] else "no", str(r["contacts"]))
        console().print(table)

    emit(rows, as_json, render)


@app.command("show")
def show(ctx: typer.Context, org: str, as_json: JsonFlag = False) -> None:
    """One organisation or partner: contacts, assets, endpoints."""
    party = _community(ctx).party(org)
    data = party.model_dump(mode="json")

    def render() -> None:
        from rich.pretty import Pretty

        console().print(markup("[bold]{}[/] ({})", party.name, party.id))
        console().print(Pretty(data))

    emit(data, as_json, render)


@app.command("check")
def check(ctx: typer.Context,
          file: Annotated[Path | None, typer.Argument(help="Default: the workspace's.")] = None,
          as_json: JsonFlag = False) -> None:
    """Validate a sectors.yaml; one line naming file, line and field on error."""
    community = _community(ctx, file)
    summary = {"file": community.source, "organisations": len(community.organisations),
               "partners": len(community.partners), "valid": True}
    emit(summary, as_json, lambda: ok(
        f"{community.source}: valid ({summary['organisations']} organisations, "
        f"{summary['partners']} partners)"))
