"""``cirt export``: the analyst's own archive bundle is valid STIX 2.1 with the OASIS markings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stix2validator import ValidationOptions, validate_instance

from cirt.incidents import INCIDENT_CORE_ID, INTERNAL_MARKING_ID
from cirt.tlp import TLP2_MARKING_IDS


def _scenario(cli: Any) -> str:
    ref: str = cli(
        "incident",
        "open",
        "--title",
        "Ransomware at BEL",
        "--category",
        "malicious-code:infected-system",
        "--severity",
        "critical",
        "--sector",
        "bel",
        "--tlp",
        "amber+strict",
        "--json",
    ).json()["reference"]
    cli("indicator", "add", "--incident", ref, "--sha256", "c" * 64)
    cli("indicator", "add", "--incident", ref, "--url", "http://pay-now.example/?id='1'", "--tlp", "red")
    cli("indicator", "add", "--ip", "203.0.113.9", "--tlp", "clear")
    cli("incident", "note", ref, "Backups intact")
    cli("incident", "escalate", ref, "--to", "national", "--reason", "critical infrastructure")
    return ref


def test_export_validates_with_the_oasis_validator(cli: Any, tmp_path: Path) -> None:
    _scenario(cli)
    out = tmp_path / "bundle.json"
    result = cli("export", "-o", str(out), "--json")
    assert result.code == 0, result.err
    bundle = json.loads(out.read_text())
    report = validate_instance(bundle, ValidationOptions(version="2.1"))
    assert report.is_valid, [str(e) for e in report.errors]
    types = [o["type"] for o in bundle["objects"]]
    assert types.count("incident") == 1 and types.count("indicator") == 3
    markings = {o["id"] for o in bundle["objects"] if o["type"] == "marking-definition"}
    used = {ref for o in bundle["objects"] for ref in o.get("object_marking_refs", [])}
    assert used <= markings <= {*TLP2_MARKING_IDS.values(), INTERNAL_MARKING_ID}
    incident = next(o for o in bundle["objects"] if o["type"] == "incident")
    assert INCIDENT_CORE_ID in incident["extensions"]
    assert INCIDENT_CORE_ID in {o["id"] for o in bundle["objects"]}


def test_export_of_one_incident_holds_it_and_its_links_only(cli: Any, tmp_path: Path) -> None:
    ref = _scenario(cli)
    evidence = tmp_path / "ransom-note.txt"
    evidence.write_text("pay 2 BTC")
    assert cli("evidence", "add", ref, str(evidence)).code == 0
    bundle = json.loads(cli("export", "--incident", ref).out)
    report = validate_instance(bundle, ValidationOptions(version="2.1"))
    assert report.is_valid, [str(e) for e in report.errors]
    tasks = [o for o in bundle["objects"] if o["type"] == "task"]
    assert tasks, "the playbook's tasks travel with the incident"
    defined = {o["id"] for o in bundle["objects"] if o["type"] == "extension-definition"}
    used = {k for o in bundle["objects"] for k in o.get("extensions", {})}
    assert used <= defined
    assert any(o["type"] == "file" for o in bundle["objects"])
    indicators = [o for o in bundle["objects"] if o["type"] == "indicator"]
    assert len(indicators) == 2
    assert {o["type"] for o in bundle["objects"]} >= {
        "incident",
        "note",
        "relationship",
        "identity",
        "marking-definition",
        "extension-definition",
    }


def test_the_cirts_own_export_is_in_the_disclosure_log(cli: Any, tmp_path: Path) -> None:
    ref = _scenario(cli)
    cli("export", "--incident", ref, "-o", str(tmp_path / "one.json"))
    entries = cli("audit", "log", "--json").json()
    exports = [e for e in entries if e["channel"] == "export"]
    assert [(e["recipient"], e["delivery"]) for e in exports] == [("archive:cirt-bz", "file")]
    bundle = json.loads((tmp_path / "one.json").read_text())
    logged = {item["id"] for item in exports[0]["objects"]}
    assert {o["id"] for o in bundle["objects"] if o["type"] in ("incident", "indicator")} <= logged
    assert cli("audit", "verify").code == 0
