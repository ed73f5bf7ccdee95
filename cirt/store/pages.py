"""Pages of stored versions in the order they were added: what a TAXII collection reads.

Keyset paging on ``added`` (TAXII's ``date_added``): a page starts after the ``added`` of the
last row of the one before, so a page costs the same at any position.  Rows come with their
plain facts (``cirt.plain``) and the TLP of their object's newest version, which is what the
gate's fast path needs (``cirt.taxii.release``); SQL stays here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

from cirt.stixtime import format_ts_micro, parse_ts
from cirt.store import StoredObject
from cirt.store.database import Database


class PagedRow(NamedTuple):
    """A stored version as a page reads it, with its plain facts (``cirt.plain``).

    A tuple, made from the result row in C (``paged_rows``): a page makes a thousand of these,
    and most of them only ever need their columns.
    """

    seq: int
    id: str
    modified: str
    type: str
    spec_version: str
    added: str
    tlp: int
    origin: str
    body: str
    plain: str | None
    newest: int  # the TLP of the object's newest version (``tlp`` for the newest itself)

    @property
    def obj(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value

    def stored(self) -> StoredObject:
        return StoredObject(*self[:9])


NEWEST_TLP = (
    "CASE WHEN latest = 1 THEN tlp ELSE COALESCE((SELECT n.tlp FROM objects n"
    " WHERE n.id = objects.id AND n.latest = 1), 4) END"
)
"""SQL over ``objects``: the TLP of the row's newest version (RED if none: fail closed)."""
PAGED_COLUMNS = ", ".join(PagedRow._fields[:-1]) + f", {NEWEST_TLP} AS newest"
"""The columns of a ``PagedRow`` in a SELECT from ``objects``."""
_new_paged_row = partial(tuple.__new__, PagedRow)


def paged_rows(rows: Iterable[Sequence[Any]]) -> list[PagedRow]:
    """``PagedRow``s of result rows selected as ``PAGED_COLUMNS``."""
    return list(map(_new_paged_row, rows))


@dataclass(frozen=True)
class PageFilter:
    """Which versions a page may hold (TAXII 2.1 section 3.6's filters, already validated).

    ``versions``: ``last``, ``first``, ``all`` or timestamps (any of them); ``ceiling``: the
    highest TLP a row, and with ``versions`` other than ``last`` its newest version, may have.
    """

    ceiling: int
    types_in: tuple[str, ...] = ()
    types_not_in: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    spec_versions: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)


def version_variants(stamp: str) -> list[str]:
    """The spellings a stored ``modified`` of this instant may have (ms, µs, seconds)."""
    moment = parse_ts(stamp)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    out = {stamp, format_ts_micro(moment), f"{base}.{moment.microsecond // 1000:03d}Z"}
    if moment.microsecond == 0:
        out.add(base + "Z")
    return sorted(out)


def _in(column: str, values: Sequence[str], negate: bool = False) -> str:
    return f"{column}{' NOT' if negate else ''} IN ({','.join('?' * len(values))})"


class PagesMixin:
    db: Database

    def objects_page(self, where: PageFilter, after: str | None, limit: int) -> list[PagedRow]:
        """Up to ``limit`` versions matching ``where`` added after ``after``, in ``added``
        order."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, values, negate in (
            ("type", where.types_in, False),
            ("type", where.types_not_in, True),
            ("type", where.types, False),
            ("id", where.ids, False),
            ("spec_version", where.spec_versions, False),
        ):
            if values:
                clauses.append(_in(column, values, negate))
                params += values
        if "all" not in where.versions:
            alternatives = []
            for version in where.versions:
                if version == "last":
                    alternatives.append("latest = 1")
                elif version == "first":
                    alternatives.append(
                        "modified = (SELECT MIN(o2.modified) FROM objects o2 WHERE o2.id = objects.id)"
                    )
                else:
                    variants = version_variants(version)
                    alternatives.append(_in("modified", variants))
                    params += variants
            clauses.append("(" + " OR ".join(alternatives) + ")")
        # a version goes only where its newest version may go too: nothing above the ceiling
        clauses.append("tlp <= ?")
        params.append(where.ceiling)
        if where.versions != ("last",):
            clauses.append(f"{NEWEST_TLP} <= ?")
            params.append(where.ceiling)
        if after:
            clauses.append("added > ?")
            params.append(after)
        hint = ""
        if self.db.dialect == "sqlite" and not where.ids:
            hint = " INDEXED BY objects_added"  # walk date_added order; never sort the collection
        rows = self.db.query(
            f"SELECT {PAGED_COLUMNS} FROM objects{hint} WHERE {' AND '.join(clauses)}"
            f" ORDER BY added LIMIT {int(limit)}",
            params,
        )
        return paged_rows(rows)
