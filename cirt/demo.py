"""``cirt demo``: a throwaway workspace and a realistic scenario, narrated on screen.

A phishing campaign against Central Bank customers: the incident is opened, indicators attached,
escalated to national level, and its history shown.  The chapters that follow (in
``cirt.demos``) run on the same workspace: sharing through the gate, bulletins, playbooks and
deadlines, TAXII with a partner and our own server, MISP and imports.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from cirt.demos import bulletin, intake, misp, playbooks, sharing, taxii
from cirt.incidents import Reporter
from cirt.stixtime import utcnow
from cirt.workspace import Workspace

Say = Callable[[str], None]


class DemoClock:
    """Real time that the story can move forward (to let a deadline pass)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


def run_demo(say: Say, home: Path | None = None) -> str:
    """Run every chapter in a fresh workspace; returns the workspace path."""
    base = home or Path(tempfile.mkdtemp(prefix="cirt-demo-"))
    clock = DemoClock()
    with Workspace.init(base / "national-cirt", clock=clock, analyst="Maria Chan") as ws:
        reference = phishing_chapter(ws, say)
        sharing.run_chapter(ws, say, reference)
        bulletin.run_chapter(ws, say)
        playbooks.run_chapter(ws, say, reference)
        taxii.run_chapter(ws, say)
        misp.run_chapter(ws, say)
        intake.run_chapter(ws, say)
    return str(base / "national-cirt")


def phishing_chapter(ws: Workspace, say: Say) -> str:
    say(f"# A national CIRT workspace at {ws.home}")
    say(
        "Before dawn, the Central Bank's SOC reports customers receiving e-mails that imitate the "
        "bank's online banking login page."
    )
    incident = ws.incidents.open(
        title="Phishing campaign imitating Central Bank online banking",
        category="phishing",
        severity="medium",
        organisations=["cbb"],
        tlp="amber",
        summary="Customers receive e-mails linking to a look-alike login page that "
        "harvests credentials and one-time codes.",
        description="Reported by the bank's SOC on the duty phone; first victim's mail headers requested.",
        reporter=Reporter("CBB SOC duty officer", "soc@cbb.bz.example", "organisation"),
        channel="phone",
    )
    say(
        f"Opened {incident.reference} as a STIX incident ({incident.id}), TLP:AMBER, "
        "audience: the Central Bank and the national CIRT."
    )
    for form, value in (
        ("domain", "centralbank-online-login.example"),
        ("url", "https://centralbank-online-login.example/secure/login.php"),
        ("ip", "203.0.113.45"),
        ("email", "alerts@centralbank-secure-mail.example"),
    ):
        indicator = ws.indicators.add(form=form, value=value, incident=incident.reference)
        say(f"  indicator {indicator['pattern']}")
    ws.incidents.assign(incident.reference, "duty-analyst")
    ws.incidents.update(incident.reference, severity="high")
    say("Two hours later, 300 customers have entered their credentials; severity raised to high.")
    escalated = ws.incidents.escalate(
        incident.reference, level="national", reason="financial-sector customers across the country affected"
    )
    say(f"Escalated {escalated.reference} to {escalated.escalation_level} level.")
    ws.incidents.note(incident.reference, "Takedown request sent to the hosting provider.")
    say("History of the incident (every version is kept):")
    for entry in ws.incidents.history(incident.reference):
        say(f"  {entry.at[:19]}  {entry.by:<14} {entry.kind:<10} {entry.what}")
    return incident.reference
