"""The demo's narration is read off the bulletins it prints, never written in advance."""

from __future__ import annotations

from cirt.demos.bulletin import run_chapter
from cirt.workspace import Workspace


def _narrate(ws: Workspace) -> list[str]:
    said: list[str] = []
    run_chapter(ws, said.append)
    return said


def test_when_bel_may_not_see_the_incident_the_narration_says_so(ws: Workspace) -> None:
    said = _narrate(ws)
    bel = next(s for s in said if s.startswith("**TLP:GREEN**"))
    assert "Phishing campaign" not in bel
    assert any(s.startswith("Belize Electricity Limited got no incident BZ-2026-0001 "
                            "'Phishing campaign imitating Central Bank online banking'")
               for s in said)


def test_when_bel_is_shared_the_incident_the_narration_does_not_deny_it(ws: Workspace) -> None:
    incident = ws.incidents.open(title="Phishing campaign imitating Central Bank online banking",
                                 category="phishing", severity="high", organisations=["cbb"],
                                 tlp="amber")
    ws.sharing.add(incident.reference, orgs=["bel"], linked=True)
    said = _narrate(ws)
    bel = next(s for s in said if s.startswith("# National CIRT") is False
               and "For** | Belize Electricity Limited" in s)
    assert "Phishing campaign imitating Central Bank online banking" in bel
    summary = next(s for s in said if s.startswith("Belize Electricity Limited's bulletin"))
    assert "incident BZ-2026-0001 'Phishing campaign" in summary
    assert not any("got no incident" in s for s in said)
