"""MISP: one TLP translation table, events and feeds through the gate, push and pull over HTTP.

The live tests run PyMISP's real HTTP code against cirt.demos.misp_server on 127.0.0.1.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymisp import MISPEvent, PyMISP

from cirt.demos.misp_server import MispServer
from cirt.errors import SharingDenied
from cirt.misp.to_misp import Offered, build_event, event_dict
from cirt.misp.to_stix import events_in, events_to_stix
from cirt.misp_tlp import (
    ALL_COMMUNITIES,
    YOUR_ORGANISATION,
    distribution_floor,
    export_distribution,
    misp_tag,
    resolve_markings,
    resolve_tags,
    tag_level,
)
from cirt.tlp import TLP, TLP1_MARKING_IDS, TLP2_MARKING_IDS
from cirt.workspace import Workspace

KEY = "test-key-0123456789"
PARTNER_URL = "https://misp.csirtamericas.example/"


# --- the translation table ---


def test_every_misp_tlp_tag_has_one_level() -> None:
    assert [
        tag_level(t)
        for t in ("tlp:clear", "tlp:white", "TLP:GREEN", "tlp:amber", "tlp:amber+strict", "tlp:red")
    ] == [TLP.CLEAR, TLP.CLEAR, TLP.GREEN, TLP.AMBER, TLP.AMBER_STRICT, TLP.RED]
    assert [misp_tag(level) for level in TLP] == [
        "tlp:clear",
        "tlp:green",
        "tlp:amber",
        "tlp:amber+strict",
        "tlp:red",
    ]


def test_an_unknown_tlp_tag_counts_as_red() -> None:
    resolved = resolve_tags(["tlp:ex:chr"], TLP.AMBER)
    assert resolved.level is TLP.RED and "unknown TLP tag" in resolved.note


def test_contradicting_tags_resolve_to_the_most_restrictive_and_are_reported() -> None:
    resolved = resolve_tags(
        ["tlp:green", "tlp:red", 'osint:source-type="blog-post"'], TLP.AMBER, what="event X"
    )
    assert resolved.level is TLP.RED
    assert resolved.note == "event X carries contradicting TLP tags tlp:green, tlp:red: treated as TLP:RED"


def test_no_tag_means_the_default_and_a_closed_distribution_raises_the_floor() -> None:
    assert resolve_tags([], TLP.AMBER).level is TLP.AMBER
    assert resolve_tags(["tlp:clear"], TLP.AMBER, floor=TLP.AMBER).level is TLP.AMBER
    assert distribution_floor(YOUR_ORGANISATION) is TLP.AMBER
    assert distribution_floor(ALL_COMMUNITIES, sharing_group=True) is TLP.AMBER
    assert distribution_floor(ALL_COMMUNITIES) is TLP.CLEAR


def test_stix_markings_2_0_1_0_and_treated_ones_share_the_table() -> None:
    amber_1_0 = next(k for k, v in TLP1_MARKING_IDS.items() if v is TLP.AMBER)
    custom = "marking-definition--1d0e9c37-3c1c-4b8b-9a40-1f0a2d6b9e11"
    assert resolve_markings([amber_1_0], TLP.CLEAR).level is TLP.AMBER
    assert resolve_markings([custom], TLP.CLEAR, {custom: TLP.RED}).level is TLP.RED
    mixed = resolve_markings([TLP2_MARKING_IDS[TLP.GREEN], amber_1_0], TLP.CLEAR)
    assert mixed.level is TLP.AMBER and "contradicting" in mixed.note


def test_distribution_follows_the_level_and_red_never_leaves() -> None:
    assert export_distribution(TLP.CLEAR) == ALL_COMMUNITIES
    assert export_distribution(TLP.AMBER) == YOUR_ORGANISATION
    assert export_distribution(TLP.AMBER_STRICT) == YOUR_ORGANISATION
    with pytest.raises(SharingDenied):
        export_distribution(TLP.RED)


# --- STIX -> MISP -> STIX ---


def indicator(n: int, pattern: str, level: TLP) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--0000000{n}-1111-4111-8111-111111111111",
        "created": "2026-02-01T10:00:00.000Z",
        "modified": "2026-02-01T10:00:00.000Z",
        "name": f"indicator {n}",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-02-01T10:00:00Z",
        "object_marking_refs": [level.marking_id],
    }


ROUND_TRIP = [
    indicator(1, "[ipv4-addr:value = '198.51.100.7']", TLP.CLEAR),
    indicator(2, "[domain-name:value = 'evil.example']", TLP.GREEN),
    indicator(3, "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']", TLP.AMBER),
    indicator(4, "[url:value = 'http://evil.example/a\\'b']", TLP.AMBER_STRICT),
    indicator(5, "[ipv4-addr:value = '203.0.113.1'] AND [domain-name:value = 'x.example']", TLP.GREEN),
    indicator(6, "[email-addr:value = 'ceo@evil.example']", TLP.CLEAR),
]


def _event(content: list[dict[str, Any]]) -> MISPEvent:
    return build_event(
        [
            Offered(o, TLP(max(resolve_markings(o["object_marking_refs"], TLP.AMBER).level, TLP.CLEAR)))
            for o in content
        ],
        event_uuid="5a0f4b0b-0e1c-4c5b-9a43-7f9f1f6c2b12",
        info="round trip",
        date=datetime(2026, 2, 1, tzinfo=UTC),
        org_name="National CIRT",
        org_uuid="e33b703c-a631-5672-a1bc-d5c26b3e3afa",
    )


def test_stix_to_misp_to_stix_keeps_every_indicator_at_its_events_level() -> None:
    """An attribute never gets a lower level than its event (issue 10): the event carries the
    most restrictive level of its content, so every indicator comes back at least that high."""
    event = _event(ROUND_TRIP)
    assert {t.name for t in event.tags} == {"tlp:amber+strict"}
    strict = next(a for a in event.attributes if a.value.startswith("http://"))
    assert int(strict.distribution) == YOUR_ORGANISATION
    text = json.dumps(event_dict(event))
    back = events_to_stix(events_in(json.loads(text), "event"))
    indicators = {o["id"]: o for o in back.objects if o["type"] == "indicator"}
    for original in ROUND_TRIP:
        copy = indicators[original["id"]]
        assert copy["pattern"] == original["pattern"]
        assert copy["object_marking_refs"] == [TLP2_MARKING_IDS[TLP.AMBER_STRICT]]
        assert copy["name"] == original["name"]
    report = next(o for o in back.objects if o["type"] == "report")
    assert sorted(report["object_refs"]) == sorted(indicators)


def test_an_event_with_red_content_cannot_be_built() -> None:
    with pytest.raises(SharingDenied, match="TLP:RED never leaves"):
        _event([indicator(7, "[ipv4-addr:value = '192.0.2.1']", TLP.RED)])


def test_observables_become_attributes_and_file_objects_without_ids() -> None:
    file_sco = {
        "type": "file",
        "spec_version": "2.1",
        "id": "file--5a0f4b0b-0e1c-4c5b-9a43-7f9f1f6c2b11",
        "name": "invoice.exe",
        "hashes": {"MD5": "d41d8cd98f00b204e9800998ecf8427e"},
    }
    ip_sco = {
        "type": "ipv4-addr",
        "spec_version": "2.1",
        "id": "ipv4-addr--5a0f4b0b-0e1c-4c5b-9a43-7f9f1f6c2b13",
        "value": "192.0.2.9",
    }
    event = build_event(
        [Offered(file_sco, TLP.GREEN), Offered(ip_sco, TLP.GREEN)],
        event_uuid="5a0f4b0b-0e1c-4c5b-9a43-7f9f1f6c2b12",
        info="obs",
        date=datetime(2026, 2, 1, tzinfo=UTC),
        org_name="N",
        org_uuid="e33b703c-a631-5672-a1bc-d5c26b3e3afa",
    )
    assert [o.name for o in event.objects] == ["file"]
    assert [(a.type, a.to_ids) for a in event.attributes] == [("ip-dst", False)]
    back = events_to_stix(events_in(event_dict(event), "x")).objects
    assert {
        k: v for k, v in next(o for o in back if o["type"] == "file").items() if k != "object_marking_refs"
    } == file_sco
    assert {
        k: v
        for k, v in next(o for o in back if o["type"] == "ipv4-addr").items()
        if k != "object_marking_refs"
    } == ip_sco


# --- through the gate, from the command line ---


@pytest.fixture
def incident(ws: Workspace) -> str:
    opened = ws.incidents.open(
        title="Phishing wave", category="fraud:phishing", severity="high", organisations=["cbb"], tlp="green"
    )
    ws.indicators.add(
        pattern="[domain-name:value = 'login-cbb.example']",
        name="lure domain",
        incident=opened.reference,
        tlp="clear",
    )
    ws.indicators.add(form="ip", value="203.0.113.50", name="sender", incident=opened.reference, tlp="green")
    ws.indicators.add(
        form="ip", value="203.0.113.51", name="internal", incident=opened.reference, tlp="amber+strict"
    )
    ws.indicators.add(form="ip", value="203.0.113.52", name="red", incident=opened.reference, tlp="red")
    return opened.reference


def test_export_to_a_partner_passes_the_gate_and_is_logged(
    cli, ws: Workspace, incident: str, tmp_path: Path
) -> None:
    out = tmp_path / "event.json"
    result = cli("misp", "export", "--incident", incident, "--for", "csirtamericas", "-o", str(out), "--json")
    assert result.code == 0, result.err
    event = MISPEvent()
    event.load(json.loads(out.read_text()))
    values = {a.value: a for a in event.attributes}
    assert set(values) == {"login-cbb.example", "203.0.113.50"}
    assert {t.name for t in event.tags} == {"tlp:green", 'rsit:fraud="phishing"'}
    assert [t.name for t in values["login-cbb.example"].tags] == ["tlp:clear"]
    entries = ws.audit.entries(to="partner:csirtamericas")
    assert entries and entries[-1].channel == "misp"


def test_export_to_an_organisation_keeps_amber_strict_inside_the_organisation(
    cli, incident: str, tmp_path: Path
) -> None:
    out = tmp_path / "event.json"
    assert cli("misp", "export", "--incident", incident, "--for", "cbb", "-o", str(out)).code == 0
    event = MISPEvent()
    event.load(json.loads(out.read_text()))
    strict = next(a for a in event.attributes if a.value == "203.0.113.51")
    assert int(strict.distribution) == YOUR_ORGANISATION
    assert "tlp:amber+strict" in {t.name for t in event.tags} and strict.tags == []
    green = next(a for a in event.attributes if a.value == "203.0.113.50")
    assert [t.name for t in green.tags] == ["tlp:green"]
    assert "203.0.113.52" not in {a.value for a in event.attributes}


def test_export_needs_incident_or_since(cli) -> None:
    result = cli("misp", "export", "--for", "cbb")
    assert result.code == 1 and "exactly one of --incident and --since" in result.err


def test_a_feed_loads_back_with_pymisp_and_imports(cli, incident: str, tmp_path: Path, ws: Workspace) -> None:
    feed = tmp_path / "feed"
    result = cli("misp", "feed", str(feed), "--for", "cbb", "--json")
    assert result.code == 0, result.err
    manifest = json.loads((feed / "manifest.json").read_text())
    assert len(manifest) == 1
    (event_uuid,) = manifest
    event = MISPEvent()
    event.load_file(str(feed / f"{event_uuid}.json"))
    assert {a.value for a in event.attributes} == {"login-cbb.example", "203.0.113.50", "203.0.113.51"}
    hashes = (feed / "hashes.csv").read_text().splitlines()
    assert len(hashes) == 3 and all(line.endswith("," + event_uuid) for line in hashes)
    other = Workspace.init(tmp_path / "other")
    try:
        from cirt.ingest import import_file

        imported = import_file(other.context, str(feed))
        assert imported.kind == "misp-feed" and imported.summary.new == 4
        strict = next(
            s for s in other.store.latest_objects(types=["indicator"]) if "203.0.113.51" in s.obj["pattern"]
        )
        assert strict.tlp == TLP.AMBER_STRICT
    finally:
        other.close()


# --- live: push and pull against a MISP-compatible server ---


def test_push_sends_once_and_pull_returns_the_same_event(
    cli, home: Path, incident: str, partner_misp: MispServer
) -> None:
    first = cli("misp", "push", "csirtamericas", "--json")
    assert first.code == 0, first.err
    (sent,) = first.json()["sent"]
    with Workspace.open(home) as ws:
        logged = [e for e in ws.audit.entries(to="partner:csirtamericas") if e.channel == "misp"]
    assert len(logged) == 1
    again = cli("misp", "push", "csirtamericas", "--json").json()
    assert again["sent"] == [] and again["unchanged"] == [sent]
    with Workspace.open(home) as ws:
        assert len(ws.audit.entries(to="partner:csirtamericas")) == len(logged)
    assert [p for m, p in partner_misp.state.requests if m == "POST"] == ["events/add"]

    client = PyMISP(partner_misp.url, KEY, ssl=False)
    fetched = client.get_event(sent, pythonify=True)
    assert isinstance(fetched, MISPEvent)
    with Workspace.open(home) as ws:
        built = ws.misp.incident_event(incident, "csirtamericas")
    assert built is not None and str(built.event.uuid) == sent

    def content(event: MISPEvent) -> tuple[Any, ...]:
        return (
            event.info,
            sorted(t.name for t in event.tags),
            int(event.distribution),
            sorted(
                (a.uuid, a.type, a.value, bool(a.to_ids), int(a.distribution), tuple(t.name for t in a.tags))
                for a in event.attributes
            ),
        )

    assert content(fetched) == content(built.event)
    pulled = cli("misp", "pull", "csirtamericas", "--json").json()
    assert pulled["own_events_skipped"] == [sent] and pulled["new"] == 0


def partner_event(n: int, tags: list[str], distribution: int = 1) -> MISPEvent:
    event = MISPEvent()
    event.uuid = f"7c1d2e3f-4a5b-4c6d-8e7f-00000000000{n}"
    event.info = f"Partner campaign {n}"
    event.distribution = distribution
    for tag in tags:
        event.add_tag(tag)
    event.add_attribute("ip-dst", f"198.51.100.{n}", to_ids=True, comment="botnet C2")
    event.add_attribute("domain", f"c2-{n}.example", to_ids=False)
    event.add_attribute("text", "free text has no STIX mapping")
    return event


def test_pull_stores_partner_events_with_provenance_and_tlp_once(
    cli, ws: Workspace, partner_misp: MispServer
) -> None:
    client = PyMISP(partner_misp.url, KEY, ssl=False)
    client.add_event(partner_event(1, ["tlp:green"]))
    client.add_event(partner_event(2, ["tlp:green", "tlp:amber"]))
    client.add_event(partner_event(3, [], distribution=0))
    result = cli("misp", "pull", "csirtamericas", "--json")
    assert result.code == 0, result.err
    data = result.json()
    assert (data["new"], data["rejected"]) == (9, [])
    assert any("contradicting TLP tags tlp:green, tlp:amber" in n for n in data["notes"])
    assert any("text (1)" in n for n in data["notes"])
    levels = {s.obj["pattern"]: s.tlp for s in ws.store.latest_objects(types=["indicator"])}
    assert levels == {
        "[ipv4-addr:value = '198.51.100.1']": TLP.GREEN,
        "[ipv4-addr:value = '198.51.100.2']": TLP.AMBER,
        "[ipv4-addr:value = '198.51.100.3']": TLP.AMBER,
    }
    some = next(ws.store.latest_objects(types=["indicator"]))
    provenance = ws.store.provenance_of(some.id, some.modified)
    assert provenance is not None and (provenance.source_kind, provenance.source) == ("misp", "csirtamericas")
    again = cli("misp", "pull", "csirtamericas", "--json").json()
    assert again["new"] == 0 and again["updated"] == 0


def test_missing_key_and_unreachable_server_are_clear_errors(
    cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CIRT_MISP_CSIRTAMERICAS_KEY", raising=False)
    result = cli("misp", "pull", "csirtamericas")
    assert result.code == 1 and "set CIRT_MISP_CSIRTAMERICAS_KEY" in result.err
    monkeypatch.setenv("CIRT_MISP_CSIRTAMERICAS_KEY", KEY)
    sectors = home / "sectors.yaml"
    sectors.write_text(sectors.read_text().replace(PARTNER_URL, "http://127.0.0.1:9/"))
    result = cli("misp", "push", "csirtamericas")
    assert result.code == 1 and "is unreachable or refused the key" in result.err
    assert cli("misp", "pull", "lacnic-warp").err.strip().endswith("has no misp: url in sectors.yaml")


def test_a_wrong_key_is_refused(cli, partner_misp: MispServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIRT_MISP_CSIRTAMERICAS_KEY", "wrong")
    result = cli("misp", "pull", "csirtamericas")
    assert result.code == 1 and "refused the key" in result.err


def test_green_indicators_of_an_amber_incident_leave_without_any_incident_field(
    cli, ws: Workspace, tmp_path: Path
) -> None:
    amber = ws.incidents.open(
        title="Bank core system intrusion",
        category="intrusions:system-compromise",
        severity="critical",
        organisations=["cbb"],
        tlp="amber",
    )
    ws.indicators.add(form="ip", value="192.0.2.200", incident=amber.reference, tlp="green", name="scanner")
    ws.indicators.add(form="ip", value="192.0.2.201", incident=amber.reference, tlp="amber", name="implant")
    out = tmp_path / "event.json"
    assert (
        cli("misp", "export", "--incident", amber.reference, "--for", "csirtamericas", "-o", str(out)).code
        == 0
    )
    text = out.read_text()
    event = MISPEvent()
    event.load(json.loads(text))
    assert [a.value for a in event.attributes] == ["192.0.2.200"]
    assert {t.name for t in event.tags} == {"tlp:green"}
    for leak in (amber.reference, "Bank core", "intrusions", amber.id.split("--")[1], "192.0.2.201"):
        assert leak not in text


def test_demo_chapter_imports_pushes_and_writes_a_feed(ws: Workspace) -> None:
    from cirt.demos.misp import run_chapter

    lines: list[str] = []
    run_chapter(ws, lines.append)
    text = "\n".join(lines)
    assert "4 new, 0 updated, 0 duplicate(s), 1 rejected" in text
    assert "-> 1 event(s) sent; again -> 0 sent, 1 unchanged." in text
    feed = ws.home / "misp-feed"
    manifest = json.loads((feed / "manifest.json").read_text())
    for event_uuid in manifest:
        MISPEvent().load_file(str(feed / f"{event_uuid}.json"))


def test_the_translation_table_is_shown(cli) -> None:
    data = cli("misp", "tlp", "--json").json()
    assert [row["misp_tags"][0] for row in data["levels"]] == [
        "tlp:clear",
        "tlp:green",
        "tlp:amber",
        "tlp:amber+strict",
        "tlp:red",
    ]
    assert data["levels"][-1]["misp_distribution_out"] is None
    assert data["received_distribution_floor"]["0 (your organisation only)"] == "TLP:AMBER"
