"""A hostile partner on every inbound path: the same attacks through ``cirt import --source``,
the TAXII inbox, a TAXII pull and a MISP pull, against real servers on 127.0.0.1.

Each attack is refused with a clear reason, written to the ingest log (whose hash chain still
verifies afterwards), and leaves the store and what leaves it (the CIRT's own export) exactly as
they were.  The partner is CSIRTAmericas; the workspace already holds an indicator of the CIRT's
own, one BEL created, and a statement marking and a TLP:CLEAR indicator CSIRTAmericas sent.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from cirt.demos.misp_server import running
from cirt.ingest import ingest
from cirt.refusal_log import verify_refusals
from cirt.store import Provenance
from cirt.taxii.auth import issue_credential
from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.taxii_fixtures import (
    PULL_COLLECTION,
    TAXII_MEDIA,
    cirt_server,
    indicator,
    point_partner,
    seed,
    set_peer_secret,
)

PARTNER = "csirtamericas"
NATIONAL = "identity--e33b703c-a631-5672-a1bc-d5c26b3e3afa"
BEL = "identity--7b614f76-66fb-5eb2-b6d2-4c7d5bb317e3"
CBB = "identity--2f779c41-6550-541b-b234-2db7bb14ef3c"
CSIRTAMERICAS = "identity--b960b001-fd33-513f-b191-b35fc53c8f24"
RED = TLP.RED.marking_id
LATER = "2026-04-01T00:00:00.000Z"

OURS = {**indicator(1, TLP.AMBER, prefix="0a0a"), "created_by_ref": NATIONAL}
BELS = {**indicator(2, TLP.AMBER, prefix="0b0b"), "created_by_ref": BEL}
STATEMENT = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": "marking-definition--7c6f6a4e-1d1b-4c39-9d0e-2f4b6a8c0e12",
    "created": "2026-01-01T00:00:00.000Z",
    "created_by_ref": CSIRTAMERICAS,
    "definition_type": "statement",
    "definition": {"statement": "Copyright CSIRTAmericas"},
}
HEX64 = "0123456789abcdef" * 4


def _granular(count: int) -> dict[str, Any]:
    return {
        **indicator(9, prefix="0c0c"),
        "created_by_ref": CSIRTAMERICAS,
        "granular_markings": [{"marking_ref": RED, "selectors": ["name"]}] * count,
    }


# (name, the objects array as JSON text, what the refusal says)
STIX_ATTACKS: list[tuple[str, str, str]] = [
    (
        "overwrite the CIRT's object",
        json.dumps([{**OURS, "modified": LATER, "name": "pwned"}]),
        "the national CIRT's",
    ),
    (
        "overwrite the CIRT's object, unsigned",
        json.dumps([{k: v for k, v in {**OURS, "modified": LATER}.items() if k != "created_by_ref"}]),
        "is the national CIRT's own object",
    ),
    (
        "a lower-marked newer version of another party's object",
        json.dumps([{**BELS, "modified": LATER, "object_marking_refs": [TLP.CLEAR.marking_id]}]),
        f"created_by_ref {BEL} is not an identity",
    ),
    (
        "assert another identity",
        json.dumps([{**indicator(3, prefix="0d0d"), "created_by_ref": CBB}]),
        f"created_by_ref {CBB} is not an identity",
    ),
    (
        "spoof a TLP definition",
        json.dumps(
            [
                {
                    "type": "marking-definition",
                    "spec_version": "2.1",
                    "id": RED,
                    "created": "2022-10-01T00:00:00.000Z",
                    "name": "TLP:RED",
                    "extensions": {
                        "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                            "extension_type": "property-extension",
                            "tlp_2_0": "clear",
                        }
                    },
                }
            ]
        ),
        "uses the id of the OASIS TLP:RED marking definition",
    ),
    (
        "version a marking definition",
        json.dumps(
            [
                {
                    **STATEMENT,
                    "created": "2026-02-01T00:00:00.000Z",
                    "definition": {"statement": "Public domain"},
                }
            ]
        ),
        "a marking definition never changes",
    ),
    (
        "duplicate keys",
        json.dumps([indicator(4, TLP.RED, prefix="0e0e")])[:-2]
        + f', "object_marking_refs": ["{TLP.CLEAR.marking_id}"]}}]',
        "has the key 'object_marking_refs' twice",
    ),
    (
        "NaN",
        json.dumps([{**indicator(5, prefix="0e0e"), "confidence": float("nan")}]),
        "NaN is not a JSON value",
    ),
    (
        "Infinity",
        json.dumps([{**indicator(5, prefix="0e0e"), "confidence": float("inf")}]),
        "Infinity is not a JSON value",
    ),
    (
        "1e400",
        json.dumps([indicator(5, prefix="0e0e")])[:-2] + ', "confidence": 1e400}]',
        "the number 1e400 is beyond what JSON interchange allows",
    ),
    (
        "a backtracking pattern",
        json.dumps(
            [
                {
                    **indicator(6, prefix="0e0e"),
                    "pattern": f"[file:hashes.'SHA-256' = '{HEX64}' AND file:name = 'a.exe'",
                }
            ]
        ),
        "pattern:",
    ),
    (
        "10,000 granular markings",
        json.dumps([_granular(10_000)]),
        "10,000 granular markings (the limit is 1,000",
    ),
]


class _Twice(dict):
    """An event ``json.dumps`` writes with one key twice (the C encoder asks ``items()``)."""

    def __init__(self, base: dict[str, Any], key: str, first: Any) -> None:
        super().__init__(base)
        self.first = (key, first)

    def items(self) -> Any:
        return [self.first, *super().items()]


def _event(n: int, attributes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "uuid": f"5e5e5e5e-0000-4000-8000-00000000000{n}",
        "info": f"hostile {n}",
        "distribution": "1",
        "timestamp": str(1775000000 + n),
        "Tag": [{"name": "tlp:clear"}],
        "Attribute": attributes,
        **extra,
    }


def _attribute(uuid: str, value: str, kind: str = "ip-dst", **extra: Any) -> dict[str, Any]:
    return {"uuid": uuid, "type": kind, "value": value, "to_ids": True, "timestamp": "1775000000", **extra}


# MISP events carry no created_by_ref and no marking definitions: the attacks that exist there.
MISP_ATTACKS: list[tuple[str, dict[str, Any], str]] = [
    (
        "overwrite the CIRT's object",
        _event(1, [_attribute(OURS["id"].split("--")[1], "198.51.100.66")]),
        "is the national CIRT's own object",
    ),
    (
        "a lower-marked newer version of another party's object",
        _event(2, [_attribute(BELS["id"].split("--")[1], "198.51.100.67")]),
        f"a new version must keep created_by_ref {BEL}",
    ),
    (
        "duplicate keys",
        _Twice(
            _event(3, [_attribute("5e5e5e5e-0000-4000-8000-0000000000a3", "192.0.2.9")]),
            "Tag",
            [{"name": "tlp:red"}],
        ),
        "has the key 'Tag' twice",
    ),
    ("NaN", _event(4, [], threat_level_id=float("nan")), "NaN is not a JSON value"),
    (
        "a number beyond JSON interchange",
        _event(5, [], threat_level_id=10**400),
        "is beyond what JSON interchange allows",
    ),
    (
        "a backtracking pattern",
        _event(
            6,
            [
                _attribute(
                    "5e5e5e5e-0000-4000-8000-0000000000a6",
                    f"[file:hashes.'SHA-256' = '{HEX64}' AND file:name = 'a.exe'",
                    "stix2-pattern",
                )
            ],
        ),
        "pattern:",
    ),
]


# --- the state every attack must leave as it was ----------------------------------------------


def snapshot(home: Path, cli: Callable[..., Any], besides: str = "report--5e5e5e5e") -> tuple[str, str]:
    """Every stored version with its TLP and provenance, and the CIRT's own export.

    Besides the reports of the hostile MISP events: an event is a new object of the partner's,
    and stays even when the attribute it names is refused (a rejected object does not take its
    referrers along).
    """
    digest = hashlib.sha256()
    with Workspace.open(home) as ws:
        for row in ws.store.db.query(
            "SELECT o.id, o.modified, o.tlp, o.latest, o.body, p.source FROM objects o"
            " JOIN provenance p ON p.object_id = o.id AND p.modified = o.modified"
            " ORDER BY o.id, o.modified"
        ):
            if not row[0].startswith(besides):
                digest.update(repr(tuple(row)).encode())
    exported = cli("export")
    assert exported.code == 0, exported.err
    objects = sorted(
        json.dumps(o, sort_keys=True)
        for o in json.loads(exported.out)["objects"]
        if not o["id"].startswith(besides)
    )
    return digest.hexdigest(), hashlib.sha256("\n".join(objects).encode()).hexdigest()


@pytest.fixture
def held(home: Path) -> Path:
    with Workspace.open(home) as ws:
        seed(ws, [(OURS, TLP.AMBER)])
        assert ingest(ws.context, [BELS], Provenance("import", "bel")).stored == 1
        clear = {**indicator(8, TLP.CLEAR, prefix="0a0a"), "created_by_ref": CSIRTAMERICAS}
        assert ingest(ws.context, [STATEMENT, clear], Provenance("taxii", PARTNER, "c")).stored == 2
    return home


def logged_reasons(home: Path) -> list[str]:
    with Workspace.open(home) as ws:
        return [f"{r.source}: {r.reason}" for r in ws.store.ingest_log()]


# --- how each path delivers the objects text ----------------------------------------------------


@dataclass
class Delivered:
    refused_whole: str  # the one-line refusal of the document, or ''
    reasons: list[str]  # per-object refusals
    stored: int


class _RawTaxii(BaseHTTPRequestHandler):
    """A TAXII 2.1 API root with one readable collection whose only page is ``page`` as sent."""

    page = b""

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/api1/":
            body = json.dumps(
                {"title": "raw", "versions": [TAXII_MEDIA], "max_content_length": 10_000_000}
            ).encode()
        elif path == "/api1/collections/":
            body = json.dumps(
                {
                    "collections": [
                        {
                            "id": PULL_COLLECTION,
                            "title": "hostile",
                            "can_read": True,
                            "can_write": False,
                            "media_types": ["application/stix+json;version=2.1"],
                        }
                    ]
                }
            ).encode()
        elif path == f"/api1/collections/{PULL_COLLECTION}/objects/":
            body = self.page
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", TAXII_MEDIA)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-TAXII-Date-Added-Last", "2026-04-01T00:00:00.000000Z")
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def raw_taxii(page: bytes) -> Iterator[str]:
    handler = type("Handler", (_RawTaxii,), {"page": page})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def by_file(home: Path, cli: Callable[..., Any], tmp: Path, text: str) -> Delivered:
    path = tmp / "partner.json"
    path.write_text(
        f'{{"type": "bundle", "id": "bundle--6b9c2f1e-4a3d-4e5f-8a7b-0c1d2e3f4a5b", "objects": {text}}}',
        encoding="utf-8",
    )
    result = cli("import", str(path), "--source", PARTNER, "--json")
    if not result.out:
        return Delivered(result.err.strip(), [], 0)
    data = result.json()
    return Delivered(
        "", [r["reason"] for r in data["rejected"] + data["conflicts"]], data["new"] + data["updated"]
    )


@contextmanager
def inbox(home: Path) -> Iterator[Callable[[str], Delivered]]:
    with Workspace.open(home) as ws:
        cred = issue_credential(ws, PARTNER)
    with cirt_server(home) as server:

        def post(text: str) -> Delivered:
            body = f'{{"objects": {text}}}'.encode()
            answer = requests.post(
                f"{server.api_root}collections/inbox/objects/",
                data=body,
                auth=(cred.username, cred.password),
                timeout=60,
                headers={"Content-Type": TAXII_MEDIA, "Accept": TAXII_MEDIA},
            )
            if answer.status_code == 400:
                return Delivered(answer.json()["description"], [], 0)
            assert answer.status_code == 202, answer.text
            status = answer.json()
            return Delivered("", [f["message"] for f in status["failures"]], status["success_count"])

        yield post


def by_pull(home: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, text: str) -> Delivered:
    with raw_taxii(f'{{"more": false, "objects": {text}}}'.encode()) as url:
        point_partner(
            home, PARTNER, discovery=f"{url}/taxii2/", api_root=f"{url}/api1/", pull=[PULL_COLLECTION]
        )
        set_peer_secret(monkeypatch, PARTNER, "user", "password")
        result = cli("taxii", "pull", PARTNER, "--json")
    if result.code != 0:
        return Delivered(result.err.strip(), [], 0)
    (collection,) = result.json()["collections"]
    return Delivered(
        "",
        [r["reason"] for r in collection["rejected"] + collection["conflicts"]],
        collection["new"] + collection["updated"],
    )


def by_misp(
    home: Path, cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, event: dict[str, Any]
) -> Delivered:
    key = "hostile-test-key-0123456789"
    with running(key) as server:
        event = event if isinstance(event, _Twice) else dict(event)
        event["id"] = "1"
        server.state.events[str(event["uuid"])] = event
        sectors = home / "sectors.yaml"
        text = sectors.read_text()
        sectors.write_text(text.replace("https://misp.csirtamericas.example/", server.url))
        monkeypatch.setenv("CIRT_MISP_CSIRTAMERICAS_KEY", key)
        try:
            result = cli("misp", "pull", PARTNER, "--since", "2020-01-01T00:00:00Z", "--json")
        finally:
            sectors.write_text(text)
    if result.code != 0 and not result.out:
        return Delivered(result.err.strip(), [], 0)
    data = result.json()
    return Delivered(
        "", [r["reason"] for r in data["rejected"] + data["conflicts"]], data["new"] + data["updated"]
    )


# --- the suite ------------------------------------------------------------------------------------


def _check(
    name: str,
    delivered: Delivered,
    expected: str,
    home: Path,
    before: tuple[str, str],
    cli: Callable[..., Any],
    log_size: int,
    misp: bool = False,
) -> list[str]:
    problems = []
    said = delivered.refused_whole or " | ".join(delivered.reasons)
    if expected not in said:
        problems.append(f"{name}: said {said!r}, expected {expected!r}")
    if delivered.stored > (1 if misp else 0):  # a MISP event's own report
        problems.append(f"{name}: stored {delivered.stored}")
    log = logged_reasons(home)
    if not any(expected in line and line.startswith(PARTNER) for line in log[log_size:]):
        problems.append(f"{name}: not in the ingest log ({log[log_size:]!r})")
    with Workspace.open(home) as ws:
        chain = verify_refusals(ws.store.iter_refusal_chain())
    if not chain.ok or chain.entries != len(log):
        problems.append(f"{name}: the refusal log does not verify ({chain.as_dict()!r})")
    if snapshot(home, cli) != before:
        problems.append(f"{name}: the store or the export changed")
    return problems


@pytest.mark.parametrize("path", ["file", "taxii-inbox", "taxii-pull", "misp-pull"])
def test_every_attack_is_refused_logged_and_changes_nothing(
    path: str, held: Path, cli: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every attack the path can carry (a MISP event has no created_by_ref and no marking
    definitions, so four of the attacks do not exist there)."""
    home = held
    before = snapshot(home, cli)
    problems: list[str] = []
    attacks: list[tuple[str, Any, str]] = list(MISP_ATTACKS if path == "misp-pull" else STIX_ATTACKS)
    with inbox(home) if path == "taxii-inbox" else nullcontext() as post:
        for name, payload, expected in attacks:
            log_size = len(logged_reasons(home))
            if path == "file":
                delivered = by_file(home, cli, tmp_path, payload)
            elif path == "taxii-inbox":
                assert post is not None
                delivered = post(payload)
            elif path == "taxii-pull":
                delivered = by_pull(home, cli, monkeypatch, payload)
            else:
                delivered = by_misp(home, cli, monkeypatch, payload)
            problems += _check(
                name, delivered, expected, home, before, cli, log_size, misp=path == "misp-pull"
            )
    assert problems == []


def test_the_same_objects_from_their_creator_are_taken(held: Path) -> None:
    """The suite refuses for the right reason: BEL versions its own object, and CSIRTAmericas
    may send new objects under its own name."""
    with Workspace.open(held) as ws:
        newer = {**BELS, "modified": LATER, "object_marking_refs": [TLP.CLEAR.marking_id]}
        summary = ingest(ws.context, [newer], Provenance("taxii", "bel", "inbox"))
        assert summary.updated == 1, summary.rejected
        held_now = ws.store.get(BELS["id"])
        assert held_now is not None and held_now.tlp == TLP.AMBER  # never lowered
        own = {**indicator(7, prefix="0f0f"), "created_by_ref": CSIRTAMERICAS}
        assert ingest(ws.context, [own], Provenance("taxii", PARTNER, "inbox")).new == 1
