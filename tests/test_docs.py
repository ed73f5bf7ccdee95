"""Every command explains itself, and the README names every command group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from cirt.cli.app import GROUPS, build_app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _commands(group: str | None) -> dict[str, Any]:
    root = typer.main.get_command(build_app(group))
    commands: dict[str, Any] = root.commands  # type: ignore[attr-defined]
    return commands


def test_every_top_level_command_has_help_text() -> None:
    for name, command in _commands(None).items():
        assert (command.help or "").strip(), f"cirt {name} has no help text"


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_every_command_of_a_group_has_help_and_json(group: str) -> None:
    sub = _commands(group)[group]
    assert sub.commands, f"cirt {group} has no commands"
    for name, command in sub.commands.items():
        if hasattr(command, "commands"):  # a nested group (e.g. taxii credential)
            continue
        assert (command.help or "").strip(), f"cirt {group} {name} has no help text"
        options = {opt for param in command.params for opt in getattr(param, "opts", [])}
        if name != "serve":
            assert "--json" in options, f"cirt {group} {name} has no --json"


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_the_readme_shows_every_group(group: str) -> None:
    assert f"cirt {group} " in README, f"README never shows 'cirt {group}'"


def test_the_readme_states_the_two_setup_commands() -> None:
    assert "bash scripts/demo.sh" in README and "bash scripts/test.sh" in README
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci
