"""Demo chapter: one incident reaches the Central Bank in full and BEL only in part.

On the phishing incident of the first chapter, an AMBER indicator is added for the bank alone
and a GREEN one for the whole community; the incident itself is then shared with BEL, whose
customers the same kit is being prepared against.  ``who`` shows who gets what, two exports
show what each organisation receives and what the gate keeps back (and why), and the disclosure
log, written before each export, verifies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cirt.errors import NotFound
from cirt.store.incidents import IncidentFilter

if TYPE_CHECKING:
    from cirt.workspace import Workspace


def run_chapter(ws: Workspace, say: Callable[[str], None], incident_ref: str | None = None) -> None:
    """Tell the sharing story on ``incident_ref`` (default: the newest incident)."""
    if incident_ref is None:
        newest = ws.incidents.list(IncidentFilter(limit=1))
        if not newest:
            raise NotFound("the sharing chapter needs an incident: run the phishing chapter first")
        incident_ref = newest[0].reference
    incident = ws.incidents.get(incident_ref)
    ref = incident.reference
    say(f"# Sharing {ref}: the Central Bank in full, BEL only in part")
    amber = ws.indicators.add(
        form="url",
        value="https://centralbank-online-login.example/otp/verify.php",
        incident=ref,
        tlp="amber",
        name="One-time-code harvesting page (bank customers)",
    )
    say(f"Added a TLP:AMBER indicator for the bank only: {amber['name']}.")
    green = ws.indicators.add(
        form="domain",
        value="secure-portal-login.example",
        incident=ref,
        tlp="green",
        name="Landing domain of the phishing kit",
    )
    say(f"Added a TLP:GREEN indicator for the whole community: {green['name']}.")
    ws.sharing.add(ref, orgs=["bel"])
    say(
        "The same kit is being prepared against electricity customers: the incident itself is "
        "shared with BEL (cirt share add … --org bel); its AMBER details are not."
    )

    for label, object_id in (
        ("incident", incident.id),
        ("AMBER indicator", amber["id"]),
        ("GREEN indicator", green["id"]),
    ):
        receivers = [c.recipient for c in ws.sharing.who(object_id) if c.allowed]
        say(f"  who gets the {label}: {', '.join(receivers) or 'nobody outside the CIRT'}")

    items = [incident.id, *ws.store.linked(incident.id)]
    for org in ("cbb", "bel"):
        result = ws.sharing.release(items, f"org:{org}", "export", delivery="file")
        name = ws.community.organisation(org).name
        say(
            f"Export for {name}: {len(result.released)} objects released, "
            f"{len(result.withheld)} withheld (logged before it was written)."
        )
        for sent in result.released:
            cut = f" — left out: {', '.join(sent.redacted)}" if sent.redacted else ""
            say(f"  + {sent.tlp.label:<17} {_title(sent.obj, ref)}{cut}")
        for held in result.withheld:
            tlp = held.tlp.label if held.tlp is not None else "?"
            say(f"  - {tlp:<17} {held.type}: {held.decision.reason}")
    say("What BEL's analysts would be told about the bank-only indicator:")
    say("  " + ws.sharing.check(amber["id"], "cirt@bel.bz.example", "email").line)
    report = ws.audit.verify()
    state = "intact" if report.ok else f"BROKEN at {report.broken}"
    say(f"Disclosure log: {report.entries} entries, {state}.")


def _title(obj: Any, reference: str) -> str:
    if obj.get("type") == "incident":
        return f"incident {reference}: {obj.get('name')}"
    return f"{obj.get('type')}: {obj.get('name') or obj.get('relationship_type') or obj['id']}"
