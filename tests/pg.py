"""A real PostgreSQL server for the tests: initdb into a temporary directory, started on a free port.

The server binaries come from PATH, /usr/local/bin or Debian's /usr/lib/postgresql/<version>/bin
(``scripts/setup.sh`` installs Debian's ``postgresql`` package when they are missing).  PostgreSQL
refuses to run as root, so under root the server runs as the ``postgres`` system user (or
``nobody``).  It listens on 127.0.0.1 only, with durability switched off (a test server), and is
stopped and deleted by the session fixture.  ``CIRT_TEST_PG_URL`` (a superuser URL) points the
tests at a server that is already running instead.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg


class PgUnavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


def find_bindir() -> Path | None:
    """The directory with initdb and postgres, newest Debian version first."""
    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    candidates.append(Path("/usr/local/bin"))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += versions
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "postgres").exists():
            return directory
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _server_user() -> pwd.struct_passwd | None:
    """Whom to run the server as: ourselves, or a system account when we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PgUnavailable("running as root and there is no 'postgres' or 'nobody' user to run the server as")


class PgServer:
    """A running server and a superuser connection to it for creating and dropping databases."""

    def __init__(
        self, admin_url: str, *, process: subprocess.Popen[bytes] | None = None, directory: Path | None = None
    ) -> None:
        self.admin_url = admin_url
        self._process = process
        self._directory = directory
        self._admin = psycopg.connect(admin_url, autocommit=True)

    def url(self, database: str) -> str:
        """The URL of one database on this server."""
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (lower-case name), empty or a copy of ``template``; returns its URL.

        FILE_COPY clones a small template in a few tens of milliseconds on this fsync-less server.
        """
        clause = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        self._admin.execute(f"CREATE DATABASE {name}{clause}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        self._admin.close()
        if self._process is not None:
            self._process.send_signal(signal.SIGINT)  # "fast" shutdown: SIGTERM waits for clients
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)


def _run_as(user: pwd.struct_passwd | None) -> dict[str, Any]:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def start_server(*, timeout: float = 30.0) -> PgServer:
    """Start a throw-away server, or use ``CIRT_TEST_PG_URL``; PgUnavailable says why not."""
    external = os.environ.get("CIRT_TEST_PG_URL")
    if external:
        try:
            return PgServer(external)
        except psycopg.Error as exc:
            raise PgUnavailable(f"CIRT_TEST_PG_URL is set but unusable: {exc}") from None
    bindir = find_bindir()
    if bindir is None:
        raise PgUnavailable(
            "no initdb/postgres binaries (install Debian's 'postgresql' package or run scripts/setup.sh)"
        )
    user = _server_user()
    directory = Path(tempfile.mkdtemp(prefix="cirt-pg-"))
    try:
        if user is not None:
            os.chown(directory, user.pw_uid, user.pw_gid)
        data = directory / "data"
        initdb = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            capture_output=True,
            cwd=directory,
            **_run_as(user),
            check=False,
        )
        if initdb.returncode != 0:
            raise PgUnavailable(f"initdb failed: {initdb.stderr.decode(errors='replace')[-400:]}")
        last_error = ""
        for _attempt in range(3):
            port = free_port()
            server = _launch(bindir, directory, data, port, user, timeout)
            if isinstance(server, PgServer):
                return server
            last_error = server
        raise PgUnavailable(f"postgres did not start: {last_error}")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _launch(
    bindir: Path, directory: Path, data: Path, port: int, user: pwd.struct_passwd | None, timeout: float
) -> PgServer | str:
    """One start on one port: the server, or the tail of its log."""
    log = directory / f"postgres-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={directory}",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
                "-c",
                "log_min_messages=warning",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=directory,
            **_run_as(user),
        )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            return PgServer(url, process=process, directory=directory)
        except psycopg.OperationalError:
            time.sleep(0.05)
    if process.poll() is None:
        process.kill()
    process.wait()
    return log.read_text(errors="replace")[-400:] or f"exit code {process.returncode}"


@contextlib.contextmanager
def running_server() -> Iterator[PgServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
