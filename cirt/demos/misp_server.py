"""A small MISP-compatible HTTP server on 127.0.0.1, for tests and ``cirt demo``.

No MISP server can be installed on these machines, so this answers the endpoints PyMISP calls,
as MISP documents them (https://www.misp-project.org/openapi/), well enough for PyMISP's real
HTTP code to run against it:

- ``GET servers/getPyMISPVersion.json``, ``GET servers/getVersion``, ``GET users/view/me``,
  ``GET attributes/describeTypes.json``: what ``PyMISP()`` asks when it connects;
- ``POST events/add``, ``POST events/edit/<uuid|id>``, ``GET|HEAD events/view/<uuid|id>``;
- ``POST events/restSearch`` (``timestamp`` ≥, ``limit``/``page``, ``uuid``, ``tags``) and
  ``POST attributes/restSearch`` (``value``, ``type``, ``timestamp``).

Not covered: MISP's own distribution enforcement between organisations, sharing groups as
objects, publishing and alert e-mails, sightings, galaxies, proposals, the sync protocol
between MISP servers (``servers/...``), correlations, and every other endpoint.  Events are
kept as received (plus ``id``, ``Orgc`` and ``timestamp``), in memory.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

from pymisp import __version__ as pymisp_version
from pymisp.abstract import describe_types

MISP_VERSION = "2.5.17"


class MispState:
    """The server's memory: events by uuid, and the one API key it accepts."""

    def __init__(self, key: str, org_name: str = "Partner MISP") -> None:
        self.key = key
        self.org = {"id": "1", "name": org_name, "uuid": "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"}
        self.events: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def store(self, event: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        with self._lock:
            event = dict(event)
            event["id"] = existing["id"] if existing else str(next(self._ids))
            event.setdefault("Orgc", dict(self.org))
            event["timestamp"] = str(event.get("timestamp") or int(time.time()))
            self.events[str(event["uuid"])] = event
            return event

    def find(self, ref: str) -> dict[str, Any] | None:
        if ref in self.events:
            return self.events[ref]
        return next((e for e in self.events.values() if e.get("id") == ref), None)


class _Handler(BaseHTTPRequestHandler):
    server_version = "MISP-compatible test server"
    state: MispState

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    # --- plumbing ---

    def _send(self, status: int, body: Any, head: bool = False) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _error(self, status: int, message: str, head: bool = False) -> None:
        self._send(status, {"name": message, "message": message, "url": self.path}, head)

    def _authorised(self, head: bool = False) -> bool:
        if self.headers.get("Authorization") != self.state.key:
            self._error(
                403,
                "Authentication failed. Please make sure you pass the API key of"
                " an API enabled user along in the Authorization header.",
                head,
            )
            return False
        return True

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        return json.loads(raw or b"{}")

    def _route(self) -> list[str]:
        path = urlparse(self.path).path.strip("/")
        self.state.requests.append((self.command, path))
        return path.split("/")

    # --- verbs ---

    def do_HEAD(self) -> None:
        parts = self._route()
        if not self._authorised(head=True):
            return
        if parts[:2] == ["events", "view"] and len(parts) == 3:
            found = self.state.find(parts[2])
            self._send(200 if found else 404, {}, head=True)
        else:
            self._error(404, "Not found", head=True)

    def do_GET(self) -> None:
        parts = self._route()
        if not self._authorised():
            return
        if parts == ["servers", "getPyMISPVersion.json"]:
            self._send(200, {"version": pymisp_version})
        elif parts == ["servers", "getVersion"]:
            self._send(
                200,
                {
                    "version": MISP_VERSION,
                    "perm_sync": True,
                    "perm_sighting": True,
                    "perm_galaxy_editor": False,
                    "request_encoding": ["gzip"],
                    "filter_sightings": True,
                },
            )
        elif parts == ["users", "view", "me"]:
            self._send(
                200,
                {
                    "User": {
                        "id": "1",
                        "email": "sync@partner.example",
                        "org_id": self.state.org["id"],
                        "role_id": "5",
                    },
                    "Role": {"id": "5", "name": "Sync user", "perm_sync": True},
                    "UserSetting": {},
                    "Organisation": self.state.org,
                },
            )
        elif parts == ["attributes", "describeTypes.json"]:
            self._send(200, {"result": describe_types})
        elif parts[:2] == ["events", "view"] and len(parts) == 3:
            found = self.state.find(parts[2])
            if found is None:
                self._error(404, "Invalid event")
            else:
                self._send(200, {"Event": found})
        else:
            self._error(404, f"The requested address '/{'/'.join(parts)}' was not found")

    def do_POST(self) -> None:
        parts = self._route()
        if not self._authorised():
            return
        try:
            body = self._body()
        except ValueError:
            self._error(400, "The request body is not JSON")
            return
        if parts == ["events", "add"]:
            event = body.get("Event", body) if isinstance(body, dict) else None
            if not isinstance(event, dict) or not event.get("info"):
                self._error(403, "Could not add Event: info is required")
            elif str(event.get("uuid")) in self.state.events:
                self._error(403, "Could not add Event: An event with this uuid already exists.")
            else:
                self._send(200, {"Event": self.state.store(event, None)})
        elif parts[:2] == ["events", "edit"] and len(parts) == 3:
            found = self.state.find(parts[2])
            event = body.get("Event", body) if isinstance(body, dict) else None
            if found is None:
                self._error(404, "Invalid event")
            elif not isinstance(event, dict):
                self._error(403, "Could not edit Event")
            else:
                event = {**event, "uuid": found["uuid"]}
                self._send(200, {"Event": self.state.store(event, found)})
        elif parts == ["events", "restSearch"]:
            self._send(200, {"response": [{"Event": e} for e in _search_events(self.state, body)]})
        elif parts == ["attributes", "restSearch"]:
            self._send(200, {"response": {"Attribute": list(_search_attributes(self.state, body))}})
        else:
            self._error(404, f"The requested address '/{'/'.join(parts)}' was not found")


def _at_least(value: Any, floor: Any) -> bool:
    try:
        return int(value) >= int(floor)
    except (TypeError, ValueError):
        return False


def _search_events(state: MispState, query: dict[str, Any]) -> list[dict[str, Any]]:
    events = sorted(state.events.values(), key=lambda e: (int(e["timestamp"]), int(e["id"])))
    if query.get("timestamp") is not None:
        events = [e for e in events if _at_least(e["timestamp"], query["timestamp"])]
    if query.get("uuid"):
        wanted = query["uuid"] if isinstance(query["uuid"], list) else [query["uuid"]]
        events = [e for e in events if e.get("uuid") in wanted]
    if query.get("tags"):
        wanted = query["tags"] if isinstance(query["tags"], list) else [query["tags"]]
        events = [e for e in events if {t.get("name") for t in e.get("Tag", [])} & set(wanted)]
    limit = int(query.get("limit") or 0)
    if limit:
        page = max(int(query.get("page") or 1), 1)
        events = events[(page - 1) * limit : page * limit]
    return events


def _search_attributes(state: MispState, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for event in state.events.values():
        for attribute in event.get("Attribute", []):
            if query.get("value") and attribute.get("value") != query["value"]:
                continue
            if query.get("type") and attribute.get("type") != query["type"]:
                continue
            if query.get("timestamp") is not None and not _at_least(
                attribute.get("timestamp", event["timestamp"]), query["timestamp"]
            ):
                continue
            yield {
                **attribute,
                "event_id": event["id"],
                "Event": {"id": event["id"], "uuid": event["uuid"], "info": event.get("info")},
            }


class MispServer:
    """A running server: ``url``, ``state``; ``stop()`` shuts it down."""

    def __init__(self, key: str) -> None:
        self.state = MispState(key)
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name="misp-testserver")
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def running(key: str) -> Iterator[MispServer]:
    """A MISP-compatible server on a free 127.0.0.1 port for the duration of the block."""
    server = MispServer(key)
    try:
        yield server
    finally:
        server.stop()
