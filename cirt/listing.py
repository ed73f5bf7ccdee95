"""Pages of long lists: what an analyst reads is one page, whatever the store holds.

``indicator list`` of 20,000 partner indicators built and rendered every row (33 s); a page
parses and renders only its own rows, newest first, and says how many there are in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cirt.context import Context
from cirt.errors import InvalidValue
from cirt.incident_desk import IncidentDesk
from cirt.tlp import TLP


@dataclass(frozen=True)
class Page:
    """Rows ``offset+1 .. offset+len(objects)`` of ``total``, newest first."""

    objects: list[dict[str, Any]]
    total: int
    offset: int
    limit: int

    @property
    def next_offset(self) -> int | None:
        end = self.offset + len(self.objects)
        return end if end < self.total else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
            "next_offset": self.next_offset,
            "objects": self.objects,
        }


def indicator_page(
    context: Context,
    incidents: IncidentDesk,
    *,
    incident: str | None = None,
    tlp: TLP | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """The newest versions of indicators (of one incident, at one TLP), newest first."""
    if limit < 1 or offset < 0:
        raise InvalidValue("--limit is at least 1 and --offset at least 0")
    store = context.store
    level = int(tlp) if tlp is not None else None
    if incident is None:
        total, page = store.latest_page("indicator", tlp=level, limit=limit, offset=offset)
        return Page([s.obj for s in page], total, offset, limit)
    ids = set(store.linked(incidents.get(incident).id))
    rows = [
        s
        for s in store.latest_many(sorted(ids))
        if s.type == "indicator" and (level is None or s.tlp == level)
    ]
    rows.sort(key=lambda s: -s.seq)
    return Page([s.obj for s in rows[offset : offset + limit]], len(rows), offset, limit)
