"""Rendering shared by every command: rich for people, ``--json`` for scripts, from one result."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from cirt.tlp import TLP
    from cirt.workspace import Workspace

JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def workspace(ctx: typer.Context) -> Workspace:
    """The workspace named by --home / CIRT_HOME, opened once per command and closed after it."""
    from cirt.workspace import Workspace

    root = ctx.find_root()
    state: dict[str, Any] = root.obj if isinstance(root.obj, dict) else {}
    root.obj = state
    if "workspace" not in state:
        ws = Workspace.open(state.get("home"))
        state["workspace"] = ws
        root.call_on_close(ws.close)
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

    from cirt.tlp import TLP, TLP_COLOURS

    tlp = TLP(level)
    return Text(tlp.label, style=f"bold {TLP_COLOURS[tlp]} on black")


def ok(message: str) -> None:
    console().print(f"[green]✓[/green] {message}")


def warn(message: str) -> None:
    console(stderr=True).print(f"[yellow]![/yellow] {message}")
