"""MISP exchange with partners: what the gate releases becomes MISP events (a file, a feed, a
partner's MISP), and a partner's events come in through the one door.

Out: every event is built from what ``Sharing`` releases to the recipient, and the release is in
the disclosure log before anything is written or sent; the event itself is
``cirt.misp.to_misp``'s, the feed's files ``cirt.misp.feed``'s.  Push sends each incident's event
unless the partner has it already (the same content is the same digest).

In: a pull reads the partner's events page by page (``cirt.misp.connection``), maps them
(``cirt.misp.to_stix``) and stores them through ``cirt.ingest`` with provenance ``misp``/partner.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymisp import MISPEvent

from cirt.errors import InputRejected, InvalidValue, RemoteError, SharingDenied
from cirt.ingest import IngestSummary, ingest, limits_of, log_refused
from cirt.lifecycle import retired  # revoked, expired, false positive: no IDS (issue 13)
from cirt.misp import feed
from cirt.misp.connection import (
    MAX_PAGES,
    PAGE,
    PULL_DEADLINE_S,
    PartnerMisp,
    answer,
    credentials,
    short,
)
from cirt.misp.to_misp import (
    OBSERVABLE_TYPES,
    UUID_NAMESPACE,
    Offered,
    build_event,
    event_dict,
    our_extension,
    uuid_of,
)
from cirt.misp.to_stix import as_int, events_to_stix
from cirt.misp_tlp import ALL_COMMUNITIES, THIS_COMMUNITY
from cirt.stixtime import format_ts, parse_ts
from cirt.store import Provenance, StoredObject, canonical_json
from cirt.store.incidents import IncidentFilter

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cirt.context import Context
    from cirt.gate import Release, Released
    from cirt.incident_desk import IncidentDesk
    from cirt.sharing import Disclosure, Sharing

CHANNEL = "misp"


def event_digest(event: MISPEvent) -> str:
    """What identifies an event's content for "has this partner got this already?"."""
    return hashlib.sha256(canonical_json(event_dict(event)).encode()).hexdigest()


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
            raise SharingDenied(self.incident or str(self.event.uuid), "-", "MISP", "a dry run is never sent")
        return self.disclosure

    @property
    def attributes(self) -> int:
        return len(self.event.attributes) + sum(len(o.attributes) for o in self.event.objects)


@dataclass
class FeedResult:
    directory: str
    events: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"directory": self.directory, "events": self.events}


@dataclass
class PushResult:
    partner: str
    sent: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"partner": self.partner, "sent": self.sent, "unchanged": self.unchanged}


@dataclass
class PullResult:
    partner: str
    events: list[str]
    own: list[str]
    summary: IngestSummary

    def to_dict(self) -> dict[str, Any]:
        return {
            "partner": self.partner,
            "events": self.events,
            "own_events_skipped": self.own,
            **self.summary.to_dict(),
        }


def _offered(row: Released) -> Offered:
    return Offered(row.obj, row.tlp, detect=not retired(row.obj))


def _exchanged(obj: Any) -> bool:
    return obj.get("type") == "indicator" or obj.get("type") in OBSERVABLE_TYPES


class MispExchange:
    """Events for a recipient through ``sharing``, files and feeds of them, push and pull."""

    def __init__(self, context: Context, *, sharing: Sharing, incidents: IncidentDesk) -> None:
        self.context = context
        self.sharing = sharing
        self.incidents = incidents

    # --- the gate -------------------------------------------------------------------------------

    def gate(
        self, rows: Sequence[StoredObject], party: str, *, delivery: str | None
    ) -> tuple[Release, Disclosure | None]:
        """``Sharing`` over MISP: with a ``delivery`` (``sent``, ``file``) a disclosure, written
        to the log before anything leaves; without, a dry run (to compare with what a partner
        already has), which nothing may send."""
        if delivery is not None:
            disclosure = self.sharing.release(rows, party, CHANNEL, delivery=delivery)
            return disclosure.verdict, disclosure
        return self.sharing.decide(rows, party, CHANNEL), None

    def _party(self, party: str) -> str:
        """The sectors.yaml id of an organisation or partner (``org:cbb`` and ``cbb`` alike)."""
        recipient = self.sharing.recipient(party, CHANNEL)
        if recipient.kind not in ("org", "partner"):
            raise InvalidValue(f"'{party}': MISP events go to an organisation or a partner")
        return recipient.id

    def _audience_cap(self, party: str) -> int:
        """MISP partners may spread what TLP allows; an organisation's own MISP, its community."""
        return ALL_COMMUNITIES if party in self.context.community.partners else THIS_COMMUNITY

    def _org(self) -> tuple[str, str]:
        national = self.context.community.national
        return national.name, uuid_of(national.identity)

    # --- events for a recipient -----------------------------------------------------------------

    def incident_event(self, ref: str, party: str, *, delivery: str | None = None) -> Built | None:
        """The event of one incident for ``party``: None when the gate lets nothing through.

        When the incident itself is withheld but some of its indicators are not (a GREEN
        indicator of an AMBER incident), the event carries those indicators under a neutral
        title, with no field of the incident: not its reference, title, category, severity or
        date.
        """
        store = self.context.store
        party = self._party(party)
        incident = self.incidents.get(ref)
        ids = [incident.id, *store.linked(incident.id)]
        rows = store.latest_many(ids)
        verdict, disclosure = self.gate(rows, party, delivery=delivery)
        released = {r.obj["id"]: r for r in verdict.released}
        content = [_offered(r) for r in verdict.released if _exchanged(r.obj)]
        name, org_uuid = self._org()
        cap = self._audience_cap(party)
        shown = released.get(incident.id)
        if shown is not None:
            content.append(Offered(shown.obj, shown.tlp))
            event = build_event(
                content,
                event_uuid=uuid_of(incident.id),
                info=f"{our_extension(shown.obj).get('reference', '')}: {shown.obj.get('name', '')}",
                date=parse_ts(str(shown.obj["created"])),
                org_name=name,
                org_uuid=org_uuid,
                incident=shown.obj,
                audience_cap=cap,
            )
        elif content:
            first = min(str(o.obj.get("created") or o.obj.get("modified") or "") for o in content)
            event = build_event(
                content,
                event_uuid=str(uuid.uuid5(UUID_NAMESPACE, f"{incident.id}|part")),
                info=f"{name}: indicators to share",
                date=parse_ts(first) if first else self.context.clock(),
                org_name=name,
                org_uuid=org_uuid,
                audience_cap=cap,
            )
        else:
            return None
        return Built(event, verdict, len(rows) - len(verdict.released), incident.id, disclosure)

    def since_event(self, since: str, party: str, *, delivery: str | None = None) -> Built | None:
        """One event of the indicators and observables stored after ``since``."""
        try:
            parse_ts(since)
        except ValueError:
            raise InvalidValue(
                f"--since '{since}' is not a UTC timestamp such as 2026-03-01T00:00:00Z"
            ) from None
        party = self._party(party)
        rows = list(
            self.context.store.latest_objects(types=["indicator", *sorted(OBSERVABLE_TYPES)], since=since)
        )
        verdict, disclosure = self.gate(rows, party, delivery=delivery)
        content = [_offered(r) for r in verdict.released if _exchanged(r.obj)]
        if not content:
            return None
        name, org_uuid = self._org()
        event_uuid = str(uuid.uuid5(UUID_NAMESPACE, f"{self.context.identity}|{party}|{since}"))
        event = build_event(
            content,
            event_uuid=event_uuid,
            info=f"{name}: indicators since {since}",
            date=self.context.clock(),
            org_name=name,
            org_uuid=org_uuid,
            audience_cap=self._audience_cap(party),
        )
        return Built(event, verdict, len(rows) - len(verdict.released), None, disclosure)

    def incident_events(
        self, party: str, since: str | None = None, *, delivery: str | None = None
    ) -> list[Built]:
        """An event per incident with something releasable to ``party`` (changed after
        ``since``)."""
        built = []
        for row in sorted(self.context.store.find_incidents(IncidentFilter()), key=lambda r: r.created):
            if since and row.modified <= since:
                continue
            event = self.incident_event(row.id, party, delivery=delivery)
            if event is not None and event.attributes:
                built.append(event)
        return built

    def export(self, party: str, *, incident: str | None = None, since: str | None = None) -> Built:
        """``cirt misp export``: one event, recorded in the disclosure log."""
        if (incident is None) == (since is None):
            raise InvalidValue("give exactly one of --incident and --since")
        built = (
            self.incident_event(incident, party, delivery="file")
            if incident
            else self.since_event(since or "", party, delivery="file")
        )
        if built is None:
            raise SharingDenied(
                incident or f"indicators since {since}",
                "-",
                party,
                "the gate releases nothing of it to this recipient",
            )
        built.outgoing()
        return built

    def write_feed(self, directory: Path, party: str, since: str | None = None) -> FeedResult:
        """A MISP feed for ``party``: manifest.json, hashes.csv and ``<uuid>.json`` per event,
        each event recorded in the disclosure log before it is written."""
        built = self.incident_events(party, since, delivery="file")
        for item in built:
            item.outgoing()
        feed.write_feed(directory, [item.event for item in built])
        return FeedResult(
            str(directory),
            [
                {
                    "uuid": item.event.uuid,
                    "info": item.event.info,
                    "attributes": item.attributes,
                    "withheld": item.withheld,
                }
                for item in built
            ],
        )

    # --- live sync ------------------------------------------------------------------------------

    def _partner_misp(self, partner_id: str) -> PartnerMisp:
        endpoint, key = credentials(self.context.community, self.context.secret, partner_id)
        return PartnerMisp(
            partner_id,
            endpoint,
            key,
            max_body_bytes=self.context.config.limits.max_bytes,
            limits=limits_of(self.context, Provenance("misp", partner_id)),
        )

    def push(self, partner_id: str, since: str | None = None) -> PushResult:
        """Send each incident's event the gate releases to the partner, unless it has it
        already."""
        store = self.context.store
        client = self._partner_misp(partner_id).client()
        result = PushResult(partner_id)
        for preview in self.incident_events(partner_id, since):
            event_uuid = str(preview.event.uuid)
            digest = event_digest(preview.event)
            if store.misp_pushed_digest(partner_id, event_uuid) == digest:
                result.unchanged.append(event_uuid)
                continue
            item = (
                self.incident_event(preview.incident, partner_id, delivery="sent")
                if preview.incident
                else None
            )
            if item is None or event_digest(item.event) != digest:
                continue  # changed between the two looks: the next push sends it
            item.outgoing()
            try:
                if client.event_exists(event_uuid):  # PyMISP takes a uuid for an id too
                    sent = client.update_event(item.event, event_id=event_uuid)  # type: ignore[arg-type]
                else:
                    sent = client.add_event(item.event)
            except RemoteError:
                raise
            except Exception as exc:
                raise RemoteError(
                    f"MISP of '{partner_id}' failed on event {event_uuid}: {short(exc)}"
                ) from None
            answer(sent, partner_id, f"event {event_uuid}")
            store.record_misp_push(partner_id, event_uuid, digest, format_ts(self.context.clock()))
            result.sent.append(event_uuid)
        return result

    def pull(self, partner_id: str, since: str | None = None) -> PullResult:
        """Fetch the partner's events changed since the last pull (or ``since``) and ingest
        them.

        Events we pushed to this partner ourselves are not stored again; everything else goes
        through ``cirt.ingest`` with provenance ``misp``/partner and the TLP its tags give.
        """
        store = self.context.store
        if since is not None:
            try:
                cursor = int(parse_ts(since).timestamp())
            except ValueError:
                raise InvalidValue(
                    f"--since '{since}' is not a UTC timestamp such as 2026-03-01T00:00:00Z"
                ) from None
        else:
            cursor = store.misp_pull_cursor(partner_id) or 0
        remote = self._partner_misp(partner_id)
        session = remote.session()
        provenance = Provenance("misp", partner_id)
        # Each page is stored as it arrives (memory holds one page), and paging ends on a page
        # that brings nothing new: a server that ignores 'page' answers the same events for ever.
        theirs: list[str] = []
        own: list[str] = []
        summary = IngestSummary()
        previous: set[tuple[str, str]] = set()
        newest = cursor
        deadline = time.monotonic() + PULL_DEADLINE_S
        for page in range(1, MAX_PAGES + 1):
            if time.monotonic() > deadline:
                summary.notes.append(f"stopped at the deadline of {PULL_DEADLINE_S:g} s")
                break
            try:
                found = remote.search_page(session, cursor, page)
            except InputRejected as exc:
                log_refused(self.context, provenance, str(exc))
                raise
            keys = {(str(e.get("uuid")), str(e.get("timestamp"))) for e in found}
            if found and keys <= previous:
                summary.notes.append(
                    f"page {page} repeated the events of page {page - 1}: the server ignores paging; stopped"
                )
                break
            previous = keys
            mine = [
                str(e.get("uuid"))
                for e in found
                if store.misp_pushed_digest(partner_id, str(e.get("uuid"))) is not None
            ]
            fresh = [e for e in found if str(e.get("uuid")) not in mine]
            converted = events_to_stix(fresh)
            if converted.objects:
                stored = ingest(self.context, converted.objects, provenance, notes=converted.notes)
                summary.new += stored.new
                summary.updated += stored.updated
                summary.duplicates += stored.duplicates
                summary.rejected += stored.rejected
                summary.conflicts += stored.conflicts
                summary.notes += stored.notes
            else:
                summary.notes += converted.notes
            own += mine
            theirs += [str(e.get("uuid")) for e in fresh]
            newest = max([newest, *(as_int(e.get("timestamp"), 0) or 0 for e in found)])
            if len(found) < PAGE:
                break
        else:
            summary.notes.append(f"stopped after {MAX_PAGES:,} pages")
        if since is None and newest > cursor:
            store.set_misp_pull_cursor(partner_id, newest, format_ts(self.context.clock()))
        return PullResult(partner_id, theirs, own, summary)
