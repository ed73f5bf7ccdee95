"""Rendering shared by every command: rich for people, ``--json`` for scripts, from one result.

Data is never markup.  The console every command prints through reads each string as plain text
(no Rich markup, no emoji codes) and shows hidden characters (``cirt.display.visible``): a title
``[/b]`` or ``[bold red]TLP:RED[/]`` prints as written, a STIX pattern keeps its brackets, an
ANSI escape or a bidi override is shown, not obeyed.  Styling is the code's: ``styled`` for one
piece, ``markup`` for a template of ours with data filled in, ``tlp_text`` for a TLP label.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cirt.display import visible
from cirt.errors import InvalidValue, UsageError
from cirt.tlp import TLP, TLP_COLOURS

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from cirt.workspace import Workspace

# rich is imported by the functions that draw (start-up: about 45 ms that a command printing
# --json, or nothing, never pays; benchmarks/deferred_imports.py measures each such import).

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def console(stderr: bool = False) -> Console:
    """The one console: strings are text, never markup, with hidden characters made visible."""
    return _plain_text_console()(stderr=stderr, highlight=False, soft_wrap=False, markup=False, emoji=False)


@cache
def _plain_text_console() -> type[Console]:
    """A rich Console whose every string (a cell, a title, a printed line) is read as text.

    Built on first use so that commands which print nothing from rich do not import it.
    """
    from rich.console import Console

    class PlainTextConsole(Console):
        def render_str(self, text: str, **options: Any) -> Text:
            options.update(markup=False, emoji=False, highlight=False)
            return super().render_str(visible(text), **options)

    return PlainTextConsole


def table(title: str | Text) -> Table:
    """A table that reads at 80 columns: no vertical rules, title on the left."""
    from rich import box
    from rich.table import Table

    return Table(
        title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=True
    )


def styled(value: object, style: str = "") -> Text:
    """``value`` as text in ``style``; hidden characters made visible."""
    from rich.text import Text

    return Text(visible(str(value)), style=style)


def markup(template: str, *values: object) -> Text:
    """Our Rich markup ``template`` with each ``{}`` filled by a value shown as plain text."""
    from rich.markup import escape
    from rich.text import Text

    return Text.from_markup(template.format(*(escape(visible(str(v))) for v in values)), emoji=False)


def workspace(ctx: typer.Context) -> Workspace:
    """The workspace named by --home / CIRT_HOME, opened once per command and closed after it."""
    # start-up: the store and its drivers load only for commands that open a workspace
    from cirt.workspace import Workspace

    root = ctx.find_root()
    state: dict[str, Any] = root.obj if isinstance(root.obj, dict) else {}
    root.obj = state
    if "workspace" not in state:
        ws = Workspace.open(state.get("home"))
        state["workspace"] = ws
        root.call_on_close(ws.close)
        if not ws.analyst_configured:
            warn(
                f"who is working? changes are recorded as the Unix user '{ws.analyst}': "
                "run cirt init --analyst 'Your Name' (or set CIRT_ANALYST)"
            )
    opened: Workspace = state["workspace"]
    return opened


def home_option(ctx: typer.Context) -> str | None:
    root = ctx.find_root()
    return root.obj.get("home") if isinstance(root.obj, dict) else None


def emit(data: Any, as_json: bool, render: Callable[[], None]) -> None:
    """One result, two faces: JSON on stdout for scripts, or the rich rendering for people."""
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    else:
        render()


def tlp_text(level: TLP | int) -> Text:
    """A TLP label in FIRST's colour on black."""
    from rich.text import Text

    tlp = TLP(level)
    return Text(tlp.label, style=f"bold {TLP_COLOURS[tlp]} on black")


def tlp_option(text: str | None) -> TLP | None:
    """A ``--tlp`` value; anything but a TLP label is a usage error (exit 2)."""
    if text is None:
        return None
    try:
        return TLP.parse(text)
    except InvalidValue as exc:
        raise UsageError(f"--tlp: {exc}") from None


def ok(message: str) -> None:
    """A success line: a green tick, then ``message`` as plain text."""
    console().print(markup("[green]✓[/green] {}", message))


def warn(message: str) -> None:
    """A warning on stderr: a yellow mark, then ``message`` as plain text."""
    console(stderr=True).print(markup("[yellow]![/yellow] {}", message))
