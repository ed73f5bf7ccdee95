"""``cirt report``: every figure checked against a fixture built by hand, on both engines."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cirt.errors import InvalidValue
from cirt.report import Reporter, duration_of, parse_period
from cirt.workspace import Workspace
from tests.conftest import FixedClock

# (id, orgs, category, severity, escalation, created, acknowledged, closed, reporter, channel)
INCIDENTS = [
    (
        "i1",
        ["cbb"],
        "fraud:phishing",
        "high",
        "national",
        "2026-11-02T10:00:00.000Z",
        "2026-11-02T11:00:00.000Z",
        "2026-11-02T20:00:00.000Z",
        "citizen",
        "web-form",
    ),
    (
        "i2",
        ["btl"],
        "availability:ddos",
        "critical",
        "sector",
        "2026-11-05T00:00:00.000Z",
        "2026-11-05T03:00:00.000Z",
        None,
        None,
        None,
    ),
    (
        "i3",
        ["cbb", "bel"],
        "fraud:phishing",
        "medium",
        "coordinator",
        "2026-11-10T12:00:00.000Z",
        "2026-11-10T14:00:00.000Z",
        "2026-11-12T14:00:00.000Z",
        None,
        None,
    ),
    (
        "i4",
        ["bws"],
        "malicious-code:infected-system",
        "low",
        "sector",
        "2026-11-20T00:00:00.000Z",
        None,
        None,
        "<script>organisation",
        "email",
    ),
    (
        "i5",
        ["cbb"],
        "fraud:phishing",
        "low",
        "sector",
        "2026-12-01T00:00:00.000Z",
        None,
        None,
        None,
        None,
    ),  # the next month: not counted
    (
        "p1",
        ["cbb"],
        "fraud:phishing",
        "high",
        "sector",
        "2026-10-15T00:00:00.000Z",
        "2026-10-15T01:00:00.000Z",
        None,
        None,
        None,
    ),
    (
        "p2",
        ["btl"],
        "availability:ddos",
        "medium",
        "sector",
        "2026-10-31T23:59:59.999Z",
        None,
        None,
        None,
        None,
    ),
]
# (incident, kind, phase, state, due, done_at)
DUE_ITEMS = [
    ("i1", "task", "containment", "done", "2026-11-02T12:00:00.000Z", "2026-11-02T14:00:00.000Z"),
    ("i1", "task", "containment", "done", "2026-11-02T12:00:00.000Z", "2026-11-02T16:00:00.000Z"),
    ("i1", "task", "triage", "open", "2026-11-02T12:00:00.000Z", None),  # not containment
    ("i1", "duty", "notification", "done", "2026-11-02T11:00:00.000Z", "2026-11-02T10:30:00.000Z"),  # on time
    ("i1", "duty", "notification", "done", "2026-11-03T10:00:00.000Z", "2026-11-03T16:00:00.000Z"),  # late
    ("i2", "task", "containment", "done", "2026-11-05T01:00:00.000Z", "2026-11-05T02:00:00.000Z"),
    ("i2", "task", "containment", "open", "2026-11-05T01:00:00.000Z", None),  # not contained
    (
        "i2",
        "duty",
        "notification",
        "waived",
        "2026-11-05T01:00:00.000Z",
        "2026-11-05T00:30:00.000Z",
    ),  # waived
    ("i2", "duty", "notification", "open", "2026-11-05T01:00:00.000Z", None),  # overdue: late
    ("i3", "task", "containment", "done", "2026-11-10T13:00:00.000Z", "2026-11-10T20:00:00.000Z"),
    ("i3", "task", "containment", "cancelled", None, "2026-11-10T13:00:00.000Z"),
    ("i3", "duty", "notification", "open", None, None),  # its clock has not started: pending
    ("i3", "duty", "notification", "open", "2027-01-01T00:00:00.000Z", None),  # pending
    (
        "p1",
        "duty",
        "notification",
        "done",
        "2026-10-15T01:00:00.000Z",
        "2026-10-16T00:00:00.000Z",
    ),  # the previous month: not counted
]
# (sighting, indicator, count, seen)
SIGHTINGS = [
    ("s1", "indicator--x", 5, "2026-11-03T00:00:00.000Z"),
    ("s2", "indicator--x", 2, "2026-11-04T00:00:00.000Z"),
    ("s3", "indicator--y", 6, "2026-11-10T00:00:00.000Z"),
    ("s4", "indicator--z", 100, "2026-10-30T00:00:00.000Z"),  # previous month
]


@pytest.fixture
def fixture_ws(ws: Workspace, clock: FixedClock) -> Workspace:
    """The hand-built month, written straight into the indexes the report reads."""
    clock.now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    db = ws.store.db
    with ws.store.transaction():
        for (
            incident_id,
            orgs,
            category,
            severity,
            escalation,
            created,
            acked,
            closed,
            reporter,
            channel,
        ) in INCIDENTS:
            db.execute(
                "INSERT INTO incidents (id, reference, title, status, severity, category,"
                " tlp, escalation, assignee, created, modified) VALUES"
                " (?, ?, ?, ?, ?, ?, 2, ?, NULL, ?, ?)",
                (
                    incident_id,
                    f"BZ-{incident_id}",
                    incident_id,
                    "closed" if closed else "open",
                    severity,
                    category,
                    escalation,
                    created,
                    closed or acked or created,
                ),
            )
            db.executemany(
                "INSERT INTO incident_organisations (incident_id, org_id) VALUES (?, ?)",
                [(incident_id, o) for o in orgs],
            )
            db.execute(
                "INSERT INTO incident_facts (incident_id, acknowledged, closed,"
                " reporter_kind, channel) VALUES (?, ?, ?, ?, ?)",
                (incident_id, acked, closed, reporter, channel),
            )
        for n, (incident_id, kind, phase, state, due, done_at) in enumerate(DUE_ITEMS):
            db.execute(
                "INSERT INTO due_items (task_id, incident_id, position, item_key, kind,"
                " title, phase, owner, parties, role, playbook, level, due, after_key,"
                " offset_minutes, state, done_at, done_by, note) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, NULL, '', NULL, NULL, NULL, ?, NULL, 0, ?, ?,"
                " NULL, NULL)",
                (f"task--{n}", incident_id, n, f"k{n}", kind, f"item {n}", phase, due, state, done_at),
            )
        db.executemany(
            "INSERT INTO sighting_index (sighting_id, indicator_id, count, first_seen,"
            " last_seen, seen, sighted_by) VALUES (?, ?, ?, NULL, ?, ?, 'x')",
            [(s, i, c, seen, seen) for s, i, c, seen in SIGHTINGS],
        )
    return ws


def reporter(ws: Workspace) -> Reporter:
    return Reporter(ws.context, ws.sharing)


def test_every_figure_of_the_hand_built_month(fixture_ws: Workspace) -> None:
    report = reporter(fixture_ws).build(parse_period("2026-11")).as_dict()
    assert report["period"] == {
        "label": "2026-11",
        "start": "2026-11-01T00:00:00.000Z",
        "end": "2026-12-01T00:00:00.000Z",
    }
    assert report["previous_period"]["label"] == "2026-10"
    assert report["incidents"] == 4
    assert report["trend"] == {"incidents": 4, "previous": 2, "change_percent": 100.0}

    def counts(key: str) -> dict[str, tuple[int, int]]:
        return {r["key"]: (r["count"], r["previous"]) for r in report["by"][key]}

    assert counts("sector") == {
        "financial-services": (2, 1),
        "telecommunications": (1, 1),
        "utilities": (1, 0),
        "water": (1, 0),
    }
    assert counts("category") == {
        "fraud:phishing": (2, 1),
        "availability:ddos": (1, 1),
        "malicious-code:infected-system": (1, 0),
    }
    assert counts("severity") == {"high": (1, 1), "critical": (1, 0), "medium": (1, 1), "low": (1, 0)}
    assert counts("escalation") == {"sector": (2, 2), "national": (1, 0), "coordinator": (1, 0)}
    assert counts("reporter") == {"unknown": (2, 2), "citizen": (1, 0), "<script>organisation": (1, 0)}
    assert counts("channel") == {"unknown": (2, 2), "web-form": (1, 0), "email": (1, 0)}
    assert report["by"]["sector"][0]["key"] == "financial-services"  # largest first
    assert report["times"] == {
        "acknowledge": {"count": 3, "median_hours": 2.0, "p90_hours": 3.0},
        "contain": {"count": 2, "median_hours": 7.0, "p90_hours": 8.0},
        "close": {"count": 2, "median_hours": 30.0, "p90_hours": 50.0},
    }
    assert report["duties"] == {"on_time": 1, "late": 2, "waived": 1, "pending": 2}
    assert [(i["id"], i["count"], i["sightings"]) for i in report["top_indicators"]] == [
        ("indicator--x", 7, 2),
        ("indicator--y", 6, 1),
    ]


def test_a_quarter_and_a_since_date(fixture_ws: Workspace, clock: FixedClock) -> None:
    quarter = reporter(fixture_ws).build(parse_period("2026-Q4")).as_dict()
    assert quarter["incidents"] == 7 and quarter["previous_period"]["label"] == "2026-Q3"
    since = reporter(fixture_ws).build(parse_period(since="2026-11-10", now=clock())).as_dict()
    assert since["incidents"] == 3  # i3, i4 and i5 (until now, 5 December)


def test_the_formats_say_the_same_and_escape_what_they_show(
    fixture_ws: Workspace, cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = reporter(fixture_ws).build(parse_period("2026-11")).as_dict()
    fixture_ws.close()  # the CLI opens the workspace itself, with the real clock
    as_json = cli("report", "--period", "2026-11", "--json")
    assert as_json.code == 0, as_json.err
    data = as_json.json()
    assert data["by"] == report["by"] and data["times"] == report["times"]
    markdown = cli("report", "--period", "2026-11", "--format", "md").out
    assert "| high | 1 | 1 | " in markdown and "█" in markdown
    assert "\\<script\\>organisation" in markdown and "<script>" not in markdown
    page = tmp_path / "report.html"
    written = cli("report", "--period", "2026-11", "--format", "html", "-o", str(page))
    assert written.code == 0, written.err
    html = page.read_text()
    assert html.count('src="data:image/png;base64,') == 6  # one chart per breakdown
    assert "&lt;script&gt;organisation" in html and "<script>" not in html
    table = list(csv.reader(io.StringIO(cli("report", "--period", "2026-11", "--format", "csv").out)))
    assert ["severity", "high", "1", "1"] in table
    assert ["duties", "late", "2", ""] in table
    assert ["close_median_hours", "", "30.0", ""] in table
    terminal = cli("report", "--period", "2026-11")
    assert terminal.code == 0 and "financial-services" in terminal.out and "█" in terminal.out
    assert "4 incidents, previous period 2 (+100.0%)" in terminal.out


def test_bad_periods_are_one_line(cli: Any) -> None:
    for args, message in (
        (["--period", "2026-13"], "not a month"),
        (["--period", "2026-Q5"], "not a month"),
        (["--since", "yesterday"], "not a date"),
        ([], "exactly one of"),
        (["--period", "2026-11", "--since", "2026-11-01"], "exactly one of"),
    ):
        result = cli("report", *args)
        assert result.code == 1 and message in result.err, args
    assert cli("report", "--period", "2026-11", "--format", "pdf").code == 2
    with pytest.raises(InvalidValue):
        parse_period(since="2030-01-01", now=datetime(2026, 1, 1, tzinfo=UTC))


def test_percentiles_by_nearest_rank() -> None:
    assert duration_of([]).as_dict() == {"count": 0, "median_hours": None, "p90_hours": None}
    assert duration_of([5.0]).as_dict() == {"count": 1, "median_hours": 5.0, "p90_hours": 5.0}
    ten = duration_of([float(h) for h in range(1, 11)])
    assert (ten.median_hours, ten.p90_hours) == (5.5, 9.0)


def test_real_actions_give_the_times_and_for_counts_what_the_gate_allows(
    ws: Workspace, clock: FixedClock, cli: Any, tmp_path: Path
) -> None:
    clock.now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    bank = ws.incidents.open(
        title="Bank phishing", category="phishing", severity="high", organisations=["cbb"], tlp="amber"
    ).reference
    clock.advance(hours=2)
    ws.incidents.assign(bank, "ana")
    clock.advance(hours=22)
    for duty in ws.tasks.open_duties(bank):
        ws.tasks.done(bank, str(duty.number))
    ws.incidents.close(bank, resolution="taken down")
    telecom = ws.incidents.open(
        title="DDoS", category="ddos", severity="medium", organisations=["btl"], tlp="amber"
    ).reference
    clock.now = datetime(2026, 12, 2, tzinfo=UTC)
    everything = reporter(ws).build(parse_period("2026-11")).as_dict()
    assert everything["incidents"] == 2
    assert everything["times"]["acknowledge"] == {"count": 1, "median_hours": 2.0, "p90_hours": 2.0}
    assert everything["times"]["close"] == {"count": 1, "median_hours": 24.0, "p90_hours": 24.0}
    before = len(ws.audit.entries(to="org:cbb"))
    preview = reporter(ws).build(parse_period("2026-11"), for_org="cbb").as_dict()
    assert preview["incidents"] == 1 and preview["for"] == "cbb"
    assert {r["key"] for r in preview["by"]["sector"]} == {"financial-services"}
    assert len(ws.audit.entries(to="org:cbb")) == before  # a preview logs nothing
    ws.close()
    path = tmp_path / "cbb.json"
    written = cli("report", "--period", "2026-11", "--for", "cbb", "--format", "json", "-o", str(path))
    assert written.code == 0, written.err
    assert json.loads(path.read_text())["incidents"] == 1
    with Workspace.open(ws.home) as again:
        logged = again.audit.entries(to="org:cbb")
        assert len(logged) == before + 1 and logged[-1].channel == "export"
        assert {o[0] for o in logged[-1].objects} == {again.incidents.get(bank).id}
    assert telecom


def test_reporter_kind_and_channel_are_counted_from_the_incident(
    ws: Workspace, clock: FixedClock, cli: Any
) -> None:
    clock.now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    ws.close()
    opened = cli(
        "incident",
        "open",
        "--title",
        "Skimmer at an ATM",
        "--category",
        "phishing",
        "--severity",
        "low",
        "--sector",
        "cbb",
        "--reporter",
        "A. Citizen",
        "--reporter-kind",
        "citizen",
        "--channel",
        "phone",
        "--json",
    )
    assert opened.code == 0, opened.err
    created = opened.json()["created"][:10]
    data = cli("report", "--since", created, "--json").json()
    assert {r["key"]: r["count"] for r in data["by"]["reporter"]} == {"citizen": 1}
    assert {r["key"]: r["count"] for r in data["by"]["channel"]} == {"phone": 1}
    assert "A. Citizen" not in json.dumps(data)  # the reporter's name is never in a report


def test_response_times_count_from_when_the_incident_was_reported(ws: Workspace, clock: FixedClock) -> None:
    """A ransomware call at 02:00 opened at 08:00 and taken on at 09:00 waited 7 hours, not 1."""
    clock.now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    ref = ws.incidents.open(
        title="Ransomware at BWS",
        category="ransomware",
        severity="high",
        organisations=["bws"],
        tlp="amber",
        reported_at=datetime(2026, 11, 3, 2, 0, tzinfo=UTC),
    ).reference
    clock.advance(hours=1)
    ws.incidents.assign(ref, "ana")
    clock.now = datetime(2026, 12, 2, tzinfo=UTC)
    times = reporter(ws).build(parse_period("2026-11")).as_dict()["times"]
    assert times["acknowledge"] == {"count": 1, "median_hours": 7.0, "p90_hours": 7.0}


def test_a_report_written_to_a_file_for_nobody_else_is_a_logged_release_to_the_archive(
    ws: Workspace, clock: FixedClock, cli: Any, tmp_path: Path
) -> None:
    clock.now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    ref = ws.incidents.open(
        title="Bank phishing", category="phishing", severity="high", organisations=["cbb"], tlp="red"
    ).reference
    incident_id = ws.incidents.get(ref).id
    ws.close()
    path = tmp_path / "november.md"
    assert cli("report", "--period", "2026-11", "--format", "md", "-o", str(path)).code == 0
    assert cli("report", "--period", "2026-11", "--format", "md").code == 0  # stdout: no log
    with Workspace.open(ws.home) as again:
        logged = [e for e in again.audit.entries() if e.recipient.startswith("archive:")]
        assert len(logged) == 1 and logged[0].channel == "export"
        assert {o[0] for o in logged[0].objects} == {incident_id}
