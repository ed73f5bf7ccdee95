"""Evidence and its chain of custody, as part of the incident's STIX record.

An item of evidence is a STIX ``file`` observable (SHA-256, size, name; its id is the STIX
deterministic one, so the same file always has the same id).  Every custody event (collected,
handed over) is a STIX ``note`` about the incident and the file, carrying the structured facts in
a small extension of ours (:data:`EVIDENCE_EXTENSION_ID`).  Notes are immutable and each event is
a new one, so the chain cannot be rewritten.  The notes are linked to the incident, so
``IncidentDesk.history`` lists every custody event in order; the file observable is reached
through the notes' ``object_refs`` (:meth:`EvidenceLocker.objects` returns both, for exports).

The file's bytes are never copied into the workspace: evidence stays with its custodian, and for
child-abuse material copying is itself forbidden.  Only the hash proves it is the same file.
Custody records name people and may describe sensitive material: they default to TLP:RED
(nobody outside the national CIRT) and go to the police by hand-over, not through the gate.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cirt.context import Context
from cirt.definitions import EVIDENCE_EXTENSION_ID
from cirt.errors import InputRejected, InvalidValue, NotFound
from cirt.incident_records import IncidentRecords
from cirt.incidents import INTERNAL_MARKING_ID, Incident
from cirt.observables import SCO_NAMESPACE
from cirt.stixtime import format_ts
from cirt.store import LOCAL, Provenance
from cirt.tlp import TLP

DEFAULT_EVIDENCE_TLP = TLP.RED


def file_observable(sha256: str, size: int, name: str, marking: str) -> dict[str, Any]:
    """The STIX ``file`` SCO with its deterministic id (from ``hashes`` and ``name``)."""
    contributing = {"hashes": {"SHA-256": sha256}, "name": name}
    text = json.dumps(contributing, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {
        "type": "file",
        "spec_version": "2.1",
        "id": f"file--{uuid.uuid5(SCO_NAMESPACE, text)}",
        "hashes": {"SHA-256": sha256},
        "size": size,
        "name": name,
        "object_marking_refs": [marking],
    }


def hash_file(path: Path) -> tuple[str, int]:
    """SHA-256 and size, read in chunks so a disk image does not fill memory."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
    except IsADirectoryError:
        raise InputRejected(f"{path} is a folder: archive it first, then record the archive") from None
    except OSError as exc:
        raise InputRejected(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest(), size


@dataclass(frozen=True)
class CustodyEvent:
    action: str  # collected | handover
    at: str
    by: str
    to: str | None
    note: str | None
    note_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "at": self.at,
            "by": self.by,
            "to": self.to,
            "note": self.note,
            "note_id": self.note_id,
        }


@dataclass(frozen=True)
class Evidence:
    number: str
    file_id: str
    name: str
    sha256: str
    size: int
    events: tuple[CustodyEvent, ...]

    @property
    def collected(self) -> CustodyEvent:
        return self.events[0]

    @property
    def custodian(self) -> str:
        """Who holds it now: the last recipient, else whoever collected it."""
        last = self.events[-1]
        return last.to if last.action == "handover" and last.to else last.by

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "file_id": self.file_id,
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "collected_by": self.collected.by,
            "collected_at": self.collected.at,
            "custodian": self.custodian,
            "events": [e.as_dict() for e in self.events],
        }


@dataclass(frozen=True)
class Verification:
    evidence: Evidence
    path: str
    sha256: str
    matches: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "evidence": self.evidence.number,
            "path": self.path,
            "sha256": self.sha256,
            "expected": self.evidence.sha256,
            "matches": self.matches,
        }


class EvidenceLocker:
    """Record evidence of an incident, its hand-overs, and read the chain back."""

    def __init__(self, context: Context, *, records: IncidentRecords) -> None:
        self.context = context
        self.records = records

    @property
    def _provenance(self) -> Provenance:
        return Provenance(LOCAL, self.context.analyst)

    def add(
        self,
        ref: str,
        path: Path,
        *,
        note: str | None = None,
        collected_by: str | None = None,
        tlp: TLP | str | None = None,
    ) -> Evidence:
        """Hash a file and record who collected it and when."""
        incident = self.records.get(ref)
        sha256, size = hash_file(path)
        level = _level(tlp)
        existing = self.list(ref)
        for item in existing:
            if item.sha256 == sha256:
                raise InvalidValue(
                    f"{path.name} is already evidence {item.number} of {incident.reference} (same SHA-256)"
                )
        number = f"E{len(existing) + 1}"
        observable = file_observable(sha256, size, path.name, level.marking_id)
        who = (collected_by or self.context.analyst).strip()
        if not who:
            raise InvalidValue("who collected the evidence? (--by)")
        facts = {
            "action": "collected",
            "number": number,
            "evidence_ref": observable["id"],
            "sha256": sha256,
            "size": size,
            "name": path.name,
            "person": who,
        }
        text = f"Evidence {number} collected by {who}: {path.name} (SHA-256 {sha256}, {size} bytes)"
        with self.context.store.transaction():
            self.context.store.put(observable, tlp=int(level), provenance=self._provenance)
            self._note(incident, observable["id"], facts, text, note, level)
        return self._one(incident, number)

    def handover(self, ref: str, which: str, *, to: str, note: str | None = None) -> Evidence:
        """Record that the current custodian handed the evidence to ``to``."""
        incident = self.records.get(ref)
        item = self.find(incident, which)
        recipient = to.strip()
        if not recipient:
            raise InvalidValue("a hand-over needs the person receiving it (--to)")
        if recipient == item.custodian:
            raise InvalidValue(f"{item.number} is already held by {recipient}")
        facts = {
            "action": "handover",
            "number": item.number,
            "evidence_ref": item.file_id,
            "sha256": item.sha256,
            "size": item.size,
            "name": item.name,
            "person": item.custodian,
            "recipient": recipient,
        }
        text = f"Evidence {item.number} ({item.name}) handed over by {item.custodian} to {recipient}"
        stored = self.context.store.get(item.collected.note_id)
        level = TLP(stored.tlp) if stored else DEFAULT_EVIDENCE_TLP
        with self.context.store.transaction():
            self._note(incident, item.file_id, facts, text, note, level)
        return self._one(incident, item.number)

    def verify(self, ref: str, which: str, path: Path) -> Verification:
        """Re-hash a file and say whether it is the recorded evidence, unchanged."""
        incident = self.records.get(ref)
        item = self.find(incident, which)
        sha256, _ = hash_file(path)
        return Verification(item, str(path), sha256, sha256 == item.sha256)

    def _note(
        self, incident: Incident, file_id: str, facts: dict[str, Any], text: str, note: str | None, level: TLP
    ) -> None:
        stamp = format_ts(self.context.clock())
        content = text + (f". {note.strip()}" if note and note.strip() else "")
        note_id = self.context.ids("note")
        record: dict[str, Any] = {
            "type": "note",
            "spec_version": "2.1",
            "id": note_id,
            "created": stamp,
            "modified": stamp,
            "created_by_ref": self.context.identity,
            "authors": [self.context.analyst],
            "abstract": f"Chain of custody {facts['number']}",
            "content": content,
            "object_refs": [incident.id, file_id],
            # The chain of custody is the CIRT's record: internal, never released.
            "object_marking_refs": [level.marking_id, INTERNAL_MARKING_ID],
            "extensions": {
                EVIDENCE_EXTENSION_ID: {
                    "extension_type": "property-extension",
                    **facts,
                    "when": stamp,
                    **({"note": note.strip()} if note and note.strip() else {}),
                }
            },
        }
        self.context.store.put(record, tlp=int(level), provenance=self._provenance)
        self.context.store.link(incident.id, note_id)

    def list(self, ref: str) -> builtins.list[Evidence]:
        incident = self.records.get(ref)
        return self._collect(incident)

    def _collect(self, incident: Incident) -> builtins.list[Evidence]:
        store = self.context.store
        events: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        for stored in store.latest_many(store.linked(incident.id)):
            facts = stored.obj.get("extensions", {}).get(EVIDENCE_EXTENSION_ID)
            if stored.type == "note" and facts:
                events.setdefault(str(facts["number"]), []).append((facts, stored.obj))
        out = []
        for number, group in events.items():
            group.sort(key=lambda pair: (pair[0]["when"], pair[1]["id"]))
            first = group[0][0]
            out.append(
                Evidence(
                    number,
                    first["evidence_ref"],
                    first["name"],
                    first["sha256"],
                    int(first["size"]),
                    tuple(
                        CustodyEvent(
                            f["action"], f["when"], f["person"], f.get("recipient"), f.get("note"), obj["id"]
                        )
                        for f, obj in group
                    ),
                )
            )
        return sorted(out, key=lambda e: int(e.number[1:]))

    def objects(self, ref: str) -> builtins.list[dict[str, Any]]:
        """The file observables and custody notes of an incident (for exports)."""
        incident = self.records.get(ref)
        store = self.context.store
        notes = [
            s.obj
            for s in store.latest_many(store.linked(incident.id))
            if s.type == "note" and EVIDENCE_EXTENSION_ID in s.obj.get("extensions", {})
        ]
        files = {n["extensions"][EVIDENCE_EXTENSION_ID]["evidence_ref"] for n in notes}
        return [s.obj for s in store.latest_many(sorted(files))] + notes

    def _one(self, incident: Incident, number: str) -> Evidence:
        return next(e for e in self._collect(incident) if e.number == number)

    def find(self, incident: Incident, which: str) -> Evidence:
        """By number (``E2`` or ``2``), by SHA-256 (or a prefix of 8+ digits), or by file id."""
        text = which.strip()
        key = text.upper() if text.upper().startswith("E") else f"E{text}"
        items = self._collect(incident)
        found = [
            e
            for e in items
            if e.number == key or e.file_id == text or (len(text) >= 8 and e.sha256.startswith(text.lower()))
        ]
        if len(found) == 1:
            return found[0]
        if not found:
            raise NotFound(
                f"{incident.reference} has no evidence '{which}' "
                f"(see 'cirt evidence list {incident.reference}')"
            )
        raise InvalidValue(f"'{which}' matches several items; give the number (E1, E2…)")


def _level(tlp: TLP | str | None) -> TLP:
    if tlp is None:
        return DEFAULT_EVIDENCE_TLP
    return tlp if isinstance(tlp, TLP) else TLP.parse(tlp)
