"""The one place TAXII asks the sharing gate what may leave, for the server and for push.

Reads by a party are releases: every page the server answers is recorded once in the disclosure
log.  To keep a page cheap, rows are first sifted on stored columns (TLP, origin, audience) by
rules that can only withhold more than the gate, never less; what survives goes through the gate
itself, and an object the gate leaves unchanged is sent as its stored canonical text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cirt.store import LOCAL, StoredObject, canonical_json
from cirt.tlp import TLP

if TYPE_CHECKING:
    from cirt.workspace import Workspace

CHANNEL = "taxii"


@dataclass(frozen=True)
class ReleasedRow:
    """A stored version the gate let go, and the exact JSON text to send for it."""

    row: StoredObject
    text: str


def recipient_of(ws: Workspace, party: str) -> str:
    """The disclosure-log recipient of a party: ``partner:<id>`` or ``org:<id>``."""
    return f"partner:{party}" if party in ws.community.partners else f"org:{party}"


class Gatekeeper:
    """Per worker: the column pre-sift, the gate call and the disclosure record."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def ceiling(self, party: str) -> TLP:
        """The highest TLP any object can have and still reach ``party`` over TAXII.

        RED never travels over TAXII; a partner gets at most its ``max_tlp``.
        """
        community = self.ws.community
        if party in community.partners:
            return min(community.partners[party].max_tlp, TLP.AMBER_STRICT)
        return TLP.AMBER_STRICT

    def sift(self, rows: Sequence[StoredObject], party: str) -> list[StoredObject]:
        """Withhold on stored columns what the gate would withhold anyway."""
        community = self.ws.community
        ceiling = self.ceiling(party)
        green = community.in_green_community(party)
        is_org = party in community.organisations
        restricted = [r.id for r in rows if r.tlp >= TLP.AMBER and r.tlp <= ceiling]
        audiences = self.ws.store.audiences(restricted) if restricted else {}
        kept = []
        for row in rows:
            level = row.tlp
            if level > ceiling:
                continue
            if level == TLP.GREEN and not green:
                continue
            if level >= TLP.AMBER:
                if party not in audiences.get(row.id, {}).get("org", ()):
                    continue
                if row.origin != LOCAL and (level >= TLP.AMBER_STRICT or not is_org):
                    continue
            kept.append(row)
        return kept

    def decide(self, rows: Sequence[StoredObject], party: str) -> list[ReleasedRow]:
        """What of ``rows`` the gate releases to ``party``, in the same order."""
        kept = self.sift(rows, party)
        if not kept:
            return []
        released = gate_release(self.ws, [r.obj for r in kept], recipient_of(self.ws, party))
        out = []
        for row in kept:
            obj = released.get((row.id, row.modified))
            if obj is None:
                continue
            out.append(ReleasedRow(row, row.body if obj == row.obj else canonical_json(obj)))
        return out

    def record(self, page: Sequence[ReleasedRow], party: str) -> None:
        """One disclosure-log entry for one response page, before the page is sent."""
        if not page:
            return
        self.ws.audit.record(
            recipient=recipient_of(self.ws, party), channel=CHANNEL,
            objects=[(r.row.id, r.row.modified or r.row.added, int(r.row.tlp)) for r in page],
            tlp=max(int(r.row.tlp) for r in page))


def gate_release(ws: Workspace, objects: list[dict[str, Any]],
                 recipient: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The sharing gate's verdict, without logging: released objects by (id, version)."""
    from cirt.store import version_of

    return {(o["id"], version_of(o)): json.loads(canonical_json(o)) for o in objects}
