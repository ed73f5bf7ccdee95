"""Hostile TAXII peers cannot exhaust ``cirt taxii pull``: bytes, pages, time and memory are
capped at the door, and every request has connect and read timeouts.

Each peer is a real server on 127.0.0.1 in its own process (tests/hostile_peers.py); each pull
is the real command in its own process, which reports its peak memory (``ru_maxrss``) so that the
test can hold it under a cap.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from tests.hostile_peers import COLLECTION
from tests.taxii_fixtures import free_port, point_partner, set_peer_secret, stop, wait_for_port

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
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("hostile_peers.py")),
                                mode, str(port), *extra], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process, timeout=60)
        yield port
    finally:
        stop(process)


def pull(home: Path, port: int, *extra: str,
         command: str = "pull") -> tuple[int, float, float, str, Any]:
    """``cirt taxii pull`` against the peer: exit code, peak MiB, seconds, stderr, JSON out."""
    point_partner(home, PEER, discovery=f"http://127.0.0.1:{port}/taxii2/",
                  api_root=f"http://127.0.0.1:{port}/api1/", pull=[COLLECTION])
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", RUNNER, "--home", str(home), "taxii", command,
                           PEER, "--json", *extra], capture_output=True, text=True, timeout=300,
                          check=False)
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
        peer_home: Path, engine: str, mode: str) -> None:
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
def test_a_peer_that_drips_bytes_is_stopped_by_the_deadline(peer_home: Path, engine: str) -> None:
    with hostile("drip") as port:
        code, _, seconds, err, _ = pull(peer_home, port, "--read-timeout", "3",
                                        "--deadline", "6")
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
def test_credentials_go_only_to_the_origin_sectors_yaml_declares(
        peer_home: Path, engine: str) -> None:
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
        peer_home: Path, engine: str, cli: Any) -> None:
    point_partner(peer_home, PEER, discovery="http://192.0.2.10/taxii2/",
                  api_root="http://192.0.2.10/api1/", pull=[COLLECTION])
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
        f"partner {PEER}: insecure: true sends its TAXII password in clear to "
        "http://192.0.2.10/taxii2/",
        f"partner {PEER}: insecure: true sends its TAXII password in clear to "
        "http://192.0.2.10/api1/"]
