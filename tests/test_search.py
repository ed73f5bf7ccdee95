"""``cirt search``: every place a value or word is held, with TLP and incident, on both engines."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from pg import PgServer

from cirt.store import LOCAL, Provenance
from cirt.store.search_index import rebuild
from cirt.workspace import Workspace


def _incident(ws: Workspace, title: str, tlp: str = "amber", org: str = "cbb") -> str:
    return ws.incidents.open(
        title=title, category="phishing", severity="medium", organisations=[org], tlp=tlp
    ).reference


def _found(cli: Any, term: str) -> dict[str, Any]:
    result = cli("search", term, "--json")
    assert result.code == 0, result.err
    data: dict[str, Any] = result.json()
    return data


def _ids(data: dict[str, Any]) -> set[str]:
    return {h["id"] for h in data["hits"]}


def test_an_address_finds_the_range_holding_it_and_a_range_finds_addresses(ws: Workspace, cli: Any) -> None:
    first = _incident(ws, "Phishing kit hosting")
    second = _incident(ws, "Scanning from a botnet", tlp="green", org="btl")
    ranged = ws.indicators.add(pattern="[ipv4-addr:value ISSUBSET '203.0.113.0/24']", incident=first)
    single = ws.indicators.add(form="ip", value="203.0.113.45", incident=second)
    other = ws.indicators.add(form="ip", value="198.51.100.7")
    found = _found(cli, "203.0.113.45")
    assert found["kind"] == "ip"
    assert _ids(found) == {ranged["id"], single["id"]}
    by_id = {h["id"]: h for h in found["hits"]}
    assert by_id[ranged["id"]]["incidents"] == [
        {"reference": first, "tlp": "amber", "title": "Phishing kit hosting"}
    ]
    assert by_id[single["id"]]["tlp"] == "green"
    assert by_id[ranged["id"]]["matched"] == ["203.0.113.0/24"]
    assert _ids(_found(cli, "203.0.0.0/16")) == {ranged["id"], single["id"]}
    assert _ids(_found(cli, "203.0.113.128/25")) == {ranged["id"]}
    assert _ids(_found(cli, "198.51.100.7")) == {other["id"]}
    assert _found(cli, "192.0.2.1")["hits"] == []


def test_ipv6_ranges_hold_addresses(ws: Workspace, cli: Any) -> None:
    ranged = ws.indicators.add(pattern="[ipv6-addr:value ISSUBSET '2001:db8:10::/48']")
    ws.indicators.add(form="ip", value="2001:db8:20::1")
    assert _ids(_found(cli, "2001:DB8:10::BEEF")) == {ranged["id"]}


def test_a_domain_finds_its_subdomains_and_parents_not_lookalikes(ws: Workspace, cli: Any) -> None:
    login = ws.indicators.add(form="domain", value="login.centralbank.example")
    parent = ws.indicators.add(form="domain", value="centralbank.example")
    ws.indicators.add(form="domain", value="notcentralbank.example")
    url = ws.indicators.add(form="url", value="https://login.centralbank.example/verify")
    assert _ids(_found(cli, "CentralBank.example")) == {login["id"], parent["id"], url["id"]}
    assert _ids(_found(cli, "www.login.centralbank.example")) == {
        login["id"],
        parent["id"],
        url["id"],
    }  # its host


def test_urls_are_normalised_and_hashes_found_in_any_case(ws: Workspace, cli: Any) -> None:
    url = ws.indicators.add(form="url", value="http://evil.example/kit/login.php?id=1")
    digest = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
    hashed = ws.indicators.add(form="sha256", value=digest)
    assert _ids(_found(cli, "HTTP://EVIL.example:80/kit/./x/../login.php?id=1#top")) == {url["id"]}
    assert _ids(_found(cli, "http://evil.example/kit/login.php?id=2")) == set()
    assert _ids(_found(cli, digest.lower())) == {hashed["id"]}


def test_words_find_incidents_notes_and_evidence(ws: Workspace, cli: Any, tmp_path: Path) -> None:
    reference = _incident(ws, "Ransomware at the water utility", org="bws")
    ws.incidents.update(reference, description="Encrypted SCADA historian")
    assert [h["type"] for h in _found(cli, "historian")["hits"]] == ["incident"]
    note = ws.incidents.note(reference, "The operator paid nothing; backups restored")
    evidence_file = tmp_path / "ransom-note.txt"
    evidence_file.write_text("pay in bitcoin")
    ws.evidence.add(reference, evidence_file)
    incident_hits = _found(cli, "ransomware")["hits"]
    assert [(h["type"], h["summary"]) for h in incident_hits] == [
        ("incident", f"{reference} Ransomware at the water utility")
    ]
    assert _found(cli, reference)["hits"][0]["type"] == "incident"
    assert {h["id"] for h in _found(cli, "backups restored")["hits"]} == {note["id"]}
    evidence = _found(cli, "ransom-note.txt")["hits"]
    assert evidence and all(
        h["incidents"][0]["reference"] == reference for h in evidence if h["type"] == "note"
    )
    assert {h["type"] for h in evidence} >= {"note", "file"}


def test_a_new_version_replaces_what_the_old_one_held(ws: Workspace, cli: Any) -> None:
    indicator = ws.indicators.add(form="ip", value="192.0.2.10")
    revised = dict(
        indicator,
        modified="2026-03-11T00:00:00.000Z",
        name="moved",
        pattern="[ipv4-addr:value = '192.0.2.20']",
    )
    ws.store.put(revised, tlp=2, provenance=Provenance(LOCAL, "tester"))
    assert _found(cli, "192.0.2.10")["hits"] == []
    assert _ids(_found(cli, "192.0.2.20")) == {indicator["id"]}


def test_rebuilding_the_index_finds_the_same(ws: Workspace, cli: Any) -> None:
    reference = _incident(ws, "Card skimmers")
    indicator = ws.indicators.add(form="domain", value="skim.example", incident=reference)
    before = _found(cli, "skim.example")
    assert rebuild(ws.store.db) > 0
    assert _found(cli, "skim.example") == before
    assert _ids(before) == {indicator["id"]}
    assert _ids(_found(cli, "skimmers")) == {ws.incidents.get(reference).id}


def test_the_terminal_table_and_bad_terms(ws: Workspace, cli: Any) -> None:
    reference = _incident(ws, "DDoS [bold]on[/bold] resolvers")
    shown = cli("search", "resolvers")
    assert shown.code == 0 and "[bold]on[/bold]" in shown.out and "TLP:AMBER" in shown.out
    empty = cli("search", "   ")
    assert empty.code == 1 and "search for what?" in empty.err
    assert reference


@pytest.mark.sqlite_only
def test_the_index_moves_with_db_copy(
    ws: Workspace, cli: Any, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _incident(ws, "Defacement of a ministry site")
    indicator = ws.indicators.add(pattern="[ipv4-addr:value ISSUBSET '198.51.100.0/24']", incident=reference)
    name = f"cirt_search_copy_{uuid.uuid4().hex[:8]}"
    url = pg_server.create_database(name)
    try:
        assert cli("db", "copy", "--to", url).code == 0
        monkeypatch.setenv("CIRT_DB_URL", url)
        assert _ids(_found(cli, "198.51.100.99")) == {indicator["id"]}
        assert _found(cli, "defacement")["hits"][0]["summary"].startswith(reference)
    finally:
        pg_server.drop_database(name)
