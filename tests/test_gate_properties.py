"""The gate against generated communities, objects, markings, references and audiences.

For every recipient: nothing forbidden is released (no withheld id, no value under a granular
marking the recipient may not see, anywhere in the serialized bundle), every reference in the
bundle resolves inside it, and the bundle is valid STIX 2.1.  The rules are restated here, as
plainly as FIRST words them, as an oracle the gate must agree with.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import stix2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cirt.community import Community
from cirt.gate import Candidate, Recipient, release
from cirt.incidents import OUR_EXTENSION_ID
from cirt.sectors_file import CommunityFile
from cirt.tlp import TLP

STAMP = "2026-03-10T14:00:00.000Z"
OTHER_MARKING = "marking-definition--0a0b0c0d-0000-4000-8000-0000000000aa"
OTHER_DEFINITION = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": OTHER_MARKING,
    "created": STAMP,
    "definition_type": "statement",
    "definition": {"statement": "PAP:AMBER"},
}
CHANNELS = ("email", "bulletin", "export", "taxii", "misp")


def _uuid(kind: str, n: int) -> str:
    return f"{kind}--{uuid.UUID(int=n + 1, version=4)}"


# --- Communities -------------------------------------------------------------------------------


@st.composite
def communities(draw: st.DrawFn) -> Community:
    orgs = []
    for i in range(draw(st.integers(1, 4))):
        orgs.append(
            {
                "id": f"org{i}",
                "name": f"Organisation {i}",
                "identity": _uuid("identity", 100 + i),
                "sector": "financial-services",
                "community": draw(st.booleans()),
                "role": draw(st.sampled_from(["constituent", "referral"])),
                "contacts": [
                    {"name": f"C{i}{j}", "email": f"c{j}@org{i}.example", "role": "soc"}
                    for j in range(draw(st.integers(0, 2)))
                ],
            }
        )
    partners = []
    for i in range(draw(st.integers(0, 2))):
        partners.append(
            {
                "id": f"partner{i}",
                "name": f"Partner {i}",
                "identity": _uuid("identity", 200 + i),
                "community": draw(st.booleans()),
                "max_tlp": draw(st.sampled_from([t.slug for t in TLP])),
                "contacts": [{"name": f"P{i}", "email": f"ops@partner{i}.example", "role": "ops"}],
            }
        )
    markings = (
        [{"id": OTHER_MARKING, "name": "PAP:AMBER", "treat_as": draw(st.sampled_from([t.slug for t in TLP]))}]
        if draw(st.booleans())
        else []
    )
    return CommunityFile.model_validate(
        {
            "national_cirt": {"id": "national", "name": "National CIRT", "identity": _uuid("identity", 999)},
            "organisations": orgs,
            "partners": partners,
            "markings": markings,
        }
    ).community()


def recipients_of(community: Community) -> list[Recipient]:
    out = [Recipient("public", "public", "export")]
    out += [Recipient("org", o, "bulletin") for o in community.organisations]
    out += [Recipient("partner", p, "taxii") for p in community.partners]
    for party in (*community.organisations.values(), *community.partners.values()):
        out += [Recipient("contact", c.email, "email") for c in party.contacts]
    return out


# --- Objects -----------------------------------------------------------------------------------

MARKINGS: st.SearchStrategy[list[str]] = st.one_of(
    st.just([]),
    st.lists(st.sampled_from([t.marking_id for t in TLP]), min_size=1, max_size=2),
    st.just([OTHER_MARKING]),
    st.just([TLP.GREEN.marking_id, OTHER_MARKING]),
)
GRANULAR = st.one_of(st.none(), st.sampled_from([t.marking_id for t in TLP] + [OTHER_MARKING]))


@dataclass
class World:
    community: Community
    candidates: list[Candidate]
    secrets: dict[str, tuple[str, str | None, Candidate]]  # value -> (object id, marking, cand)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    community = draw(communities())
    parties = [*community.organisations, *community.partners, "national"]
    emails = [
        c.email for p in (*community.organisations.values(), *community.partners.values()) for c in p.contacts
    ]
    candidates: list[Candidate] = []
    secrets: dict[str, tuple[str, str | None, Candidate]] = {}
    ids: list[str] = []
    for n in range(draw(st.integers(1, 12))):
        kind = draw(
            st.sampled_from(
                ["indicator", "indicator", "identity", "incident"]
                + (["relationship", "report", "sighting", "note"] if ids else [])
            )
        )
        oid = _uuid(kind, n)
        obj: dict[str, Any] = {
            "type": kind,
            "spec_version": "2.1",
            "id": oid,
            "created": STAMP,
            "modified": STAMP,
        }
        if kind == "indicator":
            obj.update(
                name=f"name-{n}",
                pattern=f"[ipv4-addr:value = '198.51.100.{n}']",
                pattern_type="stix",
                valid_from=STAMP,
            )
        elif kind == "identity":
            obj.update(name=f"identity-{n}", identity_class="organization")
        elif kind == "incident":
            obj.update(
                name=f"incident-{n}",
                extensions={
                    OUR_EXTENSION_ID: {
                        "extension_type": "property-extension",
                        "affected_organisations": draw(
                            st.lists(st.sampled_from(parties[:-1]), unique=True, min_size=1)
                        ),
                    }
                },
            )
        elif kind == "relationship":
            sdos = [i for i in ids if not i.startswith(("relationship", "sighting"))] or ids
            obj.update(
                relationship_type="related-to",
                source_ref=draw(st.sampled_from(sdos)),
                target_ref=draw(st.sampled_from(sdos)),
            )
        elif kind == "sighting":
            sdos = [i for i in ids if not i.startswith(("relationship", "sighting"))] or ids
            obj.update(sighting_of_ref=draw(st.sampled_from(sdos)))
            places = [i for i in ids if i.startswith("identity")]
            if places:
                obj["where_sighted_refs"] = draw(
                    st.lists(st.sampled_from(places), min_size=1, max_size=2, unique=True)
                )
        else:
            refs = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=3, unique=True))
            if kind == "report":
                obj.update(name=f"report-{n}", published=STAMP, object_refs=refs)
            else:
                obj.update(content=f"note-{n}", object_refs=refs)
        if draw(st.booleans()) and ids:
            obj["created_by_ref"] = draw(
                st.sampled_from([i for i in ids if i.startswith("identity")] or [_uuid("identity", 999)])
            )
        marks = draw(MARKINGS)
        if marks:
            obj["object_marking_refs"] = marks
        granular = draw(GRANULAR)
        secret = f"SECRET-{n}-{draw(st.integers(0, 9999))}"
        obj["description"] = secret
        if granular is not None:
            obj["granular_markings"] = [{"marking_ref": granular, "selectors": ["description"]}]
        if "object_refs" in obj and draw(st.booleans()):
            obj.setdefault("granular_markings", []).append(
                {
                    "marking_ref": draw(st.sampled_from([t.marking_id for t in TLP])),
                    "selectors": [f"object_refs.[{len(obj['object_refs']) - 1}]"],
                }
            )
        cand = Candidate(
            obj,
            frozenset(draw(st.lists(st.sampled_from(parties), unique=True))),
            frozenset(draw(st.lists(st.sampled_from(emails), unique=True))) if emails else frozenset(),
            draw(st.sampled_from([None, None, "taxii:peer"])),
        )
        secrets[secret] = (oid, granular, cand)
        candidates.append(cand)
        ids.append(oid)
    if draw(st.booleans()):
        candidates.append(Candidate(OTHER_DEFINITION))
    return World(community, candidates, secrets)


# --- The oracle: the rules restated --------------------------------------------------------------


def level_of(refs: list[str], community: Community, definitions: set[str]) -> TLP | None:
    """Most restrictive of the markings, default AMBER when none, None when one is unknown
    (not TLP, and not translated by sectors.yaml with its definition at hand)."""
    if not refs:
        return TLP.AMBER
    levels = []
    for ref in refs:
        tlp = next((t for t in TLP if t.marking_id == ref), None)
        if tlp is None and ref in definitions:
            tlp = community.marking_treatment.get(ref)
        if tlp is None:
            return None
        levels.append(tlp)
    return max(levels)


def may_see(level: TLP | None, cand: Candidate, to: Recipient, community: Community) -> bool:
    if level is None:
        return False
    if to.kind == "public":
        return level is TLP.CLEAR
    party = community.contact(to.id).party_id if to.kind == "contact" else to.id
    partner = community.partners.get(party)
    if partner is not None and level > partner.max_tlp:
        return False
    if level is TLP.CLEAR:
        return True
    if level is TLP.GREEN:
        return community.party(party).community
    if cand.received and level >= TLP.AMBER_STRICT:
        return False
    if level is TLP.RED:
        return to.kind == "contact" and to.channel not in ("taxii", "misp") and to.id in cand.contacts
    in_audience = party in cand.orgs or (to.kind == "contact" and to.id in cand.contacts)
    if cand.received:
        org = community.organisations.get(party)
        return in_audience and org is not None and org.role == "constituent"
    return in_audience


def all_refs(value: Any) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_ref") and isinstance(item, str) and key != "marking_ref":
                found.append(item)
            elif key.endswith("_refs") and key != "object_marking_refs":
                found.extend(item)
            else:
                found.extend(all_refs(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(all_refs(item))
    return found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=worlds(), channel=st.sampled_from(CHANNELS))
def test_nothing_forbidden_leaves_and_every_bundle_is_valid_stix(world: World, channel: str) -> None:
    community = world.community
    definitions = {c.obj["id"] for c in world.candidates if c.obj["type"] == "marking-definition"}
    objects = [c for c in world.candidates if c.obj["type"] != "marking-definition"]
    for base in recipients_of(community):
        to = Recipient(base.kind, base.id, channel)
        result = release(world.candidates, to, community, default_tlp=TLP.AMBER)
        bundle = result.bundle("bundle--00000000-0000-4000-8000-000000000000")
        text = json.dumps(bundle)
        released = {r.obj["id"]: r for r in result.released}

        # every offered object is decided exactly once
        assert len(released) + len(result.withheld) == len(objects)
        for withheld in result.withheld:
            assert withheld.id not in text, (to, withheld)
        for cand in objects:
            oid = cand.obj["id"]
            level = level_of(cand.obj.get("object_marking_refs", []), community, definitions)
            if oid in released:
                assert may_see(level, cand, to, community), (to, cand.obj)
                assert released[oid].tlp is level
            elif (
                cand.obj["type"] in ("indicator", "identity", "incident")
                and "granular_markings" not in cand.obj
                and "created_by_ref" not in cand.obj
            ):
                assert not may_see(level, cand, to, community), (to, cand.obj)
        for secret, (oid, granular, cand) in world.secrets.items():
            visible = oid in released and (
                granular is None or may_see(level_of([granular], community, definitions), cand, to, community)
            )
            assert (secret in text) == visible, (to, secret, granular)

        # references resolve inside the bundle (or to a known identity)
        present = {o["id"] for o in bundle.get("objects", [])}
        known = {
            community.national.identity,
            *(o.identity for o in community.organisations.values()),
            *(p.identity for p in community.partners.values()),
        }
        for sent in result.released:
            for ref in all_refs(sent.obj):
                assert ref in present or ref in known, (to, sent.obj, ref)
            for mark in sent.obj.get("object_marking_refs", []):
                assert mark in present, (to, mark)
            ours = sent.obj.get("extensions", {}).get(OUR_EXTENSION_ID, {})
            party = community.contact(to.id).party_id if to.kind == "contact" else to.id
            assert set(ours.get("affected_organisations", [])) <= {party}

        if "objects" in bundle:
            stix2.parse(bundle, allow_custom=True)
        else:  # nothing may go: a bundle without objects (stix2 cannot parse that form)
            assert result.released == ()
