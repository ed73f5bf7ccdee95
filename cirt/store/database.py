"""The narrow database adapter the store is written against: one per engine.

The store speaks portable SQL with ``?`` placeholders; an adapter runs it, owns transactions and
turns the engine's errors into ours.  PostgreSQL gets its own adapter, not its own store.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from cirt.errors import StoreError, StoreLocked

Row = tuple[Any, ...]


def redact_url(url: str) -> str:
    """The URL with its password replaced, fit for messages and ``cirt db status``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


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

    @property
    def read_only(self) -> str | None:
        """Why this database can only be read (a read-only filesystem, a full disk), or None."""

    def integrity_problems(self) -> list[str]:
        """The engine's own integrity check: what it found wrong, nothing when it is sound."""

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
        self._read_only: str | None = None
        self._busy_timeout_ms = int(busy_timeout_ms)
        try:
            self._conn = self._connect(str(path))
            # The WAL index (the -shm file) is created and sized here: the first thing a full
            # disk or a read-only filesystem refuses, even to a command that only reads.
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
            condition = storage_condition(path)
            if condition is None or _is_busy(exc):
                raise _translate(exc, path) from None
            if hasattr(self, "_conn"):
                self._conn.close()
            self._open_for_reading(condition, exc)
        else:
            # A file the user may not write opens all the same; say so before a write fails.
            if storage_condition(path) in (READ_ONLY_FILE, READ_ONLY_FILESYSTEM):
                self._read_only = storage_condition(path)
        self._depth = 0

    def _connect(self, target: str, *, uri: bool = False) -> sqlite3.Connection:
        conn = sqlite3.connect(target, isolation_level=None, check_same_thread=False, uri=uri)
        conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        return conn

    def _open_for_reading(self, condition: str, cause: sqlite3.Error) -> None:
        """Where the file cannot be written, commands that only read still work.

        A full disk cannot size the shared WAL index, so the connection keeps it in its own
        memory (exclusive locking: other processes wait for this command).  A read-only
        filesystem or file is opened read-only; if SQLite cannot build the index there either,
        the file alone is read as immutable, which is right only while the write-ahead log is
        empty (commits not yet in the main file would be missed): otherwise we say so.
        """
        self._read_only = condition
        try:
            if condition == DISK_FULL:
                self._conn = self._connect(str(self.path))
                self._conn.execute("PRAGMA locking_mode = EXCLUSIVE")
                self._conn.execute("PRAGMA query_only = ON")
                self._conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                return
            location = self.path.resolve().as_posix()
            try:
                self._conn = self._connect(f"file:{location}?mode=ro", uri=True)
                self._conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
                return
            except sqlite3.Error:
                wal = self.path.with_name(self.path.name + "-wal")
                if wal.exists() and wal.stat().st_size > 0:
                    raise StoreError(
                        f"database {self.path}: cannot be read here ({condition}) while its"
                        " write-ahead log holds commits not yet in the main file; open it once"
                        " where it can be written, or copy the workspace to a writable disk"
                    ) from None
            self._conn = self._connect(f"file:{location}?mode=ro&immutable=1", uri=True)
            self._conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.Error:
            raise _translate(cause, self.path) from None

    @property
    def read_only(self) -> str | None:
        return self._read_only

    def integrity_problems(self) -> list[str]:
        """``PRAGMA integrity_check``: every page, index and constraint (the first 20 problems)."""
        rows = self.query("PRAGMA integrity_check(20)")
        return [str(r[0]) for r in rows if r[0] != "ok"]

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
        if self._read_only:
            raise _read_only_error(self.path, self._read_only)
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
        if self._read_only is None:
            self._conn.close()
            return
        with contextlib.suppress(sqlite3.Error):  # a checkpoint at close fails on a full disk
            self._conn.close()


DISK_FULL = "the disk is full"
READ_ONLY_FILESYSTEM = "the filesystem is read-only"
READ_ONLY_FILE = "the file is read-only"


def storage_condition(path: Path) -> str | None:
    """Why the database file cannot be written to, as the analyst should hear it, or None."""
    folder = path.parent if path.parent.exists() else Path(".")
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY:
        return READ_ONLY_FILESYSTEM
    if stats.f_bavail == 0:
        return DISK_FULL
    if path.exists() and not os.access(path, os.W_OK):
        return READ_ONLY_FILE
    return None


def _is_busy(exc: sqlite3.Error) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _read_only_error(path: Path, condition: str) -> StoreError:
    return StoreError(
        f"the database {path} can only be read: {condition}; this command writes"
        " (commands that only read still work)"
    )


def _translate(exc: sqlite3.Error, path: Path) -> Exception:
    if _is_busy(exc):
        return StoreLocked(f"the database {path} is locked by another cirt process; try again")
    code = getattr(exc, "sqlite_errorname", "")
    if code.startswith(("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN")):
        condition = storage_condition(path)
        if condition is not None:
            return _read_only_error(path, condition)
    return StoreError(f"database {path}: {exc}")
