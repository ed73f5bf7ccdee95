"""The incident-side services are built from a Context and the services they use, passed by
name, never from the Workspace: a script wires them by hand over a real store, and what they do
is the same as through ``ws.incidents``, ``ws.tasks`` and ``ws.evidence``.

Incidents and tasks both change the incident's record, through the lower ``IncidentRecords``:
neither needs the other to read, lock or write a version."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FixedClock

from cirt.config import load_config
from cirt.context import Context
from cirt.errors import ConflictError
from cirt.evidence import EvidenceLocker
from cirt.incident_desk import IncidentDesk
from cirt.incident_records import IncidentRecords
from cirt.store.engines import open_store
from cirt.tasks import TaskService

INCIDENT_SIDE = (
    "cirt.incident_desk",
    "cirt.incident_records",
    "cirt.tasks",
    "cirt.evidence",
    "cirt.indicator_desk",
    "cirt.linking",
    "cirt.listing",
    "cirt.search",
    "cirt.correlation",
    "cirt.dashboard",
)


@dataclass
class Services:
    context: Context
    records: IncidentRecords
    tasks: TaskService
    evidence: EvidenceLocker
    incidents: IncidentDesk


@pytest.fixture
def services(home: Path, clock: FixedClock) -> Iterator[Services]:
    config = load_config(home)
    store = open_store(config.database_url, clock=clock)
    context = Context(config, store, clock=clock)
    records = IncidentRecords(context)
    tasks = TaskService(context, records=records)
    evidence = EvidenceLocker(context, records=records)
    yield Services(
        context,
        records,
        tasks,
        evidence,
        IncidentDesk(context, records=records, tasks=tasks, evidence=evidence),
    )
    store.close()


def test_services_wired_by_hand_keep_one_incident_record(services: Services, tmp_path: Path) -> None:
    incident = services.incidents.open(
        title="Phishing imitating online banking",
        category="phishing",
        severity="medium",
        organisations=["cbb"],
        tlp="amber",
    )
    _, planned = services.tasks.list(incident.reference)
    assert planned and incident.playbook == "phishing"
    first = next(t for t in planned if t.kind == "task" and not t.decision)
    done = services.tasks.done(incident.reference, str(first.number), note="triaged")
    image = tmp_path / "mail.eml"
    image.write_bytes(b"Received: from attacker\n")
    item = services.evidence.add(incident.reference, image, collected_by="Maria Chan")

    history = [entry.what for entry in services.incidents.history(incident.reference)]
    assert any(f"task {done.task.number} done" in what for what in history)
    assert any(what.startswith("internal note: Evidence E1 collected") for what in history)
    held = services.incidents.attached_ids(incident.reference)
    assert {t.id for t in planned} <= set(held) and item.file_id in held
    assert (
        services.records.get(incident.reference).modified
        == services.incidents.get(incident.reference).modified
    )


def test_a_task_added_in_between_is_a_conflict_for_an_incident_change(services: Services) -> None:
    incident = services.incidents.open(
        title="Defaced bank site", category="defacement", severity="low", organisations=["cbb"]
    )
    services.tasks.add(incident.reference, title="Call the web host")
    with pytest.raises(ConflictError, match="task added: Call the web host"):
        services.incidents.update(incident.reference, severity="high", if_version=incident.modified)


def test_the_incident_side_services_load_no_workspace() -> None:
    code = (
        f"import json, sys, {', '.join(INCIDENT_SIDE)}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cirt'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    assert set(INCIDENT_SIDE) <= set(loaded)
    assert [m for m in loaded if m.startswith(("cirt.workspace", "cirt.cli"))] == []
