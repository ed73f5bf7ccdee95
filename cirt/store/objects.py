"""Objects and their versions: append-only, one row per (id, modified)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from cirt.plain import plain_facts
from cirt.stixtime import Clock, format_ts_micro, parse_ts
from cirt.store import Provenance, StoredObject, canonical_json, version_of
from cirt.store.database import Database
from cirt.store.search_index import index_version
from cirt.versions import version_instant

_COLUMNS = "seq, id, modified, type, spec_version, added, tlp, origin, body"


class ObjectsMixin:
    db: Database
    clock: Clock
    _last_added: str | None

    def put(self, obj: dict[str, Any], *, tlp: int, provenance: Provenance) -> bool:
        """Store one version; False when that exact id and version is already there."""
        return self.put_many([(obj, tlp)], provenance=provenance) == 1

    def put_many(self, items: Sequence[tuple[dict[str, Any], int]], *, provenance: Provenance) -> int:
        """Store versions in one transaction; returns how many were new."""
        new = 0
        with self.db.transaction():
            self._sync_added()
            for obj, tlp in items:
                if self._insert(obj, tlp, provenance):
                    new += 1
        return new

    def _insert(self, obj: dict[str, Any], tlp: int, provenance: Provenance) -> bool:
        object_id, version = obj["id"], version_of(obj)
        if self.db.query_one("SELECT 1 FROM objects WHERE id = ? AND modified = ?", (object_id, version)):
            return False
        newest = self.db.query_one("SELECT modified FROM objects WHERE id = ? AND latest = 1", (object_id,))
        is_latest = newest is None or version_instant(version) > version_instant(newest[0])
        if is_latest and newest is not None:
            self.db.execute("UPDATE objects SET latest = 0 WHERE id = ? AND latest = 1", (object_id,))
        added = self._next_added()
        body = canonical_json(obj)
        self.db.execute(
            "INSERT INTO objects (id, modified, type, spec_version, added, tlp, latest, origin,"
            " body, plain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                object_id,
                version,
                obj["type"],
                obj.get("spec_version", "2.1"),
                added,
                tlp,
                1 if is_latest else 0,
                provenance.source_kind,
                body,
                plain_facts(obj["type"], body, lambda: obj),
            ),
        )
        if is_latest:  # search, correlation, statistics (cirt.store.search_index, issue 13)
            index_version(self.db, obj, added, replaced=newest is not None)
        self.db.execute(
            "INSERT INTO provenance (object_id, modified, source_kind, source, collection,"
            " received, markings) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                object_id,
                version,
                provenance.source_kind,
                provenance.source,
                provenance.collection,
                added,
                canonical_json({"refs": list(provenance.markings)}),
            ),
        )
        return True

    def _sync_added(self) -> None:
        """Catch up with the date_added other processes wrote; call it holding the write lock.

        Writers are serialised (BEGIN IMMEDIATE on SQLite, an advisory lock on PostgreSQL), so
        date_added is strictly increasing in commit order across every process: TAXII paging by
        it never skips an object.
        """
        row = self.db.query_one("SELECT MAX(added) FROM objects")
        if row and row[0] and (self._last_added is None or row[0] > self._last_added):
            self._last_added = row[0]

    def _next_added(self) -> str:
        """A date_added strictly after every earlier one (after ``_sync_added``)."""
        last = self._last_added
        moment = self.clock()
        if last is not None and moment <= parse_ts(last):
            moment = parse_ts(last) + timedelta(microseconds=1)
        stamp = format_ts_micro(moment)
        self._last_added = stamp
        return stamp

    def get(self, object_id: str, version: str | None = None) -> StoredObject | None:
        """The newest version, or the named one."""
        if version is None:
            row = self.db.query_one(
                f"SELECT {_COLUMNS} FROM objects WHERE id = ? AND latest = 1", (object_id,)
            )
        else:
            row = self.db.query_one(
                f"SELECT {_COLUMNS} FROM objects WHERE id = ? AND modified = ?", (object_id, version)
            )
        return StoredObject(*row) if row else None

    def get_for_update(self, object_id: str) -> StoredObject | None:
        """The newest version, locked until the caller's transaction ends (no lost updates)."""
        lock = " FOR UPDATE" if self.db.dialect == "postgresql" else ""
        row = self.db.query_one(
            f"SELECT {_COLUMNS} FROM objects WHERE id = ? AND latest = 1{lock}", (object_id,)
        )
        return StoredObject(*row) if row else None

    def has_version(self, object_id: str, version: str) -> bool:
        return bool(
            self.db.query_one("SELECT 1 FROM objects WHERE id = ? AND modified = ?", (object_id, version))
        )

    def history(self, object_id: str) -> list[StoredObject]:
        """Every version of an object, oldest first."""
        rows = self.db.query(f"SELECT {_COLUMNS} FROM objects WHERE id = ?", (object_id,))
        return sorted((StoredObject(*r) for r in rows), key=lambda o: version_instant(o.modified))

    def latest_many(self, object_ids: Iterable[str]) -> list[StoredObject]:
        ids = list(dict.fromkeys(object_ids))
        found: list[StoredObject] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.query(
                f"SELECT {_COLUMNS} FROM objects WHERE latest = 1 AND id IN ({marks})", chunk
            )
            found.extend(StoredObject(*r) for r in rows)
        return found

    def latest_objects(
        self, *, types: Sequence[str] = (), since: str | None = None, origin: str | None = None
    ) -> Iterator[StoredObject]:
        """Newest versions in insertion order, optionally of some types, added after ``since``."""
        where, params = ["latest = 1"], []
        if types:
            where.append(f"type IN ({','.join('?' * len(types))})")
            params += list(types)
        if since:
            where.append("added > ?")
            params.append(since)
        if origin:
            where.append("origin = ?")
            params.append(origin)
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM objects WHERE {' AND '.join(where)} ORDER BY seq", params
        )
        return (StoredObject(*r) for r in rows)

    def provenance_of(self, object_id: str, version: str) -> Provenance | None:
        row = self.db.query_one(
            "SELECT source_kind, source, collection, markings FROM provenance"
            " WHERE object_id = ? AND modified = ?",
            (object_id, version),
        )
        if row is None:
            return None
        return Provenance(row[0], row[1], row[2], tuple(json.loads(row[3])["refs"]))

    def count_objects(self) -> int:
        row = self.db.query_one("SELECT COUNT(*) FROM objects")
        return int(row[0]) if row else 0
