"""``cirt playbook …``: the procedures in the workspace's playbooks folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cirt.cli.output import JsonFlag, console, emit, markup, ok, styled, table, workspace
from cirt.errors import ConfigError
from cirt.playbook_files import ESCALATION_FILE, load_library, load_playbook, parse_escalation
from cirt.yamlfile import load_yaml

if TYPE_CHECKING:
    from cirt.playbook_model import Library

app = typer.Typer(no_args_is_help=True)


def _library(ctx: typer.Context, path: Path | None = None) -> Library:
    """The workspace's playbooks (or those at ``path``), checked against its sectors.yaml."""
    ws = workspace(ctx)
    community = ws.community
    return load_library(
        path or ws.config.playbooks_path,
        parties=[community.national.id, *community.organisations, *community.partners],
        organisations=list(community.organisations),
    )


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the playbooks; a broken file is shown as invalid and is never applied."""
    library = _library(ctx)
    rows: list[dict[str, Any]] = [p.summary() for p in library.playbooks.values()]
    rows += [b.summary() for b in library.broken]
    rows.sort(key=lambda r: r["name"])

    def render() -> None:
        listing = table(styled(f"Playbooks in {library.folder}"))
        listing.add_column("Name", no_wrap=True)
        listing.add_column("Title", ratio=2)
        listing.add_column("Categories", ratio=3, overflow="fold")
        listing.add_column("Sectors", ratio=2, overflow="fold")
        for column in ("Tasks", "Duties"):
            listing.add_column(column, no_wrap=True)
        for r in rows:
            if r["valid"]:
                listing.add_row(
                    r["name"],
                    r["title"],
                    "\n".join(r["categories"]),
                    "\n".join(r["sectors"]) or "any",
                    str(r["tasks"]),
                    str(r["duties"]),
                )
            else:
                listing.add_row(
                    styled(r["name"], "red"), markup("[red]invalid:[/red] {}", r["error"]), "", "", "", ""
                )
        console().print(listing)
        if library.escalation_error:
            console(stderr=True).print(markup("[red]invalid:[/red] {}", library.escalation_error))

    emit(rows, as_json, render)


@app.command("show")
def show(ctx: typer.Context, name: str, as_json: JsonFlag = False) -> None:
    """Show a playbook: tasks by phase, duties, evidence to collect, escalation triggers."""
    library = _library(ctx)
    playbook = library.get(name)
    data = playbook.as_dict()
    data["common_triggers"] = [t.as_dict() for t in library.escalation.triggers]

    def render() -> None:

        out = console()
        out.print(
            markup(
                "[bold]{}[/bold]  ({}, version {})", playbook.spec.title, playbook.name, playbook.spec.version
            )
        )
        out.print(playbook.spec.summary)
        out.print(
            f"Applies to: {', '.join(data['categories'])}; sectors: {', '.join(data['sectors']) or 'any'}"
        )
        tasks = table("Tasks")
        for column in ("Phase", "Id", "Due", "Owner"):
            tasks.add_column(column, max_width=14, overflow="fold")
        tasks.add_column("Task", ratio=1)
        for t in data["task_list"]:
            due = t["due"] + (f" after {t['after']}" if t.get("after") else "")
            title = markup(
                "{}" + (" [dim](when {})[/dim]" if t.get("when") else ""), t["title"], t.get("when")
            )
            tasks.add_row(t["phase"], t["id"], due, t["owner"], title)
        out.print(tasks)
        if data["duty_list"]:
            duties = table("Notification duties")
            for column in ("Id", "Party", "Due"):
                duties.add_column(column, max_width=16, overflow="fold")
            duties.add_column("Duty", ratio=1)
            for d in data["duty_list"]:
                due = d["due"] + (f" after {d['after']}" if d.get("after") else " from opening")
                title = markup(
                    "{}" + (" [dim](when {})[/dim]" if d.get("when") else ""), d["title"], d.get("when")
                )
                party = d["party"] + (f" ({d['role']})" if d.get("role") else "")
                duties.add_row(d["id"], party, due, title)
            out.print(duties)
        if data["evidence_list"]:
            out.print(styled("Evidence to collect", "bold"))
            for e in data["evidence_list"]:
                out.print(
                    markup(
                        "  • {}" + (" [dim]— {}[/dim]" if e.get("handling") else ""),
                        e["title"],
                        e.get("handling"),
                    )
                )
        out.print(styled("Escalation triggers", "bold"))
        for t in [*data["trigger_list"], *data["common_triggers"]]:
            out.print(
                markup(
                    "  → {}: {} [dim](when {}; {})[/dim]",
                    t["level"],
                    t["reason"],
                    t["condition"],
                    t["source"],
                )
            )

    emit(data, as_json, render)


@app.command("validate")
def validate(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="A playbook file or a folder (default: the workspace's playbooks).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check playbooks; each broken file gets one line (file:line: field: reason); exit 1."""
    results: list[dict[str, Any]] = []
    if path is not None and path.is_file():
        ws = workspace(ctx)
        community = ws.community
        parties = [community.national.id, *community.organisations, *community.partners]
        orgs = list(community.organisations)
        try:
            if path.name == ESCALATION_FILE:
                parse_escalation(load_yaml(path), parties=parties, organisations=orgs)
            else:
                load_playbook(path, parties=parties, organisations=orgs)
            results.append({"path": str(path), "valid": True, "error": None})
        except ConfigError as exc:
            results.append({"path": str(path), "valid": False, "error": str(exc)})
    else:
        if path is not None and not path.exists():
            raise ConfigError(str(path), None, "(file)", "no such file or folder")
        library = _library(ctx, path)
        results += [{"path": p.path, "valid": True, "error": None} for p in library.playbooks.values()]
        if library.escalation.path:
            results.append({"path": library.escalation.path, "valid": True, "error": None})
        results += [{"path": str(e.path), "valid": False, "error": str(e)} for e in library.errors]
    results.sort(key=lambda r: r["path"])
    bad = [r for r in results if not r["valid"]]

    def render() -> None:
        for r in results:
            if r["valid"]:
                ok(f"{r['path']}")
        for r in bad:
            console(stderr=True).print(markup("[red]✗[/red] {}", r["error"]))
        if not results:
            console(stderr=True).print("no playbooks found")

    emit({"valid": not bad, "files": results}, as_json, render)
    if bad:
        raise typer.Exit(1)
