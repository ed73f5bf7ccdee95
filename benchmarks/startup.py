"""Cold start of ``cirt`` against a bare typer application with one command.

Run on demand:  python benchmarks/startup.py [--incidents 10000] [--runs 15]
Targets (issue 2): ``cirt --help`` at most 1.5x, ``cirt incident list --limit 50`` on a
10,000-incident workspace at most 2.5x the bare application's ``--help``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_APP = '''
import typer

app = typer.Typer()


@app.command()
def hello(name: str = "world") -> None:
    """Say hello."""
    print(f"hello {name}")


if __name__ == "__main__":
    app()
'''


def cold_start(cmd: list[str], env: dict[str, str], runs: int) -> float:
    """Median wall time of fresh processes (after two warm-up runs for the file cache)."""
    times = []
    for i in range(runs + 2):
        start = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr.decode()[-500:]}")
        if i >= 2:
            times.append(elapsed)
    return statistics.median(times)


def seed(home: Path, count: int) -> None:
    from cirt.workspace import Workspace

    orgs = ["cbb", "bel", "bws", "btl", "speednet"]
    with Workspace.init(home) as ws, ws.store.transaction():
        for i in range(count):
            ws.incidents.open(
                title=f"Incident {i}",
                category="phishing",
                severity=("low", "medium", "high", "critical")[i % 4],
                organisations=[orgs[i % 5]],
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE_APP)
        home = Path(tmp) / "ws"
        print(f"seeding {args.incidents} incidents …", flush=True)
        seed(home, args.incidents)
        env = {**os.environ, "CIRT_HOME": str(home), "COLUMNS": "120"}
        cirt = [sys.executable, "-m", "cirt"]
        base = cold_start([sys.executable, str(bare), "--help"], env, args.runs)
        help_ = cold_start([*cirt, "--help"], env, args.runs)
        listing = cold_start([*cirt, "incident", "list", "--limit", "50"], env, args.runs)
    print(f"bare typer --help          {base * 1000:7.1f} ms")
    print(f"cirt --help                {help_ * 1000:7.1f} ms   ratio {help_ / base:.2f}x (target <= 1.5x)")
    print(
        f"cirt incident list --limit 50 ({args.incidents} incidents) "
        f"{listing * 1000:7.1f} ms   ratio {listing / base:.2f}x (target <= 2.5x)"
    )


if __name__ == "__main__":
    main()
