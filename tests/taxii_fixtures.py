"""Real TAXII servers on loopback for the TAXII tests: ``cirt taxii serve`` and medallion.

Both run as separate processes on free ports of 127.0.0.1 and are stopped by the fixture that
started them.  Also: STIX objects to seed them with, a test sectors.yaml that points a partner
at a local server, and a TCP relay that drops the connection after some requests.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import yaml

from cirt.store import Provenance
from cirt.tlp import TLP
from cirt.workspace import Workspace

PULL_COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
PUSH_COLLECTION = "472c94ae-3113-4e3e-a4dd-a9f4ac7471d4"
MEDALLION_USER, MEDALLION_PASSWORD = "cirt-bz", "medallion-test-password"
TAXII_MEDIA = "application/taxii+json;version=2.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


# -- STIX objects --------------------------------------------------------------------------


def indicator(
    n: int,
    tlp: TLP = TLP.GREEN,
    *,
    modified: str = "2026-03-01T00:00:00.000Z",
    prefix: str = "0000",
    name: str | None = None,
) -> dict[str, Any]:
    """A valid indicator with a predictable id (``prefix`` keeps sets apart)."""
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{prefix}0000-0000-4000-8000-{n:012d}",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": modified,
        "name": name or f"indicator {n}",
        "pattern_type": "stix",
        "pattern": f"[ipv4-addr:value = '198.51.{n // 256 % 256}.{n % 256}']",
        "valid_from": "2026-03-01T00:00:00Z",
        "object_marking_refs": [tlp.marking_id],
    }


def seed(
    ws: Workspace, objects: list[tuple[dict[str, Any], TLP]], *, audience: dict[str, list[str]] | None = None
) -> None:
    """Store objects as ours (local analyst), with the given TLP and organisation audiences."""
    ws.store.put_many([(o, int(t)) for o, t in objects], provenance=Provenance("local", "tester"))
    for object_id, members in (audience or {}).items():
        ws.store.add_audience(object_id, "org", members)


# -- sectors.yaml pointing a partner at a local server -------------------------------------


def point_partner(
    ws_home: Path,
    peer: str,
    *,
    discovery: str,
    api_root: str,
    pull: list[str] | None = None,
    push: str | None = None,
) -> None:
    """Rewrite the workspace's own sectors.yaml (never the shipped one) for a local server."""
    path = ws_home / "sectors.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for partner in data["partners"]:
        if partner["id"] == peer:
            partner["taxii"] = {
                "discovery": discovery,
                "api_root": api_root,
                "pull_collections": pull or [],
                "push_collection": push,
            }
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def set_peer_secret(monkeypatch: Any, peer: str, user: str, password: str) -> None:
    key = peer.replace("-", "_").upper()
    monkeypatch.setenv(f"CIRT_TAXII_{key}_USER", user)
    monkeypatch.setenv(f"CIRT_TAXII_{key}_PASSWORD", password)


# -- cirt taxii serve ----------------------------------------------------------------------


@dataclass
class LocalServer:
    """A TAXII server process on a loopback port: its discovery and API root URLs."""

    port: int
    process: subprocess.Popen[bytes]
    root: str

    @property
    def discovery(self) -> str:
        return f"http://127.0.0.1:{self.port}/taxii2/"

    @property
    def api_root(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.root}/"


CirtServer: TypeAlias = LocalServer  # what `cirt taxii serve` is, to the tests
Medallion: TypeAlias = LocalServer


@contextmanager
def cirt_server(home: Path, *extra: str, workers: int = 1) -> Iterator[CirtServer]:
    """``cirt taxii serve`` as a real process on a free loopback port, stopped afterwards."""
    port = free_port()
    env = {**os.environ, "CIRT_HOME": str(home)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cirt",
            "--home",
            str(home),
            "taxii",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port, process)
        yield LocalServer(port, process, "cirt")
    finally:
        stop(process)


# -- medallion -----------------------------------------------------------------------------


def medallion_data(
    port: int, objects: list[dict[str, Any]], *, max_content_length: int, start: str = "2026-03-01T00:00:00"
) -> dict[str, Any]:
    """A memory-backend data file: one readable collection holding ``objects`` (one distinct
    date_added each, as a real server gives them) and one writable inbox."""
    manifest = [
        {
            "id": o["id"],
            "date_added": f"{start}.{i + 1:06d}Z",
            "version": o["modified"],
            "media_type": "application/stix+json;version=2.1",
        }
        for i, o in enumerate(objects)
    ]
    root = f"http://127.0.0.1:{port}/api1/"
    return {
        "/discovery": {
            "title": "CSIRTAmericas (stand-in)",
            "description": "medallion",
            "contact": "ops@csirtamericas.example",
            "default": root,
            "api_roots": [root],
        },
        "api1": {
            "information": {
                "title": "CSIRTAmericas sharing",
                "description": "",
                "versions": [TAXII_MEDIA],
                "max_content_length": max_content_length,
            },
            "status": [],
            "collections": [
                {
                    "id": PULL_COLLECTION,
                    "title": "Regional indicators",
                    "description": "",
                    "can_read": True,
                    "can_write": False,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": objects,
                    "manifest": manifest,
                },
                {
                    "id": PUSH_COLLECTION,
                    "title": "Member submissions",
                    "description": "",
                    "can_read": True,
                    "can_write": True,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [],
                    "manifest": [],
                },
            ],
        },
    }


@contextmanager
def medallion(
    tmp: Path, objects: list[dict[str, Any]], *, page_size: int = 100, max_content_length: int = 10_000_000
) -> Iterator[Medallion]:
    """medallion (memory backend) on a free loopback port, seeded with ``objects``."""
    port = free_port()
    data_file = tmp / f"medallion-data-{port}.json"
    data_file.write_text(json.dumps(medallion_data(port, objects, max_content_length=max_content_length)))
    config = tmp / f"medallion-config-{port}.json"
    config.write_text(
        json.dumps(
            {
                "backend": {
                    "module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend",
                    "filename": str(data_file),
                    "session_timeout": 300,
                },
                "users": {MEDALLION_USER: MEDALLION_PASSWORD},
                "taxii": {"max_page_size": page_size},
            }
        )
    )
    script = "from medallion.scripts.run import main; main()"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            script,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "ERROR",
            str(config),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        yield LocalServer(port, process, "api1")
    finally:
        stop(process)


# -- a relay that drops the connection -----------------------------------------------------


class DroppingRelay:
    """Forwards 127.0.0.1:port to a server; after ``allow`` requests it cuts the connection."""

    def __init__(self, upstream_port: int, allow: int) -> None:
        self.upstream_port = upstream_port
        self.allow = allow
        self.requests = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._stopped = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))

        def back() -> None:
            try:
                while data := upstream.recv(65536):
                    client.sendall(data)
            except OSError:
                pass
            finally:
                client.close()

        threading.Thread(target=back, daemon=True).start()
        try:
            while data := client.recv(65536):
                if data[:4] in (b"GET ", b"POST"):
                    self.requests += 1
                    if self.requests > self.allow:
                        break  # drop: the client sees its connection reset mid-pull
                upstream.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (client, upstream):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self._stopped = True
        self._listener.close()
