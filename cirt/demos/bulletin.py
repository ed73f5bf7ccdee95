"""Demo chapter: one incident reaches the Central Bank in full and BEL only in part; the log holds.

Runs on the demo workspace after the phishing chapter (or alone: it opens its own incident).
Needs neither SMTP nor GnuPG: it builds Markdown bulletins, which the gate releases and the
disclosure log records exactly as it would for e-mail.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from cirt.store.incidents import IncidentFilter
from cirt.tlp import TLP

if TYPE_CHECKING:
    from cirt.workspace import Workspace


def run_chapter(ws: Workspace, say: Callable[[str], None]) -> None:
    say("# Bulletins: each organisation gets what TLP lets it see, and the log proves it")
    rows = ws.incidents.list(IncidentFilter(organisation="cbb", limit=1))
    if rows:
        reference = rows[0].reference
    else:
        reference = ws.incidents.open(
            title="Phishing campaign imitating Central Bank online banking",
            category="phishing", severity="high", organisations=["cbb"], tlp="amber",
            description="Customers receive e-mails linking to a look-alike login page.").reference
        ws.indicators.add(form="domain", value="centralbank-online-login.example",
                          incident=reference)
    green = ws.indicators.add(form="ip", value="203.0.113.45", incident=reference, tlp="green",
                              name="Phishing kit host (shared with the community)")
    say(f"{reference} is TLP:AMBER with the Central Bank in its audience. The phishing host "
        f"{green['name']!r} is marked TLP:GREEN so that the whole community can block it.")

    for org in ("cbb", "bel"):
        built = ws.bulletins.build(org, period=timedelta(days=7), fmt="md")
        b = built.bulletin
        say(f"# Markdown bulletin for {b.recipient} ({b.tlp.label}, "
            f"{len(b.incidents)} incident(s), {len(b.indicators)} indicator(s))")
        say(built.text)

    say("The Central Bank's bulletin carries the incident, its indicators and the advice; BEL's "
        "carries only the GREEN indicator: no incident title, no bank, no AMBER indicator, and "
        "no relationship that would name them.")
    entries = ws.audit.entries()
    for entry in entries[-2:]:
        say(f"  log #{entry.seq} {entry.when[:19]} {entry.analyst} -> {entry.recipient} "
            f"({entry.channel}, {len(entry.objects)} objects, {TLP(entry.tlp).label})")
    report = ws.audit.verify()
    verdict = "intact" if report.ok else f"BROKEN at {report.broken}"
    say(f"$ cirt audit verify -> disclosure log {verdict}: {report.entries} entries, head "
        f"#{report.head.seq} {report.head.hash[:16]}…")
