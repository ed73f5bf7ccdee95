"""The PostgreSQL adapter: the same portable SQL as on SQLite, on a server a team shares.

Write transactions are serialised the way SQLite's ``BEGIN IMMEDIATE`` serialises them: each one
takes one transaction-scoped advisory lock before its first statement.  Every store mixin is
written for that model (read the head of the disclosure log, then append to it; read the newest
version, then flip ``latest``; hand out strictly increasing ``added`` stamps), so it stays correct
with several processes on one server without a line of the store changing.  Reads outside a
transaction take no lock and see the last committed state (MVCC), so listing, the TAXII server's
pages and exports never wait for a writer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Loader

from cirt.errors import ConflictError, StoreError, StoreLocked, StoreUnavailable
from cirt.store.database import Row, redact_url

# The advisory lock every write transaction holds: the four bytes of "cirt".
WRITE_LOCK_KEY = 0x63697274

# From this many rows on, ``INSERT INTO t (a, b) VALUES (?, ?)`` runs as one COPY: the same rows
# and the same constraint checks, without a round of the protocol per row.
COPY_THRESHOLD = 50
_PLAIN_INSERT = re.compile(
    r"\s*INSERT\s+INTO\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([A-Za-z0-9_,\s]+)\)\s*"
    r"VALUES\s*\(((?:\s*\?\s*,)*\s*\?\s*)\)\s*",
    re.IGNORECASE,
)
_TOKENS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """``?`` placeholders to psycopg's ``%s``; a literal ``%`` doubled; quoted text left alone."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        return token.replace("%", "%%")

    return _TOKENS.sub(swap, sql)


class _NumericLoader(Loader):
    """``numeric`` (what SUM of integers gives) as int or float, as SQLite returns them."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode("ascii")
        if text in ("NaN", "Infinity", "-Infinity"):
            return float(text)
        return float(text) if "." in text else int(text)


class PostgresDatabase:
    """A psycopg connection in autocommit mode; ``transaction()`` groups and locks writes."""

    dialect = "postgresql"

    def __init__(self, url: str, *, lock_timeout_ms: int = 30_000, connect_timeout_s: int = 10) -> None:
        self.url = url
        self.where = redact_url(url)
        try:
            self._conn = psycopg.connect(
                url, autocommit=True, connect_timeout=connect_timeout_s, application_name="cirt"
            )
            self._conn.adapters.register_loader("numeric", _NumericLoader)
            self._conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
            # psycopg prepares a statement run five times; PostgreSQL's generic plan for it
            # then ignores the values (a full-text or range search became a sequential scan)
            self._conn.execute("SET plan_cache_mode = force_custom_plan")
        except psycopg.OperationalError as exc:  # refused, unreachable, starting up, auth
            raise StoreUnavailable(
                f"cannot use the PostgreSQL database {self.where}: {_first_line(exc)}"
            ) from None
        except psycopg.Error as exc:
            raise StoreError(f"cannot use the PostgreSQL database {self.where}: {_first_line(exc)}") from None
        self._depth = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return self._conn.execute(translate(sql), tuple(params)).rowcount
        except psycopg.Error as exc:
            raise self._translate(exc) from None

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Many rows of one statement; a plain multi-row INSERT goes through COPY (5x faster)."""
        if not rows:
            return
        plain = _PLAIN_INSERT.fullmatch(sql) if len(rows) >= COPY_THRESHOLD else None
        if plain is not None:
            columns = [c.strip() for c in plain.group(2).split(",")]
            if len(columns) == plain.group(3).count("?"):
                self.copy_rows(plain.group(1), columns, rows)
                return
        try:
            with self._conn.cursor() as cursor:
                cursor.executemany(translate(sql), [tuple(r) for r in rows])
        except psycopg.Error as exc:
            raise self._translate(exc) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            return self._conn.execute(translate(sql), tuple(params)).fetchall()
        except psycopg.Error as exc:
            raise self._translate(exc) from None

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        try:
            row: Row | None = self._conn.execute(translate(sql), tuple(params)).fetchone()
            return row
        except psycopg.Error as exc:
            raise self._translate(exc) from None

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Bulk-load rows with COPY (``cirt db copy``); identity columns keep the given values."""
        names = ", ".join(_identifier(c) for c in columns)
        try:
            with (
                self._conn.cursor() as cursor,
                cursor.copy(f"COPY {_identifier(table)} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        except psycopg.Error as exc:
            raise self._translate(exc) from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._depth = 1
        try:
            with self._conn.transaction():
                self.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK_KEY,))
                yield
        except psycopg.Error as exc:
            raise self._translate(exc) from None
        finally:
            self._depth = 0

    @property
    def read_only(self) -> str | None:
        """None: the server owns its disk, and its own errors say what is wrong with it."""
        return None

    def integrity_problems(self) -> list[str]:
        """Reads every table of the schema through: a page the server cannot read fails the scan
        (and, when the cluster has data checksums, a page whose checksum is wrong)."""
        problems = []
        tables = self.query(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            " ORDER BY table_name"
        )
        for (table,) in tables:
            try:
                self.query(f"SELECT COUNT(*) FROM {_identifier(str(table))}")
            except StoreError as exc:
                problems.append(f"table {table}: {exc}")
        return problems

    def close(self) -> None:
        self._conn.close()

    def _translate(self, exc: psycopg.Error) -> Exception:
        if self._conn.broken or isinstance(exc, pg_errors.AdminShutdown | pg_errors.CannotConnectNow):
            return StoreUnavailable(
                f"the PostgreSQL database {self.where} went away ({_first_line(exc)}); try again"
            )
        if isinstance(exc, pg_errors.LockNotAvailable):
            return StoreLocked(f"the database {self.where} is locked by another cirt process; try again")
        if isinstance(exc, pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
            return ConflictError(
                f"the database {self.where}: a concurrent change won ({_first_line(exc)}); try again"
            )
        return StoreError(f"database {self.where}: {_first_line(exc)}")


def _identifier(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise StoreError(f"not a plain SQL identifier: {name!r}")
    return name


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
