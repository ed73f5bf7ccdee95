"""The incident index: one row per incident (its newest version) for fast listing and filters."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cirt.store import StoredObject
from cirt.store.database import Database, Row
from cirt.store.objects import _COLUMNS as OBJECT_COLUMNS


@dataclass(frozen=True)
class IncidentRow:
    id: str
    reference: str
    title: str
    status: str
    severity: str
    category: str
    tlp: int
    escalation: str
    assignee: str | None
    created: str
    modified: str
    organisations: tuple[str, ...]


@dataclass(frozen=True)
class IncidentFilter:
    status: str | None = None
    organisation: str | None = None
    severity: str | None = None
    tlp: int | None = None
    category: str | None = None
    limit: int | None = None


_COLUMNS = "id, reference, title, status, severity, category, tlp, escalation, assignee, created, modified"


class IncidentIndexMixin:
    db: Database

    def index_incident(self, row: IncidentRow) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM incidents WHERE id = ?", (row.id,))
            self.db.execute(
                f"INSERT INTO incidents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.id,
                    row.reference,
                    row.title,
                    row.status,
                    row.severity,
                    row.category,
                    row.tlp,
                    row.escalation,
                    row.assignee,
                    row.created,
                    row.modified,
                ),
            )
            self.db.execute("DELETE FROM incident_organisations WHERE incident_id = ?", (row.id,))
            self.db.executemany(
                "INSERT INTO incident_organisations (incident_id, org_id) VALUES (?, ?)",
                [(row.id, org) for org in row.organisations],
            )

    def find_incidents(self, where: IncidentFilter) -> list[IncidentRow]:
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (
            ("status", where.status),
            ("severity", where.severity),
            ("tlp", where.tlp),
            ("category", where.category),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.organisation:
            clauses.append("id IN (SELECT incident_id FROM incident_organisations WHERE org_id = ?)")
            params.append(where.organisation)
        sql = f"SELECT {_COLUMNS} FROM incidents"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY created DESC, reference DESC"
        if where.limit:
            sql += f" LIMIT {int(where.limit)}"
        rows = self.db.query(sql, params)
        orgs = self._organisations_of([r[0] for r in rows])
        return [_row(r, orgs) for r in rows]

    def incident_by_reference(self, reference: str) -> IncidentRow | None:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM incidents WHERE reference = ? OR id = ?", (reference.upper(), reference)
        )
        if not rows:
            return None
        orgs = self._organisations_of([rows[0][0]])
        return _row(rows[0], orgs)

    def _organisations_of(self, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        out: dict[str, list[str]] = {}
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            if not chunk:
                continue
            marks = ",".join("?" * len(chunk))
            for incident_id, org in self.db.query(
                "SELECT incident_id, org_id FROM incident_organisations"
                f" WHERE incident_id IN ({marks}) ORDER BY org_id",
                chunk,
            ):
                out.setdefault(incident_id, []).append(org)
        return {k: tuple(v) for k, v in out.items()}

    def link(self, incident_id: str, object_id: str) -> None:
        self.db.execute(
            "INSERT INTO incident_links (incident_id, object_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (incident_id, object_id),
        )

    def linked(self, incident_id: str) -> list[str]:
        return [
            r[0]
            for r in self.db.query(
                "SELECT object_id FROM incident_links WHERE incident_id = ? ORDER BY object_id",
                (incident_id,),
            )
        ]

    def incidents_linking(self, object_id: str) -> list[str]:
        return [
            r[0]
            for r in self.db.query("SELECT incident_id FROM incident_links WHERE object_id = ?", (object_id,))
        ]

    def latest_page(
        self, stix_type: str, *, tlp: int | None, limit: int, offset: int
    ) -> tuple[int, list[StoredObject]]:
        """How many newest versions of a type there are (at one TLP), and one page of them,
        newest first: only the page's bodies are read."""
        where = "latest = 1 AND type = ?"
        params: list[object] = [stix_type]
        if tlp is not None:
            where += " AND tlp = ?"
            params.append(tlp)
        row = self.db.query_one(f"SELECT COUNT(*) FROM objects WHERE {where}", params)
        rows = self.db.query(
            f"SELECT {OBJECT_COLUMNS} FROM objects WHERE {where}"
            f" ORDER BY seq DESC LIMIT {int(limit)} OFFSET {int(offset)}",
            params,
        )
        return (int(row[0]) if row else 0), [StoredObject(*r) for r in rows]

    def next_counter(self, name: str) -> int:
        """The next number of a named sequence (human incident ids), inside the caller's txn."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO counters (name, value) VALUES (?, 0) ON CONFLICT DO NOTHING", (name,)
            )
            self.db.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (name,))
            row = self.db.query_one("SELECT value FROM counters WHERE name = ?", (name,))
        assert row is not None
        return int(row[0])


def _row(r: Row, organisations: dict[str, tuple[str, ...]]) -> IncidentRow:
    return IncidentRow(
        id=r[0],
        reference=r[1],
        title=r[2],
        status=r[3],
        severity=r[4],
        category=r[5],
        tlp=r[6],
        escalation=r[7],
        assignee=r[8],
        created=r[9],
        modified=r[10],
        organisations=organisations.get(r[0], ()),
    )
