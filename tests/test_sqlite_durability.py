"""What SQLite acknowledges is on the disk: a disclosure-log entry written before a release is
sent, an outbox row, an incident change must survive a power loss, not only a crash.

In WAL mode ``synchronous = NORMAL`` survives a crash of the process but may roll back the last
commits on power loss; ``FULL`` syncs the log at every commit.  The cost is measured by
``benchmarks/durability.py`` (one fsync per commit, not per row).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cirt.workspace import Workspace

FULL = 2


@pytest.mark.sqlite_only
def test_every_commit_is_synced_to_disk(home: Path, engine: str) -> None:
    with Workspace.open(home) as ws:
        assert ws.store.db.query_one("PRAGMA synchronous") == (FULL,)
        assert ws.store.db.query_one("PRAGMA journal_mode") == ("wal",)
        entry = ws.audit.record(
            recipient="org:cbb",
            channel="email",
            tlp=1,
            objects=[("indicator--00000000-0000-4000-8000-000000000001", "2026-03-10T14:00:00.000Z", 1)],
        )
    with Workspace.open(home) as again:
        assert [e.hash for e in again.audit.entries()] == [entry.hash]
