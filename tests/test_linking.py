"""Related incidents: links as STIX relationships, merging a duplicate, partners' relationships."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cirt.tlp import TLP
from cirt.workspace import Workspace


def _incident(ws: Workspace, title: str, tlp: str = "amber", org: str = "cbb") -> str:
    return ws.incidents.open(
        title=title, category="phishing", severity="medium", organisations=[org], tlp=tlp
    ).reference


def test_link_records_a_relationship_both_incidents_show(ws: Workspace, cli: Any) -> None:
    first = _incident(ws, "Phishing wave", tlp="green")
    second = _incident(ws, "Same kit, new domain", tlp="amber+strict", org="btl")
    linked = cli("incident", "link", second, first, "--type", "derived-from", "--json")
    assert linked.code == 0, linked.err
    relationship = linked.json()
    assert relationship["relationship_type"] == "derived-from"
    assert relationship["object_marking_refs"] == [TLP.AMBER_STRICT.marking_id]  # the stricter
    shown = cli("incident", "show", second, "--json").json()
    assert [(r["type"], r["direction"], r["reference"]) for r in shown["related"]] == [
        ("derived-from", "to", first)
    ]
    assert shown["related"][0]["source"] == "tester"
    other = cli("incident", "show", first, "--json").json()
    assert [(r["direction"], r["reference"]) for r in other["related"]] == [("from", second)]
    assert f"{second} is derived-from this one" in cli("incident", "show", first).out
    # only the national CIRT is in both audiences: cbb and btl each know one incident
    assert ws.store.audience_of(relationship["id"])["org"] == (ws.community.national.id,)


def test_bad_links_are_refused_in_one_line(ws: Workspace, cli: Any) -> None:
    first = _incident(ws, "One")
    second = _incident(ws, "Two")
    assert cli("incident", "link", first, second).code == 0
    again = cli("incident", "link", first, second)
    assert again.code == 1 and "already related-to" in again.err
    assert "itself" in cli("incident", "link", first, first).err
    wrong = cli("incident", "link", first, second, "--type", "sibling-of")
    assert wrong.code != 0 and "related-to, duplicate-of, derived-from" in wrong.err
    assert cli("incident", "link", first, "BZ-2099-0001").code == 1


def test_merge_closes_the_duplicate_and_moves_what_it_held(ws: Workspace, cli: Any, tmp_path: Path) -> None:
    into = _incident(ws, "Phishing imitating CBB")
    duplicate = _incident(ws, "Reported twice: CBB phishing")
    indicator = ws.indicators.add(form="domain", value="cbb-login.example", incident=duplicate)
    note = ws.incidents.note(duplicate, "Reported by a customer by phone")
    evidence = tmp_path / "mail.eml"
    evidence.write_text("From: attacker")
    ws.evidence.add(duplicate, evidence)
    held = set(ws.incidents.attached_ids(duplicate)) - {ws.incidents.get(duplicate).id}
    merged = cli("incident", "merge", duplicate, into, "--json")
    assert merged.code == 0, merged.err
    assert merged.json()["moved"] == len(held)
    closed = ws.incidents.get(duplicate)
    assert closed.status == "closed" and closed.summary()["resolution"] == f"duplicate of {into}"
    now_held = set(ws.incidents.attached_ids(into))
    assert held <= now_held
    assert {indicator["id"], note["id"]} <= now_held
    assert any(t.startswith("task--") for t in held)  # the duplicate's tasks came along
    shown = cli("incident", "show", duplicate, "--json").json()
    assert [(r["type"], r["reference"]) for r in shown["related"]] == [("duplicate-of", into)]
    history = [e["what"] for e in cli("incident", "history", duplicate, "--json").json()]
    assert any("closed: duplicate of" in w for w in history)
    assert any("Reported by a customer" in w for w in history)  # kept on the duplicate
    into_history = [e["what"] for e in cli("incident", "history", into, "--json").json()]
    assert any(f"Merged from {duplicate}" in w for w in into_history)
    assert any("Reported by a customer" in w for w in into_history)
    again = cli("incident", "merge", duplicate, into)
    assert again.code == 1 and "closed" in again.err


def test_show_lists_relationships_received_from_partners(ws: Workspace, cli: Any, tmp_path: Path) -> None:
    ours = _incident(ws, "Card fraud at ATMs")
    our_id = ws.incidents.get(ours).id
    partner_identity = "identity--5a0a5b3c-1111-4c1c-9d2e-000000000001"
    theirs = {
        "type": "incident",
        "spec_version": "2.1",
        "id": "incident--7f3e1a52-2222-4a4a-8b8b-000000000002",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-01T00:00:00.000Z",
        "name": "Skimming campaign in the region",
        "created_by_ref": partner_identity,
        "object_marking_refs": [TLP.GREEN.marking_id],
    }
    relation = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": "relationship--7f3e1a52-3333-4a4a-8b8b-000000000003",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-01T00:00:00.000Z",
        "relationship_type": "related-to",
        "source_ref": theirs["id"],
        "target_ref": our_id,
        "created_by_ref": partner_identity,
        "object_marking_refs": [TLP.GREEN.marking_id],
    }
    identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": partner_identity,
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-01T00:00:00.000Z",
        "name": "Regional partner",
        "identity_class": "organization",
    }
    path = tmp_path / "partner.json"
    path.write_text(
        json.dumps(
            {
                "type": "bundle",
                "id": "bundle--7f3e1a52-4444-4a4a-8b8b-000000000004",
                "objects": [identity, theirs, relation],
            }
        )
    )
    imported = cli("import", str(path), "--source", "regional-partner", "--json")
    assert imported.code == 0, imported.err
    assert imported.json()["new"] == 3, imported.out
    related = cli("incident", "show", ours, "--json").json()["related"]
    assert related == [
        {
            "relationship": relation["id"],
            "type": "related-to",
            "direction": "from",
            "reference": theirs["id"],
            "title": "Skimming campaign in the region",
            "tlp": "green",
            "source": "regional-partner",
        }
    ]
