"""Demo chapter: TAXII 2.1 with a partner, both ways, and our own server handing out shares.

A second workspace plays CSIRTAmericas: it runs ``cirt taxii serve`` on 127.0.0.1 with its own
regional indicators and a credential for us.  We discover it, pull from it (twice: the second
pull finds nothing new), and push to it what the gate lets a GREEN-community partner have.
Then our own ``cirt taxii serve`` runs and the partner's workspace pulls from it: it receives
its share and nothing of the AMBER incident.  Both servers are stopped at the end.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from cirt.demos.servers import taxii_server
from cirt.store import Provenance
from cirt.taxii.auth import IssuedCredential, issue_credential, secret_names
from cirt.taxii.collections import COLLECTIONS
from cirt.tlp import TLP
from cirt.workspace import Workspace

PARTNER = "csirtamericas"
INDICATORS, INCIDENTS, INBOX = (c.id for c in COLLECTIONS)


def run_chapter(ws: Workspace, say: Callable[[str], None]) -> None:
    say("# TAXII 2.1: a partner's server, pulled and pushed; our server, each party its share")
    partner_home = Path(tempfile.mkdtemp(prefix="cirt-demo-partner-")) / PARTNER
    with Workspace.init(partner_home) as partner:
        _become_partner(partner)
    with Workspace.open(partner_home) as partner:
        partner.store.put_many(
            _regional_indicators(partner), provenance=Provenance("local", "csirtamericas-analyst")
        )
        for_us = issue_credential(partner, ws.community.national.id)
    say(
        f"CSIRTAmericas (a second workspace at {partner_home}) serves 3 regional indicators "
        "and has issued us a credential."
    )

    with taxii_server(partner_home) as partner_url:
        _point(ws.home, PARTNER, partner_url, pull=[INDICATORS], push=INBOX)
        _store_secret(ws.home, PARTNER, for_us)
        with Workspace.open(ws.home, clock=ws.clock) as ours:
            found = ours.taxii.discover(PARTNER)
            for root in found.api_roots:
                for c in root.collections:
                    say(
                        f"  {found.title}: collection {c.title!r} read={c.can_read} "
                        f"write={c.can_write} {('(' + c.configured + ')') if c.configured else ''}"
                    )
            first = ours.taxii.pull(PARTNER).collections[0]
            say(
                f"cirt taxii pull {PARTNER}: {first.new} new, {first.duplicates} duplicate, "
                f"{len(first.rejected)} rejected; cursor at {first.cursor}"
            )
            again = ours.taxii.pull(PARTNER).collections[0]
            say(f"Pulled again: {again.received} received — the cursor asks only for what is new.")
            ours.indicators.add(
                form="ip",
                value="198.51.100.77",
                tlp="green",
                name="Scanner probing BEL and BTL (shared with the community)",
            )
            sent = ours.taxii.push(PARTNER)
            say(
                f"cirt taxii push {PARTNER}: {sent.sent} objects sent in {sent.envelopes} "
                f"envelope(s), {sent.withheld} withheld by the gate (TLP:AMBER and above never "
                "reach a partner whose max_tlp is GREEN)."
            )
            resent = ours.taxii.push(PARTNER)
            say(f"Pushed again: {resent.sent} sent, {resent.already} already there.")
    with Workspace.open(partner_home) as partner:
        inbox = sum(1 for _ in partner.store.latest_objects(origin="taxii"))
    say(f"CSIRTAmericas' store now holds {inbox} objects received from us through its inbox.")

    for_partner = issue_credential(ws, PARTNER)
    with taxii_server(ws.home) as our_url:
        _point(partner_home, ws.community.national.id, our_url, pull=[INDICATORS, INCIDENTS])
        _store_secret(partner_home, ws.community.national.id, for_partner)
        with Workspace.open(partner_home) as partner:
            got = partner.taxii.pull(ws.community.national.id)
        received = sum(c.received for c in got.collections)
        held = sum(1 for _ in ws.store.latest_objects())
        say(
            f"Our server at {our_url}: CSIRTAmericas read {received} of the {held} objects we "
            "hold — its share (CLEAR and GREEN); the AMBER incident and its indicators stayed "
            "home, and every page it read is in our disclosure log."
        )
    say("Both TAXII servers are stopped.")


def _become_partner(partner: Workspace) -> None:
    """Make the second workspace CSIRTAmericas: itself as the CIRT, the Belize CIRT a partner."""
    path = partner.config.sectors_path
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    me = next(p for p in data["partners"] if p["id"] == PARTNER)
    national = data["national_cirt"]
    data["national_cirt"] = {
        "id": PARTNER,
        "name": me["name"],
        "identity": me["identity"],
        "contacts": me.get("contacts", []),
    }
    data["organisations"] = []
    data["partners"] = [
        {
            "id": national["id"],
            "name": national["name"],
            "identity": national["identity"],
            "community": True,
            "max_tlp": "green",
            "contacts": national.get("contacts", []),
        }
    ]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _regional_indicators(partner: Workspace) -> list[tuple[dict[str, Any], int]]:
    stamp = "2026-03-09T12:00:00.000Z"
    out = []
    for value, level in (
        ("203.0.113.200", TLP.GREEN),
        ("203.0.113.201", TLP.GREEN),
        ("198.51.100.250", TLP.CLEAR),
    ):
        out.append(
            (
                {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": partner.ids("indicator"),
                    "created": stamp,
                    "modified": stamp,
                    "created_by_ref": partner.community.national.identity,
                    "name": f"Regional botnet controller {value}",
                    "pattern_type": "stix",
                    "pattern": f"[ipv4-addr:value = '{value}']",
                    "valid_from": stamp,
                    "object_marking_refs": [level.marking_id],
                },
                int(level),
            )
        )
    return out


def _point(home: Path, peer: str, discovery: str, *, pull: list[str], push: str | None = None) -> None:
    """The workspace's own sectors.yaml names the local server as the peer's TAXII endpoint."""
    path = home / "sectors.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    for partner in data["partners"]:
        if partner["id"] == peer:
            partner["taxii"] = {
                "discovery": discovery,
                "api_root": discovery.replace("/taxii2/", "/cirt/"),
                "pull_collections": pull,
                "push_collection": push,
            }
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _store_secret(home: Path, peer: str, credential: IssuedCredential) -> None:
    """The peer's credential into the workspace's secrets.toml (replacing an earlier one)."""
    path = home / "secrets.toml"
    names = secret_names(peer)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    lines = [line for line in lines if line.split("=")[0].strip() not in names]
    lines += [f'{names[0]} = "{credential.username}"', f'{names[1]} = "{credential.password}"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
