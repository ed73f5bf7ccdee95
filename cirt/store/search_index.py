"""The analyst's memory in the store: observable values, words, incident facts and sightings.

``index_version`` is called by the store's put path for every version that becomes the newest
one, inside the same transaction: the index never disagrees with what is stored.  The queries
answer from the index alone (no JSON is read), on SQLite with B-tree and FTS5 indexes, on
PostgreSQL with B-tree, GiST (``inet``) and GIN (``tsvector``) indexes (migrations m0014-m0016).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cirt.observables import Observable, index_entry, lookup_plan, object_values
from cirt.store.database import Database

OUR_EXTENSION_ID = "extension-definition--df202fa3-4810-5851-ba20-3acdc73f6428"
# Not ``pattern``: its values are in the observable index, and its syntax is no one's words.
_TEXT_FIELDS = ("name", "description", "internal_description", "content", "abstract", "value", "resolution")
_NOT_WORDS = frozenset(
    {"relationship", "task", "marking-definition", "extension-definition", "identity", "sighting"}
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class ValueHit:
    """An indexed object holding a value that may match (the caller applies ``matches``)."""

    object_id: str
    object_type: str
    value: Observable
    added: str


def index_version(db: Database, obj: Mapping[str, Any], added: str, replaced: bool) -> None:
    """Index the newest version of an object; ``replaced``: an earlier version was indexed."""
    index_versions(db, [(obj, added, replaced)])


def index_versions(db: Database, versions: Sequence[tuple[Mapping[str, Any], str, bool]]) -> None:
    """Index newest versions (object, its ``added`` stamp, whether it replaces an indexed one).

    Set-based: one statement per table for the whole batch (a version that replaces nothing
    has no index row to delete), so an import of 20,000 relationships is two statements."""
    gone = [(str(obj["id"]),) for obj, _, replaced in versions if replaced]
    if gone:
        db.executemany("DELETE FROM observable_index WHERE object_id = ?", gone)
        db.executemany("DELETE FROM search_text WHERE object_id = ?", gone)
        db.executemany("DELETE FROM sighting_index WHERE sighting_id = ?", gone)
        db.executemany("DELETE FROM relationship_index WHERE relationship_id = ?", gone)
    values, texts, sightings, relationships = [], [], [], []
    for obj, added, _ in versions:
        object_id, kind = str(obj["id"]), str(obj["type"])
        values += [
            (object_id, kind, e.kind, v.value, e.lookup, e.ip_end, added)
            for v in object_values(obj)
            for e in [index_entry(v)]
        ]
        words = text_of(obj)
        if words:
            texts.append((object_id, kind, words))
        if kind == "incident":
            _incident_facts(db, obj)
        elif kind == "sighting":
            sightings.append(_sighting_row(obj))
        elif kind == "relationship":
            relationships.append(
                (
                    object_id,
                    str(obj.get("relationship_type", "")),
                    str(obj.get("source_ref", "")),
                    str(obj.get("target_ref", "")),
                )
            )
    if values:
        db.executemany(
            "INSERT INTO observable_index (object_id, object_type, kind, value, lookup,"
            " ip_end, added) VALUES (?, ?, ?, ?, ?, ?, ?)",
            values,
        )
    if texts:
        _insert_texts(db, texts)
    if sightings:
        db.executemany(
            "INSERT INTO sighting_index (sighting_id, indicator_id, count, first_seen,"
            " last_seen, seen, sighted_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            sightings,
        )
    if relationships:
        db.executemany(
            "INSERT INTO relationship_index (relationship_id, relationship_type,"
            " source_ref, target_ref) VALUES (?, ?, ?, ?)",
            relationships,
        )


def _insert_texts(db: Database, texts: Sequence[tuple[str, str, str]]) -> None:
    """Rows of words; on SQLite their full-text entries too, in one statement (m0021)."""
    if db.dialect != "sqlite":
        db.executemany("INSERT INTO search_text (object_id, object_type, content) VALUES (?, ?, ?)", texts)
        return
    row = db.query_one("SELECT MAX(seq) FROM search_text")
    before = int(row[0]) if row and row[0] is not None else 0
    db.executemany("INSERT INTO search_text (object_id, object_type, content) VALUES (?, ?, ?)", texts)
    db.execute(
        "INSERT INTO search_fts (rowid, content) SELECT seq, content FROM search_text WHERE seq > ?",
        (before,),
    )


def rebuild_text_search(db: Database) -> None:
    """SQLite's full-text index made again from ``search_text`` (after rows were copied in)."""
    if db.dialect == "sqlite":
        db.execute("INSERT INTO search_fts (search_fts) VALUES ('rebuild')")


def text_of(obj: Mapping[str, Any]) -> str:
    """The words an object is found by: reference, title, summary, note text, names."""
    if obj.get("type") in _NOT_WORDS:
        return ""
    parts = [str(obj[f]) for f in _TEXT_FIELDS if isinstance(obj.get(f), str)]
    ours = obj.get("extensions", {}).get(OUR_EXTENSION_ID, {})
    if isinstance(ours, Mapping) and isinstance(ours.get("reference"), str):
        parts.insert(0, ours["reference"])
    labels = obj.get("labels")
    if isinstance(labels, list):
        parts += [str(label) for label in labels]
    return "\n".join(parts)


def _incident_facts(db: Database, obj: Mapping[str, Any]) -> None:
    core = obj.get("extensions", {}).get("extension-definition--ef765651-680c-498d-9894-99799f2fa126", {})
    status = core.get("investigation_status")
    modified = str(obj.get("modified", ""))
    row = db.query_one("SELECT acknowledged FROM incident_facts WHERE incident_id = ?", (obj["id"],))
    acknowledged = row[0] if row and row[0] else (modified if status != "new" else None)
    reporter = obj.get("reporter")  # {name, contact, kind}: only the kind is counted
    reporter_kind = reporter.get("kind") if isinstance(reporter, Mapping) else None
    channel = obj.get("report_channel")
    reported = obj.get("reported_at")
    db.execute("DELETE FROM incident_facts WHERE incident_id = ?", (obj["id"],))
    db.execute(
        "INSERT INTO incident_facts (incident_id, acknowledged, closed, reporter_kind,"
        " channel, reported) VALUES (?, ?, ?, ?, ?, ?)",
        (
            obj["id"],
            acknowledged,
            modified if status == "closed" else None,
            str(reporter_kind) if reporter_kind else None,
            str(channel) if channel else None,
            str(reported) if reported else None,
        ),
    )


def _sighting_row(obj: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        obj["id"],
        str(obj.get("sighting_of_ref", "")),
        int(obj.get("count", 1)),
        obj.get("first_seen"),
        obj.get("last_seen"),
        str(obj.get("last_seen") or obj.get("first_seen") or obj.get("created", "")),
        ",".join(str(r) for r in obj.get("where_sighted_refs", ())),
    )


# --- queries -----------------------------------------------------------------------------------


def value_candidates(db: Database, value: Observable, *, limit: int = 1000) -> list[ValueHit]:
    """Indexed values the term may match: a superset of the matches, found by index scans."""
    plan = lookup_plan(value)
    columns = "object_id, object_type, kind, value, added"
    if db.dialect == "postgresql" and value.kind == "ip":
        rows = db.query(
            f"SELECT {columns} FROM observable_index WHERE kind IN ('ip4', 'ip6')"
            " AND CAST(value AS inet) && CAST(? AS inet) LIMIT ?",
            (value.value, limit),
        )
    else:
        marks = ",".join("?" * len(plan.keys))
        exact = f"kind = ? AND lookup IN ({marks})"
        params: list[Any] = [plan.kind, *plan.keys]
        if plan.end_at_least is not None:
            exact += " AND ip_end >= ?"
            params.append(plan.end_at_least)
        sql = f"SELECT {columns} FROM observable_index WHERE {exact}"
        if plan.low is not None and plan.high is not None:
            upper = "<" if value.kind == "domain" else "<="
            sql += (
                f" UNION SELECT {columns} FROM observable_index"
                f" WHERE kind = ? AND lookup >= ? AND lookup {upper} ?"
            )
            params += [plan.kind, plan.low, plan.high]
        rows = db.query(f"{sql} LIMIT ?", [*params, limit])
    return [
        ValueHit(r[0], r[1], Observable("ip" if r[2].startswith("ip") else r[2], r[3]), r[4]) for r in rows
    ]


def text_candidates(db: Database, term: str, *, limit: int = 1000) -> list[tuple[str, str]]:
    """(object id, type) of objects whose words hold every word of the term."""
    words = _WORD.findall(term)
    if not words:
        return []
    if db.dialect == "postgresql":
        rows = db.query(
            "SELECT object_id, object_type FROM search_text"
            " WHERE to_tsvector('simple'::regconfig,"
            " regexp_replace(content, '\\W+', ' ', 'g'))"
            " @@ plainto_tsquery('simple'::regconfig, ?) LIMIT ?",
            (" ".join(words), limit),
        )
    else:
        query = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = db.query(
            "SELECT t.object_id, t.object_type FROM search_fts f"
            " JOIN search_text t ON t.seq = f.rowid"
            " WHERE search_fts MATCH ? LIMIT ?",
            (query, limit),
        )
    return [(r[0], r[1]) for r in rows]


def values_added_after(db: Database, cursor: str | None) -> list[ValueHit]:
    """Values of versions stored after the cursor (an ``added`` stamp), oldest first."""
    rows = db.query(
        "SELECT object_id, object_type, kind, value, added FROM observable_index"
        " WHERE added > ? ORDER BY added",
        (cursor or "",),
    )
    return [
        ValueHit(r[0], r[1], Observable("ip" if r[2].startswith("ip") else r[2], r[3]), r[4]) for r in rows
    ]


def count_added_after(db: Database, cursor: str | None) -> int:
    row = db.query_one("SELECT COUNT(*) FROM observable_index WHERE added > ?", (cursor or "",))
    return int(row[0]) if row else 0


# The objects an incident holds: those linked to one, and the incidents themselves.
_HELD = (
    "SELECT l.object_id FROM incident_links l JOIN incidents i ON i.id = l.incident_id"
    " UNION SELECT id FROM incidents"
)


def held_values(db: Database) -> list[ValueHit]:
    """Values of the objects an incident holds (correlation has nothing else to find)."""
    rows = db.query(
        "SELECT object_id, object_type, kind, value, added FROM observable_index"
        f" WHERE object_id IN ({_HELD}) ORDER BY added, object_id, kind, value"
    )
    return [
        ValueHit(r[0], r[1], Observable("ip" if r[2].startswith("ip") else r[2], r[3]), r[4]) for r in rows
    ]


def count_held_values(db: Database) -> int:
    row = db.query_one(f"SELECT COUNT(*) FROM observable_index WHERE object_id IN ({_HELD})")
    return int(row[0]) if row else 0


def sightings_of(db: Database, indicator_ids: Iterable[str]) -> dict[str, list[tuple[str, int]]]:
    """(sighting id, count) per indicator."""
    ids = list(dict.fromkeys(indicator_ids))
    found: dict[str, list[tuple[str, int]]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for sighting_id, indicator_id, count in db.query(
            "SELECT sighting_id, indicator_id, count FROM sighting_index"
            f" WHERE indicator_id IN ({marks}) ORDER BY sighting_id",
            chunk,
        ):
            found.setdefault(indicator_id, []).append((sighting_id, int(count)))
    return found


def rebuild(db: Database) -> int:
    """Index every newest version again (a workspace made before the index existed)."""
    with db.transaction():
        for table in (
            "observable_index",
            "search_text",
            "incident_facts",
            "sighting_index",
            "relationship_index",
        ):
            db.execute(f"DELETE FROM {table}")
        for (body,) in db.query(
            "SELECT body FROM objects WHERE type = 'incident' AND latest = 0 ORDER BY id, modified"
        ):
            _incident_facts(db, json.loads(body))  # when each was acknowledged and closed
        rows = db.query("SELECT body, added FROM objects WHERE latest = 1 ORDER BY seq")
        for body, added in rows:
            index_version(db, json.loads(body), added, replaced=False)
    return len(rows)


@dataclass(frozen=True)
class IncidentOf:
    object_id: str
    incident_id: str
    reference: str
    tlp: int
    title: str


def incidents_of(db: Database, object_ids: Sequence[str]) -> dict[str, list[IncidentOf]]:
    """The incidents each object belongs to (an incident belongs to itself)."""
    found: dict[str, list[IncidentOf]] = {}
    ids = list(dict.fromkeys(object_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = db.query(
            "SELECT l.object_id, i.id, i.reference, i.tlp, i.title FROM incident_links l"
            f" JOIN incidents i ON i.id = l.incident_id WHERE l.object_id IN ({marks})"
            " UNION SELECT i.id, i.id, i.reference, i.tlp, i.title FROM incidents i"
            f" WHERE i.id IN ({marks})",
            [*chunk, *chunk],
        )
        for row in sorted(rows, key=lambda r: (r[0], r[2])):
            found.setdefault(row[0], []).append(IncidentOf(row[0], row[1], row[2], int(row[3]), row[4]))
    return found


def cursor(db: Database, name: str) -> str | None:
    row = db.query_one("SELECT position FROM memory_cursors WHERE name = ?", (name,))
    return str(row[0]) if row else None


def move_cursor(db: Database, name: str, position: str) -> None:
    db.execute(
        "INSERT INTO memory_cursors (name, position) VALUES (?, ?)"
        " ON CONFLICT (name) DO UPDATE SET position = excluded.position",
        (name, position),
    )


def newest_added(db: Database) -> str:
    row = db.query_one("SELECT MAX(added) FROM objects")
    return str(row[0]) if row and row[0] else ""


def relationships_of(db: Database, object_id: str) -> list[tuple[str, str, str, str]]:
    """(relationship id, type, source, target) of relationships with ``object_id`` at an end."""
    rows = db.query(
        "SELECT relationship_id, relationship_type, source_ref, target_ref"
        " FROM relationship_index WHERE source_ref = ?"
        " UNION SELECT relationship_id, relationship_type, source_ref, target_ref"
        " FROM relationship_index WHERE target_ref = ? ORDER BY 1",
        (object_id, object_id),
    )
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def candidates_of_many(
    db: Database,
    values: Sequence[Observable],
    *,
    added_after: str | None = None,
    held_only: bool = False,
) -> list[tuple[int, ValueHit]]:
    """(position in ``values``, indexed value) pairs that may match: every lookup plan in two
    temporary tables and two joins, so that a 100,000-indicator import is two queries, not
    200,000.  A superset of the matches (the caller applies ``matches``), among the values
    stored after ``added_after`` if given, and only those of objects an incident holds if
    ``held_only``."""
    among = ""
    params: list[Any] = []
    if added_after is not None:
        among += " AND o.added > ?"
        params.append(added_after)
    if held_only:
        among += f" AND o.object_id IN ({_HELD})"
    keys: list[tuple[int, str, str, str | None]] = []
    ranges: list[tuple[int, str, str, str]] = []
    starts = _range_starts(db) if len(values) > 100 else None
    for n, value in enumerate(values):
        plan = lookup_plan(value)
        own = index_entry(value)
        wanted = {*plan.keys, own.lookup}
        if starts is not None and value.kind == "ip":  # only ranges that exist can hold it
            wanted = {k for k in wanted if (plan.kind, k) in starts} | {own.lookup}
        keys += [(n, plan.kind, key, plan.end_at_least) for key in wanted]
        if plan.low is not None and plan.high is not None and plan.low != plan.high:
            high = plan.high if value.kind == "domain" else plan.high + "~"  # exclusive bound
            ranges.append((n, plan.kind, plan.low, high))
    temporary_table(db, "lookup_keys", ["n INTEGER", "kind TEXT", "lookup TEXT", "end_at_least TEXT"], keys)
    temporary_table(db, "lookup_ranges", ["n INTEGER", "kind TEXT", "low TEXT", "high TEXT"], ranges)
    columns = "o.object_id, o.object_type, o.kind, o.value, o.added"
    rows = db.query(
        f"SELECT k.n, {columns} FROM lookup_keys k JOIN observable_index o"
        " ON o.kind = k.kind AND o.lookup = k.lookup"
        f" WHERE (k.end_at_least IS NULL OR o.ip_end >= k.end_at_least){among}"
        f" UNION SELECT r.n, {columns} FROM lookup_ranges r JOIN observable_index o"
        f" ON o.kind = r.kind AND o.lookup >= r.low AND o.lookup < r.high WHERE 1 = 1{among}",
        [*params, *params],
    )
    return [
        (int(r[0]), ValueHit(r[1], r[2], Observable("ip" if r[3].startswith("ip") else r[3], r[4]), r[5]))
        for r in rows
    ]


def _range_starts(db: Database) -> set[tuple[str, str]]:
    """Where the stored address ranges (not single addresses) start: an address in a batch
    is looked up only at those of its 33 (or 129) prefix networks."""
    return {
        (str(k), str(v))
        for k, v in db.query(
            "SELECT DISTINCT kind, lookup FROM observable_index"
            " WHERE kind IN ('ip4', 'ip6') AND ip_end <> lookup"
        )
    }


def temporary_table(db: Database, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A temporary table of this connection, replaced if it exists (never in the schema)."""
    db.execute(f"DROP TABLE IF EXISTS {table}")
    db.execute(f"CREATE TEMPORARY TABLE {table} ({', '.join(columns)})")
    if rows:
        names = ", ".join(c.split()[0] for c in columns)
        db.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", rows)
