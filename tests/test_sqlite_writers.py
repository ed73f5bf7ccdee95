"""Sixteen analysts writing at once on the SQLite default: every command succeeds.

Each writer is a real ``cirt`` process (the CLI entry point, fresh interpreter, its own playbook
and sectors.yaml loading).  They all wait on one start signal after their imports so that their
writes overlap on a machine with two cores; none may see "database is locked", and every change
must be in the store afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cirt.store.incidents import IncidentFilter
from cirt.workspace import Workspace

# A worker: import the CLI, say it is ready, wait for the signal, run its commands in turn
# (each one opens the workspace afresh, as a new ``cirt`` process would); exits 1 if any failed.
WORKER = r"""
import json, sys, time
from pathlib import Path
from cirt.cli.app import run
ready, go, commands = Path(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.002)
sys.exit(max(run(args) for args in commands))
"""

WRITERS = 16
ROUNDS = 3


def _run_together(
    tmp_path: Path, commands: list[list[list[str]]], timeout: float = 240.0
) -> list[subprocess.CompletedProcess[str]]:
    signals = tmp_path / "signals"
    signals.mkdir()
    go = signals / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(signals / f"ready-{n}"), str(go), json.dumps(args)],
            env={**os.environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, args in enumerate(commands)
    ]
    deadline = time.monotonic() + timeout
    try:
        while not all((signals / f"ready-{n}").exists() for n in range(len(commands))):
            assert all(p.poll() is None for p in processes), "a worker died before the start"
            assert time.monotonic() < deadline, "workers did not get ready"
            time.sleep(0.01)
        go.touch()
        results = []
        for process in processes:
            out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.mark.sqlite_only
def test_sixteen_concurrent_cli_writers_on_sqlite_all_succeed(
    home: Path, tmp_path: Path, engine: str
) -> None:
    with Workspace.open(home) as ws:
        refs = [
            ws.incidents.open(
                title=f"Phishing wave {n}", category="phishing", severity="medium", organisations=["cbb"]
            ).reference
            for n in range(4)
        ]
    # Writer n works on incident n // 4; the four writers of an incident do four kinds of change.
    kinds = [
        lambda ref, n, r: ["incident", "update", ref, "--severity", ["high", "critical", "high"][r]],
        lambda ref, n, r: ["incident", "note", ref, f"writer {n}, round {r}"],
        lambda ref, n, r: ["incident", "update", ref, "--sector", ["bel", "bws", "btl"][r]],
        lambda ref, n, r: [
            "incident",
            "open",
            "--title",
            f"DDoS {n}.{r}",
            "--category",
            "ddos",
            "--severity",
            "high",
            "--sector",
            "btl",
        ],
    ]
    commands = [[kinds[n % 4](refs[n // 4], n, r) for r in range(ROUNDS)] for n in range(WRITERS)]
    results = _run_together(tmp_path, commands)
    failed = [r.stderr.strip() for r in results if r.returncode != 0]
    assert failed == []
    with Workspace.open(home) as ws:
        for ref in refs:
            incident = ws.incidents.get(ref)
            assert incident.severity == "high"  # the last of its writer's three updates
            assert set(incident.organisations) == {"cbb", "bel", "bws", "btl"}
            notes = [o for o in ws.incidents.linked_objects(ref) if o["type"] == "note"]
            assert len(notes) == ROUNDS
        opened = [r for r in ws.incidents.list(IncidentFilter()) if r.title.startswith("DDoS")]
        assert len(opened) == WRITERS // 4 * ROUNDS
