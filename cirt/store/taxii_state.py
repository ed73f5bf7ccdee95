"""What TAXII exchange remembers between runs: cursors, push outcomes, credentials, status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cirt.store.database import Database

PUSH_STATES = ("pending", "sent", "failed")


@dataclass(frozen=True)
class PushRecord:
    """The outcome so far of sending one object version to one peer."""

    object_id: str
    modified: str
    peer: str
    state: str
    attempts: int
    last_attempt: str
    next_attempt: str
    message: str


@dataclass(frozen=True)
class CredentialRow:
    username: str
    party: str
    salt: str
    digest: str
    created: str


class TaxiiStateMixin:
    db: Database

    # -- pull cursors ------------------------------------------------------------------------
    def taxii_cursor(self, peer: str, collection: str) -> tuple[str, bool] | None:
        """Where the next pull of a peer's collection starts, and whether the last one finished.

        The cursor is the ``date_added`` of the newest object stored from that collection.
        """
        row = self.db.query_one(
            "SELECT added_after, complete FROM taxii_cursors WHERE peer = ? AND collection = ?",
            (peer, collection),
        )
        return (str(row[0]), bool(row[1])) if row else None

    def set_taxii_cursor(
        self, peer: str, collection: str, added_after: str, *, complete: bool, now: str
    ) -> None:
        self.db.execute(
            "INSERT INTO taxii_cursors (peer, collection, added_after, complete, updated)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (peer, collection) DO UPDATE SET"
            " added_after = excluded.added_after, complete = excluded.complete,"
            " updated = excluded.updated",
            (peer, collection, added_after, int(complete), now),
        )

    # -- push state --------------------------------------------------------------------------
    def push_records(
        self, peer: str, keys: Sequence[tuple[str, str]] = ()
    ) -> dict[tuple[str, str], PushRecord]:
        """Push records of a peer, all of them or those of the given (id, modified) keys."""
        if keys:
            found: dict[tuple[str, str], PushRecord] = {}
            wanted = set(keys)
            ids = sorted({k[0] for k in keys})
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for row in self.db.query(
                    "SELECT object_id, modified, peer, state, attempts, last_attempt,"
                    " next_attempt, message FROM taxii_push"
                    f" WHERE peer = ? AND object_id IN ({marks})",
                    [peer, *chunk],
                ):
                    record = PushRecord(*row)
                    if (record.object_id, record.modified) in wanted:
                        found[(record.object_id, record.modified)] = record
            return found
        return {
            (r[0], r[1]): PushRecord(*r)
            for r in self.db.query(
                "SELECT object_id, modified, peer, state, attempts, last_attempt, next_attempt,"
                " message FROM taxii_push WHERE peer = ?",
                (peer,),
            )
        }

    def record_push(self, records: Sequence[PushRecord]) -> None:
        """Write push outcomes (insert or replace), in the caller's transaction if any."""
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO taxii_push (object_id, modified, peer, state, attempts, last_attempt,"
                " next_attempt, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (object_id, modified, peer) DO UPDATE SET state = excluded.state,"
                " attempts = excluded.attempts, last_attempt = excluded.last_attempt,"
                " next_attempt = excluded.next_attempt, message = excluded.message",
                [
                    (
                        r.object_id,
                        r.modified,
                        r.peer,
                        r.state,
                        r.attempts,
                        r.last_attempt,
                        r.next_attempt,
                        r.message,
                    )
                    for r in records
                ],
            )

    def retry_due(self, peer: str, now: str) -> list[PushRecord]:
        """Pending and failed pushes whose backoff has run out."""
        return [
            PushRecord(*r)
            for r in self.db.query(
                "SELECT object_id, modified, peer, state, attempts, last_attempt, next_attempt,"
                " message FROM taxii_push WHERE peer = ? AND state IN ('pending', 'failed')"
                " AND next_attempt <= ? ORDER BY object_id",
                (peer, now),
            )
        ]

    # -- server credentials ------------------------------------------------------------------
    def add_taxii_credential(self, row: CredentialRow) -> None:
        self.db.execute(
            "INSERT INTO taxii_credentials (username, party, salt, digest, created) VALUES (?, ?, ?, ?, ?)",
            (row.username, row.party, row.salt, row.digest, row.created),
        )

    def taxii_credential(self, username: str) -> CredentialRow | None:
        row = self.db.query_one(
            "SELECT username, party, salt, digest, created FROM taxii_credentials WHERE username = ?",
            (username,),
        )
        return CredentialRow(*row) if row else None

    def taxii_credentials(self) -> list[CredentialRow]:
        return [
            CredentialRow(*r)
            for r in self.db.query(
                "SELECT username, party, salt, digest, created FROM taxii_credentials ORDER BY party, created"
            )
        ]

    def remove_taxii_credential(self, username: str) -> bool:
        return self.db.execute("DELETE FROM taxii_credentials WHERE username = ?", (username,)) > 0

    # -- status resources of our server ------------------------------------------------------
    def add_taxii_status(self, status_id: str, party: str, created: str, body: str) -> None:
        self.db.execute(
            "INSERT INTO taxii_status (id, party, created, body) VALUES (?, ?, ?, ?)",
            (status_id, party, created, body),
        )

    def taxii_status(self, status_id: str, party: str) -> str | None:
        """A status resource, only for the party whose POST created it."""
        row = self.db.query_one(
            "SELECT body FROM taxii_status WHERE id = ? AND party = ?", (status_id, party)
        )
        return str(row[0]) if row else None
