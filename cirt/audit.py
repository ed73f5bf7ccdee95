"""The disclosure log: every release, written before it is sent, as one link of a hash chain.

Each entry's hash is sha256 over the previous entry's hash and the canonical encoding of the entry
(its sequence number included), so an edited, removed, inserted or reordered entry breaks the chain
at that entry.  A chain cannot show that its newest entries were cut off: ``checkpoint`` signs the
head with the CIRT's OpenPGP key into a file kept elsewhere, and ``verify(checkpoint)`` proves the
chain still reaches that head.  The chain itself (``make_entry``, ``verify_chain``, the checkpoint
text) is pure; ``DisclosureLog`` adds the store, the clock and GnuPG.  ``verify_links`` walks any
such chain: the refusal log (``cirt.refusal_log``) is checked by it too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from cirt.errors import CirtError, InvalidValue, NotFound
from cirt.stixtime import format_ts, format_ts_micro
from cirt.tlp import TLP

if TYPE_CHECKING:
    from cirt.workspace import Workspace

GENESIS = "0" * 64
CHECKPOINT_FORMAT = "cirt-disclosure-checkpoint/1"

ObjectRef = tuple[str, str, int]
L = TypeVar("L", bound="Link")

_RECIPIENT = re.compile(r"^(public|(org|partner|contact|archive):[^\s:][^\s]*)$")
DELIVERIES = ("sent", "file")
_CHANNEL = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


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
            "seq": self.seq, "when": self.when, "analyst": self.analyst,
            "recipient": self.recipient, "channel": self.channel, "delivery": self.delivery,
            # TLP as every command's JSON shows it (the hashed payload keeps the level number).
            "objects": [{"id": i, "version": v, "tlp": TLP(t).slug} for i, v, t in self.objects],
            "tlp": TLP(self.tlp).slug, "prev_hash": self.prev_hash, "hash": self.hash,
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
            "ok": self.ok, "entries": self.entries, "head": self.head.as_dict(),
            "first_bad": ({"seq": self.broken.seq, "reason": self.broken.reason}
                          if self.broken else None),
            "checkpoint": self.checkpoint.as_dict() if self.checkpoint else None,
        }


def encode_objects(objects: Iterable[ObjectRef]) -> str:
    """An entry's object versions as compact JSON: the log's column, and the part of the
    hashed bytes that costs (done before the write lock is taken, see ``record``)."""
    return json.dumps([[i, v, t] for i, v, t in objects], separators=(",", ":"),
                      ensure_ascii=False)


_OBJECTS = "\x00objects\x00"


def canonical_entry(seq: int, when: str, analyst: str, recipient: str, channel: str,
                    objects: Iterable[ObjectRef], tlp: int, delivery: str = "", *,
                    encoded: str | None = None) -> bytes:
    """The bytes an entry's hash covers: sorted-key compact JSON, UTF-8 (``delivery`` only when
    the entry states it, so that entries written before it existed still verify).
    ``encoded``: the objects already through :func:`encode_objects`."""
    body: dict[str, Any] = {
        "seq": seq, "when": when, "analyst": analyst, "recipient": recipient,
        "channel": channel, "objects": _OBJECTS, "tlp": tlp,
    }
    if delivery:
        body["delivery"] = delivery
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace(json.dumps(_OBJECTS), encoded if encoded is not None
                        else encode_objects(objects), 1).encode()


def entry_hash(prev_hash: str, payload: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + payload).hexdigest()


def make_entry(head: Head, *, when: str, analyst: str, recipient: str, channel: str,
               objects: Iterable[ObjectRef], tlp: int, delivery: str = "",
               encoded: str | None = None) -> Entry:
    """The entry that follows ``head``."""
    refs = tuple((str(i), str(v), int(t)) for i, v, t in objects)
    seq = head.seq + 1
    payload = canonical_entry(seq, when, analyst, recipient, channel, refs, tlp, delivery,
                              encoded=encoded)
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


def verify_links(entries: Iterable[L], payload: Callable[[L], bytes],
                 checkpoint: Head | None = None) -> ChainReport:
    """Check every link in storage order, ``payload`` giving the bytes an entry's hash covers;
    with a checkpoint, also that the chain reaches it."""
    head = EMPTY
    count = 0
    for entry in entries:
        count += 1
        expected = head.seq + 1
        if entry.seq != expected:
            return ChainReport(count - 1, head, Break(
                entry.seq, f"found where entry #{expected} should be: entries were removed or "
                           "reordered"), checkpoint)
        if entry.prev_hash != head.hash:
            return ChainReport(count - 1, head, Break(
                entry.seq, f"does not follow entry #{head.seq}: entries were removed, inserted or "
                           "reordered"), checkpoint)
        if entry_hash(entry.prev_hash, payload(entry)) != entry.hash:
            return ChainReport(count - 1, head, Break(
                entry.seq, "its content does not match its hash: the entry was edited"), checkpoint)
        if checkpoint is not None and entry.seq == checkpoint.seq and entry.hash != checkpoint.hash:
            return ChainReport(count - 1, head, Break(
                entry.seq, f"differs from the signed checkpoint of {checkpoint.when or 'the log'}: "
                           "the log was rewritten"), checkpoint)
        head = Head(entry.seq, entry.hash, entry.when)
    if checkpoint is not None and head.seq < checkpoint.seq:
        return ChainReport(count, head, Break(
            head.seq + 1, f"missing: the log ends at entry #{head.seq} but the signed checkpoint "
                          f"vouches for entry #{checkpoint.seq}: entries were cut off"), checkpoint)
    if checkpoint is not None and checkpoint.seq == 0 and checkpoint.hash != GENESIS:
        return ChainReport(count, head, Break(0, "the checkpoint is not of this log"), checkpoint)
    return ChainReport(count, head, None, checkpoint)


def verify_chain(entries: Iterable[Entry], checkpoint: Head | None = None) -> ChainReport:
    """Check the disclosure log's links; with a checkpoint, also that the chain reaches it."""
    return verify_links(entries, lambda e: canonical_entry(
        e.seq, e.when, e.analyst, e.recipient, e.channel, e.objects, e.tlp, e.delivery),
        checkpoint)


def checkpoint_text(head: Head, *, signed_at: str, identity: str) -> str:
    """The document a checkpoint signs: the head of the chain, as one line of JSON."""
    body = {"format": CHECKPOINT_FORMAT, "identity": identity, "seq": head.seq,
            "hash": head.hash, "entry_time": head.when, "signed_at": signed_at}
    return json.dumps(body, sort_keys=True, separators=(",", ":")) + "\n"


def parse_checkpoint(text: str) -> tuple[Head, str]:
    """The head and signing time a checkpoint document states (after its signature verified)."""
    try:
        body = json.loads(text)
        if body.get("format") != CHECKPOINT_FORMAT:
            raise ValueError("not a cirt checkpoint")
        seq, digest = body["seq"], body["hash"]
        if not isinstance(seq, int) or seq < 0 or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValueError("malformed head")
        return Head(seq, digest, str(body.get("entry_time", ""))), str(body.get("signed_at", ""))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidValue(f"not a disclosure-log checkpoint: {exc}") from None


@dataclass(frozen=True)
class Checkpoint:
    head: Head
    path: str
    fingerprint: str
    signed_at: str

    def as_dict(self) -> dict[str, Any]:
        return {"head": self.head.as_dict(), "path": self.path, "fingerprint": self.fingerprint,
                "signed_at": self.signed_at}


def _validate(recipient: str, channel: str, objects: list[ObjectRef], tlp: int,
              delivery: str) -> None:
    if not _RECIPIENT.match(recipient):
        raise InvalidValue(f"'{recipient}' is not a recipient (org:ID, partner:ID, contact:EMAIL, "
                           "archive:ID or public)")
    if delivery not in DELIVERIES:
        raise InvalidValue(f"'{delivery}' is not a delivery (one of: {', '.join(DELIVERIES)})")
    if not _CHANNEL.match(channel):
        raise InvalidValue(f"'{channel}' is not a channel name (lower-case word such as 'email')")
    if isinstance(tlp, bool) or not isinstance(tlp, int) or not 0 <= tlp <= 4:
        raise InvalidValue(f"TLP {tlp!r} is not a level from 0 (CLEAR) to 4 (RED)")
    for ref in objects:
        if (len(ref) != 3 or not isinstance(ref[0], str) or "--" not in ref[0]
                or not isinstance(ref[1], str) or isinstance(ref[2], bool)
                or not isinstance(ref[2], int) or not 0 <= ref[2] <= 4):
            raise InvalidValue(f"{ref!r} is not an (object id, version, TLP level) triple")


class DisclosureLog:
    """``ws.audit``: record releases, list them, verify the chain, sign checkpoints."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def record(self, *, recipient: str, channel: str, objects: list[tuple[str, str, int]],
               tlp: int, delivery: str = "sent") -> Entry:
        """Append one release in its own transaction; call it before anything is sent.

        ``delivery``: ``sent`` (to a peer, mailbox or TAXII reader) or ``file``.

        The head is read inside the write transaction, so concurrent writers stay in one line
        (and the store's unique sequence number refuses a fork on engines that do not serialise).
        """
        _validate(recipient, channel, objects, tlp, delivery)
        when = format_ts_micro(self.ws.clock())
        analyst = self.ws.analyst
        refs = tuple((str(i), str(v), int(t)) for i, v, t in objects)
        encoded = encode_objects(refs)  # the costly part, before the write lock

        def build(head: Head) -> Entry:
            seq = head.seq + 1
            digest = entry_hash(head.hash, canonical_entry(
                seq, when, analyst, recipient, channel, refs, tlp, delivery, encoded=encoded))
            return Entry(seq, when, analyst, recipient, channel, refs, tlp, head.hash, digest,
                         delivery)

        return self.ws.store.append_disclosure(build, encoded)

    def entries(self, to: str | None = None, object_id: str | None = None) -> list[Entry]:
        """Entries oldest first; ``to`` is a recipient string or a party id (its contacts too)."""
        recipients = self._recipients(to) if to else None
        return self.ws.store.disclosures(recipients=recipients, object_id=object_id)

    def _recipients(self, to: str) -> list[str]:
        if to == "public" or ":" in to:
            return [to]
        if "@" in to:
            return [f"contact:{to.lower()}"]
        community = self.ws.community
        party = community.party(to)
        kind = "partner" if to in community.partners else "org"
        return [f"{kind}:{to}", *(f"contact:{c.email}" for c in party.contacts)]

    def verify(self, checkpoint_path: str | Path | None = None) -> ChainReport:
        """Walk the whole chain; with a checkpoint file, its signature and head are checked too."""
        checkpoint = self._read_checkpoint(Path(checkpoint_path)) if checkpoint_path else None
        return verify_chain(self.ws.store.iter_disclosures(), checkpoint)

    def head(self) -> Head:
        return self.ws.store.disclosure_head()

    def checkpoint(self, path: str | Path) -> Checkpoint:
        """Sign the head of a chain that verifies, into ``path`` (written atomically)."""
        from cirt.openpgp import OpenPGP, gpg_settings

        report = self.verify()
        if not report.ok:
            raise LogBroken(report)
        pgp = OpenPGP(gpg_settings(self.ws.config.gpg, self.ws.secret("gpg_passphrase")))
        signed_at = format_ts(self.ws.clock())
        text = checkpoint_text(report.head, signed_at=signed_at, identity=self.ws.identity)
        armored = pgp.clearsign(text)
        target = Path(path)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(armored, encoding="utf-8")
            os.replace(temporary, target)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise CirtError(f"cannot write the checkpoint to {target}: {exc.strerror}") from None
        return Checkpoint(report.head, str(target), pgp.fingerprint, signed_at)

    def _read_checkpoint(self, path: Path) -> Head:
        from cirt.openpgp import OpenPGP, SignatureInvalid, gpg_settings

        try:
            armored = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFound(f"no checkpoint file {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidValue(f"cannot read the checkpoint {path}: {exc}") from None
        settings = gpg_settings(self.ws.config.gpg, self.ws.secret("gpg_passphrase"))
        try:
            signed = OpenPGP(settings).read_signed(armored)
        except SignatureInvalid as exc:
            raise SignatureInvalid(f"checkpoint {path}: {exc}") from None
        head, _signed_at = parse_checkpoint(signed.text)
        return head
