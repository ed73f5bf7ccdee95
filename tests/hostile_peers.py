"""Hostile partners as real servers on 127.0.0.1, each in its own process.

Run as ``python tests/hostile_peers.py MODE PORT``; the tests start it, wait for the port and kill
it afterwards.  A TAXII 2.1 peer (discovery, one API root, one collection) that misbehaves in one
way per MODE:

* ``gzip-bomb``: every page of objects is a gzip body that inflates to 1 GiB;
* ``huge``: a page of 512 MiB, sent plainly;
* ``same-next``: every page says ``more`` with the same ``next`` token and fresh objects;
* ``hang``: ``/collections/`` is never answered;
* ``drip``: ``/collections/`` answers one byte every second, for ever;
* ``flaky``: ``/collections/`` answers 503 (Retry-After: 1) twice, then properly;
* ``push LOG``: a writable collection that appends every object id it is sent to LOG, refuses
  objects whose name starts with "refuse", and holds the second POST unanswered while LOG.stall
  exists;
* ``elsewhere OTHER_PORT``: discovery names a second API root on 127.0.0.1:OTHER_PORT, another
  origin than the partner's.
"""

from __future__ import annotations

import gzip
import itertools
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TAXII_MEDIA = "application/taxii+json;version=2.1"
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
_counter = itertools.count()
_refusals = itertools.count()


def indicator(n: int) -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--77770000-0000-4000-8000-{n:012d}",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-01T00:00:00.000Z",
        "name": f"fresh {n}",
        "pattern_type": "stix",
        "pattern": f"[ipv4-addr:value = '198.18.{n // 256 % 256}.{n % 256}']",
        "valid_from": "2026-03-01T00:00:00Z",
        "object_marking_refs": [GREEN],
    }


def gzip_bomb(inflated: int) -> bytes:
    """Concatenated gzip members of 1 MiB of spaces each: a few KiB that inflate to ``inflated``."""
    member = gzip.compress(b" " * (1 << 20), compresslevel=9)
    head = gzip.compress(b'{"more": false, "objects": [', compresslevel=9)
    return head + member * (inflated >> 20)


class Handler(BaseHTTPRequestHandler):
    mode = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _json(self, data: object, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", TAXII_MEDIA)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        host = f"http://127.0.0.1:{self.server.server_port}"  # type: ignore[attr-defined]
        path = self.path.split("?")[0]
        if path == "/taxii2/":
            roots = [f"{host}/api1/"]
            if self.mode == "elsewhere":
                roots.append(f"http://127.0.0.1:{OTHER_PORT}/api1/")
            self._json({"title": "hostile", "default": f"{host}/api1/", "api_roots": roots})
        elif path == "/api1/":
            self._json(
                {
                    "title": "hostile root",
                    "versions": [TAXII_MEDIA],
                    "max_content_length": 2_000 if self.mode == "push" else 10_000_000,
                }
            )
        elif path == "/api1/collections/":
            self._collections()
        elif path == f"/api1/collections/{COLLECTION}/":
            self._json(_collection())
        elif path == f"/api1/collections/{COLLECTION}/objects/":
            self._objects()
        elif path.startswith("/api1/status/"):
            self._json(STATUSES[path.rstrip("/").rsplit("/", 1)[1]])
        elif path.startswith(f"/api1/collections/{COLLECTION}/objects/"):
            object_id = path.rstrip("/").rsplit("/", 1)[1]
            held = [o for (i, _), o in HELD.items() if i == object_id]
            if held:
                self._json({"objects": held})
            else:
                self.send_error(404)
        else:
            self.send_error(404)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        posts = next(_posts)
        with open(LOG, "a") as log:
            log.writelines(f"{o['id']}\n" for o in body["objects"])
        while posts == 1 and os.path.exists(LOG + ".stall"):
            open(LOG + ".held", "w").close()
            time.sleep(0.1)
        ok = [o for o in body["objects"] if not o.get("name", "").startswith("refuse")]
        bad = [o for o in body["objects"] if o not in ok]
        for o in ok:
            HELD[(o["id"], o.get("modified", ""))] = o
        status = {
            "id": f"status-{posts}",
            "status": "complete",
            "request_timestamp": "2026-03-01T00:00:00.000000Z",
            "total_count": len(body["objects"]),
            "success_count": len(ok),
            "successes": [{"id": o["id"], "version": o.get("modified")} for o in ok],
            "failure_count": len(bad),
            "pending_count": 0,
            "failures": [{"id": o["id"], "version": o.get("modified"), "message": "refused"} for o in bad],
        }
        STATUSES[f"status-{posts}"] = status
        payload = json.dumps(status).encode()
        self.send_response(202)
        self.send_header("Content-Type", TAXII_MEDIA)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _collections(self) -> None:
        if self.mode == "flaky" and next(_refusals) < 2:
            body = b'{"title": "busy", "http_status": "503"}'
            self.send_response(503)
            self.send_header("Content-Type", TAXII_MEDIA)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if self.mode == "hang":
            time.sleep(3600)
        if self.mode == "drip":
            self.send_response(200)
            self.send_header("Content-Type", TAXII_MEDIA)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b'{"collections": [')
            while True:
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(1)
        self._json({"collections": [_collection()]})

    def _objects(self) -> None:
        if self.mode == "gzip-bomb":
            body = BOMB
            self.send_response(200)
            self.send_header("Content-Type", TAXII_MEDIA)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.mode == "huge":
            size = 512 << 20
            self.send_response(200)
            self.send_header("Content-Type", TAXII_MEDIA)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(b'{"more": false, "objects": [')
            block = b" " * (1 << 20)
            for _ in range(size >> 20):
                self.wfile.write(block)
        elif self.mode == "flaky":
            self._json({"more": False, "objects": [indicator(n) for n in range(10)]})
        else:  # same-next
            fresh = [indicator(next(_counter)) for _ in range(100)]
            self._json(
                {"more": True, "next": "always-the-same", "objects": fresh},
                {"X-TAXII-Date-Added-Last": "2026-03-01T00:00:00.000000Z"},
            )


def _collection() -> dict[str, object]:
    return {
        "id": COLLECTION,
        "title": "hostile collection",
        "can_read": True,
        "can_write": True,
        "media_types": ["application/stix+json;version=2.1"],
    }


BOMB = b""
OTHER_PORT = 0
LOG = ""
HELD: dict[tuple[str, str], dict[str, object]] = {}
STATUSES: dict[str, dict[str, object]] = {}
_posts = itertools.count()

if __name__ == "__main__":
    Handler.mode, port = sys.argv[1], int(sys.argv[2])
    if Handler.mode == "gzip-bomb":
        BOMB = gzip_bomb(1 << 30)
    if Handler.mode == "elsewhere":
        OTHER_PORT = int(sys.argv[3])
    if Handler.mode == "push":
        LOG = sys.argv[3]
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
