"""Indicators of compromise: STIX indicator objects, linked to incidents by relationships.

Also what happens to an indicator afterwards: sightings by organisations of the community
(``sight``), what the CIRT knows about it (``show``), and the end of its life (``retire``).
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cirt import patterns
from cirt.context import Context
from cirt.errors import InvalidValue, NotFound
from cirt.incident_desk import IncidentDesk
from cirt.lifecycle import retire
from cirt.search import IncidentRef, indicator_state
from cirt.stixtime import format_ts, parse_ts
from cirt.store import LOCAL, Provenance, StoredObject, search_index
from cirt.tlp import TLP

if TYPE_CHECKING:
    from cirt.community import Community

QUICK_FORMS = ("ip", "domain", "url", "sha256", "md5", "email")


def build_pattern(form: str, value: str) -> str:
    """The pattern for a quick form (``--ip``, ``--domain``…), quoted and escaped correctly."""
    if form == "ip":
        return patterns.ip_pattern(value)
    if form == "domain":
        return patterns.domain_pattern(value)
    if form == "url":
        return patterns.url_pattern(value)
    if form in ("sha256", "md5"):
        return patterns.hash_pattern(form, value)
    if form == "email":
        return patterns.email_pattern(value)
    raise InvalidValue(f"'{form}' is not an indicator form (use one of: {', '.join(QUICK_FORMS)})")


class IndicatorDesk:
    def __init__(self, context: Context, *, incidents: IncidentDesk) -> None:
        self.context = context
        self.incidents = incidents

    def add(
        self,
        *,
        pattern: str | None = None,
        form: str | None = None,
        value: str | None = None,
        incident: str | None = None,
        tlp: TLP | str | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Create an indicator; with an incident, it joins the incident's audience and TLP."""
        if (pattern is None) == (form is None):
            raise InvalidValue("give exactly one of --pattern or a quick form (--ip, --domain, …)")
        if form is not None:
            pattern = build_pattern(form, value or "")
        assert pattern is not None
        patterns.validate_pattern(pattern)
        community = self.context.community
        target = self.incidents.get(incident) if incident else None
        if tlp is not None:
            level = tlp if isinstance(tlp, TLP) else TLP.parse(tlp)
        elif target is not None:
            level = target.tlp(community.default_tlp)
        else:
            level = community.default_tlp
        stamp = format_ts(self.context.clock())
        indicator: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": self.context.ids("indicator"),
            "created": stamp,
            "modified": stamp,
            "created_by_ref": self.context.identity,
            "name": name or (value if value else pattern),
            "indicator_types": ["malicious-activity"],
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": stamp,
            "object_marking_refs": [level.marking_id],
        }
        audience = set(community.concerned_by(value)) if value else set()
        store, provenance = self.context.store, Provenance(LOCAL, self.context.analyst)
        with store.transaction():
            store.put(indicator, tlp=int(level), provenance=provenance)
            if target is not None:
                link_level = max(level, target.tlp(community.default_tlp))
                relationship = {
                    "type": "relationship",
                    "spec_version": "2.1",
                    "id": self.context.ids("relationship"),
                    "created": stamp,
                    "modified": stamp,
                    "created_by_ref": self.context.identity,
                    "relationship_type": "related-to",
                    "source_ref": indicator["id"],
                    "target_ref": target.id,
                    "object_marking_refs": [link_level.marking_id],
                }
                store.put(relationship, tlp=int(link_level), provenance=provenance)
                store.link(target.id, indicator["id"])
                store.link(target.id, relationship["id"])
                audience |= set(store.audience_of(target.id).get("org", ()))
                store.add_audience(relationship["id"], "org", sorted(audience))
            if audience:
                store.add_audience(indicator["id"], "org", sorted(audience))
        return indicator

    def list(self, *, incident: str | None = None) -> builtins.list[dict[str, Any]]:
        if incident:
            return [o for o in self.incidents.linked_objects(incident) if o["type"] == "indicator"]
        return [s.obj for s in self.context.store.latest_objects(types=["indicator"])]

    # --- issue 13: sightings, what we know of an indicator, the end of its life ---------------

    def _indicator(self, object_id: str) -> StoredObject:
        stored = self.context.store.get(object_id.strip())
        if stored is None or stored.type != "indicator":
            raise NotFound(f"no indicator '{object_id}' (see 'cirt indicator list' or 'cirt search VALUE')")
        return stored

    def sight(
        self,
        indicator_id: str,
        *,
        by: str,
        count: int = 1,
        first: str | None = None,
        last: str | None = None,
        tlp: TLP | str | None = None,
    ) -> dict[str, Any]:
        """A STIX sighting: ``by`` (a sectors.yaml party) saw the indicator ``count`` times.

        A sighting reveals its victim, so it is at least TLP:AMBER unless told otherwise, and
        its audience is the organisation that saw it and the national CIRT: it leaves only
        through the gate, like everything else.
        """
        indicator = self._indicator(indicator_id)
        community = self.context.community
        party = community.party(by)
        if count < 1:
            raise InvalidValue("--count must be at least 1")
        first_seen, last_seen = _stamp("--first", first), _stamp("--last", last)
        if first_seen and last_seen and last_seen < first_seen:
            raise InvalidValue("--last is before --first")
        if tlp is not None:
            level = tlp if isinstance(tlp, TLP) else TLP.parse(tlp)
        else:
            level = max(TLP(indicator.tlp), TLP.AMBER)
        stamp = format_ts(self.context.clock())
        sighting: dict[str, Any] = {
            "type": "sighting",
            "spec_version": "2.1",
            "id": self.context.ids("sighting"),
            "created": stamp,
            "modified": stamp,
            "created_by_ref": self.context.identity,
            "sighting_of_ref": indicator.id,
            "where_sighted_refs": [party.identity],
            "count": count,
            "object_marking_refs": [level.marking_id],
            **({"first_seen": first_seen} if first_seen else {}),
            **({"last_seen": last_seen} if last_seen else {}),
        }
        store = self.context.store
        with store.transaction():
            if store.get(party.identity) is None:  # the gate releases what it can resolve
                store.put(
                    _party_identity(party, self.context.identity),
                    tlp=int(TLP.GREEN),
                    provenance=Provenance(LOCAL, self.context.analyst),
                )
            store.put(sighting, tlp=int(level), provenance=Provenance(LOCAL, self.context.analyst))
            for incident_id in store.incidents_linking(indicator.id):
                store.link(incident_id, sighting["id"])
            store.add_audience(sighting["id"], "org", sorted({party.id, community.national.id}))
        return sighting

    def show(self, indicator_id: str) -> IndicatorView:
        indicator = self._indicator(indicator_id)
        db = self.context.store.db
        incidents = [
            IncidentRef(i.reference, TLP(i.tlp), i.title)
            for i in search_index.incidents_of(db, [indicator.id]).get(indicator.id, [])
        ]
        sightings = []
        rows = search_index.sightings_of(db, [indicator.id]).get(indicator.id, [])
        store, community = self.context.store, self.context.community
        for stored in store.latest_many([sighting_id for sighting_id, _ in rows]):
            origin = store.provenance_of(stored.id, stored.modified)
            sightings.append(SightingView.of(stored, community, origin.source if origin else "?"))
        sightings.sort(key=lambda s: s.created)
        return IndicatorView(
            indicator.obj,
            TLP(indicator.tlp),
            indicator_state(indicator.obj, format_ts(self.context.clock())),
            [v.modified for v in self.context.store.history(indicator.id)],
            incidents,
            sightings,
        )

    def retire(self, indicator_id: str, action: str, *, reason: str) -> Retired:
        """Revoke, expire or mark a false positive: a new version and a note with the reason,
        for every partner who received an earlier version (the disclosure log says who)."""
        if not reason.strip():
            raise InvalidValue("say why (--reason): partners read it")
        store = self.context.store
        with store.transaction():
            stored = store.get_for_update(self._indicator(indicator_id).id)
            assert stored is not None
            creator = stored.obj.get("created_by_ref")
            if creator != self.context.identity:
                raise InvalidValue(
                    f"{stored.id} was created by {creator or 'an unknown source'}:"
                    " only its creator makes new versions (tell them, or add a "
                    "note)"
                )
            version = retire(stored.obj, action, self.context.clock())
            provenance = Provenance(LOCAL, self.context.analyst)
            store.put(version, tlp=stored.tlp, provenance=provenance)
            note: dict[str, Any] = {
                "type": "note",
                "spec_version": "2.1",
                "id": self.context.ids("note"),
                "created": version["modified"],
                "modified": version["modified"],
                "created_by_ref": self.context.identity,
                "authors": [self.context.analyst],
                "abstract": f"Indicator {action}",
                "content": reason.strip(),
                "object_refs": [stored.id],
                "object_marking_refs": list(
                    stored.obj.get("object_marking_refs", [TLP(stored.tlp).marking_id])
                ),
            }
            store.put(note, tlp=stored.tlp, provenance=provenance)
            for incident_id in store.incidents_linking(stored.id):
                store.link(incident_id, note["id"])
            members = store.audience_of(stored.id)
            if members.get("org"):
                store.add_audience(note["id"], "org", members["org"])
        received = sorted({(e.recipient, e.channel) for e in store.disclosures(object_id=stored.id)})
        return Retired(
            version,
            note["id"],
            action,
            [{"recipient": r, "channel": c, "delivery": DELIVERY.get(c, MANUAL)} for r, c in received],
        )


MANUAL = "not automatic: tell them (bulletin send, export --for)"
DELIVERY = {
    "taxii": "the next 'cirt taxii push' sends the new version",
    "misp": "the next 'cirt misp push' updates the event (to_ids off)",
}


def _party_identity(party: Any, creator: str) -> dict[str, Any]:
    """The STIX identity of a sectors.yaml party (its declared id), known to the community."""
    sector = getattr(party, "sector", None)
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": party.identity,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "created_by_ref": creator,
        "name": party.name,
        "identity_class": "organization",
        **({"sectors": [sector]} if sector else {}),
        "object_marking_refs": [TLP.GREEN.marking_id],
    }


def _stamp(option: str, text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return format_ts(parse_ts(text))
    except ValueError:
        raise InvalidValue(f"{option} '{text}' is not a time such as 2026-11-03T14:00:00Z") from None


@dataclass(frozen=True)
class SightingView:
    id: str
    by: list[str]  # party ids of sectors.yaml, or the identity when unknown
    count: int
    first_seen: str | None
    last_seen: str | None
    created: str
    tlp: TLP
    source: str  # our analyst, or the partner it came from

    @classmethod
    def of(cls, stored: StoredObject, community: Community, source: str) -> SightingView:
        obj = stored.obj
        names = {
            p.identity: p.id
            for p in (community.national, *community.organisations.values(), *community.partners.values())
        }
        return cls(
            stored.id,
            [names.get(r, r) for r in obj.get("where_sighted_refs", [])],
            int(obj.get("count", 1)),
            obj.get("first_seen"),
            obj.get("last_seen"),
            str(obj.get("created", "")),
            TLP(stored.tlp),
            source,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "by": self.by,
            "count": self.count,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "created": self.created,
            "tlp": self.tlp.label.removeprefix("TLP:").lower(),
            "source": self.source,
        }


@dataclass(frozen=True)
class IndicatorView:
    obj: dict[str, Any]
    tlp: TLP
    state: str
    versions: list[str]
    incidents: list[Any]
    sightings: list[SightingView] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.obj,
            "tlp": self.tlp.label.removeprefix("TLP:").lower(),
            "state": self.state or "active",
            "versions": self.versions,
            "incidents": [i.as_dict() for i in self.incidents],
            "sightings": [s.as_dict() for s in self.sightings],
            "sighted": sum(s.count for s in self.sightings),
        }


@dataclass(frozen=True)
class Retired:
    indicator: dict[str, Any]
    note_id: str
    action: str
    recipients: list[dict[str, str]]  # who received an earlier version, and how it reaches them

    def as_dict(self) -> dict[str, Any]:
        return {
            "indicator": self.indicator,
            "action": self.action,
            "note": self.note_id,
            "recipients": self.recipients,
        }
