"""``cirt search``: have we seen this address, domain, URL, hash or word before, and where?

A term that is an observable value is matched by ``cirt.observables.matches`` over the values
indexed from patterns and observables (an address finds the ranges holding it, a domain its
subdomains and parents); any term is also looked up in the words of incidents (reference,
title, summary), notes, evidence records and indicators.  Each hit carries its TLP and the
incidents it belongs to.  Search shows the CIRT its own store: it releases nothing to anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cirt.context import Context
from cirt.errors import InvalidValue
from cirt.observables import classify, matches
from cirt.stixtime import format_ts
from cirt.store import search_index
from cirt.tlp import TLP

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class IncidentRef:
    reference: str
    tlp: TLP
    title: str

    def as_dict(self) -> dict[str, str]:
        return {
            "reference": self.reference,
            "tlp": self.tlp.label.removeprefix("TLP:").lower(),
            "title": self.title,
        }


@dataclass
class Hit:
    object_id: str
    type: str
    tlp: TLP
    summary: str
    added: str
    matched: list[str] = field(default_factory=list)  # values matched, or "words"
    incidents: list[IncidentRef] = field(default_factory=list)
    sightings: int = 0  # total count of sightings of an indicator
    state: str = ""  # revoked, expired, false positive (indicators)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.object_id,
            "type": self.type,
            "tlp": self.tlp.label.removeprefix("TLP:").lower(),
            "summary": self.summary,
            "added": self.added,
            "matched": self.matched,
            "incidents": [i.as_dict() for i in self.incidents],
            "sightings": self.sightings,
            "state": self.state,
        }


@dataclass
class SearchResult:
    term: str
    kind: str  # ip, domain, url, hash, email or words
    hits: list[Hit]
    truncated: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "kind": self.kind,
            "truncated": self.truncated,
            "hits": [h.as_dict() for h in self.hits],
        }


def search(context: Context, term: str, *, limit: int = DEFAULT_LIMIT) -> SearchResult:
    text = term.strip()
    if not text:
        raise InvalidValue("search for what? give an address, domain, URL, hash or words")
    if limit < 1:
        raise InvalidValue("--limit must be at least 1")
    db = context.store.db
    value = classify(text)
    matched: dict[str, list[str]] = {}
    if value is not None:
        for candidate in search_index.value_candidates(db, value, limit=limit * 20):
            if matches(value, candidate.value):
                matched.setdefault(candidate.object_id, []).append(str(candidate.value))
    for object_id, _ in search_index.text_candidates(db, text, limit=limit * 20):
        matched.setdefault(object_id, []).append("words")
    hits = describe(context, matched)
    hits = sorted(hits, key=lambda h: h.added, reverse=True)
    return SearchResult(text, value.kind if value else "words", hits[:limit], len(hits) > limit)


def describe(context: Context, matched: dict[str, list[str]]) -> list[Hit]:
    """Hits for objects: newest version, TLP, incidents, sightings and lifecycle state."""
    if not matched:
        return []
    db = context.store.db
    stored = {s.id: s for s in context.store.latest_many(list(matched))}
    incidents = search_index.incidents_of(db, list(stored))
    sightings = search_index.sightings_of(db, [i for i, s in stored.items() if s.type == "indicator"])
    refs_by_sighting = {
        s.id: str(s.obj.get("sighting_of_ref", "")) for s in stored.values() if s.type == "sighting"
    }
    via_indicator = search_index.incidents_of(db, list(refs_by_sighting.values()))
    hits = []
    for object_id, found in matched.items():
        row = stored.get(object_id)
        if row is None:
            continue
        owners = incidents.get(object_id) or via_indicator.get(refs_by_sighting.get(object_id, ""), [])
        hits.append(
            Hit(
                object_id,
                row.type,
                TLP(row.tlp),
                summary_of(row.obj),
                row.added,
                list(dict.fromkeys(found)),
                [IncidentRef(i.reference, TLP(i.tlp), i.title) for i in owners],
                sum(count for _, count in sightings.get(object_id, [])),
                indicator_state(row.obj, format_ts(context.clock())),
            )
        )
    return hits


def summary_of(obj: dict[str, Any]) -> str:
    """One line naming an object the way an analyst knows it."""
    kind = obj["type"]
    if kind == "incident":
        ours = obj.get("extensions", {}).get(search_index.OUR_EXTENSION_ID, {})
        return f"{ours.get('reference', '')} {obj.get('name', '')}".strip()
    if kind == "indicator":
        return str(obj.get("pattern", ""))
    if kind == "note":
        return str(obj.get("abstract") or obj.get("content", ""))[:120]
    if kind == "sighting":
        return f"sighting of {obj.get('sighting_of_ref', '')} ({obj.get('count', 1)}x)"
    return str(obj.get("name") or obj.get("value") or obj["id"])


def indicator_state(obj: dict[str, Any], now: str) -> str:
    """revoked, false positive, expired, or '' (active)."""
    if obj.get("type") != "indicator":
        return ""
    if obj.get("revoked"):
        return "revoked"
    if "false-positive" in obj.get("labels", ()):
        return "false positive"
    valid_until = obj.get("valid_until")
    if valid_until and str(valid_until) <= now:
        return "expired"
    return ""
