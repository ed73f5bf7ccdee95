"""Deadlines are UTC instants, elapsed time from their anchor, shown in the CIRT's time zone:
correct across midnight, across time zones and across daylight-saving changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import FixedClock

from cirt.dashboard import Deadlines
from cirt.definitions import TASK_EXTENSION_ID
from cirt.workspace import Workspace


@pytest.fixture
def open_in(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Open the workspace with a given CIRT time zone (CIRT_TIMEZONE) and a clock at ``start``."""
    opened: list[Workspace] = []

    def make(zone: str | None, start: datetime) -> tuple[Workspace, FixedClock]:
        if zone:
            monkeypatch.setenv("CIRT_TIMEZONE", zone)
        clock = FixedClock(start - timedelta(milliseconds=1))
        ws = Workspace.open(home, clock=clock)
        opened.append(ws)
        return ws, clock

    yield make
    for ws in opened:
        ws.close()


def open_phishing(ws: Workspace, orgs: tuple[str, ...] = ("cbb",)) -> Any:
    return ws.incidents.open(
        title="Phishing", category="phishing", severity="medium", organisations=list(orgs)
    )


def local_due(ws: Workspace, reference: str, key: str) -> tuple[str, str]:
    _, tasks = ws.tasks.list(reference)
    task = next(t for t in tasks if t.key == key)
    data = task.as_dict(ws.clock(), ws.tasks.zone)
    return data["due"], data["due_local"]


def test_belize_by_default_no_daylight_saving(open_in: Any) -> None:
    ws, _ = open_in(None, datetime(2026, 3, 10, 14, 0, tzinfo=UTC))  # 08:00 CST
    incident = open_phishing(ws)
    assert ws.tasks.zone.key == "America/Belize"
    assert local_due(ws, incident.reference, "phishing/central-bank") == (
        "2026-03-11T14:00:00.000Z",
        "2026-03-11 08:00 CST",
    )
    stored = ws.store.get(
        next(t.id for t in ws.tasks.list(incident.reference)[1] if t.key == "phishing/central-bank")
    )
    assert stored is not None
    assert stored.obj["extensions"][TASK_EXTENSION_ID]["due"] == "2026-03-11T14:00:00.000Z"


def test_a_deadline_across_midnight_lands_on_the_next_local_day(open_in: Any) -> None:
    ws, _ = open_in(None, datetime(2026, 3, 11, 5, 30, tzinfo=UTC))  # 23:30 CST on the 10th
    incident = open_phishing(ws)
    assert local_due(ws, incident.reference, "phishing/collect-sample") == (
        "2026-03-11T06:30:00.000Z",
        "2026-03-11 00:30 CST",
    )


def test_24_hours_across_the_spring_forward_in_new_york_is_25_on_the_wall(open_in: Any) -> None:
    # 2026-03-07 23:30 EST; clocks go from 02:00 EST to 03:00 EDT on 2026-03-08.
    ws, _ = open_in("America/New_York", datetime(2026, 3, 8, 4, 30, tzinfo=UTC))
    incident = open_phishing(ws)
    assert local_due(ws, incident.reference, "phishing/central-bank") == (
        "2026-03-09T04:30:00.000Z",
        "2026-03-09 00:30 EDT",
    )
    assert local_due(ws, incident.reference, "phishing/scope") == (
        "2026-03-08T08:30:00.000Z",
        "2026-03-08 04:30 EDT",
    )
    assert local_due(ws, incident.reference, "phishing/collect-sample") == (
        "2026-03-08T05:30:00.000Z",
        "2026-03-08 00:30 EST",
    )


def test_two_hours_across_the_fall_back_in_london(open_in: Any) -> None:
    # 2026-10-25 00:30 BST; at 02:00 BST (01:00 UTC) clocks go back to 01:00 GMT.
    ws, _ = open_in("Europe/London", datetime(2026, 10, 24, 23, 30, tzinfo=UTC))
    incident = ws.incidents.open(
        title="Defaced", category="intrusions:application-compromise", severity="low", organisations=["btl"]
    )
    assert local_due(ws, incident.reference, "defacement/maintenance-page") == (
        "2026-10-25T01:30:00.000Z",
        "2026-10-25 01:30 GMT",
    )
    assert local_due(ws, incident.reference, "defacement/capture") == (
        "2026-10-25T00:00:00.000Z",
        "2026-10-25 01:00 BST",
    )


def test_a_deadline_is_overdue_from_its_instant_and_due_soon_before(open_in: Any) -> None:
    start = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    ws, _ = open_in(None, start)
    incident = open_phishing(ws)
    due = start + timedelta(hours=24)
    deadlines = Deadlines(ws.context)

    def status(now: datetime) -> str:
        view = deadlines.overdue(now=now)
        for group, entries in (("overdue", view.overdue), ("due-soon", view.due_soon)):
            if any(e.task.key == "phishing/central-bank" for e in entries):
                return group
        return "later"

    assert status(due - timedelta(hours=24, milliseconds=1)) == "later"
    assert status(due - timedelta(milliseconds=1)) == "due-soon"
    assert status(due) == "overdue"
    late = deadlines.overdue(now=due + timedelta(days=2, hours=3))
    entry = next(e for e in late.overdue if e.task.key == "phishing/central-bank")
    assert entry.late_by == timedelta(days=2, hours=3) and entry.reference == incident.reference
    assert entry.sectors == ("financial-services",)


def test_done_and_closed_are_never_overdue(open_in: Any) -> None:
    start = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    ws, _ = open_in(None, start)
    first = open_phishing(ws)
    second = open_phishing(ws, ("btl",))
    ws.tasks.done(first.reference, "central-bank", note="reported by phone")
    for duty in ws.tasks.open_duties(second.reference):
        ws.tasks.waive(second.reference, str(duty.number), reason="false alarm")
    ws.incidents.close(second.reference, resolution="false alarm", determination="false-positive")
    view = Deadlines(ws.context).overdue(now=start + timedelta(days=30))
    keys = {(e.reference, e.task.key) for e in view.overdue}
    assert (first.reference, "phishing/central-bank") not in keys
    assert (first.reference, "phishing/scope") in keys
    assert not any(ref == second.reference for ref, _ in keys)


def test_overdue_exits_zero_unless_asked_to_fail(open_in: Any, cli: Any) -> None:
    ws, _ = open_in(None, datetime(2025, 1, 6, 15, 0, tzinfo=UTC))  # long past
    incident = open_phishing(ws)
    ws.close()
    result = cli("overdue", "--json")
    assert result.code == 0
    data = result.json()
    assert data["timezone"] == "America/Belize"
    assert {e["incident"] for e in data["overdue"]} == {incident.reference}
    central = next(e for e in data["overdue"] if e["key"] == "phishing/central-bank")
    assert central["due"] == "2025-01-07T15:00:00.000Z"
    assert central["due_local"] == "2025-01-07 09:00 CST" and central["late_minutes"] > 0
    assert cli("overdue", "--fail-on-overdue", "--json").code == 1
    text = cli("overdue", "--fail-on-overdue")
    assert text.code == 1 and "Overdue" in text.out and "Bank Supervision" in text.out


def test_overdue_with_nothing_late_passes_even_when_asked_to_fail(cli: Any) -> None:
    result = cli("overdue", "--fail-on-overdue")
    assert result.code == 0 and "nothing overdue" in result.out
    assert cli("overdue", "--within", "tomorrow").code == 1
