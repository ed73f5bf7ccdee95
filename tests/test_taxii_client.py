"""Exchange with a partner's TAXII 2.1 server: a real medallion on loopback plays CSIRTAmericas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from taxii2client.v21 import Collection

from cirt.errors import RemoteError
from cirt.taxii.client import cut_envelopes
from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.conftest import FixedClock
from tests.taxii_fixtures import (
    MEDALLION_PASSWORD,
    MEDALLION_USER,
    PULL_COLLECTION,
    PUSH_COLLECTION,
    DroppingRelay,
    Medallion,
    indicator,
    medallion,
    point_partner,
    seed,
    set_peer_secret,
)

PEER = "csirtamericas"


@pytest.fixture
def partner_objects() -> list[dict[str, object]]:
    return [indicator(i, TLP.GREEN, prefix="aaaa") for i in range(120)]


@pytest.fixture
def server(tmp_path: Path, partner_objects: list[dict[str, object]]) -> Iterator[Medallion]:
    with medallion(tmp_path, partner_objects, page_size=50, max_content_length=4000) as m:
        yield m


@pytest.fixture
def partner_ws(
    home: Path, server: Medallion, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workspace]:
    point_partner(
        home,
        PEER,
        discovery=server.discovery,
        api_root=server.api_root,
        pull=[PULL_COLLECTION],
        push=PUSH_COLLECTION,
    )
    set_peer_secret(monkeypatch, PEER, MEDALLION_USER, MEDALLION_PASSWORD)
    ws = Workspace.open(home, clock=clock)
    yield ws
    ws.close()


def _remote_objects(
    server: Medallion, collection_id: str, stix_type: str = "indicator"
) -> list[dict[str, object]]:
    collection = Collection(
        f"{server.api_root}collections/{collection_id}/", user=MEDALLION_USER, password=MEDALLION_PASSWORD
    )
    objects: list[dict[str, object]] = []
    envelope = collection.get_objects(type=stix_type)  # medallion 500s on some definitions
    objects += envelope.get("objects", [])
    while envelope.get("more"):
        envelope = collection.get_objects(type=stix_type, next=envelope["next"])
        objects += envelope.get("objects", [])
    return objects


def test_discover_lists_api_roots_collections_and_our_rights(partner_ws: Workspace) -> None:
    found = partner_ws.taxii.discover(PEER)
    assert found.title == "CSIRTAmericas (stand-in)"
    (root,) = found.api_roots
    assert root.max_content_length == 4000
    by_id = {c.id: c for c in root.collections}
    assert (by_id[PULL_COLLECTION].can_read, by_id[PULL_COLLECTION].can_write) == (True, False)
    assert by_id[PULL_COLLECTION].configured == "pull"
    assert by_id[PUSH_COLLECTION].can_write and by_id[PUSH_COLLECTION].configured == "push"


def test_discover_with_a_wrong_password_is_one_remote_error(
    partner_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_peer_secret(monkeypatch, PEER, MEDALLION_USER, "wrong")
    with pytest.raises(RemoteError, match="csirtamericas: discovery failed: HTTP 401"):
        partner_ws.taxii.discover(PEER)


def test_pull_follows_the_pages_and_the_cursor_fetches_only_what_is_new(
    partner_ws: Workspace, server: Medallion
) -> None:
    first = partner_ws.taxii.pull(PEER).collections[0]
    assert (first.pages, first.received, first.new, first.duplicates) == (3, 120, 120, 0)
    assert first.cursor == "2026-03-01T00:00:00.000120Z"
    assert partner_ws.store.taxii_cursor(PEER, PULL_COLLECTION) == (first.cursor, True)
    stored = partner_ws.store.get(indicator(7, prefix="aaaa")["id"])
    assert stored is not None and stored.origin == "taxii" and stored.tlp == TLP.GREEN
    provenance = partner_ws.store.provenance_of(stored.id, stored.modified)
    assert provenance is not None and (provenance.source, provenance.collection) == (PEER, PULL_COLLECTION)

    again = partner_ws.taxii.pull(PEER).collections[0]
    assert (again.received, again.new) == (0, 0)  # added_after = cursor: nothing new


def test_pull_rejects_a_bad_object_and_keeps_the_rest(
    tmp_path: Path, home: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = indicator(3, prefix="bbbb")
    bad["pattern"] = "[ipv4-addr:value = "  # not a STIX pattern
    objects = [indicator(1, prefix="bbbb"), bad, indicator(5, prefix="bbbb")]
    with medallion(tmp_path, objects) as server:
        point_partner(
            home, PEER, discovery=server.discovery, api_root=server.api_root, pull=[PULL_COLLECTION]
        )
        set_peer_secret(monkeypatch, PEER, MEDALLION_USER, MEDALLION_PASSWORD)
        with Workspace.open(home, clock=clock) as ws:
            result = ws.taxii.pull(PEER).collections[0]
            assert (result.received, result.new) == (3, 2)
            assert [r["id"] for r in result.rejected] == [bad["id"]]
            assert "pattern" in result.rejected[0]["reason"]
            assert ws.store.get(bad["id"]) is None


def test_an_interrupted_pull_resumes_without_duplicates(
    home: Path, server: Medallion, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = DroppingRelay(server.port, allow=3)  # collections, then 2 pages, then the drop
    try:
        point_partner(
            home,
            PEER,
            discovery=server.discovery,
            api_root=f"http://127.0.0.1:{relay.port}/api1/",
            pull=[PULL_COLLECTION],
        )
        set_peer_secret(monkeypatch, PEER, MEDALLION_USER, MEDALLION_PASSWORD)
        with Workspace.open(home, clock=clock) as ws:
            with pytest.raises(RemoteError, match="reading collection"):
                ws.taxii.pull(PEER, page_size=50)
            cursor = ws.store.taxii_cursor(PEER, PULL_COLLECTION)
            assert cursor == ("2026-03-01T00:00:00.000100Z", False)  # two pages kept
            assert ws.store.count_objects() == 100
            relay.allow = 10**6
            resumed = ws.taxii.pull(PEER, page_size=50).collections[0]
            assert resumed.new == 20
            assert resumed.duplicates <= 1  # at most the boundary object, asked again
            assert ws.store.count_objects() == 120
            assert ws.store.taxii_cursor(PEER, PULL_COLLECTION) == ("2026-03-01T00:00:00.000120Z", True)
    finally:
        relay.close()


def test_push_cuts_envelopes_polls_status_and_never_sends_twice(
    partner_ws: Workspace, server: Medallion
) -> None:
    ours = [(indicator(i, TLP.GREEN, prefix="cccc"), TLP.GREEN) for i in range(12)]
    amber = indicator(99, TLP.AMBER, prefix="cccc")
    seed(partner_ws, [*ours, (amber, TLP.AMBER)], audience={amber["id"]: ["cbb"]})

    result = partner_ws.taxii.push(PEER)
    assert result.sent == 12 + 2 and result.failed == 0  # + TLP:GREEN and the TLP 2.0 extension
    assert result.withheld == 1
    assert result.envelopes >= 2  # 14 objects of ~450 bytes in 4000-byte envelopes
    remote = {o["id"] for o in _remote_objects(server, PUSH_COLLECTION)}
    assert {o["id"] for o, _ in ours} <= remote
    assert amber["id"] not in remote
    log = partner_ws.audit.entries(to=f"partner:{PEER}")
    assert log and all(e.channel == "taxii" for e in log)

    again = partner_ws.taxii.push(PEER)
    assert (again.sent, again.envelopes, again.already) == (0, 0, 12)


def test_a_version_the_partner_already_holds_counts_as_sent(partner_ws: Workspace, server: Medallion) -> None:
    """After a crash the outcome of a delivered envelope may be lost; sent again, medallion
    refuses the versions it holds ("Unable to process object"): read back, they count as sent,
    never as failed for ever."""
    objects = [indicator(i, TLP.GREEN, prefix="dddd") for i in range(3)]
    seed(partner_ws, [(objects[0], TLP.GREEN)])
    assert partner_ws.taxii.push(PEER).sent == 3  # the indicator, TLP:GREEN and its extension
    partner_ws.store.db.execute("DELETE FROM taxii_push WHERE object_id = ?", (objects[0]["id"],))
    seed(partner_ws, [(objects[1], TLP.GREEN), (objects[2], TLP.GREEN)])

    result = partner_ws.taxii.push(PEER)
    assert (result.sent, result.failed, result.pending) == (3, 0, 0)
    record = partner_ws.store.push_records(PEER)[(objects[0]["id"], objects[0]["modified"])]
    assert (record.state, record.message) == ("sent", "already present at the partner")
    assert partner_ws.taxii.push(PEER).already == 3  # nothing left to send


def test_envelopes_fit_the_limit_and_an_object_too_big_alone_is_set_aside() -> None:
    from cirt.store import canonical_json

    objects = [indicator(i, name="x" * (i * 40)) for i in range(30)]
    envelopes, too_big = cut_envelopes(objects, 1500)
    for envelope in envelopes:
        text = '{"objects":[' + ",".join(canonical_json(o) for o in envelope) + "]}"
        assert len(text.encode()) <= 1500
    assert [o["id"] for e in envelopes for o in e] + [o["id"] for o in too_big] == [
        o["id"] for o in objects if o not in too_big
    ] + [o["id"] for o in too_big]
    assert all(len(canonical_json(o)) > 1500 - 14 for o in too_big) and too_big


def test_the_cli_discovers_pulls_and_pushes_with_json_output(partner_ws: Workspace, cli: Any) -> None:
    found = cli("taxii", "discover", PEER, "--json")
    assert found.code == 0, found.err
    assert found.json()["api_roots"][0]["max_content_length"] == 4000
    pulled = cli("taxii", "pull", PEER, "--json")
    assert pulled.code == 0, pulled.err
    assert pulled.json()["collections"][0]["new"] == 120
    pushed = cli("taxii", "push", PEER, "--json")
    assert pushed.code == 0 and pushed.json()["sent"] == 0  # nothing of ours yet
    table = cli("taxii", "discover", PEER)
    assert "Regional indicators" in table.out and "pull" in table.out


def test_the_cli_names_what_is_wrong_in_one_line(partner_ws: Workspace, cli: Any) -> None:
    unknown = cli("taxii", "pull", "nobody")
    assert unknown.code == 1 and "partner 'nobody' is not in" in unknown.err
    no_endpoint = cli("taxii", "discover", "cto")
    assert no_endpoint.code == 1 and "has no taxii endpoint" in no_endpoint.err
    bad_since = cli("taxii", "pull", PEER, "--since", "last tuesday")
    assert bad_since.code == 1 and "--since 'last tuesday'" in bad_since.err
    assert "Traceback" not in unknown.err + no_endpoint.err + bad_since.err


def test_push_of_one_incident_sends_it_with_what_it_links(partner_ws: Workspace, server: Medallion) -> None:
    incident = partner_ws.incidents.open(
        title="Scanning of BEL substations",
        category="information-gathering:scanner",
        severity="low",
        organisations=["bel"],
        tlp="green",
        description="Port scans from one network.",
    )
    linked = partner_ws.indicators.add(form="ip", value="198.51.100.9", incident=incident.reference)
    other = partner_ws.indicators.add(form="ip", value="198.51.100.10", tlp="green")
    result = partner_ws.taxii.push(PEER, incident=incident.reference)
    assert result.failed == 0 and result.sent >= 2
    assert [o["id"] for o in _remote_objects(server, PUSH_COLLECTION, "incident")] == [incident.id]
    remote = {o["id"] for o in _remote_objects(server, PUSH_COLLECTION)}
    assert linked["id"] in remote and other["id"] not in remote
