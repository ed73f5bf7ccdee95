"""Who reported an incident, when, and what stays inside the CIRT.

A citizen phones at 02:00 about a phishing wave; the analyst logs it at 08:00.  The duties
count from 02:00.  The citizen's name and number, the analysts' internal description and
their internal notes never leave: not in an export for any recipient, not in any bulletin
format, not to a partner.  The shareable summary and notes marked ``--share`` do.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cirt.incidents import INTERNAL_MARKING_ID, Reporter
from cirt.stixtime import parse_ts
from cirt.workspace import Workspace
from tests.conftest import FixedClock

CITIZEN = Reporter("Ana Pérez", "+501 600-1234", "citizen")
INTERNAL = (
    "Ana Pérez",
    "+501 600-1234",
    "caller is the branch manager's cousin",
    "ask CBB whether the teller who clicked is still on leave",
)
SHARED = ("Look-alike CBB login pages sent by SMS", "Kit hosted at 203.0.113.7, now blocked")


@pytest.fixture
def reported(ws: Workspace, clock: FixedClock) -> str:
    """Logged at 08:00 Belize time (14:00 UTC) from a phone call at 02:00 (08:00 UTC)."""
    incident = ws.incidents.open(
        title="Phishing wave against bank customers",
        category="phishing",
        severity="high",
        organisations=["cbb"],
        tlp="green",
        description=INTERNAL[2],
        summary=SHARED[0],
        reported_at=datetime(2026, 3, 10, 8, 0, tzinfo=UTC),
        occurred_at=datetime(2026, 3, 9, 22, 0, tzinfo=UTC),
        reporter=CITIZEN,
        channel="phone",
    )
    ws.incidents.note(incident.reference, INTERNAL[3])
    ws.incidents.note(incident.reference, SHARED[1], share=True)
    ws.indicators.add(
        pattern=None,
        form="ip",
        value="203.0.113.7",
        incident=incident.reference,
        tlp="green",
        name="kit host",
    )
    ws.incidents.escalate(incident.reference, level="national", reason="nation-wide customers")
    ws.sharing.add(incident.reference, orgs=["bel", "csirtamericas"], linked=True)
    return incident.reference


def test_reporter_channel_and_times_are_recorded(ws: Workspace, reported: str) -> None:
    incident = ws.incidents.get(reported)
    assert incident.reporter == {"name": "Ana Pérez", "contact": "+501 600-1234", "kind": "citizen"}
    assert incident.channel == "phone"
    assert incident.reported_at == "2026-03-10T08:00:00.000Z"
    assert incident.occurred_at == "2026-03-09T22:00:00.000Z"
    assert incident.description == INTERNAL[2] and incident.shareable_summary == SHARED[0]
    marking = incident.obj["granular_markings"]
    assert marking == [
        {
            "marking_ref": INTERNAL_MARKING_ID,
            "selectors": ["reporter", "report_channel", "internal_description"],
        }
    ]


def test_duties_count_from_reported_at_not_from_logging(ws: Workspace, reported: str) -> None:
    _, tasks = ws.tasks.list(reported)
    timed = [t for t in tasks if t.due is not None and t.level is None]
    assert timed
    for t in timed:
        assert t.due == datetime(2026, 3, 10, 8, 0, tzinfo=UTC) + t.offset, t.key


def test_internal_data_never_leaves_by_any_door(cli: Any, reported: str, tmp_path: Path) -> None:
    outputs = {}
    for org in ("cbb", "bel", "csirtamericas", "public"):
        result = cli("export", "--for", org)
        assert result.code == 0, result.err
        outputs[f"export for {org}"] = result.out
    for fmt in ("txt", "md", "html", "stix"):
        result = cli("bulletin", "build", "--for", "cbb", "--format", fmt, "--since", "50w")
        assert result.code == 0, result.err
        outputs[f"bulletin {fmt}"] = result.out
    outputs["misp"] = cli("misp", "export", "--incident", reported, "--for", "csirtamericas").out
    for where, text in outputs.items():
        for secret in INTERNAL:
            assert secret not in text, (where, secret)
        assert INTERNAL_MARKING_ID not in text, where
    assert SHARED[0] in outputs["bulletin txt"] and SHARED[1] in outputs["bulletin txt"]
    bundle = json.loads(outputs["export for cbb"])
    incident = next(o for o in bundle["objects"] if o["type"] == "incident")
    assert incident["description"] == SHARED[0]
    assert incident["reported_at"] == "2026-03-10T08:00:00.000Z"
    assert "reporter" not in incident and "granular_markings" not in incident


def test_the_cirt_itself_sees_everything(cli: Any, reported: str) -> None:
    shown = cli("incident", "show", reported).out
    for text in (
        "Ana Pérez (citizen), +501 600-1234 [internal]",
        "phone",
        "2026-03-10 02:00 CST",
        INTERNAL[2],
    ):
        assert text in shown
    history = [h["what"] for h in cli("incident", "history", reported, "--json").json()]
    assert f"internal note: {INTERNAL[3]}" in history
    assert f"shared note: {SHARED[1]}" in history


def test_open_from_the_command_line_with_local_times(cli: Any) -> None:
    opened = cli(
        "incident",
        "open",
        "--title",
        "Ransomware at BWS",
        "--category",
        "malicious-code:infected-system",
        "--severity",
        "critical",
        "--sector",
        "bws",
        "--reported-at",
        "yesterday 02:00",
        "--reporter",
        "BWS duty engineer",
        "--reporter-contact",
        "+501 222-0000",
        "--reporter-kind",
        "organisation",
        "--channel",
        "phone",
        "--json",
    )
    assert opened.code == 0, opened.err
    data = opened.json()
    assert data["reporter"]["kind"] == "organisation" and data["channel"] == "phone"
    assert parse_ts(data["reported_at"]) < parse_ts(data["created"])
    bad = cli(
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
        "--channel",
        "pigeon",
    )
    assert bad.code == 2 and "pigeon" in bad.err
    bad = cli(
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
        "--reported-at",
        "around noon",
    )
    assert bad.code == 2 and bad.err.startswith("cirt: --reported-at: 'around noon' is not a time")
    late = cli(
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
        "--reported-at",
        "1h",
        "--occurred-at",
        "2h ago",
    )
    assert late.code == 0, "a duration given for reported-at counts back from now"


def test_occurred_after_reported_or_reported_in_future_is_refused(ws: Workspace) -> None:
    from cirt.errors import InvalidValue

    now = ws.clock()
    with pytest.raises(InvalidValue, match="in the future"):
        ws.incidents.open(
            title="x",
            category="phishing",
            severity="low",
            organisations=["cbb"],
            reported_at=now + timedelta(hours=1),
        )
    with pytest.raises(InvalidValue, match="after reported-at"):
        ws.incidents.open(
            title="x",
            category="phishing",
            severity="low",
            organisations=["cbb"],
            reported_at=now - timedelta(hours=2),
            occurred_at=now - timedelta(hours=1),
        )


def test_task_due_takes_a_local_time(cli: Any) -> None:
    ref = cli(
        "incident",
        "open",
        "--title",
        "DDoS on resolvers",
        "--category",
        "ddos",
        "--severity",
        "high",
        "--sector",
        "btl",
        "--json",
    ).json()["reference"]
    added = cli("task", "add", ref, "--title", "Call the upstream", "--due", "tomorrow 09:00", "--json")
    assert added.code == 0, added.err
    assert added.json()["due_local"].endswith("09:00 CST")
