"""Paging out of ``cirt taxii serve`` (gate applied) next to medallion, over loopback.

Run on demand: ``python benchmarks/taxii_paging.py [--size 100000] [--compare 5000]``, or
``python benchmarks/taxii_paging.py --clients 40 [--size 30000] [--workers 3] [--threads 1]``.

* pages ``--size`` objects out of ``cirt taxii serve`` with taxii2-client, 1,000 a page, as a
  partner (so the gate runs on every page and every page is written to the disclosure log);
* pages the same ``--compare``-object collection out of medallion (memory backend) and out of
  ``cirt taxii serve``, and prints the ratio;
* first-page latency at each size, a filtered page against an unfiltered one deep in the
  collection, and POST of validated objects into the inbox.

Targets: >= 50,000 objects/s at 100,000; >= 500x medallion at 5,000; first page < 50 ms;
filtered no costlier than unfiltered; POST >= 20,000 objects/s.

``--clients N``: N concurrent clients each page the whole ``--size`` collection (1,000 a page)
from one server with ``--workers`` workers, every page logged before it is sent; prints the
aggregate rate (target >= 50,000 objects/s with 40 clients, 3 workers, 30,000 objects) and the
page latency percentiles (target p99 <= 1 s), next to one client alone in the same run.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

from taxii2client.v21 import Collection, as_pages

from cirt.store import Provenance
from cirt.taxii.auth import IssuedCredential, issue_credential
from cirt.taxii.collections import COLLECTIONS
from cirt.tlp import TLP
from cirt.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.taxii_fixtures import (  # noqa: E402  (test helpers: servers on free loopback ports)
    MEDALLION_PASSWORD,
    MEDALLION_USER,
    PULL_COLLECTION,
    cirt_server,
    medallion,
)

INDICATORS, _, INBOX = (c.id for c in COLLECTIONS)
PAGE = 1000
PARTNER = "csirtamericas"


def make(n: int, prefix: str, tlp: TLP) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{prefix}-0000-4000-8000-{n:012d}",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-01T00:00:00.000Z",
        "name": f"Scanner {n}",
        "pattern_type": "stix",
        "pattern": f"[ipv4-addr:value = '10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}']",
        "valid_from": "2026-03-01T00:00:00Z",
        "object_marking_refs": [tlp.marking_id],
    }


def level_of(i: int, mixed: bool) -> TLP:
    if not mixed:
        return TLP.GREEN
    return TLP.AMBER if i % 10 == 9 else (TLP.CLEAR if i % 2 else TLP.GREEN)


def build_workspace(home: Path, n: int, mixed: bool) -> IssuedCredential:
    """``n`` indicators; mixed: 45% CLEAR, 45% GREEN, 10% AMBER for the Central Bank only."""
    with Workspace.init(home) as ws:
        batch: list[tuple[dict[str, Any], int]] = []
        amber: list[str] = []
        for i in range(n):
            level = level_of(i, mixed)
            obj = make(i, "aaaaaaaa", level)
            batch.append((obj, int(level)))
            if level is TLP.AMBER:
                amber.append(obj["id"])
            if len(batch) == 5000:
                ws.store.put_many(batch, provenance=Provenance("local", "bench"))
                batch = []
        if batch:
            ws.store.put_many(batch, provenance=Provenance("local", "bench"))
        for object_id in amber:
            ws.store.add_audience(object_id, "org", ["cbb"])
        return issue_credential(ws, PARTNER)


def warm(collection: Collection, requests: int = 6) -> None:
    """Collection information loaded, and every worker has checked the credential once."""
    collection.refresh()
    for _ in range(requests):
        collection.get_objects(limit=1)


def page_all(collection: Collection, **filters: Any) -> tuple[int, float, float]:
    """Objects paged, seconds for all of them, milliseconds for the first page alone."""
    start = time.perf_counter()
    first = 0.0
    count = 0
    for envelope in as_pages(collection.get_objects, per_request=PAGE, **filters):
        if not first:
            first = (time.perf_counter() - start) * 1000
        count += len(envelope.get("objects", []))
    return count, time.perf_counter() - start, first


def first_page_ms(fetch: Callable[[], Any], repeats: int = 5) -> float:
    fetch()  # warm: connection, credential check
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fetch()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


@contextmanager
def served(n: int, tmp: Path, mixed: bool) -> Iterator[tuple[Collection, IssuedCredential, Path]]:
    home = tmp / f"ws-{n}"
    t = time.perf_counter()
    cred = build_workspace(home, n, mixed)
    print(f"  seeded {n:,} objects in {time.perf_counter() - t:.1f} s", flush=True)
    with cirt_server(home, "--max-page-size", str(PAGE), workers=2) as server:
        yield (
            Collection(
                f"{server.api_root}collections/{INDICATORS}/", user=cred.username, password=cred.password
            ),
            cred,
            home,
        )


def bench_cirt(n: int, tmp: Path, *, mixed: bool) -> dict[str, Any]:
    with served(n, tmp, mixed) as (collection, cred, _):
        warm(collection)
        count, seconds, _ = page_all(collection)
        latency = first_page_ms(lambda: collection.get_objects(limit=PAGE))
        manifest = collection.get_manifest(limit=PAGE)
        deep = None
        envelope = manifest
        while envelope.get("more"):  # a token near the end of the collection
            deep = envelope["next"]
            envelope = collection.get_manifest(limit=PAGE, next=deep)
        unfiltered = first_page_ms(lambda: collection.get_objects(limit=PAGE, next=deep))
        filtered = first_page_ms(
            lambda: collection.get_objects(limit=PAGE, next=deep, type="indicator", spec_version="2.1")
        )
        post_rate = bench_post(collection, cred)
    return {
        "objects": count,
        "seconds": seconds,
        "rate": count / seconds,
        "first_page_ms": latency,
        "deep_unfiltered_ms": unfiltered,
        "deep_filtered_ms": filtered,
        "post_rate": post_rate,
    }


def bench_post(indicators: Collection, cred: IssuedCredential, total: int = 20_000) -> float:
    inbox = Collection(indicators.url.replace(INDICATORS, INBOX), user=cred.username, password=cred.password)
    envelopes = [
        {"objects": [make(e * 1000 + i, "bbbbbbbb", TLP.GREEN) for i in range(1000)]}
        for e in range(total // 1000)
    ]
    bodies = [json.dumps(e) for e in envelopes]
    start = time.perf_counter()
    accepted = 0
    for body in bodies:
        status = inbox.add_objects(body)
        accepted += int(status.success_count)
    seconds = time.perf_counter() - start
    if accepted != total:
        raise SystemExit(f"POST: only {accepted} of {total} accepted")
    return total / seconds


def bench_medallion(n: int, tmp: Path) -> dict[str, Any]:
    objects = [make(i, "aaaaaaaa", TLP.GREEN) for i in range(n)]  # the same as ours
    with medallion(tmp, objects, page_size=PAGE) as server:
        collection = Collection(
            f"{server.api_root}collections/{PULL_COLLECTION}/",
            user=MEDALLION_USER,
            password=MEDALLION_PASSWORD,
        )
        collection.refresh()
        count, seconds, latency = page_all(collection)  # one pass: its first page is minutes
    return {"objects": count, "seconds": seconds, "rate": count / seconds, "first_page_ms": latency}


def page_raw(port: int, path: str, auth: str, latencies: list[float]) -> int:
    """Page a whole collection over a kept-alive HTTP connection, reading bodies as bytes
    without parsing them: the client's cost stays small beside the server's.  Returns the
    objects received."""
    count = 0
    params: dict[str, Any] = {"limit": PAGE}
    headers = {"Accept": "application/taxii+json;version=2.1", "Authorization": auth}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while True:
        start = time.perf_counter()
        try:
            connection.request("GET", f"{path}?{urlencode(params)}", headers=headers)
            response = connection.getresponse()
            body = response.read()
        except (http.client.HTTPException, ConnectionError):  # the server closed it: again
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        if response.will_close:
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        latencies.append(time.perf_counter() - start)
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status}: {body[:200]!r}")
        count += body.count(b'"id":"indicator--')
        head = json.loads(body[: body.index(b', "objects"')] + b"}")
        if not head.get("more"):
            return count
        params = {"limit": PAGE, "next": head["next"]}


def bench_clients(n: int, clients: int, workers: int, threads: int, tmp: Path) -> None:
    home = tmp / f"ws-clients-{n}"
    cred = build_workspace(home, n, mixed=True)
    auth = "Basic " + base64.b64encode(f"{cred.username}:{cred.password}".encode()).decode()
    with cirt_server(
        home, "--max-page-size", str(PAGE), "--threads", str(threads), workers=workers
    ) as server:
        url = f"{server.api_root}collections/{INDICATORS}/objects/"
        warm(
            Collection(url.rsplit("objects/", 1)[0], user=cred.username, password=cred.password),
            requests=3 * workers,
        )

        def run(count: int) -> tuple[int, float, list[float]]:
            totals = [0] * count
            latencies: list[list[float]] = [[] for _ in range(count)]

            where = urlparse(url)

            def one(i: int) -> None:
                totals[i] = page_raw(server.port, where.path, auth, latencies[i])

            threads = [threading.Thread(target=one, args=(i,)) for i in range(count)]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return sum(totals), time.perf_counter() - start, sorted(x for each in latencies for x in each)

        def pct(values: list[float], q: float) -> float:
            return values[min(len(values) - 1, int(q * len(values)))]

        alone, alone_s, alone_lat = run(1)
        print(
            f"  1 client: {alone:,} objects in {alone_s:.2f} s: {alone / alone_s:,.0f} "
            f"objects/s; page p50 {pct(alone_lat, 0.5) * 1000:.0f} ms",
            flush=True,
        )
        total, seconds, lat = run(clients)
        print(
            f"  {clients} clients: {total:,} objects in {seconds:.2f} s: "
            f"{total / seconds:,.0f} objects/s aggregate (target >= 50,000); pages "
            f"p50 {pct(lat, 0.5) * 1000:.0f} ms, p90 {pct(lat, 0.9) * 1000:.0f} ms, "
            f"p99 {pct(lat, 0.99) * 1000:.0f} ms "
            f"(target <= 1,000), max {lat[-1] * 1000:.0f} ms"
        )
        print(f"  ratio to one client: {(total / seconds) / (alone / alone_s):.2f}x")


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument(
        "--clients",
        type=int,
        default=0,
        help="concurrent clients paging the whole collection (0: the single-client benchmark)",
    )
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (--clients only)")
    parser.add_argument(
        "--compare",
        type=int,
        default=5_000,
        help="size of the medallion comparison (0: skip it; ~3 min at 5,000)",
    )
    args = parser.parse_args()
    print(
        f"load average at start: {_load()} (2 cores shared by client and server: compare "
        "runs made under the same load)",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        if args.clients:
            size = args.size if args.size != 100_000 else 30_000
            print(
                f"cirt taxii serve, {size:,} objects (90% visible to {PARTNER}), "
                f"{args.workers} workers x {args.threads} threads, {args.clients} clients:",
                flush=True,
            )
            bench_clients(size, args.clients, args.workers, args.threads, tmp)
            print(f"  load average after: {_load()}")
            return
        print(f"cirt taxii serve, {args.size:,} objects (90% visible to {PARTNER}):", flush=True)
        big = bench_cirt(args.size, tmp, mixed=True)
        print(
            f"  paged {big['objects']:,} in {big['seconds']:.2f} s: "
            f"{big['rate']:,.0f} objects/s (target >= 50,000)"
        )
        print(f"  first page: {big['first_page_ms']:.1f} ms (target < 50)")
        print(
            f"  last page, unfiltered {big['deep_unfiltered_ms']:.1f} ms; filtered "
            f"(type + spec_version) {big['deep_filtered_ms']:.1f} ms"
        )
        print(f"  POST of validated objects: {big['post_rate']:,.0f} objects/s (target >= 20,000)")
        print(f"  load average after: {_load()}")
        if args.compare <= 0:
            return
        print(f"\n{args.compare:,}-object collection:", flush=True)
        small = bench_cirt(args.compare, tmp, mixed=False)
        print(
            f"  cirt taxii serve: {small['rate']:,.0f} objects/s, first page {small['first_page_ms']:.1f} ms",
            flush=True,
        )
        med = bench_medallion(args.compare, tmp)
        print(
            f"  medallion:        {med['rate']:,.0f} objects/s ({med['seconds']:.1f} s), "
            f"first page {med['first_page_ms']:.1f} ms"
        )
        print(f"  ratio: {small['rate'] / med['rate']:,.0f}x (target >= 500x)")
        print(f"load average at the end: {_load()}")


if __name__ == "__main__":
    main()
