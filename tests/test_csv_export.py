"""CSV of incidents and indicators: no formula runs in a spreadsheet, and nothing is lost."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from cirt.csv_cells import FORMULA_STARTS, neutralise, restore
from cirt.csv_export import INCIDENT_COLUMNS, INDICATOR_COLUMNS, export_csv, read_back, write
from cirt.workspace import Workspace

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+1",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1",
    "\r=1",
    "'already quoted",
    'plain, with "quotes"\nand a new line',
    "",
]


@given(st.text())
def test_neutralising_is_undone_exactly_and_leaves_no_formula(text: str) -> None:
    cell = neutralise(text)
    assert restore(cell) == text
    assert not cell.startswith(FORMULA_STARTS[:-1])  # an apostrophe first is the safe form


@given(st.lists(st.fixed_dictionaries({"a": st.text(), "b": st.lists(st.text(), max_size=3)}), max_size=5))
def test_records_survive_a_round_trip(records: list[dict[str, Any]]) -> None:
    text = write(("a", "labels"), [{"a": r["a"], "labels": r["b"]} for r in records])
    back = read_back(text)
    assert [(r["a"] or "", r["labels"] or []) for r in back] == [(r["a"], r["b"]) for r in records]


def test_incidents_read_back_as_they_are_stored(ws: Workspace) -> None:
    references = []
    for n, title in enumerate(HOSTILE[:-1]):
        incident = ws.incidents.open(
            title=title,
            category="phishing",
            severity="medium",
            organisations=["cbb", "bel"] if n % 2 else ["btl"],
            description=HOSTILE[(n + 3) % len(HOSTILE)] or None,
        )
        references.append(incident.reference)
    ws.incidents.assign(references[0], "=cmd|' /C calc'!A0")
    for duty in ws.tasks.open_duties(references[1]):
        ws.tasks.waive(references[1], str(duty.number), reason="+not needed")
    ws.incidents.close(references[1], resolution="-taken down")
    text = export_csv(ws.context, ws.sharing, "incidents")
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert not any(c.startswith(FORMULA_STARTS[:-1]) for c in cells)
    back = read_back(text)
    assert [r["reference"] for r in back] == references
    for row in back:
        incident = ws.incidents.get(row["reference"])
        summary = incident.summary()
        assert row["title"] == incident.title
        assert row["organisations"] == list(incident.organisations)
        assert row["assignee"] == incident.assignee
        assert row["description"] == summary["description"]
        assert row["summary"] == summary["summary"]
        assert row["resolution"] == summary["resolution"]
        assert (row["status"], row["severity"], row["category"], row["tlp"]) == (
            incident.status,
            incident.severity,
            incident.category,
            "amber",
        )
    assert back[0]["assignee"] == "=cmd|' /C calc'!A0" and back[0]["acknowledged"]
    assert back[1]["closed"] and back[1]["resolution"] == "-taken down"
    assert text.splitlines()[0] == ",".join(INCIDENT_COLUMNS)


def test_indicators_read_back_with_incidents_and_lifecycle(ws: Workspace) -> None:
    reference = ws.incidents.open(
        title="Kit", category="phishing", severity="low", organisations=["cbb"]
    ).reference
    first = ws.indicators.add(
        form="url", value="http://evil.example/=1?a=-2", incident=reference, name="=evil"
    )
    second = ws.indicators.add(form="ip", value="203.0.113.45")
    ws.indicators.retire(second["id"], "false-positive", reason="a customer's NAT")
    back = {r["id"]: r for r in read_back(export_csv(ws.context, ws.sharing, "indicators"))}
    assert back[first["id"]]["name"] == "=evil"
    assert back[first["id"]]["pattern"] == first["pattern"]
    assert back[first["id"]]["incidents"] == [reference]
    assert back[second["id"]]["labels"] == ["false-positive"]
    assert back[second["id"]]["valid_until"] and back[second["id"]]["revoked"] == "false"
    assert set(back[first["id"]]) == set(INDICATOR_COLUMNS)


def test_for_a_recipient_only_what_the_gate_releases_and_the_release_is_logged(ws: Workspace) -> None:
    ours = ws.incidents.open(
        title="BTL outage", category="ddos", severity="high", organisations=["btl", "cbb"], tlp="amber"
    ).reference
    ws.incidents.open(
        title="Bank only", category="phishing", severity="high", organisations=["cbb"], tlp="amber"
    )
    back = read_back(export_csv(ws.context, ws.sharing, "incidents", recipient="btl"))
    # a recipient sees the public reference, never the internal, sequential one (issue 11)
    assert [r["title"] for r in back] == ["BTL outage"] and back[0]["reference"] != ours
    assert back[0]["organisations"] == ["btl"]  # the gate cuts the audience to the recipient
    logged = ws.audit.entries(to="org:btl")
    assert logged and logged[-1].channel == "export"


def test_the_export_command_writes_csv_files(ws: Workspace, cli: Any, tmp_path: Path) -> None:
    reference = ws.incidents.open(
        title="@evil", category="phishing", severity="low", organisations=["cbb"]
    ).reference
    ws.indicators.add(form="domain", value="evil.example", incident=reference)
    path = tmp_path / "incidents.csv"
    written = cli("export", "--format", "csv", "-o", str(path), "--json")
    assert written.code == 0, written.err
    assert [(r["reference"], r["title"]) for r in read_back(path.read_text())] == [(reference, "@evil")]
    indicators = cli("export", "--format", "csv", "--of", "indicators")
    assert read_back(indicators.out)[0]["incidents"] == [reference]
    assert cli("export", "--format", "csv", "--of", "tasks").code == 1
    assert cli("export", "--format", "xlsx").code == 2


def test_an_indicator_csv_for_a_recipient_names_incidents_by_their_public_reference(ws: Workspace) -> None:
    """The incident references in an indicator row leave with the file: the recipient gets the
    public reference, and the release logged for the file names those incidents."""
    incident = ws.incidents.open(
        title="BEL phishing", category="phishing", severity="low", organisations=["bel"], tlp="green"
    )
    indicator = ws.indicators.add(form="domain", value="evil.example", incident=incident.reference)
    [row] = read_back(export_csv(ws.context, ws.sharing, "indicators", recipient="bel"))
    assert row["id"] == indicator["id"]
    assert row["incidents"] and row["incidents"] != [incident.reference]
    [public] = row["incidents"]
    assert public.startswith("BZ-") and public != incident.reference
    [entry] = ws.audit.entries(to="org:bel")
    assert {ref[0] for ref in entry.objects} >= {indicator["id"], incident.id}
