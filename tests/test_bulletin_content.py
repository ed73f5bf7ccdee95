"""What a bulletin says: its playbook's advice, each indicator once and defanged, local times,
and bulletins for partners and the public as well as for sector organisations."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture
def ransomware(cli: Any) -> str:
    ref: str = cli(
        "incident",
        "open",
        "--title",
        "Ransomware at BWS",
        "--category",
        "availability:sabotage",
        "--severity",
        "critical",
        "--sector",
        "bws",
        "--tlp",
        "green",
        "--summary",
        "Billing systems encrypted; water supply safe",
        "--json",
    ).json()["reference"]
    for tlp in ("green", "amber"):
        assert cli("indicator", "add", "--incident", ref, "--ip", "203.0.113.7", "--tlp", tlp).code == 0
    assert (
        cli(
            "indicator",
            "add",
            "--incident",
            ref,
            "--url",
            "https://pay.evil.example/locker",
            "--tlp",
            "green",
        ).code
        == 0
    )
    assert cli("indicator", "add", "--ip", "198.51.100.23", "--tlp", "clear", "--name", "scanner").code == 0
    return ref


def _build(cli: Any, org: str, fmt: str) -> str:
    result = cli("bulletin", "build", "--for", org, "--format", fmt)
    assert result.code == 0, result.err
    out: str = result.out
    return out


def test_advice_comes_from_the_incidents_playbook(cli: Any, ransomware: str) -> None:
    text = _build(cli, "bws", "txt")
    assert "Isolate before the encryption spreads" in text  # the ransomware playbook
    assert "DDoS" not in text  # not the advice of the RSIT class 'availability'


def test_an_indicator_released_at_two_tlps_appears_once_under_the_stricter_label(
    cli: Any, ransomware: str
) -> None:
    text = _build(cli, "bws", "txt")
    lines = text.splitlines()
    rows = [
        i for i, line in enumerate(lines) if line.startswith("  Pattern:") and "203[.]0[.]113[.]7" in line
    ]
    assert len(rows) == 1
    assert lines[rows[0] - 1].startswith("* [TLP:AMBER]")


def test_indicators_are_defanged_for_people_and_exact_in_stix(cli: Any, ransomware: str) -> None:
    for fmt in ("txt", "md", "html"):
        text = _build(cli, "bws", fmt)
        assert "203.0.113.7" not in text and "pay.evil.example" not in text, fmt
        assert "hxxps://pay" in text, fmt
    bundle = json.loads(_build(cli, "bws", "stix"))
    patterns = {o["pattern"] for o in bundle["objects"] if o["type"] == "indicator"}
    assert "[ipv4-addr:value = '203.0.113.7']" in patterns


def test_times_are_in_the_cirts_zone(cli: Any, ransomware: str) -> None:
    text = _build(cli, "bws", "txt")
    issued = next(line for line in text.splitlines() if line.startswith("Issued:"))
    assert issued.endswith("CST")


def test_a_partner_gets_a_bulletin_of_what_it_may_see(cli: Any, ransomware: str) -> None:
    assert cli("share", "add", ransomware, "--org", "csirtamericas").code == 0
    text = _build(cli, "csirtamericas", "txt")
    assert "For:            CSIRTAmericas (OAS/CICTE)" in text
    assert "TLP:AMBER" not in text, "a partner's max_tlp is GREEN"
    assert "Ransomware at BWS" in text and "198[.]51[.]100[.]23" in text


def test_the_public_advisory_holds_only_tlp_clear(cli: Any, ransomware: str) -> None:
    result = cli("bulletin", "build", "--for", "public", "--format", "txt", "--json")
    assert result.code == 0, result.err
    data = result.json()
    text = data["content"]
    assert data["tlp"] == "clear" and "public advisory" in data["subject"]
    assert "public advisory" in text and "For:            the public" in text
    assert "Ransomware at BWS" not in text and "TLP:GREEN" not in text
    assert "198[.]51[.]100[.]23" in text


def test_the_subject_carries_the_bulletin_number(cli: Any, ransomware: str) -> None:
    data = cli("bulletin", "build", "--for", "bws", "--json").json()
    assert data["number"] in data["subject"] and data["subject"].startswith("[TLP:AMBER]")
