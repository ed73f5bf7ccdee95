"""The one place TAXII asks the sharing gate what may leave, for the server and for push.

Reads by a party are releases: every page the server answers is recorded once in the disclosure
log.  To keep a page cheap, rows are first sifted on stored columns (TLP, origin, audience) by
rules that can only withhold more than the gate, never less; what survives goes through the gate
itself, and an object the gate leaves unchanged is sent as its stored canonical text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from cirt.gate import DEFINITIONS, Recipient, RulesTable
from cirt.plain import NO_MARKING, NOT_PLAIN, plain_facts
from cirt.store import LOCAL, StoredObject, canonical_json
from cirt.store.pages import PagedRow
from cirt.tlp import TLP

if TYPE_CHECKING:
    from cirt.context import Context
    from cirt.sharing import Disclosure, Served, Sharing

CHANNEL = "taxii"
_UNKNOWN: Any = object()  # not yet in the per-worker cache of plain facts
_NAMING_CACHE = 500_000  # versions remembered per worker (about 60 MB at most)


def _newest(row: Row) -> int:
    """The TLP of the newest version of a row's object (a stored version carries its own)."""
    return row.newest if isinstance(row, PagedRow) else row.tlp


Row = StoredObject | PagedRow


class ReleasedRow(NamedTuple):
    """A stored version the gate let go, and the exact JSON text to send for it."""

    row: Row
    text: str


_new_released_row = partial(tuple.__new__, ReleasedRow)


class Gatekeeper:
    """Per worker: the column pre-sift, the gate call and the disclosure record."""

    def __init__(self, context: Context, sharing: Sharing) -> None:
        self.context = context
        self.sharing = sharing
        self._tables: dict[str, RulesTable] = {}
        self._verdicts: dict[str, dict[tuple[int, int, bool], tuple[bool, bool]]] = {}
        self._others: dict[str, re.Pattern[str]] = {}
        self._any_party: re.Pattern[str] | None = None
        self._naming: dict[tuple[str, str], bool] = {}
        self._plain: dict[str, TLP | None] = {}
        community = context.community
        self._community_identities = frozenset(
            [
                community.national.identity,
                *(o.identity for o in community.organisations.values()),
                *(p.identity for p in community.partners.values()),
            ]
        )
        self._identities = self._community_identities

    def _known_creators(self) -> None:
        """Creators a plain object may name: sectors.yaml identities whose identity object is
        not in the store (one that is has its own marking, which only the whole gate weighs)."""
        known = self._community_identities - self.context.store.existing_ids(
            sorted(self._community_identities)
        )
        if known != self._identities:
            self._identities = known
            self._plain.clear()

    def rules(self, party: str) -> RulesTable:
        """The gate's rules table for ``party`` over TAXII (made once per worker)."""
        table = self._tables.get(party)
        if table is None:
            table = self._tables[party] = RulesTable(self.recipient(party), self.context.community)
        return table

    def ceiling(self, party: str) -> int:
        """The highest TLP any object can have and still reach ``party`` over TAXII, from the
        gate's rules table (-1: nothing can)."""
        ceiling = self.rules(party).ceiling
        return -1 if ceiling is None else int(ceiling)

    def names_others(self, party: str) -> re.Pattern[str]:
        """Matches a JSON string naming another party: an object whose text has one is not
        plain for ``party`` (the gate cuts such values, see ``cirt.gate``)."""
        pattern = self._others.get(party)
        if pattern is None:
            names = sorted(self.rules(party).others)
            pattern = self._others[party] = re.compile(
                "|".join(re.escape(json.dumps(n)) for n in names) or "(?!)"
            )
        return pattern

    def _names_a_party(self, row: Row) -> bool:
        """Does the version's text name any party of sectors.yaml?  Remembered per version (a
        version never changes, and every reader asks about the same ones); only those that do
        are then searched for the parties other than the reader."""
        key = (row.id, row.modified)
        found = self._naming.get(key)
        if found is None:
            if self._any_party is None:
                community = self.context.community
                names = sorted(
                    {
                        n
                        for p in (*community.organisations.values(), *community.partners.values())
                        for n in (p.id, p.identity)
                    }
                )
                self._any_party = re.compile("|".join(re.escape(json.dumps(n)) for n in names) or "(?!)")
            if len(self._naming) >= _NAMING_CACHE:
                self._naming.clear()
            found = self._naming[key] = self._any_party.search(row.body) is not None
        return found

    def sift(
        self, rows: Sequence[Row], party: str
    ) -> tuple[list[Row], dict[str, dict[str, tuple[str, ...]]]]:
        """Withhold on stored columns what the gate would withhold anyway: the rules table's
        verdict for the row's TLP column, which is never lower than the level the gate applies.

        Returns the rows kept and the audiences of those whose verdict depends on them.
        """
        verdict = self.verdicts(party)
        judged = [(row, verdict(row.tlp, _newest(row), row.origin != LOCAL)) for row in rows]
        undecided = [row.id for row, (anyone, member) in judged if member and not anyone]
        audiences = self.context.store.audiences(undecided) if undecided else {}
        return [
            row
            for row, (anyone, member) in judged
            if anyone or (member and party in audiences.get(row.id, {}).get("org", ()))
        ], audiences

    def verdicts(self, party: str) -> Callable[[int, int, bool], tuple[bool, bool]]:
        """For a version of TLP ``own`` whose newest version has TLP ``newest`` (received or
        not): may it go to ``party`` whatever the audience, and may it go if ``party`` is in
        the audience; from the gate's rules table, remembered per distinct case."""
        memo = self._verdicts.get(party)
        if memo is None:
            memo = self._verdicts[party] = {}
        rules = self.rules(party)

        def verdict(own: int, newest: int, received: bool) -> tuple[bool, bool]:
            key = (own, newest, received)
            found = memo.get(key)
            if found is None:
                if not (0 <= own <= 4 and 0 <= newest <= 4):  # not a level: fail closed
                    found = (False, False)
                else:
                    found = (
                        rules.allows(TLP(own), received, False)
                        and rules.allows(TLP(newest), received, False),
                        rules.allows(TLP(own), received, True) and rules.allows(TLP(newest), received, True),
                    )
                memo[key] = found
            return found

        return verdict

    def decide(self, rows: Sequence[Row], party: str) -> list[ReleasedRow]:
        """What of ``rows`` the gate releases to ``party``, in the same order.

        The gate keeps one version per id, so rows holding several versions of an object are
        offered in rounds; objects they reference outside the rows are given as context, so a
        relationship to a releasable indicator on another page is not taken for a leak.
        """
        # definitions are never released as objects: the gate sends them beside the objects
        # using them, at their newest version (from context), never an older one offered here
        kept, audiences = self.sift([r for r in rows if r.type not in DEFINITIONS], party)
        self._known_creators()
        texts: list[str | None] = [None] * len(kept)
        involved: list[int] = []
        plain: list[tuple[int, TLP]] = []
        known = self._plain
        others = self.names_others(party)
        for index, row in enumerate(kept):
            facts = getattr(row, "plain", None)
            level = known.get(facts, _UNKNOWN) if facts is not None else _UNKNOWN
            if level is _UNKNOWN:
                level = self.plain_level(row)
            if level is None or (self._names_a_party(row) and others.search(row.body) is not None):
                involved.append(index)
            else:
                plain.append((index, level))
        # the verdict of a plain object depends on its level, its newest version's, whether it
        # was received and whether the party is in its audience, alone
        verdict = self.verdicts(party)
        judged = [
            (index, verdict(level, _newest(kept[index]), kept[index].origin != LOCAL))
            for index, level in plain
        ]
        missing = [
            kept[i].id
            for i, (anyone, member) in judged
            if member and not anyone and kept[i].id not in audiences
        ]
        if missing:  # marked higher than its TLP column says: its audience decides
            audiences = {**audiences, **self.context.store.audiences(missing)}
        for index, (anyone, member) in judged:
            if anyone or (member and party in audiences.get(kept[index].id, {}).get("org", ())):
                texts[index] = kept[index].body
        rounds: list[dict[str, int]] = []
        for index in involved:
            object_id = kept[index].id
            for batch in rounds:
                if object_id not in batch:
                    batch[object_id] = index
                    break
            else:
                rounds.append({object_id: index})
        for batch in rounds:
            decided = self._decide_round([kept[i] for i in batch.values()], party)
            for index in batch.values():
                row = kept[index]
                texts[index] = decided.get((row.id, row.modified))
        return list(
            map(_new_released_row, [pair for pair in zip(kept, texts, strict=True) if pair[1] is not None])
        )

    def plain_level(self, row: Row) -> TLP | None:
        """The TLP of a *plain* object (see ``cirt.plain``); None if it is not plain.

        For such an object the gate has nothing to redact and nothing to follow: its verdict is
        the TLP rule for its level, origin and audience alone (see ``verdict``).  The facts come
        from the row's ``plain`` column when the store has it, else from the stored text.
        """
        facts = getattr(row, "plain", None)
        if facts is None:
            facts = plain_facts(row.type, row.body, lambda: row.obj)
        try:
            return self._plain[facts]
        except KeyError:
            level = self._plain[facts] = self._resolve(facts)
            return level

    def _resolve(self, facts: str) -> TLP | None:
        """Facts read against the community: a known creator, a TLP marking to send as is."""
        if facts == NOT_PLAIN:
            return None
        if len(facts) > 1 and facts[2:] not in self._identities:
            return None
        if facts[0] == NO_MARKING:
            return None  # it leaves marked with the default level: the gate writes it on
        return TLP(int(facts[0]))

    def _decide_round(self, rows: list[Row], party: str) -> dict[tuple[str, str], str]:
        """The gate over rows that need it whole: context, redaction, references (no logging)."""
        stored = [r.stored() if isinstance(r, PagedRow) else r for r in rows]
        floors = {r.id: TLP(_newest(r)) for r in rows}
        verdict = self.sharing.decide(stored, self.recipient(party), CHANNEL, floors)
        offered = {r.id: r for r in stored}
        out = {}
        for item in verdict.released:
            row = offered[item.obj["id"]]
            text = row.body if item.obj is row.obj else canonical_json(dict(item.obj))
            out[(row.id, row.modified)] = text
        return out

    def recipient(self, party: str) -> Recipient:
        if party in self.context.community.partners:
            return Recipient("partner", party, CHANNEL)
        return Recipient("org", party, CHANNEL)

    def release_for_push(self, rows: Sequence[StoredObject], party: str) -> Disclosure:
        """What the gate lets go to a partner (the newest version of each row), logged by
        ``Sharing.release`` before it is returned."""
        newest: dict[str, StoredObject] = {}
        for row in rows:
            if row.id not in newest or row.modified > newest[row.id].modified:
                newest[row.id] = row
        return self.sharing.release(list(newest.values()), self.recipient(party), CHANNEL, delivery="sent")

    def record(self, page: Sequence[ReleasedRow], party: str) -> Served[ReleasedRow]:
        """One disclosure-log entry for one response page: what the server may send."""
        return self.sharing.serve(
            page,
            self.recipient(party),
            [(row.id, row.modified or row.added, int(row.tlp)) for row, _ in page],
        )
