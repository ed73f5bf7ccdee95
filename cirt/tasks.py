"""Tasks and notification duties of incidents, as STIX ``task`` objects over the store.

Each task or duty is a ``task`` object of the OASIS incident-core task extension
(``extension-definition--2074a052-…``), listed in the incident's core-extension ``tasks``.  That
extension has no deadline, owner, phase or addressee, and its schema forbids extra properties
inside its own extension entry, so those live in a small property extension of ours
(:data:`TASK_EXTENSION_ID`) on the same object.  An extension rather than ``x_`` properties:
STIX 2.1 deprecates custom properties in favour of extensions, and one named, versioned
extension is what a peer can recognise and the gate can strip as a whole.

A task carries the incident's TLP marking and audience: wherever the incident may go, the tasks
it references may go too, so no reference ever dangles.  Completing a task is a new version of
the task (``outcome: successful``); the ``due_items`` index answers "what is due before T"
quickly.  Deadlines are UTC instants; only display converts to the CIRT's time zone.
"""

from __future__ import annotations

import builtins
import copy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from cirt import incidents as rules
from cirt.context import Context
from cirt.definitions import TASK_CORE_ID, TASK_EXTENSION_ID
from cirt.errors import InvalidValue, NotFound
from cirt.incident_records import IncidentRecords
from cirt.incidents import ANSWERS, PHASES, HistoryEntry, Incident
from cirt.playbook_conditions import Facts, build_facts
from cirt.playbook_model import AFFECTED, Library, Playbook, Trigger
from cirt.playbook_rules import (
    PlannedItem,
    Proposal,
    due_after,
    holding,
    plan,
    plan_escalation,
    propose,
    without_repeated_duties,
)
from cirt.stixtime import (
    format_duration,
    format_ts,
    later_than,
    local_text,
    parse_duration,
    parse_ts,
    time_zone,
)
from cirt.store import LOCAL, Provenance
from cirt.store.deadlines import DueRow

# A waived duty (the regulator or party said no report is needed) is not carried out: STIX
# records it as cancelled; our extension keeps the state and the reason.
OUTCOMES = {"open": "pending", "done": "successful", "cancelled": "cancelled", "waived": "cancelled"}
DEFAULT_SOON = timedelta(hours=24)


@dataclass(frozen=True)
class TaskView:
    """One task or duty of an incident, as the analyst sees it."""

    number: int
    id: str
    key: str
    kind: str
    title: str
    phase: str
    owner: str | None
    parties: tuple[str, ...]
    role: str | None
    playbook: str | None
    level: str | None
    due: datetime | None
    after: str | None
    offset: timedelta
    state: str
    done_at: datetime | None
    done_by: str | None
    note: str | None
    decision: bool = False
    answer: str | None = None
    start_on: str | None = None

    @classmethod
    def from_row(cls, row: DueRow) -> TaskView:
        return cls(
            row.position,
            row.task_id,
            row.item_key,
            row.kind,
            row.title,
            row.phase,
            row.owner,
            tuple(p for p in row.parties.split(",") if p),
            row.role,
            row.playbook,
            row.level,
            parse_ts(row.due) if row.due else None,
            row.after_key,
            timedelta(minutes=row.offset_minutes),
            row.state,
            parse_ts(row.done_at) if row.done_at else None,
            row.done_by,
            row.note,
            bool(row.decision),
            row.answer,
            row.start_on,
        )

    def status(self, now: datetime, soon: timedelta = DEFAULT_SOON) -> str:
        """done | cancelled | waiting (clock not started) | overdue | due-soon | open."""
        if self.state != "open":
            return self.state
        if self.due is None:
            return "waiting"
        if self.due <= now:
            return "overdue"
        return "due-soon" if self.due <= now + soon else "open"

    def as_dict(self, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "number": self.number,
            "id": self.id,
            "key": self.key,
            "kind": self.kind,
            "title": self.title,
            "phase": self.phase,
            "owner": self.owner,
            "parties": list(self.parties),
            "role": self.role,
            "playbook": self.playbook,
            "level": self.level,
            "due": format_ts(self.due) if self.due else None,
            "due_local": local_text(self.due, zone) if self.due else None,
            "after": self.after,
            "offset": format_duration(self.offset),
            "state": self.state,
            "status": self.status(now),
            "done_at": format_ts(self.done_at) if self.done_at else None,
            "done_by": self.done_by,
            "note": self.note,
            "decision": self.decision,
            "answer": self.answer,
            "start_on": self.start_on,
        }


@dataclass(frozen=True)
class Applied:
    """What applying playbooks (at opening, after an update, or on escalation) produced."""

    incident: Incident
    playbooks: tuple[str, ...]
    added: tuple[TaskView, ...]
    proposal: Proposal | None
    others: tuple[str, ...] = ()  # playbooks that match too, not applied


@dataclass(frozen=True)
class Completed:
    task: TaskView
    started: tuple[TaskView, ...]  # items whose clock started with this completion
    not_needed: tuple[TaskView, ...] = ()  # items waiting for another answer: cancelled


_HOST = re.compile(r"(?:ipv4-addr|ipv6-addr|domain-name):value\s*=\s*'([^']+)'")
_URL = re.compile(r"url:value\s*=\s*'[a-z][a-z0-9+.-]*://([^/:'?#]+)", re.IGNORECASE)


class TaskService:
    """Playbooks applied to incidents; their tasks, duties and escalation triggers."""

    def __init__(self, context: Context, *, records: IncidentRecords) -> None:
        self.context = context
        self.records = records

    @cached_property
    def library(self) -> Library:
        # Imported here: start-up time (the file schema and YAML reader, ~10-15 ms) for commands
        # that build the incident desk but never read a playbook (``cirt incident list``).
        from cirt.playbook_files import load_library

        community = self.context.community
        parties = [community.national.id, *community.organisations, *community.partners]
        return load_library(
            self.context.config.playbooks_path, parties=parties, organisations=list(community.organisations)
        )

    @cached_property
    def zone(self) -> ZoneInfo:
        return time_zone(self.context.config.timezone)

    # -- facts and triggers -------------------------------------------------------------------

    def facts(self, incident: Incident) -> Facts:
        community = self.context.community
        hosts = self._indicator_hosts(incident)
        return build_facts(
            severity=incident.severity,
            category=incident.category,
            status=incident.status,
            determination=incident.determination,
            tlp=incident.tlp(community.default_tlp).slug,
            escalation_level=incident.escalation_level,
            organisations=incident.organisations,
            sector_of={o.id: o.sector for o in community.organisations.values()},
            critical_sectors=self.library.escalation.critical_sectors,
            foreign_infrastructure=any(not community.concerned_by(h) for h in hosts),
            partner_constituency=any(community.partners_concerned_by(h) for h in hosts),
        )

    def _indicator_hosts(self, incident: Incident) -> builtins.list[str]:
        """Addresses, domains and URL hosts named by the incident's indicators."""
        store = self.context.store
        hosts: builtins.list[str] = []
        for stored in store.latest_many(store.linked(incident.id)):
            if stored.type == "indicator":
                pattern = str(stored.obj.get("pattern", ""))
                hosts += _HOST.findall(pattern) + _URL.findall(pattern)
        return hosts

    def playbook_of(self, incident: Incident) -> Playbook | None:
        """The incident's playbook: the one applied at opening, or else the best match."""
        if incident.playbook in self.library.playbooks:
            return self.library.playbooks[incident.playbook]
        facts = self.facts(incident)
        best = self.library.matching(facts.category, facts.sectors)
        return best[0] if best else None

    def alternatives(self, incident: Incident) -> builtins.list[str]:
        """Other playbooks that match the incident, best first (offered, not applied)."""
        facts = self.facts(incident)
        return [
            p.name
            for p in self.library.matching(facts.category, facts.sectors)
            if p.name != incident.playbook
        ]

    def triggers(self, incident: Incident) -> list[Trigger]:
        """The triggers that apply to this incident: common ones and its playbook's."""
        playbook = self.playbook_of(incident)
        return self.library.all_triggers([playbook.name] if playbook else [])

    def holding(self, incident: Incident) -> list[Trigger]:
        """Triggers whose condition holds now, highest level first."""
        return holding(self.triggers(incident), self.facts(incident))

    def proposal(self, incident: Incident, before: Incident | None = None) -> Proposal | None:
        """The escalation to propose now; with ``before``, only if the change made it true."""
        previous = self.facts(before) if before is not None else None
        return propose(self.triggers(incident), self.facts(incident), previous)

    # -- applying playbooks -------------------------------------------------------------------

    def apply(self, incident: Incident, playbook: str | None = None) -> Applied:
        """At opening, before version 1 is saved: one playbook's tasks and duties (``playbook``
        or the best match; the others that match are offered), counted from when the CIRT was
        told (``reported_at``: a phone call at 02:00 logged at 08:00 is due from 02:00), stored
        and referenced from that same first version, which names the playbook."""
        facts = self.facts(incident)
        matching = [p.name for p in self.library.matching(facts.category, facts.sectors)]
        chosen = (
            self.library.get(playbook)
            if playbook
            else (self.library.playbooks[matching[0]] if matching else None)
        )
        if chosen is None:
            return Applied(incident, (), (), self.proposal(incident))
        obj = copy.deepcopy(incident.obj)
        obj["extensions"][rules.OUR_EXTENSION_ID]["playbook"] = chosen.name
        items = without_repeated_duties(plan(chosen, facts, parse_ts(incident.reported_at)), ())
        audience = (*incident.organisations, self.context.community.national.id)
        opened_with, added = self._attach(Incident(obj), items, audience)
        return Applied(
            opened_with,
            (chosen.name,),
            added,
            self.proposal(opened_with),
            tuple(n for n in matching if n != chosen.name),
        )

    def refresh(self, before: Incident, after: Incident) -> Applied:
        """On an update, before the new version is saved: items that now apply (a second
        organisation, a new sector, another category), counted from now, join that version;
        the escalation the change calls for is proposed."""
        facts = self.facts(after)
        playbook = self.playbook_of(after)
        playbooks = [playbook] if playbook else []
        rows = self.context.store.due_items(after.id)
        present = {row.item_key for row in rows}
        told = {
            (row.item_key.split("@")[0], party) for row in rows for party in row.parties.split(",") if party
        }
        items: builtins.list[PlannedItem] = []
        for item in (i for p in playbooks for i in plan(p, facts, parse_ts(after.modified))):
            if item.key not in present:
                items.append(item)
            elif item.kind == "duty" and item.party == AFFECTED:
                # A duty towards every affected organisation: one more for each newcomer.
                items += [
                    replace(item, key=f"{item.key}@{org}", parties=(org,))
                    for org in item.parties
                    if (item.key, org) not in told
                ]
        items = without_repeated_duties(items, _told(rows))
        audience = self._audience(after)
        self._follow_incident(after, audience)
        revised, added = self._attach(after, items, audience)
        names = tuple(sorted({i.playbook for i in items if i.playbook}))
        return Applied(revised, names, added, self.proposal(revised, before))

    def escalated(self, incident: Incident) -> Applied:
        """On an escalation, before its version is saved: the duties of the new level, counted
        from the escalation, join that version."""
        level = incident.escalation_level
        facts = self.facts(incident)
        rows = self.context.store.due_items(incident.id)
        present = {row.item_key for row in rows}
        records = incident.escalations
        at = parse_ts(records[-1]["at"]) if records else parse_ts(incident.modified)
        items = without_repeated_duties(
            [i for i in plan_escalation(self.library.escalation, level, facts, at) if i.key not in present],
            _told(rows),
        )
        revised, added = self._attach(incident, items, self._audience(incident))
        return Applied(revised, (), added, None)

    def switch_playbook(self, ref: str, name: str, *, if_version: str | None = None) -> Applied:
        """Apply playbook ``name`` instead of the incident's: the open items of the old one are
        cancelled (saying why; what was done stays done), the new one's items join, counted
        from ``reported_at`` as at opening, and no party is given a duty it already has."""
        playbook = self.library.get(name)
        with self._changing(ref, if_version) as incident:
            if incident.playbook == name:
                raise InvalidValue(f"{incident.reference} already follows playbook {name}")
            now = self.context.clock()
            for row in self.context.store.due_items(incident.id):
                if row.state == "open" and row.playbook and row.playbook == incident.playbook:
                    self._cancel(row, f"playbook changed to {name}", now)
            rows = [r for r in self.context.store.due_items(incident.id) if r.state != "cancelled"]
            present = {r.item_key for r in self.context.store.due_items(incident.id)}
            items = without_repeated_duties(
                [
                    i
                    for i in plan(playbook, self.facts(incident), parse_ts(incident.reported_at))
                    if i.key not in present
                ],
                _told(rows),
            )
            revised = rules.revise(
                incident,
                analyst=self.context.analyst,
                now=now,
                playbook=name,
                change=f"playbook {name} applied instead of {incident.playbook or 'none'}",
            )
            revised, added = self._attach(revised, items, self._audience(revised))
            self.records.save(revised)
        return Applied(revised, (name,), added, self.proposal(revised, incident))

    @contextmanager
    def _changing(self, ref: str, if_version: str | None = None) -> Iterator[Incident]:
        """The incident under the write lock, with the playbooks (and sectors.yaml) read before
        the lock is taken: every other writer waits for it."""
        _ = self.library
        with self.records.changing(ref, if_version) as incident:
            yield incident

    def _audience(self, incident: Incident) -> tuple[str, ...]:
        """Who may receive the incident, counting organisations this very version adds."""
        stored = self.context.store.audience_of(incident.id).get("org", ())
        return tuple(dict.fromkeys([*stored, *incident.organisations, self.context.community.national.id]))

    def _attach(
        self, incident: Incident, items: builtins.list[PlannedItem], audience: tuple[str, ...]
    ) -> tuple[Incident, tuple[TaskView, ...]]:
        """Store ``items`` and reference them from ``incident`` itself (a version not yet
        saved), so that one change of the incident is one version."""
        if not items:
            return incident, ()
        added, refs = self._store(incident, items, incident.modified, audience)
        obj = copy.deepcopy(incident.obj)
        core = obj["extensions"][rules.INCIDENT_CORE_ID]
        core["tasks"] = [*core.get("tasks", []), *refs]
        return Incident(obj), added

    def add(
        self,
        ref: str,
        *,
        title: str,
        due: timedelta | None = None,
        phase: str = "containment",
        owner: str | None = None,
        description: str = "",
        due_at: datetime | None = None,
    ) -> TaskView:
        """A task of the analyst's own, due ``due`` from now or at ``due_at`` (or without a
        deadline)."""
        if phase not in PHASES:
            raise InvalidValue(f"'{phase}' is not a phase (use one of: {', '.join(PHASES)})")
        if not title.strip():
            raise InvalidValue("a task needs a title (--title)")
        incident = self.records.get(ref)
        now = self.context.clock()
        if due_at is not None:
            due = due_at - now
            if due <= timedelta(0):
                raise InvalidValue(f"the deadline {local_text(due_at, self.zone)} has passed")
        number = self.context.store.next_due_position(incident.id)
        item = PlannedItem(
            f"own/{number}",
            "task",
            title.strip(),
            description,
            phase,
            due or timedelta(0),
            now + due if due else None,
            None,
            owner or self.context.analyst,
            50,
        )
        _, added = self._add(incident, [item], f"task added: {title.strip()}")
        return added[0]

    def _add(
        self, incident: Incident, items: list[PlannedItem], change: str
    ) -> tuple[Incident, tuple[TaskView, ...]]:
        """Store ``items`` and reference them from a new version of the incident."""
        if not items:
            return incident, ()
        with self._changing(incident.id) as current:
            audience = self.context.store.audience_of(current.id).get("org", ())
            created, refs = self._store(current, items, format_ts(self.context.clock()), audience)
            existing = current.obj["extensions"][rules.INCIDENT_CORE_ID].get("tasks", [])
            revised = rules.revise(
                current,
                analyst=self.context.analyst,
                now=self.context.clock(),
                change=f"{change} ({len(items)} tasks and duties)",
                tasks=[*existing, *refs],
            )
            self.records.save(revised)
        return revised, created

    def _store(
        self, incident: Incident, items: list[PlannedItem], stamp: str, audience: tuple[str, ...]
    ) -> tuple[tuple[TaskView, ...], list[dict[str, str]]]:
        """Task objects with the incident's marking and audience, indexed with their deadlines.

        They are not in ``incident_links`` (that is for attached intelligence: notes,
        indicators); ``due_items`` ties them to the incident and :meth:`objects` returns them.
        """
        store = self.context.store
        level = incident.tlp(self.context.community.default_tlp)
        position = store.next_due_position(incident.id)
        created: list[TaskView] = []
        refs: list[dict[str, str]] = []
        with store.transaction():
            for offset, item in enumerate(items):
                task = self._task_object(incident, item, stamp, level.marking_id)
                store.put(task, tlp=int(level), provenance=self._provenance)
                store.add_audience(task["id"], "org", audience)
                row = _row(task, incident.id, position + offset)
                store.index_due_item(row)
                created.append(TaskView.from_row(row))
                refs.append({"task_ref": task["id"]})
        return tuple(created), refs

    def objects(self, ref: str) -> builtins.list[dict[str, Any]]:
        """The newest version of every task object of an incident (for exports)."""
        incident = self.records.get(ref)
        ids = [row.task_id for row in self.context.store.due_items(incident.id)]
        by_id = {s.id: s.obj for s in self.context.store.latest_many(ids)}
        return [by_id[i] for i in ids if i in by_id]

    def _task_object(self, incident: Incident, item: PlannedItem, stamp: str, marking: str) -> dict[str, Any]:
        ours: dict[str, Any] = {
            "extension_type": "property-extension",
            "incident_ref": incident.id,
            "key": item.key,
            "kind": item.kind,
            "phase": item.phase,
            "offset": format_duration(item.offset),
            "owner": item.owner,
        }
        if item.parties:
            ours["parties"] = list(item.parties)
        if item.due is not None:
            ours["due"] = format_ts(item.due)
        for name, value in (
            ("due_after", item.after),
            ("role", item.role),
            ("playbook", item.playbook),
            ("level", item.level),
            ("decision", item.decision),
            ("start_on", item.start_on),
        ):
            if value:
                ours[name] = value
        task: dict[str, Any] = {
            "type": "task",
            "spec_version": "2.1",
            "id": self.context.ids("task"),
            "created": stamp,
            "modified": stamp,
            "created_by_ref": self.context.identity,
            "name": item.title,
            "outcome": "pending",
            "task_types": ["notification" if item.kind == "duty" else item.phase],
            "priority": item.priority,
            "object_marking_refs": [marking],
            "extensions": {TASK_CORE_ID: {"extension_type": "new-sdo"}, TASK_EXTENSION_ID: ours},
        }
        if item.level:
            task["task_types"].append("escalated")
        if item.description:
            task["description"] = item.description
        return task

    def _follow_incident(self, incident: Incident, audience: tuple[str, ...]) -> None:
        """Tasks go wherever their incident goes: organisations added to the incident receive
        them too, and a changed TLP marks them anew (a new version), so the incident never
        references a task its recipient may not see."""
        store = self.context.store
        level = incident.tlp(self.context.community.default_tlp)
        rows = store.due_items(incident.id)
        with store.transaction():
            for stored in store.latest_many([row.task_id for row in rows]):
                store.add_audience(stored.id, "org", audience)
                if stored.obj.get("object_marking_refs") != [level.marking_id]:
                    task = _next_version(stored.obj, self.context.clock())
                    task["object_marking_refs"] = [level.marking_id]
                    store.put(task, tlp=int(level), provenance=self._provenance)

    @property
    def _provenance(self) -> Provenance:
        return Provenance(LOCAL, self.context.analyst)

    # -- reading and completing ---------------------------------------------------------------

    def list(self, ref: str) -> tuple[Incident, list[TaskView]]:
        incident = self.records.get(ref)
        return incident, [TaskView.from_row(r) for r in self.context.store.due_items(incident.id)]

    def open_duties(self, ref: str) -> builtins.list[TaskView]:
        """Notification duties not yet done or waived (closing waits for them)."""
        return [t for t in self.list(ref)[1] if t.kind == "duty" and t.state == "open"]

    def history(self, ref: str) -> builtins.list[HistoryEntry]:
        """Tasks and duties done or cancelled, for the incident's history."""
        incident = self.records.get(ref)
        out = []
        for row in self.context.store.due_items(incident.id):
            if row.state == "open" or row.done_at is None:
                continue
            kind = "duty" if row.kind == "duty" else "task"
            what = f"{kind} {row.position} {row.state}: {row.title}"
            if row.note:
                what += f" — {row.note}"
            out.append(HistoryEntry(row.done_at, row.done_by or "?", kind, what))
        return out

    def find(self, incident: Incident, which: str) -> TaskView:
        """A task by its number in ``task list``, its key (``phishing/block``), its id in the
        playbook (``block``) or its STIX id."""
        rows = self.context.store.due_items(incident.id)
        text = which.strip()
        matches = [r for r in rows if text in (str(r.position), r.task_id, r.item_key)]
        if not matches:
            matches = [r for r in rows if r.item_key.rsplit("/", 1)[-1] == text]
        if len(matches) == 1:
            return TaskView.from_row(matches[0])
        if not matches:
            raise NotFound(
                f"{incident.reference} has no task '{which}' (see 'cirt task list {incident.reference}')"
            )
        keys = ", ".join(r.item_key for r in matches)
        raise InvalidValue(
            f"'{which}' names several tasks of {incident.reference} ({keys}); give its number or full key"
        )

    def done(self, ref: str, which: str, *, note: str | None = None, answer: str | None = None) -> Completed:
        """Mark a task or duty done; items counted from it get their deadline now.

        A decision task needs its ``answer`` (yes, no, not-applicable): an item waiting for it
        that starts on another answer is not needed and is cancelled, with the answer as reason.
        """
        return self._finish(ref, which, "done", note, answer)

    def cancel(self, ref: str, which: str, *, note: str) -> Completed:
        """Mark a task or duty as not applicable (e.g. the OT tasks when OT is not affected)."""
        if not note.strip():
            raise InvalidValue("cancelling a task needs a reason (--note)")
        return self._finish(ref, which, "cancelled", note)

    def waive(self, ref: str, which: str, *, reason: str) -> Completed:
        """Waive a notification duty with the reason (who decided it is not needed, and why);
        history and the dashboard's duty counts show it."""
        if not reason.strip():
            raise InvalidValue("waiving a duty needs a reason (--reason)")
        incident = self.records.get(ref)
        if self.find(incident, which).kind != "duty":
            raise InvalidValue(
                f"task {which} of {incident.reference} is not a notification "
                "duty: cancel it instead ('cirt task cancel')"
            )
        return self._finish(ref, which, "waived", reason)

    def _finish(
        self, ref: str, which: str, state: str, note: str | None, answer: str | None = None
    ) -> Completed:
        incident = self.records.get(ref)
        view = self.find(incident, which)
        if view.state != "open":
            raise InvalidValue(f"task {view.number} of {incident.reference} is already {view.state}")
        if state == "done" and view.decision and answer is None:
            raise InvalidValue(
                f"task {view.number} of {incident.reference} is a decision: "
                f"give its answer (--answer {'|'.join(ANSWERS)})"
            )
        if answer is not None and not view.decision:
            raise InvalidValue(
                f"task {view.number} of {incident.reference} is not a decision; it takes no --answer"
            )
        if answer is not None and answer not in ANSWERS:
            raise InvalidValue(f"'{answer}' is not an answer (use one of: {', '.join(ANSWERS)})")
        store = self.context.store
        now = self.context.clock()
        started: list[TaskView] = []
        with store.transaction():
            stored = store.get_for_update(view.id)
            if stored is None:
                raise NotFound(f"task object {view.id} is missing from the store")
            task = _next_version(stored.obj, now)
            task["outcome"] = OUTCOMES[state]
            task["end_time"] = task["modified"]
            ours = task["extensions"][TASK_EXTENSION_ID]
            ours["done_by"] = self.context.analyst
            ours["state"] = state
            if note:
                ours["note"] = note
            if answer is not None:
                ours["answer"] = answer
            store.put(task, tlp=stored.tlp, provenance=self._provenance)
            row = _row(task, incident.id, view.number, state=state)
            store.index_due_item(row)
            finished = TaskView.from_row(row)
            not_needed: list[TaskView] = []
            for waiting in store.waiting_for(incident.id, view.key):
                if waiting.start_on is not None and waiting.start_on != answer:
                    not_needed.append(
                        self._cancel(waiting, f"not needed: task {view.number} answered {answer}", now)
                    )
                else:
                    started.append(self._start_clock(waiting, parse_ts(task["modified"]), now))
        return Completed(finished, tuple(started), tuple(not_needed))

    def _cancel(self, row: DueRow, why: str, now: datetime) -> TaskView:
        """An open item that is no longer needed: cancelled, saying why."""
        store = self.context.store
        stored = store.get_for_update(row.task_id)
        if stored is None:
            raise NotFound(f"task object {row.task_id} is missing from the store")
        task = _next_version(stored.obj, now)
        task["outcome"] = OUTCOMES["cancelled"]
        task["end_time"] = task["modified"]
        ours = task["extensions"][TASK_EXTENSION_ID]
        ours.update(done_by=self.context.analyst, state="cancelled", note=why)
        store.put(task, tlp=stored.tlp, provenance=self._provenance)
        new_row = _row(task, row.incident_id, row.position, state="cancelled")
        store.index_due_item(new_row)
        return TaskView.from_row(new_row)

    def _start_clock(self, row: DueRow, anchor: datetime, now: datetime) -> TaskView:
        store = self.context.store
        stored = store.get_for_update(row.task_id)
        if stored is None:
            raise NotFound(f"task object {row.task_id} is missing from the store")
        task = _next_version(stored.obj, now)
        task["extensions"][TASK_EXTENSION_ID]["due"] = format_ts(
            due_after(timedelta(minutes=row.offset_minutes), anchor)
        )
        store.put(task, tlp=stored.tlp, provenance=self._provenance)
        new_row = _row(task, row.incident_id, row.position, state=row.state)
        store.index_due_item(new_row)
        return TaskView.from_row(new_row)


def _next_version(obj: dict[str, Any], now: datetime) -> dict[str, Any]:
    task = copy.deepcopy(obj)
    task["modified"] = later_than(str(obj["modified"]), now)
    return task


def _row(task: dict[str, Any], incident_id: str, position: int, state: str = "open") -> DueRow:
    """The index row of a task version; ``state`` is open, done, cancelled or waived."""
    ours = task["extensions"][TASK_EXTENSION_ID]
    offset = parse_duration(ours["offset"]) if ours.get("offset", "0m") != "0m" else None
    return DueRow(
        task_id=task["id"],
        incident_id=incident_id,
        position=position,
        item_key=ours["key"],
        kind=ours["kind"],
        title=task["name"],
        phase=ours["phase"],
        owner=ours.get("owner"),
        parties=",".join(ours.get("parties", [])),
        role=ours.get("role"),
        playbook=ours.get("playbook"),
        level=ours.get("level"),
        due=ours.get("due"),
        after_key=ours.get("due_after"),
        offset_minutes=int(offset.total_seconds() // 60) if offset else 0,
        state=state,
        done_at=task.get("end_time") if state != "open" else None,
        done_by=ours.get("done_by"),
        note=ours.get("note"),
        decision=bool(ours.get("decision")),
        answer=ours.get("answer"),
        start_on=ours.get("start_on"),
    )


def _told(rows: builtins.list[DueRow]) -> builtins.list[tuple[str, str | None]]:
    """(party, contact role) of every duty an incident already has."""
    return [
        (party, row.role) for row in rows if row.kind == "duty" for party in row.parties.split(",") if party
    ]
