"""Correlation: which existing incidents already hold a value that just arrived.

``indicator add``, ``import``, ``taxii pull`` and ``misp pull`` note the store's position before
they write (``mark``) and afterwards say, for every value stored since, where it was seen before
(``seen_since``): "203.0.113.45 seen in BZ-2026-0003 (TLP:AMBER), 2 days ago".  ``cirt
correlate`` does the same from where its last run stopped, for cron.  The CIRT's own view: this
tells an analyst, it releases nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cirt.context import Context
from cirt.observables import matches
from cirt.search import IncidentRef
from cirt.stixtime import parse_ts
from cirt.store import search_index
from cirt.tlp import TLP

CURSOR = "correlate"


@dataclass(frozen=True)
class Match:
    """A value of ``object_id`` (new) that ``seen_object`` in ``incident`` already holds."""

    value: str
    object_id: str
    object_type: str
    new_incidents: tuple[str, ...]  # the references the new object belongs to
    incident: IncidentRef
    seen_object: str
    seen_value: str
    seen_at: str

    def line(self, now: datetime) -> str:
        held = "" if self.seen_value == self.value else f" (as {self.seen_value})"
        return (
            f"{self.value} seen in {self.incident.reference} ({self.incident.tlp.label})"
            f"{held}, {ago(parse_ts(self.seen_at), now)}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "object": self.object_id,
            "type": self.object_type,
            "object_incidents": list(self.new_incidents),
            "seen_in": self.incident.as_dict(),
            "seen_object": self.seen_object,
            "seen_value": self.seen_value,
            "seen_at": self.seen_at,
        }


def ago(then: datetime, now: datetime) -> str:
    seconds = max(int((now - then).total_seconds()), 0)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count > 1 else ''} ago"
    return "just now"


def mark(context: Context) -> str:
    """The store's position now: what is stored after it is new."""
    return search_index.newest_added(context.store.db)


def seen_since(context: Context, since: str | None) -> list[Match]:
    """For each value stored after ``since``, the other incidents that hold a matching value.

    Only values of objects an incident holds can be seen before, so nothing is looked up when
    no incident holds a value; otherwise the smaller side (the values stored since, or the held
    values) is planned and looked up among the other, set-based (``matches`` is symmetric)."""
    db = context.store.db
    fresh_count = search_index.count_added_after(db, since)
    if not fresh_count:
        return []
    held_count = search_index.count_held_values(db)
    if not held_count:
        return []
    pairs: list[tuple[search_index.ValueHit, search_index.ValueHit]]
    if held_count < fresh_count:
        held = search_index.held_values(db)
        pairs = sorted(
            (
                (new, held[n])
                for n, new in search_index.candidates_of_many(
                    db, [v.value for v in held], added_after=since or ""
                )
            ),
            key=lambda p: (
                p[0].added,
                p[0].object_id,
                str(p[0].value),
                p[1].object_id,
                p[1].object_type,
                p[1].value.kind,
                p[1].value.value,
                p[1].added,
            ),
        )
    else:
        fresh = search_index.values_added_after(db, since)
        pairs = [
            (fresh[n], old)
            for n, old in search_index.candidates_of_many(db, [v.value for v in fresh], held_only=True)
        ]
    pairs = [
        (new, old) for new, old in pairs if old.object_id != new.object_id and matches(new.value, old.value)
    ]
    if not pairs:
        return []
    own = search_index.incidents_of(db, [new.object_id for new, _ in pairs])
    holders = search_index.incidents_of(db, [old.object_id for _, old in pairs])
    found: dict[tuple[str, str, str], Match] = {}
    for new, candidate in pairs:
        mine = {i.incident_id for i in own.get(new.object_id, [])}
        for incident in holders.get(candidate.object_id, []):
            key = (new.object_id, str(new.value), incident.reference)
            if incident.incident_id in mine or key in found:
                continue
            found[key] = Match(
                str(new.value),
                new.object_id,
                new.object_type,
                tuple(i.reference for i in own.get(new.object_id, [])),
                IncidentRef(incident.reference, TLP(incident.tlp), incident.title),
                candidate.object_id,
                str(candidate.value),
                candidate.added,
            )
    return sorted(found.values(), key=lambda m: (m.value, m.incident.reference))


def correlate(context: Context, *, dry_run: bool = False) -> list[Match]:
    """New matches since the last run; the cursor moves (unless ``dry_run``)."""
    db = context.store.db
    with context.store.transaction():
        since = search_index.cursor(db, CURSOR)
        position = search_index.newest_added(db)
        found = seen_since(context, since)
        if not dry_run and position:
            search_index.move_cursor(db, CURSOR, position)
    return found
