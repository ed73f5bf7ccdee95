"""The PostgreSQL adapter, ``cirt db`` and moving a SQLite workspace to PostgreSQL.

Everything else the store and the commands do is tested on both engines by the doubled suite
(conftest's ``engine`` parameter); these tests cover what is particular to PostgreSQL: the SQL
translation, transactions and errors, URLs, migrations and ``cirt db copy``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pg import PgServer

from cirt.errors import ConfigError, StoreError, StoreLocked
from cirt.store import Provenance
from cirt.store.database import redact_url
from cirt.store.engines import open_database, open_store, table_names
from cirt.store.migrations import all_migrations
from cirt.store.postgres import PostgresDatabase, translate
from cirt.workspace import Workspace

LATEST = max(m.version for m in all_migrations())


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh, empty (unmigrated) database."""
    name = f"cirt_pg_{uuid.uuid4().hex[:12]}"
    url = pg_server.create_database(name)
    yield url
    pg_server.drop_database(name)


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[PostgresDatabase]:
    db = PostgresDatabase(pg_url)
    db.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    yield db
    db.close()


# --- SQL and values ---------------------------------------------------------------------------


def test_question_marks_become_placeholders_but_not_inside_quotes() -> None:
    assert (
        translate("SELECT a FROM t WHERE b = ? AND c IN (?, ?)")
        == "SELECT a FROM t WHERE b = %s AND c IN (%s, %s)"
    )
    assert translate("SELECT '?', \"x?\", ? FROM t") == "SELECT '?', \"x?\", %s FROM t"
    assert translate("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"
    assert translate("SELECT 5 % 3, '100%'") == "SELECT 5 %% 3, '100%%'"


def test_the_translated_sql_runs_with_literals_and_parameters(pg_db: PostgresDatabase) -> None:
    assert pg_db.query_one("SELECT '?', ?, '100%', 7 % 4", ("x",)) == ("?", "x", "100%", 3)


def test_sums_come_back_as_integers_as_on_sqlite(pg_db: PostgresDatabase) -> None:
    pg_db.executemany("INSERT INTO t (k, n) VALUES (?, ?)", [("a", 2), ("b", 40)])
    (total,) = pg_db.query_one("SELECT SUM(n) FROM t") or (None,)
    assert total == 42 and isinstance(total, int)


def test_nested_transactions_join_and_an_error_undoes_all_of_it(pg_db: PostgresDatabase) -> None:
    with pytest.raises(RuntimeError), pg_db.transaction():
        pg_db.execute("INSERT INTO t (k, n) VALUES ('a', 1)")
        with pg_db.transaction():
            pg_db.execute("INSERT INTO t (k, n) VALUES ('b', 2)")
        raise RuntimeError("abandon")
    assert pg_db.query("SELECT k FROM t") == []
    with pg_db.transaction():
        pg_db.execute("INSERT INTO t (k, n) VALUES ('a', 1)")
        with pg_db.transaction():
            pg_db.execute("INSERT INTO t (k, n) VALUES ('b', 2)")
    assert pg_db.query("SELECT k FROM t ORDER BY k") == [("a",), ("b",)]


def test_a_refused_statement_is_a_store_error_and_the_connection_stays_usable(
    pg_db: PostgresDatabase,
) -> None:
    pg_db.execute("INSERT INTO t (k, n) VALUES ('a', 1)")
    with pytest.raises(StoreError, match="duplicate key"), pg_db.transaction():
        pg_db.execute("INSERT INTO t (k, n) VALUES ('a', 2)")
    assert pg_db.query("SELECT k, n FROM t") == [("a", 1)]


def test_many_rows_at_once_land_exactly_and_one_duplicate_refuses_them_all(pg_db: PostgresDatabase) -> None:
    rows = [(f"k{i:03d}", i) for i in range(200)]  # past the COPY threshold
    pg_db.executemany("INSERT INTO t (k, n) VALUES (?, ?)", rows)
    assert pg_db.query("SELECT k, n FROM t ORDER BY k") == rows
    with pytest.raises(StoreError, match="duplicate key"), pg_db.transaction():
        pg_db.executemany(
            "INSERT INTO t (k, n) VALUES (?, ?)", [(f"x{i:03d}", i) for i in range(100)] + [("k000", 0)]
        )
    assert pg_db.query_one("SELECT COUNT(*) FROM t") == (200,)
    pg_db.executemany(
        "INSERT INTO t (k, n) VALUES (?, ?) ON CONFLICT (k) DO NOTHING",
        [(f"k{i:03d}", -1) for i in range(150, 260)],
    )
    assert pg_db.query_one("SELECT COUNT(*), MIN(n) FROM t") == (260, -1)


def test_a_writer_waiting_too_long_for_another_gets_store_locked(pg_url: str) -> None:
    holder = PostgresDatabase(pg_url)
    waiter = PostgresDatabase(pg_url, lock_timeout_ms=200)
    try:
        with holder.transaction():
            with pytest.raises(StoreLocked, match="locked by another cirt process"), waiter.transaction():
                pass
            assert waiter.query_one("SELECT 1") == (1,)  # reading never waits for a writer
    finally:
        holder.close()
        waiter.close()


def _version(day: int, name: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--11111111-1111-4111-8111-111111111111",
        "created": "2026-01-01T00:00:00.000Z",
        "modified": f"2026-01-0{day}T00:00:00.000Z",
        "name": name,
        "pattern": "[ipv4-addr:value = '192.0.2.1']",
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00.000Z",
    }


def test_the_object_store_keeps_its_rules_on_postgres(pg_url: str) -> None:
    """Versions, the latest flag, duplicates, strictly increasing date_added, atomic writes."""
    from datetime import UTC, datetime

    frozen = datetime(2026, 1, 1, tzinfo=UTC)
    store = open_store(pg_url, clock=lambda: frozen)
    local = Provenance("local", "tester")
    try:
        store.migrate()
        for day, name in ((1, "v1"), (3, "v3"), (2, "v2")):
            assert store.put(_version(day, name), tlp=2, provenance=local)
        assert not store.put(_version(2, "again"), tlp=2, provenance=local)
        object_id = _version(1, "")["id"]
        current = store.get(object_id)
        assert current is not None and current.obj["name"] == "v3"
        history = store.history(object_id)
        assert [h.obj["name"] for h in history] == ["v1", "v2", "v3"]
        added = sorted(history, key=lambda h: h.seq)
        assert [h.added for h in added] == sorted({h.added for h in added})
        with pytest.raises(RuntimeError), store.transaction():
            store.put(_version(4, "v4"), tlp=2, provenance=local)
            raise RuntimeError("crash in the middle")
        assert store.count_objects() == 3 and store.get(object_id) == current
    finally:
        store.close()


# --- URLs -------------------------------------------------------------------------------------


def test_both_postgres_schemes_open_and_other_schemes_are_refused(pg_url: str) -> None:
    for url in (pg_url, pg_url.replace("postgresql://", "postgres://")):
        db = open_database(url)
        assert db.dialect == "postgresql"
        db.close()
    with pytest.raises(ConfigError, match="unsupported database URL 'mysql:…'"):
        open_database("mysql://root@localhost/cirt")


def test_passwords_never_show(pg_server: PgServer) -> None:
    assert (
        redact_url("postgresql://cirt:s3cret@db.example:5432/cirt")
        == "postgresql://cirt:***@db.example:5432/cirt"
    )
    assert redact_url("postgresql://cirt@db.example/cirt") == "postgresql://cirt@db.example/cirt"
    wrong = pg_server.url("no_such_database").replace("postgres@", "postgres:s3cret@")
    with pytest.raises(StoreError) as raised:
        open_database(wrong)
    assert "s3cret" not in str(raised.value) and ":***@" in str(raised.value)


# --- migrations and cirt db -------------------------------------------------------------------


def test_one_schema_definition_gives_the_same_tables_on_both_engines(pg_url: str, tmp_path: Path) -> None:
    pg, lite = open_store(pg_url), open_store(f"sqlite:///{tmp_path / 'c.db'}")
    try:
        assert pg.pending_migrations() == [m.version for m in all_migrations()]
        assert pg.migrate() == lite.migrate() == [m.version for m in all_migrations()]
        assert pg.schema_version() == lite.schema_version() == LATEST
        assert pg.migrate() == [] and pg.pending_migrations() == []
        assert table_names(pg.db) == table_names(lite.db)
    finally:
        pg.close()
        lite.close()


@pytest.mark.sqlite_only  # one run: the workspace it makes is on PostgreSQL
def test_db_status_and_migrate_on_a_new_postgres_database(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    home = tmp_path / "team"
    home.mkdir()
    (home / "config.toml").write_text(f'[database]\nurl = "{pg_url}"\n', encoding="utf-8")
    monkeypatch.setenv("CIRT_HOME", str(home))
    before = cli("db", "status", "--json")
    assert before.code == 0, before.err
    assert before.json() == {
        "engine": "postgresql",
        "url": pg_url,
        "schema_version": 0,
        "latest_version": LATEST,
        "pending_migrations": [m.version for m in all_migrations()],
        "counts": {"object_versions": 0, "objects": 0, "incidents": 0, "disclosures": 0},
    }
    migrated = cli("db", "migrate", "--json").json()
    assert migrated["applied"] == [m.version for m in all_migrations()]
    assert cli("db", "migrate", "--json").json()["applied"] == []
    assert cli("db", "status", "--json").json()["pending_migrations"] == []


@pytest.mark.sqlite_only  # one run: the workspace it makes is on PostgreSQL
def test_init_with_db_puts_every_command_on_postgres(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    home = tmp_path / "team"
    monkeypatch.setenv("CIRT_HOME", str(home))
    password_url = pg_url.replace("postgres@", "postgres:anything@")  # trust auth ignores it
    assert cli("init", "--db", password_url).code == 0
    opened = cli(
        "incident",
        "open",
        "--title",
        "Defacement of a ministry site",
        "--category",
        "phishing",
        "--severity",
        "medium",
        "--sector",
        "cbb",
        "--json",
    )
    assert opened.code == 0, opened.err
    status = cli("db", "status", "--json").json()
    assert status["engine"] == "postgresql" and status["url"] == pg_url.replace("postgres@", "postgres:***@")
    assert status["counts"]["incidents"] == 1
    assert not (home / "cirt.db").exists()
    store = open_store(pg_url)
    try:
        assert store.incident_by_reference(opened.json()["reference"]) is not None
    finally:
        store.close()


def test_db_status_for_people_names_the_engine_and_what_it_holds(home: Path, engine: str, cli: Any) -> None:
    opened = cli(
        "incident",
        "open",
        "--title",
        "Scam calls",
        "--category",
        "phishing",
        "--severity",
        "low",
        "--sector",
        "btl",
    )
    assert opened.code == 0, opened.err
    shown = cli("db", "status")
    assert shown.code == 0, shown.err
    lines = {
        line.split("  ")[0]: line.split("  ", 1)[1].strip() for line in shown.out.splitlines() if "  " in line
    }
    assert lines["Engine"] == engine
    assert lines["Schema version"] == f"{LATEST} (latest {LATEST})"
    assert lines["Pending migrations"] == "none"
    assert lines["Incidents"] == "1"


@pytest.mark.sqlite_only
def test_cirt_db_url_overrides_the_config(
    pg_url: str, home: Path, monkeypatch: pytest.MonkeyPatch, cli: Any
) -> None:
    monkeypatch.setenv("CIRT_DB_URL", pg_url)
    assert cli("db", "status", "--json").json()["engine"] == "postgresql"
    monkeypatch.delenv("CIRT_DB_URL")
    assert cli("db", "status", "--json").json()["url"] == f"sqlite:///{home / 'cirt.db'}"


# --- cirt db copy -----------------------------------------------------------------------------


def _rows(store: Any, table: str) -> list[tuple[Any, ...]]:
    return sorted(store.db.query(f"SELECT * FROM {table}"), key=repr)


def _busy_workspace(ws: Workspace) -> str:
    """Incidents with several versions, notes, a release log, a pull cursor, a credential."""
    from cirt.taxii.auth import issue_credential

    incident = ws.incidents.open(
        title="Phishing against CBB customers", category="phishing", severity="medium", organisations=["cbb"]
    )
    ws.incidents.update(incident.reference, severity="high")
    ws.incidents.escalate(incident.reference, level="national", reason="bank customers")
    ws.incidents.note(incident.reference, "Takedown requested from the registrar")
    ws.incidents.open(
        title="DDoS on BTL", category="ddos", severity="low", organisations=["btl"], tlp="green"
    )
    stored = ws.store.get(incident.id)
    assert stored is not None
    for recipient in ("org:cbb", "org:bel", "partner:csirtamericas"):
        ws.audit.record(
            recipient=recipient,
            channel="email",
            objects=[(incident.id, stored.modified, stored.tlp)],
            tlp=stored.tlp,
        )
    ws.store.set_taxii_cursor(
        "csirtamericas",
        "c0ffee",
        "2026-03-10T14:00:00.123456Z",
        complete=False,
        now="2026-03-10T14:05:00.000000Z",
    )
    issue_credential(ws, "cbb")
    return incident.reference


@pytest.mark.sqlite_only
def test_copy_moves_everything_and_the_log_still_verifies(
    ws: Workspace, pg_url: str, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = _busy_workspace(ws)
    copied = cli("db", "copy", "--to", pg_url, "--json")
    assert copied.code == 0, copied.err
    target = open_store(pg_url)
    try:
        tables = [t for t in table_names(ws.store.db) if t != "meta"]
        assert set(copied.json()["tables"]) == set(tables)
        for table in tables:
            assert _rows(target, table) == _rows(ws.store, table), table
        assert copied.json()["tables"]["disclosures"] == 3
    finally:
        target.close()
    monkeypatch.setenv("CIRT_DB_URL", pg_url)
    verified = cli("audit", "verify", "--json")
    assert verified.code == 0, verified.err
    history = cli("incident", "history", reference, "--json").json()
    assert len(history) >= 3
    with Workspace.open(ws.home) as moved:
        assert moved.store.db.dialect == "postgresql"
        last = max(s.seq for s in moved.store.latest_objects())
        last_added = max(s.added for s in moved.store.latest_objects())
        moved.store.put(
            {
                "type": "identity",
                "spec_version": "2.1",
                "id": f"identity--{uuid.uuid4()}",
                "created": "2026-03-11T00:00:00.000Z",
                "modified": "2026-03-11T00:00:00.000Z",
                "name": "After the move",
            },
            tlp=0,
            provenance=Provenance("local", "tester"),
        )
        newest = list(moved.store.latest_objects())[-1]
        assert newest.seq > last and newest.added > last_added  # numbering continues
        assert moved.audit.record(recipient="org:cbb", channel="email", objects=[], tlp=0).seq == 4
        assert moved.audit.verify().ok


@pytest.mark.sqlite_only
def test_copy_refuses_a_target_that_holds_rows_unless_forced(ws: Workspace, pg_url: str, cli: Any) -> None:
    _busy_workspace(ws)
    assert cli("db", "copy", "--to", pg_url).code == 0
    ws.incidents.open(
        title="Ransomware at BEL", category="infected-system", severity="critical", organisations=["bel"]
    )
    again = cli("db", "copy", "--to", pg_url)
    assert again.code == 1
    assert "not empty" in again.err and "--force" in again.err
    forced = cli("db", "copy", "--to", pg_url, "--force", "--json")
    assert forced.code == 0, forced.err
    assert forced.json()["tables"]["incidents"] == 3
    assert forced.json()["replaced"]["incidents"] == 2
    target = open_store(pg_url)
    try:
        assert _rows(target, "objects") == _rows(ws.store, "objects")
    finally:
        target.close()


@pytest.mark.sqlite_only
def test_copy_back_to_sqlite_gives_the_same_rows(
    ws: Workspace, pg_url: str, tmp_path: Path, cli: Any
) -> None:
    from cirt.store.copy import copy_store

    _busy_workspace(ws)
    assert cli("db", "copy", "--to", pg_url).code == 0
    middle = open_store(pg_url)
    back = open_store(f"sqlite:///{tmp_path / 'back.db'}")
    try:
        result = copy_store(middle, back, batch=3)  # small batches: the paging is exercised
        for table in result.tables:
            assert _rows(back, table) == _rows(ws.store, table), table
    finally:
        middle.close()
        back.close()


def test_copy_to_its_own_database_is_refused(home: Path, cli: Any) -> None:
    with Workspace.open(home) as ws:
        url = ws.config.database_url
    refused = cli("db", "copy", "--to", url)
    assert refused.code == 1 and "already uses" in refused.err
