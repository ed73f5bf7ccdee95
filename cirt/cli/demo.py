"""``cirt demo``: the guided scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cirt.cli.output import JsonFlag, console, emit, styled


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Where to create the throwaway workspace (default: a temp dir)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a realistic scenario in a throwaway workspace, narrated on screen."""
    # start-up: this command is registered for every command; the demo loads on use (~0.5 s)
    from cirt.demo import run_demo

    lines: list[str] = []

    def say(text: str) -> None:
        lines.append(text)
        if not as_json:
            out = console()
            if text.startswith("# "):
                out.rule(styled(text[2:], "bold"))
            else:
                out.print(text)

    home = run_demo(say, workdir)
    emit(
        {"workspace": home, "narration": lines},
        as_json,
        lambda: console().print(f"\nDemo workspace kept at {home} (try: cirt --home {home} incident list)"),
    )
