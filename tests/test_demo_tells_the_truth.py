"""The demo's narration is read off the bulletins it prints, never written in advance."""

from __future__ import annotations

import re

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
    # bulletins show the incident's public reference (issue 11), the same to every recipient
    assert any(
        re.match(
            r"Belize Electricity Limited got no incident BZ-[A-Z0-9]{8} "
            "'Phishing campaign imitating Central Bank online banking'",
            s,
        )
        for s in said
    )


def test_when_bel_is_shared_the_incident_the_narration_does_not_deny_it(ws: Workspace) -> None:
    incident = ws.incidents.open(
        title="Phishing campaign imitating Central Bank online banking",
        category="phishing",
        severity="high",
        organisations=["cbb"],
        tlp="amber",
    )
    ws.sharing.add(incident.reference, orgs=["bel"], linked=True)
    said = _narrate(ws)
    bel = next(
        s
        for s in said
        if s.startswith("# National CIRT") is False and "For** | Belize Electricity Limited" in s
    )
    assert "Phishing campaign imitating Central Bank online banking" in bel
    summary = next(s for s in said if s.startswith("Belize Electricity Limited's bulletin"))
    assert re.search(r"incident BZ-[A-Z0-9]{8} 'Phishing campaign", summary)
    assert not any("got no incident" in s for s in said)
