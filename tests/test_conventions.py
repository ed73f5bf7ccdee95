"""Command-line conventions: --version, shell completion, who the analyst is, one TLP
spelling in JSON, a warning for an indicator the incident already holds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cirt.cli.app import run
from cirt.tlp import TLP

SLUGS = {t.slug for t in TLP}


def _cirt(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cirt", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_version(capsys: Any) -> None:
    from importlib.metadata import version

    assert run(["--version"]) == 0
    assert capsys.readouterr().out == f"cirt {version('cirt')}\n"


def test_completion_installs_and_completes_groups_commands_and_options(tmp_path: Path) -> None:
    # The shell is named, not detected from the process tree (a run started by cron or a CI
    # runner whose parent shell has exited has no shell above it to find).
    env = {"HOME": str(tmp_path), "SHELL": "/bin/bash", "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    installed = _cirt("--install-completion", "bash", env=env)
    assert installed.returncode == 0, installed.stderr
    assert "_CIRT_COMPLETE" in (tmp_path / ".bash_completions" / "cirt.sh").read_text()
    assert "cirt.sh" in (tmp_path / ".bashrc").read_text()

    def complete(words: str) -> list[str]:
        done = _cirt(
            env={
                **env,
                "_CIRT_COMPLETE": "complete_bash",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - 1),
            }
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert "incident" in complete("cirt inc")
    assert complete("cirt incident cl") == ["close"]
    assert "--status" in complete("cirt incident list --sta")


def test_init_records_the_analyst_given_and_changes_carry_that_name(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    env = {"CIRT_HOME": str(home), "CIRT_ANALYST": ""}
    made = _cirt("init", "--analyst", "Maria Chan", env=env)
    assert made.returncode == 0, made.stderr
    assert "changes are recorded as Maria Chan" in made.stdout
    assert 'analyst = "Maria Chan"' in (home / "config.toml").read_text()
    opened = _cirt(
        "incident",
        "open",
        "--title",
        "t",
        "--category",
        "phishing",
        "--severity",
        "low",
        "--sector",
        "cbb",
        "--json",
        env=env,
    )
    assert opened.returncode == 0 and "who is working" not in opened.stderr
    history = _cirt("incident", "history", "BZ-" + opened.stdout.split('"BZ-')[1][:9], "--json", env=env)
    assert '"by": "Maria Chan"' in history.stdout


def test_without_a_name_the_unix_user_is_never_used_silently(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    env = {"CIRT_HOME": str(home), "CIRT_ANALYST": ""}
    made = _cirt("init", env=env)  # not a terminal: nobody to ask
    assert made.returncode == 0
    assert "no analyst name given" in made.stderr and "cirt init --analyst" in made.stderr
    listed = _cirt("incident", "list", env=env)
    assert "who is working?" in listed.stderr


def test_tlp_is_one_lowercase_label_in_every_json(cli: Any, tmp_path: Path) -> None:
    opened = cli(
        "incident",
        "open",
        "--title",
        "t",
        "--category",
        "phishing",
        "--severity",
        "low",
        "--sector",
        "cbb",
        "--tlp",
        "AMBER+STRICT",
        "--json",
    ).json()
    ref = opened["reference"]
    values = [
        opened["tlp"],
        cli("incident", "list", "--json").json()[0]["tlp"],
        cli("incident", "show", ref, "--json").json()["tlp"],
        cli("share", "check", ref, "--to", "cbb", "--json").json()["tlp"],
        cli("bulletin", "build", "--for", "cbb", "-o", str(tmp_path / "b.md"), "--json").json()["tlp"],
    ]  # to a file: a logged release (issue 11)
    entry = cli("audit", "log", "--json").json()[0]
    values += [entry["tlp"], *(o["tlp"] for o in entry["objects"])]
    assert set(values) <= SLUGS and opened["tlp"] == "amber+strict"


def test_adding_an_indicator_the_incident_holds_warns(cli: Any) -> None:
    ref = cli(
        "incident",
        "open",
        "--title",
        "t",
        "--category",
        "phishing",
        "--severity",
        "low",
        "--sector",
        "cbb",
        "--json",
    ).json()["reference"]
    first = cli("indicator", "add", "--incident", ref, "--domain", "login-cbb.example")
    assert first.code == 0 and first.err == ""
    again = cli("indicator", "add", "--incident", ref, "--domain", "login-cbb.example")
    assert again.code == 0
    assert f"{ref} already held [domain-name:value = 'login-cbb.example']" in " ".join(again.err.split())
