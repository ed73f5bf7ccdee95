"""Playbooks: the shipped procedures validate, a broken file is refused in one line and harms no
other, conditions mean what they say, deadlines are elapsed time from the right moment."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import REFERENCE
from hypothesis import given
from hypothesis import strategies as st

from cirt.errors import ConfigError, NotFound
from cirt.incidents import ALL_CATEGORIES, ESCALATION_LEVELS
from cirt.playbook_conditions import FIELDS, Facts, compile_condition
from cirt.playbook_files import load_library, load_playbook
from cirt.playbook_rules import plan, plan_escalation, propose
from cirt.sectors_file import load_community
from cirt.stixtime import format_duration, parse_duration

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "playbooks"
COMMUNITY = load_community(ROOT / "sectors.yaml")
PARTIES = [COMMUNITY.national.id, *COMMUNITY.organisations, *COMMUNITY.partners]
ORGS = list(COMMUNITY.organisations)
OPENED = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)

MINIMAL = """\
title: Test procedure
summary: A procedure used by the tests.
applies_to:
  categories: [fraud:phishing]
tasks:
  - id: first
    phase: triage
    title: Do the first thing
    due: 2h
"""


def library(folder: Path = SHIPPED) -> Any:
    return load_library(folder, parties=PARTIES, organisations=ORGS)


def facts(**changes: Any) -> Facts:
    base: dict[str, Any] = {
        "severity": "medium",
        "category": "fraud:phishing",
        "organisations": frozenset({"cbb"}),
        "sectors": frozenset({"financial-services"}),
    }
    base.update(changes)
    return Facts(**base)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the shipped playbooks ---------------------------------------------------------------------


def test_every_shipped_playbook_and_the_escalation_file_validate() -> None:
    lib = library()
    assert lib.errors == []
    assert set(lib.playbooks) == {
        "phishing",
        "ransomware",
        "ddos",
        "card-fraud",
        "defacement",
        "data-breach",
        "account-compromise",
        "malware",
        "ot-incident",
        "child-protection",
    }
    assert lib.escalation.path is not None
    assert set(lib.escalation.levels) == set(ESCALATION_LEVELS)


def test_shipped_categories_are_rsit_values_of_the_reference_taxonomy() -> None:
    taxonomy = json.loads((REFERENCE / "misp-taxonomies/rsit/machinetag.json").read_text())
    rsit = {f"{p['predicate']}:{e['value']}" for p in taxonomy["values"] for e in p["entry"]}
    classes = {p["predicate"] for p in taxonomy["values"]}
    assert set(ALL_CATEGORIES) == rsit
    for playbook in library().playbooks.values():
        for category in playbook.spec.applies_to.categories:
            assert category in rsit or category in classes, (playbook.name, category)


def test_every_shipped_playbook_has_all_phases_duties_evidence_and_a_trigger() -> None:
    for playbook in library().playbooks.values():
        phases = {t.phase for t in playbook.spec.tasks}
        assert {"triage", "containment", "lessons-learned"} <= phases, playbook.name
        assert playbook.spec.duties, playbook.name
        assert playbook.spec.evidence, playbook.name
        assert playbook.triggers, playbook.name


@pytest.mark.parametrize(
    ("category", "sector", "expected"),
    [
        ("fraud:phishing", "financial-services", {"phishing"}),
        ("availability:ddos", "telecommunications", {"ddos"}),
        ("availability:sabotage", "utilities", {"ransomware", "ot-incident"}),
        ("availability:sabotage", "financial-services", {"ransomware"}),
        ("malicious-code:c2-server", "telecommunications", {"malware"}),
        ("fraud:unauthorised-use-of-resources", "financial-services", {"card-fraud"}),
        ("fraud:unauthorised-use-of-resources", "water", set()),
        ("abusive-content:violence", "emergency-services", {"child-protection"}),
        ("information-content-security:data-leak", "healthcare", {"data-breach"}),
    ],
)
def test_a_playbook_matches_by_category_or_class_and_by_sector(
    category: str, sector: str, expected: set[str]
) -> None:
    assert {p.name for p in library().matching(category, [sector])} == expected


def test_the_regulator_and_police_duties_have_the_deadlines_the_procedure_states() -> None:
    lib = library()
    items = {i.key: i for i in plan(lib.get("phishing"), facts(), OPENED)}
    central_bank = items["phishing/central-bank"]
    assert central_bank.parties == ("cbb",) and central_bank.due == OPENED + timedelta(hours=24)
    police = items["phishing/police"]
    assert police.due is None and police.after == "phishing/confirm-fraud"
    ot = {
        i.key: i
        for i in plan(
            lib.get("ot-incident"),
            facts(
                category="availability:sabotage",
                organisations=frozenset({"bel"}),
                sectors=frozenset({"utilities"}),
            ),
            OPENED,
        )
    }
    assert ot["ot-incident/puc"].parties == ("puc",)
    assert ot["ot-incident/puc"].due == OPENED + timedelta(hours=24)


def test_a_conditional_duty_is_planned_only_when_its_condition_holds() -> None:
    phishing = library().get("phishing")
    at_bank = {i.key for i in plan(phishing, facts(), OPENED)}
    at_telecom = {
        i.key
        for i in plan(
            phishing,
            facts(organisations=frozenset({"btl"}), sectors=frozenset({"telecommunications"})),
            OPENED,
        )
    }
    assert "phishing/central-bank" in at_bank and "phishing/block-cards" in at_bank
    assert "phishing/central-bank" not in at_telecom
    assert "phishing/block-cards" not in at_telecom


def test_affected_duties_go_to_every_affected_organisation() -> None:
    items = plan(library().get("phishing"), facts(organisations=frozenset({"cbb", "btl"})), OPENED)
    inform = next(i for i in items if i.key == "phishing/inform-affected")
    assert inform.parties == ("btl", "cbb")


def test_level_duties_count_from_the_escalation() -> None:
    escalated = OPENED + timedelta(days=3, hours=5)
    duties = plan_escalation(
        library().escalation, "coordinator", facts(sectors=frozenset({"financial-services"})), escalated
    )
    keys = {d.key: d for d in duties}
    assert "escalation:coordinator/inform-cbb" in keys
    assert "escalation:coordinator/inform-puc" not in keys  # no utility is affected
    assert keys["escalation:coordinator/convene"].due == escalated + timedelta(hours=4)
    assert plan_escalation(library().escalation, "sector", facts(), escalated) == []


# -- triggers ----------------------------------------------------------------------------------


def test_common_triggers_propose_national_coordinator_and_international() -> None:
    triggers = library().all_triggers([])
    assert propose(triggers, facts(severity="low", sectors=frozenset({"retail"}))) is None
    high = propose(triggers, facts(severity="high", sectors=frozenset({"retail"})))
    assert high is not None and high.level == "national"
    critical = propose(triggers, facts(severity="low", critical_infrastructure=True))
    assert critical is not None and critical.level == "national"
    two = propose(
        triggers,
        facts(severity="low", organisations=frozenset({"cbb", "btl"}), sectors=frozenset({"retail"})),
    )
    assert two is not None and two.level == "coordinator"
    abroad = propose(
        triggers, facts(foreign_infrastructure=True, severity="medium", sectors=frozenset({"retail"}))
    )
    assert abroad is not None and abroad.level == "international"


def test_only_levels_above_the_current_one_are_proposed() -> None:
    triggers = library().all_triggers([])
    assert propose(triggers, facts(severity="high", escalation_level="national")) is None
    up = propose(triggers, facts(organisations=frozenset({"cbb", "btl"}), escalation_level="national"))
    assert up is not None and up.level == "coordinator"


def test_an_update_proposes_only_what_it_made_true() -> None:
    triggers = library().all_triggers(["phishing"])
    before = facts(severity="medium")
    assert propose(triggers, facts(severity="medium"), before) is None
    second = facts(
        organisations=frozenset({"cbb", "btl"}),
        sectors=frozenset({"financial-services", "telecommunications"}),
    )
    proposal = propose(triggers, second, before)
    assert proposal is not None and proposal.level == "coordinator"
    assert [t.level for t in proposal.reasons] == ["coordinator"]


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"severity": "medium"}, True),
        ({"severity": {"at_least": "high"}}, False),
        ({"severity": {"at_most": "medium"}}, True),
        ({"severity": {"in": ["low", "medium"]}}, True),
        ({"tlp": {"at_least": "amber"}}, True),
        ({"tlp": "tlp:red"}, False),
        ({"category": "fraud"}, True),  # an RSIT class covers its types
        ({"category": "fraud:masquerade"}, False),
        ({"category": {"not_in": ["availability"]}}, True),
        ({"sectors": "financial-services"}, True),
        ({"sectors": {"contains_any": ["water", "utilities"]}}, False),
        ({"organisations": {"none_of": ["btl"]}}, True),
        ({"organisation_count": {"at_least": 2}}, False),
        ({"critical_infrastructure": False}, True),
        ({"any": [{"severity": "critical"}, {"sectors": "financial-services"}]}, True),
        ({"all": [{"severity": "medium"}, {"sector_count": 2}]}, False),
        ({"not": {"severity": "low"}}, True),
        ({"severity": "medium", "status": "closed"}, False),
    ],
)
def test_conditions_mean_what_they_say(condition: dict[str, Any], holds: bool) -> None:
    assert compile_condition(condition, organisations=ORGS).holds(facts()) is holds


def test_a_condition_describes_itself_for_the_analyst() -> None:
    condition = compile_condition(
        {"any": [{"severity": {"at_least": "high"}}, {"critical_infrastructure": True}]}
    )
    assert condition.describe() == "severity at least high or critical infrastructure"


def test_every_field_a_trigger_may_use_is_a_fact() -> None:
    for name in FIELDS:
        facts().value(name)


# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("2d", timedelta(days=2)),
        ("1w", timedelta(weeks=1)),
        ("1d12h", timedelta(hours=36)),
        ("48h", timedelta(hours=48)),
    ],
)
def test_durations(text: str, delta: timedelta) -> None:
    assert parse_duration(text) == delta


@pytest.mark.parametrize("text", ["", "0h", "4", "h", "4 hours", "-2h", "2y", "400d", "1h30s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@given(st.integers(min_value=1, max_value=365 * 24 * 60))
def test_a_duration_survives_formatting(minutes: int) -> None:
    delta = timedelta(minutes=minutes)
    assert parse_duration(format_duration(delta)) == delta


# -- broken playbooks --------------------------------------------------------------------------


BROKEN = {
    "bad-yaml": (MINIMAL + "  - id: [unclosed\n", ":11: (syntax): "),
    "unknown-key": (
        MINIMAL.replace("    due: 2h\n", "    due: 2h\n    deadline: 4h\n"),
        ":10: tasks[0].deadline: unknown key (allowed: id, phase, title",
    ),
    "unknown-field": (
        MINIMAL + "triggers:\n  - level: national\n    reason: r\n    when:\n"
        "      severity: high\n      sevrity: high\n",
        ":15: triggers[0].when.sevrity: unknown field 'sevrity' (known: severity",
    ),
    "yaml-bomb": (
        "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n" + MINIMAL,
        ":1: (syntax): anchors and aliases are not allowed",
    ),
    "wrong-type": (MINIMAL.replace("due: 2h", "due: [2h]"), ":9: tasks[0].due: '['2h']' is not a duration"),
    "unknown-phase": (
        MINIMAL.replace("phase: triage", "phase: cleanup"),
        ":7: tasks[0].phase: must be 'triage', 'containment'",
    ),
    "unknown-party": (
        MINIMAL + "duties:\n  - id: tell\n    party: fbi\n    title: Tell\n    due: 1h\n",
        ":12: duties[0].party: 'fbi' is not a party",
    ),
    "unknown-anchor": (
        MINIMAL + "duties:\n  - id: tell\n    party: pitcu\n    title: Tell\n"
        "    due: 1h\n    after: nothing\n",
        ":15: duties[0].after: 'nothing' is not a task or duty here",
    ),
    "bad-category": (
        MINIMAL.replace("fraud:phishing", "phishing"),
        ":4: applies_to.categories[0]: 'phishing' is not an RSIT category",
    ),
    "bad-operand": (
        MINIMAL + "triggers:\n  - level: national\n    reason: r\n    when:\n"
        "      severity: {at_least: severe}\n",
        ":14: triggers[0].when.severity.at_least: 'severe' is not a severity value",
    ),
    "wrong-operator": (
        MINIMAL + "triggers:\n  - level: national\n    reason: r\n    when:\n"
        "      sectors: {at_least: water}\n",
        ":14: triggers[0].when.sectors.at_least: 'at_least' does not apply",
    ),
    "not-a-mapping": ("- just\n- a list\n", ":1: (document): a playbook is a mapping"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_playbook_is_refused_in_one_line_naming_file_line_and_field(
    tmp_path: Path, name: str
) -> None:
    text, expected = BROKEN[name]
    path = write(tmp_path, f"{name}.yaml", text)
    with pytest.raises(ConfigError) as caught:
        load_playbook(path, parties=PARTIES, organisations=ORGS)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(str(path) + ":"), message
    assert expected in message, message


def test_one_broken_file_does_not_affect_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    shutil.copytree(SHIPPED, folder)
    write(folder, "zz-broken.yaml", BROKEN["unknown-field"][0])
    lib = library(folder)
    assert len(lib.playbooks) == 10
    assert [b.name for b in lib.broken] == ["zz-broken"]
    assert {p.name for p in lib.matching("fraud:phishing", ["financial-services"])} == {"phishing"}
    with pytest.raises(ConfigError, match="sevrity"):
        lib.get("zz-broken")
    with pytest.raises(NotFound, match="known: account-compromise"):
        lib.get("no-such-playbook")


def test_a_cirt_adds_its_own_playbook_by_dropping_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    shutil.copytree(SHIPPED, folder)
    write(folder, "sim-swap.yaml", MINIMAL.replace("fraud:phishing", "fraud:masquerade"))
    lib = library(folder)
    assert lib.errors == []
    assert [p.name for p in lib.matching("fraud:masquerade", ["telecommunications"])] == ["sim-swap"]


def test_a_broken_escalation_file_is_reported_and_playbooks_still_load(tmp_path: Path) -> None:
    folder = tmp_path / "playbooks"
    shutil.copytree(SHIPPED, folder)
    text = (folder / "_escalation.yaml").read_text().replace("level: national", "level: global", 1)
    (folder / "_escalation.yaml").write_text(text)
    lib = library(folder)
    assert len(lib.playbooks) == 10
    assert lib.escalation_error is not None and "triggers[0].level" in str(lib.escalation_error)
    assert lib.escalation.triggers == ()


# -- the commands ------------------------------------------------------------------------------


def test_playbook_commands_list_show_validate(cli: Any, home: Path, tmp_path: Path) -> None:
    listed = cli("playbook", "list", "--json").json()
    assert len(listed) == 10 and all(p["valid"] for p in listed)
    shown = cli("playbook", "show", "phishing", "--json").json()
    assert shown["title"] == "Phishing and credential harvesting"
    assert {d["id"] for d in shown["duty_list"]} >= {"central-bank", "police"}
    assert shown["common_triggers"][0]["condition"] == "severity at least high"
    text = cli("playbook", "show", "ot-incident")
    assert text.code == 0 and "puc (regulator)" in text.out and "Escalation triggers" in text.out
    assert cli("playbook", "validate").code == 0
    assert cli("playbook", "show", "nothing").code == 1

    broken = write(home / "playbooks", "zz-broken.yaml", BROKEN["unknown-field"][0])
    listed = cli("playbook", "list", "--json").json()
    assert [p["name"] for p in listed if not p["valid"]] == ["zz-broken"]
    assert sum(p["valid"] for p in listed) == 10
    result = cli("playbook", "validate")
    assert result.code == 1
    [line] = [x for x in result.err.splitlines() if "zz-broken" in x]
    assert f"{broken}:15: triggers[0].when.sevrity: unknown field 'sevrity'" in line
    report = cli("playbook", "validate", str(broken), "--json")
    assert report.code == 1 and report.json()["valid"] is False
    good = write(tmp_path / "elsewhere", "sim-swap.yaml", MINIMAL)
    assert cli("playbook", "validate", str(good)).code == 0
    assert cli("playbook", "validate", str(good.parent), "--json").json()["valid"] is True
    assert cli("playbook", "validate", str(tmp_path / "missing")).code == 1
