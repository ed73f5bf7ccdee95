"""``cirt indicator list`` on a workspace holding 20,000 indicators, against the same command
on an empty workspace (the cost of starting ``cirt`` and rendering an empty table).

Run on demand:  python benchmarks/indicator_list.py [--indicators 20000] [--runs 7]
Target (issue 12): at most 1 s wall time for the first page (it was 33.6 s for every row).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path


def wall_time(cmd: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of fresh processes, after one warm-up run for the file cache."""
    times = []
    for i in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-500:]}")
        if i:
            times.append(elapsed)
    return statistics.median(times)


def seed(home: Path, count: int) -> None:
    """``count`` GREEN indicators from a partner, stored as the ingest door stores them."""
    from cirt.store import Provenance
    from cirt.tlp import TLP
    from cirt.workspace import Workspace

    with Workspace.init(home) as ws, ws.store.transaction():
        for i in range(count):
            stamp = f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:00:00.000Z"
            ws.store.put(
                {
                    "type": "indicator",
                    "spec_version": "2.1",
                    "id": f"indicator--{uuid.uuid4()}",
                    "created": stamp,
                    "modified": stamp,
                    "pattern_type": "stix",
                    "pattern": f"[ipv4-addr:value = '198.51.{i // 256 % 256}.{i % 256}']",
                    "valid_from": stamp,
                    "object_marking_refs": [TLP.GREEN.marking_id],
                },
                tlp=int(TLP.GREEN),
                provenance=Provenance("taxii", "csirtamericas"),
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--indicators", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        full, empty = Path(tmp) / "full", Path(tmp) / "empty"
        print(f"seeding {args.indicators} indicators …", flush=True)
        seed(full, args.indicators)
        seed(empty, 0)
        cmd = [sys.executable, "-m", "cirt", "indicator", "list"]
        env = {**os.environ, "COLUMNS": "80", "NO_COLOR": "1"}
        base = wall_time(cmd, {**env, "CIRT_HOME": str(empty)}, args.runs)
        page = wall_time(cmd, {**env, "CIRT_HOME": str(full)}, args.runs)
        last = wall_time(
            [*cmd, "--offset", str(args.indicators - 50)], {**env, "CIRT_HOME": str(full)}, args.runs
        )
    print(f"cirt indicator list, empty workspace        {base * 1000:7.1f} ms")
    print(
        f"cirt indicator list, {args.indicators} indicators   {page * 1000:7.1f} ms   "
        f"ratio {page / base:.2f}x   (target <= 1000 ms)"
    )
    print(
        f"  … last page (--offset {args.indicators - 50})      {last * 1000:7.1f} ms   "
        f"ratio {last / base:.2f}x"
    )


if __name__ == "__main__":
    main()
