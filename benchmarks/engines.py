"""``cirt incident list`` and a 100,000-object import on SQLite and on PostgreSQL.

Run on demand:  python benchmarks/engines.py [--objects 100000] [--incidents 1000] [--runs 5]
                                             [--pg-url postgresql://user@host:port/postgres]

For each engine: a fresh workspace (SQLite file, or a new database on the server) with
``--incidents`` incidents opened through the incident desk, then
- ``cirt incident list --json``: a fresh process each time (start-up included), median of runs,
  and the listing alone (``ws.incidents.list``) inside one process;
- ``cirt import BUNDLE --json`` of ``--objects`` indicators as one process: reading,
  validating, storing all of them in one transaction.
Without ``--pg-url`` a throw-away PostgreSQL server is started as the tests start it (tests/pg.py),
with durability off; a production server with fsync on will be slower to commit.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"


def write_bundle(path: Path, count: int) -> None:
    objects = [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid.UUID(int=n + 1, version=4)}",
            "created": "2026-03-01T00:00:00.000Z",
            "modified": "2026-03-01T00:00:00.000Z",
            "name": f"Scanner {n}",
            "pattern_type": "stix",
            "pattern": f"[ipv4-addr:value = '10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}']",
            "valid_from": "2026-03-01T00:00:00Z",
            "object_marking_refs": [GREEN],
        }
        for n in range(count)
    ]
    path.write_text(
        json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}), encoding="utf-8"
    )


def seed_incidents(home: Path, url: str | None, count: int) -> None:
    from cirt.workspace import Workspace

    orgs = ["cbb", "bel", "bws", "btl", "speednet"]
    with Workspace.init(home, database_url=url) as ws, ws.store.transaction():
        for i in range(count):
            ws.incidents.open(
                title=f"Incident {i}",
                category="phishing",
                severity=("low", "medium", "high", "critical")[i % 4],
                organisations=[orgs[i % 5]],
            )


def list_in_process(home: Path, runs: int) -> float:
    """The same listing inside one process: the store's share of the command, median of runs."""
    from cirt.store.incidents import IncidentFilter
    from cirt.workspace import Workspace

    times = []
    with Workspace.open(home) as ws:
        for _ in range(runs + 1):
            start = time.perf_counter()
            ws.incidents.list(IncidentFilter())
            times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def timed(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "cirt", *args], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"cirt {' '.join(args)} failed: {done.stderr[-500:]}")
    return elapsed, done.stdout


def measure(
    engine: str, home: Path, url: str | None, bundle: Path, incidents: int, runs: int
) -> dict[str, Any]:
    env = {**os.environ, "CIRT_HOME": str(home), "CIRT_ANALYST": "bench"}
    env.pop("CIRT_DB_URL", None)
    seed_incidents(home, url, incidents)
    timed(["incident", "list", "--json"], env)  # warm the file cache
    lists = [timed(["incident", "list", "--json"], env)[0] for _ in range(runs)]
    queries = list_in_process(home, runs)
    seconds, out = timed(["import", str(bundle), "--json"], env)
    summary = json.loads(out)
    stored = int(summary.get("new", 0)) + int(summary.get("updated", 0)) if isinstance(summary, dict) else 0
    return {
        "engine": engine,
        "incident_list_s": statistics.median(lists),
        "query_s": queries,
        "import_s": seconds,
        "imported": stored,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg-url", help="a superuser URL of a running server (else one is started)")
    options = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    import psycopg
    from pg import start_server

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cirt-bench-")))
        bundle = work / "bundle.json"
        write_bundle(bundle, options.objects)
        admin_url = options.pg_url
        if admin_url is None:
            server = start_server()
            stack.callback(server.stop)
            admin_url = server.admin_url
        name = f"cirt_bench_{os.getpid()}"
        admin = stack.enter_context(psycopg.connect(admin_url, autocommit=True))
        admin.execute(f"CREATE DATABASE {name}")
        stack.callback(admin.execute, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        pg_url = admin_url.rpartition("/")[0] + f"/{name}"
        results = [
            measure("sqlite", work / "sqlite", None, bundle, options.incidents, options.runs),
            measure("postgresql", work / "postgresql", pg_url, bundle, options.incidents, options.runs),
        ]
    print(
        f"{options.incidents} incidents, {options.objects} objects imported; "
        f"incident list: median of {options.runs} fresh processes (and of the query alone)"
    )
    print(f"{'engine':<12}{'incident list':>16}{'query':>10}{'import':>12}{'objects/s':>12}")
    for r in results:
        rate = r["imported"] / r["import_s"] if r["import_s"] else 0.0
        print(
            f"{r['engine']:<12}{r['incident_list_s']:>15.3f}s{r['query_s'] * 1000:>8.1f}ms"
            f"{r['import_s']:>11.1f}s"
            f"{rate:>12,.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
