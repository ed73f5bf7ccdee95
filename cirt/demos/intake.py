"""Demo chapter: a citizen reports on the web, an analyst accepts it; a partner's indicator is
routed to the utility whose network it hits.

The reporting form runs for real (``cirt intake serve`` in a child process on 127.0.0.1): the
citizen's report is posted as a browser would (the form's CSRF token and cookie, a screenshot
attached), the status page is read before and after triage.  Then CSIRTAmericas shares an
indicator whose address lies in BEL's declared range: the import routes it, and ``route send``
writes BEL's bulletin through the gate (logged).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import requests

from cirt.demos.servers import intake_form
from cirt.errors import RemoteError
from cirt.ingest import import_file
from cirt.tlp import TLP

if TYPE_CHECKING:
    from cirt.workspace import Workspace

SCREENSHOT = b"\x89PNG\r\n\x1a\n" + bytes(512)


def run_chapter(ws: Workspace, say: Callable[[str], None]) -> None:
    say("# A citizen's report on the web, and a partner's indicator routed to BEL")
    with intake_form(ws.home) as url:
        say(f"The reporting form is served at {url}/ (English and Spanish, no JavaScript).")
        browser = requests.Session()
        form = browser.get(url + "/?lang=es", timeout=10)
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        if token is None:
            raise RemoteError("the reporting form carries no CSRF token")
        posted = browser.post(
            url + "/report?lang=es",
            timeout=10,
            allow_redirects=False,
            data={
                "csrf": token[1],
                "category": "phishing",
                "occurred": "hoy a las 7",
                "what": "Recibí un SMS: 'Su cuenta del Banco Central fue bloqueada', con el "
                "enlace hxxps://cbb-desbloqueo[.]example/acceso",
                "reporter_contact": "ciudadana@example.org",
            },
            files={"files": ("sms.png", SCREENSHOT, "image/png")},
        )
        status_url = url + posted.headers.get("Location", "")
        page = browser.get(status_url, timeout=10).text
        reference = re.search(r'id="reference">(R-[A-Z0-9]+)<', page)
        state = re.search(r'data-state="(\w+)"', page)
        if posted.status_code != 303 or reference is None or state is None:
            raise RemoteError(f"the reporting form answered {posted.status_code}")
        say(
            f"A citizen reports a phishing SMS in Spanish with a screenshot: reference "
            f"{reference[1]}, status '{state[1]}' on a page only her link opens."
        )

        report = ws.intake.get(reference[1])
        say(
            f"Triage: {report.row.reference} ({report.row.category}, {report.row.channel}), "
            f"{len(report.attachments)} attachment hashed (SHA-256 {report.attachments[0].sha256[:16]}…),"
            f" candidates: {', '.join(v for _, v in report.indicators)}."
        )
        accepted = ws.intake.accept(report.row.reference, organisations=["cbb"])
        say(
            f"Accepted into {accepted.incident} (the phishing playbook applied): "
            f"{accepted.evidence} evidence, {accepted.indicators} indicators through the ingest "
            "door. Her contact is on the incident marked internal: no release carries it."
        )
        state = re.search(r'data-state="(\w+)"', browser.get(status_url, timeout=10).text)
        say(f"Her status page now says '{state[1] if state else '?'}'.")

    partner = ws.community.partner("csirtamericas")
    indicator = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": "2026-03-10T12:00:00.000Z",
        "modified": "2026-03-10T12:00:00.000Z",
        "created_by_ref": partner.identity,
        "name": "Scanner probing SCADA gateways",
        "pattern": "[ipv4-addr:value = '192.0.2.70']",
        "pattern_type": "stix",
        "valid_from": "2026-03-10T12:00:00Z",
        "object_marking_refs": [TLP.GREEN.marking_id],
    }
    bundle = ws.home / "csirtamericas-indicators.json"
    bundle.write_text(
        json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [indicator]}),
        encoding="utf-8",
    )
    imported = import_file(ws.context, str(bundle), source="csirtamericas")
    say(
        f"CSIRTAmericas shares a TLP:GREEN indicator: {indicator['pattern']} "
        f"({imported.summary.new} new object)."
    )
    for view in ws.routes.list("bel"):
        verdict = "releasable" if view.allowed else f"withheld: {view.reason}"
        say(
            f"  routed to {view.row.party}: {view.row.value} is in {view.row.asset} "
            f"(declared in sectors.yaml), {verdict}"
        )
    for sent in ws.routes.send("bel", out_dir=ws.home / "routed"):
        say(f"Bulletin {sent.number} for BEL written to {sent.path} (logged before it was written).")
    warp = ws.community.partner("lacnic-warp")
    again = {**indicator, "id": f"indicator--{uuid.uuid4()}", "created_by_ref": warp.identity}
    bundle.write_text(
        json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [again]}), encoding="utf-8"
    )
    import_file(ws.context, str(bundle), source="lacnic-warp")
    [seen] = ws.routes.list("bel")
    say(
        f"LACNIC WARP reports the same address: seen {seen.row.seen} times, still one "
        f"notification ({seen.row.state}, bulletin {seen.row.bulletin}): BEL is not told twice."
    )
