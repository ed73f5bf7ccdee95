"""Bulk writes for ingest (one transaction, set-based look-ups) and MISP exchange state.

``put_import`` writes exactly the rows ``ObjectsMixin.put_many`` writes (objects with the
``latest`` flag, strictly increasing ``added``, one provenance row per version), but with a few
statements per thousand objects instead of five per object, and with each version's own
markings in its provenance row.  The caller has already removed versions the store holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from cirt.stixtime import format_ts_micro, parse_ts
from cirt.store import Provenance, canonical_json
from cirt.store.database import Database
from cirt.store.search_index import index_versions
from cirt.taxii.plain import plain_facts

_CHUNK = 500


class ImportRow(NamedTuple):
    """One new version to store: the object, its canonical text, its TLP and its markings."""

    id: str
    version: str
    type: str
    spec_version: str
    tlp: int
    body: str
    markings: tuple[str, ...]


@dataclass(frozen=True)
class StoredVersion:
    modified: str
    latest: bool
    tlp: int


class IngestStateMixin:
    db: Database
    _last_added: str | None

    if TYPE_CHECKING:
        def _next_added(self) -> str: ...  # ObjectsMixin's
        def _sync_added(self) -> None: ...

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` the store holds in any version."""
        found: set[str] = set()
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            found.update(r[0] for r in self.db.query(
                f"SELECT DISTINCT id FROM objects WHERE id IN ({marks})", chunk))
        return found

    def stored_versions(self, ids: Iterable[str]) -> dict[str, list[StoredVersion]]:
        """Every stored version (``modified``, latest flag, TLP) of the objects named."""
        out: dict[str, list[StoredVersion]] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            for object_id, modified, latest, tlp in self.db.query(
                    f"SELECT id, modified, latest, tlp FROM objects WHERE id IN ({marks})", chunk):
                out.setdefault(object_id, []).append(StoredVersion(modified, bool(latest), tlp))
        return out

    def put_import(self, rows: Sequence[ImportRow], *, provenance: Provenance,
                   stored: dict[str, list[StoredVersion]]) -> None:
        """Store new versions all together (the caller's transaction, or one of our own)."""
        if not rows:
            return
        newest: dict[str, str] = {}
        for object_id, versions in stored.items():
            for v in versions:
                if v.latest:
                    newest[object_id] = v.modified
        incoming_max: dict[str, str] = {}
        for row in rows:
            if row.version > incoming_max.get(row.id, ""):
                incoming_max[row.id] = row.version
        superseded = [(oid,) for oid, version in incoming_max.items()
                      if oid in newest and version > newest[oid]]
        latest_key = {(oid, version) for oid, version in incoming_max.items()
                      if oid not in newest or version > newest[oid]}
        marking_texts: dict[tuple[str, ...], str] = {}
        with self.db.transaction():
            self._sync_added()
            stamps = _stamps(parse_ts(self._next_added()), len(rows))
            self.db.executemany("UPDATE objects SET latest = 0 WHERE id = ? AND latest = 1",
                                superseded)
            self.db.executemany(
                "INSERT INTO objects (id, modified, type, spec_version, added, tlp, latest,"
                " origin, body, plain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.id, r.version, r.type, r.spec_version, stamp, r.tlp,
                  1 if (r.id, r.version) in latest_key else 0, provenance.source_kind, r.body,
                  plain_facts(r.type, r.body, partial(json.loads, r.body)))
                 for r, stamp in zip(rows, stamps, strict=True)])
            self.db.executemany(
                "INSERT INTO provenance (object_id, modified, source_kind, source, collection,"
                " received, markings) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(r.id, r.version, provenance.source_kind, provenance.source,
                  provenance.collection, stamp, marking_texts.get(r.markings)
                  or marking_texts.setdefault(r.markings,
                                              canonical_json({"refs": list(r.markings)})))
                 for r, stamp in zip(rows, stamps, strict=True)])
            # search, correlation, statistics (cirt.store.search_index, issue 13)
            index_versions(self.db, [(json.loads(r.body), stamp, r.id in newest)
                                     for r, stamp in zip(rows, stamps, strict=True)
                                     if (r.id, r.version) in latest_key])
        self._last_added = stamps[-1]

    # --- MISP exchange state ---

    def misp_pushed_digest(self, partner: str, event_uuid: str) -> str | None:
        row = self.db.query_one(
            "SELECT digest FROM misp_pushed WHERE partner = ? AND event_uuid = ?",
            (partner, event_uuid))
        return str(row[0]) if row else None

    def record_misp_push(self, partner: str, event_uuid: str, digest: str, when: str) -> None:
        self.db.execute(
            "INSERT INTO misp_pushed (partner, event_uuid, digest, pushed) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (partner, event_uuid) DO UPDATE SET digest = excluded.digest,"
            " pushed = excluded.pushed", (partner, event_uuid, digest, when))

    def misp_pull_cursor(self, partner: str) -> int | None:
        row = self.db.query_one(
            "SELECT last_timestamp FROM misp_pull_cursor WHERE partner = ?", (partner,))
        return int(row[0]) if row else None

    def set_misp_pull_cursor(self, partner: str, timestamp: int, when: str) -> None:
        self.db.execute(
            "INSERT INTO misp_pull_cursor (partner, last_timestamp, pulled) VALUES (?, ?, ?)"
            " ON CONFLICT (partner) DO UPDATE SET last_timestamp = excluded.last_timestamp,"
            " pulled = excluded.pulled", (partner, timestamp, when))


def _stamps(start: datetime, count: int) -> list[str]:
    """``count`` strictly increasing microsecond stamps from ``start`` (TAXII date_added)."""
    out: list[str] = []
    second = start.replace(microsecond=0)
    micro = start.microsecond
    prefix = format_ts_micro(second)[:-8]
    for _ in range(count):
        if micro == 1_000_000:
            second += timedelta(seconds=1)
            micro = 0
            prefix = format_ts_micro(second)[:-8]
        out.append(f"{prefix}.{micro:06d}Z")
        micro += 1
    return out


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]
