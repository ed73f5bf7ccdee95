"""Demo chapter: the phishing playbook applied, a deadline passing, an escalation proposed.

Runs on the demo workspace after the phishing chapter, with its incident.  The demo's clock can
be moved forward (``ws.clock.advance``); with a plain clock the chapter looks 25 hours ahead
instead, so it never waits for real time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cirt.dashboard import Deadlines
from cirt.stixtime import format_duration, local_text

if TYPE_CHECKING:
    from cirt.workspace import Workspace


def run_chapter(ws: Workspace, say: Callable[[str], None], incident_ref: str) -> None:
    say("# Playbooks: what to do, whom to tell by when, and when to go up a level")
    incident, tasks = ws.tasks.list(incident_ref)
    zone = ws.tasks.zone
    playbooks = sorted({t.playbook for t in tasks if t.playbook})
    say(
        f"Opening {incident.reference} applied the playbook(s) {', '.join(playbooks)}: "
        f"{len(tasks)} tasks and duties, each a STIX task object referenced by the incident. "
        f"Times in {zone.key}."
    )
    for t in tasks:
        if t.kind == "duty":
            due = local_text(t.due, zone) if t.due else f"{format_duration(t.offset)} after {t.after}"
            say(f"  duty {t.number:>2}: tell {', '.join(t.parties):<12} by {due}  {t.title}")
    triage = [t for t in tasks if t.phase == "triage"]
    for t in triage[:2]:
        ws.tasks.done(incident.reference, str(t.number), note="done by the duty analyst")
        say(f"  task {t.number} done: {t.title}")

    advance = getattr(ws.clock, "advance", None)
    now: datetime | None = None
    if callable(advance):
        advance(hours=25)
        say("The next day, 25 hours later, nobody has reported to the Central Bank yet.")
    else:
        now = ws.clock() + timedelta(hours=25)
        say("Looking 25 hours ahead: nobody has reported to the Central Bank yet.")
    view = Deadlines(ws.context).overdue(now=now)
    say(
        f"cirt overdue at {local_text(view.now, zone)}: {len(view.overdue)} overdue, "
        f"{len(view.due_soon)} due within 24h; the late notification duties:"
    )
    for entry in view.overdue:
        if entry.task.kind == "duty":
            late = format_duration(entry.late_by or timedelta())
            say(
                f"  OVERDUE by {late:>5}: #{entry.task.number} tell "
                f"{', '.join(entry.task.parties)}: {entry.task.title}"
            )

    before = ws.incidents.get(incident.reference)
    after = ws.incidents.update(incident.reference, add_organisations=["btl"])
    say("BTL reports the same lure sent to its own customers: BTL is added to the incident.")
    proposal = ws.tasks.proposal(after, before)
    if proposal is None:
        say("No new escalation trigger holds.")
        return
    for trigger in proposal.reasons:
        say(f"  trigger → {trigger.level}: {trigger.reason} ({trigger.condition.describe()})")
    say(
        f"Proposed: escalate {incident.reference} to {proposal.level} "
        f"(cirt incident escalate {incident.reference} --to {proposal.level} --reason …)"
    )
    escalated = ws.incidents.escalate(
        incident.reference, level=proposal.level, reason="two sectors hit by the same campaign"
    )
    _, tasks = ws.tasks.list(escalated.reference)
    for t in tasks:
        if t.level == proposal.level:
            due = local_text(t.due, zone) if t.due else "—"
            say(f"  {proposal.level} duty {t.number}: tell {', '.join(t.parties)} by {due}: {t.title}")
