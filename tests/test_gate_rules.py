"""The sharing gate, rule by rule, as FIRST TLP 2.0 and DESIGN.md word them."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import stix2

from cirt.community import Community, MarkingTreatment
from cirt.config import shipped_path
from cirt.errors import InvalidValue, NotFound
from cirt.gate import Allowed, Candidate, Recipient, Release, Withheld, release
from cirt.incidents import OUR_EXTENSION_ID
from cirt.sectors_file import load_community
from cirt.tlp import TLP, TLP1_MARKING_IDS

STAMP = "2026-03-10T14:00:00.000Z"
PAP_RED = "marking-definition--a1a2a3a4-0000-4000-8000-00000000feed"  # not TLP
CBB_SOC = "soc@cbb.bz.example"
CBB_SUPERVISION = "supervision@cbb.bz.example"
BEL_CIRT = "cirt@bel.bz.example"


@pytest.fixture(scope="module")
def community() -> Community:
    return load_community(shipped_path("sectors.yaml"))


def sdo(kind: str, n: int, tlp: TLP | None = TLP.CLEAR, **props: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": kind,
        "spec_version": "2.1",
        "id": f"{kind}--00000000-0000-4000-8000-{n:012d}",
        "created": STAMP,
        "modified": STAMP,
    }
    if tlp is not None:
        obj["object_marking_refs"] = [tlp.marking_id]
    obj.update(props)
    return obj


def indicator(n: int, tlp: TLP | None = TLP.CLEAR, **props: Any) -> dict[str, Any]:
    return sdo(
        "indicator",
        n,
        tlp,
        name=f"ioc-{n}",
        pattern=f"[ipv4-addr:value = '198.51.100.{n}']",
        pattern_type="stix",
        valid_from=STAMP,
        **props,
    )


def relationship(n: int, source: str, target: str, tlp: TLP = TLP.CLEAR) -> dict[str, Any]:
    return sdo("relationship", n, tlp, relationship_type="related-to", source_ref=source, target_ref=target)


def offer(
    obj: dict[str, Any], orgs: tuple[str, ...] = (), contacts: tuple[str, ...] = (), origin: str | None = None
) -> Candidate:
    return Candidate(obj, frozenset(orgs), frozenset(contacts), origin)


def to(kind: str, rid: str, channel: str = "bulletin") -> Recipient:
    return Recipient(kind, rid, channel)  # type: ignore[arg-type]


def gate(
    community: Community, recipient: Recipient, *candidates: Candidate, context: tuple[Candidate, ...] = ()
) -> Release:
    return release(candidates, recipient, community, default_tlp=TLP.AMBER, context=context)


def released_ids(result: Release) -> set[str]:
    return {r.obj["id"] for r in result.released}


def decision(community: Community, recipient: Recipient, candidate: Candidate) -> Allowed | Withheld:
    found = gate(community, recipient, candidate).decision(candidate.obj["id"])
    assert found is not None
    return found


# --- CLEAR ------------------------------------------------------------------------------------


def test_clear_may_be_released_to_anyone_public_channels_included(community: Community) -> None:
    ioc = offer(indicator(1, TLP.CLEAR))
    for recipient in (
        to("public", "public", "export"),
        to("org", "pitcu"),
        to("partner", "cto", "taxii"),
        to("contact", "cyber@cto.example", "email"),
    ):
        assert decision(community, recipient, ioc) == Allowed("clear", "TLP:CLEAR may go to anyone")


# --- GREEN ------------------------------------------------------------------------------------


def test_green_goes_to_any_member_of_the_community(community: Community) -> None:
    ioc = offer(indicator(1, TLP.GREEN))
    for recipient in (
        to("org", "bws"),
        to("org", "puc"),
        to("contact", BEL_CIRT, "email"),
        to("partner", "csirtamericas", "taxii"),
    ):
        assert isinstance(decision(community, recipient, ioc), Allowed), recipient


def test_green_never_goes_to_public_channels(community: Community) -> None:
    result = decision(community, to("public", "public", "export"), offer(indicator(1, TLP.GREEN)))
    assert result == Withheld("TLP:GREEN never goes to public channels", "not-public")


def test_green_stays_inside_the_community(community: Community) -> None:
    # PITCU is an organisation of sectors.yaml but not of the GREEN community; CTO is a partner
    # outside it.
    ioc = offer(indicator(1, TLP.GREEN))
    assert decision(community, to("org", "pitcu"), ioc).rule == "green-community"
    assert decision(community, to("contact", "cybercrime@police.bz.example"), ioc).rule == "green-community"
    assert isinstance(decision(community, to("partner", "cto", "taxii"), ioc), Withheld)


# --- AMBER, AMBER+STRICT -----------------------------------------------------------------------


def test_amber_goes_only_to_organisations_in_the_audience(community: Community) -> None:
    ioc = offer(indicator(1, TLP.AMBER), orgs=("cbb",))
    assert decision(community, to("org", "cbb"), ioc).rule == "amber-audience"
    assert isinstance(decision(community, to("org", "cbb"), ioc), Allowed)
    withheld = decision(community, to("org", "bel"), ioc)
    assert withheld == Withheld(
        "TLP:AMBER goes only to the organisations it was shared with", "amber-audience"
    )


def test_amber_reaches_every_named_contact_of_an_organisation_in_the_audience(community: Community) -> None:
    ioc = offer(indicator(1, TLP.AMBER), orgs=("cbb",))
    assert isinstance(decision(community, to("contact", CBB_SOC, "email"), ioc), Allowed)
    assert isinstance(decision(community, to("contact", CBB_SUPERVISION, "email"), ioc), Allowed)
    assert isinstance(decision(community, to("contact", BEL_CIRT, "email"), ioc), Withheld)


def test_amber_strict_goes_only_to_organisations_in_the_audience(community: Community) -> None:
    ioc = offer(indicator(1, TLP.AMBER_STRICT), orgs=("bws",))
    allowed = decision(community, to("org", "bws"), ioc)
    assert isinstance(allowed, Allowed) and "organisation only" in allowed.reason
    assert decision(community, to("org", "cbb"), ioc).rule == "amber-audience"
    assert decision(community, to("partner", "csirtamericas", "taxii"), ioc).rule == "partner-cap"


def test_amber_never_goes_to_public_channels(community: Community) -> None:
    ioc = offer(indicator(1, TLP.AMBER), orgs=("cbb",))
    assert decision(community, to("public", "public"), ioc).rule == "not-public"


# --- RED --------------------------------------------------------------------------------------


def test_red_goes_only_to_named_contacts_in_the_audience(community: Community) -> None:
    ioc = offer(indicator(1, TLP.RED), orgs=("cbb",), contacts=(CBB_SOC,))
    assert decision(community, to("contact", CBB_SOC, "email"), ioc) == Allowed(
        "red-named-contact", "TLP:RED to a contact it was shared with by name"
    )
    # the organisation as a whole, and its other contacts, do not receive it
    assert decision(community, to("org", "cbb"), ioc).rule == "red-named-contacts"
    assert decision(community, to("contact", CBB_SUPERVISION, "email"), ioc).rule == "red-audience"


def test_red_never_travels_by_taxii_or_misp(community: Community) -> None:
    ioc = offer(indicator(1, TLP.RED), contacts=(CBB_SOC,))
    for channel in ("taxii", "misp"):
        assert decision(community, to("contact", CBB_SOC, channel), ioc) == Withheld(
            "TLP:RED never travels by TAXII or MISP", "red-channel"
        )


# --- Received from a peer ----------------------------------------------------------------------


def test_received_amber_strict_and_red_never_leave_the_national_cirt(community: Community) -> None:
    for level in (TLP.AMBER_STRICT, TLP.RED):
        ioc = offer(indicator(1, level), orgs=("cbb",), contacts=(CBB_SOC,), origin="taxii:csirtamericas")
        for recipient in (to("org", "cbb"), to("contact", CBB_SOC, "email")):
            assert decision(community, recipient, ioc).rule == "received-stays"


def test_received_amber_goes_only_to_constituent_organisations_in_its_audience(community: Community) -> None:
    ioc = offer(indicator(1, TLP.AMBER), orgs=("cbb", "puc"), origin="taxii:csirtamericas")
    assert isinstance(decision(community, to("org", "cbb"), ioc), Allowed)
    # the PUC is in the audience but is a referral, not a constituent
    assert decision(community, to("org", "puc"), ioc).rule == "received-amber-constituent"
    assert decision(community, to("org", "bel"), ioc).rule == "amber-audience"


def test_received_green_and_clear_follow_the_usual_rules(community: Community) -> None:
    green = offer(indicator(1, TLP.GREEN), origin="import:feed.json")
    assert isinstance(decision(community, to("org", "bel"), green), Allowed)
    clear = offer(indicator(2, TLP.CLEAR), origin="misp:partner")
    assert isinstance(decision(community, to("public", "public"), clear), Allowed)


# --- Partners ----------------------------------------------------------------------------------


def test_partner_max_tlp_caps_what_goes_to_a_partner(community: Community) -> None:
    amber = offer(indicator(1, TLP.AMBER), orgs=("csirtamericas",))
    assert decision(community, to("partner", "csirtamericas", "taxii"), amber) == Withheld(
        "TLP:AMBER is above what CSIRTAmericas (OAS/CICTE) may receive (TLP:GREEN at most)", "partner-cap"
    )
    assert (
        decision(community, to("contact", "ops@csirtamericas.example", "email"), amber).rule == "partner-cap"
    )
    # CTO may receive CLEAR only
    assert decision(community, to("partner", "cto"), offer(indicator(2, TLP.GREEN))).rule == "partner-cap"


def test_a_partner_whose_cap_allows_amber_still_needs_to_be_in_the_audience() -> None:
    shipped = load_community(shipped_path("sectors.yaml"))
    community = Community(
        shipped.national,
        tuple(shipped.organisations.values()),
        tuple(dataclasses.replace(p, max_tlp=TLP.AMBER) for p in shipped.partners.values()),
        default_tlp=shipped.default_tlp,
        markings=shipped.markings,
    )
    recipient = to("partner", "lacnic-warp", "taxii")
    assert (
        decision(community, recipient, offer(indicator(1, TLP.AMBER), orgs=("cbb",))).rule == "amber-audience"
    )
    assert isinstance(
        decision(community, recipient, offer(indicator(1, TLP.AMBER), orgs=("lacnic-warp",))), Allowed
    )


# --- Markings ----------------------------------------------------------------------------------


def test_an_object_without_tlp_marking_is_treated_as_the_default_tlp(community: Community) -> None:
    bare = offer(indicator(1, None), orgs=("cbb",))
    result = gate(community, to("org", "bel"), bare)
    assert result.withheld[0].tlp is TLP.AMBER and result.withheld[0].decision.rule == "amber-audience"
    assert gate(community, to("org", "cbb"), bare).released[0].tlp is TLP.AMBER


def test_the_most_restrictive_of_several_tlp_markings_holds(community: Community) -> None:
    ioc = indicator(1, TLP.GREEN)
    ioc["object_marking_refs"].append(TLP.RED.marking_id)
    assert decision(community, to("org", "cbb"), offer(ioc, orgs=("cbb",))).rule == "red-named-contacts"


def test_tlp_1_0_markings_are_understood(community: Community) -> None:
    white = next(mid for mid, lvl in TLP1_MARKING_IDS.items() if lvl is TLP.CLEAR)
    ioc = indicator(1, None, object_marking_refs=[white])
    assert isinstance(decision(community, to("public", "public"), offer(ioc)), Allowed)


PAP_DEFINITION = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": PAP_RED,
    "created": STAMP,
    "definition_type": "statement",
    "definition": {"statement": "PAP:RED"},
}


def treating_pap_red_as(community: Community, level: str) -> Community:
    return Community(
        community.national,
        tuple(community.organisations.values()),
        tuple(community.partners.values()),
        default_tlp=community.default_tlp,
        markings=(MarkingTreatment(id=PAP_RED, name="PAP:RED", treat_as=TLP.parse(level)),),
    )


def test_a_marking_that_is_not_tlp_is_withheld_unless_sectors_yaml_maps_it(community: Community) -> None:
    ioc = offer(indicator(1, None, object_marking_refs=[PAP_RED]), orgs=("cbb",))
    assert (
        gate(community, to("org", "cbb"), offer(PAP_DEFINITION), ioc).withheld[0].decision.rule
        == "unknown-marking"
    )
    mapped = treating_pap_red_as(community, "amber")
    assert released_ids(gate(mapped, to("org", "cbb"), offer(PAP_DEFINITION), ioc)) == {ioc.obj["id"]}
    assert (
        gate(mapped, to("org", "bel"), offer(PAP_DEFINITION), ioc).withheld[0].decision.rule
        == "amber-audience"
    )


def test_a_mapped_marking_is_withheld_when_its_definition_cannot_travel_with_it(community: Community) -> None:
    mapped = treating_pap_red_as(community, "clear")
    ioc = offer(indicator(1, None, object_marking_refs=[PAP_RED]))
    assert decision(mapped, to("org", "cbb"), ioc).rule == "unknown-marking"


def test_a_mapped_marking_definition_travels_with_the_objects_it_marks(community: Community) -> None:
    mapped = treating_pap_red_as(community, "green")
    definition = PAP_DEFINITION
    ioc = indicator(1, None, object_marking_refs=[PAP_RED])
    result = release([offer(definition), offer(ioc)], to("org", "bel"), mapped, default_tlp=TLP.AMBER)
    assert PAP_RED in {o["id"] for o in result.objects}
    unused = release([offer(definition)], to("org", "bel"), mapped, default_tlp=TLP.AMBER)
    assert unused.objects == []


# --- No leaks through references ---------------------------------------------------------------


def test_a_relationship_touching_a_withheld_object_is_withheld(community: Community) -> None:
    green, red = indicator(1, TLP.GREEN), indicator(2, TLP.RED)
    link = relationship(3, green["id"], red["id"], TLP.GREEN)
    result = gate(community, to("org", "bel"), offer(green), offer(red), offer(link))
    assert released_ids(result) == {green["id"]}
    assert result.decision(link["id"]) == Withheld(
        "it links to something the recipient may not see", "reference"
    )
    assert red["id"] not in json.dumps(result.bundle("bundle--1"))


def test_a_sighting_touching_a_withheld_object_is_withheld(community: Community) -> None:
    green, amber_place = indicator(1, TLP.GREEN), sdo("identity", 2, TLP.AMBER, name="Victim")
    sighting = sdo(
        "sighting", 3, TLP.GREEN, sighting_of_ref=green["id"], where_sighted_refs=[amber_place["id"]]
    )
    result = gate(
        community, to("org", "bel"), offer(green), offer(amber_place, orgs=("cbb",)), offer(sighting)
    )
    assert released_ids(result) == {green["id"]}
    assert result.decision(sighting["id"]).rule == "reference"  # type: ignore[union-attr]


def test_a_report_loses_its_withheld_references_and_goes_only_if_some_remain(community: Community) -> None:
    green, red = indicator(1, TLP.GREEN), indicator(2, TLP.RED)
    report = sdo("report", 3, TLP.GREEN, name="Weekly", published=STAMP, object_refs=[green["id"], red["id"]])
    result = gate(community, to("org", "bel"), offer(green), offer(red), offer(report))
    sent = next(r for r in result.released if r.obj["id"] == report["id"])
    assert sent.obj["object_refs"] == [green["id"]]
    assert sent.redacted == ("object_refs",)
    assert report["object_refs"] == [green["id"], red["id"]], "the stored object is untouched"
    only_red = dict(report, object_refs=[red["id"]])
    result = gate(community, to("org", "bel"), offer(red), offer(only_red))
    assert result.decision(report["id"]).rule == "reference"  # type: ignore[union-attr]
    assert result.released == ()


def test_withholding_propagates_along_chains_of_references(community: Community) -> None:
    green, red = indicator(1, TLP.GREEN), indicator(2, TLP.RED)
    first = relationship(3, green["id"], red["id"], TLP.GREEN)
    second = relationship(4, green["id"], first["id"], TLP.GREEN)
    note = sdo("note", 5, TLP.GREEN, content="see", object_refs=[second["id"]])
    result = gate(
        community, to("org", "bel"), offer(note), offer(second), offer(first), offer(red), offer(green)
    )
    assert released_ids(result) == {green["id"]}


def test_a_reference_the_gate_cannot_see_counts_as_withheld_unless_context_allows_it(
    community: Community,
) -> None:
    green, elsewhere = indicator(1, TLP.GREEN), indicator(2, TLP.GREEN)
    link = relationship(3, green["id"], elsewhere["id"], TLP.GREEN)
    assert released_ids(gate(community, to("org", "bel"), offer(green), offer(link))) == {green["id"]}
    with_context = gate(community, to("org", "bel"), offer(green), offer(link), context=(offer(elsewhere),))
    assert released_ids(with_context) == {green["id"], link["id"]}
    red_context = gate(
        community,
        to("org", "bel"),
        offer(green),
        offer(link),
        context=(offer(dict(elsewhere, object_marking_refs=[TLP.RED.marking_id])),),
    )
    assert released_ids(red_context) == {green["id"]}


def test_created_by_ref_to_a_withheld_identity_is_removed(community: Community) -> None:
    source = sdo("identity", 1, TLP.AMBER, name="Confidential source")
    ioc = indicator(2, TLP.GREEN, created_by_ref=source["id"])
    result = gate(community, to("org", "bel"), offer(source, orgs=("cbb",)), offer(ioc))
    sent = result.released[0]
    assert "created_by_ref" not in sent.obj and sent.redacted == ("created_by_ref",)
    assert source["id"] not in json.dumps(result.bundle("bundle--1"))


def test_created_by_ref_to_a_community_identity_is_kept_with_our_identity_object(
    community: Community,
) -> None:
    ours = indicator(1, TLP.GREEN, created_by_ref=community.national.identity)
    result = gate(community, to("org", "bel"), offer(ours))
    assert result.released[0].obj is ours
    assert community.national.identity in {o["id"] for o in result.definitions}


def test_other_references_to_withheld_objects_are_removed(community: Community) -> None:
    secret_sample = sdo("file", 1, TLP.RED, name="sample.exe")
    del secret_sample["created"], secret_sample["modified"]
    malware = sdo("malware", 2, TLP.GREEN, name="Loader", is_family=True, sample_refs=[secret_sample["id"]])
    result = gate(community, to("org", "bel"), offer(secret_sample), offer(malware))
    assert "sample_refs" not in result.released[0].obj


# --- Granular markings -------------------------------------------------------------------------


def test_a_granular_marking_removes_only_the_field_the_recipient_may_not_see(community: Community) -> None:
    ioc = indicator(
        1,
        TLP.GREEN,
        description="seen at the Central Bank's branch 4",
        granular_markings=[
            {"marking_ref": TLP.AMBER.marking_id, "selectors": ["description"]},
            {"lang": "en", "selectors": ["name"]},
        ],
    )
    to_bel = gate(community, to("org", "bel"), offer(ioc, orgs=("cbb",))).released[0]
    assert "description" not in to_bel.obj and to_bel.redacted == ("description",)
    assert to_bel.obj["granular_markings"] == [{"lang": "en", "selectors": ["name"]}]
    to_cbb = gate(community, to("org", "cbb"), offer(ioc, orgs=("cbb",))).released[0]
    assert to_cbb.obj is ioc


def test_a_granular_marking_on_a_required_field_withholds_the_object(community: Community) -> None:
    ioc = indicator(
        1, TLP.GREEN, granular_markings=[{"marking_ref": TLP.RED.marking_id, "selectors": ["pattern"]}]
    )
    result = gate(community, to("org", "bel"), offer(ioc))
    assert result.decision(ioc["id"]).rule == "granular"  # type: ignore[union-attr]


def test_a_granular_marking_that_is_not_tlp_fails_closed(community: Community) -> None:
    ioc = indicator(
        1,
        TLP.GREEN,
        description="x",
        granular_markings=[{"marking_ref": PAP_RED, "selectors": ["description"]}],
    )
    sent = gate(community, to("org", "bel"), offer(ioc)).released[0].obj
    assert "description" not in sent and "granular_markings" not in sent


# --- The audience is never revealed ------------------------------------------------------------


def incident(orgs: list[str], tlp: TLP = TLP.GREEN) -> dict[str, Any]:
    return sdo(
        "incident",
        9,
        tlp,
        name="Phishing",
        extensions={
            OUR_EXTENSION_ID: {
                "extension_type": "property-extension",
                "reference": "BZ-2026-0001",
                "affected_organisations": orgs,
            }
        },
    )


def test_an_incident_names_only_the_recipients_own_affected_organisation(community: Community) -> None:
    both = incident(["bel", "cbb"])
    to_cbb = gate(community, to("org", "cbb"), offer(both)).released[0].obj
    assert to_cbb["extensions"][OUR_EXTENSION_ID]["affected_organisations"] == ["cbb"]
    to_bws = gate(community, to("contact", "security@bws.bz.example"), offer(both)).released[0]
    assert "affected_organisations" not in to_bws.obj["extensions"][OUR_EXTENSION_ID]
    assert both["extensions"][OUR_EXTENSION_ID]["affected_organisations"] == ["bel", "cbb"]


def test_reasons_never_name_other_members_of_the_audience(community: Community) -> None:
    ioc = offer(indicator(1, TLP.AMBER), orgs=("cbb", "bws"), contacts=(CBB_SOC,))
    for level in TLP:
        obj = indicator(1, level)
        result = gate(community, to("org", "bel"), Candidate(obj, ioc.orgs, ioc.contacts))
        for withheld in result.withheld:
            text = withheld.decision.reason.lower()
            assert "cbb" not in text and "central bank" not in text and "bws" not in text


# --- The bundle --------------------------------------------------------------------------------


def test_a_release_is_a_valid_stix_bundle_with_the_definitions_it_references(community: Community) -> None:
    both = incident(["bel", "cbb"], TLP.AMBER)
    both["created_by_ref"] = community.national.identity
    ioc = indicator(1, TLP.GREEN, created_by_ref=community.national.identity)
    result = gate(community, to("org", "cbb"), offer(both, orgs=("cbb",)), offer(ioc))
    bundle = result.bundle("bundle--6f1d1c6c-3f0e-4d0a-9f6b-0d9f1f4c1a11")
    ids = {o["id"] for o in bundle["objects"]}
    assert {TLP.AMBER.marking_id, TLP.GREEN.marking_id, OUR_EXTENSION_ID, community.national.identity} <= ids
    assert result.max_tlp is TLP.AMBER
    stix2.parse(bundle, allow_custom=True)


def test_objects_that_need_no_redaction_are_passed_through_uncopied(community: Community) -> None:
    ioc = indicator(1, TLP.GREEN)
    assert gate(community, to("org", "bel"), offer(ioc)).released[0].obj is ioc


def test_the_newest_of_several_offered_versions_is_the_one_decided(community: Community) -> None:
    old = indicator(1, TLP.GREEN)
    new = dict(old, modified="2026-03-11T00:00:00.000Z", object_marking_refs=[TLP.RED.marking_id])
    result = gate(community, to("org", "bel"), offer(new), offer(old))
    assert result.released == () and len(result.withheld) == 1


def test_an_unknown_recipient_is_an_error_naming_the_known_ones(community: Community) -> None:
    with pytest.raises(NotFound, match="known: cbb, bel"):
        gate(community, to("org", "bank-of-nowhere"), offer(indicator(1)))


def test_an_entry_describing_a_withheld_object_is_dropped_whole(community: Community) -> None:
    core = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"
    secret_task, open_task = (
        sdo("task", 1, TLP.RED, name="Call the police"),
        sdo("task", 2, TLP.GREEN, name="Block the domain"),
    )
    case = sdo(
        "incident",
        3,
        TLP.GREEN,
        name="Phishing",
        extensions={
            core: {
                "extension_type": "property-extension",
                "investigation_status": "open",
                "tasks": [
                    {"task_ref": secret_task["id"], "status": "pending"},
                    {"task_ref": open_task["id"], "status": "pending"},
                ],
            }
        },
    )
    result = gate(community, to("org", "bel"), offer(secret_task), offer(open_task), offer(case))
    sent = next(r for r in result.released if r.obj["type"] == "incident")
    assert sent.obj["extensions"][core]["tasks"] == [{"task_ref": open_task["id"], "status": "pending"}]
    alone = gate(
        community,
        to("org", "bel"),
        offer(secret_task),
        offer(
            dict(
                case,
                extensions={core: {**case["extensions"][core], "tasks": [{"task_ref": secret_task["id"]}]}},
            )
        ),
    )
    assert "tasks" not in alone.released[0].obj["extensions"][core]
    assert secret_task["id"] not in json.dumps(alone.bundle("bundle--1"))


def test_granular_selectors_into_a_cut_list_are_dropped_so_the_bundle_stays_valid(
    community: Community,
) -> None:
    green, red = indicator(1, TLP.GREEN), indicator(2, TLP.RED)
    report = sdo(
        "report",
        3,
        TLP.GREEN,
        name="Weekly",
        published=STAMP,
        object_refs=[red["id"], green["id"]],
        granular_markings=[{"marking_ref": TLP.GREEN.marking_id, "selectors": ["object_refs.[1]", "name"]}],
    )
    sent = gate(community, to("org", "bel"), offer(green), offer(red), offer(report))
    obj = next(r.obj for r in sent.released if r.obj["type"] == "report")
    assert obj["object_refs"] == [green["id"]]
    assert obj["granular_markings"] == [{"marking_ref": TLP.GREEN.marking_id, "selectors": ["name"]}]
    stix2.parse(sent.bundle("bundle--6f1d1c6c-3f0e-4d0a-9f6b-0d9f1f4c1a11"), allow_custom=True)


def test_created_by_ref_to_a_community_identity_offered_and_withheld_is_removed(community: Community) -> None:
    bank = sdo("identity", 1, TLP.AMBER, name="Central Bank of Belize")
    bank["id"] = community.organisations["cbb"].identity
    ioc = indicator(2, TLP.GREEN, created_by_ref=bank["id"])
    result = gate(community, to("org", "bel"), offer(bank, orgs=("cbb",)), offer(ioc))
    assert bank["id"] not in json.dumps(result.bundle("bundle--1"))


@pytest.mark.parametrize("channel", ["bulletin", "email", "taxii", "misp"])
def test_the_archive_is_a_recipient_of_file_exports_only(channel: str) -> None:
    """The archive keeps everything (RED, audiences, internal references): a bulletin, a TAXII
    page or a MISP event addressed to it would carry all of that out under another name."""
    with pytest.raises(InvalidValue, match="archive"):
        Recipient("archive", "bz-cirt", channel)
    assert Recipient("archive", "bz-cirt", "export").key == "archive:bz-cirt"


def test_a_bulletin_for_the_archive_is_refused(cli: Any) -> None:
    result = cli("bulletin", "build", "--for", "archive", "--format", "md")
    assert result.code == 1 and "archive receives file exports only" in result.err
