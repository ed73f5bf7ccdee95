"""The refusal log: what each source sent and was refused, chained by hashes like the
disclosure log (``cirt.chain``'s ``entry_hash`` over the previous hash and the entry's canonical
bytes, its position included), so an edited, removed or reordered refusal is named by
``cirt audit verify``, and a checkpoint (``cirt audit checkpoint``) vouches for its head.  Pure:
the store writes the entries ``chain`` makes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from cirt.chain import ChainReport, Head, entry_hash, verify_links


@dataclass(frozen=True)
class Refusal:
    """What was refused, from whom and why: one line of the refusal log once chained."""

    source_kind: str
    source: str
    collection: str | None
    object_id: str | None
    version: str | None
    outcome: str  # rejected | conflict | refused (the whole document)
    reason: str


@dataclass(frozen=True)
class RefusalEntry:
    """One refusal as the log holds it; ``seq`` 0 for a row written before the chain existed."""

    seq: int
    when: str
    source_kind: str
    source: str
    collection: str | None
    object_id: str | None
    version: str | None
    outcome: str  # rejected | conflict | refused (the whole document)
    reason: str
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def canonical_refusal(seq: int, when: str, refusal: Refusal | RefusalEntry) -> bytes:
    """The bytes an entry's hash covers: sorted-key compact JSON, UTF-8."""
    body = {
        "seq": seq,
        "when": when,
        "source_kind": refusal.source_kind,
        "source": refusal.source,
        "collection": refusal.collection,
        "object_id": refusal.object_id,
        "version": refusal.version,
        "outcome": refusal.outcome,
        "reason": refusal.reason,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain(head: Head, when: str, refusals: Sequence[Refusal]) -> list[RefusalEntry]:
    """The entries that follow ``head``, one per refusal, in order."""
    out: list[RefusalEntry] = []
    for r in refusals:
        seq = head.seq + 1
        digest = entry_hash(head.hash, canonical_refusal(seq, when, r))
        out.append(
            RefusalEntry(
                seq,
                when,
                r.source_kind,
                r.source,
                r.collection,
                r.object_id,
                r.version,
                r.outcome,
                r.reason,
                head.hash,
                digest,
            )
        )
        head = Head(seq, digest, when)
    return out


def verify_refusals(entries: Iterable[RefusalEntry], checkpoint: Head | None = None) -> ChainReport:
    """Check every link in chain order; with a checkpoint's head, also that the chain reaches
    it."""
    return verify_links(entries, lambda e: canonical_refusal(e.seq, e.when, e), checkpoint)
