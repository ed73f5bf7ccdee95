"""``cirt db copy``: move a whole store to another database, typically SQLite to PostgreSQL.

Generic over the schema: every table the migrations created is copied row for row, in batches,
keeping every value as it is: ``seq`` and ``added`` of every version (TAXII paging and insertion
order continue where they were), the disclosure log byte for byte (its hash chain still
verifies), cursors, credentials and whatever later migrations add, without this module knowing
their names.  The target is migrated to the same schema version first, and the copy is one
transaction there: it lands whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cirt.errors import ConflictError, StoreError
from cirt.store.database import Database, Row
from cirt.store.engines import row_count, table_names
from cirt.store.search_index import rebuild_text_search
from cirt.store.sql import SQLStore

BATCH = 5000
NOT_COPIED = ("meta",)  # each side's own bookkeeping: the target's migrations write it


@dataclass(frozen=True)
class TableShape:
    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]  # primary key columns: the keyset the batches page by
    identity: tuple[str, ...]  # auto-numbered columns whose counters must follow the copy


@dataclass(frozen=True)
class CopyResult:
    schema_version: int
    tables: dict[str, int]  # rows copied per table
    replaced: dict[str, int]  # rows the target held before (only with force)

    def as_dict(self) -> dict[str, object]:
        return {
            "schema_version": self.schema_version,
            "tables": self.tables,
            "replaced": self.replaced,
            "rows": sum(self.tables.values()),
        }


def shape_of(db: Database, table: str) -> TableShape:
    """Columns in declared order, primary key and identity columns of one table."""
    if db.dialect == "sqlite":
        info = db.query(f"PRAGMA table_info({table})")
        columns = tuple(str(r[1]) for r in info)
        key = tuple(str(r[1]) for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
        sql = db.query_one("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        autoincrement = bool(sql and "AUTOINCREMENT" in str(sql[0]).upper())
        identity = key if autoincrement and len(key) == 1 else ()
        return TableShape(table, columns, key, identity)
    info = db.query(
        "SELECT column_name, is_identity FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    key_rows = db.query(
        "SELECT k.column_name FROM information_schema.table_constraints c"
        " JOIN information_schema.key_column_usage k ON k.constraint_name = c.constraint_name"
        " AND k.table_schema = c.table_schema AND k.table_name = c.table_name"
        " WHERE c.table_schema = current_schema() AND c.table_name = ?"
        " AND c.constraint_type = 'PRIMARY KEY' ORDER BY k.ordinal_position",
        (table,),
    )
    return TableShape(
        table,
        tuple(str(r[0]) for r in info),
        tuple(str(r[0]) for r in key_rows),
        tuple(str(r[0]) for r in info if r[1] == "YES"),
    )


def references(db: Database, table: str) -> set[str]:
    """Tables that ``table`` has foreign keys to (copied before it)."""
    if db.dialect == "sqlite":
        return {str(r[2]) for r in db.query(f"PRAGMA foreign_key_list({table})")}
    return {
        str(r[0])
        for r in db.query(
            "SELECT DISTINCT u.table_name FROM information_schema.table_constraints c"
            " JOIN information_schema.constraint_column_usage u"
            " ON u.constraint_name = c.constraint_name AND u.constraint_schema = c.constraint_schema"
            " WHERE c.table_schema = current_schema() AND c.table_name = ?"
            " AND c.constraint_type = 'FOREIGN KEY'",
            (table,),
        )
    }


def copy_order(db: Database, tables: Sequence[str]) -> list[str]:
    """Tables so that every table comes after those it references (by name otherwise)."""
    pending = {t: references(db, t) & set(tables) - {t} for t in tables}
    ordered: list[str] = []
    while pending:
        ready = sorted(t for t, needs in pending.items() if not needs - set(ordered))
        if not ready:
            raise StoreError(f"tables reference each other in a cycle: {', '.join(sorted(pending))}")
        ordered += ready
        for t in ready:
            del pending[t]
    return ordered


def batches(db: Database, shape: TableShape, size: int = BATCH) -> Iterator[list[Row]]:
    """The rows of a table in primary-key order, ``size`` at a time (keyset paging)."""
    columns = ", ".join(shape.columns)
    if not shape.key:
        order = ", ".join(shape.columns)
        offset = 0
        while rows := db.query(
            f"SELECT {columns} FROM {shape.name} ORDER BY {order} LIMIT {int(size)} OFFSET {offset}"
        ):
            yield rows
            offset += len(rows)
        return
    key = ", ".join(shape.key)
    positions = [shape.columns.index(k) for k in shape.key]
    after: Row | None = None
    while True:
        if after is None:
            rows = db.query(f"SELECT {columns} FROM {shape.name} ORDER BY {key} LIMIT {int(size)}")
        else:
            marks = ", ".join("?" * len(shape.key))
            rows = db.query(
                f"SELECT {columns} FROM {shape.name} WHERE ({key}) > ({marks})"
                f" ORDER BY {key} LIMIT {int(size)}",
                after,
            )
        if not rows:
            return
        yield rows
        if len(rows) < size:
            return
        after = tuple(rows[-1][p] for p in positions)


def copy_store(source: SQLStore, target: SQLStore, *, force: bool = False, batch: int = BATCH) -> CopyResult:
    """Copy every row of ``source`` into ``target``; refuse a target holding rows unless forced."""
    if source.pending_migrations():
        raise StoreError("the source database has pending migrations: run 'cirt db migrate' first")
    target.migrate()
    version = source.schema_version()
    if target.schema_version() != version:
        raise StoreError(
            f"the target is at schema version {target.schema_version()}, the source"
            f" at {version}: both must run the same cirt"
        )
    tables = [t for t in table_names(source.db) if t not in NOT_COPIED]
    missing = sorted(set(tables) - set(table_names(target.db)))
    if missing:
        raise StoreError(f"the target lacks tables {', '.join(missing)}")
    occupied = {t: n for t in tables if (n := row_count(target.db, t))}
    if occupied and not force:
        held = ", ".join(f"{t} {n}" for t, n in sorted(occupied.items()))
        raise ConflictError(
            f"the target database is not empty ({held} rows): use --force to replace what it holds"
        )
    order = copy_order(source.db, tables)
    copied: dict[str, int] = {}
    with target.transaction():
        for table in reversed(order):
            if table in occupied:
                target.db.execute(f"DELETE FROM {table}")
        for table in order:
            shape = shape_of(source.db, table)
            copied[table] = 0
            for rows in batches(source.db, shape, batch):
                _write(target.db, shape, rows)
                copied[table] += len(rows)
            _follow_counters(target.db, shape_of(target.db, table))
        rebuild_text_search(target.db)  # its writer fills SQLite's full-text index, not a trigger
        for table in order:
            if row_count(target.db, table) != copied[table]:
                raise StoreError(
                    f"copy of {table} incomplete: {row_count(target.db, table)}"
                    f" rows on the target, {copied[table]} read"
                )
    return CopyResult(version, copied, occupied)


def _write(db: Database, shape: TableShape, rows: Sequence[Row]) -> None:
    bulk = getattr(db, "copy_rows", None)
    if bulk is not None:
        bulk(shape.name, shape.columns, rows)
        return
    marks = ", ".join("?" * len(shape.columns))
    db.executemany(f"INSERT INTO {shape.name} ({', '.join(shape.columns)}) VALUES ({marks})", rows)


def _follow_counters(db: Database, shape: TableShape) -> None:
    """Make auto-numbering continue after the copied values (SQLite's AUTOINCREMENT does it)."""
    if db.dialect != "postgresql":
        return
    for column in shape.identity:
        db.query_one(
            f"SELECT setval(pg_get_serial_sequence(?, ?),"
            f" COALESCE((SELECT MAX({column}) FROM {shape.name}), 0) + 1, false)",
            (shape.name, column),
        )
