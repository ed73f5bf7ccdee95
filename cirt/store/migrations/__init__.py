"""Schema migrations, one module per step, applied in order of their number.

Each module ``mNNNN_name.py`` defines ``STATEMENTS``: portable DDL in which ``{serial}`` (an
auto-numbered primary key), ``{bigint}`` and ``{blob}`` are filled in per engine.  One definition
for SQLite and PostgreSQL; add a step by adding a module with the next number.  What only one
engine has (SQLite's FTS5, PostgreSQL's GiST and GIN indexes) goes in the module's optional
``ENGINE_STATEMENTS = {"sqlite": [...], "postgresql": [...]}``, run after ``STATEMENTS``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

DIALECT_TYPES = {
    "sqlite": {"serial": "INTEGER PRIMARY KEY AUTOINCREMENT", "bigint": "INTEGER", "blob": "BLOB"},
    "postgresql": {
        "serial": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "bigint": "BIGINT",
        "blob": "BYTEA",
    },
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    engine_statements: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def sql_for(self, dialect: str) -> list[str]:
        own = dict(self.engine_statements).get(dialect, ())
        return [s.format(**DIALECT_TYPES[dialect]) for s in (*self.statements, *own)]


def all_migrations() -> list[Migration]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("m") or not info.name[1:5].isdigit():
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        engine = getattr(module, "ENGINE_STATEMENTS", {})
        found.append(
            Migration(
                int(info.name[1:5]),
                info.name[6:],
                tuple(module.STATEMENTS),
                tuple((k, tuple(v)) for k, v in sorted(engine.items())),
            )
        )
    return sorted(found, key=lambda m: m.version)
