"""Routed notifications as stored: one row per party and value, pending until sent."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cirt.routing import AssetIndex
from cirt.store import Provenance
from cirt.store.database import Database

# What can carry a routable value (``cirt.routing.observables`` reads nothing from other types).
ROUTED_TYPES = frozenset(
    {"indicator", "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "autonomous-system"}
)

_COLUMNS = (
    "id, party, kind, value, asset, object_id, source, first_seen, last_seen, seen, state, sent_at, bulletin"
)


@dataclass(frozen=True)
class RouteRow:
    id: int
    party: str
    kind: str  # ip | domain | asn
    value: str
    asset: str
    object_id: str  # the first object that carried the value
    source: str  # kind:name of where it came from
    first_seen: str
    last_seen: str
    seen: int
    state: str  # pending | sent
    sent_at: str | None
    bulletin: str | None

    def as_dict(self) -> dict[str, Any]:
        return {name.strip(): getattr(self, name.strip()) for name in _COLUMNS.split(",")}


class RoutesMixin:
    db: Database

    def route_objects(
        self, index: AssetIndex, objects: Iterable[Mapping[str, Any]], provenance: Provenance, at: str
    ) -> int:
        """Route stored objects (issue 16): each value in a party's declared assets becomes a
        pending notification for that party (``record_routes``).  Returns how many are new."""
        source = f"{provenance.source_kind}:{provenance.source}"
        rows = [
            (m.party, m.observable.kind, m.observable.value, m.asset, str(obj["id"]), source)
            for obj in objects
            if obj.get("type") in ROUTED_TYPES
            for m in index.route(obj)
        ]
        return self.record_routes(rows, at) if rows else 0

    def record_routes(self, rows: Sequence[tuple[str, str, str, str, str, str]], at: str) -> int:
        """(party, kind, value, asset, object id, source) rows: a new (party, value) is pending;
        one seen before only counts the sighting.  Returns how many were new."""
        new = 0
        with self.db.transaction():
            for party, kind, value, asset, object_id, source in rows:
                changed = self.db.execute(
                    "UPDATE routes SET seen = seen + 1, last_seen = ? WHERE party = ? AND value = ?",
                    (at, party, value),
                )
                if changed:
                    continue
                self.db.execute(
                    "INSERT INTO routes (party, kind, value, asset, object_id, source, first_seen,"
                    " last_seen, seen, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 'pending')",
                    (party, kind, value, asset, object_id, source, at, at),
                )
                new += 1
        return new

    def routes(self, *, party: str | None = None, state: str | None = None) -> list[RouteRow]:
        where, params = ["1 = 1"], []
        if party is not None:
            where.append("party = ?")
            params.append(party)
        if state is not None:
            where.append("state = ?")
            params.append(state)
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM routes WHERE {' AND '.join(where)} ORDER BY party, id", params
        )
        return [RouteRow(*r) for r in rows]

    def mark_routes_sent(self, ids: Sequence[int], *, at: str, bulletin: str) -> None:
        with self.db.transaction():
            for route_id in ids:
                self.db.execute(
                    "UPDATE routes SET state = 'sent', sent_at = ?, bulletin = ? WHERE id = ?",
                    (at, bulletin, route_id),
                )
