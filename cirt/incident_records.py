"""The incident record over the store: read a version, change it under a lock, write the next.

Lower than the services that change an incident: the incident desk (opening, updates,
escalation) and the task service (tasks and duties join a version of the incident) each receive
this record-keeping, so neither needs the other to read or write an incident.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cirt import incidents as rules
from cirt.context import Context
from cirt.errors import ConflictError, NotFound
from cirt.incidents import Incident
from cirt.store import LOCAL, Provenance
from cirt.store.incidents import IncidentFilter, IncidentRow


class IncidentRecords:
    """Versions of incidents in the store, and the index row of the newest."""

    def __init__(self, context: Context) -> None:
        self.context = context

    def list(self, where: IncidentFilter) -> list[IncidentRow]:
        """Index rows of the newest versions, newest first."""
        return self.context.store.find_incidents(where)

    def get(self, ref: str) -> Incident:
        """The newest version, by reference (``BZ-2026-0042``) or STIX id."""
        store = self.context.store
        row = store.incident_by_reference(ref)
        stored = store.get(row.id) if row else None
        if stored is None:
            raise NotFound(f"no incident '{ref}' (see 'cirt incident list')")
        return Incident(stored.obj)

    @contextmanager
    def changing(self, ref: str, if_version: str | None = None) -> Iterator[Incident]:
        """Read the newest version under a lock for a read-modify-write; concurrent changes wait.

        ``if_version`` (the ``modified`` the caller based its change on) turns a change made by
        someone else in between into a ConflictError instead of a silent merge.
        """
        store = self.context.store
        with store.transaction():
            row = store.incident_by_reference(ref)
            stored = store.get_for_update(row.id) if row else None
            if stored is None:
                raise NotFound(f"no incident '{ref}' (see 'cirt incident list')")
            incident = Incident(stored.obj)
            if if_version is not None and incident.modified != if_version:
                ours = incident.obj["extensions"][rules.OUR_EXTENSION_ID]
                raise ConflictError(
                    f"{incident.reference} was changed by {ours.get('changed_by', '?')} at "
                    f"{incident.modified} ({ours.get('change', 'changed')}) after version "
                    f"{if_version}; show it again and retry"
                )
            yield incident

    def save(self, incident: Incident) -> None:
        """Store a new version and refresh the index (callers hold the lock via ``changing``)."""
        store = self.context.store
        tlp = incident.tlp(self.context.community.default_tlp)
        with store.transaction():
            store.put(incident.obj, tlp=int(tlp), provenance=Provenance(LOCAL, self.context.analyst))
            store.index_incident(
                IncidentRow(
                    id=incident.id,
                    reference=incident.reference,
                    title=incident.title,
                    status=incident.status,
                    severity=incident.severity,
                    category=incident.category,
                    tlp=int(tlp),
                    escalation=incident.escalation_level,
                    assignee=incident.assignee,
                    created=incident.created,
                    modified=incident.modified,
                    organisations=incident.organisations,
                )
            )
