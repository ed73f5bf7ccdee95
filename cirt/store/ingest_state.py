"""Bulk writes for ingest (one transaction, set-based look-ups) and MISP exchange state.

``put_import`` writes exactly the rows ``ObjectsMixin.put_many`` writes (objects with the
``latest`` flag, strictly increasing ``added``, one provenance row per version), but with a few
statements per thousand objects instead of five per object, and with each version's own
markings in its provenance row.  The caller has already removed versions the store holds.
Versions are ordered by the instant their timestamp names (``cirt.versions``), never by its
spelling.  ``log_refusals`` keeps what a source sent and was refused (the ingest log, a hash
chain: ``cirt.refusal_log``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from cirt.chain import EMPTY, Head
from cirt.plain import plain_facts
from cirt.refusal_log import Refusal, RefusalEntry, chain
from cirt.stixtime import Clock, format_ts_micro, parse_ts
from cirt.store import Provenance, canonical_json
from cirt.store.database import Database, Row
from cirt.store.search_index import index_versions
from cirt.versions import version_instant

_CHUNK = 500
_WRITE_SLICE = 2000
_LOG_COLUMNS = (
    "link, recorded, source_kind, source, collection, object_id, version, outcome, reason, prev_hash, hash"
)


class ImportRow(NamedTuple):
    """One new version to store: the object, its TLP and its markings (its canonical text is
    made as it is written, so a large import never holds every text at once)."""

    id: str
    version: str
    type: str
    spec_version: str
    tlp: int
    markings: tuple[str, ...]
    obj: dict[str, Any]


@dataclass(frozen=True)
class StoredVersion:
    """One stored version with what ownership and conflict decisions need."""

    modified: str
    latest: bool
    tlp: int
    origin: str = "local"
    body: str = ""
    source: str = ""

    @property
    def creator(self) -> str | None:
        """Its ``created_by_ref``, or None."""
        creator = json.loads(self.body).get("created_by_ref") if self.body else None
        return creator if isinstance(creator, str) else None


class IngestStateMixin:
    db: Database
    clock: Clock
    _last_added: str | None

    if TYPE_CHECKING:

        def _next_added(self) -> str: ...  # ObjectsMixin's
        def _sync_added(self) -> None: ...

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of ``ids`` the store holds in any version."""
        found: set[str] = set()
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0] for r in self.db.query(f"SELECT DISTINCT id FROM objects WHERE id IN ({marks})", chunk)
            )
        return found

    def stored_versions(self, ids: Iterable[str]) -> dict[str, list[StoredVersion]]:
        """Every stored version of the objects named, with its body and the source it came from."""
        out: dict[str, list[StoredVersion]] = {}
        for chunk in _chunks(list(dict.fromkeys(ids))):
            marks = ",".join("?" * len(chunk))
            for object_id, modified, latest, tlp, origin, body, source in self.db.query(
                "SELECT o.id, o.modified, o.latest, o.tlp, o.origin, o.body, p.source"
                " FROM objects o LEFT JOIN provenance p"
                " ON p.object_id = o.id AND p.modified = o.modified"
                f" WHERE o.id IN ({marks})",
                chunk,
            ):
                out.setdefault(object_id, []).append(
                    StoredVersion(modified, bool(latest), tlp, origin, body, source or "")
                )
        return out

    def log_refusals(self, refusals: Sequence[Refusal]) -> None:
        """Append to the ingest log as links of its hash chain (its own transaction, or the
        caller's: the head is read inside it, and write transactions are serialised)."""
        if not refusals:
            return
        when = format_ts_micro(self.clock())
        with self.db.transaction():
            entries = chain(self.refusal_head(), when, refusals)
            self.db.executemany(
                "INSERT INTO ingest_log (recorded, source_kind, source, collection, object_id,"
                " version, outcome, reason, link, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.when,
                        e.source_kind,
                        e.source,
                        e.collection,
                        e.object_id,
                        e.version,
                        e.outcome,
                        e.reason,
                        e.seq,
                        e.prev_hash,
                        e.hash,
                    )
                    for e in entries
                ],
            )

    def refusal_head(self) -> Head:
        row = self.db.query_one(
            "SELECT link, hash, recorded FROM ingest_log WHERE link IS NOT NULL ORDER BY link DESC LIMIT 1"
        )
        return Head(int(row[0]), row[1], row[2]) if row else EMPTY

    def ingest_log(self, *, source: str | None = None) -> list[RefusalEntry]:
        """The ingest log, oldest first (rows from before the chain too), optionally of one
        source (a party id)."""
        sql = f"SELECT {_LOG_COLUMNS} FROM ingest_log"
        params: list[Any] = []
        if source is not None:
            sql += " WHERE source = ?"
            params.append(source)
        return [_refusal_entry(row) for row in self.db.query(sql + " ORDER BY seq", params)]

    def iter_refusal_chain(self, batch: int = 2000) -> Iterator[RefusalEntry]:
        """Every chained entry in chain order, read in batches."""
        after = 0
        while True:
            rows = self.db.query(
                f"SELECT {_LOG_COLUMNS} FROM ingest_log WHERE link > ? ORDER BY link LIMIT {int(batch)}",
                (after,),
            )
            yield from (_refusal_entry(r) for r in rows)
            if len(rows) < batch:
                return
            after = int(rows[-1][0])

    def put_import(
        self, rows: Sequence[ImportRow], *, provenance: Provenance, stored: dict[str, list[StoredVersion]]
    ) -> None:
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
            best = incoming_max.get(row.id)
            if best is None or version_instant(row.version) > version_instant(best):
                incoming_max[row.id] = row.version
        newer = {
            oid
            for oid, version in incoming_max.items()
            if oid not in newest or version_instant(version) > version_instant(newest[oid])
        }
        superseded = [(oid,) for oid in newer if oid in newest]
        latest_key = {(oid, incoming_max[oid]) for oid in newer}
        marking_texts: dict[tuple[str, ...], str] = {}
        with self.db.transaction():
            self._sync_added()
            stamps = _stamps(parse_ts(self._next_added()), len(rows))
            self.db.executemany("UPDATE objects SET latest = 0 WHERE id = ? AND latest = 1", superseded)
            # In slices: each object's canonical text (and its words for the index) lives only
            # until its slice is written, not for the whole import.
            for start in range(0, len(rows), _WRITE_SLICE):
                written = list(
                    zip(rows[start : start + _WRITE_SLICE], stamps[start : start + _WRITE_SLICE], strict=True)
                )
                objects = []
                for r, stamp in written:
                    body = canonical_json(r.obj)
                    objects.append(
                        (
                            r.id,
                            r.version,
                            r.type,
                            r.spec_version,
                            stamp,
                            r.tlp,
                            1 if (r.id, r.version) in latest_key else 0,
                            provenance.source_kind,
                            body,
                            plain_facts(r.type, body, _given(r.obj)),
                        )
                    )
                self.db.executemany(
                    "INSERT INTO objects (id, modified, type, spec_version, added, tlp, latest,"
                    " origin, body, plain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    objects,
                )
                del objects
                self.db.executemany(
                    "INSERT INTO provenance (object_id, modified, source_kind, source, collection,"
                    " received, markings) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            r.id,
                            r.version,
                            provenance.source_kind,
                            provenance.source,
                            provenance.collection,
                            stamp,
                            marking_texts.get(r.markings)
                            or marking_texts.setdefault(
                                r.markings, canonical_json({"refs": list(r.markings)})
                            ),
                        )
                        for r, stamp in written
                    ],
                )
                # search, correlation, statistics (cirt.store.search_index, issue 13)
                index_versions(
                    self.db,
                    [
                        (r.obj, stamp, r.id in newest)
                        for r, stamp in written
                        if (r.id, r.version) in latest_key
                    ],
                )
        self._last_added = stamps[-1]

    # --- MISP exchange state ---

    def misp_pushed_digest(self, partner: str, event_uuid: str) -> str | None:
        row = self.db.query_one(
            "SELECT digest FROM misp_pushed WHERE partner = ? AND event_uuid = ?", (partner, event_uuid)
        )
        return str(row[0]) if row else None

    def record_misp_push(self, partner: str, event_uuid: str, digest: str, when: str) -> None:
        self.db.execute(
            "INSERT INTO misp_pushed (partner, event_uuid, digest, pushed) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (partner, event_uuid) DO UPDATE SET digest = excluded.digest,"
            " pushed = excluded.pushed",
            (partner, event_uuid, digest, when),
        )

    def misp_pull_cursor(self, partner: str) -> int | None:
        row = self.db.query_one("SELECT last_timestamp FROM misp_pull_cursor WHERE partner = ?", (partner,))
        return int(row[0]) if row else None

    def set_misp_pull_cursor(self, partner: str, timestamp: int, when: str) -> None:
        self.db.execute(
            "INSERT INTO misp_pull_cursor (partner, last_timestamp, pulled) VALUES (?, ?, ?)"
            " ON CONFLICT (partner) DO UPDATE SET last_timestamp = excluded.last_timestamp,"
            " pulled = excluded.pulled",
            (partner, timestamp, when),
        )


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


def _refusal_entry(row: Row) -> RefusalEntry:
    return RefusalEntry(
        int(row[0] or 0),
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9] or "",
        row[10] or "",
    )


def _given(obj: dict[str, Any]) -> Callable[[], dict[str, Any]]:
    """The object as ``plain_facts`` asks for it: already decoded, not parsed again."""
    return lambda: obj


def _chunks(items: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
