"""``cirt taxii serve`` on a bad day: slow and lying clients, password guessing, a database
restart, and configurations that could only fail.

Every server here is the real command under gunicorn on a loopback port; the database restart is
a real PostgreSQL server (a throw-away one, so the session's server is not disturbed) stopped and
started again under the running TAXII server.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from pg import PgServer, PgUnavailable, _launch, _server_user, find_bindir, start_server

from cirt.store import Provenance
from cirt.taxii.auth import FAILED_LOGINS_ALLOWED, Authenticator, issue_credential
from cirt.taxii.collections import COLLECTIONS
from cirt.taxii.query import TAXII_MEDIA
from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.taxii_fixtures import cirt_server, free_port, indicator

INDICATORS = COLLECTIONS[0].id
INBOX = COLLECTIONS[2].id
HEADERS = {"Accept": TAXII_MEDIA}


def _credential(home: Path) -> tuple[str, str]:
    with Workspace.open(home) as ws:
        ws.store.put(indicator(1, TLP.GREEN), tlp=int(TLP.GREEN), provenance=Provenance("local", "tester"))
        issued = issue_credential(ws, "csirtamericas")
    return issued.username, issued.password


def _is_taxii_error(answer: requests.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"] == TAXII_MEDIA
    body: dict[str, Any] = answer.json()
    assert body["http_status"] == str(status) and body["title"] and body["description"]
    return body


# --- refusing to start ------------------------------------------------------------------------


def _serve(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cirt",
            "--home",
            str(home),
            "taxii",
            "serve",
            "--port",
            str(free_port()),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_refuses_plain_http_on_an_address_other_machines_reach(home: Path) -> None:
    refused = _serve(home, "--host", "0.0.0.0")
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert "give --cert and --key (or --insecure-http" in refused.stderr


def test_serve_refuses_an_invalid_sectors_yaml_in_one_line(home: Path) -> None:
    sectors = home / "sectors.yaml"
    sectors.write_text(sectors.read_text().replace("sector: water", "sector: aqua"))
    refused = _serve(home)
    assert refused.returncode == 1
    assert refused.stderr.startswith("cirt: ") and "sector" in refused.stderr, refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr


# --- slow and lying clients -------------------------------------------------------------------


@contextmanager
def _sockets(port: int, count: int, first_bytes: bytes = b"") -> Iterator[list[socket.socket]]:
    with ExitStack() as stack:
        opened = []
        for _ in range(count):
            sock = stack.enter_context(closing(socket.create_connection(("127.0.0.1", port))))
            if first_bytes:
                sock.sendall(first_bytes)
            opened.append(sock)
        yield opened


def test_idle_and_stalled_clients_do_not_hold_the_workers(home: Path) -> None:
    auth = _credential(home)
    with (
        cirt_server(home, "--threads", "2", "--read-timeout", "2", workers=1) as server,
        _sockets(server.port, 12) as _idle,
        _sockets(server.port, 2, b"GET /taxii2/ HTTP/1.1\r\nHost: x\r\n") as _stalled,
    ):
        time.sleep(0.5)  # every one of them accepted by the worker by now
        started = time.monotonic()
        answer = requests.get(server.discovery, auth=auth, headers=HEADERS, timeout=30)
        waited = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        assert waited < 5.0  # at most one read timeout of the stalled headers, not 60 s


def test_a_body_shorter_than_its_content_length_gets_a_taxii_408(home: Path) -> None:
    auth = _credential(home)
    with cirt_server(home, "--read-timeout", "1", workers=1) as server:
        token = requests.auth._basic_auth_str(*auth)
        head = (
            f"POST /cirt/collections/{INBOX}/objects/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {token}\r\nAccept: {TAXII_MEDIA}\r\n"
            f"Content-Type: {TAXII_MEDIA}\r\nContent-Length: 100000\r\n\r\n"
        )
        with closing(socket.create_connection(("127.0.0.1", server.port))) as sock:
            sock.sendall(head.encode() + b'{"objects": [')
            sock.settimeout(20)
            started = time.monotonic()
            reply = b""
            while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
            assert time.monotonic() - started < 10
        status_line, _, rest = reply.partition(b"\r\n")
        assert status_line.startswith(b"HTTP/1.1 408"), reply
        assert f"Content-Type: {TAXII_MEDIA}".encode() in rest
        assert b'"http_status": "408"' in rest


def test_errors_gunicorn_answers_itself_are_taxii_json(home: Path) -> None:
    with cirt_server(home, workers=1) as server:
        answer = requests.get(server.discovery + "?" + "x" * 9000, headers=HEADERS, timeout=30)
        _is_taxii_error(answer, 414)


# --- passwords --------------------------------------------------------------------------------


def test_an_unknown_user_costs_as_much_as_a_wrong_password(ws: Workspace) -> None:
    issued = issue_credential(ws, "csirtamericas")
    authenticator = Authenticator(ws.store)

    def seconds(user: str) -> float:
        header = requests.auth._basic_auth_str(user, "not-the-password")
        started = time.perf_counter()
        assert authenticator.party_for(header, "") is None
        return time.perf_counter() - started

    wrong = statistics.median(seconds(issued.username) for _ in range(5))
    unknown = statistics.median(seconds("nobody.0000") for _ in range(5))
    assert 0.5 < unknown / wrong < 2.0, (unknown, wrong)  # was 4 ms against 105 ms


def test_failed_logins_are_limited_per_client_address(home: Path) -> None:
    user, password = _credential(home)
    with cirt_server(home, workers=1) as server:
        for _ in range(FAILED_LOGINS_ALLOWED):
            wrong = requests.get(server.discovery, auth=(user, "guess"), headers=HEADERS, timeout=30)
            _is_taxii_error(wrong, 401)
        throttled = requests.get(server.discovery, auth=(user, password), headers=HEADERS, timeout=30)
        _is_taxii_error(throttled, 429)
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60


# --- the database restarts under the server ---------------------------------------------------


@contextmanager
def _own_postgres() -> Iterator[PgServer]:
    if os.environ.get("CIRT_TEST_PG_URL"):
        pytest.skip("restarting needs a server the tests started, not CIRT_TEST_PG_URL")
    try:
        server = start_server()
    except PgUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL server could be started: {exc}")
    try:
        yield server
    finally:
        server.stop()  # after a restart only its (emptied) directory is left to remove


def _restart(server: PgServer, while_down: Any) -> tuple[Any, PgServer]:
    """Stop the server (fast shutdown), call ``while_down``, start it again on its data."""
    process, directory = server._process, server._directory
    assert process is not None and directory is not None
    server._admin.close()
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    seen = while_down()
    bindir = find_bindir()
    assert bindir is not None
    port = urlsplit(server.admin_url).port
    assert port is not None
    again = _launch(bindir, directory, directory / "data", port, _server_user(), 30.0)
    assert isinstance(again, PgServer), again
    return seen, again


@pytest.mark.postgres
def test_a_postgresql_restart_answers_503_then_serves_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _own_postgres() as pg:
        home = tmp_path / "ws"
        monkeypatch.setenv("CIRT_ANALYST", "tester")
        Workspace.init(home, database_url=pg.create_database("cirt_restart")).close()
        auth = _credential(home)
        with cirt_server(home, workers=1) as server:
            objects = f"{server.api_root}collections/{INDICATORS}/objects/"
            before = requests.get(objects, auth=auth, headers=HEADERS, timeout=30)
            assert before.status_code == 200, before.text

            def while_down() -> list[requests.Response]:
                return [
                    requests.get(objects, auth=auth, headers=HEADERS, timeout=30),
                    requests.post(
                        objects.replace(INDICATORS, INBOX),
                        auth=auth,
                        json={"objects": [indicator(2)]},
                        timeout=30,
                        headers={**HEADERS, "Content-Type": TAXII_MEDIA},
                    ),
                ]

            down, restarted = _restart(pg, while_down)
            try:
                for answer in down:
                    _is_taxii_error(answer, 503)
                    assert int(answer.headers["Retry-After"]) > 0
                after = requests.get(objects, auth=auth, headers=HEADERS, timeout=30)
                assert after.status_code == 200, after.text
                assert [o["id"] for o in after.json()["objects"]] == [
                    o["id"] for o in before.json()["objects"]
                ]
            finally:
                restarted.stop()
