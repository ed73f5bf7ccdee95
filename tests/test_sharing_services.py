"""The sharing-side services are built from a Context and the services they use, passed by name,
never from the Workspace: a script wires them by hand over a real store, and a report taken in,
accepted, routed and released goes through the disclosure log as it does through ``ws``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FixedClock

from cirt.audit import DisclosureLog
from cirt.bulletin import Bulletins
from cirt.config import load_config
from cirt.context import Context
from cirt.csv_export import export_csv, read_back
from cirt.evidence import EvidenceLocker
from cirt.export import export
from cirt.incident_desk import IncidentDesk
from cirt.incident_records import IncidentRecords
from cirt.intake.desk import IntakeDesk
from cirt.intake.reports import submission
from cirt.openpgp import OpenPGP, gpg_settings
from cirt.report import Reporter, parse_period
from cirt.route_desk import RouteDesk
from cirt.sharing import Sharing
from cirt.store.engines import open_store
from cirt.tasks import TaskService

SHARING_SIDE = (
    "cirt.sharing",
    "cirt.bulletin",
    "cirt.route_desk",
    "cirt.intake.desk",
    "cirt.intake.mail",
    "cirt.export",
    "cirt.csv_export",
    "cirt.report",
    "cirt.smtp",
    "cirt.imap",
    "cirt.openpgp",
)


@dataclass
class Services:
    context: Context
    disclosures: DisclosureLog
    incidents: IncidentDesk
    sharing: Sharing
    bulletins: Bulletins
    routes: RouteDesk
    intake: IntakeDesk


@pytest.fixture
def services(home: Path, clock: FixedClock) -> Iterator[Services]:
    config = load_config(home)
    store = open_store(config.database_url, clock=clock)
    context = Context(config, store, clock=clock)
    records = IncidentRecords(context)
    tasks = TaskService(context, records=records)
    evidence = EvidenceLocker(context, records=records)
    incidents = IncidentDesk(context, records=records, tasks=tasks, evidence=evidence)
    disclosures = DisclosureLog(context, lambda: OpenPGP(gpg_settings(config.gpg, None)))
    sharing = Sharing(context, disclosures=disclosures, incidents=incidents, tasks=tasks)
    bulletins = Bulletins(context, sharing=sharing, tasks=tasks)
    yield Services(
        context,
        disclosures,
        incidents,
        sharing,
        bulletins,
        RouteDesk(context, sharing=sharing, bulletins=bulletins),
        IntakeDesk(context, incidents=incidents, evidence=evidence),
    )
    store.close()


def test_a_report_accepted_routed_and_released_by_services_wired_by_hand(
    services: Services, tmp_path: Path
) -> None:
    receipt = services.intake.submit(
        submission(
            channel="web",
            category="phishing",
            what="A page at 192.0.2.80 asks for BEL logins",
            indicators=(("ip", "192.0.2.80"),),
        )
    )
    accepted = services.intake.accept(receipt.reference, severity="high", tlp="green")
    assert accepted.created and accepted.indicators == 1

    [routed] = services.routes.list("bel")  # the address lies in BEL's declared range
    assert routed.row.value == "192.0.2.80" and routed.allowed
    [sent] = services.routes.send("bel", out_dir=tmp_path)
    assert sent.values == ("192.0.2.80",) and Path(sent.path).read_text(encoding="utf-8")

    incident_id = services.incidents.get(accepted.incident).id
    exported = export(services.context, services.sharing, "bel", accepted.incident)
    assert incident_id in {o["id"] for o in exported.bundle["objects"]}
    assert exported.disclosure.entry is not None
    rows = read_back(export_csv(services.context, services.sharing, "incidents", "bel"))
    assert [r["id"] for r in rows] == [incident_id]
    assert rows[0]["reference"] != accepted.incident  # the internal reference stays inside
    report = Reporter(services.context, services.sharing).build(
        parse_period(since="2026-03-01", now=services.context.clock()), for_org="bel", release=True
    )
    assert report.current.incidents == 1

    logged = [(e.recipient, e.channel) for e in services.disclosures.entries()]
    assert logged == [
        ("org:bel", "bulletin"),
        ("org:bel", "export"),
        ("org:bel", "export"),
        ("org:bel", "export"),
    ]
    assert services.disclosures.verify().ok


def test_the_sharing_side_services_load_no_workspace() -> None:
    code = (
        f"import json, sys, {', '.join(SHARING_SIDE)}; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('cirt'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(done.stdout)
    assert set(SHARING_SIDE) <= set(loaded)
    assert [m for m in loaded if m.startswith(("cirt.workspace", "cirt.cli", "cirt.servers"))] == []
