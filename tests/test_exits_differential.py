"""Every exit, against an independent reading of the README's rules table.

Generated stores (``release_cases``: several versions at different markings, received objects,
granular markings, extensions, custom ``*_ref`` properties, containers, context objects, values
naming parties, incidents and tasks) are sent through every exit to every party: ``export
--for`` (whole store and ``--incident``), bulletins (md, html, txt, stix), MISP export and feed,
TAXII objects, object, versions and manifest (with ``match`` filters) and what TAXII push would
send.  The reference filter below is written from the README's table, not from the gate: a
version the table withholds from a recipient (by its own marking or its newest version's) must
not show in what that recipient gets, neither its id (unless another version of the object may
go) nor any of its values; no output names another party or an internal incident reference.
At least 2,000 (exit, recipient, version) cases per run; the seed is printed on failure
(``CIRT_DIFF_SEED`` replays it).
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from release_cases import Generated, Generator

from cirt.community import Community
from cirt.errors import SharingDenied
from cirt.incidents import OUR_EXTENSION_ID
from cirt.misp.to_misp import event_dict
from cirt.servers.taxii import TaxiiApp
from cirt.store.incidents import IncidentRow
from cirt.taxii.auth import issue_credential
from cirt.taxii.release import Gatekeeper
from cirt.tlp import TLP, level_of_marking
from cirt.workspace import Workspace

ROUNDS = 4
OBJECTS = 12
SINCE = "2000-01-01T00:00:00Z"

# --- the README's table, read independently ---------------------------------------------------


def may_receive(
    level: TLP, received: bool, audience: list[str], recipient: str, community: Community, machine: bool
) -> bool:
    """The README's table: CLEAR anyone; GREEN community members, never public; AMBER and
    AMBER+STRICT organisations in the audience; RED named contacts in the audience, never by
    TAXII or MISP, never to an organisation as a whole.  Received: AMBER+STRICT and RED never
    leave, AMBER only to constituent organisations in the audience.  A partner's max_tlp caps."""
    kind, _, who = recipient.partition(":")
    if kind == "partner" and level > community.partners[who].max_tlp:
        return False
    if level is TLP.CLEAR:
        return True
    if kind == "public":
        return False
    party = community.contact(who).party_id if kind == "contact" else who
    if level is TLP.GREEN:
        return community.party(party).community
    if received and level >= TLP.AMBER_STRICT:
        return False
    if level is TLP.RED:
        return kind == "contact" and not machine and who in audience
    if party not in audience and not (kind == "contact" and who in audience):
        return False
    if received:
        org = community.organisations.get(party)
        return org is not None and org.role == "constituent"
    return True


def level_of(obj: dict[str, Any], community: Community) -> TLP | None:
    """The object's TLP (None: a marking nobody here knows, withheld whatever the table says)."""
    levels = [level_of_marking(m) for m in obj.get("object_marking_refs", ())]
    if any(level is None for level in levels):
        return None
    known = [level for level in levels if level is not None]
    return max(known) if known else community.default_tlp


class Oracle:
    """What must not show in what one recipient gets, by the table alone."""

    def __init__(self, store: Generated, community: Community, recipient: str, machine: bool) -> None:
        latest = store.latest
        allowed_ids: set[str] = set()
        allowed_values: set[str] = set()
        self.ids: set[str] = set()
        self.values: set[str] = set()
        self.cases = 0
        for obj, kind, _ in store.versions:
            if obj["type"] in ("marking-definition",):
                continue
            audience = store.audience.get(obj["id"], [])
            ok = True
            for version in (obj, latest[obj["id"]]):
                level = level_of(version, community)
                ok = (
                    ok
                    and level is not None
                    and may_receive(level, kind != "local", audience, recipient, community, machine)
                )
            values = {v for v in _strings(obj) if v.startswith("secret-")}
            self.cases += 1
            if ok:
                allowed_ids.add(obj["id"])
                allowed_values |= values
            else:
                self.ids.add(obj["id"])
                self.values |= values
        self.ids -= allowed_ids
        self.values -= allowed_values
        self.references = {
            o["extensions"][OUR_EXTENSION_ID]["reference"]
            for o, _, _ in store.versions
            if o["type"] == "incident"
        }
        if recipient.startswith(("org:", "contact:")):
            kind, _, who = recipient.partition(":")
            own = community.contact(who).party_id if kind == "contact" else who
        else:
            own = recipient.partition(":")[2]
        self.others = {
            name
            for p in (*community.organisations.values(), *community.partners.values())
            if p.id != own
            for name in (p.id, p.identity)
        }

    def check(self, text: str, what: str) -> None:
        for object_id in self.ids:
            assert object_id not in text, f"{what}: withheld {object_id}"
        for value in self.values:
            assert value not in text, f"{what}: withheld value {value}"
        for reference in self.references:
            assert reference not in text, f"{what}: the internal reference {reference}"
        for name in self.others:
            # attribution (created_by_ref) and an identity object of its own are not audience
            for found in re.finditer(re.escape(json.dumps(name)), text):
                before = text[max(0, found.start() - 20) : found.start()]
                assert re.search(r'"(created_by_ref|id)": ?$', before), f"{what}: names {name}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# --- the exits ----------------------------------------------------------------------------------


def _index_incidents(ws: Workspace, store: Generated, rng: random.Random) -> list[str]:
    """Generated incidents as the desk would index them, with some objects linked."""
    ids = []
    others = [o["id"] for o in store.latest.values() if o["type"] != "incident"]
    for obj in store.latest.values():
        if obj["type"] != "incident":
            continue
        ours = obj["extensions"][OUR_EXTENSION_ID]
        ws.store.index_incident(
            IncidentRow(
                id=obj["id"],
                reference=ours["reference"],
                title=obj["name"],
                status="open",
                severity="low",
                category="fraud:phishing",
                tlp=int(TLP.GREEN),
                escalation="sector",
                assignee=None,
                created=obj["created"],
                modified=obj["modified"],
                organisations=tuple(ours["affected_organisations"]),
            )
        )
        for linked in rng.sample(others, min(len(others), 3)):
            ws.store.link(obj["id"], linked)
        ids.append(obj["id"])
    return ids


def _taxii(app: TaxiiApp, auth: str, path: str, query: str = "") -> str:
    out: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]]) -> None:
        out["headers"] = headers

    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_AUTHORIZATION": auth,
        "wsgi.input": io.BytesIO(b""),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "1",
    }
    body = b"".join(app(environ, start)).decode()
    return body + json.dumps(out["headers"])


def _exits(
    ws: Workspace,
    store: Generated,
    recipient: str,
    incidents: list[str],
    app: TaxiiApp,
    auth: dict[str, str],
    tmp: Path,
) -> Iterator[tuple[str, str, bool]]:
    """(exit, text sent or written, machine channel) for one recipient."""
    kind, _, who = recipient.partition(":")
    bundle = ws.sharing.export_release(recipient).bundle("bundle--0")
    yield "export --for", json.dumps(bundle), False
    for incident in incidents:
        bundle = ws.sharing.export_release(recipient, incident).bundle("bundle--0")
        yield "export --incident", json.dumps(bundle), False
    if kind == "org":
        for fmt in ("md", "html", "txt", "stix"):
            built = ws.bulletins.build(who, period=datetime(2000, 1, 1, tzinfo=UTC), fmt=fmt)
            yield f"bulletin {fmt}", built.text, False
    if kind in ("org", "partner"):
        try:
            event = ws.misp.export(who, since=SINCE)
            yield "misp export", json.dumps(event_dict(event.event)), True
        except SharingDenied:
            pass
        feed = ws.misp.write_feed(tmp / f"feed-{who}", who)
        for path in sorted((tmp / f"feed-{who}").iterdir()):
            yield "misp feed", path.read_text(), True
        assert feed.directory
        root = "/cirt/collections"
        for collection in ("indicators", "incidents"):
            for query in (
                "",
                "match[version]=all",
                "match[version]=first",
                "match[version]=2026-03-01T00:00:00.000Z",
                "match[type]=indicator",
                "match[spec_version]=2.1&limit=3",
            ):
                for endpoint in ("objects", "manifest"):
                    yield (
                        f"taxii {endpoint} {query}",
                        _taxii(app, auth[who], f"{root}/{collection}/{endpoint}/", query),
                        True,
                    )
            for object_id in list(store.latest)[:8]:
                for tail, query in (("", ""), ("", "match[version]=all"), ("versions/", "")):
                    yield (
                        f"taxii object {tail}{query}",
                        _taxii(app, auth[who], f"{root}/{collection}/objects/{object_id}/{tail}", query),
                        True,
                    )
        if kind == "partner":
            rows = list(ws.store.latest_objects())
            pushed = Gatekeeper(ws.context, ws.sharing).release_for_push(rows, who)
            yield "taxii push", json.dumps([dict(o) for o in pushed.objects]), True


def test_every_exit_holds_back_what_the_table_withholds(tmp_path: Path) -> None:
    seed = int(os.environ.get("CIRT_DIFF_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    cases = 0
    for round_ in range(ROUNDS):
        home = tmp_path / f"ws{round_}"
        with Workspace.init(home, clock=lambda: datetime(2026, 3, 10, tzinfo=UTC)) as ws:
            community = ws.community
            generator = Generator(rng, community)
            store = generator.store(ws, OBJECTS)
            incidents = _index_incidents(ws, store, rng)
            parties = [*community.organisations, *community.partners]
            auth = {}
            for party in parties:
                cred = issue_credential(ws, party)
                auth[party] = (
                    "Basic " + base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()
                )

            def this_workspace(ws: Workspace = ws) -> Workspace:
                return ws

            app = TaxiiApp(this_workspace)
            recipients = [
                *(f"org:{o}" for o in community.organisations),
                *(f"partner:{p}" for p in community.partners),
                "public",
                "contact:soc@cbb.bz.example",
                "contact:cirt@bel.bz.example",
            ]
            for recipient in recipients:
                oracles = {machine: Oracle(store, community, recipient, machine) for machine in (False, True)}
                for exit_, text, machine in _exits(
                    ws, store, recipient, incidents, app, auth, tmp_path / f"out{round_}"
                ):
                    oracle = oracles[machine]
                    oracle.check(text, f"seed {seed} round {round_} {recipient} {exit_}")
                    cases += oracle.cases
    assert cases >= 2000, cases


def test_the_reference_table_is_the_readmes(tmp_path: Path) -> None:
    """A few rows of the table, so the reference itself is checked against the README."""
    with Workspace.init(tmp_path / "ws") as ws:
        community = ws.community
    assert may_receive(TLP.CLEAR, False, [], "public", community, False)
    assert not may_receive(TLP.GREEN, False, [], "public", community, False)
    assert may_receive(TLP.GREEN, False, [], "org:bel", community, True)
    assert not may_receive(TLP.AMBER, False, ["cbb"], "org:bel", community, False)
    assert may_receive(TLP.AMBER, False, ["bel"], "org:bel", community, False)
    assert not may_receive(TLP.RED, False, ["cbb"], "org:cbb", community, False)
    assert may_receive(TLP.RED, False, ["soc@cbb.bz.example"], "contact:soc@cbb.bz.example", community, False)
    assert not may_receive(
        TLP.RED, False, ["soc@cbb.bz.example"], "contact:soc@cbb.bz.example", community, True
    )
    assert not may_receive(TLP.AMBER_STRICT, True, ["cbb"], "org:cbb", community, False)
    assert not may_receive(
        TLP.AMBER, False, ["csirtamericas"], "partner:csirtamericas", community, True
    )  # above its max_tlp
