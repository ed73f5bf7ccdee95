"""The nine leaks of issue 11, each tried from outside as the recipient would see it.

Every test names what the recipient must not learn and searches what it actually receives.
"""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cirt.gate import Candidate, Recipient, release
from cirt.incidents import OUR_EXTENSION_ID
from cirt.misp.to_misp import Offered, build_event
from cirt.misp_tlp import ALL_COMMUNITIES, THIS_COMMUNITY, YOUR_ORGANISATION, export_distribution
from cirt.servers.taxii import TaxiiApp
from cirt.store import Provenance
from cirt.taxii.auth import issue_credential
from cirt.tlp import TLP
from cirt.workspace import Workspace

BWS_IDENTITY = "identity--a227c9c8-8fe4-5495-9b8b-b84040b1824f"
STAMP = "2026-03-01T00:00:00.000Z"


def _indicator(n: int, level: TLP, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--1100{n:04d}-0000-4000-8000-000000000000",
        "created": STAMP,
        "modified": STAMP,
        "name": f"indicator {n}",
        "pattern": f"[ipv4-addr:value = '198.51.100.{n}']",
        "pattern_type": "stix",
        "valid_from": "2026-03-01T00:00:00Z",
        "object_marking_refs": [level.marking_id],
        **extra,
    }


def _store(ws: Workspace, *objects: tuple[dict[str, Any], TLP]) -> None:
    ws.store.put_many([(o, int(t)) for o, t in objects], provenance=Provenance("local", "tester"))


def _text(value: Any) -> str:
    return json.dumps(value, default=str)


# --- 1. MISP event distribution follows the event's own level --------------------------------


def _event_for(levels: list[TLP], cap: int) -> Any:
    content = [Offered(_indicator(i, level), level) for i, level in enumerate(levels)]
    return build_event(
        content,
        event_uuid="5a0f4b0b-0e1c-4c5b-9a43-7f9f1f6c2b12",
        info="x",
        date=datetime(2026, 3, 1, tzinfo=UTC),
        org_name="National CIRT",
        org_uuid="e33b703c-a631-5672-a1bc-d5c26b3e3afa",
        audience_cap=cap,
    )


def test_a_green_event_with_a_clear_indicator_stays_in_the_community() -> None:
    event = _event_for([TLP.GREEN, TLP.CLEAR], ALL_COMMUNITIES)
    assert int(event.distribution) == export_distribution(TLP.GREEN) == THIS_COMMUNITY


def test_an_amber_strict_event_stays_in_the_organisation() -> None:
    event = _event_for([TLP.AMBER_STRICT, TLP.GREEN, TLP.CLEAR], THIS_COMMUNITY)
    assert int(event.distribution) == YOUR_ORGANISATION


# --- 2. the audience is never revealed: tasks, extensions, custom properties -----------------


def test_bels_export_of_an_incident_affecting_bel_and_bws_says_nothing_of_bws(ws: Workspace) -> None:
    opened = ws.incidents.open(
        title="Outage at the grid",
        category="availability:dos",
        severity="critical",
        organisations=["bel", "bws"],
        tlp="amber",
    )
    bundle = ws.sharing.export_for("bel", opened.reference)
    types = {o["type"] for o in bundle["objects"]}
    assert {"incident", "task"} <= types
    text = _text(bundle)
    assert '"bws"' not in text and BWS_IDENTITY not in text
    assert "Belize Water Services" not in text


def test_a_custom_property_naming_another_organisation_is_cut(ws: Workspace) -> None:
    note: dict[str, Any] = {
        "type": "note",
        "spec_version": "2.1",
        "id": "note--1100aaaa-0000-4000-8000-0000000000aa",
        "created": STAMP,
        "modified": STAMP,
        "content": "coordination",
        "object_refs": [_indicator(1, TLP.GREEN)["id"]],
        "x_told": ["bel", "bws"],
        "x_contact_org_ref": BWS_IDENTITY,
        "object_marking_refs": [TLP.GREEN.marking_id],
    }
    _store(ws, (_indicator(1, TLP.GREEN), TLP.GREEN), (note, TLP.GREEN))
    result = ws.sharing.decide([note["id"], _indicator(1, TLP.GREEN)["id"]], "bel")
    sent = next(r.obj for r in result.released if r.obj["id"] == note["id"])
    assert sent.get("x_told") == ["bel"]
    assert BWS_IDENTITY not in _text(sent)


# --- 3. a withheld sectors.yaml identity never stays as created_by_ref -----------------------


def test_a_withheld_identity_of_sectors_yaml_is_cut_from_created_by_ref(ws: Workspace) -> None:
    identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": BWS_IDENTITY,
        "created": STAMP,
        "modified": STAMP,
        "name": "Belize Water Services",
        "identity_class": "organization",
        "object_marking_refs": [TLP.RED.marking_id],
    }
    written = _indicator(2, TLP.GREEN, created_by_ref=BWS_IDENTITY)
    _store(ws, (identity, TLP.RED), (written, TLP.GREEN))
    result = ws.sharing.decide([written["id"]], "bel")
    assert [r.obj["id"] for r in result.released] == [written["id"]]
    assert BWS_IDENTITY not in _text(result.bundle("bundle--00000000-0000-4000-8000-000000000001"))


# --- 4. every version answers for the most restrictive marking; withheld is nonexistent -------


def _call(app: TaxiiApp, auth: str, path: str, query: str = "") -> tuple[int, Any]:
    out: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        out["status"] = int(status.split()[0])

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_AUTHORIZATION": auth,
        "wsgi.input": io.BytesIO(b""),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "1",
    }
    body = b"".join(app(environ, start))
    return out["status"], json.loads(body)


@pytest.mark.sqlite_only
def test_raising_a_marking_withholds_every_older_version_everywhere(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    with Workspace.init(home) as ws:
        green = _indicator(3, TLP.GREEN)
        red = {**green, "modified": "2026-03-02T00:00:00.000Z", "object_marking_refs": [TLP.RED.marking_id]}
        _store(ws, (green, TLP.GREEN), (red, TLP.RED))
        cred = issue_credential(ws, "bel")
    auth = "Basic " + base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()
    app = TaxiiApp(lambda: Workspace.open(home))
    unknown = "indicator--deadbeef-0000-4000-8000-000000000000"
    root = "/cirt/collections/indicators"
    try:
        for query in (
            "match[version]=all",
            "match[version]=first",
            f"match[version]={STAMP}",
            f"match[id]={green['id']}",
        ):
            for endpoint in ("objects", "manifest"):
                status, body = _call(app, auth, f"{root}/{endpoint}/", query)
                assert status == 200 and green["id"] not in _text(body), (endpoint, query)
        gone = [
            _call(app, auth, f"{root}/objects/{oid}/{tail}", query)
            for oid in (green["id"], unknown)
            for tail, query in (("", ""), ("", "match[version]=first"), ("versions/", ""))
        ]
        assert gone[:3] == gone[3:]
        assert {status for status, _ in gone} == {404}
    finally:
        app.ws.close()


# --- 5. references at any depth; extension definitions judged like any object ---------------


def test_a_reference_deep_inside_a_known_property_is_found(ws: Workspace) -> None:
    secret = _indicator(4, TLP.RED)
    deep = _indicator(
        5,
        TLP.GREEN,
        kill_chain_phases=[{"kill_chain_name": "x", "phase_name": "y", "x_source_ref": secret["id"]}],
        external_references=[{"source_name": "s", "x_seen_refs": [secret["id"]]}],
    )
    _store(ws, (secret, TLP.RED), (deep, TLP.GREEN))
    result = ws.sharing.decide([deep["id"]], "bel")
    assert [r.obj["id"] for r in result.released] == [deep["id"]]
    assert secret["id"] not in _text(result.objects)


EXTENSION = "extension-definition--1100aaaa-0000-4000-8000-0000000000ee"


def test_a_red_extension_definition_does_not_travel_with_green_objects(ws: Workspace) -> None:
    definition = {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": EXTENSION,
        "created": STAMP,
        "modified": STAMP,
        "name": "operation-nightjar",
        "schema": "https://intranet.cirt.bz.example/nightjar",
        "version": "1.0",
        "extension_types": ["property-extension"],
        "created_by_ref": "identity--e33b703c-a631-5672-a1bc-d5c26b3e3afa",
        "object_marking_refs": [TLP.RED.marking_id],
    }
    using = _indicator(
        6, TLP.GREEN, extensions={EXTENSION: {"extension_type": "property-extension", "codename": "nightjar"}}
    )
    new_sdo: dict[str, Any] = {
        "type": "x-nightjar",
        "spec_version": "2.1",
        "id": "x-nightjar--1100aaaa-0000-4000-8000-0000000000ef",
        "created": STAMP,
        "modified": STAMP,
        "extensions": {EXTENSION: {"extension_type": "new-sdo"}},
        "object_marking_refs": [TLP.GREEN.marking_id],
    }
    _store(ws, (definition, TLP.RED), (using, TLP.GREEN), (new_sdo, TLP.GREEN))
    result = ws.sharing.decide([using["id"], new_sdo["id"]], "bel")
    assert [r.obj["id"] for r in result.released] == [using["id"]]
    assert "nightjar" not in _text(result.objects)
    assert EXTENSION not in _text(result.objects)


# --- 6. containers lose withheld context relationships ---------------------------------------


def test_a_green_report_drops_a_context_relationship_the_recipient_may_not_see(ws: Workspace) -> None:
    shown, secret = _indicator(7, TLP.GREEN), _indicator(8, TLP.RED)
    link = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": "relationship--1100aaaa-0000-4000-8000-0000000000bb",
        "created": STAMP,
        "modified": STAMP,
        "relationship_type": "related-to",
        "source_ref": shown["id"],
        "target_ref": secret["id"],
        "object_marking_refs": [TLP.GREEN.marking_id],
    }
    report: dict[str, Any] = {
        "type": "report",
        "spec_version": "2.1",
        "id": "report--1100aaaa-0000-4000-8000-0000000000cc",
        "created": STAMP,
        "modified": STAMP,
        "name": "weekly",
        "published": STAMP,
        "object_refs": [shown["id"], link["id"]],
        "object_marking_refs": [TLP.GREEN.marking_id],
    }
    _store(ws, (shown, TLP.GREEN), (secret, TLP.RED), (link, TLP.GREEN), (report, TLP.GREEN))
    result = ws.sharing.decide([report["id"]], "bel")
    sent = next(r.obj for r in result.released if r.obj["id"] == report["id"])
    assert sent["object_refs"] == [shown["id"]]


# --- 7. only `share lower` lowers ------------------------------------------------------------


def test_incident_update_may_not_lower_a_marking(cli: Any) -> None:
    ref = cli(
        "incident",
        "open",
        "--title",
        "Ransomware",
        "--category",
        "malicious-code:infected-system",
        "--severity",
        "high",
        "--sector",
        "bel",
        "--tlp",
        "red",
        "--json",
    ).json()["reference"]
    result = cli("incident", "update", ref, "--tlp", "clear")
    assert result.code == 1 and "share lower" in result.err
    shown = cli("incident", "show", ref, "--json").json()
    assert _text(shown).count("red") >= 1 and "TLP:CLEAR" not in _text(shown).upper()
    assert cli("incident", "update", ref, "--tlp", "red").code == 0  # raising stays allowed
    lowered = cli("share", "lower", ref, "--tlp", "amber", "--reason", "contained")
    assert lowered.code == 0, lowered.err


# --- 8. references shown to recipients do not reveal volume ----------------------------------


def test_released_incidents_carry_a_reference_that_reveals_no_count(ws: Workspace) -> None:
    opened = [
        ws.incidents.open(
            title=f"incident {n}",
            category="fraud:phishing",
            severity="low",
            organisations=["cbb"],
            tlp="green",
        )
        for n in range(3)
    ]
    shown = []
    for incident in opened:
        bundle = ws.sharing.export_for("bel", incident.reference)
        sent = next(o for o in bundle["objects"] if o["type"] == "incident")
        reference = sent["extensions"][OUR_EXTENSION_ID]["reference"]
        assert incident.reference not in _text(bundle)
        shown.append(reference)
    assert len(set(shown)) == 3 and all(r.startswith("BZ-") for r in shown)
    again = ws.sharing.export_for("cbb", opened[0].reference)
    assert shown[0] in _text(again)  # stable: the same incident, the same public reference


# --- 9. the CIRT's own export is an explicit, logged release ---------------------------------


def test_export_without_for_is_a_logged_release_to_the_own_archive(cli: Any, tmp_path: Path) -> None:
    cli("indicator", "add", "--ip", "203.0.113.9", "--tlp", "red")
    out = tmp_path / "archive.json"
    result = cli("export", "-o", str(out), "--json")
    assert result.code == 0, result.err
    assert "archive" in result.out
    entries = [e for e in cli("audit", "log", "--json").json() if e["channel"] == "export"]
    assert [e["recipient"] for e in entries] == ["archive:cirt-bz"]
    assert entries[0].get("delivery") == "file"


def test_the_gate_releases_everything_to_the_own_archive(ws: Workspace) -> None:
    community = ws.community
    red = Candidate(_indicator(9, TLP.RED))
    received = Candidate(_indicator(10, TLP.AMBER_STRICT), origin="taxii:csirtamericas")
    result = release(
        [red, received],
        Recipient("archive", community.national.id),
        community,
        default_tlp=community.default_tlp,
    )
    assert len(result.released) == 2 and not result.withheld


# --- nothing leaves unmarked -------------------------------------------------------------------


def test_an_object_stored_without_a_marking_leaves_marked_with_its_effective_level(ws: Workspace) -> None:
    unmarked = {k: v for k, v in _indicator(11, TLP.GREEN).items() if k != "object_marking_refs"}
    _store(ws, (unmarked, ws.community.default_tlp))
    ws.store.add_audience(unmarked["id"], "org", ["bel"])
    bundle = ws.sharing.export_for("bel")
    sent = next(o for o in bundle["objects"] if o["id"] == unmarked["id"])
    default = ws.community.default_tlp.marking_id
    assert sent["object_marking_refs"] == [default]
    assert default in {o["id"] for o in bundle["objects"]}
