"""MISP exchange: events and feeds built with PyMISP's offline objects, live sync at the edge.

Out: what the sharing gate releases to a recipient becomes a MISP event (``MISPEvent`` /
``MISPAttribute`` / a ``file`` ``MISPObject``): indicators with a ``[type:path = 'value']``
pattern become typed attributes (``to_ids``), other patterns ``stix2-pattern`` attributes,
observables attributes or file objects without ``to_ids``.  The event carries the most
restrictive ``tlp:`` tag of its content and the incident's RSIT class as an ``rsit:`` tag;
an attribute whose level differs carries its own tag.  Distribution comes from the level
(``cirt.misp_tlp``): AMBER and AMBER+STRICT never beyond "your organisation only"; RED never
leaves (the gate withholds it, and building an event with it raises).  Every release is recorded
in the disclosure log before anything is written or sent.

In: ``cirt.misp_inbound`` (events, feeds and pulls become STIX objects through ``cirt.ingest``).
The live API (PyMISP) is used only in ``_connect`` and the push/pull functions.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cirt.errors import InvalidValue, NotFound, RemoteError, SharingDenied
from cirt.lifecycle import retired  # revoked, expired, false positive: no IDS (issue 13)
from cirt.misp_tlp import (
    ALL_COMMUNITIES,
    THIS_COMMUNITY,
    export_distribution,
    misp_tag,
)
from cirt.stix_validation import simple_pattern
from cirt.stixtime import format_ts
from cirt.store import StoredObject, canonical_json, version_of
from cirt.tlp import TLP

if TYPE_CHECKING:
    from pymisp import MISPAttribute, MISPEvent

    from cirt.community import MispEndpoint
    from cirt.gate import Release
    from cirt.sharing import Disclosure
    from cirt.workspace import Workspace

CHANNEL = "misp"

# One mapping, both ways: (STIX object type, path) <-> MISP attribute type.
_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-512": "sha512"}
_TO_MISP: dict[tuple[str, str], str] = {
    ("ipv4-addr", "value"): "ip-dst", ("ipv6-addr", "value"): "ip-dst",
    ("domain-name", "value"): "domain", ("url", "value"): "url",
    ("email-addr", "value"): "email-src", ("mutex", "name"): "mutex",
    ("file", "name"): "filename",
    **{("file", f"hashes.{algo}"): kind for algo, kind in _HASHES.items()},
}
_OBSERVABLE_TYPES = frozenset(t for t, _ in _TO_MISP)
THREAT_LEVELS = {"critical": 1, "high": 1, "medium": 2, "low": 3}
UUID_NAMESPACE = uuid.UUID("5b0e6c1d-3f3a-4b8e-9f0e-0d6f1c1d2e3f")


# --- STIX -> MISP --------------------------------------------------------------------------------

def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


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
    """A released object and its level, as the event builder needs them."""

    obj: Mapping[str, Any]
    tlp: TLP


def _uuid_of(stix_id: str) -> str:
    return stix_id.split("--", 1)[1]


def _epoch(timestamp: str) -> int:
    from cirt.stixtime import parse_ts

    return int(parse_ts(timestamp).timestamp())


def build_event(content: Sequence[Offered], *, event_uuid: str, info: str, date: datetime,
                org_name: str, org_uuid: str, incident: Mapping[str, Any] | None = None,
                audience_cap: int = ALL_COMMUNITIES) -> MISPEvent:
    """A MISP event of released objects; raises SharingDenied if anything is RED."""
    from pymisp import MISPEvent, MISPObject, MISPOrganisation

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
        ours = _our_extension(incident)
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
            attribute = _single(event.add_attribute(kind, value, to_ids=not retired(obj),
                                                    uuid=_uuid_of(obj["id"]),
                                                    comment=str(obj.get("name", ""))))
            attribute.timestamp = _epoch(version_of(dict(obj)))
            place(attribute, item.tlp)
            modified.append(version_of(dict(obj)))
        elif obj.get("type") == "file" and len(observable_attributes(obj)) > 1:
            misp_object = MISPObject("file", standalone=False)
            misp_object.uuid = _uuid_of(obj["id"])
            for kind, value in observable_attributes(obj):
                relation = "filename" if kind == "filename" else kind
                added = misp_object.add_attribute(
                    relation, value=value, type=kind, to_ids=False,
                    uuid=str(uuid.uuid5(UUID_NAMESPACE, f"{obj['id']}|{kind}")))
                if added is not None:
                    place(added, item.tlp)
            misp_object.distribution = min(export_distribution(item.tlp), audience_cap)
            event.add_object(misp_object)
        elif obj.get("type") in _OBSERVABLE_TYPES:
            for kind, value in observable_attributes(obj)[:1]:
                attribute = _single(event.add_attribute(kind, value, to_ids=False,
                                                        uuid=_uuid_of(obj["id"])))
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


def _our_extension(incident: Mapping[str, Any]) -> Mapping[str, Any]:
    from cirt.incidents import OUR_EXTENSION_ID

    ext = incident.get("extensions", {}).get(OUR_EXTENSION_ID, {})
    return ext if isinstance(ext, Mapping) else {}


def event_dict(event: MISPEvent) -> dict[str, Any]:
    """The event as MISP's JSON ({"Event": {...}}), distribution included."""
    feed: dict[str, Any] = event.to_feed(with_meta=False, with_distribution=True)
    return feed


def event_digest(event: MISPEvent) -> str:
    """What identifies an event's content for "has this partner got this already?"."""
    return hashlib.sha256(canonical_json(event_dict(event)).encode()).hexdigest()


# --- the gate ------------------------------------------------------------------------------------

def gate(ws: Workspace, rows: Sequence[StoredObject], party: str, *,
         delivery: str | None) -> tuple[Release, Disclosure | None]:
    """``ws.sharing`` over MISP: with a ``delivery`` (``sent``, ``file``) a disclosure, written
    to the log before anything leaves; without, a dry run (to compare with what a partner
    already has), which nothing may send."""
    if delivery is not None:
        disclosure = ws.sharing.release(rows, party, CHANNEL, delivery=delivery)
        return disclosure.verdict, disclosure
    return ws.sharing.decide(rows, party, CHANNEL), None


def _party(ws: Workspace, party: str) -> str:
    """The sectors.yaml id of an organisation or partner (``org:cbb`` and ``cbb`` alike)."""
    recipient = ws.sharing.recipient(party, CHANNEL)
    if recipient.kind not in ("org", "partner"):
        raise InvalidValue(f"'{party}': MISP events go to an organisation or a partner")
    return recipient.id


# --- events for a recipient ----------------------------------------------------------------------

@dataclass
class Built:
    """One event ready to leave, the gate's verdict behind it, and what was left out."""

    event: MISPEvent
    verdict: Release
    withheld: int
    incident: str | None = None  # the incident id it was built from
    disclosure: Disclosure | None = None  # None: a dry run, which nothing may send

    def outgoing(self) -> Disclosure:
        """The logged disclosure this event may leave under (a dry run has none)."""
        if self.disclosure is None:
            raise SharingDenied(self.incident or str(self.event.uuid), "-", "MISP",
                                "a dry run is never sent")
        return self.disclosure

    @property
    def attributes(self) -> int:
        return len(self.event.attributes) + sum(len(o.attributes) for o in self.event.objects)


def _audience_cap(ws: Workspace, party: str) -> int:
    """MISP partners may spread what TLP allows; an organisation's own MISP, its community."""
    return ALL_COMMUNITIES if party in ws.community.partners else THIS_COMMUNITY


def _org(ws: Workspace) -> tuple[str, str]:
    national = ws.community.national
    return national.name, _uuid_of(national.identity)


def incident_event(ws: Workspace, ref: str, party: str, *,
                   delivery: str | None = None) -> Built | None:
    """The event of one incident for ``party``: None when the gate lets nothing through.

    When the incident itself is withheld but some of its indicators are not (a GREEN indicator
    of an AMBER incident), the event carries those indicators under a neutral title, with no
    field of the incident: not its reference, title, category, severity or date.
    """
    from cirt.stixtime import parse_ts

    party = _party(ws, party)
    incident = ws.incidents.get(ref)
    ids = [incident.id, *ws.store.linked(incident.id)]
    rows = ws.store.latest_many(ids)
    verdict, disclosure = gate(ws, rows, party, delivery=delivery)
    released = {r.obj["id"]: r for r in verdict.released}
    content = [Offered(r.obj, r.tlp) for r in verdict.released
               if r.obj.get("type") == "indicator" or r.obj.get("type") in _OBSERVABLE_TYPES]
    name, org_uuid = _org(ws)
    cap = _audience_cap(ws, party)
    shown = released.get(incident.id)
    if shown is not None:
        content.append(Offered(shown.obj, shown.tlp))
        event = build_event(content, event_uuid=_uuid_of(incident.id),
                            info=f"{_our_extension(shown.obj).get('reference', '')}: "
                                 f"{shown.obj.get('name', '')}",
                            date=parse_ts(str(shown.obj["created"])), org_name=name,
                            org_uuid=org_uuid, incident=shown.obj, audience_cap=cap)
    elif content:
        first = min(str(o.obj.get("created") or o.obj.get("modified") or "") for o in content)
        event = build_event(content,
                            event_uuid=str(uuid.uuid5(UUID_NAMESPACE, f"{incident.id}|part")),
                            info=f"{name}: indicators to share",
                            date=parse_ts(first) if first else ws.clock(), org_name=name,
                            org_uuid=org_uuid, audience_cap=cap)
    else:
        return None
    return Built(event, verdict, len(rows) - len(verdict.released), incident.id, disclosure)


def since_event(ws: Workspace, since: str, party: str, *,
                delivery: str | None = None) -> Built | None:
    """One event of the indicators and observables stored after ``since``."""
    from cirt.stixtime import parse_ts

    try:
        parse_ts(since)
    except ValueError:
        raise InvalidValue(f"--since '{since}' is not a UTC timestamp such as"
                           " 2026-03-01T00:00:00Z") from None
    party = _party(ws, party)
    rows = list(ws.store.latest_objects(types=["indicator", *sorted(_OBSERVABLE_TYPES)],
                                        since=since))
    verdict, disclosure = gate(ws, rows, party, delivery=delivery)
    content = [Offered(r.obj, r.tlp) for r in verdict.released
               if r.obj.get("type") == "indicator" or r.obj.get("type") in _OBSERVABLE_TYPES]
    if not content:
        return None
    name, org_uuid = _org(ws)
    event_uuid = str(uuid.uuid5(UUID_NAMESPACE, f"{ws.identity}|{party}|{since}"))
    event = build_event(content, event_uuid=event_uuid,
                        info=f"{name}: indicators since {since}", date=ws.clock(),
                        org_name=name, org_uuid=org_uuid, audience_cap=_audience_cap(ws, party))
    return Built(event, verdict, len(rows) - len(verdict.released), None, disclosure)


def incident_events(ws: Workspace, party: str, since: str | None = None, *,
                    delivery: str | None = None) -> list[Built]:
    """An event per incident with something releasable to ``party`` (changed after ``since``)."""
    from cirt.store.incidents import IncidentFilter

    built = []
    for row in sorted(ws.store.find_incidents(IncidentFilter()), key=lambda r: r.created):
        if since and row.modified <= since:
            continue
        event = incident_event(ws, row.id, party, delivery=delivery)
        if event is not None and event.attributes:
            built.append(event)
    return built


def export(ws: Workspace, party: str, *, incident: str | None = None,
           since: str | None = None) -> Built:
    """``cirt misp export``: one event, recorded in the disclosure log."""
    if (incident is None) == (since is None):
        raise InvalidValue("give exactly one of --incident and --since")
    built = incident_event(ws, incident, party, delivery="file") if incident else since_event(
        ws, since or "", party, delivery="file")
    if built is None:
        raise SharingDenied(incident or f"indicators since {since}", "-", party,
                            "the gate releases nothing of it to this recipient")
    built.outgoing()
    return built


@dataclass
class FeedResult:
    directory: str
    events: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"directory": self.directory, "events": self.events}


def write_feed(ws: Workspace, directory: Path, party: str, since: str | None = None) -> FeedResult:
    """A MISP feed for ``party``: manifest.json, hashes.csv and ``<uuid>.json`` per event."""
    built = incident_events(ws, party, since, delivery="file")
    directory.mkdir(parents=True, exist_ok=True)
    manifest_path = directory / "manifest.json"
    manifest: dict[str, Any] = {}
    if manifest_path.exists():
        from cirt.untrusted_json import parse_json

        existing = parse_json(manifest_path.read_bytes(), str(manifest_path))
        manifest = existing if isinstance(existing, dict) else {}
    hashes: list[str] = []
    written = []
    for item in built:
        item.outgoing()
        feed = item.event.to_feed(with_meta=True, with_distribution=True)
        manifest.update(feed["Event"].pop("_manifest"))
        hashes.extend(f"{h},{item.event.uuid}" for h in feed["Event"].pop("_hashes"))
        path = directory / f"{item.event.uuid}.json"
        path.write_text(json.dumps(feed, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
        written.append({"uuid": item.event.uuid, "info": item.event.info,
                        "attributes": item.attributes, "withheld": item.withheld})
    manifest_path.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    with (directory / "hashes.csv").open("a", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in hashes)
    return FeedResult(str(directory), written)


# --- live sync (PyMISP at the edge) --------------------------------------------------------------

def _connect(ws: Workspace, partner_id: str) -> Any:
    """A PyMISP client for a partner's MISP, every request of it bounded like a pull's
    (``BoundedAuth``: the declared origin only, timeouts, the deadline, each answer capped once
    decompressed); every failure becomes RemoteError/ConfigError."""
    import logging

    import requests

    from cirt.bounded_http import BoundedAuth, origin
    from cirt.misp_inbound import misp_limits

    endpoint, key = credentials(ws, partner_id)
    logging.getLogger("pymisp").setLevel(logging.CRITICAL)
    from pymisp import PyMISP

    bounds = BoundedAuth(f"MISP of '{partner_id}'", misp_limits(ws), {origin(endpoint.url)})
    try:
        return PyMISP(endpoint.url, key, ssl=endpoint.verify_tls, auth=bounds,
                      timeout=bounds.timeouts())
    except Exception as exc:
        cause = exc.__context__  # PyMISP wraps what failed while connecting
        if isinstance(cause, RemoteError):
            raise cause from None
        if isinstance(cause, requests.Timeout):
            raise RemoteError(f"MISP of '{partner_id}' ({endpoint.url}) did not answer within"
                              f" {bounds.limits.read_timeout:g} s") from None
        raise RemoteError(f"MISP of '{partner_id}' ({endpoint.url}) is unreachable or"
                          f" refused the key: {_short(exc)}") from None


def credentials(ws: Workspace, partner_id: str) -> tuple[MispEndpoint, str]:
    """The partner's MISP endpoint (sectors.yaml) and API key (environment or secrets.toml)."""
    partner = ws.community.partner(partner_id)
    if partner.misp is None:
        raise NotFound(f"partner '{partner_id}' has no misp: url in sectors.yaml")
    key = ws.secret(f"misp_{partner_id}_key")
    if not key:
        env = "CIRT_MISP_" + partner_id.upper().replace("-", "_") + "_KEY"
        raise NotFound(f"no MISP key for '{partner_id}': set {env} or misp_{partner_id}_key"
                       " in secrets.toml")
    return partner.misp, key


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _answer(result: Any, partner_id: str, what: str) -> Any:
    if isinstance(result, Mapping) and "errors" in result:
        raise RemoteError(f"MISP of '{partner_id}' refused {what}: {_short(Exception(result['errors']))}")
    return result


@dataclass
class PushResult:
    partner: str
    sent: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"partner": self.partner, "sent": self.sent, "unchanged": self.unchanged}


def push(ws: Workspace, partner_id: str, since: str | None = None) -> PushResult:
    """Send each incident's event the gate releases to the partner, unless it has it already."""
    client = _connect(ws, partner_id)
    result = PushResult(partner_id)
    for preview in incident_events(ws, partner_id, since):
        event_uuid = str(preview.event.uuid)
        digest = event_digest(preview.event)
        if ws.store.misp_pushed_digest(partner_id, event_uuid) == digest:
            result.unchanged.append(event_uuid)
            continue
        item = incident_event(ws, preview.incident, partner_id, delivery="sent") \
            if preview.incident else None
        if item is None or event_digest(item.event) != digest:
            continue  # changed between the two looks: the next push sends it
        item.outgoing()
        try:
            exists = client.event_exists(event_uuid)
            answer = client.update_event(item.event, event_id=event_uuid) if exists \
                else client.add_event(item.event)
        except RemoteError:
            raise
        except Exception as exc:
            raise RemoteError(f"MISP of '{partner_id}' failed on event {event_uuid}:"
                              f" {_short(exc)}") from None
        _answer(answer, partner_id, f"event {event_uuid}")
        ws.store.record_misp_push(partner_id, event_uuid, digest, format_ts(ws.clock()))
        result.sent.append(event_uuid)
    return result
