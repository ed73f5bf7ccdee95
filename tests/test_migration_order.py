"""Migrations are numbered per issue and land in any order: a step with a lower number that
arrives after a database was migrated past it is still applied, once."""

from __future__ import annotations

from pathlib import Path

from cirt.store.database import SQLiteDatabase
from cirt.store.migrations import all_migrations
from cirt.store.sql import SQLStore

EVERY = [m.version for m in all_migrations()]


def test_a_step_numbered_below_the_schema_version_is_applied_when_it_arrives(tmp_path: Path) -> None:
    store = SQLStore(SQLiteDatabase(tmp_path / "late.db"))
    assert store.migrate() == EVERY
    late = 17  # the bulletin outbox, merged after m0019 and m0020 in this session
    store.db.execute("DROP TABLE bulletin_outbox")
    store.db.execute("DELETE FROM meta WHERE key = ?", (f"migration:{late:04d}",))
    assert store.pending_migrations() == [late]
    assert store.migrate() == [late]
    assert store.pending_migrations() == [] and store.migrate() == []
    assert store.outbox() == []
    assert store.schema_version() == max(EVERY)


def test_a_database_from_before_steps_were_recorded_keeps_its_version(tmp_path: Path) -> None:
    store = SQLStore(SQLiteDatabase(tmp_path / "old.db"))
    store.migrate()
    store.db.execute("DELETE FROM meta WHERE key LIKE 'migration:%'")
    store.db.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    assert store.pending_migrations() == [v for v in EVERY if v > 7]
