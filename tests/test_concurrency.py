"""Several analysts, pulls and releases at once: real parallel processes on one store.

Each worker is a separate Python process that imports cirt and opens the workspace, reports that
it is ready and waits for a common start signal, so that the writes really overlap; then it runs
real cirt code (the command line, the store, the disclosure log).  Afterwards every update must be
there, nothing stored twice, the ``latest`` flag right and the disclosure log verifying.  The
tests run on both engines (conftest's ``engine`` parameter): SQLite serialises writers with its
file lock, PostgreSQL with the adapter's write lock.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from cirt.incidents import OUR_EXTENSION_ID
from cirt.tlp import TLP
from cirt.workspace import Workspace
from tests.taxii_fixtures import cirt_server, indicator, seed

WORKER = r"""
import json, sys, time
from pathlib import Path

spec = json.loads(sys.argv[1])
home, ready, go = Path(spec["home"]), Path(spec["ready"]), Path(spec["go"])
action, args = spec["action"], spec["args"]
if action == "cli":
    import contextlib, io
    from cirt.cli.app import run
    with contextlib.redirect_stdout(io.StringIO()):  # a read first: every import done before
        run(["incident", "show", args[2], "--json"])
else:
    from cirt.store import Provenance
    from cirt.workspace import Workspace
    ws = Workspace.open(home)
ready.touch()
while not go.exists():
    time.sleep(0.002)
out = {}
if action == "cli":
    out["code"] = run(args)
elif action == "put":
    out["new"] = sum(ws.store.put(obj, tlp=1, provenance=Provenance("local", spec["name"]))
                     for obj in args)
elif action == "ingest":
    from cirt.ingest import ingest
    summary = ingest(ws.context, args, Provenance("taxii", "csirtamericas", "collection-1"))
    out["new"], out["duplicates"] = summary.new, summary.duplicates
elif action == "release":
    for i in range(args["count"]):
        ws.audit.record(recipient=args["recipient"], channel="email",
                        objects=[[args["object"], f"2026-03-10T14:00:00.{i:03d}Z", 1]], tlp=1)
    out["recorded"] = args["count"]
print(json.dumps(out))
"""


def run_together(
    home: Path, tmp_path: Path, jobs: Sequence[tuple[str, Any]], timeout: float = 120.0
) -> list[dict[str, Any]]:
    """Start one process per job, release them at once, return their results in job order."""
    signals = tmp_path / f"signals-{time.monotonic_ns()}"
    signals.mkdir()
    go = signals / "go"
    processes = []
    for n, (action, args) in enumerate(jobs):
        spec = {
            "home": str(home),
            "ready": str(signals / f"ready-{n}"),
            "go": str(go),
            "action": action,
            "args": args,
            "name": f"worker-{n}",
        }
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, json.dumps(spec)],
                env={**os.environ},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + timeout
    try:
        while not all((signals / f"ready-{n}").exists() for n in range(len(jobs))):
            failed = [p for p in processes if p.poll() not in (None, 0)]
            assert not failed, failed[0].communicate()[1]
            assert time.monotonic() < deadline, "workers did not get ready"
            time.sleep(0.01)
        go.touch()
        results = []
        for process in processes:
            out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            assert process.returncode == 0, err
            result = json.loads(out.strip().splitlines()[-1])
            result["err"] = err
            results.append(result)
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


# --- incidents --------------------------------------------------------------------------------


def _open_incident(ws: Workspace) -> str:
    return ws.incidents.open(
        title="Phishing against CBB customers", category="phishing", severity="medium", organisations=["cbb"]
    ).reference


LOCKED = "is locked by another cirt process; try again"


def _refused_for_the_lock(engine: str, result: dict[str, Any]) -> bool:
    """SQLite gives up after its busy timeout on a loaded machine: a clear refusal, no loss."""
    return engine == "sqlite" and result["code"] == 1 and LOCKED in result["err"]


def test_concurrent_changes_to_one_incident_are_all_kept(home: Path, tmp_path: Path, engine: str) -> None:
    with Workspace.open(home) as ws:
        ref = _open_incident(ws)
    added = ["bel", "bws", "btl", "speednet"]
    jobs: list[tuple[str, Any]] = [("cli", ["incident", "update", ref, "--sector", org]) for org in added]
    jobs += [
        ("cli", ["incident", "escalate", ref, "--to", "national", "--reason", "nation-wide"]),
        ("cli", ["incident", "assign", ref, "marisol"]),
        ("cli", ["incident", "update", ref, "--severity", "critical"]),
    ]
    expected = [
        *(["updated organisations"] * len(added)),
        "escalated to national: nation-wide",
        "assigned to marisol",
        "updated severity",
    ]
    results = run_together(home, tmp_path, jobs)
    done = [r["code"] == 0 for r in results]
    for result in results:
        assert result["code"] == 0 or _refused_for_the_lock(engine, result), result["err"]
    if engine == "postgresql":
        assert all(done), [r["err"] for r in results]
    with Workspace.open(home) as ws:
        incident = ws.incidents.get(ref)
        row = ws.store.incident_by_reference(ref)
        assert row is not None
        kept_orgs = {"cbb", *(org for org, ok in zip(added, done, strict=False) if ok)}
        assert set(incident.organisations) == set(row.organisations) == kept_orgs  # none lost
        assert (incident.escalation_level == "national") == done[4]
        assert (row.assignee == "marisol") == done[5]
        assert (incident.severity == "critical") == done[6]
        history = ws.store.history(incident.id)
        changes = [h.obj["extensions"][OUR_EXTENSION_ID].get("change", "") for h in history]
        for change in set(expected):
            made = sum(ok for c, ok in zip(expected, done, strict=True) if c == change)
            assert changes.count(change) == made, change  # each change its own version
        assert len({h.modified for h in history}) == len(history)
        assert [h.seq for h in history] == sorted(h.seq for h in history)


def test_concurrent_escalations_to_one_level_happen_once(home: Path, tmp_path: Path, engine: str) -> None:
    with Workspace.open(home) as ws:
        ref = _open_incident(ws)
    jobs = [
        ("cli", ["incident", "escalate", ref, "--to", "national", "--reason", f"analyst {n}"])
        for n in range(4)
    ]
    results = run_together(home, tmp_path, jobs)
    assert sum(r["code"] == 0 for r in results) == 1
    for result in results:
        assert (
            result["code"] == 0
            or "already at national level" in result["err"]
            or _refused_for_the_lock(engine, result)
        ), result["err"]
    with Workspace.open(home) as ws:
        incident = ws.incidents.get(ref)
        assert [e["level"] for e in incident.escalations] == ["national"]


# --- objects: duplicates and the latest flag --------------------------------------------------


def _identity(n: int, modified: str = "2026-03-10T14:00:00.000Z") -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--00000000-0000-4000-8000-{n:012d}",
        "created": "2026-03-10T14:00:00.000Z",
        "modified": modified,
        "name": f"Org {n}",
        "identity_class": "organization",
    }


def test_concurrent_writers_of_the_same_objects_store_each_once(home: Path, tmp_path: Path) -> None:
    shared = [_identity(n) for n in range(40)]
    results = run_together(home, tmp_path, [("put", shared)] * 4)
    assert sum(r["new"] for r in results) == len(shared)  # the others saw duplicates, no error
    with Workspace.open(home) as ws:
        ids = [o["id"] for o in shared]
        marks = ",".join("?" * len(ids))
        (rows,) = ws.store.db.query_one(f"SELECT COUNT(*) FROM objects WHERE id IN ({marks})", ids) or (0,)
        (provenance,) = ws.store.db.query_one(
            f"SELECT COUNT(*) FROM provenance WHERE object_id IN ({marks})", ids
        ) or (0,)
        assert rows == provenance == len(shared)


def test_concurrent_versions_of_one_object_leave_one_latest_the_newest(home: Path, tmp_path: Path) -> None:
    stamps = [f"2026-03-{day:02d}T{hour:02d}:00:00.000Z" for day in (11, 12, 13) for hour in range(8)]
    jobs: list[tuple[str, Any]] = [
        ("put", [_identity(1, modified=stamps[i]) for i in range(n, len(stamps), 4)]) for n in range(4)
    ]
    results = run_together(home, tmp_path, jobs)
    assert sum(r["new"] for r in results) == len(stamps)
    with Workspace.open(home) as ws:
        object_id = _identity(1)["id"]
        latest = ws.store.db.query("SELECT modified FROM objects WHERE id = ? AND latest = 1", (object_id,))
        assert latest == [(max(stamps),)]
        assert [h.modified for h in ws.store.history(object_id)] == sorted(stamps)
        stored = ws.store.get(object_id)
        assert stored is not None and stored.modified == max(stamps)


def test_concurrent_pulls_of_the_same_objects_store_each_once(home: Path, tmp_path: Path) -> None:
    """What two pulls of one peer do at once: ingest the same pages (``cirt.ingest``)."""
    pages = [
        [indicator(i, TLP.GREEN, prefix="5555") for i in range(start, start + 50)]
        for start in range(0, 100, 50)
    ]
    jobs = [("ingest", page) for page in pages for _ in range(2)]
    results = run_together(home, tmp_path, jobs)
    assert sum(r["new"] for r in results) == 100
    assert sum(r["duplicates"] for r in results) == 100
    with Workspace.open(home) as ws:
        (rows,) = ws.store.db.query_one("SELECT COUNT(*) FROM objects WHERE type = 'indicator'") or (0,)
        (distinct,) = ws.store.db.query_one(
            "SELECT COUNT(DISTINCT id) FROM objects WHERE type = 'indicator'"
        ) or (0,)
        assert rows == distinct == 100


# --- the disclosure log -----------------------------------------------------------------------


def test_concurrent_releases_keep_the_log_one_verifying_chain(home: Path, tmp_path: Path, cli: Any) -> None:
    recipients = ["org:cbb", "org:bel", "partner:csirtamericas", "public"]
    object_id = "indicator--00000000-0000-4000-8000-000000000001"
    jobs: list[tuple[str, Any]] = [
        ("release", {"recipient": r, "count": 10, "object": object_id}) for r in recipients
    ]
    results = run_together(home, tmp_path, jobs)
    assert sum(r["recorded"] for r in results) == 40
    with Workspace.open(home) as ws:
        entries = ws.audit.entries()
        assert [e.seq for e in entries] == list(range(1, 41))
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
        assert {r: sum(e.recipient == r for e in entries) for r in recipients} == dict.fromkeys(
            recipients, 10
        )
    verified = cli("audit", "verify", "--json")
    assert verified.code == 0, verified.err


# --- cirt taxii serve with several workers ----------------------------------------------------


def test_taxii_serve_with_several_workers_reads_and_writes_consistently(home: Path) -> None:
    from cirt.taxii.auth import issue_credential
    from cirt.taxii.collections import COLLECTIONS

    indicators, _, inbox = (c.id for c in COLLECTIONS)
    with Workspace.open(home) as ws:
        seed(ws, [(indicator(i, TLP.CLEAR, prefix="6666"), TLP.CLEAR) for i in range(60)])
        cred = issue_credential(ws, "csirtamericas")
    auth = (cred.username, cred.password)
    media = "application/taxii+json;version=2.1"
    posted = [indicator(i, TLP.GREEN, prefix="9999") for i in range(24)]
    with cirt_server(home, "--max-page-size", "20", workers=3) as server:
        base = f"{server.api_root}collections/"

        def read_all() -> list[str]:
            seen: list[str] = []
            params: dict[str, Any] = {"limit": 20}
            while True:
                answer = requests.get(
                    f"{base}{indicators}/objects/",
                    params=params,
                    auth=auth,
                    headers={"Accept": media},
                    timeout=30,
                )
                assert answer.status_code == 200, answer.text
                envelope = answer.json()
                seen += [o["id"] for o in envelope.get("objects", [])]
                if not envelope.get("more"):
                    return seen
                params = {"limit": 20, "next": envelope["next"]}

        def post(chunk: list[dict[str, Any]]) -> int:
            answer = requests.post(
                f"{base}{inbox}/objects/",
                json={"objects": chunk},
                auth=auth,
                headers={"Accept": media, "Content-Type": media},
                timeout=30,
            )
            assert answer.status_code == 202, answer.text
            return int(answer.json()["success_count"])

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=8) as pool:
            readers = [pool.submit(read_all) for _ in range(4)]
            writers = [pool.submit(post, posted[i : i + 6]) for i in range(0, len(posted), 6)]
            writers += [pool.submit(post, posted[:6])]  # the same objects twice at once
            pages = [r.result() for r in readers]
            successes = [w.result() for w in writers]
        assert sum(successes) >= len(posted)
        ours = {f"indicator--66660000-0000-4000-8000-{i:012d}" for i in range(60)}
        for seen in pages:
            assert len(seen) == len(set(seen))  # each object once per reading
            assert ours <= set(seen)
    with Workspace.open(home) as ws:
        for obj in posted:
            assert len(ws.store.history(obj["id"])) == 1
            provenance = ws.store.provenance_of(obj["id"], obj["modified"])
            assert provenance is not None
            assert (provenance.source_kind, provenance.source, provenance.collection) == (
                "taxii",
                "csirtamericas",
                inbox,
            )
