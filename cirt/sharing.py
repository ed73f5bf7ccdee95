"""``ws.sharing``: audiences, dry runs and releases over the store; the one path out.

Everything that leaves the national CIRT (bulletins, ``cirt export``, TAXII, MISP) is decided by
:func:`cirt.gate.release` and recorded here, in the disclosure log, *before* the caller gets it:
:meth:`Sharing.release` returns a :class:`Disclosure`, the only thing an adapter accepts to send
or write.  Previews (``check``, ``who``, ``decide``: ``share who``, ``share check``,
``--dry-run``, a bulletin shown on the terminal) run the same gate and record nothing, because
nothing leaves.

What the gate needs beside each object is read from the store: its audience (organisations and
named contacts), where it came from (our analysts or a peer), and the objects it refers to (as
context, so a relationship to something the recipient may see is kept).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from cirt import incidents as rules
from cirt.chain import Entry
from cirt.errors import CirtError, InvalidValue, NotFound
from cirt.gate import CHANNELS, Candidate, Recipient, Release, Released, WithheldObject, release
from cirt.stixtime import format_ts, later_than
from cirt.store import LOCAL, Provenance, StoredObject, version_of
from cirt.tlp import TLP, is_tlp_marking, level_of_marking, object_level

if TYPE_CHECKING:
    from cirt.audit import DisclosureLog
    from cirt.context import Context
    from cirt.incident_desk import IncidentDesk
    from cirt.tasks import TaskService

Item = str | StoredObject | dict[str, Any]
T = TypeVar("T")


class NotOriginator(CirtError):
    """Only the originator may lower a marking; received objects keep theirs."""


@dataclass(frozen=True)
class Disclosure:
    """A release that was written to the disclosure log: what an adapter may send.

    Only :meth:`Sharing.release` makes one, after the log entry is written (``entry`` is None
    when the gate let nothing through: nothing is to be sent).  ``delivery`` says how it leaves:
    ``sent`` or ``file``.
    """

    verdict: Release
    entry: Entry | None
    delivery: str

    @property
    def recipient(self) -> Recipient:
        return self.verdict.recipient

    @property
    def released(self) -> tuple[Released, ...]:
        return self.verdict.released

    @property
    def withheld(self) -> tuple[WithheldObject, ...]:
        return self.verdict.withheld

    @property
    def objects(self) -> list[Mapping[str, Any]]:
        """Definitions first, then the released objects."""
        return self.verdict.objects

    @property
    def max_tlp(self) -> TLP | None:
        return self.verdict.max_tlp

    def bundle(self, bundle_id: str) -> dict[str, Any]:
        return self.verdict.bundle(bundle_id)


@dataclass(frozen=True)
class Served(Generic[T]):
    """A TAXII response page the server's fast path released (``cirt.taxii.release``), logged
    before it is returned: the only thing the server sends."""

    items: tuple[T, ...]
    entry: Entry | None


@dataclass(frozen=True)
class Audience:
    """Who an object is shared with beyond its TLP: organisations and named contacts."""

    object_id: str
    reference: str | None
    orgs: tuple[str, ...]
    contacts: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object_id,
            "reference": self.reference,
            "orgs": list(self.orgs),
            "contacts": list(self.contacts),
        }


@dataclass(frozen=True)
class Check:
    """The gate's answer for one object and one recipient, worded so a contact may see it."""

    object_id: str
    reference: str | None
    recipient: str
    channel: str
    tlp: TLP | None
    allowed: bool
    rule: str
    reason: str
    redacted: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        what = self.reference or self.object_id
        tlp = f" ({self.tlp.label})" if self.tlp is not None else ""
        verdict = "allowed" if self.allowed else "withheld"
        part = " in part: some fields are left out" if self.redacted else ""
        return f"{what}{tlp} {verdict} for {self.recipient}{part}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object_id,
            "reference": self.reference,
            "recipient": self.recipient,
            "channel": self.channel,
            "tlp": self.tlp.slug if self.tlp is not None else None,
            "allowed": self.allowed,
            "rule": self.rule,
            "reason": self.reason,
            "redacted": list(self.redacted),
            "line": self.line,
        }


@dataclass(frozen=True)
class Lowered:
    """A marking lowered by its originator: the new version and the note recording why."""

    object: dict[str, Any]
    note: dict[str, Any]
    before: TLP
    after: TLP

    def as_dict(self) -> dict[str, Any]:
        return {
            "object": self.object["id"],
            "version": self.object["modified"],
            "before": self.before.slug,
            "after": self.after.slug,
            "note": self.note["id"],
        }


class Sharing:
    """The gate over the store: ``disclosures`` is where every release is logged first;
    ``incidents`` and ``tasks`` resolve incident references and re-mark an incident (with its
    playbooks refreshed, as on any update)."""

    def __init__(
        self, context: Context, *, disclosures: DisclosureLog, incidents: IncidentDesk, tasks: TaskService
    ) -> None:
        self.context = context
        self.store = context.store
        self.disclosures = disclosures
        self.incidents = incidents
        self.tasks = tasks

    # --- names ------------------------------------------------------------------------------

    def resolve(self, ref: str) -> StoredObject:
        """The newest stored version of a STIX id or an incident reference (BZ-2026-0001)."""
        ref = ref.strip()
        if "--" in ref:
            stored = self.store.get(ref)
            if stored is None:
                raise NotFound(f"no object '{ref}' in the store")
            return stored
        incident = self.incidents.get(ref)
        found = self.store.get(incident.id)
        assert found is not None
        return found

    def recipient(self, text: str | Recipient, channel: str = "export") -> Recipient:
        """``org:cbb``, ``contact:soc@…``, ``partner:csirtamericas``, ``public``, or the bare id
        or address; checked against sectors.yaml."""
        if channel not in CHANNELS:
            raise InvalidValue(f"'{channel}' is not a channel (use one of: {', '.join(CHANNELS)})")
        if isinstance(text, Recipient):
            return Recipient(text.kind, text.id, channel)
        community = self.context.community
        value = text.strip()
        kind, sep, rest = value.partition(":")
        if value in ("archive", f"archive:{community.national.id}"):
            return Recipient("archive", community.national.id, channel)
        if not sep or kind not in ("org", "contact", "partner"):
            kind, rest = "", value
        if rest.lower() == "public" and kind == "":
            return Recipient("public", "public", channel)
        if kind == "contact" or (kind == "" and "@" in rest):
            return Recipient("contact", community.contact(rest).contact.email, channel)
        if kind == "org" or (kind == "" and rest in community.organisations):
            return Recipient("org", community.organisation(rest).id, channel)
        if kind == "partner" or (kind == "" and rest in community.partners):
            return Recipient("partner", community.partner(rest).id, channel)
        known = ", ".join([*community.organisations, *community.partners, "public", "archive"])
        raise NotFound(
            f"'{value}' is not an organisation, partner or contact in sectors.yaml "
            f"(known: {known}, or a contact's e-mail address)"
        )

    def _reference(self, stored: StoredObject) -> str | None:
        if stored.type != "incident":
            return None
        row = self.store.incident_by_reference(stored.id)
        return row.reference if row else None

    # --- audience ---------------------------------------------------------------------------

    def audience(self, ref: str) -> Audience:
        stored = self.resolve(ref)
        members = self.store.audience_of(stored.id)
        return Audience(
            stored.id, self._reference(stored), members.get("org", ()), members.get("contact", ())
        )

    def _targets(self, stored: StoredObject, linked: bool) -> list[str]:
        ids = [stored.id]
        if linked:
            if stored.type != "incident":
                raise InvalidValue(
                    "--linked applies to incidents (their notes, indicators and relationships)"
                )
            ids += self.store.linked(stored.id)
        return ids

    def _members(self, orgs: Sequence[str], contacts: Sequence[str]) -> tuple[list[str], list[str]]:
        community = self.context.community
        parties = [community.party(o).id for o in orgs]
        emails = [community.contact(c).contact.email for c in contacts]
        if not parties and not emails:
            raise InvalidValue("name at least one --org or --contact")
        return parties, emails

    def add(
        self, ref: str, *, orgs: Sequence[str] = (), contacts: Sequence[str] = (), linked: bool = False
    ) -> Audience:
        """Share an object (and with ``linked``, everything attached to an incident) with more
        organisations or named contacts.  TLP still decides: this widens only AMBER and RED."""
        stored = self.resolve(ref)
        parties, emails = self._members(orgs, contacts)
        with self.store.transaction():
            for object_id in self._targets(stored, linked):
                if parties:
                    self.store.add_audience(object_id, "org", parties)
                if emails:
                    self.store.add_audience(object_id, "contact", emails)
        return self.audience(stored.id)

    def remove(
        self, ref: str, *, orgs: Sequence[str] = (), contacts: Sequence[str] = (), linked: bool = False
    ) -> Audience:
        stored = self.resolve(ref)
        current = self.store.audience_of(stored.id)
        for org in orgs:
            if org not in current.get("org", ()):
                raise NotFound(f"'{org}' is not in the audience of {ref}")
        for email in contacts:
            if email.lower() not in current.get("contact", ()):
                raise NotFound(f"'{email}' is not in the audience of {ref}")
        with self.store.transaction():
            for object_id in self._targets(stored, linked):
                for org in orgs:
                    self.store.remove_audience(object_id, "org", org)
                for email in contacts:
                    self.store.remove_audience(object_id, "contact", email.lower())
        return self.audience(stored.id)

    # --- the gate over the store ------------------------------------------------------------

    def candidates(self, items: Iterable[Item], floors: Mapping[str, TLP] | None = None) -> list[Candidate]:
        """Objects (ids, stored versions or STIX dicts) with their audience and provenance;
        ``floors``: per id, the level of the newest version when older versions are offered."""
        objects: list[dict[str, Any]] = []
        stored_by_id: dict[str, StoredObject] = {}
        pending: list[str] = []
        for item in items:
            if isinstance(item, StoredObject):
                stored_by_id[item.id] = item
                objects.append(item.obj)
            elif isinstance(item, str):
                found = self.resolve(item)
                stored_by_id[found.id] = found
                objects.append(found.obj)
            else:
                objects.append(item)
                pending.append(item["id"])
        missing = [i for i in pending if i not in stored_by_id]
        for found in self.store.latest_many(missing):
            stored_by_id[found.id] = found
        audiences = self.store.audiences([o["id"] for o in objects])
        out = []
        for obj in objects:
            members = audiences.get(obj["id"], {})
            stored = stored_by_id.get(obj["id"])
            origin = stored.origin if stored is not None else LOCAL
            # the kind of source (taxii, misp, import) is enough for the gate: no query per object
            out.append(
                Candidate(
                    obj,
                    frozenset(members.get("org", ())),
                    frozenset(members.get("contact", ())),
                    None if origin == LOCAL else origin,
                    floors.get(obj["id"]) if floors else None,
                )
            )
        return out

    def context_for(self, candidates: Sequence[Candidate]) -> list[Candidate]:
        """What the candidates point at and are not themselves offered, and what that points
        at, to the end (the gate judges context like an offer): creators, referenced objects,
        extension definitions and definitions of markings that are not TLP."""
        known = {c.obj["id"] for c in candidates}
        context: list[Candidate] = []
        frontier: Sequence[Candidate] = candidates
        while frontier:
            wanted = {ref for cand in frontier for ref in _pointed_at(cand)} - known
            if not wanted:
                break
            known |= wanted
            frontier = self.candidates(self.store.latest_many(sorted(wanted)))
            context += frontier
        return context

    def decide(
        self,
        items: Iterable[Item],
        recipient: str | Recipient,
        channel: str = "export",
        floors: Mapping[str, TLP] | None = None,
    ) -> Release:
        """The gate's verdict, not recorded: for dry runs and previews (nothing is sent)."""
        to = self.recipient(recipient, channel)
        offered = self.candidates(items, floors)
        community = self.context.community
        return release(
            offered,
            to,
            community,
            default_tlp=community.default_tlp,
            context=self.context_for(offered),
            reference_key=self.reference_key,
        )

    @cached_property
    def reference_key(self) -> bytes:
        """The workspace secret public incident references are derived from."""
        return bytes.fromhex(self.store.release_key("public-reference"))

    def release(
        self, items: Iterable[Item], recipient: str | Recipient, channel: str = "export", *, delivery: str
    ) -> Disclosure:
        """Run the gate and write the release to the disclosure log before returning it.

        ``delivery``: ``sent`` or ``file``.  A release that lets nothing through sends nothing
        and is not logged.
        """
        return self.disclose(self.decide(items, recipient, channel), delivery=delivery)

    def disclose(self, verdict: Release, *, delivery: str) -> Disclosure:
        """Log a verdict of :meth:`decide` (the one a preview showed) before it is sent."""
        entry = None
        if verdict.released:
            entry = self.disclosures.record(
                recipient=verdict.recipient.key,
                channel=verdict.recipient.channel,
                objects=[(r.obj["id"], version_of(dict(r.obj)), int(r.tlp)) for r in verdict.released],
                tlp=int(max(r.tlp for r in verdict.released)),
                delivery=delivery,
            )
        return Disclosure(verdict, entry, delivery)

    def serve(
        self, items: Sequence[T], recipient: Recipient, versions: list[tuple[str, str, int]]
    ) -> Served[T]:
        """Log a TAXII page (``versions``: id, version and TLP of each item) before it is sent."""
        entry = None
        if versions:
            entry = self.disclosures.record(
                recipient=recipient.key,
                channel=recipient.channel,
                objects=versions,
                tlp=max(v[2] for v in versions),
                delivery="sent",
            )
        return Served(tuple(items), entry)

    def export_release(
        self, recipient: str | Recipient, incident_ref: str | None = None, *, delivery: str = "file"
    ) -> Disclosure:
        """What ``cirt export`` writes: everything (or one incident with what is attached to it)
        that the recipient may receive (``archive``: the national CIRT's own archive, all of
        it), logged as channel 'export'."""
        items: list[Item]
        if incident_ref:
            incident = self.resolve(incident_ref)
            if incident.type != "incident":
                raise InvalidValue(f"'{incident_ref}' is not an incident")
            items = list(self.store.latest_many(self.incidents.attached_ids(incident.id)))
        else:
            items = list(self.store.latest_objects())
        return self.release(items, recipient, "export", delivery=delivery)

    def export_for(self, recipient: str | Recipient, incident_ref: str | None = None) -> dict[str, Any]:
        """The bundle of :meth:`export_release`, written to a file."""
        return self.export_release(recipient, incident_ref).bundle(self.context.ids("bundle"))

    # --- dry runs ---------------------------------------------------------------------------

    def check(self, ref: str, to: str | Recipient, channel: str = "export") -> Check:
        """May ``to`` receive this object?  One line a contact could be shown."""
        stored = self.resolve(ref)
        result = self.decide([stored], to, channel)
        return self._check(stored, result)

    def _check(self, stored: StoredObject, result: Release) -> Check:
        reference = self._reference(stored)
        for sent in result.released:
            if sent.obj["id"] == stored.id:
                return Check(
                    stored.id,
                    reference,
                    result.recipient.key,
                    result.recipient.channel,
                    sent.tlp,
                    True,
                    sent.decision.rule,
                    sent.decision.reason,
                    sent.redacted,
                )
        for held in result.withheld:
            if held.id == stored.id:
                return Check(
                    stored.id,
                    reference,
                    result.recipient.key,
                    result.recipient.channel,
                    held.tlp,
                    False,
                    held.decision.rule,
                    held.decision.reason,
                )
        raise NotFound(f"{stored.id} is a definition: it travels with the objects it marks")

    def who(self, ref: str, channel: str | None = None) -> list[Check]:
        """Every organisation, contact and partner of sectors.yaml, and the public: who would
        receive the object and by which rule (or why not).  Organisations and contacts are
        asked by bulletin and e-mail, partners by their own channel, unless ``channel`` says."""
        stored = self.resolve(ref)
        community = self.context.community
        offered = self.candidates([stored])
        context = self.context_for(offered)
        asked: list[Recipient] = []
        for org in community.organisations.values():
            asked.append(Recipient("org", org.id, channel or "bulletin"))
            asked += [Recipient("contact", c.email, channel or "email") for c in org.contacts]
        for partner in community.partners.values():
            own = "taxii" if partner.taxii else "misp" if partner.misp else "email"
            asked.append(Recipient("partner", partner.id, channel or own))
            asked += [Recipient("contact", c.email, channel or "email") for c in partner.contacts]
        asked.append(Recipient("public", "public", channel or "export"))
        return [
            self._check(
                stored,
                release(
                    offered,
                    to,
                    community,
                    default_tlp=community.default_tlp,
                    context=context,
                    reference_key=self.reference_key,
                ),
            )
            for to in asked
        ]

    # --- lowering a marking -----------------------------------------------------------------

    def lower_marking(self, ref: str, tlp: TLP | str, reason: str) -> Lowered:
        """A new version with a lower TLP, by the originator only, with the reason recorded in a
        note kept at the old level (so the reason reaches no one the old marking excluded)."""
        target = tlp if isinstance(tlp, TLP) else TLP.parse(tlp)
        if not reason.strip():
            raise InvalidValue("lowering a marking needs a reason")
        stored = self.resolve(ref)
        obj = stored.obj
        community = self.context.community
        if stored.origin != LOCAL or obj.get("created_by_ref") != self.context.identity:
            raise NotOriginator(
                f"{stored.id} was not created by the national CIRT: only its originator may lower its marking"
            )
        before = object_level(obj, community.default_tlp)
        if target >= before:
            raise InvalidValue(f"{target.label} is not lower than {before.label}")
        if "modified" not in obj:
            raise InvalidValue(f"{stored.id} has no versions (a cyber-observable): it cannot be re-marked")
        if stored.type == "incident":
            lowered = self._lower_incident(stored.id, target)
        else:
            lowered = copy.deepcopy(obj)
            lowered["object_marking_refs"] = [target.marking_id] + [
                m for m in obj.get("object_marking_refs", ()) if level_of_marking(m) is None
            ]
            lowered["modified"] = later_than(obj["modified"], self.context.clock())
        stamp = format_ts(self.context.clock())
        note: dict[str, Any] = {
            "type": "note",
            "spec_version": "2.1",
            "id": self.context.ids("note"),
            "created": stamp,
            "modified": stamp,
            "created_by_ref": self.context.identity,
            "authors": [self.context.analyst],
            "object_refs": [stored.id],
            "abstract": f"Marking lowered from {before.label} to {target.label}",
            "content": reason.strip(),
            "object_marking_refs": [before.marking_id],
        }
        store = self.store
        provenance = Provenance(LOCAL, self.context.analyst)
        members = store.audience_of(stored.id)
        with store.transaction():
            if stored.type != "incident":
                store.put(lowered, tlp=int(target), provenance=provenance)
            store.put(note, tlp=int(before), provenance=provenance)
            for kind in ("org", "contact"):
                if members.get(kind):
                    store.add_audience(note["id"], kind, members[kind])
            for incident_id in store.incidents_linking(stored.id) or (
                [stored.id] if stored.type == "incident" else []
            ):
                store.link(incident_id, note["id"])
        return Lowered(lowered, note, before, target)

    def _lower_incident(self, incident_id: str, target: TLP) -> dict[str, Any]:
        """The incident's next version at ``target``: the one lowering ``incidents.update``
        refuses, with the playbooks refreshed as on any update."""
        desk = self.incidents
        with desk.changing(incident_id) as incident:
            revised = rules.revise(
                incident,
                analyst=self.context.analyst,
                now=self.context.clock(),
                change=f"marking lowered to {target.label}",
                tlp=target,
            )
            revised = self.tasks.refresh(incident, revised).incident
            desk.save(revised)
        return revised.obj


def _pointed_at(cand: Candidate) -> set[str]:
    """Ids an object's verdict depends on beside its own marking."""
    out = {*cand.refs, *cand.foreign}
    creator = cand.obj.get("created_by_ref")
    if isinstance(creator, str):
        out.add(creator)
    extensions = cand.obj.get("extensions")
    if isinstance(extensions, dict):
        out.update(e for e in extensions if e.startswith("extension-definition--"))
    for marking in cand.obj.get("granular_markings", ()):
        ref = marking.get("marking_ref") if isinstance(marking, dict) else None
        if isinstance(ref, str) and not is_tlp_marking(ref):
            out.add(ref)
    return out


def released_summary(result: Release) -> dict[str, Any]:
    """What went and what was kept back, for people and for ``--json`` (never the content)."""
    return {
        "recipient": result.recipient.key,
        "channel": result.recipient.channel,
        "tlp": result.max_tlp.slug if result.max_tlp is not None else None,
        "released": [
            {
                "id": r.obj["id"],
                "type": r.obj["type"],
                "tlp": r.tlp.slug,
                "rule": r.decision.rule,
                "redacted": list(r.redacted),
            }
            for r in result.released
        ],
        "withheld": [
            {
                "id": w.id,
                "type": w.type,
                "tlp": w.tlp.slug if w.tlp else None,
                "rule": w.decision.rule,
                "reason": w.decision.reason,
            }
            for w in result.withheld
        ],
    }
