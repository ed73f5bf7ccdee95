"""The store keeps every version, writes atomically, and migrates its schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cirt.errors import StoreError, StoreLocked
from cirt.store import Provenance
from cirt.store.database import SQLiteDatabase
from cirt.store.engines import open_database
from cirt.store.migrations import all_migrations
from cirt.store.sql import SQLStore
from tests.conftest import FixedClock

LOCAL = Provenance("local", "tester")
INDICATOR_ID = "indicator--11111111-1111-4111-8111-111111111111"


def _indicator(modified: str, name: str = "x") -> dict[str, object]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": INDICATOR_ID,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": modified,
        "name": name,
        "pattern": "[ipv4-addr:value = '192.0.2.1']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z",
    }


@pytest.fixture
def store(tmp_path: Path, clock: FixedClock, database_url: str | None) -> SQLStore:
    """The same store rules on both engines: SQLite on disk, and a real PostgreSQL database."""
    s = SQLStore(open_database(database_url or f"sqlite:///{tmp_path / 't.db'}"), clock=clock)
    s.migrate()
    return s


def test_every_version_is_kept_and_the_newest_is_current(store: SQLStore) -> None:
    assert store.put(_indicator("2026-01-01T00:00:00.000Z", "v1"), tlp=2, provenance=LOCAL)
    assert store.put(_indicator("2026-01-03T00:00:00.000Z", "v3"), tlp=2, provenance=LOCAL)
    assert store.put(_indicator("2026-01-02T00:00:00.000Z", "v2"), tlp=2, provenance=LOCAL)
    current = store.get("indicator--11111111-1111-4111-8111-111111111111")
    assert current is not None and current.obj["name"] == "v3"
    history = store.history("indicator--11111111-1111-4111-8111-111111111111")
    assert [h.obj["name"] for h in history] == ["v1", "v2", "v3"]


def test_the_same_version_twice_is_a_duplicate_not_a_new_row(store: SQLStore) -> None:
    assert store.put(_indicator("2026-01-01T00:00:00.000Z"), tlp=2, provenance=LOCAL)
    assert not store.put(_indicator("2026-01-01T00:00:00.000Z"), tlp=2, provenance=LOCAL)
    assert store.count_objects() == 1


def test_date_added_is_strictly_increasing_even_with_a_stopped_clock(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    frozen = datetime(2026, 1, 1, tzinfo=UTC)
    s = SQLStore(SQLiteDatabase(tmp_path / "t.db"), clock=lambda: frozen)
    s.migrate()
    for day in range(1, 6):
        s.put(_indicator(f"2026-01-0{day}T00:00:00.000Z"), tlp=1, provenance=LOCAL)
    added = [h.added for h in s.history("indicator--11111111-1111-4111-8111-111111111111")]
    assert added == sorted(added) and len(set(added)) == 5


def test_a_failed_transaction_leaves_nothing_behind(store: SQLStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.put(_indicator("2026-01-01T00:00:00.000Z"), tlp=2, provenance=LOCAL)
        raise RuntimeError("crash in the middle")
    assert store.count_objects() == 0


def test_provenance_is_recorded_per_version(store: SQLStore) -> None:
    peer = Provenance("taxii", "csirtamericas", "coll-1", ("marking-definition--x",))
    store.put(_indicator("2026-01-01T00:00:00.000Z"), tlp=1, provenance=peer)
    assert (
        store.provenance_of("indicator--11111111-1111-4111-8111-111111111111", "2026-01-01T00:00:00.000Z")
        == peer
    )


def test_schema_version_and_migrations(tmp_path: Path) -> None:
    s = SQLStore(SQLiteDatabase(tmp_path / "m.db"))
    assert s.schema_version() == 0
    applied = s.migrate()
    assert applied == [m.version for m in all_migrations()]
    assert s.schema_version() == applied[-1]
    assert s.migrate() == []
    mode = sqlite3.connect(tmp_path / "m.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_locked_database_is_reported_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    first = SQLStore(SQLiteDatabase(path))
    first.migrate()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    second = SQLStore(SQLiteDatabase(path, busy_timeout_ms=50))
    with pytest.raises(StoreLocked, match="locked by another cirt process"):
        second.put(_indicator("2026-01-01T00:00:00.000Z"), tlp=1, provenance=LOCAL)
    blocker.execute("ROLLBACK")


def test_a_corrupt_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError):
        SQLStore(SQLiteDatabase(path)).migrate()


def test_processes_opening_an_old_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    import multiprocessing
    import time

    path = tmp_path / "race.db"
    start = time.time() + 4  # every process is up by then: they all migrate at the same moment
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        results = pool.starmap(_migrate, [(str(path), start)] * 3)
    assert sorted(len(r) for r in results)[-1] == len(all_migrations())
    assert sum(len(r) for r in results) == len(all_migrations())


def _migrate(path: str, start: float) -> list[int]:
    import time

    store = SQLStore(SQLiteDatabase(Path(path), busy_timeout_ms=30_000))
    time.sleep(max(0.0, start - time.time()))
    return store.migrate()
