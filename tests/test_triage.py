"""Triage: a report becomes a new incident (its playbook applied) or joins one; its attachments
become evidence and its candidates indicators through the one ingest door (validated, routed);
rejections keep their reason; nothing of the reporter reaches the STIX record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cirt.demos.intake import run_chapter
from cirt.intake.files import attachment
from cirt.intake.reports import submission
from cirt.store.incidents import IncidentFilter
from cirt.workspace import Workspace

PNG = b"\x89PNG\r\n\x1a\n" + bytes(300)


def report(ws: Workspace, **fields: Any) -> str:
    values: dict[str, Any] = {
        "channel": "web",
        "category": "phishing",
        "what": "SMS: your BEL bill is overdue, pay at hxxps://pay.bel.com.bz[.]evil.example/x "
        "— the page loads from 192.0.2.80",
        "reporter_name": "Ana Pop",
        "reporter_contact": "+501 600 1234",
        "files": (attachment("sms.png", "image/png", PNG),),
        "indicators": (("url", "https://pay.bel.com.bz.evil.example/x"), ("ip", "192.0.2.80")),
    }
    values.update(fields)
    return ws.intake.submit(submission(**values)).reference


def test_accepting_opens_an_incident_with_playbook_evidence_and_routed_indicators(
    cli: Any, ws: Workspace, home: Path
) -> None:
    reference = report(ws)
    listed = cli("triage", "list", "--json").json()
    assert [r["reference"] for r in listed] == [reference] and "what" not in listed[0]

    accepted = cli("triage", "accept", reference, "--severity", "high", "--json")
    assert accepted.code == 0, accepted.err
    done = accepted.json()
    assert done["new_incident"] is True and done["indicators"] == 2 and done["evidence"] == 1
    incident = done["incident"]
    shown = cli("incident", "show", incident, "--json").json()
    text = json.dumps(shown)
    assert "fraud:phishing" in text
    assert shown["reporter"] == {"name": "Ana Pop", "contact": "+501 600 1234", "kind": "citizen"}
    assert shown["channel"] == "web" and shown["reported_at"].startswith("2026-03-10T14:00")
    exported = cli("export", "--for", "bel")
    assert exported.code == 0, exported.err
    for private in ("Ana Pop", "600 1234", "SMS: your BEL bill"):  # reporter, internal text
        assert private not in exported.out
    assert cli("task", "list", incident, "--json").json(), "the phishing playbook's tasks"
    evidence = cli("evidence", "list", incident, "--json").json()
    assert [e["name"] for e in evidence] == ["sms.png"]
    # the IP is in BEL's declared range: BEL is affected and a notification is routed to it
    assert "bel" in text
    routes = cli("route", "list", "--for", "bel", "--json").json()
    assert [(r["value"], r["source"]) for r in routes] == [("192.0.2.80", f"intake:{reference}")]
    row = cli("triage", "show", reference, "--json").json()
    assert row["state"] == "accepted" and row["incident"] == incident
    again = cli("triage", "accept", reference)
    assert again.code == 1 and "was already accepted" in again.err


def test_a_report_joins_an_existing_incident_and_a_rejection_keeps_its_reason(
    cli: Any, ws: Workspace
) -> None:
    first, second, third = (
        report(ws),
        report(ws, files=()),
        report(ws, category="other", files=(), indicators=()),
    )
    wrong = cli("triage", "accept", first, "--category", "nonsense")
    assert wrong.code == 1 and "'nonsense' is not an RSIT category" in wrong.err
    opened = cli("triage", "accept", first, "--category", "malicious-code:infected-system", "--json").json()[
        "incident"
    ]
    assert "malicious-code:infected-system" in cli("incident", "show", opened, "--json").out
    joined = cli("triage", "accept", second, "--into", opened, "--json")
    assert joined.code == 0, joined.err
    assert joined.json()["new_incident"] is False and joined.json()["incident"] == opened
    assert len(cli("incident", "list", "--json").json()) == 1

    no_reason = cli("triage", "reject", third, "--reason", "  ")
    assert no_reason.code == 1 and "needs a reason" in no_reason.err
    rejected = cli("triage", "reject", third, "--reason", "spam", "--json").json()
    assert rejected["state"] == "rejected" and rejected["reason"] == "spam"
    assert [r["reference"] for r in cli("triage", "list", "--state", "rejected", "--json").json()] == [third]
    assert cli("triage", "accept", third).code == 1


def test_hostile_text_is_shown_as_text_in_the_terminal(cli: Any, ws: Workspace) -> None:
    reference = report(ws, what="[bold red]ALERT[/] <script>x</script>", files=(), indicators=())
    shown = cli("triage", "show", reference)
    assert shown.code == 0 and "[bold red]ALERT[/]" in shown.out and "<script>x</script>" in shown.out


def test_unknown_reports_and_incidents_are_one_line(cli: Any, ws: Workspace) -> None:
    missing = cli("triage", "show", "R-NOPE")
    assert missing.code == 1 and missing.err.startswith("cirt: no report 'R-NOPE'")
    reference = report(ws, files=(), indicators=())
    nobody = cli("triage", "accept", reference)
    assert nobody.code == 1 and "names no organisation's declared assets" in nobody.err
    into = cli("triage", "accept", reference, "--into", "BZ-1999-0001")
    assert into.code == 1 and "no incident 'BZ-1999-0001'" in into.err
    assert cli("triage", "show", reference, "--json").json()["state"] == "new"


def test_the_demo_chapter_accepts_a_web_report_and_routes_a_partner_indicator_to_bel(ws: Workspace) -> None:
    lines: list[str] = []
    run_chapter(ws, lines.append)
    story = "\n".join(lines)
    assert "status 'new'" in story and "status page now says 'accepted'" in story
    assert "routed to bel: 192.0.2.70 is in 192.0.2.64/26" in story
    assert "seen 2 times, still one notification (sent" in story
    [incident] = ws.incidents.list(IncidentFilter())
    assert ws.incidents.get(incident.reference).reporter["contact"] == "ciudadana@example.org"
    to_bank = ws.sharing.decide([incident.id, *ws.store.linked(incident.id)], "org:cbb")
    assert to_bank.released and "ciudadana" not in json.dumps([r.obj for r in to_bank.released])
    assert any(e.recipient == "org:bel" for e in ws.audit.entries())
