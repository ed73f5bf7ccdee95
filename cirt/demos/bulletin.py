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
    from cirt.bulletin.render import Bulletin
    from cirt.workspace import Workspace


def describe(b: Bulletin) -> str:
    """What a bulletin holds, in one sentence read off the bulletin itself."""
    incidents = "; ".join(f"{i.reference} {i.title!r} ({i.tlp.label})" for i in b.incidents)
    levels = sorted({r.tlp for r in b.indicators})
    counts = ", ".join(f"{sum(r.tlp == t for r in b.indicators)} {t.label}" for t in levels)
    return (
        f"{b.recipient}'s bulletin ({b.tlp.label}): "
        + (f"incident {incidents}" if incidents else "no incident")
        + f"; {len(b.indicators)} indicator(s)"
        + (f" ({counts})" if counts else "")
        + "."
    )


def difference(wide: Bulletin, narrow: Bulletin) -> str:
    """What the first recipient got that the second did not, as the bulletins show it."""
    titles = {i.reference: i.title for i in narrow.incidents}
    missing = [f"{i.reference} {i.title!r}" for i in wide.incidents if i.reference not in titles]
    held = {r.pattern for r in narrow.indicators}
    withheld = [r for r in wide.indicators if r.pattern not in held]
    if not missing and not withheld:
        return (
            f"{narrow.recipient} got everything {wide.recipient} got: both are in the "
            "audience, or all of it is TLP:GREEN or lower."
        )
    parts = []
    if missing:
        parts.append("no incident " + ", ".join(missing))
    if withheld:
        parts.append(
            f"{len(withheld)} indicator(s) fewer (" + ", ".join(sorted({r.tlp.label for r in withheld})) + ")"
        )
    return (
        f"{narrow.recipient} got " + " and ".join(parts) + f" that {wide.recipient} got: "
        "the gate withheld them, and no relationship names them."
    )


def run_chapter(ws: Workspace, say: Callable[[str], None]) -> None:
    say("# Bulletins: each organisation gets what TLP lets it see, and the log proves it")
    rows = ws.incidents.list(IncidentFilter(organisation="cbb", limit=1))
    if rows:
        reference = rows[0].reference
    else:
        reference = ws.incidents.open(
            title="Phishing campaign imitating Central Bank online banking",
            category="phishing",
            severity="high",
            organisations=["cbb"],
            tlp="amber",
            summary="Customers receive e-mails linking to a look-alike login page.",
        ).reference
        ws.indicators.add(form="domain", value="centralbank-online-login.example", incident=reference)
    green = ws.indicators.add(
        form="ip",
        value="203.0.113.45",
        incident=reference,
        tlp="green",
        name="Phishing kit host (shared with the community)",
    )
    say(
        f"{reference} is TLP:AMBER with the Central Bank in its audience. The phishing host "
        f"{green['name']!r} is marked TLP:GREEN so that the whole community can block it."
    )

    built = {}
    for org in ("cbb", "bel"):
        built[org] = ws.bulletins.build(org, period=timedelta(days=7), fmt="md")
        b = built[org].bulletin
        say(f"# Bulletin for {b.recipient} (Markdown)")
        say(built[org].text)

    # The narration is read off the two bulletins just printed, never written in advance.
    bank, bel = built["cbb"].bulletin, built["bel"].bulletin
    for b in (bank, bel):
        say(describe(b))
    say(difference(bank, bel))
    entries = ws.audit.entries()
    for entry in entries[-2:]:
        say(
            f"  log #{entry.seq} {entry.when[:19]} {entry.analyst} -> {entry.recipient} "
            f"({entry.channel}, {len(entry.objects)} objects, {TLP(entry.tlp).label})"
        )
    report = ws.audit.verify()
    verdict = "intact" if report.ok else f"BROKEN at {report.broken}"
    say(
        f"$ cirt audit verify -> disclosure log {verdict}: {report.entries} entries, head "
        f"#{report.head.seq} {report.head.hash[:16]}…"
    )
