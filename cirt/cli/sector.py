"""``cirt sector …``: the sharing community of sectors.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cirt.cli.output import JsonFlag, console, emit, home_option, markup, ok, styled, table
from cirt.config import CONFIG_FILE, load_config, resolve_home
from cirt.sectors_file import load_community

if TYPE_CHECKING:
    from cirt.community import Community

app = typer.Typer(no_args_is_help=True)


def _community(ctx: typer.Context, path: Path | None = None) -> Community:
    """The workspace's sectors.yaml, or ``path`` checked against the workspace's config.toml
    ``[import]`` limits when there is a workspace (else against the defaults)."""
    home = resolve_home(home_option(ctx))
    config = load_config(home) if path is None or (home / CONFIG_FILE).exists() else None
    if path is None:
        assert config is not None
        path = config.sectors_path
    return load_community(path, config.limits if config else None)


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Organisations and partners, with their sector and community membership."""
    community = _community(ctx)
    rows: list[dict[str, Any]] = [
        {
            "id": o.id,
            "kind": o.role,
            "name": o.name,
            "sector": o.sector,
            "cirt": o.cirt,
            "green_community": o.community,
            "contacts": len(o.contacts),
        }
        for o in community.organisations.values()
    ] + [
        {
            "id": p.id,
            "kind": "partner",
            "name": p.name,
            "sector": None,
            "cirt": None,
            "green_community": p.community,
            "contacts": len(p.contacts),
        }
        for p in community.partners.values()
    ]

    def render() -> None:
        parties = table(styled(f"{community.national.name}: sharing community"))
        parties.add_column("Id", no_wrap=True)
        parties.add_column("Name (CIRT)", ratio=3)
        parties.add_column("Sector or kind", ratio=2, overflow="fold")
        for column in ("GREEN", "Contacts"):
            parties.add_column(column, no_wrap=True)
        for r in rows:
            name = markup("{}" + (" [dim]({})[/dim]" if r["cirt"] else ""), r["name"], r["cirt"])
            kind = r["sector"] if r["kind"] == "constituent" and r["sector"] else r["kind"]
            parties.add_row(r["id"], name, kind, "yes" if r["green_community"] else "no", str(r["contacts"]))
        console().print(parties)

    emit(rows, as_json, render)


@app.command("show")
def show(ctx: typer.Context, org: str, as_json: JsonFlag = False) -> None:
    """One organisation or partner: contacts, assets, endpoints."""
    party = _community(ctx).party(org)
    data = party.as_dict()

    def render() -> None:
        from rich.pretty import Pretty  # start-up: ~20 ms, only when a party is shown

        console().print(markup("[bold]{}[/] ({})", party.name, party.id))
        console().print(Pretty(data))

    emit(data, as_json, render)


@app.command("check")
def check(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="Default: the workspace's.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Validate a sectors.yaml; one line naming file, line and field on error."""
    community = _community(ctx, file)
    summary = {
        "file": community.source,
        "organisations": len(community.organisations),
        "partners": len(community.partners),
        "valid": True,
    }
    emit(
        summary,
        as_json,
        lambda: ok(
            f"{community.source}: valid ({summary['organisations']} organisations, "
            f"{summary['partners']} partners)"
        ),
    )
