"""Open the store named by a database URL: ``sqlite:///path`` (default) or ``postgresql://…``."""

from __future__ import annotations

from pathlib import Path

from cirt.errors import ConfigError
from cirt.stixtime import Clock, utcnow
from cirt.store.database import Database, SQLiteDatabase
from cirt.store.sql import SQLStore


def open_database(url: str) -> Database:
    if url.startswith("sqlite:///"):
        return SQLiteDatabase(Path(url.removeprefix("sqlite:///")))
    raise ConfigError("database url", None, "url", f"unsupported database URL '{url.split(':')[0]}:…'")


def open_store(url: str, *, clock: Clock = utcnow) -> SQLStore:
    return SQLStore(open_database(url), clock=clock)
