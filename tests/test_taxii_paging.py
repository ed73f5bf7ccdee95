"""Paging done right, on both sides of TAXII.

Our server: keyset pages (never OFFSET, never a sort of the whole collection), every object
exactly once whatever is added between pages.  Our client: it ends when a peer keeps saying
"more" with the same page, with the same or a new ``next``, or with no way forward at all.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from cirt.servers.taxii import TaxiiApp
from cirt.taxii.auth import issue_credential
from cirt.taxii.collections import COLLECTIONS
from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.conftest import FixedClock
from tests.taxii_fixtures import PULL_COLLECTION, indicator, point_partner, seed, set_peer_secret

INDICATORS = COLLECTIONS[0].id
_EXAMPLES = itertools.count(1)
TAXII = "application/taxii+json;version=2.1"


# -- the server ----------------------------------------------------------------------------


@pytest.fixture
def app_client(ws: Workspace) -> tuple[Client, dict[str, str], Workspace]:
    cred = issue_credential(ws, "cto")
    token = base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()
    app = TaxiiApp(lambda: ws, max_page=1000)
    return Client(app), {"Authorization": f"Basic {token}", "Accept": TAXII}, ws


def _page(client: Client, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(f"/cirt/collections/{INDICATORS}/objects/", query_string=params, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = json.loads(response.get_data())
    return body


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plan=st.lists(st.tuples(st.integers(0, 6), st.integers(1, 7)), min_size=1, max_size=8),
)
def test_every_object_is_paged_exactly_once_whatever_is_added_between_pages(
    app_client: tuple[Client, dict[str, str], Workspace], plan: list[tuple[int, int]]
) -> None:
    client, headers, ws = app_client
    prefix = f"{next(_EXAMPLES):04x}"
    base = ws.store.count_objects()
    made: list[str] = []

    def add(count: int) -> None:
        objects = [indicator(len(made) + i, TLP.CLEAR, prefix=prefix) for i in range(count)]
        seed(ws, [(o, TLP.CLEAR) for o in objects])
        made.extend(o["id"] for o in objects)

    add(3)
    envelope = _page(client, headers, limit=2)  # the pages before ours are not looked at
    seen_all = [o["id"] for o in envelope["objects"]]
    for added, limit in plan:
        if not envelope.get("more"):
            break
        add(added)
        envelope = _page(client, headers, limit=limit, next=envelope["next"])
        seen_all += [o["id"] for o in envelope["objects"]]
    while envelope.get("more"):
        envelope = _page(client, headers, limit=5, next=envelope["next"])
        seen_all += [o["id"] for o in envelope["objects"]]
    seen = [i for i in seen_all if i in set(made)]
    assert len(seen_all) == len(set(seen_all)) == base + len(made)
    assert seen == made  # in the order they were added, none missed, none twice


def test_a_page_is_a_keyset_query_not_an_offset_nor_a_sort(
    app_client: tuple[Client, dict[str, str], Workspace],
) -> None:
    client, headers, ws = app_client
    if ws.store.db.dialect != "sqlite":
        pytest.skip("reads SQLite's query plan; PostgreSQL plans by its own statistics")
    seed(ws, [(indicator(i, TLP.CLEAR), TLP.CLEAR) for i in range(300)])
    statements: list[str] = []
    connection = ws.store.db._conn  # type: ignore[attr-defined]
    connection.set_trace_callback(statements.append)
    try:
        first = _page(client, headers, limit=100)
        _page(client, headers, limit=100, next=first["next"])
        _page(client, headers, limit=100, **{"match[type]": "indicator"}, next=first["next"])
    finally:
        connection.set_trace_callback(None)
    pages = [
        s for s in statements if s.startswith("SELECT") and "FROM objects" in s and "ORDER BY added" in s
    ]
    assert len(pages) == 3
    for sql in pages:
        assert "OFFSET" not in sql.upper()
        plan = " ".join(str(row) for row in ws.store.db.query("EXPLAIN QUERY PLAN " + sql))
        assert "TEMP B-TREE" not in plan, plan  # walks the date_added index, sorts nothing
        assert "objects_added" in plan
    assert "added >" in pages[1]  # the second page starts after the first page's last object


# -- the client against peers that misbehave -----------------------------------------------


def _peer(page: Callable[[int], dict[str, Any]]) -> Callable[..., Any]:
    """A TAXII peer whose object pages come from ``page(request_number)``."""
    calls = {"n": 0}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path.endswith("/collections/"):
            body: dict[str, Any] = {
                "collections": [
                    {
                        "id": PULL_COLLECTION,
                        "title": "Loop",
                        "can_read": True,
                        "can_write": False,
                        "media_types": ["application/stix+json;version=2.1"],
                    }
                ]
            }
        else:
            calls["n"] += 1
            body = page(calls["n"])
            if calls["n"] > 50:
                body = {"more": False, "objects": []}  # the test's own safety net
        data = json.dumps(body).encode()
        start_response("200 OK", [("Content-Type", TAXII), ("Content-Length", str(len(data)))])
        return [data]

    app.calls = calls  # type: ignore[attr-defined]
    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def serve_peer(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    servers = []

    def start(app: Callable[..., Any]) -> None:
        server = make_server("127.0.0.1", 0, app, handler_class=_Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        root = f"http://127.0.0.1:{server.server_port}/api/"
        point_partner(home, "csirtamericas", discovery=root, api_root=root, pull=[PULL_COLLECTION])
        set_peer_secret(monkeypatch, "csirtamericas", "u", "p")

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


SAME = [indicator(i, prefix="5150") for i in range(3)]


@pytest.mark.parametrize(
    "page",
    [
        lambda n: {"more": True, "next": "again", "objects": SAME},
        lambda n: {"more": True, "next": f"token-{n}", "objects": SAME},
        lambda n: {"more": True, "objects": SAME[n - 1 : n] if n <= 3 else SAME},
    ],
    ids=["same-next", "new-next-same-page", "no-next-no-header"],
)
def test_pull_ends_when_a_peer_says_more_forever(
    serve_peer: Callable[..., None], home: Path, clock: FixedClock, page: Callable[[int], dict[str, Any]]
) -> None:
    app = _peer(page)
    serve_peer(app)
    with Workspace.open(home, clock=clock) as ws:
        result = ws.taxii.pull("csirtamericas").collections[0]
        assert result.stopped
        assert app.calls["n"] <= 4  # type: ignore[attr-defined]
        assert all(ws.store.get(o["id"]) is not None for o in SAME[:1])
        assert result.new <= 3 and result.duplicates == 0
