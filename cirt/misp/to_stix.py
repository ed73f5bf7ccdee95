"""MISP to STIX: events (JSON files, feeds, pulled from a partner's MISP) become STIX objects.

Pure: the events come parsed (``cirt.untrusted_json``, by ``cirt.misp.feed``, ``cirt.ingest``
or the pull of ``cirt.misp_exchange``), the objects go back to the caller, which stores them
through ``cirt.ingest``.

``to_ids`` attributes become indicators, the others observables, the event a report; composite
types (``filename|md5``, ``ip-dst|port``, ``domain|ip``, ``regkey|value`` ...), rules (yara,
snort, sigma, suricata: indicators in their own pattern language), e-mail fields, files sent in
the attribute (attachment, malware-sample, email-attachment) and ``vulnerability`` map as MISP's
own converter (misp-stix) maps them.  What misp-stix makes a custom ``x-misp-*`` object of
(text, comment, btc, pdb, a port without ``to_ids`` ...) is not imported and said so in the
notes, as is an attribute without a uuid (it cannot name a STIX object).  Every object is marked
with the level its tags and distribution give (``cirt.misp_tlp``), never lower than its event's.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cirt.errors import InputRejected
from cirt.misp_tlp import INHERIT_EVENT, distribution_floor, is_tlp_tag, resolve_tags
from cirt.observables import SCO_NAMESPACE
from cirt.stixtime import format_ts
from cirt.tlp import TLP, TLP2_MARKING_IDS

_HASH_NAMES = {
    "md5": "MD5",
    "sha1": "SHA-1",
    "sha224": "SHA-224",
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
    "sha512/224": "SHA512/224",
    "sha512/256": "SHA512/256",
    "sha3-224": "SHA3-224",
    "sha3-256": "SHA3-256",
    "sha3-384": "SHA3-384",
    "sha3-512": "SHA3-512",
    "ssdeep": "SSDEEP",
    "tlsh": "TLSH",
    "imphash": "IMPHASH",
    "pehash": "PEHASH",
    "vhash": "VHASH",
    "telfhash": "TELFHASH",
    "authentihash": "AUTHENTIHASH",
}
# STIX's hash-algorithm-ov.  Other names may appear in a pattern, not in an observable's hashes
# (that would be custom content): those attributes become indicators only.
_STIX_HASHES = frozenset({"MD5", "SHA-1", "SHA-256", "SHA-512", "SHA3-256", "SHA3-512", "SSDEEP", "TLSH"})
_PATTERN_ONLY = frozenset(
    kind
    for base, name in _HASH_NAMES.items()
    if name not in _STIX_HASHES
    for kind in (base, f"filename|{base}")
)
# MISP attribute type -> (STIX object type, property path) for the one-value types.
_FROM_MISP: dict[str, tuple[str, str]] = {
    "ip-dst": ("ip", "value"),
    "ip-src": ("ip", "value"),
    "domain": ("domain-name", "value"),
    "hostname": ("domain-name", "value"),
    "url": ("url", "value"),
    "link": ("url", "value"),
    "uri": ("url", "value"),
    "email-src": ("email-addr", "value"),
    "email-dst": ("email-addr", "value"),
    "email": ("email-addr", "value"),
    "mutex": ("mutex", "name"),
    "filename": ("file", "name"),
    "regkey": ("windows-registry-key", "key"),
    "AS": ("autonomous-system", "number"),
    "mac-address": ("mac-addr", "value"),
    "email-subject": ("email-message", "subject"),
    "email-message-id": ("email-message", "message_id"),
    "email-body": ("email-message", "body"),
    "email-reply-to": ("email-message", "additional_header_fields.Reply-To"),
    "email-x-mailer": ("email-message", "additional_header_fields.X-Mailer"),
    "x509-fingerprint-md5": ("x509-certificate", "hashes.MD5"),
    "x509-fingerprint-sha1": ("x509-certificate", "hashes.SHA-1"),
    "x509-fingerprint-sha256": ("x509-certificate", "hashes.SHA-256"),
    **{kind: ("file", f"hashes.{name}") for kind, name in _HASH_NAMES.items()},
}
_COMPOSITE = frozenset(
    {
        *(f"filename|{kind}" for kind in _HASH_NAMES),
        "ip-dst|port",
        "ip-src|port",
        "domain|ip",
        "hostname|port",
        "regkey|value",
    }
)
# STIX 2.1 §6.13: a registry key's hive MUST be written in full.
_HIVES = {
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKCU": "HKEY_CURRENT_USER",
    "HKCR": "HKEY_CLASSES_ROOT",
    "HKU": "HKEY_USERS",
    "HKCC": "HKEY_CURRENT_CONFIG",
}
# Rules in their own language: misp-stix makes an indicator of the rule whatever ``to_ids`` says.
_RULES = frozenset({"yara", "snort", "sigma", "suricata"})
# Types misp-stix makes an indicator of when ``to_ids`` is set and a custom object (which cirt
# does not import) otherwise: -> the pattern of the value.
_INDICATOR_ONLY = {
    "port": "[network-traffic:dst_port = {number}]",
    "size-in-bytes": "[file:size = {number}]",
    "user-agent": "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = {text}]",
    "http-method": "[network-traffic:extensions.'http-request-ext'.request_method = {text}]",
}
# Types whose value is a file carried in the attribute's ``data`` (base64).
_WITH_PAYLOAD = frozenset({"attachment", "malware-sample", "email-attachment"})


def is_bare_event(document: Mapping[str, Any]) -> bool:
    """A MISP event without its ``{"Event": …}`` wrapper, as ``MISPEvent.load`` accepts it: its
    ``info`` (the one field MISP requires) and no STIX ``type``."""
    return "type" not in document and isinstance(document.get("info"), str)


def events_in(document: Any, name: str) -> list[dict[str, Any]]:
    """The events of a MISP JSON document: one event (wrapped or bare), a list, or a restSearch
    answer."""
    items: Any = document
    if isinstance(document, Mapping) and "response" in document:
        items = document["response"]
        collection = _collection(items)
        if collection is not None:
            return [collection]
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list):
        raise InputRejected(f'{name}: not a MISP event (expected {{"Event": {{…}}}})')
    events = []
    for item in items:
        event = item.get("Event") if isinstance(item, Mapping) else None
        if event is None and isinstance(item, dict) and is_bare_event(item):
            event = item
        if not isinstance(event, dict):
            raise InputRejected(f'{name}: not a MISP event (expected {{"Event": {{…}}}})')
        events.append(event)
    return events


def _collection(response: Any) -> dict[str, Any] | None:
    """A restSearch answer of attributes (``{"Attribute": [...]}``) or objects (``[{"Object":
    {...}}, ...]``), as misp-stix converts it: one event without uuid, so without a report."""
    if isinstance(response, Mapping) and "info" not in response and "Event" not in response:
        for key in ("Attribute", "Object"):
            if isinstance(response.get(key), list):
                return {key: response[key]}
    if (
        isinstance(response, list)
        and response
        and all(isinstance(item, Mapping) and isinstance(item.get("Object"), Mapping) for item in response)
    ):
        return {"Object": [item["Object"] for item in response]}
    return None


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


def _number(text: str, highest: int) -> int | None:
    """A decimal number written in ASCII digits, at most ``highest`` (``str.isdigit`` also takes
    '²' and other digits ``int`` refuses)."""
    if not text.isascii() or not text.isdigit() or len(text) > len(str(highest)):
        return None
    number = int(text)
    return number if number <= highest else None


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
    event_level: TLP | None = resolved.level if (resolved.labels or event_floor > TLP.CLEAR) else None
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
        made_file = _convert_file_object(misp_object, event_level, event_floor, event_time, out, what)
        if made_file:
            members.append(made_file)
            continue
        attributes += [a for a in misp_object.get("Attribute") or [] if isinstance(a, Mapping)]
    no_uuid = 0
    for attribute in attributes:
        if not _is_uuid(attribute.get("uuid")):
            no_uuid += 1
            continue
        made = _convert_attribute(attribute, event_level, event_floor, event_time, out, what)
        if made is None:
            kind = str(attribute.get("type"))
            skipped[kind] = skipped.get(kind, 0) + 1
        else:
            members.append(made)
    why = []
    if no_uuid:
        why.append(
            f"{no_uuid} attribute(s) without a uuid (MISP gives every saved attribute "
            "one: these were never saved) not imported"
        )
    if skipped:
        kinds = ", ".join(f"{k} ({n})" for k, n in sorted(skipped.items()))
        why.append(f"attributes of types without a STIX mapping not imported: {kinds}")
    if not members:
        out.notes.append(
            f"{what} ('{str(event.get('info', ''))[:60]}') has nothing to import"
            + "".join(f"; {reason}" for reason in why)
        )
        return
    out.notes += [f"{what}: {reason}" for reason in why]
    if not _is_uuid(event_uuid):
        out.notes.append(
            f"{what} has no uuid (MISP gives every saved event one; a restSearch "
            "answer of attributes or objects has none): its attributes are "
            "imported without a report"
        )
        return
    report: dict[str, Any] = {
        "type": "report",
        "spec_version": "2.1",
        "id": f"report--{event_uuid}",
        "created": event_time,
        "modified": event_time,
        "name": str(event.get("info") or f"MISP event {event_uuid}"),
        "published": _stamp(event.get("publish_timestamp"), event_time),
        "report_types": ["threat-report"],
        "object_refs": list(dict.fromkeys(members)),
    }
    others = [t for t in tags if not is_tlp_tag(t)]
    if others:
        report["labels"] = others
    if event_level is not None:
        report["object_marking_refs"] = [TLP2_MARKING_IDS[event_level]]
    out.objects.append(report)


def _attribute_level(
    attribute: Mapping[str, Any], event_level: TLP | None, event_floor: TLP, out: Converted, what: str
) -> TLP | None:
    """The attribute's own level, never lower than its event's (tags or distribution)."""
    tags = [t for t in _tag_names(attribute) if is_tlp_tag(t)]
    floor = max(
        event_floor,
        _floor(attribute) if as_int(attribute.get("distribution")) != INHERIT_EVENT else TLP.CLEAR,
    )
    if event_level is not None:
        floor = max(floor, event_level)
    if tags:
        resolved = resolve_tags(
            tags, TLP.CLEAR, floor=floor, what=f"{what} attribute {attribute.get('uuid', '?')}"
        )
        if resolved.note:
            out.notes.append(resolved.note)
        return resolved.level
    if event_level is None:
        return floor if floor > TLP.CLEAR else None
    return floor


def _is_uuid(value: Any) -> bool:
    """Whether a MISP ``uuid`` can name a STIX object (hyphenated RFC 4122, as the validator
    wants)."""
    try:
        return (
            isinstance(value, str)
            and str(uuid.UUID(value)) == value.lower()
            and uuid.UUID(value).variant == uuid.RFC_4122
        )
    except ValueError:
        return False


def _marked(obj: dict[str, Any], level: TLP | None) -> dict[str, Any]:
    if level is not None:
        obj["object_marking_refs"] = [TLP2_MARKING_IDS[level]]
    return obj


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ip_type(value: str) -> str:
    return "ipv6-addr" if ":" in value else "ipv4-addr"


def _sco_id(stix_type: str, value: str) -> str:
    return f"{stix_type}--{uuid.uuid5(SCO_NAMESPACE, stix_type + '|' + value)}"


def _path_text(path: str) -> str:
    """A property path as a pattern writes it: a dictionary key other than letters and digits
    is quoted (``hashes.'SHA-256'``, ``additional_header_fields.'Reply-To'``)."""
    head, dot, key = path.partition(".")
    return f"{head}.'{key}'" if dot and not key.isalnum() else path


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
        literal = _number(value.upper().removeprefix("AS"), 2**32 - 1)
        if literal is None:
            return None
    obj: dict[str, Any] = {"type": stix_type, "spec_version": "2.1"}
    if stix_type == "email-message":
        obj["is_multipart"] = False
    head, dot, key = path.partition(".")
    if dot:
        obj[head] = {key: value}
    else:
        obj[path] = literal
    pattern_value = str(literal) if isinstance(literal, int) else _quote(value)
    return f"[{stix_type}:{_path_text(path)} = {pattern_value}]", [obj]


def _indicator_only(kind: str, value: str) -> str | None:
    """The pattern of a type misp-stix makes an indicator of only (port, size, HTTP)."""
    template = _INDICATOR_ONLY[kind]
    if "{number}" in template:
        number = _number(value, 65535 if kind == "port" else 2**53 - 1)
        return None if number is None else template.format(number=number)
    return template.format(text=_quote(value))


def _payload(data: Any) -> str | None:
    """The attribute's ``data`` when it is base64 (an artifact's ``payload_bin``)."""
    if not isinstance(data, str) or not data:
        return None
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None
    return data


def _with_payload(kind: str, value: str, data: Any) -> tuple[str, list[dict[str, Any]]] | None:
    """``(pattern, observables)`` of a file sent in the attribute (misp-stix's mapping; the
    pattern names the file, not its bytes, which the artifact carries)."""
    if kind == "email-attachment":
        attached = {"type": "file", "spec_version": "2.1", "name": value, "id": _sco_id("file", value)}
        message = {
            "type": "email-message",
            "spec_version": "2.1",
            "is_multipart": True,
            "body_multipart": [
                {
                    "body_raw_ref": attached["id"],
                    "content_disposition": f"attachment; filename={_quote(value)}",
                }
            ],
        }
        pattern = f"[email-message:body_multipart[*].body_raw_ref.name = {_quote(value)}]"
        return pattern, [message, attached]
    file: dict[str, Any] = {"type": "file", "spec_version": "2.1"}
    if kind == "malware-sample":
        name, _, md5 = value.partition("|")  # saved as "filename|md5"
        if not name:
            return None
        file["name"] = name
        pattern = f"[file:name = {_quote(name)}]"
        if md5:
            file["hashes"] = {"MD5": md5}
            pattern = f"[file:name = {_quote(name)} AND file:hashes.MD5 = {_quote(md5)}]"
    else:
        file["name"] = value
        pattern = f"[file:name = {_quote(value)}]"
    payload = _payload(data)
    if payload is None:
        return pattern, [file]
    artifact: dict[str, Any] = {
        "type": "artifact",
        "spec_version": "2.1",
        "id": _sco_id("artifact", payload),
        "payload_bin": payload,
    }
    if kind == "malware-sample":  # MISP stores samples zipped with the password "infected"
        artifact |= {
            "mime_type": "application/zip",
            "encryption_algorithm": "mime-type-indicated",
            "decryption_key": "infected",
        }
    file["content_ref"] = artifact["id"]
    return pattern, [file, artifact]


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
        return pattern, [{"type": "file", "spec_version": "2.1", "name": first, "hashes": {name: second}}]
    port = _number(second, 65535)
    if kind in ("ip-dst|port", "ip-src|port"):
        if port is None:
            return None
        side = "dst" if head == "ip-dst" else "src"
        ip_type = _ip_type(first)
        pattern = (
            f"[network-traffic:{side}_ref.type = '{ip_type}' AND network-traffic:"
            f"{side}_ref.value = {_quote(first)} AND network-traffic:{side}_port ="
            f" {port}]"
        )
        address = {"type": ip_type, "spec_version": "2.1", "value": first}
        address["id"] = _sco_id(ip_type, first)
        traffic = {
            "type": "network-traffic",
            "spec_version": "2.1",
            f"{side}_ref": address["id"],
            f"{side}_port": port,
            "protocols": ["tcp"],
        }
        return pattern, [traffic, address]
    if kind == "hostname|port":
        if port is None:
            return None
        pattern = f"[domain-name:value = {_quote(first)} AND network-traffic:dst_port = {port}]"
        domain = {
            "type": "domain-name",
            "spec_version": "2.1",
            "value": first,
            "id": _sco_id("domain-name", first),
        }
        traffic = {
            "type": "network-traffic",
            "spec_version": "2.1",
            "dst_ref": domain["id"],
            "dst_port": port,
            "protocols": ["tcp"],
        }
        return pattern, [traffic, domain]
    if kind == "domain|ip":
        ip_type = _ip_type(second)
        pattern = (
            f"[domain-name:value = {_quote(first)} AND domain-name:resolves_to_refs[*]"
            f".value = {_quote(second)}]"
        )
        address = {"type": ip_type, "spec_version": "2.1", "value": second, "id": _sco_id(ip_type, second)}
        named: dict[str, Any] = {
            "type": "domain-name",
            "spec_version": "2.1",
            "value": first,
            "resolves_to_refs": [address["id"]],
        }
        return pattern, [named, address]
    if kind == "regkey|value":
        pattern = (
            f"[windows-registry-key:key = {_quote(first)} AND windows-registry-key:"
            f"values[*].data = {_quote(second)}]"
        )
        return pattern, [
            {
                "type": "windows-registry-key",
                "spec_version": "2.1",
                "key": first,
                "values": [{"data": second}],
            }
        ]
    return None


def _convert_attribute(
    attribute: Mapping[str, Any],
    event_level: TLP | None,
    event_floor: TLP,
    event_time: str,
    out: Converted,
    what: str,
) -> str | None:
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
            "type": "vulnerability",
            "spec_version": "2.1",
            "id": f"vulnerability--{attribute_uuid}",
            "created": stamp,
            "modified": stamp,
            "name": value,
            "external_references": [{"source_name": "cve", "external_id": value}],
        }
        if isinstance(comment, str) and comment:
            vulnerability["description"] = comment
        out.objects.append(_marked(vulnerability, level))
        return f"vulnerability--{attribute_uuid}"
    to_ids = attribute.get("to_ids") in (True, 1, "1", "true")
    if kind in ("regkey", "regkey|value"):
        hive, sep, rest = value.partition("\\")
        value = _HIVES.get(hive.upper(), hive) + sep + rest
    mapped: tuple[str, list[dict[str, Any]]] | None
    if kind == "stix2-pattern" or kind in _RULES:
        mapped = (value, [])
    elif kind in _INDICATOR_ONLY:
        only = _indicator_only(kind, value) if to_ids else None
        mapped = (only, []) if only else None
    elif kind in _WITH_PAYLOAD:
        mapped = _with_payload(kind, value, attribute.get("data"))
    elif kind in _COMPOSITE:
        mapped = _composite(kind, value)
    else:
        mapped = _one_value(kind, value)
    if mapped is None:
        return None
    pattern, observables = mapped
    if not observables or to_ids:
        indicator = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{attribute_uuid}",
            "created": stamp,
            "modified": stamp,
            "name": comment if isinstance(comment, str) and comment else f"{kind}: {value}"[:200],
            "pattern": pattern,
            "pattern_type": kind if kind in _RULES else "stix",
            "valid_from": _stamp(attribute.get("first_seen"), stamp)
            if isinstance(attribute.get("first_seen"), int)
            else stamp,
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


def _convert_file_object(
    misp_object: Mapping[str, Any],
    event_level: TLP | None,
    event_floor: TLP,
    event_time: str,
    out: Converted,
    what: str,
) -> str | None:
    """A MISP ``file`` object without IDS attributes: one STIX file observable."""
    attributes = [a for a in misp_object.get("Attribute") or [] if isinstance(a, Mapping)]
    if (
        misp_object.get("name") != "file"
        or not _is_uuid(misp_object.get("uuid"))
        or not attributes
        or any(a.get("to_ids") in (True, 1, "1", "true") for a in attributes)
    ):
        return None
    mapped = [(a, _FROM_MISP.get(str(a.get("type")))) for a in attributes]
    if any(m is None or m[0] != "file" or not isinstance(a.get("value"), str) for a, m in mapped):
        return None
    obj: dict[str, Any] = {
        "type": "file",
        "spec_version": "2.1",
        "id": f"file--{misp_object.get('uuid', '')}",
    }
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
