"""The due-item index: tasks and duties of incidents with their deadlines, for fast look-ups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cirt.store.database import Database

_COLUMNS = (
    "task_id, incident_id, position, item_key, kind, title, phase, owner, parties, role,"
    " playbook, level, due, after_key, offset_minutes, state, done_at, done_by, note,"
    " decision, answer, start_on"
)


@dataclass(frozen=True)
class DueRow:
    """One task or duty as indexed; ``due`` is None while its clock has not started."""

    task_id: str
    incident_id: str
    position: int
    item_key: str
    kind: str  # task | duty
    title: str
    phase: str
    owner: str | None
    parties: str  # comma-separated party ids
    role: str | None
    playbook: str | None
    level: str | None
    due: str | None
    after_key: str | None
    offset_minutes: int
    state: str  # open | done | cancelled | waived
    done_at: str | None
    done_by: str | None
    note: str | None
    decision: bool = False  # a question: done with an answer (yes, no, not-applicable)
    answer: str | None = None
    start_on: str | None = None  # the answer of ``after_key`` that starts this item's clock


@dataclass(frozen=True)
class DueWithIncident:
    """A due item of an incident that is not closed, with what the dashboard groups by."""

    item: DueRow
    reference: str
    severity: str
    status: str
    organisations: tuple[str, ...]


class DeadlinesMixin:
    db: Database

    if TYPE_CHECKING:

        def _organisations_of(
            self, ids: Sequence[str]
        ) -> dict[str, tuple[str, ...]]: ...  # IncidentIndexMixin's

    def index_due_item(self, row: DueRow) -> None:
        """Insert or replace the index row of one task (after each new version of it)."""
        values = tuple(getattr(row, name.strip()) for name in _COLUMNS.split(","))
        values = tuple(int(v) if isinstance(v, bool) else v for v in values)
        with self.db.transaction():
            self.db.execute("DELETE FROM due_items WHERE task_id = ?", (row.task_id,))
            self.db.execute(
                f"INSERT INTO due_items ({_COLUMNS}) VALUES ({', '.join('?' * len(values))})", values
            )

    def due_items(self, incident_id: str) -> list[DueRow]:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM due_items WHERE incident_id = ? ORDER BY position", (incident_id,)
        )
        return [DueRow(*r) for r in rows]

    def next_due_position(self, incident_id: str) -> int:
        row = self.db.query_one("SELECT MAX(position) FROM due_items WHERE incident_id = ?", (incident_id,))
        return int(row[0]) + 1 if row and row[0] is not None else 1

    def waiting_for(self, incident_id: str, item_key: str) -> list[DueRow]:
        """Open items whose clock starts when ``item_key`` is done."""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM due_items WHERE incident_id = ? AND after_key = ?"
            " AND state = 'open' AND due IS NULL ORDER BY position",
            (incident_id, item_key),
        )
        return [DueRow(*r) for r in rows]

    def duty_counts(self) -> dict[str, int]:
        """Notification duties of every incident by state (done, waived, cancelled, open)."""
        rows = self.db.query("SELECT state, COUNT(*) FROM due_items WHERE kind = 'duty' GROUP BY state", ())
        return {str(state): int(count) for state, count in rows}

    def open_items_due_before(self, until: str) -> list[DueWithIncident]:
        """Open items due at or before ``until``, of incidents not closed, soonest first."""
        return self._open_items("d.due IS NOT NULL AND d.due <= ?", (until,))

    def open_items(self) -> list[DueWithIncident]:
        """Every open item of every incident not closed (the dashboard's totals)."""
        return self._open_items("1 = 1", ())

    def _open_items(self, where: str, params: Sequence[object]) -> list[DueWithIncident]:
        columns = ", ".join("d." + c.strip() for c in _COLUMNS.split(","))
        rows = self.db.query(
            f"SELECT {columns}, i.reference, i.severity, i.status FROM due_items d"
            " JOIN incidents i ON i.id = d.incident_id"
            f" WHERE d.state = 'open' AND i.status <> 'closed' AND {where}"
            " ORDER BY CASE WHEN d.due IS NULL THEN 1 ELSE 0 END, d.due, i.reference, d.position",
            params,
        )
        width = len(_COLUMNS.split(","))
        ids = list(dict.fromkeys(r[1] for r in rows))
        orgs = self._organisations_of(ids)
        return [
            DueWithIncident(DueRow(*r[:width]), r[width], r[width + 1], r[width + 2], orgs.get(r[1], ()))
            for r in rows
        ]
