"""``cirt export``: write a STIX 2.1 bundle, always as a logged release."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, ok, workspace
from cirt.errors import UsageError
from cirt.export import export as run_export


def register(app: typer.Typer) -> None:
    app.command("export")(export)


def export(
    ctx: typer.Context,
    incident: Annotated[str | None, typer.Option("--incident", help="Only this incident.")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File (default stdout).")] = None,
    recipient: Annotated[
        str | None,
        typer.Option(
            "--for",
            help="Only what the gate releases to this organisation, contact, partner or "
            "'public'; without it, everything, released to the CIRT's own archive "
            "('archive'). Either way the release is logged.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="stix, or csv for spreadsheets.")] = "stix",
    of: Annotated[
        str, typer.Option("--of", help="With --format csv: incidents or indicators.")
    ] = "incidents",
    as_json: JsonFlag = False,
) -> None:
    """A STIX 2.1 bundle for a recipient, or the CIRT's own archive copy (logged)."""
    ws = workspace(ctx)
    if fmt == "csv":  # spreadsheets (cirt.csv_export, issue 13)
        # Imported here: start-up time (~30 ms; this module loads with every ``cirt`` command).
        from cirt.csv_export import export_csv

        if incident is not None:
            raise UsageError("--incident is for STIX bundles; CSV holds every incident")
        _write(export_csv(ws.context, ws.sharing, of, recipient), output, as_json, f"{of} as CSV")
        return
    if fmt != "stix":
        raise UsageError("--format must be stix or csv")
    exported = run_export(ws.context, ws.sharing, recipient, incident)
    if output is None:
        sys.stdout.write(exported.text)
        return
    output.write_text(exported.text, encoding="utf-8")
    summary = exported.summary(str(output))
    if as_json:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        ok(f"{summary['objects']} objects released to {summary['recipient']} and written to {output}")


def _write(text: str, output: Path | None, as_json: bool, what: str) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8", newline="")
    if as_json:
        sys.stdout.write(json.dumps({"file": str(output)}) + "\n")
    else:
        ok(f"{what} written to {output}")
