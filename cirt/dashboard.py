"""What is late and what is due soon, across every open incident: ``cirt overdue`` and
``cirt dashboard``.

Read-only.  Deadlines are compared in UTC against ``now`` (the workspace clock unless given) and
shown in the CIRT's time zone, so a scheduler and an analyst see the same thing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cirt.context import Context
from cirt.incidents import SEVERITIES
from cirt.stixtime import format_ts, local_text, time_zone
from cirt.store.deadlines import DueWithIncident
from cirt.store.incidents import IncidentFilter
from cirt.tasks import DEFAULT_SOON, TaskView

UNKNOWN_SECTOR = "(unknown)"


@dataclass(frozen=True)
class DueEntry:
    """A task or duty of an open incident, with the incident fields the screen groups by."""

    reference: str
    severity: str
    organisations: tuple[str, ...]
    sectors: tuple[str, ...]
    task: TaskView
    status: str  # overdue | due-soon | open | waiting
    late_by: timedelta | None  # how late, when overdue

    def as_dict(self, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
        data = self.task.as_dict(now, zone)
        data.update(
            incident=self.reference,
            severity=self.severity,
            organisations=list(self.organisations),
            sectors=list(self.sectors),
            status=self.status,
            late_minutes=int(self.late_by.total_seconds() // 60) if self.late_by else 0,
        )
        return data


@dataclass(frozen=True)
class Overdue:
    now: datetime
    zone: ZoneInfo
    soon: timedelta
    overdue: tuple[DueEntry, ...]
    due_soon: tuple[DueEntry, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "now": format_ts(self.now),
            "now_local": local_text(self.now, self.zone),
            "timezone": self.zone.key,
            "soon_hours": self.soon.total_seconds() / 3600,
            "overdue": [e.as_dict(self.now, self.zone) for e in self.overdue],
            "due_soon": [e.as_dict(self.now, self.zone) for e in self.due_soon],
        }


@dataclass(frozen=True)
class IncidentLine:
    reference: str
    title: str
    severity: str
    status: str
    level: str
    organisations: tuple[str, ...]
    sectors: tuple[str, ...]
    overdue: int
    next_due: DueEntry | None

    def as_dict(self, now: datetime, zone: ZoneInfo) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "title": self.title,
            "severity": self.severity,
            "status": self.status,
            "escalation_level": self.level,
            "organisations": list(self.organisations),
            "sectors": list(self.sectors),
            "overdue": self.overdue,
            "next_due": self.next_due.as_dict(now, zone) if self.next_due else None,
        }


@dataclass(frozen=True)
class Dashboard:
    due: Overdue
    incidents: tuple[IncidentLine, ...]
    by_sector: dict[str, dict[str, int]]  # sector -> severity -> open incidents
    waiting: int  # open items whose clock has not started
    duties: dict[str, int]  # notification duties of every incident by state

    def as_dict(self) -> dict[str, Any]:
        out = self.due.as_dict()
        out["open_incidents"] = [i.as_dict(self.due.now, self.due.zone) for i in self.incidents]
        out["by_sector"] = self.by_sector
        out["waiting"] = self.waiting
        out["duties"] = self.duties
        return out


class Deadlines:
    """Builds the two views from the store's due-item index."""

    def __init__(self, context: Context) -> None:
        self.context = context

    def _sectors(self, organisations: tuple[str, ...]) -> tuple[str, ...]:
        orgs = self.context.community.organisations
        return tuple(sorted({orgs[o].sector if o in orgs else UNKNOWN_SECTOR for o in organisations}))

    def _entry(self, due: DueWithIncident, now: datetime, soon: timedelta) -> DueEntry:
        task = TaskView.from_row(due.item)
        status = task.status(now, soon)
        late = now - task.due if status == "overdue" and task.due else None
        return DueEntry(
            due.reference,
            due.severity,
            due.organisations,
            self._sectors(due.organisations),
            task,
            status,
            late,
        )

    def overdue(self, *, now: datetime | None = None, soon: timedelta = DEFAULT_SOON) -> Overdue:
        """Open items already late, and those due within ``soon``, of incidents not closed."""
        moment = now or self.context.clock()
        rows = self.context.store.open_items_due_before(format_ts(moment + soon))
        entries = [self._entry(r, moment, soon) for r in rows]
        return Overdue(
            moment,
            time_zone(self.context.config.timezone),
            soon,
            tuple(e for e in entries if e.status == "overdue"),
            tuple(e for e in entries if e.status == "due-soon"),
        )

    def dashboard(self, *, now: datetime | None = None, soon: timedelta = DEFAULT_SOON) -> Dashboard:
        moment = now or self.context.clock()
        due = self.overdue(now=moment, soon=soon)
        items = [self._entry(r, moment, soon) for r in self.context.store.open_items()]
        by_incident: dict[str, list[DueEntry]] = {}
        for entry in items:
            by_incident.setdefault(entry.reference, []).append(entry)
        lines: list[IncidentLine] = []
        matrix: dict[str, Counter[str]] = {}
        for row in self.context.store.find_incidents(IncidentFilter()):
            if row.status == "closed":
                continue
            sectors = self._sectors(row.organisations)
            for sector in sectors or (UNKNOWN_SECTOR,):
                matrix.setdefault(sector, Counter())[row.severity] += 1
            mine = by_incident.get(row.reference, [])
            timed = [e for e in mine if e.task.due is not None]
            lines.append(
                IncidentLine(
                    row.reference,
                    row.title,
                    row.severity,
                    row.status,
                    row.escalation,
                    row.organisations,
                    sectors,
                    sum(e.status == "overdue" for e in mine),
                    min(timed, key=lambda e: e.task.due or moment) if timed else None,
                )
            )
        rank = {s: i for i, s in enumerate(SEVERITIES)}
        lines.sort(key=lambda line: (-rank.get(line.severity, 0), -line.overdue, line.reference))
        by_sector = {
            sector: {s: counts.get(s, 0) for s in SEVERITIES} for sector, counts in sorted(matrix.items())
        }
        waiting = sum(e.status == "waiting" for e in items)
        duties = {state: 0 for state in ("open", "done", "waived", "cancelled")}
        duties.update(self.context.store.duty_counts())
        return Dashboard(due, tuple(lines), by_sector, waiting, duties)
