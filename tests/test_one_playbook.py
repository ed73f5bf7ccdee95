"""One playbook per incident, duties told once, and decisions that start only the right clock.

Ransomware at a water utility matches both the ransomware and the OT playbooks; stacked, they
gave 27 items with the PUC report, the police referral and the acknowledgement twice.  Now the
best match applies, the others are offered, and no party is given the same duty twice, by a
playbook or by an escalation level.  "Is OT affected? no" cancels the police report that only
a yes calls for, instead of starting its clock.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from cirt.errors import ConfigError, InvalidValue
from cirt.playbook_files import parse_playbook
from cirt.stixtime import parse_ts
from cirt.workspace import Workspace
from cirt.yamlfile import LocatedYaml


def _ransomware_at_bws(ws: Workspace, playbook: str | None = None) -> str:
    return ws.incidents.open(
        title="Ransomware at BWS",
        category="availability:sabotage",
        severity="critical",
        organisations=["bws"],
        playbook=playbook,
    ).reference


def _told(ws: Workspace, ref: str) -> Counter[tuple[str, str | None]]:
    _, tasks = ws.tasks.list(ref)
    return Counter((p, t.role) for t in tasks if t.kind == "duty" for p in t.parties)


def test_the_best_matching_playbook_applies_alone_and_the_others_are_offered(ws: Workspace) -> None:
    ref = _ransomware_at_bws(ws)
    incident = ws.incidents.get(ref)
    assert incident.playbook == "ransomware"
    assert "ot-incident" in ws.tasks.alternatives(incident)
    _, tasks = ws.tasks.list(ref)
    assert {t.playbook for t in tasks} == {"ransomware"}
    spec = ws.tasks.library.get("ransomware").spec
    assert len([t for t in tasks if t.kind == "task"]) == len(spec.tasks)
    told = _told(ws, ref)
    assert told[("puc", "regulator")] == 1 and told[("pitcu", "law-enforcement")] == 1
    assert told[("bws", "sector-cirt")] == 1


def test_the_analyst_chooses_another_playbook(ws: Workspace, cli: Any) -> None:
    ref = _ransomware_at_bws(ws, playbook="ot-incident")
    assert ws.incidents.get(ref).playbook == "ot-incident"
    _, tasks = ws.tasks.list(ref)
    assert {t.playbook for t in tasks} == {"ot-incident"}
    opened = cli(
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
    )
    assert opened.code == 0
    assert "playbook ransomware applied" in opened.out
    assert "also matching: ot-incident" in opened.err and "--playbook NAME" in opened.err
    assert (
        cli(
            "incident",
            "open",
            "--title",
            "x",
            "--category",
            "phishing",
            "--severity",
            "low",
            "--sector",
            "cbb",
            "--playbook",
            "nonesuch",
        ).code
        == 1
    )


def test_escalation_levels_add_no_duty_the_incident_already_has(ws: Workspace) -> None:
    ref = _ransomware_at_bws(ws, playbook="ot-incident")  # briefs the coordinator itself
    ws.incidents.escalate(ref, level="national", reason="critical infrastructure")
    ws.incidents.update(ref, add_organisations=["bel"])
    ws.incidents.escalate(ref, level="coordinator", reason="two utilities")
    _, tasks = ws.tasks.list(ref)
    keys = {t.key for t in tasks}
    repeats = {
        "escalation:national/confirm-lead",
        "escalation:coordinator/convene",
        "escalation:coordinator/inform-affected",
    }  # new messages: repeat: true
    told = Counter((p, t.role) for t in tasks if t.kind == "duty" and t.key not in repeats for p in t.parties)
    assert all(count == 1 for count in told.values()), told
    assert "escalation:national/brief-coordinator" not in keys, "ot-incident/coordinator does it"
    assert "escalation:coordinator/inform-puc" not in keys, "ot-incident/puc does it"
    assert "escalation:coordinator/convene" in keys


def test_a_no_cancels_what_only_a_yes_calls_for(ws: Workspace) -> None:
    ref = _ransomware_at_bws(ws, playbook="ot-incident")
    police = ws.tasks.find(ws.incidents.get(ref), "police")
    assert police.due is None and police.start_on == "yes"
    with pytest.raises(InvalidValue, match="is a decision: give its answer"):
        ws.tasks.done(ref, "ot-affected")
    with pytest.raises(InvalidValue, match="takes no --answer"):
        ws.tasks.done(ref, "safety", answer="yes")
    result = ws.tasks.done(ref, "ot-affected", answer="no", note="only office IT")
    assert result.task.answer == "no" and result.started == ()
    assert [t.key for t in result.not_needed] == ["ot-incident/police"]
    after = ws.tasks.find(ws.incidents.get(ref), "police")
    assert after.state == "cancelled" and after.due is None
    assert after.note == f"not needed: task {result.task.number} answered no"


def test_a_yes_starts_the_clock(ws: Workspace) -> None:
    ref = _ransomware_at_bws(ws, playbook="ot-incident")
    result = ws.tasks.done(ref, "ot-affected", answer="yes")
    assert [t.key for t in result.started] == ["ot-incident/police"]
    assert result.started[0].due is not None


def test_an_answer_names_a_decision_task(tmp_path: Any) -> None:
    text = (
        "title: T\nsummary: S\napplies_to: {categories: [fraud]}\n"
        "tasks:\n  - {id: a, phase: triage, title: A, due: 1h}\n"
        "duties:\n  - {id: d, party: pitcu, title: D, due: 1h, after: a, on_answer: yes}\n"
    )
    path = tmp_path / "t.yaml"
    path.write_text(text)
    from cirt.yamlfile import load_yaml

    located: LocatedYaml = load_yaml(path)
    with pytest.raises(ConfigError, match="on_answer"):
        parse_playbook(located)
    path.write_text(text.replace("title: A,", "title: A, decision: true,"))
    playbook = parse_playbook(load_yaml(path))
    assert playbook.spec.duties[0].on_answer == "yes"


def test_task_done_takes_the_answer_on_the_command_line(cli: Any) -> None:
    ref = cli(
        "incident",
        "open",
        "--title",
        "Card skimming",
        "--category",
        "phishing",
        "--severity",
        "medium",
        "--sector",
        "cbb",
        "--json",
    ).json()["reference"]
    refused = cli("task", "done", ref, "confirm-fraud", "--answer", "maybe")
    assert refused.code == 2
    done = cli("task", "done", ref, "confirm-fraud", "--answer", "no")
    assert done.code == 0, done.err
    assert "— no" in done.out and "not needed: Refer the confirmed fraud" in done.out


def test_switching_playbook_replaces_open_items_and_keeps_what_is_done(ws: Workspace, cli: Any) -> None:
    ref = _ransomware_at_bws(ws)
    ws.tasks.done(ref, "isolate", note="VLAN cut")
    ws.tasks.done(ref, "puc", note="PUC told by phone")
    applied = ws.tasks.switch_playbook(ref, "ot-incident")
    assert applied.incident.playbook == "ot-incident"
    _, tasks = ws.tasks.list(ref)
    by_key = {t.key: t for t in tasks}
    assert by_key["ransomware/isolate"].state == "done"
    assert by_key["ransomware/puc"].state == "done"
    assert by_key["ransomware/scope"].state == "cancelled"
    assert by_key["ransomware/scope"].note == "playbook changed to ot-incident"
    assert "ot-incident/puc" not in by_key, "PUC was already told: not a second duty"
    assert by_key["ot-incident/ot-affected"].state == "open"
    assert by_key["ot-incident/safety"].due == parse_ts(applied.incident.reported_at) + timedelta(hours=1)
    history = [h["what"] for h in cli("incident", "history", ref, "--json").json()]
    assert any(w.startswith("playbook ot-incident applied instead of ransomware") for w in history)
    again = cli("incident", "update", ref, "--playbook", "ot-incident")
    assert again.code == 1 and "already follows playbook ot-incident" in again.err
    back = cli("incident", "update", ref, "--playbook", "ransomware")
    assert back.code == 0 and "playbook ransomware applied" in back.out


def test_a_playbook_name_is_a_category_word_and_unknown_words_list_them(ws: Workspace) -> None:
    """An analyst types ``ransomware``, not ``availability:sabotage``: it opens as the first
    category its playbook handles, and that playbook applies."""
    incident = ws.incidents.open(
        title="Ransomware at BWS", category="ransomware", severity="high", organisations=["bws"]
    )
    assert incident.category == "availability:sabotage"
    assert incident.playbook == "ransomware"
    with pytest.raises(InvalidValue, match=r"or one of: .*ransomware"):
        ws.incidents.open(title="?", category="nonsense", severity="low", organisations=["bws"])
