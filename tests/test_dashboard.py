"""``cirt dashboard``: open incidents by sector and severity, what is late and what is due soon."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import FixedClock

from cirt.dashboard import Deadlines
from cirt.workspace import Workspace


def scenario(ws: Workspace, clock: FixedClock) -> dict[str, str]:
    refs = {}
    refs["phish"] = ws.incidents.open(
        title="Bank phishing", category="phishing", severity="medium", organisations=["cbb"]
    ).reference
    refs["ot"] = ws.incidents.open(
        title="SCADA alarm storm",
        category="availability:sabotage",
        severity="critical",
        organisations=["bel", "bws"],
    ).reference
    refs["ddos"] = ws.incidents.open(
        title="DDoS on DNS", category="availability:ddos", severity="high", organisations=["btl"]
    ).reference
    refs["closed"] = ws.incidents.open(
        title="False alarm", category="availability:ddos", severity="low", organisations=["btl"]
    ).reference
    for duty in ws.tasks.open_duties(refs["closed"]):
        ws.tasks.waive(refs["closed"], str(duty.number), reason="false alarm")
    ws.incidents.close(refs["closed"], resolution="benign traffic", determination="false-positive")
    clock.advance(hours=3)
    return refs


def test_open_incidents_are_counted_by_sector_and_severity(ws: Workspace, clock: FixedClock) -> None:
    refs = scenario(ws, clock)
    board = Deadlines(ws.context).dashboard()
    assert board.by_sector == {
        "financial-services": {"low": 0, "medium": 1, "high": 0, "critical": 0},
        "telecommunications": {"low": 0, "medium": 0, "high": 1, "critical": 0},
        "utilities": {"low": 0, "medium": 0, "high": 0, "critical": 1},
        "water": {"low": 0, "medium": 0, "high": 0, "critical": 1},
    }
    assert [line.reference for line in board.incidents] == [refs["ot"], refs["ddos"], refs["phish"]]
    ot = board.incidents[0]
    assert ot.sectors == ("utilities", "water") and ot.overdue > 0
    assert ot.next_due is not None and ot.next_due.status == "overdue"
    assert board.waiting > 0  # e.g. the police referral waits for the fraud to be confirmed


def test_what_is_late_and_what_is_due_soon_moves_with_the_clock(ws: Workspace, clock: FixedClock) -> None:
    refs = scenario(ws, clock)
    deadlines = Deadlines(ws.context)
    now = deadlines.dashboard().due
    late_keys = {(e.reference, e.task.key) for e in now.overdue}
    assert (refs["phish"], "phishing/collect-sample") in late_keys  # due after 1h
    assert (refs["phish"], "phishing/central-bank") not in late_keys
    assert (refs["phish"], "phishing/central-bank") in {(e.reference, e.task.key) for e in now.due_soon}
    later = deadlines.dashboard(now=clock.now + timedelta(days=1))
    assert (refs["phish"], "phishing/central-bank") in {(e.reference, e.task.key) for e in later.due.overdue}
    narrow = deadlines.overdue(soon=timedelta(hours=1))
    assert all(
        e.task.due is not None and e.task.due <= narrow.now + timedelta(hours=1) for e in narrow.due_soon
    )
    assert not any(e.reference == refs["closed"] for e in later.due.overdue)


def test_dashboard_command_one_screen_and_json_for_a_scheduler(cli: Any) -> None:
    ref = cli(
        "incident",
        "open",
        "--title",
        "SCADA alarm storm",
        "--category",
        "availability:sabotage",
        "--severity",
        "critical",
        "--sector",
        "bel",
        "--json",
    ).json()["reference"]
    data = cli("dashboard", "--json").json()
    assert data["timezone"] == "America/Belize"
    assert data["by_sector"]["utilities"]["critical"] == 1
    assert [i["reference"] for i in data["open_incidents"]] == [ref]
    assert {e["incident"] for e in data["due_soon"]} == {ref}
    text = cli("dashboard", "--within", "2h")
    assert text.code == 0
    for heading in ("Open incidents by sector and severity", "Open incidents", "Due within 2h", "utilities"):
        assert heading in text.out
    assert cli("dashboard", "--fail-on-overdue").code == 0  # nothing is late yet
