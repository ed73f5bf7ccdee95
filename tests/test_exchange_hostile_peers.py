"""Hostile TAXII peers cannot exhaust ``cirt taxii pull``: bytes, pages, time and memory are
capped at the door, and every request has connect and read timeouts.

Each peer is a real server on 127.0.0.1 in its own process (tests/hostile_peers.py); each pull
is the real command in its own process, which reports its peak memory (``ru_maxrss``) so that the
test can hold it under a cap.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.hostile_peers import COLLECTION
from tests.taxii_fixtures import (
    free_port,
    indicator,
    point_partner,
    seed,
    set_peer_secret,
    stop,
    wait_for_port,
)

PEER = "csirtamericas"
PEAK_MIB = 400  # a cirt process is about 100 MiB; a page may hold at most the page cap
RUNNER = r"""
import json, resource, sys
from cirt.cli.app import run
code = run(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"code": code, "peak_mib": peak}), file=sys.stderr)
"""


@contextmanager
def hostile(mode: str, *extra: str) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("hostile_peers.py")), mode, str(port), *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process, timeout=60)
        yield port
    finally:
        stop(process)


def pull(home: Path, port: int, *extra: str, command: str = "pull") -> tuple[int, float, float, str, Any]:
    """``cirt taxii pull`` against the peer: exit code, peak MiB, seconds, stderr, JSON out."""
    point_partner(
        home,
        PEER,
        discovery=f"http://127.0.0.1:{port}/taxii2/",
        api_root=f"http://127.0.0.1:{port}/api1/",
        pull=[COLLECTION],
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, "--home", str(home), "taxii", command, PEER, "--json", *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    seconds = time.monotonic() - started
    *lines, report = done.stderr.strip().splitlines()
    measured = json.loads(report)
    out = json.loads(done.stdout) if done.stdout.strip() else None
    return measured["code"], measured["peak_mib"], seconds, "\n".join(lines), out


@pytest.fixture
def peer_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    set_peer_secret(monkeypatch, PEER, "cirt-bz", "secret")
    return home


@pytest.mark.sqlite_only
@pytest.mark.parametrize("mode", ["gzip-bomb", "huge"])
def test_a_page_too_big_once_inflated_is_refused_in_bounded_memory(
    peer_home: Path, engine: str, mode: str
) -> None:
    with hostile(mode) as port:
        code, peak, _, err, _ = pull(peer_home, port)
    assert code == 1
    assert err.startswith(f"cirt: {PEER}: ") and "more than" in err and "bytes" in err, err
    assert peak < PEAK_MIB, peak  # was 4.2 GB for the bomb, 1.6 GB for the plain page


@pytest.mark.sqlite_only
def test_a_repeated_next_token_stops_the_paging(peer_home: Path, engine: str) -> None:
    with hostile("same-next") as port:
        code, peak, _, err, out = pull(peer_home, port)
    assert code == 0, err
    [collection] = out["collections"]
    assert collection["pages"] == 2 and collection["received"] == 200
    assert "next" in collection["stopped"]
    assert peak < PEAK_MIB


@pytest.mark.sqlite_only
def test_a_peer_that_never_answers_is_a_timeout(peer_home: Path, engine: str) -> None:
    with hostile("hang") as port:
        code, _, seconds, err, _ = pull(peer_home, port, "--read-timeout", "2")
    assert code == 1 and "timed out" in err, err
    assert seconds < 30


@pytest.mark.sqlite_only
def test_a_busy_answer_to_a_read_is_retried_after_retry_after(peer_home: Path, engine: str) -> None:
    with hostile("flaky") as port:
        code, _, seconds, err, out = pull(peer_home, port)
    assert code == 0, err
    assert out["collections"][0]["received"] == 10
    assert seconds >= 2  # waited the Retry-After of both refusals


@pytest.mark.sqlite_only
def test_a_peer_that_drips_bytes_is_stopped_by_the_deadline(peer_home: Path, engine: str) -> None:
    with hostile("drip") as port:
        code, _, seconds, err, _ = pull(peer_home, port, "--read-timeout", "3", "--deadline", "6")
    assert code == 1 and "deadline" in err, err
    assert seconds < 30


# --- credentials and transport ----------------------------------------------------------------


class _Counter(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.headers.get("Authorization") or "")
        self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.sqlite_only
def test_credentials_go_only_to_the_origin_sectors_yaml_declares(peer_home: Path, engine: str) -> None:
    other = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        with hostile("elsewhere", str(other.server_port)) as port:
            code, _, _, err, out = pull(peer_home, port, command="discover")
    finally:
        other.shutdown()
        other.server_close()
    assert code == 0, err
    titles = {root["url"]: root["title"] for root in out["api_roots"]}
    assert titles[f"http://127.0.0.1:{other.server_port}/api1/"].startswith("not contacted")
    assert _Counter.hits == []  # not even a request without the password


@pytest.mark.sqlite_only
def test_plain_http_to_another_machine_is_refused_unless_insecure_which_check_reports(
    peer_home: Path, engine: str, cli: Any
) -> None:
    point_partner(
        peer_home,
        PEER,
        discovery="http://192.0.2.10/taxii2/",
        api_root="http://192.0.2.10/api1/",
        pull=[COLLECTION],
    )
    refused = cli("taxii", "pull", PEER)
    assert refused.code == 1
    assert "plain HTTP to another machine" in refused.err and "insecure: true" in refused.err
    sectors = peer_home / "sectors.yaml"
    data = yaml.safe_load(sectors.read_text())
    for partner in data["partners"]:
        if partner["id"] == PEER:
            partner["taxii"]["insecure"] = True
    sectors.write_text(yaml.safe_dump(data, sort_keys=False))
    checked = cli("check", "--json")
    assert checked.code == 1
    assert [f["message"] for f in checked.json() if not f["ok"]] == [
        f"partner {PEER}: insecure: true sends its TAXII password in clear to http://192.0.2.10/taxii2/",
        f"partner {PEER}: insecure: true sends its TAXII password in clear to http://192.0.2.10/api1/",
    ]


# --- a MISP server that ignores paging --------------------------------------------------------

MISP_KEY = "test-key-0123456789"


@dataclass
class Ran:
    """One ``cirt`` command run in its own process against a MISP peer on 127.0.0.1."""

    code: int
    peak_mib: float
    seconds: float
    lines: list[str]  # stderr, but the measurement
    stdout: str


def run_against_misp(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    server_script: str,
    server_args: list[str],
    command: list[str],
    runner: str = RUNNER,
) -> Ran:
    """Start the MISP peer (it prints its URL), point the partner at it, run the command."""
    server = subprocess.Popen(
        [sys.executable, "-c", server_script, *server_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        sectors = home / "sectors.yaml"
        sectors.write_text(sectors.read_text().replace("https://misp.csirtamericas.example/", url))
        monkeypatch.setenv("CIRT_MISP_CSIRTAMERICAS_KEY", MISP_KEY)
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", runner, "--home", str(home), *command],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        seconds = time.monotonic() - started
    finally:
        stop(server)  # type: ignore[arg-type]
    *lines, report = done.stderr.strip().splitlines()
    measured = json.loads(report)
    return Ran(measured["code"], measured["peak_mib"], seconds, lines, done.stdout)


MISP_IGNORING_PAGES = r"""
import sys, time
import cirt.demos.misp_server as testserver

answer = testserver._search_events
testserver._search_events = lambda state, query: answer(state, {**query, "page": 1})
server = testserver.MispServer(sys.argv[1])
for n in range(100):  # one full page: a server honouring 'page' would answer page 2 empty
    uuid = f"7c1d2e3f-4a5b-4c6d-8e7f-{n:012d}"
    server.state.store({"uuid": uuid, "info": f"campaign {n}", "distribution": "1",
                        "Tag": [{"name": "tlp:green"}],
                        "Attribute": [{"uuid": f"8d2e3f4a-5b6c-4d7e-8f9a-{n:012d}",
                                       "type": "ip-dst", "category": "Network activity",
                                       "value": f"198.51.{n // 256}.{n % 256}",
                                       "to_ids": True}]}, None)
print(server.url, flush=True)
time.sleep(3600)
"""


@pytest.mark.sqlite_only
def test_misp_pull_from_a_server_ignoring_page_stops_and_keeps_what_came(
    home: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = run_against_misp(
        home, monkeypatch, MISP_IGNORING_PAGES, [MISP_KEY], ["misp", "pull", PEER, "--json"]
    )
    seconds, measured = ran.seconds, {"code": ran.code, "peak_mib": ran.peak_mib}
    assert measured["code"] == 0, ran.lines
    out = json.loads(ran.stdout)
    assert len(out["events"]) == 100  # page 1; page 2 repeated it and ended the pull
    with Workspace.open(home) as ws:  # each event's indicator stored once, as the page arrived
        assert len(list(ws.store.latest_objects(types=["indicator"]))) == 100
    assert any("ignores paging" in note for note in out["notes"])
    assert seconds < 120 and measured["peak_mib"] < PEAK_MIB  # was 2.7 GB after 2 minutes


# --- push: each envelope's outcome kept as it completes ---------------------------------------


def _push(home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cirt", "--home", str(home), "taxii", "push", PEER, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _states(home: Path) -> dict[str, str]:
    with Workspace.open(home) as ws:
        return {object_id: record.state for (object_id, _), record in ws.store.push_records(PEER).items()}


@pytest.mark.sqlite_only
def test_kill_9_during_push_then_a_rerun_sends_nothing_acknowledged_again(
    peer_home: Path, engine: str, tmp_path: Path
) -> None:
    with Workspace.open(peer_home) as ws:
        seed(ws, [(indicator(i, TLP.GREEN, prefix="abcd"), TLP.GREEN) for i in range(12)])
    log = tmp_path / "received.log"
    (tmp_path / "received.log.stall").touch()
    with hostile("push", str(log)) as port:
        point_partner(
            peer_home,
            PEER,
            discovery=f"http://127.0.0.1:{port}/taxii2/",
            api_root=f"http://127.0.0.1:{port}/api1/",
            push=COLLECTION,
        )
        run = _push(peer_home)
        try:
            deadline = time.monotonic() + 120
            while not (tmp_path / "received.log.held").exists():
                assert run.poll() is None, run.communicate()
                assert time.monotonic() < deadline, "the second envelope never arrived"
                time.sleep(0.05)
            run.send_signal(signal.SIGKILL)
            run.wait(30)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
        first_run = log.read_text().split()
        states = _states(peer_home)
        acknowledged = {i for i, state in states.items() if state == "sent"}
        assert acknowledged and acknowledged < set(first_run)  # the first envelope, kept
        assert "pending" in states.values()  # the envelope held at the kill: being sent
        (tmp_path / "received.log.stall").unlink()
        again = _push(peer_home)
        out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    received = log.read_text().split()
    twice = {i for i in received if received.count(i) > 1}
    assert not twice & acknowledged  # nothing acknowledged was sent again
    assert all(received.count(i) <= 2 for i in received)
    assert set(_states(peer_home).values()) == {"sent"}
    assert json.loads(out)["pending"] == json.loads(out)["failed"] == 0


@pytest.mark.sqlite_only
def test_push_exits_1_naming_what_failed_or_waits(peer_home: Path, engine: str, tmp_path: Path) -> None:
    with Workspace.open(peer_home) as ws:
        seed(
            ws,
            [
                (indicator(1, TLP.GREEN, prefix="abce"), TLP.GREEN),
                (indicator(2, TLP.GREEN, prefix="abce", name="refuse me"), TLP.GREEN),
            ],
        )
    with hostile("push", str(tmp_path / "received.log")) as port:
        point_partner(
            peer_home,
            PEER,
            discovery=f"http://127.0.0.1:{port}/taxii2/",
            api_root=f"http://127.0.0.1:{port}/api1/",
            push=COLLECTION,
        )
        out, err = _push(peer_home).communicate(timeout=120)
    result = json.loads(out)
    assert result["failed"] == 1 and result["sent"] >= 1
    assert "0 object(s) pending and 1 failed" in err
    assert _states(peer_home)["indicator--abce0000-0000-4000-8000-000000000002"] == "failed"


# --- a MISP server whose search answer inflates without end ---------------------------------

MISP_GZIP_BOMB = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from tests.hostile_peers import gzip_bomb

BODY = gzip_bomb(1 << 30)  # a few MiB on the wire, 1 GiB once inflated


class Bomb(BaseHTTPRequestHandler):
    def log_message(self, format, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


server = ThreadingHTTPServer(("127.0.0.1", 0), Bomb)
print(f"http://127.0.0.1:{server.server_address[1]}/", flush=True)
server.serve_forever()
"""


@pytest.mark.sqlite_only
def test_misp_pull_refuses_a_search_answer_past_the_byte_cap_with_memory_bounded(
    home: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (home / "config.toml").write_text(
        (home / "config.toml").read_text() + "\n[import]\nmax_bytes = 16777216\n"
    )
    ran = run_against_misp(home, monkeypatch, MISP_GZIP_BOMB, [], ["misp", "pull", PEER])
    lines = ran.lines
    assert ran.code == 1 and len(lines) == 1, lines  # one line, no traceback
    assert "MISP of 'csirtamericas'" in lines[0] and "sent more than 16,777,216 bytes" in lines[0]
    assert ran.peak_mib < PEAK_MIB  # PyMISP read such an answer whole
    with Workspace.open(home) as ws:
        assert list(ws.store.latest_objects(types=["indicator"])) == []


# --- a MISP server answering a gzip bomb when PyMISP connects or to events/add, or nothing ---

MISP_HOSTILE_TO_PUSH = r"""
import sys, time
import cirt.demos.misp_server as testserver
from tests.hostile_peers import gzip_bomb

BODY = gzip_bomb(1 << 30)  # a few MiB on the wire, 1 GiB once inflated
honest_get, honest_post = testserver._Handler.do_GET, testserver._Handler.do_POST


def bomb(self):
    self.send_response(200)
    self.send_header("Content-Type", "application/json")
    self.send_header("Content-Encoding", "gzip")
    self.send_header("Content-Length", str(len(BODY)))
    self.end_headers()
    self.wfile.write(BODY)


def hostile_get(self):  # the first thing PyMISP asks when it connects
    if sys.argv[2] == "bomb-at-connect" and "getPyMISPVersion" in self.path:
        return bomb(self)
    return honest_get(self)


def hostile_post(self):
    if self.path.strip("/") != "events/add" or sys.argv[2] == "bomb-at-connect":
        return honest_post(self)
    self.rfile.read(int(self.headers.get("Content-Length", 0)))
    if sys.argv[2] == "silent":
        time.sleep(3600)
        return
    bomb(self)


testserver._Handler.do_GET, testserver._Handler.do_POST = hostile_get, hostile_post
server = testserver.MispServer(sys.argv[1])
print(server.url, flush=True)
time.sleep(3600)
"""
READ_TIMEOUT_FOR_TEST_S = 2  # set through cirt.misp.connection.READ_TIMEOUT_S in the subprocess


def _push_to_hostile_misp(
    home: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> tuple[int, float, float, list[str]]:
    """``cirt misp push`` of one GREEN incident: exit code, peak MiB, seconds, stderr lines."""
    (home / "config.toml").write_text(
        (home / "config.toml").read_text() + "\n[import]\nmax_bytes = 16777216\n"
    )
    with Workspace.open(home) as ws:
        opened = ws.incidents.open(
            title="Phishing wave",
            category="fraud:phishing",
            severity="high",
            organisations=["cbb"],
            tlp="green",
        )
        ws.indicators.add(
            form="ip", value="203.0.113.50", name="sender", incident=opened.reference, tlp="green"
        )
    runner = (
        f"import cirt.misp.connection\ncirt.misp.connection.READ_TIMEOUT_S = "
        f"{READ_TIMEOUT_FOR_TEST_S}\n{RUNNER}"
    )
    ran = run_against_misp(
        home, monkeypatch, MISP_HOSTILE_TO_PUSH, [MISP_KEY, mode], ["misp", "push", PEER], runner
    )
    return ran.code, ran.peak_mib, ran.seconds, ran.lines


def _nothing_recorded_as_pushed(home: Path) -> bool:
    with Workspace.open(home) as ws:
        uuids = [str(preview.event.uuid) for preview in ws.misp.incident_events(PEER, None)]
        return bool(uuids) and all(ws.store.misp_pushed_digest(PEER, u) is None for u in uuids)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("mode", ["bomb-at-connect", "bomb"])
def test_misp_push_refuses_an_answer_past_the_byte_cap_with_memory_bounded(
    home: Path, engine: str, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    code, peak, _, lines = _push_to_hostile_misp(home, monkeypatch, mode)
    assert code == 1 and len(lines) == 1, lines  # one line, no traceback
    assert "MISP of 'csirtamericas'" in lines[0] and "sent more than 16,777,216 bytes" in lines[0]
    assert peak < PEAK_MIB  # PyMISP's own session read such an answer whole
    assert _nothing_recorded_as_pushed(home)


@pytest.mark.sqlite_only
def test_misp_push_to_a_server_that_never_answers_stops_at_the_read_timeout(
    home: Path, engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, seconds, lines = _push_to_hostile_misp(home, monkeypatch, "silent")
    assert code == 1 and len(lines) == 1, lines
    assert "MISP of 'csirtamericas'" in lines[0] and "timed out" in lines[0]
    assert seconds < 25  # the default read timeout alone is 30 s
    assert _nothing_recorded_as_pushed(home)
