"""Reports, their attachments and candidate indicators, triage decisions, and the per-address
counters of the web form (addresses kept only as keyed hashes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cirt.store.database import Database

_COLUMNS = (
    "id, reference, channel, category, summary, what, occurred, reporter_name,"
    " reporter_contact, reporter_kind, language, received, message_id, state, decided_at,"
    " decided_by, reason, incident"
)


@dataclass(frozen=True)
class ReportRow:
    id: int
    reference: str
    channel: str
    category: str
    summary: str
    what: str
    occurred: str | None
    reporter_name: str | None
    reporter_contact: str | None
    reporter_kind: str
    language: str
    received: str
    message_id: str | None
    state: str
    decided_at: str | None
    decided_by: str | None
    reason: str | None
    incident: str | None

    def as_dict(self) -> dict[str, Any]:
        return {name.strip(): getattr(self, name.strip()) for name in _COLUMNS.split(",")}


class IntakeMixin:
    db: Database

    def insert_report(
        self,
        values: dict[str, Any],
        attachments: Sequence[tuple[str, str, int, str]],
        indicators: Sequence[tuple[str, str]],
    ) -> int:
        """One report with its attachments (name, type, size, sha256) and candidates."""
        names = list(values)
        with self.db.transaction():
            self.db.execute(
                f"INSERT INTO reports ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                [values[n] for n in names],
            )
            row = self.db.query_one("SELECT id FROM reports WHERE reference = ?", (values["reference"],))
            assert row is not None
            report_id = int(row[0])
            self.db.executemany(
                "INSERT INTO report_attachments (report_id, position, name, media_type, size,"
                " sha256) VALUES (?, ?, ?, ?, ?, ?)",
                [(report_id, i, *a) for i, a in enumerate(attachments, 1)],
            )
            self.db.executemany(
                "INSERT INTO report_indicators (report_id, kind, value) VALUES (?, ?, ?)",
                [(report_id, kind, value) for kind, value in indicators],
            )
        return report_id

    def _reports(self, where: str, params: Sequence[Any]) -> list[ReportRow]:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM reports WHERE {where} ORDER BY id", params)
        return [ReportRow(*r) for r in rows]

    def report_by_reference(self, reference: str) -> ReportRow | None:
        found = self._reports("reference = ?", (reference,))
        return found[0] if found else None

    def report_by_token(self, token_hash: str) -> ReportRow | None:
        found = self._reports("token_hash = ?", (token_hash,))
        return found[0] if found else None

    def report_by_message_id(self, message_id: str) -> ReportRow | None:
        found = self._reports("message_id = ?", (message_id,))
        return found[0] if found else None

    def reports(self, state: str | None = None) -> list[ReportRow]:
        return self._reports("state = ?", (state,)) if state else self._reports("1 = 1", ())

    def report_attachments(self, report_id: int) -> list[tuple[str, str, int, str]]:
        rows = self.db.query(
            "SELECT name, media_type, size, sha256 FROM report_attachments"
            " WHERE report_id = ? ORDER BY position",
            (report_id,),
        )
        return [(r[0], r[1], int(r[2]), r[3]) for r in rows]

    def report_indicators(self, report_id: int) -> list[tuple[str, str]]:
        rows = self.db.query(
            "SELECT kind, value FROM report_indicators WHERE report_id = ? ORDER BY kind, value", (report_id,)
        )
        return [(r[0], r[1]) for r in rows]

    def decide_report(
        self, report_id: int, *, state: str, at: str, by: str, reason: str | None, incident: str | None
    ) -> bool:
        """Record a triage decision once: False if the report was decided already."""
        changed = self.db.execute(
            "UPDATE reports SET state = ?, decided_at = ?, decided_by = ?, reason = ?,"
            " incident = ? WHERE id = ? AND state = 'new'",
            (state, at, by, reason, incident, report_id),
        )
        return changed == 1

    def intake_hits(self, address: str, since: str) -> int:
        row = self.db.query_one(
            "SELECT COUNT(*) FROM intake_hits WHERE address = ? AND at >= ?", (address, since)
        )
        return int(row[0]) if row else 0

    def add_intake_hit(self, address: str, at: str, *, forget_before: str) -> None:
        with self.db.transaction():
            self.db.execute("DELETE FROM intake_hits WHERE at < ?", (forget_before,))
            self.db.execute("INSERT INTO intake_hits (address, at) VALUES (?, ?)", (address, at))
