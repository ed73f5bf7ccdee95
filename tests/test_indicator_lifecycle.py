"""The end of an indicator's life: a new version that reaches whoever received an earlier one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cirt.demos.misp_server import MispServer
from cirt.errors import InvalidValue
from cirt.lifecycle import retire, retired
from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.conftest import FixedClock
from tests.taxii_fixtures import (
    MEDALLION_PASSWORD,
    MEDALLION_USER,
    PULL_COLLECTION,
    PUSH_COLLECTION,
    Medallion,
    medallion,
    point_partner,
    set_peer_secret,
)

NOW = datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
INDICATOR = {
    "type": "indicator",
    "spec_version": "2.1",
    "id": "indicator--0f0e0d0c-0000-4000-8000-000000000001",
    "created": "2026-03-10T00:00:00.000Z",
    "modified": "2026-03-10T00:00:00.000Z",
    "valid_from": "2026-03-10T00:00:00.000Z",
    "pattern_type": "stix",
    "pattern": "[ipv4-addr:value = '203.0.113.45']",
    "labels": ["phishing"],
}


def test_each_action_is_a_later_version_that_nobody_should_block_on() -> None:
    revoked = retire(INDICATOR, "revoke", NOW)
    assert revoked["revoked"] is True and revoked["modified"] == "2026-03-12T09:00:00.000Z"
    expired = retire(INDICATOR, "expire", NOW)
    assert expired["valid_until"] == expired["modified"] and "revoked" not in expired
    false = retire(INDICATOR, "false-positive", NOW)
    assert false["labels"] == ["phishing", "false-positive"]
    assert not retired(INDICATOR)
    assert all(retired(v) for v in (revoked, expired, false))
    assert not retired(dict(INDICATOR, valid_until="2027-01-01T00:00:00.000Z"))  # a future end
    same_moment = retire(INDICATOR, "revoke", datetime(2026, 3, 10, tzinfo=UTC))
    assert same_moment["modified"] > INDICATOR["modified"]  # strictly later, always
    with pytest.raises(InvalidValue, match="revoked already"):
        retire(revoked, "expire", NOW)
    with pytest.raises(InvalidValue, match="already"):
        retire(expired, "false-positive", NOW)
    with pytest.raises(InvalidValue, match="revoke it instead"):
        retire(dict(INDICATOR, valid_from="2026-04-01T00:00:00.000Z"), "expire", NOW)


def test_revoke_from_the_cli_keeps_the_reason_and_shows_everywhere(ws: Workspace, cli: Any) -> None:
    reference = ws.incidents.open(
        title="Phishing", category="phishing", severity="medium", organisations=["cbb"]
    ).reference
    indicator = ws.indicators.add(form="ip", value="203.0.113.45", incident=reference)
    done = cli("indicator", "revoke", indicator["id"], "--reason", "shared hosting, not the kit", "--json")
    assert done.code == 0, done.err
    assert done.json()["recipients"] == []
    shown = cli("indicator", "show", indicator["id"], "--json").json()
    assert shown["state"] == "revoked" and len(shown["versions"]) == 2
    notes = [o for o in ws.incidents.linked_objects(reference) if o["type"] == "note"]
    assert [(n["abstract"], n["content"], n["object_refs"]) for n in notes] == [
        ("Indicator revoke", "shared hosting, not the kit", [indicator["id"]])
    ]
    hit = cli("search", "203.0.113.45", "--json").json()["hits"]
    assert [h["state"] for h in hit if h["type"] == "indicator"] == ["revoked"]
    again = cli("indicator", "expire", indicator["id"], "--reason", "x")
    assert again.code == 1 and "revoked already" in again.err
    assert "say why" in cli("indicator", "false-positive", indicator["id"], "--reason", " ").err


def test_only_the_creator_makes_the_new_version(ws: Workspace, cli: Any, tmp_path: Path) -> None:
    theirs: dict[str, Any] = dict(INDICATOR, object_marking_refs=[TLP.GREEN.marking_id])
    path = tmp_path / "vendor.json"
    path.write_text(
        json.dumps(
            {"type": "bundle", "id": "bundle--0f0e0d0c-0000-4000-8000-000000000009", "objects": [theirs]}
        )
    )
    assert cli("import", str(path), "--source", "vendor-x").code == 0
    refused = cli("indicator", "false-positive", theirs["id"], "--reason", "benign CDN")
    assert refused.code == 1 and "only its creator" in refused.err
    assert len(ws.store.history(theirs["id"])) == 1


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Medallion]:
    with medallion(tmp_path, []) as m:
        yield m


def test_a_partner_that_received_it_over_taxii_gets_the_revoked_version(
    home: Path, server: Medallion, clock: FixedClock, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_partner(
        home,
        "csirtamericas",
        discovery=server.discovery,
        api_root=server.api_root,
        pull=[PULL_COLLECTION],
        push=PUSH_COLLECTION,
    )
    set_peer_secret(monkeypatch, "csirtamericas", MEDALLION_USER, MEDALLION_PASSWORD)
    with Workspace.open(home, clock=clock) as ws:
        indicator = ws.indicators.add(form="domain", value="evil.example", tlp="green")
        assert ws.taxii.push("csirtamericas").sent >= 1
        clock.advance(hours=1)
    done = cli("indicator", "revoke", indicator["id"], "--reason", "sinkholed", "--json")
    assert done.code == 0, done.err
    assert done.json()["recipients"] == [
        {
            "recipient": "partner:csirtamericas",
            "channel": "taxii",
            "delivery": "the next 'cirt taxii push' sends the new version",
        }
    ]
    with Workspace.open(home, clock=clock) as ws:
        again = ws.taxii.push("csirtamericas")
        assert again.sent >= 2 and again.failed == 0  # the new version and the reason's note
        entries = ws.store.disclosures(object_id=indicator["id"])
    versions = {ref[1] for e in entries for ref in e.objects if ref[0] == indicator["id"]}
    assert versions == {indicator["modified"], done.json()["indicator"]["modified"]}


def test_misp_push_sends_the_event_again_with_the_attribute_no_longer_for_ids(
    home: Path, cli: Any, partner_misp: MispServer
) -> None:
    with Workspace.open(home) as ws:
        reference = ws.incidents.open(
            title="Phishing", category="phishing", severity="medium", organisations=["cbb"], tlp="green"
        ).reference
        indicator = ws.indicators.add(form="domain", value="evil.example", incident=reference)
    first = cli("misp", "push", "csirtamericas", "--json")
    assert first.code == 0 and len(first.json()["sent"]) == 1, first.err
    done = cli("indicator", "false-positive", indicator["id"], "--reason", "a customer's CDN", "--json")
    assert [r["channel"] for r in done.json()["recipients"]] == ["misp"]
    second = cli("misp", "push", "csirtamericas", "--json")
    assert second.json()["sent"] == first.json()["sent"]  # the same event, updated
    with Workspace.open(home) as ws:
        built = ws.misp.incident_event(reference, "csirtamericas")
    assert built is not None
    assert [(a.value, bool(a.to_ids)) for a in built.event.attributes] == [("evil.example", False)]
