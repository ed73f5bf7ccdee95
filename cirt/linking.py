"""Incidents related to each other: STIX relationships between incidents, and merging duplicates.

``link`` records ``related-to``, ``duplicate-of`` or ``derived-from`` as a relationship marked at
the more restrictive of the two incidents' TLP (it reveals both), attached to both records.
``merge`` closes a duplicate with a pointer to the incident it joins and attaches to that
incident everything the duplicate held (indicators, notes, tasks, evidence records); nothing is
detached from the duplicate, so both histories stay whole.  The duplicate's open notification
duties are waived with that reason: the incident it joins carries its own.  ``related`` lists
every relationship between an incident and another incident, ours and those received from
partners.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cirt.context import Context
from cirt.errors import InvalidValue
from cirt.incident_desk import IncidentDesk
from cirt.incidents import Incident
from cirt.stixtime import format_ts
from cirt.store import LOCAL, Provenance, search_index
from cirt.tasks import TaskService
from cirt.tlp import TLP

LINK_TYPES = ("related-to", "duplicate-of", "derived-from")


@dataclass(frozen=True)
class Related:
    """Another incident and how this one relates to it (``direction``: to or from it)."""

    relationship_id: str
    relationship_type: str
    direction: str  # "to": this incident is the source; "from": the other one is
    reference: str
    title: str
    tlp: TLP
    source: str  # who asserted it: an analyst, or the partner it came from

    def line(self) -> str:
        arrow = (
            f"{self.relationship_type} {self.reference}"
            if self.direction == "to"
            else f"{self.reference} is {self.relationship_type} this one"
        )
        return f"{arrow}: {self.title} ({self.tlp.label}, from {self.source})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "relationship": self.relationship_id,
            "type": self.relationship_type,
            "direction": self.direction,
            "reference": self.reference,
            "title": self.title,
            "tlp": self.tlp.label.removeprefix("TLP:").lower(),
            "source": self.source,
        }


@dataclass(frozen=True)
class Merged:
    duplicate: str
    into: str
    moved: int  # objects attached to ``into``
    relationship_id: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "duplicate": self.duplicate,
            "into": self.into,
            "moved": self.moved,
            "relationship": self.relationship_id,
        }


class Linking:
    """Relationships between incidents; merging closes a duplicate through the incident desk
    and waives its duties through the task service."""

    def __init__(self, context: Context, *, incidents: IncidentDesk, tasks: TaskService) -> None:
        self.context = context
        self.incidents = incidents
        self.tasks = tasks

    def link(self, source_ref: str, target_ref: str, relationship_type: str = "related-to") -> dict[str, Any]:
        if relationship_type not in LINK_TYPES:
            raise InvalidValue(
                f"'{relationship_type}' is not a link type (use one of: {', '.join(LINK_TYPES)})"
            )
        source, target = self.incidents.get(source_ref), self.incidents.get(target_ref)
        if source.id == target.id:
            raise InvalidValue(f"{source.reference} cannot be linked to itself")
        for rel_id, kind, src, dst in search_index.relationships_of(self.context.store.db, source.id):
            if (kind, src, dst) == (relationship_type, source.id, target.id):
                raise InvalidValue(
                    f"{source.reference} is already {relationship_type} {target.reference} ({rel_id})"
                )
        with self.context.store.transaction():
            return self._relate(source, target, relationship_type)

    def _relate(self, source: Incident, target: Incident, kind: str) -> dict[str, Any]:
        default = self.context.community.default_tlp
        level = max(source.tlp(default), target.tlp(default))
        stamp = format_ts(self.context.clock())
        relationship: dict[str, Any] = {
            "type": "relationship",
            "spec_version": "2.1",
            "id": self.context.ids("relationship"),
            "created": stamp,
            "modified": stamp,
            "created_by_ref": self.context.identity,
            "relationship_type": kind,
            "source_ref": source.id,
            "target_ref": target.id,
            "object_marking_refs": [level.marking_id],
        }
        store = self.context.store
        store.put(relationship, tlp=int(level), provenance=Provenance(LOCAL, self.context.analyst))
        store.link(source.id, relationship["id"])
        store.link(target.id, relationship["id"])
        audiences = store.audiences([source.id, target.id])
        orgs = set(audiences.get(source.id, {}).get("org", ())) & set(
            audiences.get(target.id, {}).get("org", ())
        )
        if orgs:  # only who may know both incidents may know they are related
            store.add_audience(relationship["id"], "org", sorted(orgs))
        return relationship

    def merge(self, duplicate_ref: str, into_ref: str) -> Merged:
        duplicate, into = self.incidents.get(duplicate_ref), self.incidents.get(into_ref)
        if duplicate.id == into.id:
            raise InvalidValue(f"{duplicate.reference} cannot be merged into itself")
        if duplicate.status == "closed":
            raise InvalidValue(f"{duplicate.reference} is closed; reopen it before merging")
        if into.status == "closed":
            raise InvalidValue(f"{into.reference} is closed; merge into an open incident")
        store = self.context.store
        with store.transaction():
            held = self.incidents.attached_ids(duplicate.reference)
            moved = [i for i in held if i != duplicate.id]
            for object_id in moved:
                store.link(into.id, object_id)
            relationship = self._relate(duplicate, into, "duplicate-of")
            self.incidents.note(
                into.reference,
                f"Merged from {duplicate.reference} ({duplicate.title}): {len(moved)} object(s) attached",
            )
            for duty in self.tasks.open_duties(duplicate.reference):  # INTO's duties hold
                self.tasks.waive(
                    duplicate.reference,
                    str(duty.number),
                    reason=f"merged into {into.reference}, whose duties carry on",
                )
            self.incidents.close(
                duplicate.reference, resolution=f"duplicate of {into.reference}", determination="confirmed"
            )
        return Merged(duplicate.reference, into.reference, len(moved), relationship["id"])

    def related(self, ref: str) -> list[Related]:
        incident = self.incidents.get(ref)
        db = self.context.store.db
        found: list[Related] = []
        relationships = search_index.relationships_of(db, incident.id)
        others = {(dst if src == incident.id else src) for _, _, src, dst in relationships}
        ours = {
            i.incident_id: (i.reference, i.title, TLP(i.tlp))
            for rows in search_index.incidents_of(db, sorted(others)).values()
            for i in rows
            if i.object_id == i.incident_id
        }
        received = {
            s.id: (s.id, str(s.obj.get("name", "")), TLP(s.tlp))
            for s in self.context.store.latest_many(sorted(others - set(ours)))
            if s.type == "incident"
        }  # partners' incidents have no reference of ours
        for rel_id, kind, src, dst in relationships:
            other = ours.get(dst if src == incident.id else src) or received.get(
                dst if src == incident.id else src
            )
            if other is None:
                continue  # an indicator, or an incident we do not hold
            stored = self.context.store.get(rel_id)
            origin = self.context.store.provenance_of(rel_id, stored.modified) if stored else None
            found.append(
                Related(
                    rel_id,
                    kind,
                    "to" if src == incident.id else "from",
                    *other,
                    origin.source if origin else "?",
                )
            )
        return found
