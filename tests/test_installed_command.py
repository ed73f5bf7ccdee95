"""The installed ``cirt`` entry point, run as a real subprocess as an analyst would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _cirt() -> list[str]:
    found = shutil.which("cirt", path=str(Path(sys.executable).parent)) or shutil.which("cirt")
    if found is None:
        pytest.fail("the cirt entry point is not installed (pip install -e .)")
    return [found]


def _run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIRT_HOME": str(home), "CIRT_ANALYST": "night-shift", "COLUMNS": "200"}
    return subprocess.run([*_cirt(), *args], capture_output=True, text=True, env=env, timeout=120)


def test_an_analyst_opens_escalates_and_closes_from_the_terminal(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    assert _run("init", home=home).returncode == 0
    opened = _run(
        "incident",
        "open",
        "--title",
        "Defacement of a ministry site",
        "--category",
        "application-compromise",
        "--severity",
        "high",
        "--sector",
        "btl",
        "--json",
        home=home,
    )
    assert opened.returncode == 0, opened.stderr
    ref = json.loads(opened.stdout)["reference"]
    assert (
        _run("incident", "escalate", ref, "--to", "national", "--reason", "gov site", home=home).returncode
        == 0
    )
    tasks = json.loads(_run("task", "list", ref, "--json", home=home).stdout)["tasks"]
    for duty in (t for t in tasks if t["kind"] == "duty" and t["state"] == "open"):
        assert (
            _run("task", "waive", ref, str(duty["number"]), "--reason", "MoPS informed", home=home).returncode
            == 0
        )
    assert _run("incident", "close", ref, "--resolution", "restored", home=home).returncode == 0
    history = json.loads(_run("incident", "history", ref, "--json", home=home).stdout)
    assert {h["by"] for h in history} == {"night-shift"}
    table = _run("incident", "list", home=home)
    assert ref in table.stdout and "TLP:AMBER" in table.stdout


def test_python_dash_m_cirt_works_and_errors_have_no_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "CIRT_HOME": str(tmp_path / "missing")}
    result = subprocess.run(
        [sys.executable, "-m", "cirt", "incident", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().startswith("cirt: no cirt workspace at")
    assert "Traceback" not in result.stderr


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = _run("demo", "--workdir", str(tmp_path / "demo"), "--json", home=tmp_path / "x")
    assert result.returncode == 0, result.stderr
    narration = json.loads(result.stdout)["narration"]
    assert any("Escalated" in line for line in narration)
