"""What SQLite's ``synchronous = FULL`` (every commit reaches the disk) costs against ``NORMAL``.

Run on demand:  python benchmarks/durability.py [--commits 300] [--objects 20000] [--dir PATH]

The store commits with ``FULL`` so that a disclosure-log entry, an outbox row or an incident
change acknowledged to the analyst survives a power loss (``NORMAL`` in WAL mode may roll back the
last commits).  The peer is the same store switched back to ``NORMAL`` in the same run, on the
same disk (``--dir``, default a temporary directory: measure on the disk the workspace lives on).
Measured: one disclosure-log entry per commit (what every TAXII page, export and bulletin
writes), one incident note per commit (an analyst's command), and one import of ``--objects``
indicators in one transaction (a bulk write pays one sync, not one per object).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cirt.store import Provenance
from cirt.workspace import Workspace

GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"


def indicator(n: int, run: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid5(uuid.NAMESPACE_URL, f'{run}/{n}')}",
        "created": "2026-03-01T00:00:00.000Z",
        "modified": "2026-03-01T00:00:00.000Z",
        "name": f"Scanner {n}",
        "pattern_type": "stix",
        "pattern": f"[ipv4-addr:value = '10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}']",
        "valid_from": "2026-03-01T00:00:00Z",
        "object_marking_refs": [GREEN],
    }


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(home: Path, synchronous: str, commits: int, objects: int) -> dict[str, float]:
    with Workspace.init(home) as ws:
        ws.store.db.execute(f"PRAGMA synchronous = {synchronous}")
        (mode,) = ws.store.db.query_one("PRAGMA synchronous") or (None,)
        assert mode == {"NORMAL": 1, "FULL": 2}[synchronous], mode
        ref = ws.incidents.open(
            title="Benchmark", category="phishing", severity="low", organisations=["cbb"]
        ).reference
        log = timed(
            lambda: [
                ws.audit.record(
                    recipient="org:cbb",
                    channel="taxii",
                    tlp=1,
                    objects=[
                        (f"indicator--{uuid.UUID(int=n + 1, version=4)}", "2026-03-01T00:00:00.000Z", 1)
                    ],
                )
                for n in range(commits)
            ]
        )
        notes = timed(lambda: [ws.incidents.note(ref, f"note {n}") for n in range(commits)])
        bundle = [indicator(n, synchronous) for n in range(objects)]

        def bulk() -> None:
            with ws.store.transaction():
                for obj in bundle:
                    ws.store.put(obj, tlp=1, provenance=Provenance("import", "benchmark"))

        imported = timed(bulk)
    return {"log_ms": 1000 * log / commits, "note_ms": 1000 * notes / commits, "import_s": imported}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--dir", type=Path, help="where the workspaces go (the disk to measure)")
    options = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="cirt-durability-", dir=options.dir))
    try:
        os.environ.setdefault("CIRT_ANALYST", "benchmark")
        results = {
            mode: measure(work / mode, mode, options.commits, options.objects) for mode in ("NORMAL", "FULL")
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    normal, full = results["NORMAL"], results["FULL"]
    print(
        f"{work.parent} on {os.uname().nodename}, load average {os.getloadavg()[0]:.2f}; "
        f"{options.commits} commits each, {options.objects} objects in one transaction"
    )
    print(f"{'':<28}{'NORMAL':>12}{'FULL':>12}{'ratio':>8}")
    for key, label, unit in (
        ("log_ms", "disclosure-log entry", "ms"),
        ("note_ms", "incident note (command)", "ms"),
        ("import_s", "bulk import, one commit", "s"),
    ):
        print(
            f"{label:<28}{normal[key]:>10.2f}{unit:<2}{full[key]:>10.2f}{unit:<2}"
            f"{full[key] / normal[key]:>7.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
