"""Indicators of compromise: STIX indicator objects, linked to incidents by relationships."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from cirt import patterns
from cirt.errors import InvalidValue
from cirt.stixtime import format_ts
from cirt.store import LOCAL, Provenance
from cirt.tlp import TLP

if TYPE_CHECKING:
    from cirt.workspace import Workspace

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
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def add(self, *, pattern: str | None = None, form: str | None = None,
            value: str | None = None, incident: str | None = None,
            tlp: TLP | str | None = None, name: str | None = None) -> dict[str, Any]:
        """Create an indicator; with an incident, it joins the incident's audience and TLP."""
        if (pattern is None) == (form is None):
            raise InvalidValue("give exactly one of --pattern or a quick form (--ip, --domain, …)")
        if form is not None:
            pattern = build_pattern(form, value or "")
        assert pattern is not None
        patterns.validate_pattern(pattern)
        community = self.ws.community
        target = self.ws.incidents.get(incident) if incident else None
        if tlp is not None:
            level = tlp if isinstance(tlp, TLP) else TLP.parse(tlp)
        elif target is not None:
            level = target.tlp(community.default_tlp)
        else:
            level = community.default_tlp
        stamp = format_ts(self.ws.clock())
        indicator: dict[str, Any] = {
            "type": "indicator", "spec_version": "2.1", "id": self.ws.ids("indicator"),
            "created": stamp, "modified": stamp, "created_by_ref": self.ws.identity,
            "name": name or (value if value else pattern),
            "indicator_types": ["malicious-activity"],
            "pattern": pattern, "pattern_type": "stix", "valid_from": stamp,
            "object_marking_refs": [level.marking_id],
        }
        audience = set(community.concerned_by(value)) if value else set()
        store, provenance = self.ws.store, Provenance(LOCAL, self.ws.analyst)
        with store.transaction():
            store.put(indicator, tlp=int(level), provenance=provenance)
            if target is not None:
                link_level = max(level, target.tlp(community.default_tlp))
                relationship = {
                    "type": "relationship", "spec_version": "2.1",
                    "id": self.ws.ids("relationship"), "created": stamp, "modified": stamp,
                    "created_by_ref": self.ws.identity, "relationship_type": "related-to",
                    "source_ref": indicator["id"], "target_ref": target.id,
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
            return [o for o in self.ws.incidents.linked_objects(incident)
                    if o["type"] == "indicator"]
        return [s.obj for s in self.ws.store.latest_objects(types=["indicator"])]

