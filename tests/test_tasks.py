"""Opening an incident applies its playbooks: tasks and duties become STIX task objects with
deadlines; completing, adding, updating and escalating keep them right."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import cache
from typing import Any

import pytest
from conftest import REFERENCE, FixedClock
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from stix2validator import ValidationOptions, validate_instance

from cirt.definitions import TASK_CORE_ID, TASK_EXTENSION_ID
from cirt.errors import InvalidValue, NotFound
from cirt.incidents import INCIDENT_CORE_ID
from cirt.stixtime import parse_ts
from cirt.tlp import TLP
from cirt.workspace import Workspace

SCHEMA_PREFIXES = (
    "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/",
    "https://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/",
)


@cache
def task_schema() -> Draft202012Validator:
    """The OASIS task extension schema, its $refs served from the reference copies (offline)."""
    base = REFERENCE / "stix2-json-schemas"
    resources = []
    for path in base.rglob("*.json"):
        contents = json.loads(path.read_text())
        rel = path.relative_to(base).as_posix()
        resource = DRAFT202012.create_resource(contents)
        resources += [(prefix + rel, resource) for prefix in SCHEMA_PREFIXES]
    registry = Registry().with_resources(resources)
    schema = json.loads(
        (REFERENCE / f"stix-common-objects/incident-ef7/task/{TASK_CORE_ID}.schema.json").read_text()
    )
    return Draft202012Validator(schema, registry=registry)


def open_phishing(ws: Workspace, orgs: list[str] | None = None, severity: str = "medium") -> Any:
    return ws.incidents.open(
        title="Phishing imitating online banking",
        category="phishing",
        severity=severity,
        organisations=orgs or ["cbb"],
        tlp="amber",
    )


def test_opening_applies_the_playbook_in_the_first_version(ws: Workspace, clock: FixedClock) -> None:
    incident = open_phishing(ws)
    assert len(ws.store.history(incident.id)) == 1
    _, tasks = ws.tasks.list(incident.reference)
    refs = [r["task_ref"] for r in incident.obj["extensions"][INCIDENT_CORE_ID]["tasks"]]
    assert refs == [t.id for t in tasks] and len(tasks) == 15
    opened = parse_ts(incident.created)
    for view in tasks:
        obj = ws.store.get(view.id).obj  # type: ignore[union-attr]
        errors = [e.message for e in task_schema().iter_errors(obj)]
        assert errors == [], (view.key, errors)
        report = validate_instance(obj, ValidationOptions(version="2.1"))
        assert report.is_valid, [str(e) for e in report.errors]
        ours = obj["extensions"][TASK_EXTENSION_ID]
        assert ours["incident_ref"] == incident.id and obj["outcome"] == "pending"
        assert obj["object_marking_refs"] == [TLP.AMBER.marking_id]
        assert set(ws.store.audience_of(view.id)["org"]) == {"cbb", "cirt-bz"}
        if view.due is not None:
            assert view.due == opened + view.offset
    central_bank = next(t for t in tasks if t.key == "phishing/central-bank")
    assert central_bank.kind == "duty" and central_bank.parties == ("cbb",)
    assert central_bank.due == opened + timedelta(hours=24)


ONE_PER_PLAYBOOK = [
    ("phishing", "fraud:phishing", "btl"),
    ("ransomware", "availability:sabotage", "cbb"),
    ("ddos", "availability:ddos", "speednet"),
    ("card-fraud", "fraud:unauthorised-use-of-resources", "cbb"),
    ("defacement", "information-content-security:unauthorised-information-modification", "bws"),
    ("data-breach", "information-content-security:data-leak", "cbb"),
    ("account-compromise", "intrusions:privileged-account-compromise", "btl"),
    ("malware", "malicious-code:infected-system", "cbb"),
    ("ot-incident", "intrusions:system-compromise", "bel"),
    ("child-protection", "abusive-content:violence", "btl"),
]


@pytest.mark.sqlite_only
@pytest.mark.parametrize(("playbook", "category", "org"), ONE_PER_PLAYBOOK)
def test_every_shipped_playbook_opens_an_incident(
    ws: Workspace, playbook: str, category: str, org: str
) -> None:
    incident = ws.incidents.open(
        title=f"{playbook} test", category=category, severity="high", organisations=[org]
    )
    _, tasks = ws.tasks.list(incident.reference)
    spec = ws.tasks.library.get(playbook).spec
    mine = {t.key for t in tasks if t.playbook == playbook}
    assert {f"{playbook}/{t.id}" for t in spec.tasks if t.when is None} <= mine
    assert any(t.kind == "duty" for t in tasks if t.playbook == playbook)


def test_done_records_who_and_when_and_starts_the_clock_of_what_waits(
    ws: Workspace, clock: FixedClock
) -> None:
    incident = open_phishing(ws)
    clock.advance(hours=5)
    result = ws.tasks.done(
        incident.reference, "confirm-fraud", note="customers lost BZD 40,000", answer="yes"
    )
    assert result.task.state == "done" and result.task.done_by == "tester"
    assert result.task.note == "customers lost BZD 40,000"
    [police] = result.started
    assert police.key == "phishing/police" and police.parties == ("pitcu",)
    assert result.task.done_at is not None
    assert police.due == result.task.done_at + timedelta(hours=24)
    versions = ws.store.history(result.task.id)
    assert [v.obj["outcome"] for v in versions] == ["pending", "successful"]
    with pytest.raises(InvalidValue, match="already done"):
        ws.tasks.done(incident.reference, str(result.task.number))
    history = [(h.kind, h.by, h.what) for h in ws.incidents.history(incident.reference)]
    assert (
        "task",
        "tester",
        f"task {result.task.number} done: {result.task.title} — customers lost BZD 40,000",
    ) in history


def test_a_task_is_found_by_number_key_or_id_and_ambiguity_is_refused(ws: Workspace) -> None:
    incident = open_phishing(ws, ["cbb", "btl"])
    _, tasks = ws.tasks.list(incident.reference)
    first = tasks[0]
    assert ws.tasks.find(incident, "1") == first
    assert ws.tasks.find(incident, first.key) == first
    assert ws.tasks.find(incident, first.id) == first
    with pytest.raises(NotFound, match="no task 'nothing'"):
        ws.tasks.find(incident, "nothing")


def test_an_own_task_is_due_from_now(ws: Workspace, clock: FixedClock) -> None:
    incident = open_phishing(ws)
    clock.advance(days=2)
    added = ws.tasks.add(
        incident.reference, title="Call the hosting provider", due=timedelta(hours=4), phase="containment"
    )
    assert added.owner == "tester" and added.due is not None
    assert abs(added.due - (clock.now + timedelta(hours=4))) < timedelta(seconds=1)
    latest = ws.incidents.get(incident.reference)
    refs = [r["task_ref"] for r in latest.obj["extensions"][INCIDENT_CORE_ID]["tasks"]]
    assert refs[-1] == added.id and len(refs) == 16
    with pytest.raises(InvalidValue, match="not a phase"):
        ws.tasks.add(incident.reference, title="x", phase="cleanup")


def test_an_update_adds_what_now_applies_and_proposes_the_escalation(
    ws: Workspace, clock: FixedClock
) -> None:
    incident = ws.incidents.open(
        title="Phishing against telecom customers",
        category="phishing",
        severity="low",
        organisations=["speednet"],
    )
    _, before_tasks = ws.tasks.list(incident.reference)
    assert "phishing/central-bank" not in {t.key for t in before_tasks}
    clock.advance(days=1)
    before = ws.incidents.get(incident.reference)
    after = ws.incidents.update(incident.reference, add_organisations=["cbb"])
    _, tasks = ws.tasks.list(incident.reference)
    central_bank = next(t for t in tasks if t.key == "phishing/central-bank")
    assert central_bank.due is not None
    assert abs(central_bank.due - (clock.now + timedelta(hours=24))) < timedelta(seconds=1)
    acknowledge = next(t for t in tasks if t.key == "phishing/inform-affected@cbb")
    assert acknowledge.parties == ("cbb",) and acknowledge.due is not None
    assert abs(acknowledge.due - (clock.now + timedelta(hours=1))) < timedelta(seconds=1)
    assert [t.parties for t in tasks if t.key == "phishing/inform-affected"] == [("speednet",)]
    proposal = ws.tasks.proposal(after, before)
    assert proposal is not None and proposal.level == "coordinator"
    assert {t.level for t in proposal.reasons} == {"coordinator"}  # national held before
    assert set(ws.store.audience_of(central_bank.id)["org"]) >= {"cbb", "speednet"}
    assert set(ws.store.audience_of(before_tasks[0].id)["org"]) >= {"cbb", "speednet"}


def test_raising_severity_proposes_national(ws: Workspace) -> None:
    incident = ws.incidents.open(
        title="Defaced site",
        severity="medium",
        organisations=["btl"],
        category="intrusions:application-compromise",
    )
    before = ws.incidents.get(incident.reference)
    unchanged = ws.incidents.update(incident.reference, title="Defaced shop site")
    assert ws.tasks.proposal(unchanged, before) is None
    before = unchanged
    raised = ws.incidents.update(incident.reference, severity="high")
    proposal = ws.tasks.proposal(raised, before)
    assert proposal is not None and proposal.level == "national"
    assert [t.reason for t in proposal.reasons] == ["Severity is high or critical"]


def test_escalation_creates_the_level_duties_counted_from_the_escalation(
    ws: Workspace, clock: FixedClock
) -> None:
    incident = open_phishing(ws, ["cbb", "bel"])
    clock.advance(hours=30)
    escalated = ws.incidents.escalate(incident.reference, level="coordinator", reason="two sectors")
    _, tasks = ws.tasks.list(incident.reference)
    duties = {t.key: t for t in tasks if t.level == "coordinator"}
    # The phishing playbook already reports to the central bank's regulator contact: the
    # level's duty to the same party and role is not added a second time.
    assert set(duties) == {
        "escalation:coordinator/convene",
        "escalation:coordinator/inform-affected",
        "escalation:coordinator/inform-puc",
    }
    at = parse_ts(escalated.escalations[-1]["at"])
    assert duties["escalation:coordinator/convene"].due == at + timedelta(hours=4)
    assert duties["escalation:coordinator/inform-affected"].parties == ("bel", "cbb")
    triggers = {t.reason for t in ws.tasks.holding(escalated)}
    assert "More than one organisation or sector is affected" in triggers
    ws.incidents.escalate(incident.reference, level="national", reason="contained", de_escalate=True)
    _, after = ws.tasks.list(incident.reference)
    assert not [t for t in after if t.level == "national"]


def test_an_indicator_abroad_makes_the_incident_international(ws: Workspace) -> None:
    incident = open_phishing(ws)
    assert ws.tasks.facts(incident).foreign_infrastructure is False
    ws.indicators.add(form="ip", value="192.0.2.10", incident=incident.reference)  # CBB's own
    assert ws.tasks.facts(incident).foreign_infrastructure is False
    ws.indicators.add(form="url", value="https://login-centralbank.example/x", incident=incident.reference)
    facts = ws.tasks.facts(incident)
    assert facts.foreign_infrastructure is True and facts.critical_infrastructure is True
    assert "international" in {t.level for t in ws.tasks.holding(incident)}


def test_an_indicator_in_a_partners_constituency_proposes_telling_that_partner(ws: Workspace) -> None:
    incident = open_phishing(ws)
    assert ws.tasks.facts(incident).partner_constituency is False
    assert ws.community.partners_concerned_by("2001:db8:1234::7") == ["lacnic-warp"]
    ws.indicators.add(form="ip", value="2001:db8:1234::7", incident=incident.reference)
    holding = {t.reason: t.level for t in ws.tasks.holding(incident)}
    assert (
        holding["An indicator falls in a partner's constituency; that partner must be told"]
        == "international"
    )


@pytest.mark.sqlite_only
def test_a_broken_playbook_in_the_workspace_does_not_stop_the_others(ws: Workspace) -> None:
    (ws.config.playbooks_path / "zz-broken.yaml").write_text("title: [unclosed\n")
    incident = open_phishing(ws)
    _, tasks = ws.tasks.list(incident.reference)
    assert {t.playbook for t in tasks} == {"phishing"}


def test_task_commands(cli: Any) -> None:
    ref = cli(
        "incident",
        "open",
        "--title",
        "Phish",
        "--category",
        "phishing",
        "--severity",
        "medium",
        "--sector",
        "cbb",
        "--json",
    ).json()["reference"]
    listed = cli("task", "list", ref, "--json").json()
    assert listed["timezone"] == "America/Belize" and len(listed["tasks"]) == 15
    done = cli(
        "task", "done", ref, "confirm-fraud", "--answer", "yes", "--note", "confirmed", "--json"
    ).json()
    assert done["task"]["state"] == "done" and done["started"][0]["key"] == "phishing/police"
    added = cli(
        "task", "add", ref, "--title", "Brief the minister", "--due", "6h", "--phase", "triage", "--json"
    ).json()
    assert added["number"] == 16 and added["offset"] == "6h"
    bad = cli("task", "add", ref, "--title", "x", "--due", "soon")
    assert bad.code == 2 and bad.err.count("\n") == 1 and "is not a time: give a duration" in bad.err
    text = cli("task", "list", ref)
    assert text.code == 0 and "Bank Supervision" in text.out and "waiting" not in text.out
    missing = cli("task", "done", ref, "99")
    assert missing.code == 1 and "no task '99'" in missing.err
    cancelled = cli("task", "cancel", ref, "block-cards", "--note", "no card data entered", "--json").json()
    assert cancelled["task"]["state"] == "cancelled"


def test_tasks_follow_the_incident_tlp(ws: Workspace) -> None:
    incident = open_phishing(ws)
    ws.sharing.lower_marking(incident.reference, "green", "contained; safe to share")
    _, tasks = ws.tasks.list(incident.reference)
    for view in tasks:
        stored = ws.store.get(view.id)
        assert stored is not None and stored.tlp == int(TLP.GREEN)
        assert stored.obj["object_marking_refs"] == [TLP.GREEN.marking_id]
        assert len(ws.store.history(view.id)) == 2


@pytest.mark.sqlite_only
def test_the_demo_chapter_shows_a_deadline_passing_and_an_escalation_proposed(ws: Workspace) -> None:
    from cirt.demo import phishing_chapter
    from cirt.demos.playbooks import run_chapter

    lines: list[str] = []
    reference = phishing_chapter(ws, lambda _: None)
    run_chapter(ws, lines.append, reference)
    text = "\n".join(lines)
    assert "applied the playbook(s) phishing" in text
    assert "OVERDUE by    1h: #14 tell cbb: Report to Bank Supervision" in text
    assert "Proposed: escalate BZ-2026-0001 to coordinator" in text
    assert "coordinator duty" in text
