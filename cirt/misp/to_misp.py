"""STIX to MISP: released objects become a MISP event, built with PyMISP's offline objects.

Pure: no I/O, no clock (every timestamp comes from the content).  What the sharing gate released
to a recipient becomes a MISP event (``MISPEvent`` /
``MISPAttribute`` / a ``file`` ``MISPObject``): indicators with a ``[type:path = 'value']``
pattern become typed attributes (``to_ids``), other patterns ``stix2-pattern`` attributes,
observables attributes or file objects without ``to_ids``.  The event carries the most
restrictive ``tlp:`` tag of its content and the incident's RSIT class as an ``rsit:`` tag;
an attribute whose level differs carries its own tag.  Distribution comes from the level
(``cirt.misp_tlp``): AMBER and AMBER+STRICT never beyond "your organisation only"; RED never
leaves (the gate withholds it, and building an event with it raises).  Which objects go, and the
disclosure recorded before anything leaves, are ``cirt.misp_exchange``'s.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymisp import MISPAttribute, MISPEvent, MISPObject, MISPOrganisation

from cirt.errors import SharingDenied
from cirt.incidents import OUR_EXTENSION_ID
from cirt.misp_tlp import ALL_COMMUNITIES, export_distribution, misp_tag
from cirt.stix_validation import simple_pattern
from cirt.stixtime import parse_ts
from cirt.tlp import TLP

# One mapping, both ways: (STIX object type, path) <-> MISP attribute type.
_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}
_TO_MISP: dict[tuple[str, str], str] = {
    ("ipv4-addr", "value"): "ip-dst",
    ("ipv6-addr", "value"): "ip-dst",
    ("domain-name", "value"): "domain",
    ("url", "value"): "url",
    ("email-addr", "value"): "email-src",
    ("mutex", "name"): "mutex",
    ("file", "name"): "filename",
    **{("file", f"hashes.{algo}"): kind for algo, kind in _HASHES.items()},
}
OBSERVABLE_TYPES = frozenset(t for t, _ in _TO_MISP)
"""The observable types an event can carry (as attributes or file objects)."""
THREAT_LEVELS = {"critical": 1, "high": 1, "medium": 2, "low": 3}
UUID_NAMESPACE = uuid.UUID("5b0e6c1d-3f3a-4b8e-9f0e-0d6f1c1d2e3f")


def stix_path(stix_type: str, path: list[str]) -> tuple[str, str] | None:
    """Normalise a pattern path (``hashes.'SHA-256'``) to the mapping's key."""
    parts = [p.strip("'") for p in path]
    if len(parts) == 2 and parts[0] == "hashes":
        parts[1] = parts[1].upper()
    return stix_type, ".".join(parts)


def indicator_attribute(obj: Mapping[str, Any]) -> tuple[str, str]:
    """``(MISP type, value)`` for an indicator: typed when the pattern is simple and mapped."""
    if obj.get("pattern_type") == "stix":
        simple = simple_pattern(str(obj.get("pattern", "")))
        if simple is not None:
            key = stix_path(simple[0], simple[1])
            if key in _TO_MISP:
                return _TO_MISP[key], simple[2]
    return "stix2-pattern", str(obj["pattern"])


def observable_attributes(obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(MISP type, value)`` pairs of an observable we know how to express."""
    out = []
    for (stix_type, path), kind in _TO_MISP.items():
        if stix_type != obj.get("type"):
            continue
        value: Any = obj
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            out.append((kind, value))
    return out


@dataclass(frozen=True)
class Offered:
    """A released object and its level, as the event builder needs them; ``detect`` False for
    an indicator no longer to be used for detection (revoked, expired, a false positive: issue
    13), whose attribute then goes without ``to_ids``."""

    obj: Mapping[str, Any]
    tlp: TLP
    detect: bool = True


def uuid_of(stix_id: str) -> str:
    """The uuid part of a STIX id: what a MISP event, attribute or object is named by."""
    return stix_id.split("--", 1)[1]


def _epoch(timestamp: str) -> int:
    return int(parse_ts(timestamp).timestamp())


def build_event(
    content: Sequence[Offered],
    *,
    event_uuid: str,
    info: str,
    date: datetime,
    org_name: str,
    org_uuid: str,
    incident: Mapping[str, Any] | None = None,
    audience_cap: int = ALL_COMMUNITIES,
) -> MISPEvent:
    """A MISP event of released objects; raises SharingDenied if anything is RED."""
    red = [o.obj.get("id", "?") for o in content if o.tlp is TLP.RED]
    if red:
        raise SharingDenied(str(red[0]), TLP.RED.label, "MISP", "TLP:RED never leaves through MISP")
    event = MISPEvent()
    event.uuid = event_uuid
    event.info = info
    event.date = date.date()
    org = MISPOrganisation()
    org.name, org.uuid = org_name, org_uuid
    event.Orgc = org
    event.analysis = 1
    event.threat_level_id = 4
    levels = [o.tlp for o in content]
    event_level = max(levels) if levels else TLP.CLEAR
    event.add_tag(misp_tag(event_level))
    if incident is not None:
        ours = our_extension(incident)
        event.threat_level_id = THREAT_LEVELS.get(str(ours.get("severity")), 4)
        category = str(ours.get("category", ""))
        if ":" in category:
            cls, kind = category.split(":", 1)
            event.add_tag(f'rsit:{cls}="{kind}"')
        event.analysis = 2 if str(ours.get("status", "")) == "closed" else 1

    def place(attribute: MISPAttribute, level: TLP) -> None:
        attribute.distribution = min(export_distribution(level), audience_cap)
        if level is not event_level:
            attribute.add_tag(misp_tag(level))

    modified: list[str] = []
    for item in content:
        obj = item.obj
        if obj.get("type") == "indicator":
            kind, value = indicator_attribute(obj)
            attribute = _single(
                event.add_attribute(
                    kind, value, to_ids=item.detect, uuid=uuid_of(obj["id"]), comment=str(obj.get("name", ""))
                )
            )
            version = str(obj.get("modified") or obj.get("created") or "")
            attribute.timestamp = _epoch(version)
            place(attribute, item.tlp)
            modified.append(version)
        elif obj.get("type") == "file" and len(observable_attributes(obj)) > 1:
            misp_object = MISPObject("file", standalone=False)
            misp_object.uuid = uuid_of(obj["id"])
            for kind, value in observable_attributes(obj):
                relation = "filename" if kind == "filename" else kind
                added = misp_object.add_attribute(
                    relation,
                    value=value,
                    type=kind,
                    to_ids=False,
                    uuid=str(uuid.uuid5(UUID_NAMESPACE, f"{obj['id']}|{kind}")),
                )
                if added is not None:
                    place(added, item.tlp)
            misp_object.distribution = min(export_distribution(item.tlp), audience_cap)
            event.add_object(misp_object)
        elif obj.get("type") in OBSERVABLE_TYPES:
            for kind, value in observable_attributes(obj)[:1]:
                attribute = _single(event.add_attribute(kind, value, to_ids=False, uuid=uuid_of(obj["id"])))
                place(attribute, item.tlp)
        if "modified" in obj:
            modified.append(str(obj["modified"]))
    # The event's own level decides how far it goes (the table of `cirt misp tlp`); an
    # attribute may be narrower, never wider, and MISP applies the narrower of the two.
    event.distribution = min(export_distribution(event_level), audience_cap)
    # Every timestamp from the content, none from the clock: the same content is the same
    # event (push compares digests), however often it is built.
    stamp = _epoch(max(modified)) if modified else int(date.timestamp())
    event.timestamp = event.publish_timestamp = stamp
    for attribute in event.attributes:
        if not hasattr(attribute, "timestamp"):
            attribute.timestamp = stamp
    for misp_object in event.objects:
        misp_object.timestamp = stamp
        for attribute in misp_object.attributes:
            attribute.timestamp = stamp
    return event


def _single(added: MISPAttribute | list[MISPAttribute]) -> MISPAttribute:
    """``add_attribute`` answers a list only for a list of values, which we never pass."""
    return added[0] if isinstance(added, list) else added


def our_extension(incident: Mapping[str, Any]) -> Mapping[str, Any]:
    """Our extension of an incident (reference, category, severity, status), or nothing."""
    ext = incident.get("extensions", {}).get(OUR_EXTENSION_ID, {})
    return ext if isinstance(ext, Mapping) else {}


def event_dict(event: MISPEvent) -> dict[str, Any]:
    """The event as MISP's JSON ({"Event": {...}}), distribution included."""
    feed: dict[str, Any] = event.to_feed(with_meta=False, with_distribution=True)
    return feed
