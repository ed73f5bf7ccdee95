"""The bulletin outbox in the store: queue a message before sending it, then mark what happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cirt.store.database import Database

PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True)
class OutboxRow:
    message_id: str
    contact: str
    organisation: str
    recipient: str
    content_key: str
    number: str
    tlp: int
    state: str  # pending | sent | failed
    detail: str
    attempts: int
    queued: str
    updated: str
    message: bytes


_COLUMNS = (
    "message_id, contact, organisation, recipient, content_key, number, tlp, state,"
    " detail, attempts, queued, updated, message"
)


class OutboxMixin:
    db: Database

    def queue_message(self, row: OutboxRow) -> None:
        """Record a message as pending; committed (and synced) when this returns."""
        with self.db.transaction():
            self.db.execute(
                f"INSERT INTO bulletin_outbox ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.message_id,
                    row.contact,
                    row.organisation,
                    row.recipient,
                    row.content_key,
                    row.number,
                    row.tlp,
                    row.state,
                    row.detail,
                    row.attempts,
                    row.queued,
                    row.updated,
                    row.message,
                ),
            )

    def mark_message(self, message_id: str, state: str, detail: str, when: str) -> None:
        with self.db.transaction():
            self.db.execute(
                "UPDATE bulletin_outbox SET state = ?, detail = ?, updated = ?,"
                " attempts = attempts + 1 WHERE message_id = ?",
                (state, detail, when, message_id),
            )

    def outbox_message(self, contact: str, content_key: str) -> OutboxRow | None:
        row = self.db.query_one(
            f"SELECT {_COLUMNS} FROM bulletin_outbox WHERE contact = ? AND content_key = ?",
            (contact, content_key),
        )
        return _row(row) if row else None

    def outbox(self, organisation: str | None = None) -> list[OutboxRow]:
        """Every message queued (for one organisation), oldest first."""
        where, params = ("WHERE organisation = ?", (organisation,)) if organisation else ("", ())
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM bulletin_outbox {where} ORDER BY queued, message_id", params
        )
        return [_row(r) for r in rows]


def _row(row: tuple[Any, ...]) -> OutboxRow:
    (
        message_id,
        contact,
        organisation,
        recipient,
        content_key,
        number,
        tlp,
        state,
        detail,
        attempts,
        queued,
        updated,
        message,
    ) = row
    return OutboxRow(
        message_id,
        contact,
        organisation,
        recipient,
        content_key,
        number,
        int(tlp),
        state,
        detail,
        int(attempts),
        queued,
        updated,
        bytes(message),
    )  # PostgreSQL gives a memoryview
