"""``cirt taxii serve`` driven by taxii2-client, the real client, over loopback.

One server process for the module (seeded once; tests that write use their own objects), with a
page size lowered to 50 and a 20,000-byte max_content_length so that paging and 413 are cheap.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from taxii2client.v21 import ApiRoot, Collection, Server, as_pages

from cirt.taxii.auth import IssuedCredential, issue_credential, revoke_credential
from cirt.taxii.collections import COLLECTIONS
from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.taxii_fixtures import CirtServer, cirt_server, indicator, seed
from tests.tls import loopback_certificate

INDICATORS, INCIDENTS, INBOX = (c.id for c in COLLECTIONS)
TAXII = "application/taxii+json;version=2.1"
MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
INCIDENT = {
    "type": "incident",
    "spec_version": "2.1",
    "id": "incident--5555aaaa-0000-4000-8000-000000000001",
    "created": "2026-03-01T00:00:00.000Z",
    "modified": "2026-03-01T00:00:00.000Z",
    "name": "Phishing wave",
    "object_marking_refs": [TLP.GREEN.marking_id],
}
VERSIONED = [
    indicator(1, TLP.GREEN, prefix="3333", modified=f"2026-03-0{d}T00:00:00.000Z", name=f"v{d}")
    for d in (1, 2, 3)
]


@dataclass
class Served:
    server: CirtServer
    home: Path
    creds: dict[str, IssuedCredential]

    def collection(self, party: str, collection_id: str = INDICATORS) -> Collection:
        cred = self.creds[party]
        return Collection(
            f"{self.server.api_root}collections/{collection_id}/", user=cred.username, password=cred.password
        )

    def get(self, party: str | None, path: str, **params: Any) -> requests.Response:
        auth = (self.creds[party].username, self.creds[party].password) if party else None
        return requests.get(
            f"{self.server.api_root}{path}", params=params, auth=auth, headers={"Accept": TAXII}, timeout=10
        )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("served") / "ws"
    with Workspace.init(home) as ws:
        objects: list[tuple[dict[str, Any], TLP]] = []
        for i in range(40):
            objects += [
                (indicator(2 * i, TLP.CLEAR, prefix="1111"), TLP.CLEAR),
                (indicator(2 * i + 1, TLP.GREEN, prefix="1111"), TLP.GREEN),
            ]
        amber = [indicator(i, TLP.AMBER, prefix="2222") for i in range(10)]
        objects += [(o, TLP.AMBER) for o in amber]
        objects += [(v, TLP.GREEN) for v in VERSIONED] + [(INCIDENT, TLP.GREEN)]
        seed(ws, objects, audience={o["id"]: ["cbb"] for o in amber})
        creds = {p: issue_credential(ws, p) for p in ("cbb", "cto", "csirtamericas")}
    with cirt_server(home, "--max-page-size", "50", "--max-content-length", "20000") as server:
        yield Served(server, home, creds)


def _all(collection: Collection, **filters: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for envelope in as_pages(collection.get_objects, per_request=50, **filters):
        out += envelope.get("objects", [])
    return out


def test_discovery_api_root_and_collections(served: Served) -> None:
    cred = served.creds["cbb"]
    server = Server(served.server.discovery, user=cred.username, password=cred.password)
    assert server.title == "National CIRT of Belize TAXII server"
    assert [r.url for r in server.api_roots] == [served.server.api_root]
    root = ApiRoot(served.server.api_root, user=cred.username, password=cred.password)
    assert root.max_content_length == 20000
    assert root.versions == [TAXII]
    rights = {c.id: (c.title, c.can_read, c.can_write) for c in root.collections}
    assert rights == {
        INDICATORS: ("Indicators", True, False),
        INCIDENTS: ("Incidents", True, False),
        INBOX: ("Inbox", False, True),
    }
    one = served.collection("cbb", INCIDENTS)
    one.refresh()
    assert one.title == "Incidents"


def test_paging_to_the_end_returns_each_visible_object_once(served: Served) -> None:
    objects = _all(served.collection("cbb"))
    ids = [o["id"] for o in objects]
    assert len(ids) == len(set(ids)) == 40 + 40 + 10 + 1
    assert next(o for o in objects if o["id"] == VERSIONED[0]["id"])["name"] == "v3"
    assert INCIDENT["id"] not in ids
    assert [o["id"] for o in _all(served.collection("cbb", INCIDENTS))] == [INCIDENT["id"]]


def test_the_server_lowers_a_limit_above_its_page_size(served: Served) -> None:
    envelope = served.collection("cbb").get_objects(limit=500)
    assert len(envelope["objects"]) == 50 and envelope["more"] is True and envelope["next"]
    small = served.collection("cbb").get_objects(limit=7)
    assert len(small["objects"]) == 7


def test_filters_type_id_version_spec_version_and_added_after(served: Served) -> None:
    collection = served.collection("csirtamericas")
    assert {o["type"] for o in _all(collection, type="indicator")} == {"indicator"}
    assert _all(collection, type="malware") == []
    target = VERSIONED[0]["id"]
    assert [o["name"] for o in _all(collection, id=target)] == ["v3"]
    assert [o["name"] for o in _all(collection, id=target, version="all")] == ["v1", "v2", "v3"]
    assert [o["name"] for o in _all(collection, id=target, version="first")] == ["v1"]
    assert [o["name"] for o in _all(collection, id=target, version="2026-03-02T00:00:00Z")] == ["v2"]
    assert [o["name"] for o in _all(collection, id=target, version="first,last")] == ["v1", "v3"]
    assert len(_all(collection, spec_version="2.1")) == 81
    assert _all(collection, spec_version="2.0") == []
    manifest = collection.get_manifest(limit=50)["objects"]
    middle = manifest[30]["date_added"]
    after = _all(collection, added_after=middle)
    assert len(after) == 81 - 31
    assert all(m["date_added"] > middle for m in collection.get_manifest(added_after=middle)["objects"])


def test_added_after_combined_with_next_keeps_the_filter(served: Served) -> None:
    collection = served.collection("cbb")
    manifest = collection.get_manifest(limit=50)["objects"]
    start = manifest[9]["date_added"]
    first = collection.get_objects(added_after=start, limit=20)
    seen = [o["id"] for o in first["objects"]]
    envelope = first
    while envelope.get("more"):
        envelope = collection.get_objects(added_after=start, limit=20, next=envelope["next"])
        seen += [o["id"] for o in envelope["objects"]]
    assert len(seen) == len(set(seen)) == 91 - 10


def test_date_headers_are_rfc3339_with_microseconds_and_bound_the_page(served: Served) -> None:
    response = served.get("cbb", f"collections/{INDICATORS}/objects/", limit=5)
    first, last = (response.headers["X-TAXII-Date-Added-First"], response.headers["X-TAXII-Date-Added-Last"])
    assert MICRO.match(first) and MICRO.match(last) and first < last
    manifest = served.get("cbb", f"collections/{INDICATORS}/manifest/", limit=5).json()
    assert (manifest["objects"][0]["date_added"], manifest["objects"][-1]["date_added"]) == (first, last)
    assert response.headers["Content-Type"] == TAXII


def test_single_object_versions_and_manifest(served: Served) -> None:
    collection = served.collection("cbb")
    target = VERSIONED[0]["id"]
    assert [o["name"] for o in collection.get_object(target)["objects"]] == ["v3"]
    assert [o["name"] for o in collection.get_object(target, version="all")["objects"]] == ["v1", "v2", "v3"]
    versions = collection.object_versions(target)
    assert versions["versions"] == [v["modified"] for v in VERSIONED]
    entry = collection.get_manifest(id=target)["objects"][0]
    assert (entry["id"], entry["version"]) == (target, "2026-03-03T00:00:00.000Z")
    assert entry["media_type"] == "application/stix+json;version=2.1"


def test_unauthenticated_wrong_password_and_revoked_credentials_get_401(served: Served) -> None:
    assert served.get(None, "").status_code == 401
    cred = served.creds["cbb"]
    wrong = requests.get(
        served.server.api_root, auth=(cred.username, "not-it"), headers={"Accept": TAXII}, timeout=10
    )
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"].startswith("Basic")
    assert wrong.json() == {
        "title": "Unauthorized",
        "http_status": "401",
        "description": "valid credentials are required",
    }
    with Workspace.open(served.home) as ws:
        spare = issue_credential(ws, "bel")
        assert (
            requests.get(
                served.server.api_root,
                auth=(spare.username, spare.password),
                headers={"Accept": TAXII},
                timeout=10,
            ).status_code
            == 200
        )
        revoke_credential(ws.store, spare.username)
    assert (
        requests.get(
            served.server.api_root,
            auth=(spare.username, spare.password),
            headers={"Accept": TAXII},
            timeout=10,
        ).status_code
        == 401
    )


def test_reading_the_inbox_is_403_and_an_unknown_collection_404(served: Served) -> None:
    inbox = served.get("cto", f"collections/{INBOX}/objects/")
    assert inbox.status_code == 403 and inbox.json()["http_status"] == "403"
    assert served.get("cto", f"collections/{INBOX}/manifest/").status_code == 403
    missing = served.get("cto", "collections/00000000-0000-4000-8000-000000000000/objects/")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "-3"},
        {"limit": "ten"},
        {"added_after": "yesterday"},
        {"match[version]": "newest"},
        {"match[id]": "not-an-id"},
        {"match[type]": "Bad Type"},
        {"match[spec_version]": "two"},
        {"next": "!!garbage!!"},
        {"match[colour]": "red"},
        {"limit": ["1", "2"]},
        {"match[type]": ""},
    ],
)
def test_bad_query_parameters_are_400_never_500(served: Served, params: dict[str, Any]) -> None:
    response = served.get("cbb", f"collections/{INDICATORS}/objects/", **params)
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Bad Request" and body["http_status"] == "400"


def test_media_types_406_and_415(served: Served) -> None:
    cred = served.creds["cbb"]
    auth = (cred.username, cred.password)
    url = f"{served.server.api_root}collections/{INBOX}/objects/"
    assert (
        requests.get(
            served.server.api_root, auth=auth, timeout=10, headers={"Accept": "text/html"}
        ).status_code
        == 406
    )
    assert (
        requests.get(
            served.server.api_root,
            auth=auth,
            timeout=10,
            headers={"Accept": "application/taxii+json;version=2.0"},
        ).status_code
        == 406
    )
    posted = requests.post(
        url,
        auth=auth,
        timeout=10,
        data=b'{"objects": []}',
        headers={"Accept": TAXII, "Content-Type": "application/json"},
    )
    assert posted.status_code == 415


def test_a_body_over_max_content_length_is_413(served: Served) -> None:
    envelope = {"objects": [indicator(i, prefix="9999", name="x" * 500) for i in range(40)]}
    assert len(json.dumps(envelope)) > 20000
    with pytest.raises(requests.HTTPError) as caught:
        served.collection("csirtamericas", INBOX).add_objects(envelope)
    response = caught.value.response
    assert response is not None and response.status_code == 413


def test_post_to_the_inbox_ingests_with_the_writer_as_provenance(served: Served) -> None:
    good = indicator(1, TLP.GREEN, prefix="8888")
    bad = {**indicator(2, TLP.GREEN, prefix="8888"), "pattern": "[nonsense"}
    status = served.collection("csirtamericas", INBOX).add_objects({"objects": [good, bad]})
    assert status.status == "complete"
    assert (status.total_count, status.success_count, status.failure_count) == (2, 1, 1)
    assert status.failures[0]["id"] == bad["id"] and status.failures[0]["message"]
    status.refresh()  # GET status/<id>: the writer may read its own status
    assert status.success_count == 1
    assert served.get("cbb", f"status/{status.id}/").status_code == 404  # not someone else
    with Workspace.open(served.home) as ws:
        stored = ws.store.get(good["id"])
        assert stored is not None
        provenance = ws.store.provenance_of(stored.id, stored.modified)
        assert provenance is not None
        assert (provenance.source_kind, provenance.source, provenance.collection) == (
            "taxii",
            "csirtamericas",
            INBOX,
        )
        assert ws.store.get(bad["id"]) is None


def test_objects_added_while_a_client_pages_appear_once_at_the_end(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    with Workspace.init(home) as ws:
        seed(ws, [(indicator(i, TLP.CLEAR, prefix="7777"), TLP.CLEAR) for i in range(30)])
        cred = issue_credential(ws, "cto")
        with cirt_server(home, "--max-page-size", "10") as server:
            collection = Collection(
                f"{server.api_root}collections/{INDICATORS}/", user=cred.username, password=cred.password
            )
            envelope = collection.get_objects(limit=10)
            seen = [o["id"] for o in envelope["objects"]]
            late = [indicator(100 + i, TLP.CLEAR, prefix="7777") for i in range(5)]
            seed(ws, [(o, TLP.CLEAR) for o in late])
            newer = {
                **indicator(0, TLP.CLEAR, prefix="7777"),
                "modified": "2026-03-05T00:00:00.000Z",
                "name": "changed",
            }
            seed(ws, [(newer, TLP.CLEAR)])
            while envelope.get("more"):
                envelope = collection.get_objects(limit=10, next=envelope["next"])
                seen += [o["id"] for o in envelope["objects"]]
    assert len(seen) == 30 + 5 + 1  # the changed object's new version comes again, at the end
    assert seen[-6:] == [o["id"] for o in late] + [newer["id"]]


def test_repeating_a_next_token_answers_the_same_page_and_paging_ends(served: Served) -> None:
    collection = served.collection("cbb")
    first = collection.get_objects(limit=30)
    again_a = collection.get_objects(limit=30, next=first["next"])
    again_b = collection.get_objects(limit=30, next=first["next"])
    assert again_a == again_b
    pages, envelope = 1, first
    while envelope.get("more"):
        envelope = collection.get_objects(limit=30, next=envelope["next"])
        pages += 1
        assert pages < 10
    assert pages == 4  # 91 objects, 30 a page


def test_the_demo_chapter_exchanges_both_ways_and_stops_its_servers(tmp_path: Path) -> None:
    from cirt.demos.taxii import run_chapter

    said: list[str] = []
    with Workspace.init(tmp_path / "ws") as ws:
        incident = ws.incidents.open(
            title="Phishing",
            category="phishing",
            severity="medium",
            organisations=["cbb"],
            tlp="amber",
            description="x",
        )
        ws.indicators.add(form="domain", value="login-cbb.example", incident=incident.reference)
        run_chapter(ws, said.append)
        shared = {e.recipient for e in ws.audit.entries()}
    text = "\n".join(said)
    assert "cirt taxii pull csirtamericas: 3 new" in text
    assert "Pulled again: 0 received" in text
    assert "Pushed again: 0 sent" in text
    assert "partner:csirtamericas" in shared
    assert "login-cbb.example" not in text


def test_credentials_are_printed_once_stored_hashed_and_revocable(home: Path, cli: Any) -> None:
    added = cli("taxii", "credential", "add", "bws", "--json")
    assert added.code == 0, added.err
    issued = added.json()
    assert issued["party"] == "bws" and len(issued["password"]) >= 24
    with Workspace.open(home) as ws:
        row = ws.store.taxii_credential(issued["username"])
        assert row is not None and issued["password"] not in row.digest + row.salt
    listed = cli("taxii", "credential", "list", "--json").json()
    assert [c["username"] for c in listed] == [issued["username"]]
    assert "password" not in json.dumps(listed)
    assert cli("taxii", "credential", "remove", issued["username"]).code == 0
    assert cli("taxii", "credential", "list", "--json").json() == []
    unknown = cli("taxii", "credential", "add", "nobody")
    assert unknown.code == 1 and "'nobody' is neither an organisation nor a partner" in unknown.err


def test_tls_when_given_a_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they would override verify=
        monkeypatch.delenv(name, raising=False)
    cert, key = loopback_certificate(tmp_path)
    home = tmp_path / "ws"
    with Workspace.init(home) as ws:
        seed(ws, [(indicator(1, TLP.CLEAR, prefix="7115"), TLP.CLEAR)])
        cred = issue_credential(ws, "cto")
    with cirt_server(home, "--cert", str(cert), "--key", str(key)) as server:
        url = f"https://127.0.0.1:{server.port}/cirt/collections/{INDICATORS}/"
        collection = Collection(url, user=cred.username, password=cred.password, verify=str(cert))
        assert [o["id"] for o in collection.get_objects()["objects"]] == [indicator(1, prefix="7115")["id"]]
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url.replace("https", "http"), timeout=5)


@pytest.mark.parametrize(
    "body", [b"{not json", b"[" * 9_000 + b"]" * 9_000, b'{"objects": "none"}', b"[1, 2]"]
)
def test_a_body_that_is_not_an_envelope_is_400(served: Served, body: bytes) -> None:
    cred = served.creds["cbb"]
    response = requests.post(
        f"{served.server.api_root}collections/{INBOX}/objects/",
        data=body,
        auth=(cred.username, cred.password),
        timeout=10,
        headers={"Accept": TAXII, "Content-Type": TAXII},
    )
    assert response.status_code == 400 and response.json()["http_status"] == "400"


def test_a_credential_of_a_party_removed_from_sectors_yaml_is_refused(tmp_path: Path) -> None:
    import base64

    import yaml
    from werkzeug.test import Client

    from cirt.servers.taxii import TaxiiApp

    home = tmp_path / "ws"
    with Workspace.init(home) as ws:
        cred = issue_credential(ws, "pitcu")
    path = home / "sectors.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["organisations"] = [o for o in data["organisations"] if o["id"] != "pitcu"]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    token = base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()
    with Workspace.open(home) as ws:
        client = Client(TaxiiApp(lambda: ws))
        response = client.get("/cirt/", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 401
