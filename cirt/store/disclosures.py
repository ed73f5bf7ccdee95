"""Rows of the disclosure log; the chain rules live in ``cirt.chain``."""

from __future__ import annotations

import fcntl
import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from cirt.chain import EMPTY, Entry, Head, encode_objects
from cirt.store.database import Database, Row

_COLUMNS = "seq, recorded, analyst, recipient, channel, objects, tlp, prev_hash, hash, delivery"


def _entry(row: Row) -> Entry:
    refs = tuple((str(i), str(v), int(t)) for i, v, t in json.loads(row[5]))
    return Entry(int(row[0]), row[1], row[2], row[3], row[4], refs, int(row[6]), row[7], row[8], row[9])


class DisclosuresMixin:
    db: Database

    def release_key(self, name: str) -> str:
        """A workspace secret for the release path, made once (the first writer wins)."""
        row = self.db.query_one("SELECT value FROM release_keys WHERE name = ?", (name,))
        if row is None:
            with self.db.transaction():
                self.db.execute(
                    "INSERT INTO release_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                    (name, secrets.token_hex(32)),
                )
            row = self.db.query_one("SELECT value FROM release_keys WHERE name = ?", (name,))
        assert row is not None
        return str(row[0])

    def disclosure_head(self) -> Head:
        row = self.db.query_one("SELECT seq, hash, recorded FROM disclosures ORDER BY seq DESC LIMIT 1")
        return Head(int(row[0]), row[1], row[2]) if row else EMPTY

    def append_disclosure(self, build: Callable[[Head], Entry], objects: str | None = None) -> Entry:
        """Read the head and append the entry ``build`` makes of it, in one write transaction.

        ``objects``: the entry's objects already encoded (``cirt.chain.encode_objects``), so
        that the write lock is held for a hash and two statements only."""
        with self._log_turn(), self.db.transaction():
            entry = build(self.disclosure_head())
            if objects is None:
                objects = encode_objects(entry.objects)
            self.db.execute(
                f"INSERT INTO disclosures ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.seq,
                    entry.when,
                    entry.analyst,
                    entry.recipient,
                    entry.channel,
                    objects,
                    entry.tlp,
                    entry.prev_hash,
                    entry.hash,
                    entry.delivery,
                ),
            )
        return entry

    @contextmanager
    def _log_turn(self) -> Iterator[None]:
        """On SQLite, writers of the log queue on a file lock before asking for the database's
        write lock: they wake as soon as the one before is done, where SQLite's busy handler
        would have them sleep and retry (tens of milliseconds on a loaded machine, for a write
        that takes one).  PostgreSQL queues on its advisory lock already."""
        path = getattr(self.db, "path", None)
        if self.db.dialect != "sqlite" or path is None:
            yield
            return
        with open(f"{path}.log-lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def iter_disclosures(self, batch: int = 2000) -> Iterator[Entry]:
        """Every entry in sequence order, read in batches so a long log stays cheap in memory."""
        after = -1
        while True:
            rows = self.db.query(
                f"SELECT {_COLUMNS} FROM disclosures WHERE seq > ? ORDER BY seq LIMIT {int(batch)}", (after,)
            )
            yield from (_entry(r) for r in rows)
            if len(rows) < batch:
                return
            after = int(rows[-1][0])

    def disclosures(
        self, *, recipients: Sequence[str] | None = None, object_id: str | None = None
    ) -> list[Entry]:
        where: list[str] = []
        params: list[Any] = []
        if recipients is not None:
            if not recipients:
                return []
            where.append(f"recipient IN ({','.join('?' * len(recipients))})")
            params += list(recipients)
        if object_id is not None:
            escaped = object_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append("objects LIKE ? ESCAPE '\\'")
            params.append(f'%["{escaped}",%')
        sql = f"SELECT {_COLUMNS} FROM disclosures"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_entry(r) for r in self.db.query(sql + " ORDER BY seq", params)]
