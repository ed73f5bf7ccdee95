"""Shared fixtures: a real workspace on each engine, a fixed clock, and the CLI runner.

Every test that uses ``home`` (and so ``ws`` and ``cli``) runs twice: on SQLite, and on a real
PostgreSQL server that the session starts (tests/pg.py), each test in a fresh database cloned from
a migrated template.  ``@pytest.mark.sqlite_only`` keeps a test that opens the SQLite file itself
on SQLite.  Without a server the PostgreSQL runs are skipped with the reason, except under CI,
where that fails the run.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg import PgServer, PgUnavailable, start_server

from cirt.cli.app import run
from cirt.demos.misp_server import MispServer, running
from cirt.store.engines import open_store
from cirt.workspace import Workspace

# Public reference data copied into the repository (sources and licences: reference/SOURCES.md).
REFERENCE = Path(__file__).resolve().parent / "reference"


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


ENGINES = ("sqlite", "postgresql")
_databases = itertools.count(1)
_pg_outcomes = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only: works on the SQLite file itself, so it runs on SQLite only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that needs a workspace gets one per engine."""
    if "engine" not in metafunc.fixturenames:
        return
    engines = [pytest.param("sqlite", id="sqlite")]
    if metafunc.definition.get_closest_marker("sqlite_only") is None:
        engines.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres))
    metafunc.parametrize("engine", engines)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the PostgreSQL server directly is a PostgreSQL test too."""
    for item in items:
        if "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the session; a skip (a failure under CI) when none can start."""
    try:
        server = start_server()
    except PgUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests, but no server could start: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL server could be started: {exc}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: PgServer) -> Iterator[str]:
    """A migrated database that each test's database is cloned from (cheaper than migrating)."""
    name = f"cirt_template_{os.getpid()}"
    pg_server.drop_database(name)
    store = open_store(pg_server.create_database(name))
    store.migrate()
    store.close()
    yield name
    pg_server.drop_database(name)


@pytest.fixture
def database_url(engine: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None for SQLite (the workspace default); a fresh PostgreSQL database otherwise."""
    if engine == "sqlite":
        yield None
        return
    server: PgServer = request.getfixturevalue("pg_server")
    template: str = request.getfixturevalue("pg_template")
    name = f"cirt_test_{os.getpid()}_{next(_databases)}"
    yield server.create_database(name, template)
    server.drop_database(name)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str | None) -> Path:
    path = tmp_path / "ws"
    monkeypatch.setenv("CIRT_HOME", str(path))
    monkeypatch.setenv("CIRT_ANALYST", "tester")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("CIRT_DB_URL", raising=False)
    Workspace.init(path, database_url=database_url).close()
    return path


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "postgres" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _pg_outcomes[report.outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    ran = _pg_outcomes["passed"] + _pg_outcomes["failed"]
    terminalreporter.write_line(
        f"PostgreSQL tests run: {ran} ({_pg_outcomes['passed']} passed, "
        f"{_pg_outcomes['failed']} failed, {_pg_outcomes['skipped']} skipped)"
    )


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
def cli(home: Path, capsys: pytest.CaptureFixture[str]):
    """Run ``cirt ARGS`` in-process through the real error boundary; returns code, stdout, stderr."""

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def partner_misp(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MispServer]:
    """CSIRTAmericas' MISP: a MISP-compatible server on 127.0.0.1 that sectors.yaml points at,
    with the partner's key in the environment."""
    key = "test-key-0123456789"
    with running(key) as server:
        sectors = home / "sectors.yaml"
        sectors.write_text(sectors.read_text().replace("https://misp.csirtamericas.example/", server.url))
        monkeypatch.setenv("CIRT_MISP_CSIRTAMERICAS_KEY", key)
        yield server
