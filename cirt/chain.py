"""The hash chains of the disclosure log and the refusal log, and the checkpoint that vouches for
their heads.  Pure: no I/O.

Each entry's hash is sha256 over the previous entry's hash and the canonical encoding of the entry
(its sequence number included), so an edited, removed, inserted or reordered entry breaks the chain
at that entry.  A chain cannot show that its newest entries were cut off: a checkpoint states the
head of both chains, signed with the CIRT's OpenPGP key (``cirt.audit``) into a file kept
elsewhere, and verifying against it proves each chain still reaches the head it vouches for.
``verify_links`` walks any such chain: the disclosure log's entries (here) and the refusal log's
(``cirt.refusal_log``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from cirt.errors import CirtError, InvalidValue
from cirt.tlp import TLP

GENESIS = "0" * 64
CHECKPOINT_FORMAT = "cirt-audit-checkpoint/2"
_DISCLOSURES_ONLY_FORMAT = "cirt-disclosure-checkpoint/1"  # still read

ObjectRef = tuple[str, str, int]
L = TypeVar("L", bound="Link")


class LogBroken(CirtError):
    """A hash-chained log does not verify; the message names the log and its first bad entry."""

    def __init__(self, report: ChainReport, log: str = "disclosure log") -> None:
        self.report = report
        super().__init__(f"{log} broken: {report.broken}")


@dataclass(frozen=True)
class Entry:
    """One release: when, by whom, to whom, over which channel, which object versions, what TLP,
    and whether it was sent or written to a file (empty in entries older than that column)."""

    seq: int
    when: str
    analyst: str
    recipient: str
    channel: str
    objects: tuple[ObjectRef, ...]
    tlp: int
    prev_hash: str
    hash: str
    delivery: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "when": self.when,
            "analyst": self.analyst,
            "recipient": self.recipient,
            "channel": self.channel,
            "delivery": self.delivery,
            # TLP as every command's JSON shows it (the hashed payload keeps the level number).
            "objects": [{"id": i, "version": v, "tlp": TLP(t).slug} for i, v, t in self.objects],
            "tlp": TLP(self.tlp).slug,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class Head:
    """The newest link of the chain: what a checkpoint vouches for (seq 0 = empty log)."""

    seq: int
    hash: str
    when: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "when": self.when}


EMPTY = Head(0, GENESIS, "")


@dataclass(frozen=True)
class Break:
    """Where the chain stops verifying, and why."""

    seq: int
    reason: str

    def __str__(self) -> str:
        return f"entry #{self.seq}: {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head: Head
    broken: Break | None = None
    checkpoint: Head | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head": self.head.as_dict(),
            "first_bad": ({"seq": self.broken.seq, "reason": self.broken.reason} if self.broken else None),
            "checkpoint": self.checkpoint.as_dict() if self.checkpoint else None,
        }


def encode_objects(objects: Iterable[ObjectRef]) -> str:
    """An entry's object versions as compact JSON: the log's column, and the part of the
    hashed bytes that costs (done before the write lock is taken, see ``record``)."""
    return json.dumps([[i, v, t] for i, v, t in objects], separators=(",", ":"), ensure_ascii=False)


_OBJECTS = "\x00objects\x00"


def canonical_entry(
    seq: int,
    when: str,
    analyst: str,
    recipient: str,
    channel: str,
    objects: Iterable[ObjectRef],
    tlp: int,
    delivery: str = "",
    *,
    encoded: str | None = None,
) -> bytes:
    """The bytes an entry's hash covers: sorted-key compact JSON, UTF-8 (``delivery`` only when
    the entry states it, so that entries written before it existed still verify).
    ``encoded``: the objects already through :func:`encode_objects`."""
    body: dict[str, Any] = {
        "seq": seq,
        "when": when,
        "analyst": analyst,
        "recipient": recipient,
        "channel": channel,
        "objects": _OBJECTS,
        "tlp": tlp,
    }
    if delivery:
        body["delivery"] = delivery
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace(
        json.dumps(_OBJECTS), encoded if encoded is not None else encode_objects(objects), 1
    ).encode()


def entry_hash(prev_hash: str, payload: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + payload).hexdigest()


def make_entry(
    head: Head,
    *,
    when: str,
    analyst: str,
    recipient: str,
    channel: str,
    objects: Iterable[ObjectRef],
    tlp: int,
    delivery: str = "",
    encoded: str | None = None,
) -> Entry:
    """The entry that follows ``head``."""
    refs = tuple((str(i), str(v), int(t)) for i, v, t in objects)
    seq = head.seq + 1
    payload = canonical_entry(seq, when, analyst, recipient, channel, refs, tlp, delivery, encoded=encoded)
    digest = entry_hash(head.hash, payload)
    return Entry(seq, when, analyst, recipient, channel, refs, tlp, head.hash, digest, delivery)


class Link(Protocol):
    """What the chain walk needs of an entry of any hash-chained log."""

    @property
    def seq(self) -> int: ...
    @property
    def when(self) -> str: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


def verify_links(
    entries: Iterable[L], payload: Callable[[L], bytes], checkpoint: Head | None = None
) -> ChainReport:
    """Check every link in storage order, ``payload`` giving the bytes an entry's hash covers;
    with a checkpoint, also that the chain reaches it."""
    head = EMPTY
    count = 0
    for entry in entries:
        count += 1
        expected = head.seq + 1
        if entry.seq != expected:
            return ChainReport(
                count - 1,
                head,
                Break(
                    entry.seq, f"found where entry #{expected} should be: entries were removed or reordered"
                ),
                checkpoint,
            )
        if entry.prev_hash != head.hash:
            return ChainReport(
                count - 1,
                head,
                Break(
                    entry.seq,
                    f"does not follow entry #{head.seq}: entries were removed, inserted or reordered",
                ),
                checkpoint,
            )
        if entry_hash(entry.prev_hash, payload(entry)) != entry.hash:
            return ChainReport(
                count - 1,
                head,
                Break(entry.seq, "its content does not match its hash: the entry was edited"),
                checkpoint,
            )
        if checkpoint is not None and entry.seq == checkpoint.seq and entry.hash != checkpoint.hash:
            return ChainReport(
                count - 1,
                head,
                Break(
                    entry.seq,
                    f"differs from the signed checkpoint of {checkpoint.when or 'the log'}: "
                    "the log was rewritten",
                ),
                checkpoint,
            )
        head = Head(entry.seq, entry.hash, entry.when)
    if checkpoint is not None and head.seq < checkpoint.seq:
        return ChainReport(
            count,
            head,
            Break(
                head.seq + 1,
                f"missing: the log ends at entry #{head.seq} but the signed checkpoint "
                f"vouches for entry #{checkpoint.seq}: entries were cut off",
            ),
            checkpoint,
        )
    if checkpoint is not None and checkpoint.seq == 0 and checkpoint.hash != GENESIS:
        return ChainReport(count, head, Break(0, "the checkpoint is not of this log"), checkpoint)
    return ChainReport(count, head, None, checkpoint)


def verify_chain(entries: Iterable[Entry], checkpoint: Head | None = None) -> ChainReport:
    """Check the disclosure log's links; with a checkpoint, also that the chain reaches it."""
    return verify_links(
        entries,
        lambda e: canonical_entry(
            e.seq, e.when, e.analyst, e.recipient, e.channel, e.objects, e.tlp, e.delivery
        ),
        checkpoint,
    )


@dataclass(frozen=True)
class CheckpointHeads:
    """What a checkpoint vouches for: the head of the disclosure log, and of the refusal log
    (None in a checkpoint written before it covered the refusal log)."""

    disclosures: Head
    refusals: Head | None
    signed_at: str


def checkpoint_text(disclosures: Head, refusals: Head, *, signed_at: str, identity: str) -> str:
    """The document a checkpoint signs: the heads of both chains, as one line of JSON."""
    body = {
        "format": CHECKPOINT_FORMAT,
        "identity": identity,
        "signed_at": signed_at,
        "disclosures": _head_fields(disclosures),
        "refusals": _head_fields(refusals),
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n"


def _head_fields(head: Head) -> dict[str, Any]:
    return {"seq": head.seq, "hash": head.hash, "entry_time": head.when}


def _head_of(fields: Any) -> Head:
    seq, digest = fields["seq"], fields["hash"]
    if (
        isinstance(seq, bool)
        or not isinstance(seq, int)
        or seq < 0
        or not isinstance(digest, str)
        or not re.fullmatch(r"[0-9a-f]{64}", digest)
    ):
        raise ValueError("malformed head")
    return Head(seq, digest, str(fields.get("entry_time", "")))


def parse_checkpoint(text: str) -> CheckpointHeads:
    """The heads and signing time a checkpoint document states (after its signature verified);
    a checkpoint of the first format states the disclosure log's head alone."""
    try:
        body = json.loads(text)
        signed_at = str(body.get("signed_at", ""))
        if body.get("format") == CHECKPOINT_FORMAT:
            return CheckpointHeads(_head_of(body["disclosures"]), _head_of(body["refusals"]), signed_at)
        if body.get("format") == _DISCLOSURES_ONLY_FORMAT:
            return CheckpointHeads(_head_of(body), None, signed_at)
        raise ValueError("not a cirt checkpoint")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidValue(f"not an audit-log checkpoint: {exc}") from None
