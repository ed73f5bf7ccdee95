"""Sightings: who saw an indicator, shown with it and in search; they leave only through the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cirt.tlp import TLP
from cirt.workspace import Workspace


def _indicator(ws: Workspace, tlp: str = "green") -> dict[str, Any]:
    reference = ws.incidents.open(
        title="Phishing kit", category="phishing", severity="medium", organisations=["cbb"], tlp="green"
    ).reference
    return ws.indicators.add(form="ip", value="203.0.113.45", incident=reference, tlp=tlp)


def test_a_sighting_names_the_organisation_identity_and_shows_with_the_indicator(
    ws: Workspace, cli: Any
) -> None:
    indicator = _indicator(ws)
    added = cli(
        "sighting",
        "add",
        indicator["id"],
        "--by",
        "bel",
        "--count",
        "3",
        "--first",
        "2026-03-09T08:00:00Z",
        "--last",
        "2026-03-10T09:30:00Z",
        "--json",
    )
    assert added.code == 0, added.err
    sighting = added.json()
    assert sighting["where_sighted_refs"] == [ws.community.organisation("bel").identity]
    assert sighting["sighting_of_ref"] == indicator["id"] and sighting["count"] == 3
    assert sighting["first_seen"] == "2026-03-09T08:00:00.000Z"
    assert sighting["object_marking_refs"] == [TLP.AMBER.marking_id]  # it names a victim
    assert cli("sighting", "add", indicator["id"], "--by", "btl", "--json").code == 0
    shown = cli("indicator", "show", indicator["id"], "--json").json()
    assert [(s["by"], s["count"]) for s in shown["sightings"]] == [(["bel"], 3), (["btl"], 1)]
    assert shown["sighted"] == 4 and shown["state"] == "active"
    assert (
        "bel: 3x, 2026-03-09T08:00:00.000Z to 2026-03-10T09:30:00.000Z"
        in cli("indicator", "show", indicator["id"]).out
    )
    hit = cli("search", "203.0.113.45", "--json").json()["hits"]
    assert [(h["id"], h["sightings"]) for h in hit if h["type"] == "indicator"] == [(indicator["id"], 4)]


def test_sightings_leave_only_through_the_gate(ws: Workspace) -> None:
    indicator = _indicator(ws)
    sighting = ws.indicators.sight(indicator["id"], by="bel", count=2)
    assert ws.sharing.check(sighting["id"], "bel").allowed
    refused = ws.sharing.check(sighting["id"], "btl")
    assert not refused.allowed and "AMBER" in refused.reason
    bundle = ws.sharing.export_for("btl")
    assert sighting["id"] not in json.dumps(bundle)


def test_received_sightings_are_imported_and_shown_with_their_source(
    ws: Workspace, cli: Any, tmp_path: Path
) -> None:
    indicator = _indicator(ws)
    partner = ws.community.partner("csirtamericas")
    received = {
        "type": "sighting",
        "spec_version": "2.1",
        "id": "sighting--6b1f8a8e-1111-4d2a-9f0e-000000000001",
        "created": "2026-03-08T00:00:00.000Z",
        "modified": "2026-03-08T00:00:00.000Z",
        "sighting_of_ref": indicator["id"],
        "where_sighted_refs": [partner.identity],
        "count": 40,
        "created_by_ref": partner.identity,
        "object_marking_refs": [TLP.GREEN.marking_id],
    }
    identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": partner.identity,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": partner.name,
        "identity_class": "organization",
    }
    path = tmp_path / "sightings.json"
    path.write_text(
        json.dumps(
            {
                "type": "bundle",
                "id": "bundle--6b1f8a8e-2222-4d2a-9f0e-000000000002",
                "objects": [identity, received],
            }
        )
    )
    assert cli("import", str(path), "--source", "csirtamericas").code == 0
    shown = cli("indicator", "show", indicator["id"], "--json").json()
    assert [(s["by"], s["count"], s["source"]) for s in shown["sightings"]] == [
        (["csirtamericas"], 40, "csirtamericas")
    ]


def test_bad_sightings_are_refused_in_one_line(ws: Workspace, cli: Any) -> None:
    indicator = _indicator(ws)
    unknown = cli("sighting", "add", indicator["id"], "--by", "nobody")
    assert unknown.code == 1 and "neither an organisation nor a partner" in unknown.err
    assert "--count" in cli("sighting", "add", indicator["id"], "--by", "bel", "--count", "0").err
    assert "not a time" in cli("sighting", "add", indicator["id"], "--by", "bel", "--first", "yesterday").err
    assert "no indicator" in cli("sighting", "add", "indicator--nope", "--by", "bel").err
    assert cli("indicator", "show", indicator["id"], "--json").json()["sightings"] == []
