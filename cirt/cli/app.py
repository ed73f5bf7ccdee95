"""The ``cirt`` command: the root options, the command groups and the one error boundary.

Every ``CirtError`` becomes one line on stderr and its exit code (1 failure, 2 usage); anything
else is an internal error, shown with its stack only under ``--debug`` (locals never shown).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from cirt.cli import (
    audit,
    bulletin,
    dashboard,
    db,
    demo,
    evidence,
    export,
    importer,
    incident,
    indicator,
    misp,
    playbook,
    sector,
    share,
    task,
    taxii,
    workspace_cmds,
)
from cirt.errors import CirtError, ExitCode

app = typer.Typer(
    name="cirt",
    help="A national CIRT's toolkit: incidents as STIX 2.1, TLP 2.0 enforced on every release.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[str | None, typer.Option(
        "--home", envvar="CIRT_HOME", help="Workspace directory (default: XDG data dir)/cirt.")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show the stack on internal errors.")] = False,
) -> None:
    ctx.obj = {"home": home, "debug": debug}


workspace_cmds.register(app)
app.add_typer(incident.app, name="incident", help="Open, triage, escalate and close incidents.")
app.add_typer(indicator.app, name="indicator", help="Indicators of compromise (STIX patterns).")
app.add_typer(sector.app, name="sector", help="The sharing community in sectors.yaml.")
app.add_typer(share.app, name="share", help="Audiences, and what the gate would release to whom.")
app.add_typer(audit.app, name="audit", help="The disclosure log: who got what; verify it.")
app.add_typer(bulletin.app, name="bulletin", help="Bulletins for a sector: build, or send by e-mail.")
app.add_typer(misp.app, name="misp", help="MISP: events and feeds through the gate; push, pull.")
app.add_typer(taxii.app, name="taxii", help="TAXII 2.1: pull from and push to partners; serve ours.")
app.add_typer(playbook.app, name="playbook", help="Incident procedures: list, show, validate.")
app.add_typer(task.app, name="task", help="An incident's tasks and notification duties.")
app.add_typer(evidence.app, name="evidence", help="Evidence and its chain of custody.")
app.add_typer(db.app, name="db", help="The database: status, migrations, copy to PostgreSQL.")
dashboard.register(app)
export.register(app)
importer.register(app)
demo.register(app)


def run(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code (tests call this; ``main`` exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or bool(os.environ.get("CIRT_DEBUG"))
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="cirt", standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("cirt: aborted\n")
        return int(ExitCode.FAILURE)
    except CirtError as exc:
        if debug:
            raise
        sys.stderr.write(f"cirt: {exc}\n")
        return int(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("cirt: interrupted\n")
        return 130
    except Exception as exc:
        parser_exit = getattr(exc, "exit_code", None)
        if hasattr(exc, "show") and isinstance(parser_exit, int):
            exc.show()  # the command-line parser's own usage errors (exit code 2)
            return parser_exit
        if debug:
            raise
        sys.stderr.write(f"cirt: internal error: {type(exc).__name__}: {exc} (run with --debug)\n")
        return int(ExitCode.FAILURE)
    return result if isinstance(result, int) else int(ExitCode.OK)


def main() -> None:
    sys.exit(run())
