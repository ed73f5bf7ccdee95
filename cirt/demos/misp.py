"""Demo chapter: a partner's bundle comes in, a GREEN event goes out to a MISP, a feed is written.

CSIRTAmericas e-mails a STIX bundle (generated here: regional indicators, one of them broken,
one marked with TLP 1.0 ids); ``cirt import`` validates and stores it, and a second import adds
nothing.  A MISP-compatible server (cirt.demos.misp_server) plays CSIRTAmericas' MISP on
127.0.0.1: we push the GREEN event of a new incident through the gate, push again (nothing is
sent twice), and write a MISP feed for the GREEN community into the demo workspace
(``<workspace>/misp-feed``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from cirt.demos.misp_server import running
from cirt.ingest import import_file
from cirt.tlp import TLP, TLP1_MARKING_IDS
from cirt.workspace import Workspace

PARTNER = "csirtamericas"
STAMP = "2026-03-09T15:30:00.000Z"


def run_chapter(ws: Workspace, say: Callable[[str], None]) -> None:
    say("# MISP: a partner's bundle in, a GREEN event out to a MISP, a feed for the community")
    bundle_path = ws.home / "csirtamericas-bundle.json"
    bundle_path.write_text(json.dumps(_partner_bundle(ws), indent=1), encoding="utf-8")
    first = import_file(ws.context, str(bundle_path), source="csirtamericas")
    s = first.summary
    say(
        f"$ cirt import {bundle_path.name} --source csirtamericas -> {s.new} new,"
        f" {s.updated} updated, {s.duplicates} duplicate(s), {len(s.rejected)} rejected"
    )
    for ref, reason in s.rejected:
        say(f"  rejected {ref}: {reason}")
    again = import_file(ws.context, str(bundle_path), source="csirtamericas").summary
    say(f"Imported again: {again.new} new, {again.duplicates} duplicate(s) — nothing twice.")

    incident = ws.incidents.open(
        title="Botnet C2 contacted from BTL customer range",
        category="malicious-code:c2-server",
        severity="medium",
        organisations=["btl"],
        tlp="green",
        summary="Customer routers beacon to a regional botnet controller.",
    )
    ws.indicators.add(
        form="ip",
        value="203.0.113.210",
        incident=incident.reference,
        tlp="green",
        name="Botnet controller seen from BTL",
    )
    ws.indicators.add(
        form="domain",
        value="update-btl-router.example",
        incident=incident.reference,
        tlp="green",
        name="Fake firmware site",
    )
    say(f"Opened {incident.reference} (TLP:GREEN) with two GREEN indicators.")

    key = secrets.token_hex(16)
    with running(key) as server:
        _point(ws.home, server.url, key)
        with Workspace.open(ws.home, clock=ws.clock) as ours:
            sent = ours.misp.push(PARTNER)
            resent = ours.misp.push(PARTNER)
            event = server.state.events.get(sent.sent[-1]) if sent.sent else None
        say(f"A MISP-compatible server plays CSIRTAmericas' MISP at {server.url}.")
        say(
            f"$ cirt misp push {PARTNER} -> {len(sent.sent)} event(s) sent; again ->"
            f" {len(resent.sent)} sent, {len(resent.unchanged)} unchanged."
        )
        if event is not None:
            tags = ", ".join(t["name"] for t in event.get("Tag", []))
            say(
                f"  the partner holds event {event['uuid']} '{event['info']}' with"
                f" {len(event.get('Attribute', []))} attribute(s), tags {tags}, distribution"
                f" {event.get('distribution')}"
            )
        say(
            "Nothing above GREEN (CSIRTAmericas' max_tlp) left: the gate decided every"
            " attribute, and each push is recorded in the disclosure log before it is sent."
        )

    feed_dir = ws.home / "misp-feed"
    feed = ws.misp.write_feed(feed_dir, PARTNER)
    say(
        f"$ cirt misp feed {feed_dir} --for {PARTNER} -> {len(feed.events)} event(s) for the"
        " GREEN community: manifest.json, hashes.csv and one JSON file per event, ready for a"
        " MISP to subscribe to."
    )
    for item in feed.events:
        say(f"  {item['uuid']}  {item['attributes']} attribute(s)  {item['info']}")


def _partner_bundle(ws: Workspace) -> dict[str, Any]:
    """What CSIRTAmericas sends: GREEN and TLP 1.0 AMBER indicators, and one broken pattern."""
    partner = ws.community.partner(PARTNER)
    amber_1_0 = next(k for k, v in TLP1_MARKING_IDS.items() if v is TLP.AMBER)
    identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": partner.identity,
        "created": STAMP,
        "modified": STAMP,
        "name": partner.name,
        "identity_class": "organization",
    }
    objects: list[dict[str, Any]] = [identity]
    rows = [
        ("203.0.113.210", TLP.GREEN.marking_id, "Regional botnet controller"),
        ("198.51.100.66", TLP.GREEN.marking_id, "Credential phishing host"),
        ("198.51.100.67", amber_1_0, "Exfiltration server (TLP 1.0 AMBER)"),
    ]
    for n, (address, marking, name) in enumerate(rows):
        objects.append(_indicator(n, f"[ipv4-addr:value = '{address}']", marking, name, partner.identity))
    objects.append(
        _indicator(
            9,
            "[ipv4-addr:value = '198.51.100.68'",
            TLP.GREEN.marking_id,
            "Truncated in transit",
            partner.identity,
        )
    )
    return {"type": "bundle", "id": "bundle--3b9b1f0e-5d41-4c2e-9a43-2f8f0d6b7c10", "objects": objects}


def _indicator(n: int, pattern: str, marking: str, name: str, creator: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--6a1f0c2e-8b3d-4e5f-9a7b-00000000000{n}",
        "created_by_ref": creator,
        "created": STAMP,
        "modified": STAMP,
        "name": name,
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": STAMP,
        "object_marking_refs": [marking],
    }


def _point(home: Path, url: str, key: str) -> None:
    """sectors.yaml names the local server as the partner's MISP; secrets.toml holds the key."""
    path = home / "sectors.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    for partner in data["partners"]:
        if partner["id"] == PARTNER:
            partner["misp"] = {"url": url}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    secrets_path = home / "secrets.toml"
    name = f"misp_{PARTNER}_key"
    lines = secrets_path.read_text(encoding="utf-8").splitlines() if secrets_path.exists() else []
    lines = [line for line in lines if line.split("=")[0].strip() != name]
    lines.append(f'{name} = "{key}"')
    secrets_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    secrets_path.chmod(0o600)
