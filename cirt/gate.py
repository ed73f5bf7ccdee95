"""The sharing gate: the one function that decides what a recipient may receive.

Pure: no I/O, no store, no clock.  Every exit (bulletins, ``cirt export --for``, TAXII push, the
TAXII server, MISP) calls :func:`release` and sends only ``Release.bundle``.

The rules are FIRST TLP 2.0 as a national CIRT applies it (``DESIGN.md``):

* CLEAR goes to anyone; GREEN to the community of sectors.yaml (``community: true``), never to
  public channels; AMBER and AMBER+STRICT to organisations in the object's audience; RED to
  named contacts in its audience, one message each, never by TAXII or MISP and never to an
  organisation as a whole.
* Received from a peer: AMBER+STRICT and RED never leave; AMBER goes only to *constituent*
  organisations in its audience.  A partner's ``max_tlp`` caps everything sent to it.
* An object without a TLP marking is treated as ``default_tlp``, and leaves marked with it.
  A marking that is not TLP is translated through sectors.yaml ``markings``, and only when its
  definition is offered too (so that it travels with the object); otherwise the object is
  withheld (fail closed).

No leaks through references (invariant 1).  A reference is kept only when its target is released
in the same bundle or would be if it were offered: ``context`` (what the offer points at, to the
end) goes through the same rules as the offer and is not released, so a verdict never depends on
whether a target was offered beside it; a target the gate cannot see counts as withheld.  Then:

* relationships and sightings touching a withheld object are withheld whole;
* containers (report, grouping, note, opinion, observed-data) lose the withheld entries of
  ``object_refs`` and are withheld only when none remain.  Chosen over withholding the container
  outright because one RED entry would otherwise hide a whole GREEN report from the community,
  and over keeping the reference because the bare id already leaks that the object exists;
  ``object_refs`` must not be empty in STIX 2.1, hence withholding the emptied container.  A
  container's own text (``description``) is the analyst's to write under the container's marking;
* any other reference to a withheld object is removed (a list keeps its other entries); if the
  property is required by STIX, the object is withheld;
* ``created_by_ref`` to a withheld or unknown identity is removed (not replaced: claiming the
  national CIRT wrote someone else's object would be false).  Identities of sectors.yaml parties
  are known and kept, unless their identity object was offered and withheld.

Granular markings are honoured field by field: a top-level property selected by a marking the
recipient may not see is removed whole (a coarser cut than the selector, which keeps the other
selectors' list indices meaningful and never under-redacts); the object is withheld if a required
property would go.  The audience is never revealed, by any field: a value naming another
organisation or partner of sectors.yaml (its id or its identity), in any property, extension or
list, is removed (a task's ``parties``, an incident's ``affected_organisations``, a custom
``x_…_ref``), and a reference to another party's identity is treated like a reference to a
withheld object.  ``created_by_ref`` is attribution, not audience: it follows the rule above.

Objects that need no redaction are passed through as the same dicts (no copies): callers must
treat released objects as read-only.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import hmac
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from cirt.community import Community
from cirt.definitions import definitions_for
from cirt.errors import InvalidValue
from cirt.incidents import OUR_EXTENSION_ID
from cirt.stix_refs import content_references
from cirt.tlp import (
    TLP,
    TLP1_MARKING_IDS,
    TLP2_EXTENSION_ID,
    level_of_marking,
)

RecipientKind = Literal["org", "contact", "partner", "public", "archive"]
CHANNELS = ("email", "bulletin", "export", "taxii", "misp")
MACHINE_CHANNELS = frozenset({"taxii", "misp"})

_EXTENSION_PATH = re.compile(r"^extensions\.extension-definition--[0-9a-f-]+\.")
_DEFINITIONS = frozenset({"marking-definition", "extension-definition"})
DEFINITIONS = _DEFINITIONS
"""Types the gate never releases as objects: they travel beside the objects that use them, at
their newest version."""
CONTAINERS = frozenset({"report", "grouping", "note", "opinion", "observed-data"})
_COMMON_REQUIRED = frozenset({"type", "id", "spec_version", "created", "modified"})
_REQUIRED: dict[str, frozenset[str]] = {
    "attack-pattern": frozenset({"name"}),
    "campaign": frozenset({"name"}),
    "course-of-action": frozenset({"name"}),
    "grouping": frozenset({"context", "object_refs"}),
    "identity": frozenset({"name"}),
    "incident": frozenset({"name"}),
    "indicator": frozenset({"pattern", "pattern_type", "valid_from"}),
    "infrastructure": frozenset({"name"}),
    "intrusion-set": frozenset({"name"}),
    "malware": frozenset({"is_family"}),
    "malware-analysis": frozenset({"product"}),
    "note": frozenset({"content", "object_refs"}),
    "observed-data": frozenset({"first_observed", "last_observed", "number_observed", "object_refs"}),
    "opinion": frozenset({"opinion", "object_refs"}),
    "report": frozenset({"name", "published", "object_refs"}),
    "threat-actor": frozenset({"name"}),
    "tool": frozenset({"name"}),
    "vulnerability": frozenset({"name"}),
    "relationship": frozenset({"relationship_type", "source_ref", "target_ref"}),
    "sighting": frozenset({"sighting_of_ref"}),
    "marking-definition": frozenset({"definition_type", "definition", "extensions"}),
    "extension-definition": frozenset({"name", "schema", "version", "extension_types"}),
}
_VALUE_SCOS = frozenset(
    {
        "autonomous-system",
        "domain-name",
        "email-addr",
        "ipv4-addr",
        "ipv6-addr",
        "mac-addr",
        "mutex",
        "url",
        "user-account",
    }
)


def required_properties(stix_type: str) -> frozenset[str]:
    """Properties without which an object of ``stix_type`` is not valid STIX 2.1."""
    if stix_type == "autonomous-system":
        return frozenset({"type", "id", "number"})
    if stix_type in _VALUE_SCOS:
        return frozenset({"type", "id", "value"})
    return _COMMON_REQUIRED | _REQUIRED.get(stix_type, frozenset())


# ---------------------------------------------------------------------------------------------
# Inputs


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who receives, over which channel: an organisation, a named contact, a partner, the public,
    or the national CIRT's own archive (everything, by an explicit, logged release).

    ``id`` is the sectors.yaml id (organisation, partner, the national CIRT for its archive), the
    e-mail address (contact) or ``public``.
    """

    kind: RecipientKind
    id: str
    channel: str = "export"

    def __post_init__(self) -> None:
        # The archive keeps everything (RED, audiences, internal references): it is the CIRT's
        # own file copy, never the addressee of a bulletin, a mail, a TAXII page or MISP.
        if self.kind == "archive" and self.channel != "export":
            raise InvalidValue(f"the archive receives file exports only, not by {self.channel}")

    @property
    def key(self) -> str:
        """The recipient as the disclosure log names it: ``org:cbb``, ``contact:x@y``…"""
        return "public" if self.kind == "public" else f"{self.kind}:{self.id}"

    def __str__(self) -> str:
        return self.key


class Candidate:
    """An object offered to the gate, with what the gate must know beside it.

    ``orgs``: sectors.yaml ids (organisations, partners, the national CIRT) in its audience;
    ``contacts``: e-mail addresses named in its audience (RED);
    ``origin``: None when the national CIRT made it, else where it was received from
    (e.g. ``taxii:csirtamericas``);
    ``floor``: for an older version, the level of the newest one: a version goes only where
    both its own marking and the newest version's let it go (the most restrictive of the two,
    which is not always the higher level: GREEN stays in the community, AMBER may leave it).

    The object's TLP markings are worked out here, and its references the first time the gate
    needs them: once per object, whatever the number of recipients it is then offered to.
    Treat a candidate as read-only.
    """

    __slots__ = ("_refs", "contacts", "floor", "foreign", "level", "obj", "orgs", "origin")

    def __init__(
        self,
        obj: Mapping[str, Any],
        orgs: frozenset[str] = frozenset(),
        contacts: frozenset[str] = frozenset(),
        origin: str | None = None,
        floor: TLP | None = None,
    ) -> None:
        self.obj = obj
        self.orgs = orgs
        self.contacts = contacts
        self.origin = origin
        self.floor = floor
        self._refs: tuple[str, ...] | None = None
        marks = obj.get("object_marking_refs")
        if not marks:
            self.level: TLP | None = None  # its most restrictive TLP marking, None if it has none
            self.foreign: tuple[str, ...] = ()  # markings that are not TLP
            return
        if len(marks) == 1 and marks[0] in _TLP_BY_ID:
            self.level, self.foreign = _TLP_BY_ID[marks[0]], ()
            return
        level: TLP | None = None
        foreign: list[str] = []
        for ref in marks:
            found = _TLP_BY_ID.get(ref)
            if found is None:
                foreign.append(ref)
            elif level is None or found > level:
                level = found
        self.level, self.foreign = level, tuple(foreign)

    @property
    def refs(self) -> tuple[str, ...]:
        """What the object points at (``cirt.stix_refs``), worked out once."""
        if self._refs is None:
            self._refs = tuple(content_references(self.obj))
        return self._refs

    def __repr__(self) -> str:
        return f"Candidate({self.obj.get('id')!r}, origin={self.origin!r})"

    @property
    def received(self) -> bool:
        return self.origin is not None


# ---------------------------------------------------------------------------------------------
# Decisions as values


@dataclass(frozen=True, slots=True)
class Allowed:
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Withheld:
    reason: str
    rule: str


Decision = Allowed | Withheld


class Released(NamedTuple):
    """One released object: possibly a redacted copy, its TLP, the rule that let it go.

    (Named tuples, not dataclasses: the gate makes one per object, and they cost less.)"""

    obj: Mapping[str, Any]
    tlp: TLP
    decision: Allowed
    redacted: tuple[str, ...] = ()


class WithheldObject(NamedTuple):
    """One object kept back: its id and type (for the CIRT's eyes only), TLP, and why."""

    id: str
    type: str
    tlp: TLP | None
    decision: Withheld


@dataclass(frozen=True)
class Release:
    """What the gate lets through to one recipient, and everything it kept back, with reasons."""

    recipient: Recipient
    released: tuple[Released, ...]
    withheld: tuple[WithheldObject, ...]
    definitions: tuple[Mapping[str, Any], ...] = ()
    _index: dict[str, Decision] = field(default_factory=dict, repr=False, compare=False)

    @property
    def objects(self) -> list[Mapping[str, Any]]:
        """Definitions first, then the released objects: the content of the bundle."""
        return [*self.definitions, *(r.obj for r in self.released)]

    @property
    def max_tlp(self) -> TLP | None:
        return max((r.tlp for r in self.released), default=None)

    def decision(self, object_id: str) -> Decision | None:
        """The decision taken on one offered object (None if it was not offered)."""
        if not self._index:
            self._index.update({r.obj["id"]: r.decision for r in self.released})
            self._index.update({w.id: w.decision for w in self.withheld})
        return self._index.get(object_id)

    def bundle(self, bundle_id: str) -> dict[str, Any]:
        """The STIX bundle to send; without ``objects`` when nothing may go (lists are never
        empty in STIX 2.1)."""
        objects = self.objects
        bundle: dict[str, Any] = {"type": "bundle", "id": bundle_id}
        if objects:
            bundle["objects"] = objects
        return bundle


# ---------------------------------------------------------------------------------------------
# The recipient's seat: everything about the recipient the rules look at, computed once.


@dataclass(frozen=True, slots=True)
class _Seat:
    recipient: Recipient
    party: str | None
    email: str | None
    green: bool
    constituent: bool
    cap: TLP | None
    cap_name: str
    archive: bool = False


def _seat(recipient: Recipient, community: Community) -> _Seat:
    kind, rid = recipient.kind, recipient.id
    if kind == "public":
        return _Seat(recipient, None, None, False, False, None, "")
    if kind == "archive":
        return _Seat(recipient, community.national.id, None, True, True, None, "", archive=True)
    email = None
    if kind == "contact":
        ref = community.contact(rid)
        party_id, email = ref.party_id, ref.contact.email
    elif kind == "org":
        party_id = community.organisation(rid).id
    else:
        party_id = community.partner(rid).id
    party = community.party(party_id)
    org = community.organisations.get(party_id)
    partner = community.partners.get(party_id)
    return _Seat(
        recipient=recipient,
        party=party_id,
        email=email,
        green=party.community,
        constituent=org is not None and org.role == "constituent",
        cap=partner.max_tlp if partner is not None else None,
        cap_name=partner.name if partner is not None else "",
    )


def _judge(level: TLP, received: bool, in_orgs: bool, named: bool, seat: _Seat) -> Decision:
    """The TLP rule for one level, for this recipient; worded so a contact may be shown it."""
    label = level.label
    if seat.archive:
        return Allowed("archive", "the national CIRT's own archive keeps everything")
    if seat.cap is not None and level > seat.cap:
        return Withheld(
            f"{label} is above what {seat.cap_name} may receive ({seat.cap.label} at most)", "partner-cap"
        )
    if level is TLP.CLEAR:
        return Allowed("clear", "TLP:CLEAR may go to anyone")
    if seat.party is None:
        return Withheld(f"{label} never goes to public channels", "not-public")
    if level is TLP.GREEN:
        if seat.green:
            return Allowed("green-community", "TLP:GREEN goes to the community of sectors.yaml")
        return Withheld(
            "TLP:GREEN stays inside the community, and the recipient is not a community member",
            "green-community",
        )
    if received and level >= TLP.AMBER_STRICT:
        return Withheld(f"{label} received from a peer never leaves the national CIRT", "received-stays")
    if level is TLP.RED:
        if seat.email is None:
            return Withheld("TLP:RED goes only to named contacts, one message each", "red-named-contacts")
        if seat.recipient.channel in MACHINE_CHANNELS:
            return Withheld("TLP:RED never travels by TAXII or MISP", "red-channel")
        if named:
            return Allowed("red-named-contact", "TLP:RED to a contact it was shared with by name")
        return Withheld("TLP:RED goes only to the contacts it was shared with by name", "red-audience")
    if not (in_orgs or named):
        return Withheld(f"{label} goes only to the organisations it was shared with", "amber-audience")
    if received and not seat.constituent:
        return Withheld(
            "TLP:AMBER received from a peer goes only to constituent organisations",
            "received-amber-constituent",
        )
    if level is TLP.AMBER_STRICT:
        return Allowed(
            "amber-audience", "TLP:AMBER+STRICT to an organisation it was shared with (organisation only)"
        )
    return Allowed("amber-audience", "TLP:AMBER to an organisation it was shared with")


class RulesTable:
    """The TLP rule for one recipient as a table: its verdict for (level, received from a peer,
    recipient in the audience), and what follows from it.  Fast paths (the TAXII server's SQL
    filter and column pre-sift, its plain-object shortcut) read their verdicts from here, never
    from rules of their own.  ``in_audience`` means the recipient's organisation is in the
    object's audience (named contacts are not asked: machine channels have none)."""

    def __init__(self, recipient: Recipient, community: Community) -> None:
        self._seat = _seat(recipient, community)
        self.others = _other_parties(self._seat, community)
        """The values that name other parties (see the audience rule)."""
        self._table = {
            (level, received, in_audience): isinstance(
                _judge(level, received, in_audience, False, self._seat), Allowed
            )
            for level in TLP
            for received in (False, True)
            for in_audience in (False, True)
        }

    def allows(self, level: TLP, received: bool, in_audience: bool) -> bool:
        return self._table[(level, received, in_audience)]

    @property
    def ceiling(self) -> TLP | None:
        """The highest level anything may have and reach the recipient (None: nothing may)."""
        allowed = [level for (level, _, _), ok in self._table.items() if ok]
        return max(allowed, default=None)


NEVER_PLAIN = frozenset({"incident", *DEFINITIONS})
"""Types the gate always rewrites (an incident's public reference) or sends only beside the
objects that use them (definitions): never released as stored."""


_TLP_BY_ID: dict[str, TLP] = {**{level.marking_id: level for level in TLP}, **TLP1_MARKING_IDS}
_UNKNOWN_MARKING = Withheld(
    "it carries a marking this CIRT does not know how to apply (or cannot send the definition of)",
    "unknown-marking",
)


class _Rules:
    """Per-release caches: marking levels and decisions are computed once per distinct input."""

    def __init__(self, seat: _Seat, treatment: Mapping[str, TLP], default_tlp: TLP) -> None:
        self.seat = seat
        self.default = default_tlp
        self.treatment = treatment
        self.levels: dict[str, TLP | None] = {}
        self.memo: dict[tuple[TLP, bool, bool, bool], Decision] = {}

    def level_of(self, marking_id: str) -> TLP | None:
        """The TLP a marking stands for (TLP or translated), None when unknown (fail closed)."""
        try:
            return self.levels[marking_id]
        except KeyError:
            level = level_of_marking(marking_id)
            if level is None:
                level = self.treatment.get(marking_id)
            self.levels[marking_id] = level
            return level

    def level(self, cand: Candidate) -> TLP | None:
        """The level that holds for a candidate; None when a marking is unknown (fail closed)."""
        level = cand.level
        for ref in cand.foreign:
            found = self.level_of(ref)
            if found is None:
                return None
            if level is None or found > level:
                level = found
        return self.default if level is None else level

    def judge(self, level: TLP, cand: Candidate) -> Decision:
        seat = self.seat
        key = (level, cand.origin is not None, seat.party in cand.orgs, seat.email in cand.contacts)
        decision = self.memo.get(key)
        if decision is None:
            decision = self.memo[key] = _judge(level, *key[1:], seat=seat)
        return decision


# ---------------------------------------------------------------------------------------------
# Redaction helpers: each returns a new value only where something changes.


def _strip_refs(value: Any, bad: set[str], removed: list[str], path: str) -> Any:
    """``value`` without references to ``bad`` ids; names what it removed in ``removed``.

    A list entry that loses its own ``…_ref`` (``{"task_ref": …, "status": …}``) described the
    withheld object: the whole entry goes.  A list or mapping left empty goes too (STIX lists
    are never empty).
    """
    if isinstance(value, dict):
        out: dict[str, Any] | None = None
        for key, item in value.items():
            if key.endswith("_ref") and isinstance(item, str):
                if item in bad:
                    out = dict(value) if out is None else out
                    del out[key]
                    removed.append(path + key)
                continue
            if key.endswith("_refs") and isinstance(item, list):
                kept = [x for x in item if x not in bad]
                if len(kept) != len(item):
                    out = dict(value) if out is None else out
                    if kept:
                        out[key] = kept
                    else:
                        del out[key]
                    removed.append(path + key)
                continue
            if isinstance(item, dict | list) and key not in ("object_marking_refs", "granular_markings"):
                new = _strip_refs(item, bad, removed, f"{path}{key}.")
                if new is not item:
                    out = dict(value) if out is None else out
                    if new:
                        out[key] = new
                    else:
                        del out[key]
        return value if out is None else out
    if isinstance(value, list):
        items: list[Any] = []
        changed = False
        for entry in value:
            new = _strip_refs(entry, bad, removed, path) if isinstance(entry, dict | list) else entry
            if new is not entry:
                changed = True
                if isinstance(entry, dict) and any(k.endswith("_ref") and k not in new for k in entry):
                    continue
                if not new:
                    continue
            items.append(new)
        return items if changed else value
    return value


# ---------------------------------------------------------------------------------------------
# The gate


@dataclass(slots=True)
class _Work:
    obj: Mapping[str, Any]
    tlp: TLP
    decision: Allowed
    refs: Sequence[str]
    redacted: list[str]


def _withheld(obj: Mapping[str, Any], tlp: TLP | None, decision: Withheld) -> WithheldObject:
    return WithheldObject(str(obj.get("id", "")), str(obj.get("type", "")), tlp, decision)


def release(
    candidates: Iterable[Candidate],
    recipient: Recipient,
    community: Community,
    *,
    default_tlp: TLP,
    context: Iterable[Candidate] = (),
    reference_key: bytes = b"",
) -> Release:
    """Decide for every candidate; return what ``recipient`` may receive and what was withheld.

    ``context``: objects the candidates may reference that are not offered themselves (a
    relationship's endpoints, a report's members); a reference to an object neither offered
    nor in context counts as withheld.  ``reference_key``: the workspace secret from which an
    incident's public reference is derived (see :func:`public_reference`).
    """
    offered = candidates if isinstance(candidates, Collection) else list(candidates)
    if len(offered) < _PAUSE_FROM:
        return _release(offered, recipient, community, default_tlp, context, reference_key)
    with _collector_paused():
        return _release(offered, recipient, community, default_tlp, context, reference_key)


# The gate allocates a few small objects per candidate and makes no reference cycles; on a large
# release the cyclic collector would re-walk the caller's whole object graph again and again
# (measured: about 40% of the gate's time on 100,000 objects).  It is paused for large releases
# only, and safely across threads: the first gate in pauses it (if it was running), the last one
# out resumes it, and a collector someone else turned off stays off.
_PAUSE_FROM = 5_000
_pause_lock = threading.Lock()
_pausing = 0
_resume = False


@contextmanager
def _collector_paused() -> Iterator[None]:
    global _pausing, _resume
    with _pause_lock:
        if _pausing == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pausing += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pausing -= 1
            if _pausing == 0 and _resume:
                gc.enable()


def _release(
    candidates: Iterable[Candidate],
    recipient: Recipient,
    community: Community,
    default_tlp: TLP,
    context: Iterable[Candidate],
    reference_key: bytes,
) -> Release:
    offered = _newest(candidates)
    context = list(context)
    # Definitions first: a marking that is not TLP counts only if sectors.yaml translates it
    # and its definition can travel with the objects it marks (invariant 2).
    definitions: dict[str, Mapping[str, Any]] = {}
    definition_candidates: dict[str, Candidate] = {}
    for cand in (*context, *(c for c in offered if c.obj["type"] in _DEFINITIONS)):
        oid = cand.obj["id"]
        if cand.obj["type"] in _DEFINITIONS and level_of_marking(oid) is None and oid != TLP2_EXTENSION_ID:
            definitions[oid] = cand.obj
            definition_candidates[oid] = cand
    seat = _seat(recipient, community)
    treatment = {m: t for m, t in community.marking_treatment.items() if m in definitions}
    rules = _Rules(seat, treatment, default_tlp)
    # an extension definition is an object like any other: one the recipient may not receive
    # does not travel, and neither does its use (see _drop_extensions)
    barred = frozenset(
        oid
        for oid, cand in definition_candidates.items()
        if cand.obj["type"] == "extension-definition" and not _allowed(rules, cand)
    )
    for oid in barred:
        del definitions[oid]
    work: dict[str, _Work] = {}
    withheld: dict[str, WithheldObject] = {}

    others = _other_parties(seat, community)
    party, email, memo, default = seat.party, seat.email, rules.memo, default_tlp
    # Context goes through the same rules as the offer, and is not released: a reference is
    # kept exactly when its target would be released if it were offered too, so the verdict on
    # an object never depends on whether what it points at was offered beside it or not.
    offered_ids = {c.obj["id"] for c in offered}
    context_ids = {c.obj["id"] for c in context} - offered_ids
    for cand in (*offered, *(c for c in context if c.obj["id"] in context_ids)):
        obj = cand.obj
        oid = obj["id"]
        stix_type = obj["type"]
        if stix_type in _DEFINITIONS:
            continue
        if cand.foreign:
            level = rules.level(cand)
            if level is None:
                if not seat.archive:
                    withheld[oid] = WithheldObject(oid, stix_type, None, _UNKNOWN_MARKING)
                    continue
                level = TLP.RED  # kept, at the most restrictive level

        else:
            level = default if cand.level is None else cand.level
        key = (level, cand.origin is not None, party in cand.orgs, email in cand.contacts)
        decision = memo.get(key) or rules.judge(level, cand)
        if cand.floor is not None and cand.floor is not level and isinstance(decision, Allowed):
            newest = rules.judge(cand.floor, cand)
            if isinstance(newest, Withheld):
                decision = newest
        if isinstance(decision, Withheld):
            withheld[oid] = WithheldObject(oid, stix_type, level, decision)
            continue
        redacted: list[str] = []
        refs = cand.refs
        if barred and "extensions" in obj and not barred.isdisjoint(obj["extensions"]):
            obj, refusal = _drop_extensions(obj, barred, redacted)
            if refusal is not None:
                withheld[oid] = WithheldObject(oid, stix_type, level, refusal)
                continue
            refs = tuple(content_references(obj))
        if "granular_markings" in obj and not seat.archive:
            obj, refusal = _apply_granular(obj, cand, rules, redacted)
            if refusal is not None:
                withheld[oid] = WithheldObject(oid, stix_type, level, refusal)
                continue
            refs = tuple(content_references(obj))
        if others:
            obj, refusal = _cut_audience(obj, others, redacted)
            if refusal is not None:
                withheld[oid] = WithheldObject(oid, stix_type, level, refusal)
                continue
            if redacted:
                refs = tuple(content_references(obj))
        work[oid] = _Work(obj, level, decision, refs, redacted)

    def reachable(target: str) -> bool:
        return target in work

    def followable(target: str) -> bool:
        """A content reference is kept to what the recipient may see, and never to another
        party of sectors.yaml (which would name the audience)."""
        return target not in others and reachable(target)

    _settle_references(work, withheld, followable)
    known_identities = _community_identities(community)
    released: list[Released] = []
    uses = _Uses(set(), set(), set())
    for oid, item in work.items():
        if oid in context_ids:
            continue
        obj = item.obj
        creator = obj.get("created_by_ref")
        if creator is not None:
            # a sectors.yaml identity is known without its object; once its object is offered
            # or in context, the object's own verdict decides, like any other reference
            if not (
                reachable(creator)
                or (creator in known_identities and creator not in withheld and creator not in context_ids)
            ):
                obj = {k: v for k, v in obj.items() if k != "created_by_ref"}
                item.redacted.append("created_by_ref")
            else:
                uses.creators.add(creator)
        if obj["type"] == "incident" and not seat.archive:
            obj = _public_reference(obj, reference_key)
        marks = obj.get("object_marking_refs")
        if not marks and not seat.archive:  # nothing leaves unmarked: the level it was judged
            # at is written on it (the archive keeps objects exactly as stored)
            marks = [item.tlp.marking_id]
            obj = {**obj, "object_marking_refs": marks}
        if marks:
            uses.markings.update(marks)
        if "granular_markings" in obj:
            uses.markings.update(g["marking_ref"] for g in obj["granular_markings"] if "marking_ref" in g)
        if "extensions" in obj:
            uses.extensions.update(obj["extensions"])
        released.append(Released(obj, item.tlp, item.decision, tuple(item.redacted) if item.redacted else ()))
    uses.creators.difference_update(offered_ids)
    return Release(
        recipient,
        tuple(released),
        tuple(w for oid, w in withheld.items() if oid not in context_ids),
        tuple(_definitions_for(uses, definitions, community)),
    )


@dataclass(frozen=True, slots=True)
class _Uses:
    """What the released objects point at that travels beside them (ids not released)."""

    markings: set[str]
    extensions: set[str]
    creators: set[str]


def _newest(candidates: Iterable[Candidate]) -> Collection[Candidate]:
    """One candidate per id: the newest version when a caller offers several."""
    offered_list = list(candidates)
    offered = {c.obj["id"]: c for c in offered_list}
    if len(offered) == len(offered_list):
        return offered.values()
    offered = {}
    for cand in offered_list:
        oid = cand.obj["id"]
        earlier = offered.get(oid)
        if earlier is None or str(cand.obj.get("modified", "")) > str(earlier.obj.get("modified", "")):
            offered[oid] = cand
    return offered.values()


def _settle_references(
    work: dict[str, _Work], withheld: dict[str, WithheldObject], reachable: Callable[[str], bool]
) -> None:
    """Apply the reference rules; withholding one object re-examines those that point at it."""
    dependents: dict[str, list[str]] = {}
    queue: list[str] = []
    for oid, item in work.items():
        if item.refs:
            queue.append(oid)
            for target in item.refs:
                dependents.setdefault(target, []).append(oid)
    while queue:
        oid = queue.pop()
        if oid not in work:
            continue
        item = work[oid]
        bad = {r for r in item.refs if not reachable(r)}
        if not bad:
            continue
        obj = item.obj
        stix_type = obj["type"]
        refusal: Withheld | None = None
        if stix_type in _LINKS:
            refusal = Withheld("it links to something the recipient may not see", "reference")
        else:
            removed: list[str] = []
            stripped = _strip_refs(obj, bad, removed, "")
            gone = {p for p in removed if "." not in p} - set(stripped)
            required = required_properties(stix_type)
            if gone & required:
                refusal = Withheld(
                    "every object it refers to is withheld from the recipient"
                    if stix_type in CONTAINERS
                    else "a required reference points at something the recipient may not see",
                    "reference",
                )
            elif stix_type == "network-traffic" and not ("src_ref" in stripped or "dst_ref" in stripped):
                refusal = Withheld("both its endpoints are withheld", "reference")
            else:
                item.obj = _unselect(stripped, {p.split(".", 1)[0] for p in removed})
                item.refs = [r for r in item.refs if r not in bad]
                item.redacted.extend(dict.fromkeys(_EXTENSION_PATH.sub("", r) for r in removed))
        if refusal is not None:
            del work[oid]
            withheld[oid] = _withheld(obj, item.tlp, refusal)
            queue.extend(dependents.get(oid, ()))


def _unselect(obj: Mapping[str, Any], changed: set[str]) -> Mapping[str, Any]:
    """Drop granular-marking selectors into properties that were cut (their indices moved)."""
    markings = obj.get("granular_markings")
    if not markings:
        return obj
    kept = []
    for marking in markings:
        selectors = [s for s in marking.get("selectors", ()) if s.split(".", 1)[0] not in changed]
        if selectors:
            kept.append({**marking, "selectors": selectors})
    out = dict(obj)
    if kept:
        out["granular_markings"] = kept
    else:
        del out["granular_markings"]
    return out


def _apply_granular(
    obj: Mapping[str, Any], cand: Candidate, rules: _Rules, redacted: list[str]
) -> tuple[Mapping[str, Any], Withheld | None]:
    """Remove every property a granular marking forbids the recipient; refuse if one is required."""
    markings = obj.get("granular_markings") or []
    forbidden: set[str] = set()
    for marking in markings:
        ref = marking.get("marking_ref")
        if ref is None:
            continue  # a language marking restricts nothing
        level = rules.level_of(ref)
        if level is None or isinstance(rules.judge(level, cand), Withheld):
            forbidden.update(s.split(".", 1)[0] for s in marking.get("selectors", ()))
    if not forbidden:
        return obj, None
    if forbidden & required_properties(obj["type"]) or "id" in forbidden:
        return obj, Withheld("a required field carries a marking the recipient may not see", "granular")
    out = {k: v for k, v in obj.items() if k not in forbidden}
    kept = []
    for marking in markings:
        selectors = [s for s in marking.get("selectors", ()) if s.split(".", 1)[0] not in forbidden]
        if selectors:
            kept.append({**marking, "selectors": selectors})
    if kept:
        out["granular_markings"] = kept
    else:
        del out["granular_markings"]
    redacted.extend(sorted(forbidden & set(obj)))
    return out, None


def public_reference(internal: str, object_id: str, key: bytes) -> str:
    """The reference recipients see for an incident: the internal one's prefix (``BZ``) and a
    code keyed on the workspace secret, stable per incident and in no order, so that it tells
    nothing of how many incidents there are (``BZ-2026-0042`` would)."""
    prefix = internal.split("-", 1)[0] or "INC"
    digest = hmac.new(key, object_id.encode(), hashlib.sha256).digest()
    return f"{prefix}-{base64.b32encode(digest[:5]).decode()}"


def _public_reference(obj: Mapping[str, Any], key: bytes) -> Mapping[str, Any]:
    """An incident with its internal reference replaced by the public one (without a key, the
    reference goes: fail closed)."""
    ours = obj.get("extensions", {}).get(OUR_EXTENSION_ID)
    if not isinstance(ours, Mapping) or not isinstance(ours.get("reference"), str):
        return obj
    reduced = {k: v for k, v in ours.items() if k != "reference"}
    if key:
        reduced["reference"] = public_reference(ours["reference"], str(obj["id"]), key)
    return {**obj, "extensions": {**obj["extensions"], OUR_EXTENSION_ID: reduced}}


def _allowed(rules: _Rules, cand: Candidate) -> bool:
    """Would the TLP rule alone let this candidate go (context and definitions)?"""
    level = rules.level(cand)
    return level is not None and isinstance(rules.judge(level, cand), Allowed)


_LINKS = frozenset({"relationship", "sighting"})
_REQUIRED_EXTENSION_TYPES = frozenset({"new-sdo", "new-sco", "new-sro", "toplevel-property-extension"})


def _drop_extensions(
    obj: Mapping[str, Any], barred: frozenset[str], redacted: list[str]
) -> tuple[Mapping[str, Any], Withheld | None]:
    """The object without its uses of extensions the recipient may not receive; withheld when
    the extension defines the object itself or its top-level properties."""
    extensions = obj["extensions"]
    kept = {}
    for ext_id, body in extensions.items():
        if ext_id not in barred:
            kept[ext_id] = body
        elif isinstance(body, Mapping) and body.get("extension_type") in _REQUIRED_EXTENSION_TYPES:
            return obj, Withheld("it is defined by an extension the recipient may not receive", "extension")
        else:
            redacted.append(f"extensions.{ext_id}")
    out = {k: v for k, v in obj.items() if k != "extensions"}
    if kept:
        out["extensions"] = kept
    return out, None


_NOT_AUDIENCE = frozenset(
    {
        "type",
        "id",
        "spec_version",
        "created",
        "modified",
        "created_by_ref",
        "object_marking_refs",
        "granular_markings",
    }
)


def _other_parties(seat: _Seat, community: Community) -> frozenset[str]:
    """sectors.yaml ids and identities of every organisation and partner but the recipient's."""
    if seat.recipient.kind == "archive":
        return frozenset()
    out: set[str] = set()
    for party in (*community.organisations.values(), *community.partners.values()):
        if party.id != seat.party:
            out.update((party.id, party.identity))
    return frozenset(out)


def _cut_audience(
    obj: Mapping[str, Any], others: frozenset[str], redacted: list[str]
) -> tuple[Mapping[str, Any], Withheld | None]:
    """The object without any value naming another party (its sectors.yaml id or identity),
    in whatever property, extension or list it sits: who else an object is shared with, or
    affects, is never told.  Withheld when a required property would go."""
    removed: list[str] = []
    out = _without(obj if isinstance(obj, dict) else dict(obj), others, removed, "", skip=_NOT_AUDIENCE)
    if not removed:
        return obj, None
    redacted.extend(dict.fromkeys(_EXTENSION_PATH.sub("", r) for r in removed))
    if required_properties(obj["type"]) - out.keys():
        return obj, Withheld("a required field names who else it concerns", "audience")
    return out, None


def _without(
    value: Any, others: frozenset[str], removed: list[str], path: str, skip: frozenset[str] = frozenset()
) -> Any:
    """``value`` (a dict or list) without strings in ``others``; the same object if none.
    Where something went is added to ``removed``; keys in ``skip`` are left as they are."""
    if isinstance(value, dict):
        out: dict[str, Any] | None = None
        for key, item in value.items():
            if key in skip:
                continue
            if isinstance(item, str):
                if item not in others:
                    continue
                new: Any = None
                removed.append(path + key)
            elif isinstance(item, dict | list):
                new = _without(item, others, removed, f"{path}{key}.")
                if new is item:
                    continue
            else:
                continue
            out = dict(value) if out is None else out
            if new:
                out[key] = new
            else:
                del out[key]
        return value if out is None else out
    items: list[Any] = []
    changed = False
    for entry in value:
        if isinstance(entry, str):
            if entry in others:
                if not changed:
                    removed.append(path.rstrip("."))
                changed = True
                continue
        elif isinstance(entry, dict | list):
            new = _without(entry, others, removed, path)
            if new is not entry:
                changed = True
                if not new:
                    continue
                entry = new
        items.append(entry)
    return items if changed else value


def _community_identities(community: Community) -> frozenset[str]:
    return frozenset(
        [
            community.national.identity,
            *(o.identity for o in community.organisations.values()),
            *(p.identity for p in community.partners.values()),
        ]
    )


def _definitions_for(
    uses: _Uses, offered: dict[str, Mapping[str, Any]], community: Community
) -> list[Mapping[str, Any]]:
    """Marking and extension definitions the released objects use, and our identity."""
    out: list[Mapping[str, Any]] = [
        d for oid, d in offered.items() if oid in uses.markings or oid in uses.extensions
    ]
    out += definitions_for(
        extensions=uses.extensions,
        creators=uses.creators,
        markings=uses.markings,
        national=community.national,
        present=[d["id"] for d in out],
    )
    return out
