"""The TAXII server's routes answer every path and method as the TAXII 2.1 resource layout says:
who asks is checked before anything else, an unknown collection is named as such before a wrong
method or resource, and every refusal is a TAXII error message."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.test import Client

from cirt.servers.taxii import TaxiiApp
from cirt.taxii.auth import issue_credential
from cirt.workspace import Workspace

OBJECT = "indicator--6a1f0c2e-8b3d-4e5f-9a7b-000000000001"
INDICATORS = "/cirt/collections/indicators"
Authenticated = tuple[Client, dict[str, str]]  # the app, and the headers of a party's credential


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Authenticated]:
    with Workspace.init(tmp_path / "ws") as ws:
        cred = issue_credential(ws, "bel")
        token = base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()
        yield Client(TaxiiApp(lambda: ws)), {"Authorization": f"Basic {token}"}


def answer(client, method: str, path: str, query: str = "") -> tuple[int, dict[str, str], dict[str, str]]:
    app, auth = client
    response = app.open(path, method=method, headers=auth, query_string=query)
    body = json.loads(response.get_data()) if method != "HEAD" else {}
    return response.status_code, dict(response.headers), body


@pytest.mark.parametrize("path", ["/taxii2/", "/taxii2", "/taxii2//"])
def test_discovery_answers_however_the_slashes_are_written(client: Authenticated, path: str) -> None:
    status, headers, body = answer(client, "GET", path)
    assert status == 200 and body["api_roots"] == ["http://localhost/cirt/"]
    assert headers["Content-Type"] == "application/taxii+json;version=2.1"


@pytest.mark.parametrize(
    ("method", "path", "status", "description"),
    [
        ("GET", "/", 404, "no such resource"),
        ("GET", "/taxii2/more/", 404, "no such resource"),
        ("GET", "/cirt/status/a/b/", 404, "no such resource"),
        ("GET", "/cirt/status/nothing-here/", 404, "no such status resource"),
        ("GET", "/cirt/collections/nope/", 404, "no such collection"),
        ("DELETE", "/cirt/collections/nope/objects/", 404, "no such collection"),
        ("GET", f"/cirt/collections/nope/objects/{OBJECT}/nope/", 404, "no such collection"),
        ("GET", f"{INDICATORS}/objects/{OBJECT}/nope/", 404, "no such resource"),
        ("GET", f"{INDICATORS}/manifest/more/", 404, "no such resource"),
        ("GET", f"{INDICATORS}/objects/not-an-id/", 404, "no such object in this collection"),
        ("GET", f"{INDICATORS}/objects/{OBJECT}/", 404, "no such object in this collection"),
        ("GET", "/cirt/collections/inbox/objects/", 403, "this collection is not readable"),
        ("POST", f"{INDICATORS}/objects/", 403, "this collection is not writable"),
    ],
)
def test_each_refusal_says_what_was_not_found_or_not_allowed(
    client: Authenticated, method: str, path: str, status: int, description: str
) -> None:
    got, _, body = answer(client, method, path)
    assert (got, body["description"], body["http_status"]) == (status, description, str(status))


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("HEAD", "/taxii2/", "GET"),
        ("POST", "/cirt/", "GET"),
        ("DELETE", f"{INDICATORS}/objects/", "GET, POST"),
        ("PUT", f"{INDICATORS}/manifest/", "GET"),
        ("POST", f"{INDICATORS}/objects/{OBJECT}/versions/", "GET"),
    ],
)
def test_a_method_a_resource_does_not_take_is_refused_with_what_it_takes(
    client: Authenticated, method: str, path: str, allow: str
) -> None:
    status, headers, _ = answer(client, method, path)
    assert (status, headers["Allow"]) == (405, allow)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/taxii2/", "limit=1"),
        ("/cirt/collections/", "next=x"),
        (f"{INDICATORS}/", "match[type]=indicator"),
        (f"{INDICATORS}/objects/{OBJECT}/versions/", "match[version]=all"),
    ],
)
def test_a_filter_a_resource_does_not_take_is_refused(client: Authenticated, path: str, query: str) -> None:
    status, _, body = answer(client, "GET", path, query)
    assert status == 400 and body["description"].startswith("unsupported query parameter")


def test_who_asks_is_checked_before_any_route(client: Authenticated) -> None:
    app, _ = client
    for path in ("/nowhere/", "/cirt/collections/nope/"):
        response = app.get(path)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Basic realm="cirt TAXII"'
