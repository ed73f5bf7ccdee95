"""Two parties, one collection: what the gate withholds from one never reaches it, anywhere.

The Central Bank (cbb) and the electricity company (bel) both read the same collections of one
``cirt taxii serve``.  Each has AMBER objects shared with it alone.  Every byte bel receives is
checked for cbb's objects: bodies, headers, errors, paging flags and tokens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from cirt.taxii.auth import IssuedCredential, issue_credential
from cirt.taxii.collections import COLLECTIONS
from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.taxii_fixtures import CirtServer, cirt_server, indicator, seed

INDICATORS, INCIDENTS, _ = (c.id for c in COLLECTIONS)
TAXII = "application/taxii+json;version=2.1"
UNKNOWN = "indicator--deadbeef-0000-4000-8000-000000000000"

GREEN = [indicator(i, TLP.GREEN, prefix="6666") for i in range(5)]
CBB_ONLY = [indicator(i, TLP.AMBER, prefix="c0bb", name=f"secret-cbb-{i}") for i in range(5)]
CBB_NEWER = {**CBB_ONLY[0], "modified": "2026-03-04T00:00:00.000Z", "name": "secret-cbb-v2"}
BEL_ONLY = [indicator(i, TLP.AMBER, prefix="0be1", name=f"for-bel-{i}") for i in range(3)]
LINK = {
    "type": "relationship",
    "spec_version": "2.1",
    "id": "relationship--6666aaaa-0000-4000-8000-000000000001",
    "created": "2026-03-01T00:00:00.000Z",
    "modified": "2026-03-01T00:00:00.000Z",
    "relationship_type": "related-to",
    "source_ref": GREEN[0]["id"],
    "target_ref": CBB_ONLY[0]["id"],
    "object_marking_refs": [TLP.GREEN.marking_id],
}
REPORT = {
    "type": "report",
    "spec_version": "2.1",
    "id": "report--6666aaaa-0000-4000-8000-000000000002",
    "created": "2026-03-01T00:00:00.000Z",
    "modified": "2026-03-01T00:00:00.000Z",
    "name": "Weekly summary",
    "published": "2026-03-01T00:00:00.000Z",
    "object_refs": [GREEN[1]["id"], CBB_ONLY[1]["id"]],
    "object_marking_refs": [TLP.GREEN.marking_id],
}
HIDDEN = [o["id"] for o in CBB_ONLY] + [LINK["id"]]


@dataclass
class Two:
    server: CirtServer
    home: Path
    creds: dict[str, IssuedCredential]

    def get(self, party: str, path: str, **params: Any) -> requests.Response:
        cred = self.creds[party]
        return requests.get(
            f"{self.server.api_root}{path}",
            params=params,
            auth=(cred.username, cred.password),
            headers={"Accept": TAXII},
            timeout=10,
        )


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Two]:
    home = tmp_path_factory.mktemp("two") / "ws"
    with Workspace.init(home) as ws:
        # bel's objects first, cbb's last: bel's final page is followed only by what it may
        # not see, where a careless server says "more" or hands out a token
        seed(
            ws,
            [(o, TLP.GREEN) for o in GREEN]
            + [(o, TLP.AMBER) for o in BEL_ONLY]
            + [(LINK, TLP.GREEN), (REPORT, TLP.GREEN)]
            + [(o, TLP.AMBER) for o in CBB_ONLY]
            + [(CBB_NEWER, TLP.AMBER)],
            audience={**{o["id"]: ["cbb"] for o in CBB_ONLY}, **{o["id"]: ["bel"] for o in BEL_ONLY}},
        )
        creds = {p: issue_credential(ws, p) for p in ("cbb", "bel")}
    with cirt_server(home) as server:
        yield Two(server, home, creds)


def _page_all(
    two: Two, party: str, endpoint: str, collection: str = INDICATORS, **params: Any
) -> list[requests.Response]:
    responses = [two.get(party, f"collections/{collection}/{endpoint}/", limit=2, **params)]
    while responses[-1].json().get("more"):
        responses.append(
            two.get(
                party,
                f"collections/{collection}/{endpoint}/",
                limit=2,
                next=responses[-1].json()["next"],
                **params,
            )
        )
        assert len(responses) < 50
    return responses


def _leaks(responses: list[requests.Response]) -> list[str]:
    found = []
    for response in responses:
        text = response.text + repr(sorted(response.headers.items()))
        found += [h for h in HIDDEN if h in text]
        if "secret-cbb" in text:
            found.append("secret-cbb")
    return found


def test_two_parties_asking_the_same_collection_see_different_objects(two: Two) -> None:
    def ids(party: str) -> set[str]:
        return {o["id"] for r in _page_all(two, party, "objects") for o in r.json()["objects"]}

    cbb, bel = ids("cbb"), ids("bel")
    assert {o["id"] for o in CBB_ONLY} <= cbb and not {o["id"] for o in CBB_ONLY} & bel
    assert {o["id"] for o in BEL_ONLY} <= bel and not {o["id"] for o in BEL_ONLY} & cbb
    assert {o["id"] for o in GREEN} <= cbb & bel
    assert LINK["id"] in cbb and LINK["id"] not in bel


@pytest.mark.parametrize("endpoint", ["objects", "manifest"])
@pytest.mark.parametrize("version", ["last", "all", "first"])
def test_no_withheld_byte_in_any_page_header_or_token(two: Two, endpoint: str, version: str) -> None:
    pages = _page_all(two, "bel", endpoint, **{"match[version]": version})
    pages += _page_all(two, "bel", endpoint, INCIDENTS, **{"match[version]": version})
    assert _leaks(pages) == []
    assert pages[-1].json()["more"] is False  # nothing "more" after bel's last object


def test_a_report_loses_the_reference_bel_may_not_see(two: Two) -> None:
    (response,) = _page_all(two, "bel", "objects", INCIDENTS)
    (report,) = [o for o in response.json()["objects"] if o["type"] == "report"]
    assert report["object_refs"] == [GREEN[1]["id"]]
    (full,) = [
        o
        for r in _page_all(two, "cbb", "objects", INCIDENTS)
        for o in r.json()["objects"]
        if o["type"] == "report"
    ]
    assert full["object_refs"] == REPORT["object_refs"]


def _comparable(response: requests.Response) -> tuple[int, str, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k.lower() != "date"}
    return response.status_code, response.text, headers


@pytest.mark.parametrize("path", ["objects/{id}/", "objects/{id}/versions/"])
def test_a_withheld_id_answers_exactly_like_an_unknown_one(two: Two, path: str) -> None:
    for hidden in HIDDEN:
        collection = INCIDENTS if hidden.startswith("relationship") else INDICATORS
        withheld = two.get("bel", f"collections/{collection}/" + path.format(id=hidden))
        unknown = two.get("bel", f"collections/{collection}/" + path.format(id=UNKNOWN))
        assert withheld.status_code == 404
        assert _comparable(withheld) == _comparable(unknown)
    assert two.get("cbb", f"collections/{INDICATORS}/" + path.format(id=CBB_ONLY[0]["id"])).status_code == 200


@pytest.mark.parametrize("endpoint", ["objects", "manifest"])
def test_matching_a_withheld_id_is_an_empty_answer_like_an_unknown_id(two: Two, endpoint: str) -> None:
    url = f"collections/{INDICATORS}/{endpoint}/"
    withheld = two.get("bel", url, **{"match[id]": CBB_ONLY[2]["id"], "match[version]": "all"})
    unknown = two.get("bel", url, **{"match[id]": UNKNOWN, "match[version]": "all"})
    assert _comparable(withheld) == _comparable(unknown)
    assert withheld.json() == {"more": False, "objects": []}


def test_versions_of_a_shared_object_list_only_what_the_party_may_see(two: Two) -> None:
    versions = two.get("cbb", f"collections/{INDICATORS}/objects/{CBB_ONLY[0]['id']}/versions/")
    assert versions.json()["versions"] == [CBB_ONLY[0]["modified"], CBB_NEWER["modified"]]


def test_every_page_bel_read_is_in_the_disclosure_log_with_only_bel_objects(two: Two) -> None:
    pages = _page_all(two, "bel", "objects")
    with Workspace.open(two.home) as ws:
        entries = ws.audit.entries(to="org:bel")
    assert len(entries) >= len(pages)
    logged = {ref[0] for e in entries for ref in e.objects}
    assert logged and not logged & set(HIDDEN)
    assert all(e.channel == "taxii" for e in entries)


# -- the shortcut for plain objects agrees with the gate, object by object -----------------

_MARKINGS = [
    TLP.CLEAR.marking_id,
    TLP.GREEN.marking_id,
    TLP.AMBER.marking_id,
    TLP.RED.marking_id,
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
    "marking-definition--00000000-0000-4000-8000-00000000abcd",
]
_CREATORS = [
    "identity--e33b703c-a631-5672-a1bc-d5c26b3e3afa",  # the national CIRT
    "identity--0000aaaa-0000-4000-8000-000000000000",
]  # unknown to the community
_COUNTER = iter(range(10**9))


@st.composite
def _objects(draw: Any) -> tuple[dict[str, Any], int, list[str], str]:
    obj = indicator(next(_COUNTER), prefix="f1a7")
    markings = draw(st.lists(st.sampled_from(_MARKINGS), max_size=2, unique=True))
    if markings or draw(st.booleans()):
        obj["object_marking_refs"] = markings
    else:
        obj.pop("object_marking_refs")
    if draw(st.booleans()):
        obj["created_by_ref"] = draw(st.sampled_from(_CREATORS))
    if draw(st.booleans()):
        obj["kill_chain_phases"] = [{"kill_chain_name": "lockheed", "phase_name": "recon"}]
    if draw(st.booleans()):  # a nested marking list the gate ignores for the object's level
        obj["extensions"] = {
            "x-note": {"object_marking_refs": [TLP.CLEAR.marking_id], "extension_type": "property-extension"}
        }
    if draw(st.booleans()):
        obj["sample_refs"] = [GREEN[0]["id"]]
    if draw(st.booleans()):
        obj["granular_markings"] = [
            {"marking_ref": draw(st.sampled_from(_MARKINGS[:4])), "selectors": ["name"]}
        ]
    column = draw(st.sampled_from([int(t) for t in TLP]))
    audience = draw(st.lists(st.sampled_from(["cbb", "bel", "csirtamericas"]), unique=True))
    origin = draw(st.sampled_from(["local", "taxii"]))
    return obj, column, audience, origin


@settings(max_examples=80, deadline=None)
@given(case=_objects())
def test_plain_objects_are_released_exactly_as_the_gate_releases_them(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[dict[str, Any], int, list[str], str]
) -> None:
    from cirt.store import Provenance
    from cirt.taxii.release import Gatekeeper

    obj, column, audience, origin = case
    ws = _shared_workspace(tmp_path_factory)
    ws.store.put(obj, tlp=column, provenance=Provenance(origin, "tester"))
    ws.store.add_audience(obj["id"], "org", audience)
    row = ws.store.get(obj["id"])
    assert row is not None
    keeper = Gatekeeper(ws.context, ws.sharing)
    for party in ("cbb", "bel", "cto", "csirtamericas"):
        fast = [(r.row.id, r.text) for r in keeper.decide([row], party)]
        kept, _ = keeper.sift([row], party)
        full = sorted(keeper._decide_round(kept, party).items()) if kept else []
        assert fast == [(k[0], text) for k, text in full], (party, obj)


_WORKSPACES: dict[str, Workspace] = {}


def _shared_workspace(factory: pytest.TempPathFactory) -> Workspace:
    if "ws" not in _WORKSPACES:
        ws = Workspace.init(factory.mktemp("plain") / "ws")
        seed(ws, [(GREEN[0], TLP.GREEN)])
        _WORKSPACES["ws"] = ws
    return _WORKSPACES["ws"]
