"""The narrow database adapter the store is written against: one per engine.

The store speaks portable SQL with ``?`` placeholders; an adapter runs it, owns transactions and
turns the engine's errors into ours.  PostgreSQL gets its own adapter, not its own store.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from cirt.errors import StoreError, StoreLocked

Row = tuple[Any, ...]


class Database(Protocol):
    """What the store needs of an engine."""

    dialect: str

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; returns the number of rows changed."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    def transaction(self) -> Any:
        """A context manager; nested use joins the outer transaction."""

    def close(self) -> None: ...


# How long a writer waits for another process's write transaction before giving up: the same
# budget as PostgreSQL's lock_timeout.  SQLite's busy handler retries with backoff (1, 2, 5, 10,
# … 100 ms between attempts) inside it, so sixteen writers on two cores queue instead of failing
# as long as each holds the lock only for its writes (callers load files before ``transaction``).
LOCK_WAIT_MS = 30_000


class SQLiteDatabase:
    """SQLite in WAL mode; every write inside an explicit transaction."""

    dialect = "sqlite"

    def __init__(self, path: Path, *, busy_timeout_ms: int = LOCK_WAIT_MS) -> None:
        self.path = path
        try:
            self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            # Every commit reaches the disk before it returns: a disclosure-log entry or an outbox
            # row must survive a power loss once something was sent on its strength (NORMAL may
            # roll back the last commits).  Costs one fsync per commit, not per row
            # (benchmarks/durability.py).
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: bulk imports keep indexes hot
            self._conn.execute("PRAGMA wal_autocheckpoint = 8192")  # fewer checkpoints in bulk writes
            self._conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise _translate(exc, path) from None
        self._depth = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return self._conn.execute(sql, params).rowcount
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from None

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from None

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        try:
            row: Row | None = self._conn.execute(sql, params).fetchone()
            return row
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._conn.rollback()
            raise
        self._depth = 0
        try:
            self._conn.commit()
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from None

    def close(self) -> None:
        self._conn.close()


def _translate(exc: sqlite3.Error, path: Path) -> Exception:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return StoreLocked(f"the database {path} is locked by another cirt process; try again")
    return StoreError(f"database {path}: {text}")
