"""MISP to STIX: events (JSON files, feeds, pulled from a partner's MISP) become STIX objects.

Pure: the events come parsed (``cirt.untrusted_json``, by ``cirt.misp.feed``, ``cirt.ingest``
or the pull of ``cirt.misp_exchange``), the objects go back to the caller, which stores them
through ``cirt.ingest``.

``to_ids`` attributes become indicators, the others observables, the event a report; composite
types (``filename|md5``, ``ip-dst|port``, ``domain|ip``, ``regkey|value`` ...) and
``vulnerability`` map as MISP's own converter (misp-stix) maps them.  Every object is marked with
the level its tags and distribution give (``cirt.misp_tlp``), never lower than its event's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cirt.errors import InputRejected
from cirt.misp_tlp import INHERIT_EVENT, distribution_floor, is_tlp_tag, resolve_tags
from cirt.stixtime import format_ts
from cirt.tlp import TLP, TLP2_MARKING_IDS

_HASH_NAMES = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512",
               "ssdeep": "SSDEEP", "tlsh": "TLSH", "imphash": "IMPHASH"}
# Not in STIX's hash-algorithm-ov: a pattern may name it, an observable's hashes may not (it
# would be custom content).
_PATTERN_ONLY = frozenset({"imphash", "filename|imphash"})
# MISP attribute type -> (STIX object type, property path) for the one-value types.
_FROM_MISP: dict[str, tuple[str, str]] = {
    "ip-dst": ("ip", "value"), "ip-src": ("ip", "value"), "domain": ("domain-name", "value"),
    "hostname": ("domain-name", "value"), "url": ("url", "value"), "link": ("url", "value"),
    "uri": ("url", "value"),
    "email-src": ("email-addr", "value"), "email-dst": ("email-addr", "value"),
    "email": ("email-addr", "value"), "mutex": ("mutex", "name"), "filename": ("file", "name"),
    "regkey": ("windows-registry-key", "key"), "AS": ("autonomous-system", "number"),
    "mac-address": ("mac-addr", "value"),
    **{kind: ("file", f"hashes.{name}") for kind, name in _HASH_NAMES.items()},
}
_COMPOSITE = frozenset({
    *(f"filename|{kind}" for kind in _HASH_NAMES), "ip-dst|port", "ip-src|port", "domain|ip",
    "hostname|port", "regkey|value"})
_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")  # the STIX 2.1 SCO namespace


def is_bare_event(document: Mapping[str, Any]) -> bool:
    """A MISP event without its ``{"Event": …}`` wrapper, as ``MISPEvent.load`` accepts it."""
    return "type" not in document and "info" in document and (
        "Attribute" in document or "Object" in document or "uuid" in document)


def events_in(document: Any, name: str) -> list[dict[str, Any]]:
    """The events of a MISP JSON document: one event (wrapped or bare), a list, or a restSearch
    answer."""
    items: Any = document
    if isinstance(document, Mapping) and "response" in document:
        items = document["response"]
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list):
        raise InputRejected(f"{name}: not a MISP event (expected {{\"Event\": {{…}}}})")
    events = []
    for item in items:
        event = item.get("Event") if isinstance(item, Mapping) else None
        if event is None and isinstance(item, dict) and is_bare_event(item):
            event = item
        if not isinstance(event, dict):
            raise InputRejected(f"{name}: not a MISP event (expected {{\"Event\": {{…}}}})")
        events.append(event)
    return events


@dataclass
class Converted:
    objects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _tag_names(container: Mapping[str, Any]) -> list[str]:
    tags = container.get("Tag") or []
    names = []
    for tag in tags if isinstance(tags, list) else []:
        if isinstance(tag, Mapping) and isinstance(tag.get("name"), str):
            names.append(tag["name"])
    return names


def as_int(value: Any, default: int | None = None) -> int | None:
    """A MISP number (MISP sends them as text), or ``default``."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _stamp(epoch: Any, fallback: str) -> str:
    seconds = as_int(epoch)
    if seconds is None or not 0 < seconds < 32503680000:
        return fallback
    return format_ts(datetime.fromtimestamp(seconds, UTC))


def _floor(container: Mapping[str, Any]) -> TLP:
    sharing_group = as_int(container.get("sharing_group_id"), 0) or 0
    return distribution_floor(as_int(container.get("distribution")), sharing_group > 0)


def events_to_stix(events: Iterable[Mapping[str, Any]]) -> Converted:
    """STIX objects for MISP events, marked with the level their tags and distribution give."""
    out = Converted()
    for event in events:
        _convert_event(event, out)
    return out


def _convert_event(event: Mapping[str, Any], out: Converted) -> None:
    event_uuid = str(event.get("uuid", ""))
    what = f"MISP event {event_uuid or '(no uuid)'}"
    tags = _tag_names(event)
    event_floor = _floor(event)
    resolved = resolve_tags(tags, TLP.CLEAR, floor=event_floor, what=what)
    event_level: TLP | None = resolved.level if (resolved.labels or event_floor > TLP.CLEAR) \
        else None
    if resolved.note and resolved.labels:
        out.notes.append(resolved.note)
    elif not resolved.labels:
        out.notes.append(f"{what} has no tlp: tag: the default TLP applies")
    event_time = _stamp(event.get("timestamp"), "1970-01-01T00:00:00.000Z")
    members: list[str] = []
    skipped: dict[str, int] = {}
    attributes = [a for a in event.get("Attribute") or [] if isinstance(a, Mapping)]
    for misp_object in event.get("Object") or []:
        if not isinstance(misp_object, Mapping):
            continue
        made_file = _convert_file_object(misp_object, event_level, event_floor, event_time, out,
                                         what)
        if made_file:
            members.append(made_file)
            continue
        attributes += [a for a in misp_object.get("Attribute") or [] if isinstance(a, Mapping)]
    for attribute in attributes:
        made = _convert_attribute(attribute, event_level, event_floor, event_time, out, what)
        if made is None:
            kind = str(attribute.get("type"))
            skipped[kind] = skipped.get(kind, 0) + 1
        else:
            members.append(made)
    if skipped:
        kinds = ", ".join(f"{k} ({n})" for k, n in sorted(skipped.items()))
        out.notes.append(f"{what}: attributes of types without a STIX mapping not imported: "
                         f"{kinds}")
    if not members:
        out.notes.append(f"{what} ('{str(event.get('info', ''))[:60]}') has nothing to import")
        return
    report: dict[str, Any] = {
        "type": "report", "spec_version": "2.1", "id": f"report--{event_uuid}",
        "created": event_time, "modified": event_time,
        "name": str(event.get("info") or f"MISP event {event_uuid}"),
        "published": _stamp(event.get("publish_timestamp"), event_time),
        "report_types": ["threat-report"], "object_refs": list(dict.fromkeys(members)),
    }
    others = [t for t in tags if not is_tlp_tag(t)]
    if others:
        report["labels"] = others
    if event_level is not None:
        report["object_marking_refs"] = [TLP2_MARKING_IDS[event_level]]
    out.objects.append(report)


def _attribute_level(attribute: Mapping[str, Any], event_level: TLP | None, event_floor: TLP,
                     out: Converted, what: str) -> TLP | None:
    """The attribute's own level, never lower than its event's (tags or distribution)."""
    tags = [t for t in _tag_names(attribute) if is_tlp_tag(t)]
    floor = max(event_floor, _floor(attribute) if as_int(attribute.get("distribution"))
                != INHERIT_EVENT else TLP.CLEAR)
    if event_level is not None:
        floor = max(floor, event_level)
    if tags:
        resolved = resolve_tags(tags, TLP.CLEAR, floor=floor,
                                what=f"{what} attribute {attribute.get('uuid', '?')}")
        if resolved.note:
            out.notes.append(resolved.note)
        return resolved.level
    if event_level is None:
        return floor if floor > TLP.CLEAR else None
    return floor


def _marked(obj: dict[str, Any], level: TLP | None) -> dict[str, Any]:
    if level is not None:
        obj["object_marking_refs"] = [TLP2_MARKING_IDS[level]]
    return obj


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ip_type(value: str) -> str:
    return "ipv6-addr" if ":" in value else "ipv4-addr"


def _sco_id(stix_type: str, value: str) -> str:
    return f"{stix_type}--{uuid.uuid5(_NAMESPACE, stix_type + '|' + value)}"


def _path_text(path: str) -> str:
    if path.startswith("hashes."):
        name = path.split(".", 1)[1]
        return f"hashes.'{name}'" if "-" in name else path
    return path


def _one_value(kind: str, value: str) -> tuple[str, list[dict[str, Any]]] | None:
    """``(pattern, observables)`` of a one-value attribute type, the first observable its own."""
    target = _FROM_MISP.get(kind)
    if target is None:
        return None
    stix_type, path = target
    if stix_type == "ip":
        stix_type = _ip_type(value)
    literal: Any = value
    if stix_type == "autonomous-system":
        digits = value.upper().removeprefix("AS")
        if not digits.isdigit():
            return None
        literal = int(digits)
    obj: dict[str, Any] = {"type": stix_type, "spec_version": "2.1"}
    if path.startswith("hashes."):
        obj["hashes"] = {path.split(".", 1)[1]: value}
    else:
        obj[path] = literal
    pattern_value = str(literal) if isinstance(literal, int) else _quote(value)
    return f"[{stix_type}:{_path_text(path)} = {pattern_value}]", [obj]


def _composite(kind: str, value: str) -> tuple[str, list[dict[str, Any]]] | None:
    """``(pattern, observables)`` of a composite attribute, as misp-stix maps it."""
    first, sep, second = value.partition("|")
    if not sep or not first or not second:
        return None
    head, _, tail = kind.partition("|")
    if head == "filename":
        name = _HASH_NAMES[tail]
        path = _path_text(f"hashes.{name}")
        pattern = f"[file:name = {_quote(first)} AND file:{path} = {_quote(second)}]"
        return pattern, [{"type": "file", "spec_version": "2.1", "name": first,
                          "hashes": {name: second}}]
    if kind in ("ip-dst|port", "ip-src|port"):
        if not second.isdigit() or not 0 <= int(second) <= 65535:
            return None
        side = "dst" if head == "ip-dst" else "src"
        ip_type = _ip_type(first)
        pattern = (f"[network-traffic:{side}_ref.type = '{ip_type}' AND network-traffic:"
                   f"{side}_ref.value = {_quote(first)} AND network-traffic:{side}_port ="
                   f" {int(second)}]")
        address = {"type": ip_type, "spec_version": "2.1", "value": first}
        address["id"] = _sco_id(ip_type, first)
        traffic = {"type": "network-traffic", "spec_version": "2.1",
                   f"{side}_ref": address["id"], f"{side}_port": int(second),
                   "protocols": ["tcp"]}
        return pattern, [traffic, address]
    if kind == "hostname|port":
        if not second.isdigit() or not 0 <= int(second) <= 65535:
            return None
        pattern = (f"[domain-name:value = {_quote(first)} AND network-traffic:dst_port ="
                   f" {int(second)}]")
        domain = {"type": "domain-name", "spec_version": "2.1", "value": first,
                  "id": _sco_id("domain-name", first)}
        traffic = {"type": "network-traffic", "spec_version": "2.1", "dst_ref": domain["id"],
                   "dst_port": int(second), "protocols": ["tcp"]}
        return pattern, [traffic, domain]
    if kind == "domain|ip":
        ip_type = _ip_type(second)
        pattern = (f"[domain-name:value = {_quote(first)} AND domain-name:resolves_to_refs[*]"
                   f".value = {_quote(second)}]")
        address = {"type": ip_type, "spec_version": "2.1", "value": second,
                   "id": _sco_id(ip_type, second)}
        named: dict[str, Any] = {"type": "domain-name", "spec_version": "2.1", "value": first,
                  "resolves_to_refs": [address["id"]]}
        return pattern, [named, address]
    if kind == "regkey|value":
        pattern = (f"[windows-registry-key:key = {_quote(first)} AND windows-registry-key:"
                   f"values[*].data = {_quote(second)}]")
        return pattern, [{"type": "windows-registry-key", "spec_version": "2.1", "key": first,
                          "values": [{"data": second}]}]
    return None


def _convert_attribute(attribute: Mapping[str, Any], event_level: TLP | None, event_floor: TLP,
                       event_time: str, out: Converted, what: str) -> str | None:
    kind = str(attribute.get("type", ""))
    value = attribute.get("value")
    attribute_uuid = str(attribute.get("uuid", ""))
    if not isinstance(value, str) or not value:
        return None
    level = _attribute_level(attribute, event_level, event_floor, out, what)
    stamp = _stamp(attribute.get("timestamp"), event_time)
    comment = attribute.get("comment")
    if kind == "vulnerability":
        vulnerability: dict[str, Any] = {
            "type": "vulnerability", "spec_version": "2.1",
            "id": f"vulnerability--{attribute_uuid}", "created": stamp, "modified": stamp,
            "name": value, "external_references": [{"source_name": "cve", "external_id": value}]}
        if isinstance(comment, str) and comment:
            vulnerability["description"] = comment
        out.objects.append(_marked(vulnerability, level))
        return f"vulnerability--{attribute_uuid}"
    if kind == "stix2-pattern":
        mapped: tuple[str, list[dict[str, Any]]] | None = (value, [])
    elif kind in _COMPOSITE:
        mapped = _composite(kind, value)
    else:
        mapped = _one_value(kind, value)
    if mapped is None:
        return None
    pattern, observables = mapped
    to_ids = attribute.get("to_ids") in (True, 1, "1", "true")
    if kind == "stix2-pattern" or to_ids:
        indicator = {
            "type": "indicator", "spec_version": "2.1", "id": f"indicator--{attribute_uuid}",
            "created": stamp, "modified": stamp,
            "name": comment if isinstance(comment, str) and comment else f"{kind}: {value}"[:200],
            "pattern": pattern, "pattern_type": "stix",
            "valid_from": _stamp(attribute.get("first_seen"), stamp)
            if isinstance(attribute.get("first_seen"), int) else stamp,
        }
        out.objects.append(_marked(indicator, level))
        return indicator["id"]
    if kind in _PATTERN_ONLY:
        return None
    main = observables[0]
    main.setdefault("id", f"{main['type']}--{attribute_uuid}")
    for observable in observables:
        out.objects.append(_marked(observable, level))
    return str(main["id"])


def _convert_file_object(misp_object: Mapping[str, Any], event_level: TLP | None,
                         event_floor: TLP, event_time: str, out: Converted,
                         what: str) -> str | None:
    """A MISP ``file`` object without IDS attributes: one STIX file observable."""
    attributes = [a for a in misp_object.get("Attribute") or [] if isinstance(a, Mapping)]
    if misp_object.get("name") != "file" or not attributes or any(
            a.get("to_ids") in (True, 1, "1", "true") for a in attributes):
        return None
    mapped = [(a, _FROM_MISP.get(str(a.get("type")))) for a in attributes]
    if any(m is None or m[0] != "file" or not isinstance(a.get("value"), str)
           for a, m in mapped):
        return None
    obj: dict[str, Any] = {"type": "file", "spec_version": "2.1",
                           "id": f"file--{misp_object.get('uuid', '')}"}
    levels = []
    for attribute, target in mapped:
        assert target is not None
        path = target[1]
        if path.startswith("hashes."):
            obj.setdefault("hashes", {})[path.split(".", 1)[1]] = attribute["value"]
        else:
            obj[path] = attribute["value"]
        levels.append(_attribute_level(attribute, event_level, event_floor, out, what))
    known = [lvl for lvl in levels if lvl is not None]
    out.objects.append(_marked(obj, max(known) if known else None))
    return str(obj["id"])
