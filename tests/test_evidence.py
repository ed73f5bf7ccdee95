"""Evidence: a file's SHA-256 and size, who collected it and when, every later hand-over, all in
the incident's STIX record and history; the file itself is never copied."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from conftest import FixedClock
from stix2validator import ValidationOptions, validate_instance

from cirt.definitions import EVIDENCE_EXTENSION_ID
from cirt.errors import InputRejected, InvalidValue, NotFound
from cirt.evidence import file_observable
from cirt.tlp import TLP
from cirt.workspace import Workspace


@pytest.fixture
def message(tmp_path: Path) -> Path:
    path = tmp_path / "lure.eml"
    path.write_bytes(b"From: alerts@centralbank-secure-mail.example\r\n\r\nVerify your account\r\n")
    return path


def open_incident(ws: Workspace) -> Any:
    return ws.incidents.open(
        title="Sextortion of a student",
        category="abusive-content:violence",
        severity="high",
        organisations=["btl"],
    )


def test_adding_evidence_records_hash_size_collector_and_time(
    ws: Workspace, clock: FixedClock, message: Path
) -> None:
    incident = open_incident(ws)
    clock.advance(minutes=20)
    item = ws.evidence.add(incident.reference, message, note="exported from the mail gateway")
    data = message.read_bytes()
    assert item.number == "E1" and item.name == "lure.eml"
    assert item.sha256 == hashlib.sha256(data).hexdigest() and item.size == len(data)
    assert item.collected.by == "tester" and item.custodian == "tester"
    assert item.collected.at.startswith("2026-03-10T14:20:")
    assert item.collected.note == "exported from the mail gateway"
    observable = ws.store.get(item.file_id)
    assert observable is not None and observable.tlp == int(TLP.RED)
    assert observable.obj["hashes"] == {"SHA-256": item.sha256}
    note = ws.store.get(item.collected.note_id)
    assert note is not None
    assert note.obj["object_refs"] == [incident.id, item.file_id]
    assert note.obj["extensions"][EVIDENCE_EXTENSION_ID]["action"] == "collected"
    for obj in (observable.obj, note.obj):
        report = validate_instance(obj, ValidationOptions(version="2.1"))
        assert report.is_valid, [str(e) for e in report.errors]
    assert not list(ws.home.rglob("lure.eml")), "the evidence file must not be copied"


def test_the_file_observable_has_the_stix_deterministic_id() -> None:
    first = file_observable("a" * 64, 10, "x.bin", TLP.RED.marking_id)
    again = file_observable("a" * 64, 99, "x.bin", TLP.AMBER.marking_id)
    other = file_observable("b" * 64, 10, "x.bin", TLP.RED.marking_id)
    assert first["id"] == again["id"] != other["id"]
    assert first["id"].startswith("file--") and first["id"][6:20] != "00000000-0000-"


def test_every_handover_is_a_new_record_and_the_chain_reads_back_in_order(
    ws: Workspace, clock: FixedClock, message: Path
) -> None:
    incident = open_incident(ws)
    ws.evidence.add(incident.reference, message, collected_by="Maria Chan (BTL)")
    clock.advance(hours=3)
    ws.evidence.handover(incident.reference, "E1", to="Duty analyst, national CIRT")
    clock.advance(days=1)
    item = ws.evidence.handover(incident.reference, "1", to="Cpl. Usher, PITCU", note="sealed bag 0042")
    assert [(e.action, e.by, e.to) for e in item.events] == [
        ("collected", "Maria Chan (BTL)", None),
        ("handover", "Maria Chan (BTL)", "Duty analyst, national CIRT"),
        ("handover", "Duty analyst, national CIRT", "Cpl. Usher, PITCU"),
    ]
    assert item.custodian == "Cpl. Usher, PITCU"
    assert [e.at for e in item.events] == sorted(e.at for e in item.events)
    with pytest.raises(InvalidValue, match="already held by"):
        ws.evidence.handover(incident.reference, "E1", to="Cpl. Usher, PITCU")
    with pytest.raises(NotFound, match="no evidence 'E7'"):
        ws.evidence.handover(incident.reference, "E7", to="someone")
    history = [h.what for h in ws.incidents.history(incident.reference)]
    custody = [w for w in history if "Evidence E1" in w]
    assert len(custody) == 3 and "sealed bag 0042" in custody[-1]


def test_the_same_file_twice_is_refused_and_a_missing_file_is_one_line(
    ws: Workspace, message: Path, tmp_path: Path
) -> None:
    incident = open_incident(ws)
    ws.evidence.add(incident.reference, message)
    with pytest.raises(InvalidValue, match="already evidence E1"):
        ws.evidence.add(incident.reference, message)
    with pytest.raises(InputRejected, match="cannot read"):
        ws.evidence.add(incident.reference, tmp_path / "nope.bin")
    with pytest.raises(InputRejected, match="is a folder"):
        ws.evidence.add(incident.reference, tmp_path)
    assert [e.number for e in ws.evidence.list(incident.reference)] == ["E1"]


def test_evidence_commands(cli: Any, message: Path) -> None:
    ref = cli(
        "incident",
        "open",
        "--title",
        "Sextortion",
        "--category",
        "abusive-content:violence",
        "--severity",
        "high",
        "--sector",
        "btl",
        "--json",
    ).json()["reference"]
    added = cli("evidence", "add", ref, str(message), "--note", "from the victim", "--json")
    assert added.code == 0, added.err
    sha = added.json()["sha256"]
    moved = cli("evidence", "handover", ref, sha[:12], "--to", "PITCU cybercrime desk", "--json").json()
    assert moved["custodian"] == "PITCU cybercrime desk" and len(moved["events"]) == 2
    assert cli("evidence", "verify", ref, "E1", str(message)).code == 0
    message.write_bytes(message.read_bytes() + b"tampered")
    changed = cli("evidence", "verify", ref, "E1", str(message), "--json")
    assert changed.code == 1 and changed.json()["matches"] is False
    listed = cli("evidence", "list", ref)
    assert listed.code == 0 and "PITCU cybercrime desk" in listed.out
    assert "lure.eml" in listed.out
    missing = cli("evidence", "add", ref, "/nonexistent/file.bin")
    assert missing.code == 1 and missing.err.count("\n") == 1


def test_objects_for_export_include_the_files_and_the_custody_notes(
    ws: Workspace, clock: FixedClock, message: Path
) -> None:
    incident = open_incident(ws)
    item = ws.evidence.add(incident.reference, message)
    clock.advance(hours=1)
    ws.evidence.handover(incident.reference, "E1", to="PITCU")
    objects = ws.evidence.objects(incident.reference)
    assert [o["type"] for o in objects] == ["file", "note", "note"]
    assert objects[0]["id"] == item.file_id
