"""Incident operations over the store: each one reads, applies a pure rule, writes a version.

Built from the Context and the services it uses: the incident record (``IncidentRecords``),
the playbooks' tasks and duties (``TaskService``) and the evidence locker.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from cirt import incidents as rules
from cirt.context import Context
from cirt.errors import InvalidValue
from cirt.evidence import EvidenceLocker
from cirt.incident_records import IncidentRecords
from cirt.incidents import HistoryEntry, Incident
from cirt.stixtime import format_ts
from cirt.store import LOCAL, Provenance
from cirt.store.incidents import IncidentFilter, IncidentRow
from cirt.tasks import TaskService
from cirt.tlp import TLP


class IncidentDesk:
    def __init__(
        self, context: Context, *, records: IncidentRecords, tasks: TaskService, evidence: EvidenceLocker
    ) -> None:
        self.context = context
        self.records = records
        self.tasks = tasks
        self.evidence = evidence

    @property
    def _provenance(self) -> Provenance:
        return Provenance(LOCAL, self.context.analyst)

    def open(
        self,
        *,
        title: str,
        category: str,
        severity: str,
        organisations: builtins.list[str],
        tlp: TLP | str | None = None,
        description: str | None = None,
        summary: str | None = None,
        reported_at: datetime | None = None,
        occurred_at: datetime | None = None,
        reporter: rules.Reporter | None = None,
        channel: str | None = None,
        playbook: str | None = None,
    ) -> Incident:
        """Open an incident; its default audience is the affected organisations.

        ``description`` is internal, ``summary`` shareable; ``reported_at`` (default now) is when
        the report reached the CIRT, and the duties count from it; the ``reporter`` (their
        name and contact never leave the CIRT) and the ``channel`` say who told us and how.
        One playbook applies: ``playbook``, or the best match (``TaskService.alternatives`` lists
        the others).  Intake calls this when it accepts a report.
        """
        community = self.context.community
        for org in organisations:
            community.organisation(org)
        level = _level(tlp, community.default_tlp)
        self._load_rules()
        now = self.context.clock()
        with self.context.store.transaction():
            number = self.context.store.next_counter(f"incident-{now.year}")
            incident = rules.new_incident(
                incident_id=self.context.ids("incident"),
                reference=f"{self.context.config.reference_prefix}-{now.year}-{number:04d}",
                title=title,
                category=self._category(category),
                severity=severity,
                organisations=organisations,
                tlp=level,
                description=description,
                identity=community.national.identity,
                analyst=self.context.analyst,
                now=now,
                summary=summary,
                reported_at=reported_at,
                occurred_at=occurred_at,
                reporter=reporter,
                channel=channel,
            )
            # Playbooks (cirt.tasks): the matching playbooks' tasks and duties join version 1.
            incident = self.tasks.apply(incident, playbook).incident
            self.save(incident)
            self.context.store.add_audience(
                incident.id, "org", [*incident.organisations, community.national.id]
            )
        return incident

    def save(self, incident: Incident) -> None:
        """Store a new version and refresh the index (callers hold the lock via ``changing``)."""
        self.records.save(incident)

    def get(self, ref: str) -> Incident:
        return self.records.get(ref)

    @contextmanager
    def changing(self, ref: str, if_version: str | None = None) -> Iterator[Incident]:
        """The newest version under the write lock (see ``IncidentRecords.changing``), with
        sectors.yaml and the playbooks read before the lock is taken."""
        self._load_rules()
        with self.records.changing(ref, if_version) as incident:
            yield incident

    def _category(self, text: str) -> str:
        return rules.parse_category(text, self.tasks.library.category_words())

    def _load_rules(self) -> None:
        """Read sectors.yaml and the playbooks (50-100 ms) before taking the write lock, which
        every other writer waits for."""
        _ = self.tasks.library

    def list(self, where: IncidentFilter) -> builtins.list[IncidentRow]:
        return self.records.list(where)

    def update(
        self,
        ref: str,
        *,
        title: str | None = None,
        description: str | None = None,
        summary: str | None = None,
        severity: str | None = None,
        category: str | None = None,
        status: str | None = None,
        tlp: TLP | str | None = None,
        add_organisations: builtins.list[str] | None = None,
        if_version: str | None = None,
    ) -> Incident:
        fields: dict[str, Any] = {}
        if title is not None:
            fields["title"] = title
        if description is not None:
            fields["description"] = description
        if summary is not None:
            fields["summary"] = summary
        if severity is not None:
            fields["severity"] = severity
        if category is not None:
            fields["category"] = self._category(category)
        if status is not None:
            fields["status"] = status
        if tlp is not None:
            fields["tlp"] = _level(tlp, self.context.community.default_tlp)
        for org in add_organisations or []:
            self.context.community.organisation(org)
        if not fields and not add_organisations:
            raise InvalidValue("nothing to update: give at least one field to change")
        with self.changing(ref, if_version) as incident:
            if "tlp" in fields and fields["tlp"] < incident.tlp(self.context.community.default_tlp):
                raise InvalidValue(
                    f"lowering the marking of {incident.reference} is `cirt share "
                    "lower` (by the originator, with a reason)"
                )  # issue 11
            if status is not None:
                rules.check_status_change(incident, status)
            if add_organisations:
                fields["organisations"] = [*incident.organisations, *add_organisations]
            change = "updated " + ", ".join(sorted(fields))
            revised = rules.revise(
                incident, analyst=self.context.analyst, now=self.context.clock(), change=change, **fields
            )
            # Playbooks (cirt.tasks): items that now apply join this version.
            revised = self.tasks.refresh(incident, revised).incident
            self.save(revised)
            if add_organisations:
                self.context.store.add_audience(revised.id, "org", add_organisations)
        return revised

    def assign(self, ref: str, analyst: str, *, if_version: str | None = None) -> Incident:
        with self.changing(ref, if_version) as incident:
            revised = rules.revise(
                incident,
                analyst=self.context.analyst,
                now=self.context.clock(),
                change=f"assigned to {analyst}",
                assignee=analyst,
                status="open" if incident.status == "new" else incident.status,
            )
            self.save(revised)
        return revised

    def escalate(
        self, ref: str, *, level: str, reason: str, de_escalate: bool = False, if_version: str | None = None
    ) -> Incident:
        with self.changing(ref, if_version) as incident:
            revised = rules.escalate(
                incident,
                level=level,
                reason=reason,
                analyst=self.context.analyst,
                now=self.context.clock(),
                de_escalate=de_escalate,
            )
            if not de_escalate:
                # Playbooks (cirt.tasks): the duties of the new level join this version.
                revised = self.tasks.escalated(revised).incident
            self.save(revised)
        return revised

    def close(
        self, ref: str, *, resolution: str, determination: str = "confirmed", if_version: str | None = None
    ) -> Incident:
        with self.changing(ref, if_version) as incident:
            open_duties = tuple(
                f"{t.number} {t.title} (to {', '.join(t.parties)})"
                for t in self.tasks.open_duties(incident.id)
            )
            revised = rules.close(
                incident,
                resolution=resolution,
                determination=determination,
                analyst=self.context.analyst,
                now=self.context.clock(),
                open_duties=open_duties,
            )
            self.save(revised)
        return revised

    def reopen(self, ref: str, *, reason: str, if_version: str | None = None) -> Incident:
        with self.changing(ref, if_version) as incident:
            revised = rules.reopen(
                incident, reason=reason, analyst=self.context.analyst, now=self.context.clock()
            )
            self.save(revised)
        return revised

    def note(
        self, ref: str, text: str, *, tlp: TLP | str | None = None, share: bool = False
    ) -> dict[str, Any]:
        """A STIX note about the incident: internal (never released) unless ``share``; marked
        like the incident unless ``tlp`` says otherwise."""
        incident = self.get(ref)
        if not text.strip():
            raise InvalidValue("a note needs text")
        level = _level(tlp, incident.tlp(self.context.community.default_tlp))
        markings = [level.marking_id] if share else [level.marking_id, rules.INTERNAL_MARKING_ID]
        stamp = format_ts(self.context.clock())
        note: dict[str, Any] = {
            "type": "note",
            "spec_version": "2.1",
            "id": self.context.ids("note"),
            "created": stamp,
            "modified": stamp,
            "created_by_ref": self.context.identity,
            "authors": [self.context.analyst],
            "content": text,
            "object_refs": [incident.id],
            "object_marking_refs": markings,
        }
        with self.context.store.transaction():
            self.context.store.put(note, tlp=int(level), provenance=self._provenance)
            self.context.store.link(incident.id, note["id"])
            self.context.store.add_audience(
                note["id"], "org", self.context.store.audience_of(incident.id).get("org", ())
            )
        return note

    def linked_objects(self, ref: str) -> builtins.list[dict[str, Any]]:
        """Newest versions of everything attached to the incident (notes, indicators, tasks…)."""
        incident = self.get(ref)
        ids = self.context.store.linked(incident.id)
        return [s.obj for s in self.context.store.latest_many(ids)]

    def attached_ids(self, ref: str) -> builtins.list[str]:
        """The incident and all that belongs to its record: linked objects, tasks, evidence files.

        What an export of one incident holds, whether for the CIRT itself or through the gate.
        """
        incident = self.get(ref)
        ids = [incident.id, *self.context.store.linked(incident.id)]
        ids += [row.task_id for row in self.context.store.due_items(incident.id)]
        ids += [o["id"] for o in self.evidence.objects(ref) if o["type"] == "file"]
        return list(dict.fromkeys(ids))

    def history(self, ref: str) -> builtins.list[HistoryEntry]:
        """Every version and every attached object, oldest first: nothing is ever lost."""
        incident = self.get(ref)
        entries: builtins.list[HistoryEntry] = []
        previous: Incident | None = None
        for stored in self.context.store.history(incident.id):
            version = Incident(stored.obj)
            ours = version.obj["extensions"][rules.OUR_EXTENSION_ID]
            details = rules.describe_changes(previous, version)
            what = ours.get("change", "changed")
            if previous is not None and details:
                what += " (" + "; ".join(details) + ")"
            entries.append(HistoryEntry(version.modified, ours.get("changed_by", "?"), "incident", what))
            previous = version
        for obj in self.linked_objects(ref):
            if obj["type"] == "relationship":
                continue
            origin = self.context.store.provenance_of(obj["id"], str(obj.get("modified", "")))
            entries.append(_linked_entry(obj, origin.source if origin else "?"))
        entries += self.tasks.history(ref)  # tasks and duties done (cirt.tasks)
        return sorted(entries, key=lambda e: e.at)


def _linked_entry(obj: dict[str, Any], by: str) -> HistoryEntry:
    kind = obj["type"]
    if kind == "note":
        shared = rules.INTERNAL_MARKING_ID not in obj.get("object_marking_refs", ())
        what = f"{'shared' if shared else 'internal'} note: {obj.get('content', '')}"
    elif kind == "indicator":
        what = f"indicator {obj.get('name') or obj.get('pattern')}"
    else:
        what = f"{kind} {obj.get('name') or obj['id']}"
    return HistoryEntry(str(obj.get("created", "")), by, kind, what)


def _level(tlp: TLP | str | None, default: TLP) -> TLP:
    if tlp is None:
        return default
    return tlp if isinstance(tlp, TLP) else TLP.parse(tlp)
