"""``cirt share …`` and ``ws.sharing`` on a real workspace: audiences, dry runs, logged releases."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stix2

from cirt.demos.sharing import run_chapter
from cirt.incidents import OUR_EXTENSION_ID
from cirt.sharing import NotOriginator
from cirt.store import Provenance
from cirt.tlp import TLP
from cirt.workspace import Workspace

CBB_SOC = "soc@cbb.bz.example"


@pytest.fixture
def phishing(ws: Workspace) -> dict[str, str]:
    """An AMBER incident at the Central Bank with an AMBER and a GREEN indicator."""
    incident = ws.incidents.open(
        title="Phishing against bank customers",
        category="phishing",
        severity="high",
        organisations=["cbb"],
        tlp="amber",
    )
    ref = incident.reference
    amber = ws.indicators.add(form="domain", value="bank-login.example", incident=ref, tlp="amber")
    green = ws.indicators.add(form="ip", value="203.0.113.7", incident=ref, tlp="green")
    return {"ref": ref, "amber": amber["id"], "green": green["id"]}


def test_a_new_incident_is_shared_with_the_affected_organisations_and_the_national_cirt(
    cli: Any, phishing: dict[str, str]
) -> None:
    listed = cli("share", "list", phishing["ref"], "--json")
    assert listed.code == 0
    assert listed.json()["orgs"] == ["cbb", "cirt-bz"]
    table = cli("share", "list", phishing["ref"])
    assert "cbb" in table.out and "organisation" in table.out


def test_share_add_and_remove_change_who_may_receive_an_amber_incident(
    cli: Any, phishing: dict[str, str]
) -> None:
    ref = phishing["ref"]
    assert cli("share", "check", ref, "--to", "bel", "--json").json()["allowed"] is False
    added = cli("share", "add", ref, "--org", "bel", "--json")
    assert added.code == 0 and "bel" in added.json()["orgs"]
    assert cli("share", "check", ref, "--to", "bel", "--json").json()["allowed"] is True
    removed = cli("share", "remove", ref, "--org", "bel", "--json")
    assert "bel" not in removed.json()["orgs"]
    assert cli("share", "check", ref, "--to", "bel", "--json").json()["allowed"] is False


def test_share_add_linked_widens_an_incident_with_everything_attached_to_it(
    cli: Any, phishing: dict[str, str]
) -> None:
    cli("share", "add", phishing["ref"], "--org", "bws", "--linked")
    assert cli("share", "list", phishing["amber"], "--json").json()["orgs"] == ["bws", "cbb", "cirt-bz"]


def test_share_check_answers_in_one_line_that_names_no_other_member(
    cli: Any, phishing: dict[str, str]
) -> None:
    answer = cli("share", "check", phishing["ref"], "--to", "cirt@bel.bz.example")
    assert answer.code == 1, "withheld: exit 1, so that scripts can test it"
    line = answer.out.strip()
    assert line == (
        f"✗ {phishing['ref']} (TLP:AMBER) withheld for contact:cirt@bel.bz.example: "
        "TLP:AMBER goes only to the organisations it was shared with"
    )
    assert "cbb" not in line and "Central Bank" not in line
    green = cli("share", "check", phishing["green"], "--to", "bel", "--json").json()
    assert green["allowed"] is True and green["rule"] == "green-community"


def test_share_check_of_a_red_object_over_taxii_is_refused_even_for_a_named_contact(
    cli: Any, phishing: dict[str, str]
) -> None:
    red = cli("indicator", "add", "--domain", "red.example", "--tlp", "red", "--json").json()
    cli("share", "add", red["id"], "--contact", CBB_SOC)
    by_mail = cli("share", "check", red["id"], "--to", CBB_SOC, "--channel", "email", "--json").json()
    by_taxii = cli("share", "check", red["id"], "--to", CBB_SOC, "--channel", "taxii", "--json").json()
    assert by_mail["allowed"] is True
    assert by_taxii["rule"] == "red-channel"


def test_share_who_lists_every_recipient_and_the_rule(cli: Any, phishing: dict[str, str]) -> None:
    receivers = cli("share", "who", phishing["green"], "--json").json()
    names = {row["recipient"] for row in receivers}
    assert {"org:cbb", "org:bel", "partner:csirtamericas", f"contact:{CBB_SOC}"} <= names
    assert "org:pitcu" not in names and "public" not in names and "partner:cto" not in names
    everyone = cli("share", "who", phishing["green"], "--all", "--json").json()
    rules = {row["recipient"]: row["rule"] for row in everyone}
    assert rules["org:pitcu"] == "green-community" and rules["public"] == "not-public"
    table = cli("share", "who", phishing["ref"])
    assert "org:cbb" in table.out and "amber-audience" in table.out and "org:bel" not in table.out


def test_unknown_objects_recipients_and_channels_are_clear_errors(cli: Any, phishing: dict[str, str]) -> None:
    missing = cli("share", "list", "BZ-2099-0999")
    assert missing.code == 1 and "no incident 'BZ-2099-0999'" in missing.err
    nobody = cli("share", "check", phishing["ref"], "--to", "bank-of-nowhere")
    assert nobody.code == 1 and "known: cbb, bel" in nobody.err
    channel = cli("share", "check", phishing["ref"], "--to", "cbb", "--channel", "pigeon")
    assert channel.code == 1 and "'pigeon' is not a channel" in channel.err
    stranger = cli("share", "add", phishing["ref"], "--contact", "someone@else.example")
    assert stranger.code == 1 and "no contact 'someone@else.example'" in stranger.err
    empty = cli("share", "add", phishing["ref"])
    assert empty.code == 1 and "at least one --org or --contact" in empty.err


# --- releases through ws.sharing ---------------------------------------------------------------


def test_a_release_is_logged_before_the_bundle_is_returned(ws: Workspace) -> None:
    incident = ws.incidents.open(
        title="DDoS", category="ddos", severity="medium", organisations=["bel"], tlp="amber"
    )
    before = len(ws.audit.entries())
    result = ws.sharing.release([incident.reference], "org:bel", "bulletin", delivery="file")
    entries = ws.audit.entries()
    assert len(entries) == before + 1
    entry = entries[-1]
    assert (entry.recipient, entry.channel, entry.tlp) == ("org:bel", "bulletin", int(TLP.AMBER))
    assert entry.objects == ((incident.id, incident.modified, int(TLP.AMBER)),)
    assert [r.obj["id"] for r in result.released] == [incident.id]
    assert ws.audit.verify().ok


def test_a_release_that_lets_nothing_through_is_not_logged(ws: Workspace) -> None:
    incident = ws.incidents.open(
        title="DDoS", category="ddos", severity="medium", organisations=["bel"], tlp="amber"
    )
    before = len(ws.audit.entries())
    result = ws.sharing.release([incident.id], "org:cbb", "bulletin", delivery="file")
    assert result.released == () and len(ws.audit.entries()) == before


def test_export_for_gives_the_central_bank_everything_and_bel_only_the_green_part(
    ws: Workspace, phishing: dict[str, str]
) -> None:
    to_cbb = ws.sharing.export_for("cbb", phishing["ref"])
    to_bel = ws.sharing.export_for("bel", phishing["ref"])
    cbb_ids = {o["id"] for o in to_cbb["objects"]}
    bel_ids = {o["id"] for o in to_bel["objects"]}
    assert {phishing["amber"], phishing["green"]} <= cbb_ids
    assert phishing["green"] in bel_ids and phishing["amber"] not in bel_ids
    assert phishing["amber"] not in json.dumps(to_bel)
    incident = next(o for o in to_cbb["objects"] if o["type"] == "incident")
    assert incident["extensions"][OUR_EXTENSION_ID]["affected_organisations"] == ["cbb"]
    for bundle in (to_cbb, to_bel):
        stix2.parse(bundle, allow_custom=True)


def test_only_the_originator_may_lower_a_marking_and_the_reason_is_kept(ws: Workspace) -> None:
    ours = ws.indicators.add(form="domain", value="lure.example", tlp="amber")
    lowered = ws.sharing.lower_marking(ours["id"], "green", "published in the press")
    assert lowered.object["object_marking_refs"] == [TLP.GREEN.marking_id]
    assert lowered.object["modified"] > ours["modified"]
    newest = ws.store.get(ours["id"])
    assert newest is not None and newest.obj == lowered.object
    assert len(ws.store.history(ours["id"])) == 2
    assert ws.sharing.check(ours["id"], "bel").allowed
    note = ws.store.get(lowered.note["id"])
    assert note is not None and note.obj["content"] == "published in the press"
    assert note.obj["object_marking_refs"] == [TLP.AMBER.marking_id]

    received = dict(
        ours,
        id="indicator--5d1c2f2e-0b0a-4d7c-9c38-6e0d2f1b7a11",
        created_by_ref="identity--b960b001-fd33-513f-b191-b35fc53c8f24",
    )
    ws.store.put(received, tlp=int(TLP.AMBER), provenance=Provenance("taxii", "csirtamericas", "91a7b528"))
    with pytest.raises(NotOriginator, match="only its originator may lower"):
        ws.sharing.lower_marking(received["id"], "clear", "we think it is public")


def test_lowering_must_lower(ws: Workspace) -> None:
    ours = ws.indicators.add(form="domain", value="lure.example", tlp="green")
    with pytest.raises(Exception, match="TLP:AMBER is not lower than TLP:GREEN"):
        ws.sharing.lower_marking(ours["id"], "amber", "oops")


def test_share_lower_from_the_command_line(cli: Any, phishing: dict[str, str]) -> None:
    result = cli(
        "share", "lower", phishing["amber"], "--tlp", "green", "--reason", "the bank published it", "--json"
    )
    assert result.code == 0, result.err
    assert result.json()["after"] == "green"
    assert cli("share", "check", phishing["amber"], "--to", "bws", "--json").json()["allowed"]


def test_received_amber_goes_only_to_constituents_through_the_service(ws: Workspace) -> None:
    received: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--7f3c2a1e-1111-4d7c-9c38-6e0d2f1b7a11",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-01T00:00:00.000Z",
        "pattern": "[domain-name:value = 'x.example']",
        "pattern_type": "stix",
        "valid_from": "2026-03-01T00:00:00.000Z",
        "object_marking_refs": [TLP.AMBER.marking_id],
    }
    ws.store.put(received, tlp=int(TLP.AMBER), provenance=Provenance("taxii", "csirtamericas"))
    ws.sharing.add(received["id"], orgs=["cbb", "puc"])
    assert ws.sharing.check(received["id"], "cbb").allowed
    refused = ws.sharing.check(received["id"], "puc")
    assert refused.rule == "received-amber-constituent"


def test_the_demo_chapter_shows_the_bank_getting_everything_and_bel_a_part(
    ws: Workspace, phishing: dict[str, str]
) -> None:
    lines: list[str] = []
    run_chapter(ws, lines.append)
    text = "\n".join(lines)
    # the incident, 4 indicators (2 AMBER, 2 GREEN) and their 4 relationships to it
    assert "Export for Central Bank of Belize: 9 objects released, 0 withheld" in text
    # BEL: the incident (shared with it), the two GREEN indicators; not the AMBER ones, nor the
    # AMBER relationships that tie indicators to the bank's incident
    assert "Export for Belize Electricity Limited: 3 objects released, 6 withheld" in text
    assert "left out: affected_organisations, tasks.task_ref" in text
    assert lines[-1] == "Disclosure log: 2 entries, intact."


def test_export_for_writes_only_what_the_gate_releases_and_logs_it(
    cli: Any, phishing: dict[str, str], tmp_path: Any
) -> None:
    target = tmp_path / "bel.json"
    written = cli("export", "--for", "bel", "--incident", phishing["ref"], "-o", str(target), "--json")
    assert written.code == 0, written.err
    bundle = json.loads(target.read_text())
    ids = {o["id"] for o in bundle["objects"]}
    assert phishing["green"] in ids and phishing["amber"] not in ids
    assert written.json()["objects"] == len(bundle["objects"])
    log = cli("audit", "log", "--to", "bel", "--json").json()
    assert [e["channel"] for e in log] == ["export"]
    stdout = cli("export", "--for", "public")
    assert json.loads(stdout.out) == {"type": "bundle", "id": json.loads(stdout.out)["id"]}
