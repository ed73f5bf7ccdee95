"""The analyst's incident commands, driven through the real CLI boundary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cirt.incidents import INCIDENT_CORE_ID, OUR_EXTENSION_ID
from cirt.tlp import TLP


def _open(cli: Any, *extra: str) -> dict[str, Any]:
    result = cli(
        "incident",
        "open",
        "--title",
        "Phishing against CBB customers",
        "--category",
        "phishing",
        "--severity",
        "medium",
        "--sector",
        "cbb",
        "--description",
        "Look-alike login page",
        "--json",
        *extra,
    )
    assert result.code == 0, result.err
    data: dict[str, Any] = result.json()
    return data


def _waive_duties(cli: Any, ref: str) -> None:
    for t in cli("task", "list", ref, "--json").json()["tasks"]:
        if t["kind"] == "duty" and t["state"] == "open":
            assert cli("task", "waive", ref, str(t["number"]), "--reason", "test").code == 0


def test_open_then_list_round_trips_every_field(cli: Any) -> None:
    opened = _open(cli, "--tlp", "amber+strict", "--sector", "btl")
    listed = cli("incident", "list", "--json").json()
    assert len(listed) == 1
    row = listed[0]
    for key in (
        "id",
        "reference",
        "title",
        "category",
        "severity",
        "status",
        "tlp",
        "organisations",
        "escalation_level",
        "assignee",
        "created",
        "modified",
    ):
        assert row[key] == opened[key], key
    assert opened["reference"].startswith("BZ-2026-")
    assert opened["category"] == "fraud:phishing"
    assert opened["tlp"] == "amber+strict"
    assert opened["organisations"] == ["btl", "cbb"]
    shown = cli("incident", "show", opened["reference"], "--json").json()
    assert shown["description"] == "Look-alike login page"


def test_list_filters_and_orders_newest_first(cli: Any) -> None:
    first = _open(cli)
    second = cli(
        "incident",
        "open",
        "--title",
        "DDoS on BTL",
        "--category",
        "ddos",
        "--severity",
        "high",
        "--sector",
        "btl",
        "--tlp",
        "green",
        "--json",
    ).json()
    refs = [r["reference"] for r in cli("incident", "list", "--json").json()]
    assert refs == [second["reference"], first["reference"]]
    assert [r["reference"] for r in cli("incident", "list", "--sector", "btl", "--json").json()] == [
        second["reference"]
    ]
    assert [r["reference"] for r in cli("incident", "list", "--severity", "medium", "--json").json()] == [
        first["reference"]
    ]
    assert [r["reference"] for r in cli("incident", "list", "--tlp", "green", "--json").json()] == [
        second["reference"]
    ]
    assert [
        r["reference"] for r in cli("incident", "list", "--category", "availability:ddos", "--json").json()
    ] == [second["reference"]]
    assert cli("incident", "list", "--status", "closed", "--json").json() == []


def test_escalation_and_close_show_in_history(cli: Any) -> None:
    ref = _open(cli)["reference"]
    assert (
        cli("incident", "escalate", ref, "--to", "national", "--reason", "nation-wide bank customers").code
        == 0
    )
    _waive_duties(cli, ref)
    assert cli("incident", "close", ref, "--resolution", "site taken down").code == 0
    history = cli("incident", "history", ref, "--json").json()
    whats = [h["what"] for h in history]
    assert whats[0] == "opened"
    assert any(w.startswith("escalated to national: nation-wide bank customers") for w in whats)
    assert any(w.startswith("closed: site taken down") for w in whats)
    assert all(h["by"] == "tester" for h in history)
    text = cli("incident", "history", ref)
    assert "escalated to national" in text.out


def test_escalation_moves_upward_only_unless_de_escalated_with_a_reason(cli: Any) -> None:
    ref = _open(cli)["reference"]
    assert cli("incident", "escalate", ref, "--to", "coordinator", "--reason", "r").code == 0
    down = cli("incident", "escalate", ref, "--to", "national", "--reason", "r")
    assert down.code == 1 and "--de-escalate" in down.err
    ok = cli(
        "incident", "escalate", ref, "--to", "national", "--reason", "contained", "--de-escalate", "--json"
    )
    assert ok.code == 0 and ok.json()["escalation_level"] == "national"


def test_each_change_is_a_new_version_and_nothing_is_lost(cli: Any, ws: Any) -> None:
    ref = _open(cli)["reference"]
    cli("incident", "update", ref, "--severity", "high", "--sector", "bel")
    cli("incident", "assign", ref, "maria")
    _waive_duties(cli, ref)
    cli("incident", "close", ref, "--resolution", "done")
    cli("incident", "reopen", ref, "--reason", "new victims")
    incident = ws.incidents.get(ref)
    versions = ws.store.history(incident.id)
    assert len(versions) == 5
    modified = [v.modified for v in versions]
    assert modified == sorted(modified) and len(set(modified)) == 5
    assert versions[0].obj["extensions"][OUR_EXTENSION_ID]["severity"] == "medium"
    assert incident.status == "open" and incident.organisations == ("bel", "cbb")


def test_note_is_a_stix_note_linked_to_the_incident(cli: Any) -> None:
    ref = _open(cli)["reference"]
    note = cli("incident", "note", ref, "Takedown requested", "--json").json()
    assert note["type"] == "note" and note["content"] == "Takedown requested"
    shown = cli("incident", "show", ref, "--json").json()
    assert [o["id"] for o in shown["linked"]] == [note["id"]]


def test_the_incident_carries_the_incident_core_extension(cli: Any) -> None:
    stix = cli("incident", "show", _open(cli)["reference"], "--json").json()["stix"]
    core = stix["extensions"][INCIDENT_CORE_ID]
    assert core["extension_type"] == "property-extension"
    assert core["investigation_status"] == "new" and core["determination"] == "suspected"
    assert stix["object_marking_refs"] == [TLP.AMBER.marking_id]


@pytest.mark.parametrize(
    "args,message",
    [
        (("incident", "show", "BZ-2026-9999"), "no incident 'BZ-2026-9999'"),
        (
            (
                "incident",
                "open",
                "--title",
                "t",
                "--category",
                "nonsense",
                "--severity",
                "high",
                "--sector",
                "cbb",
            ),
            "'nonsense' is not an RSIT category",
        ),
        (
            (
                "incident",
                "open",
                "--title",
                "t",
                "--category",
                "phishing",
                "--severity",
                "high",
                "--sector",
                "energy",
            ),
            "organisation 'energy' is not in",
        ),
        (("indicator", "add", "--pattern", "[ipv4-addr:value = '1.2.3.4'"), "invalid STIX pattern"),
        (("indicator", "add", "--ip", "999.1.1.1"), "is not an IP address"),
    ],
)
def test_errors_are_one_line_and_exit_1(cli: Any, args: tuple[str, ...], message: str) -> None:
    result = cli(*args)
    assert result.code == 1
    assert message in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


@pytest.mark.parametrize(
    "args,message",
    [
        (
            (
                "incident",
                "open",
                "--title",
                "t",
                "--category",
                "phishing",
                "--severity",
                "high",
                "--sector",
                "cbb",
                "--tlp",
                "purple",
            ),
            "'purple' is not a TLP label",
        ),
        (
            (
                "incident",
                "open",
                "--title",
                "t",
                "--category",
                "phishing",
                "--severity",
                "urgent",
                "--sector",
                "cbb",
            ),
            "'urgent' is not one of 'low', 'medium', 'high', 'critical'",
        ),
        (
            ("incident", "escalate", "BZ-2026-0001", "--to", "galactic", "--reason", "r"),
            "'galactic' is not one of",
        ),
        (("task", "add", "BZ-2026-0001", "--title", "t", "--phase", "later"), "'later' is not one"),
        (("bulletin", "build", "--for", "cbb", "--since", "forever"), "'forever' is not a period"),
        (("bulletin", "build", "--for", "cbb", "--format", "pdf"), "'pdf' is not one of"),
    ],
)
def test_invalid_option_values_exit_2(cli: Any, args: tuple[str, ...], message: str) -> None:
    result = cli(*args)
    assert result.code == 2, result.err
    assert message in " ".join(result.err.split()) and "Traceback" not in result.err


def test_usage_errors_exit_2(cli: Any) -> None:
    assert cli("incident", "open", "--title", "only a title").code == 2
    assert cli("indicator", "add", "--ip", "192.0.2.1", "--domain", "x.example").code == 2


def test_a_missing_workspace_says_how_to_create_one(cli: Any, tmp_path: Path) -> None:
    result = cli("--home", str(tmp_path / "nowhere"), "incident", "list")
    assert result.code == 1 and "run 'cirt init'" in result.err


@pytest.mark.parametrize(
    "flag,value,pattern",
    [
        ("--ip", "203.0.113.45", "[ipv4-addr:value = '203.0.113.45']"),
        ("--ip", "2001:db8::1", "[ipv6-addr:value = '2001:db8::1']"),
        ("--ip", "198.51.100.0/24", "[ipv4-addr:value = '198.51.100.0/24']"),
        ("--domain", "Evil.Example.", "[domain-name:value = 'evil.example']"),
        ("--url", "http://x.example/it's\\here", "[url:value = 'http://x.example/it\\'s\\\\here']"),
        ("--sha256", "A" * 64, "[file:hashes.'SHA-256' = '" + "a" * 64 + "']"),
        ("--md5", "b" * 32, "[file:hashes.MD5 = '" + "b" * 32 + "']"),
        ("--email", "boss@ceo-fraud.example", "[email-addr:value = 'boss@ceo-fraud.example']"),
    ],
)
def test_quick_forms_build_correct_patterns(cli: Any, flag: str, value: str, pattern: str) -> None:
    result = cli("indicator", "add", flag, value, "--json")
    assert result.code == 0, result.err
    assert result.json()["pattern"] == pattern


def test_an_indicator_on_an_incident_takes_its_tlp_and_is_listed(cli: Any) -> None:
    ref = _open(cli, "--tlp", "red")["reference"]
    indicator = cli("indicator", "add", "--incident", ref, "--domain", "x.example", "--json").json()
    assert indicator["object_marking_refs"] == [TLP.RED.marking_id]
    listed = cli("indicator", "list", "--incident", ref, "--json").json()["objects"]
    assert [i["id"] for i in listed] == [indicator["id"]]
    assert cli("indicator", "list", "--json").json()["total"] == 1
    assert listed[0] == indicator


def test_a_change_based_on_an_old_version_is_a_conflict(ws: Any) -> None:
    from cirt.errors import ConflictError

    incident = ws.incidents.open(title="t", category="phishing", severity="low", organisations=["cbb"])
    ws.incidents.update(incident.reference, severity="high")
    with pytest.raises(ConflictError, match=r"was changed by tester .*updated severity"):
        ws.incidents.escalate(incident.reference, level="national", reason="r", if_version=incident.modified)
    assert ws.incidents.get(incident.reference).escalation_level == "sector"


def test_if_version_on_the_command_line_reports_a_conflict(cli: Any) -> None:
    opened = _open(cli)
    cli("incident", "update", opened["reference"], "--severity", "high")
    stale = cli(
        "incident",
        "escalate",
        opened["reference"],
        "--to",
        "national",
        "--reason",
        "r",
        "--if-version",
        opened["modified"],
    )
    assert stale.code == 1 and "show it again and retry" in stale.err
