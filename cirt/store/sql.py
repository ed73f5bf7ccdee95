"""``SQLStore``: the store every caller uses, assembled from one mixin per concern."""

from __future__ import annotations

from contextlib import AbstractContextManager

from cirt.errors import StoreError
from cirt.stixtime import Clock, utcnow
from cirt.store.audience import AudienceMixin
from cirt.store.database import Database
from cirt.store.deadlines import DeadlinesMixin
from cirt.store.disclosures import DisclosuresMixin
from cirt.store.incidents import IncidentIndexMixin
from cirt.store.ingest_state import IngestStateMixin
from cirt.store.intake import IntakeMixin
from cirt.store.migrations import all_migrations
from cirt.store.objects import ObjectsMixin
from cirt.store.outbox import OutboxMixin
from cirt.store.pages import PagesMixin
from cirt.store.routes import RoutesMixin
from cirt.store.taxii_state import TaxiiStateMixin


class SQLStore(
    ObjectsMixin,
    IncidentIndexMixin,
    AudienceMixin,
    TaxiiStateMixin,
    DisclosuresMixin,
    IngestStateMixin,
    DeadlinesMixin,
    RoutesMixin,
    IntakeMixin,
    OutboxMixin,
    PagesMixin,
):
    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        self.db = db
        self.clock = clock
        self._last_added: str | None = None

    def transaction(self) -> AbstractContextManager[None]:
        """Group several writes so that they land together or not at all."""
        return self.db.transaction()

    def schema_version(self) -> int:
        row = (
            self.db.query_one("SELECT value FROM meta WHERE key = 'schema_version'")
            if self._has_meta()
            else None
        )
        return int(row[0]) if row else 0

    def _has_meta(self) -> bool:
        sql = (
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
            if self.db.dialect == "sqlite"
            else "SELECT 1 FROM information_schema.tables WHERE table_name = 'meta'"
            " AND table_schema = current_schema()"
        )
        return self.db.query_one(sql) is not None

    def applied_migrations(self) -> set[int]:
        """The steps applied to this database, each recorded in ``meta`` as ``migration:NNNN``.

        Steps are numbered per issue and land in any order (m0017 may arrive after m0020), so
        "every step up to the schema version" is not the same set; a database migrated before
        steps were recorded one by one counts every step up to its version.
        """
        if not self._has_meta():
            return set()
        rows = self.db.query("SELECT key FROM meta WHERE key LIKE 'migration:%'")
        if rows:
            return {int(str(key).partition(":")[2]) for (key,) in rows}
        current = self.schema_version()
        return {m.version for m in all_migrations() if m.version <= current}

    def pending_migrations(self) -> list[int]:
        applied = self.applied_migrations()
        return [m.version for m in all_migrations() if m.version not in applied]

    def migrate(self) -> list[int]:
        """Apply every migration not yet applied, all in one transaction: the schema moves from
        one version to the newest or not at all, and processes opening an old database at once
        wait for the one migrating it instead of sharing out its steps."""
        done: list[int] = []
        with self.db.transaction():
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            applied = self.applied_migrations()  # perhaps moved by a process we waited for
            for version in sorted(applied):  # a database from before steps were recorded
                self._record(version)
            for migration in all_migrations():
                if migration.version in applied:
                    continue
                try:
                    for statement in migration.sql_for(self.db.dialect):
                        self.db.execute(statement)
                except StoreError as exc:
                    raise StoreError(
                        f"migration {migration.version} ({migration.name}) failed: {exc}"
                    ) from None
                self._record(migration.version)
                done.append(migration.version)
            if done:
                self.db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(max(applied | set(done))),),
                )
        return done

    def _record(self, version: int) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, 'applied') ON CONFLICT (key) DO NOTHING",
            (f"migration:{version:04d}",),
        )

    def close(self) -> None:
        self.db.close()
