"""Correlation: arriving values name the incidents that already hold them; ``cirt correlate``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymisp import MISPEvent, PyMISP

from cirt.correlation import mark, seen_since
from cirt.demos.misp_server import MispServer
from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.conftest import FixedClock
from tests.taxii_fixtures import (
    MEDALLION_PASSWORD,
    MEDALLION_USER,
    PULL_COLLECTION,
    PUSH_COLLECTION,
    Medallion,
    indicator,
    medallion,
    point_partner,
    set_peer_secret,
)


def _incident(ws: Workspace, title: str, tlp: str = "amber") -> str:
    return ws.incidents.open(
        title=title, category="phishing", severity="medium", organisations=["cbb"], tlp=tlp
    ).reference


def test_a_value_added_to_a_third_incident_names_the_first_two(ws: Workspace, clock: FixedClock) -> None:
    first = _incident(ws, "Kit on a VPS")
    second = _incident(ws, "Scans", tlp="green")
    third = _incident(ws, "Bank phishing again")
    ws.indicators.add(pattern="[ipv4-addr:value ISSUBSET '203.0.113.0/24']", incident=first)
    ws.indicators.add(form="ip", value="203.0.113.45", incident=second)
    clock.advance(days=2)
    before = mark(ws.context)
    added = ws.indicators.add(form="ip", value="203.0.113.45", incident=third)
    found = seen_since(ws.context, before)
    now = clock()
    assert [m.line(now) for m in found] == [
        f"203.0.113.45 seen in {first} (TLP:AMBER) (as 203.0.113.0/24), 2 days ago",
        f"203.0.113.45 seen in {second} (TLP:GREEN), 2 days ago",
    ]
    assert {m.object_id for m in found} == {added["id"]}
    assert found[0].new_incidents == (third,)


def test_values_within_one_incident_and_unrelated_values_say_nothing(ws: Workspace) -> None:
    reference = _incident(ws, "One case")
    ws.indicators.add(form="domain", value="evil.example", incident=reference)
    before = mark(ws.context)
    ws.indicators.add(form="domain", value="cdn.evil.example", incident=reference)
    ws.indicators.add(form="domain", value="other.example")
    assert seen_since(ws.context, before) == []


def test_indicator_add_and_import_print_where_a_value_was_seen(
    ws: Workspace, cli: Any, tmp_path: Path
) -> None:
    reference = _incident(ws, "Phishing kit")
    ws.indicators.add(form="domain", value="login-cbb.example", incident=reference)
    added = cli("indicator", "add", "--domain", "secure.login-cbb.example", "--json")
    assert added.code == 0
    assert json.loads(added.out)["type"] == "indicator"  # the JSON stays the indicator
    assert f"secure.login-cbb.example seen in {reference} (TLP:AMBER) (as login-cbb.example)" in added.err
    bundle: dict[str, Any] = {
        "type": "bundle",
        "id": "bundle--11111111-1111-4111-8111-111111111111",
        "objects": [indicator(7, TLP.GREEN, name="partner view")],
    }
    bundle["objects"][0]["pattern"] = "[domain-name:value = 'LOGIN-CBB.example']"
    path = tmp_path / "partner.json"
    path.write_text(json.dumps(bundle))
    imported = cli("import", str(path), "--source", "vendor-x")
    assert imported.code == 0, imported.err
    assert f"login-cbb.example seen in {reference} (TLP:AMBER)" in imported.err


def test_correlate_lists_new_matches_once_and_exits_1_for_cron(ws: Workspace, cli: Any) -> None:
    first = _incident(ws, "First")
    second = _incident(ws, "Second")
    ws.indicators.add(form="sha256", value="a" * 64, incident=first)
    ws.indicators.add(form="sha256", value="A" * 64, incident=second)
    run = cli("correlate", "--json")
    assert run.code == 1
    pairs = sorted((m["object_incidents"][0], m["seen_in"]["reference"]) for m in run.json())
    assert pairs == [(first, second), (second, first)]
    quiet = cli("correlate")
    assert quiet.code == 0 and "no new matches" in quiet.out
    third = _incident(ws, "Third")
    ws.indicators.add(form="sha256", value="a" * 64, incident=third)
    preview = cli("correlate", "--dry-run", "--json")
    assert preview.code == 1 and {m["seen_in"]["reference"] for m in preview.json()} == {first, second}
    again = cli("correlate")
    assert again.code == 1 and f"seen in {first}" in again.out and f"seen in {second}" in again.out
    assert cli("correlate").code == 0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Medallion]:
    with medallion(tmp_path, [indicator(3, TLP.GREEN, prefix="cccc")]) as m:
        yield m


def test_taxii_pull_says_where_pulled_values_were_seen(
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
        reference = _incident(ws, "Botnet controller")
        ws.indicators.add(pattern="[ipv4-addr:value ISSUBSET '198.51.0.0/24']", incident=reference)
    pulled = cli("taxii", "pull", "csirtamericas")
    assert pulled.code == 0, pulled.err
    assert f"198.51.0.3 seen in {reference} (TLP:AMBER) (as 198.51.0.0/24)" in pulled.err


def test_a_large_batch_finds_what_one_value_at_a_time_finds(ws: Workspace) -> None:
    """Over 100 values take the batch path (ranges looked up where ranges start)."""
    reference = _incident(ws, "Botnet")
    ws.indicators.add(pattern="[ipv4-addr:value ISSUBSET '198.51.100.0/24']", incident=reference)
    ws.indicators.add(pattern="[ipv6-addr:value ISSUBSET '2001:db8::/32']", incident=reference)
    ws.indicators.add(form="domain", value="c2.example", incident=reference)
    before = mark(ws.context)
    values = [f"198.51.100.{n}" for n in range(60)] + [f"203.0.113.{n}" for n in range(60)]
    for value in values:
        ws.indicators.add(form="ip", value=value)
    ws.indicators.add(form="ip", value="2001:db8::beef")
    ws.indicators.add(form="domain", value="a.b.c2.example")
    found = seen_since(ws.context, before)
    assert sorted(m.value for m in found) == sorted(
        [f"198.51.100.{n}" for n in range(60)] + ["2001:db8::beef", "a.b.c2.example"]
    )
    assert {m.incident.reference for m in found} == {reference}


def test_misp_pull_says_where_pulled_values_were_seen(
    ws: Workspace, cli: Any, partner_misp: MispServer
) -> None:
    reference = _incident(ws, "C2 on a VPS")
    ws.indicators.add(form="domain", value="c2.example", incident=reference)
    event = MISPEvent()
    event.uuid = "7c1d2e3f-4a5b-4c6d-8e7f-000000000013"
    event.info = "Partner campaign"
    event.distribution = 1
    event.add_tag("tlp:green")
    event.add_attribute("domain", "eu.c2.example", to_ids=True)
    PyMISP(partner_misp.url, "test-key-0123456789", ssl=False).add_event(event)
    pulled = cli("misp", "pull", "csirtamericas")
    assert pulled.code == 0, pulled.err
    assert f"eu.c2.example seen in {reference} (TLP:AMBER) (as c2.example)" in pulled.err
