"""The ``cirt`` command: the root options, the command groups and the one error boundary.

Every ``CirtError`` becomes one line on stderr and its exit code (1 failure, 2 usage); anything
else is an internal error, shown with its stack only under ``--debug`` (locals never shown).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated

import typer

from cirt.cli import correlate, dashboard, demo, export, importer, report, search, workspace_cmds
from cirt.display import visible
from cirt.errors import CirtError, ExitCode

# Command groups: (module, help). Only the group being run is imported and built, so that an
# analyst's `cirt incident list` does not pay for the TAXII server's or MISP's command tree.
GROUPS: dict[str, tuple[str, str]] = {
    "incident": ("cirt.cli.incident", "Open, triage, escalate and close incidents."),
    "indicator": ("cirt.cli.indicator", "Indicators of compromise (STIX patterns)."),
    "sector": ("cirt.cli.sector", "The sharing community in sectors.yaml."),
    "share": ("cirt.cli.share", "Audiences, and what the gate would release to whom."),
    "audit": ("cirt.cli.audit", "The disclosure log: who got what; verify it."),
    "bulletin": ("cirt.cli.bulletin", "Bulletins for a sector: build, or send by e-mail."),
    "misp": ("cirt.cli.misp", "MISP: events and feeds through the gate; push, pull."),
    "taxii": ("cirt.cli.taxii", "TAXII 2.1: pull from and push to partners; serve ours."),
    "playbook": ("cirt.cli.playbook", "Incident procedures: list, show, validate."),
    "task": ("cirt.cli.task", "An incident's tasks and notification duties."),
    "evidence": ("cirt.cli.evidence", "Evidence and its chain of custody."),
    "sighting": ("cirt.cli.sighting", "Sightings: who saw an indicator, how often, when."),
    "db": ("cirt.cli.db", "The database: status, migrations, copy to PostgreSQL."),
    "intake": ("cirt.cli.intake", "Reports from citizens (web form) and by e-mail."),
    "triage": ("cirt.cli.triage", "Reports waiting for an analyst: accept into an incident, reject."),
    "route": ("cirt.cli.route", "Inbound indicators routed to the organisation they concern."),
}
ROOT_OPTIONS_WITH_VALUE = ("--home",)


def show_version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # start-up: ~12 ms, only for --version

        sys.stdout.write(f"cirt {version('cirt')}\n")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    home: Annotated[
        str | None,
        typer.Option("--home", envvar="CIRT_HOME", help="Workspace directory (default: XDG data dir)/cirt."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show the stack on internal errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    ctx.obj = {"home": home, "debug": debug}


def requested_group(args: list[str]) -> str | None:
    """The command group named on the command line, skipping the root options."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in ROOT_OPTIONS_WITH_VALUE:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def build_app(group: str | None = None) -> typer.Typer:
    """The command tree; groups other than ``group`` appear by name and help only."""
    app = typer.Typer(
        name="cirt",
        help="A national CIRT's toolkit: incidents as STIX 2.1, TLP 2.0 enforced on every release.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
        add_completion=True,
    )
    app.callback()(root)
    workspace_cmds.register(app)
    for name, (module, help_text) in GROUPS.items():
        sub = importlib.import_module(module).app if name == group else typer.Typer()
        app.add_typer(sub, name=name, help=help_text)
    dashboard.register(app)
    export.register(app)
    importer.register(app)
    demo.register(app)
    search.register(app)
    correlate.register(app)
    report.register(app)
    return app


def run(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code (tests call this; ``main`` exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or bool(os.environ.get("CIRT_DEBUG"))
    # Shell completion (cirt --install-completion) asks with the words in the environment:
    # the group being completed is built from them, or every group for the first word.
    completing = os.environ.get("_CIRT_COMPLETE")
    words = os.environ.get("COMP_WORDS", "").split()[1:] if completing else args
    command = typer.main.get_command(build_app(requested_group(words)))
    try:
        result = command.main(args=args, prog_name="cirt", standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("cirt: aborted\n")
        return int(ExitCode.FAILURE)
    except CirtError as exc:
        if debug:
            raise
        sys.stderr.write(f"cirt: {visible(str(exc))}\n")
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
        sys.stderr.write(
            f"cirt: internal error: {type(exc).__name__}: {visible(str(exc))} (run with --debug)\n"
        )
        return int(ExitCode.FAILURE)
    return result if isinstance(result, int) else int(ExitCode.OK)


def main() -> None:
    sys.exit(run())
