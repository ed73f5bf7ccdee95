"""Open the store named by a database URL: ``sqlite:///path`` (default) or ``postgresql://…``.

Also what ``cirt db`` reports about a database: its engine, schema version, pending migrations,
its tables and what they hold.  psycopg is imported only when a PostgreSQL URL is opened, so the
SQLite default does not pay for it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cirt.errors import ConfigError
from cirt.stixtime import Clock, utcnow
from cirt.store.database import Database, SQLiteDatabase, redact_url
from cirt.store.migrations import all_migrations
from cirt.store.sql import SQLStore

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def engine_of(url: str) -> str:
    """``sqlite`` or ``postgresql``; a ConfigError for anything else."""
    if url.startswith("sqlite:///"):
        return "sqlite"
    if url.startswith(POSTGRES_SCHEMES):
        return "postgresql"
    raise ConfigError(
        "database url",
        None,
        "url",
        f"unsupported database URL '{url.split(':')[0]}:…' "
        "(use sqlite:///path or postgresql://user@host:port/dbname)",
    )


def open_database(url: str) -> Database:
    if engine_of(url) == "sqlite":
        return SQLiteDatabase(Path(url.removeprefix("sqlite:///")))
    # start-up: the PostgreSQL driver (~90 ms) loads only for a PostgreSQL workspace
    from cirt.store.postgres import PostgresDatabase

    return PostgresDatabase(url)


def open_store(url: str, *, clock: Clock = utcnow) -> SQLStore:
    return SQLStore(open_database(url), clock=clock)


def table_names(db: Database) -> list[str]:
    """The store's tables (not the engine's own), sorted by name."""
    if db.dialect == "sqlite":
        # not FTS5's virtual and shadow tables: their writer fills them (issue 13, m0021)
        rows = db.query(
            "SELECT name FROM pragma_table_list WHERE schema = 'main'"
            " AND type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    else:
        rows = db.query(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            " ORDER BY table_name"
        )
    return [str(r[0]) for r in rows]


def row_count(db: Database, table: str) -> int:
    row = db.query_one(f"SELECT COUNT(*) FROM {table}")
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class DatabaseStatus:
    engine: str
    url: str  # password redacted
    schema_version: int
    latest_version: int
    pending: list[int]
    objects: int  # stored versions
    distinct_objects: int
    incidents: int
    disclosures: int

    def as_dict(self) -> dict[str, object]:
        return {
            "engine": self.engine,
            "url": self.url,
            "schema_version": self.schema_version,
            "latest_version": self.latest_version,
            "pending_migrations": self.pending,
            "counts": {
                "object_versions": self.objects,
                "objects": self.distinct_objects,
                "incidents": self.incidents,
                "disclosures": self.disclosures,
            },
        }


def database_status(store: SQLStore, url: str) -> DatabaseStatus:
    """What ``cirt db status`` shows; tables a pending migration would create count as empty."""
    present = set(table_names(store.db))

    def count(sql: str, table: str) -> int:
        if table not in present:
            return 0
        row = store.db.query_one(sql)
        return int(row[0]) if row else 0

    return DatabaseStatus(
        engine=store.db.dialect,
        url=redact_url(url),
        schema_version=store.schema_version(),
        latest_version=max((m.version for m in all_migrations()), default=0),
        pending=store.pending_migrations(),
        objects=count("SELECT COUNT(*) FROM objects", "objects"),
        distinct_objects=count("SELECT COUNT(*) FROM objects WHERE latest = 1", "objects"),
        incidents=count("SELECT COUNT(*) FROM incidents", "incidents"),
        disclosures=count("SELECT COUNT(*) FROM disclosures", "disclosures"),
    )
