"""Shared fixtures: a real workspace on disk (SQLite), a fixed clock, and the CLI runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cirt.cli.app import run
from cirt.workspace import Workspace

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


class FixedClock:
    """A clock tests move by hand; every call is one millisecond later, like real time."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 10, 14, 0, tzinfo=UTC))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ws"
    monkeypatch.setenv("CIRT_HOME", str(path))
    monkeypatch.setenv("CIRT_ANALYST", "tester")
    monkeypatch.setenv("COLUMNS", "200")
    Workspace.init(path).close()
    return path


@pytest.fixture
def ws(home: Path, clock: FixedClock) -> Iterator[Workspace]:
    workspace = Workspace.open(home, clock=clock)
    yield workspace
    workspace.close()


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``cirt ARGS`` in-process through the real error boundary; returns code, stdout, stderr."""

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke
