"""The disclosure log: every release, written before it is sent, as one link of a hash chain
(``cirt.chain``); and the checkpoints that sign the heads of both chains, the disclosure log's and
the refusal log's, so that cutting off their newest entries is caught.

``DisclosureLog`` adds to the pure chain what it needs from outside: the store, the clock, the
analyst and the CIRT's identity (a ``cirt.context.Context``) and GnuPG (``openpgp``, made when a
checkpoint is signed or read).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cirt.chain import (
    ChainReport,
    CheckpointHeads,
    Entry,
    Head,
    LogBroken,
    ObjectRef,
    canonical_entry,
    checkpoint_text,
    encode_objects,
    entry_hash,
    parse_checkpoint,
    verify_chain,
)
from cirt.errors import CirtError, InvalidValue, NotFound
from cirt.openpgp import SignatureInvalid
from cirt.refusal_log import verify_refusals
from cirt.stixtime import format_ts, format_ts_micro

if TYPE_CHECKING:
    from cirt.context import Context
    from cirt.openpgp import OpenPGP

_RECIPIENT = re.compile(r"^(public|(org|partner|contact|archive):[^\s:][^\s]*)$")
DELIVERIES = ("sent", "file")
_CHANNEL = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint written: the heads it vouches for, where, by which key, when."""

    head: Head
    refusals: Head
    path: str
    fingerprint: str
    signed_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "head": self.head.as_dict(),
            "refusal_head": self.refusals.as_dict(),
            "path": self.path,
            "fingerprint": self.fingerprint,
            "signed_at": self.signed_at,
        }


@dataclass(frozen=True)
class AuditReport:
    """Both chains verified, each against the checkpoint's head when one was given."""

    disclosures: ChainReport
    refusals: ChainReport

    @property
    def ok(self) -> bool:
        return self.disclosures.ok and self.refusals.ok

    def raise_if_broken(self) -> None:
        if not self.disclosures.ok:
            raise LogBroken(self.disclosures)
        if not self.refusals.ok:
            raise LogBroken(self.refusals, "refusal log")


def _validate(recipient: str, channel: str, objects: list[ObjectRef], tlp: int, delivery: str) -> None:
    if not _RECIPIENT.match(recipient):
        raise InvalidValue(
            f"'{recipient}' is not a recipient (org:ID, partner:ID, contact:EMAIL, archive:ID or public)"
        )
    if delivery not in DELIVERIES:
        raise InvalidValue(f"'{delivery}' is not a delivery (one of: {', '.join(DELIVERIES)})")
    if not _CHANNEL.match(channel):
        raise InvalidValue(f"'{channel}' is not a channel name (lower-case word such as 'email')")
    if isinstance(tlp, bool) or not isinstance(tlp, int) or not 0 <= tlp <= 4:
        raise InvalidValue(f"TLP {tlp!r} is not a level from 0 (CLEAR) to 4 (RED)")
    for ref in objects:
        if (
            len(ref) != 3
            or not isinstance(ref[0], str)
            or "--" not in ref[0]
            or not isinstance(ref[1], str)
            or isinstance(ref[2], bool)
            or not isinstance(ref[2], int)
            or not 0 <= ref[2] <= 4
        ):
            raise InvalidValue(f"{ref!r} is not an (object id, version, TLP level) triple")


class DisclosureLog:
    """``ws.audit``: record releases, list them, verify both chains, sign checkpoints.

    ``openpgp`` makes the CIRT's signer when a checkpoint is signed or read (it raises a
    ConfigError saying how to configure a key when none is).
    """

    def __init__(self, context: Context, openpgp: Callable[[], OpenPGP]) -> None:
        self.context = context
        self.store = context.store
        self._openpgp = openpgp

    def record(
        self,
        *,
        recipient: str,
        channel: str,
        objects: list[tuple[str, str, int]],
        tlp: int,
        delivery: str = "sent",
    ) -> Entry:
        """Append one release in its own transaction; call it before anything is sent.

        ``delivery``: ``sent`` (to a peer, mailbox or TAXII reader) or ``file``.

        The head is read inside the write transaction, so concurrent writers stay in one line
        (and the store's unique sequence number refuses a fork on engines that do not serialise).
        """
        _validate(recipient, channel, objects, tlp, delivery)
        when = format_ts_micro(self.context.clock())
        analyst = self.context.analyst
        refs = tuple((str(i), str(v), int(t)) for i, v, t in objects)
        encoded = encode_objects(refs)  # the costly part, before the write lock

        def build(head: Head) -> Entry:
            seq = head.seq + 1
            digest = entry_hash(
                head.hash,
                canonical_entry(seq, when, analyst, recipient, channel, refs, tlp, delivery, encoded=encoded),
            )
            return Entry(seq, when, analyst, recipient, channel, refs, tlp, head.hash, digest, delivery)

        return self.store.append_disclosure(build, encoded)

    def entries(self, to: str | None = None, object_id: str | None = None) -> list[Entry]:
        """Entries oldest first; ``to`` is a recipient string or a party id (its contacts too)."""
        recipients = self._recipients(to) if to else None
        return self.store.disclosures(recipients=recipients, object_id=object_id)

    def _recipients(self, to: str) -> list[str]:
        if to == "public" or ":" in to:
            return [to]
        if "@" in to:
            return [f"contact:{to.lower()}"]
        community = self.context.community
        party = community.party(to)
        kind = "partner" if to in community.partners else "org"
        return [f"{kind}:{to}", *(f"contact:{c.email}" for c in party.contacts)]

    def verify(self, checkpoint_path: str | Path | None = None) -> ChainReport:
        """Walk the disclosure log's chain; with a checkpoint file, its signature and the head it
        vouches for are checked too."""
        heads = self._read_checkpoint(Path(checkpoint_path)) if checkpoint_path else None
        return verify_chain(self.store.iter_disclosures(), heads.disclosures if heads else None)

    def verify_all(self, checkpoint_path: str | Path | None = None) -> AuditReport:
        """Walk both chains; with a checkpoint file, each must reach the head it vouches for (a
        checkpoint of the first format vouches for the disclosure log alone)."""
        heads = self._read_checkpoint(Path(checkpoint_path)) if checkpoint_path else None
        return AuditReport(
            verify_chain(self.store.iter_disclosures(), heads.disclosures if heads else None),
            verify_refusals(self.store.iter_refusal_chain(), heads.refusals if heads else None),
        )

    def head(self) -> Head:
        return self.store.disclosure_head()

    def checkpoint(self, path: str | Path) -> Checkpoint:
        """Sign the heads of both chains, each verified first, into ``path`` (written
        atomically)."""
        report = self.verify_all()
        report.raise_if_broken()
        pgp = self._openpgp()
        signed_at = format_ts(self.context.clock())
        disclosures, refusals = report.disclosures.head, report.refusals.head
        text = checkpoint_text(disclosures, refusals, signed_at=signed_at, identity=self.context.identity)
        armored = pgp.clearsign(text)
        target = Path(path)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(armored, encoding="utf-8")
            os.replace(temporary, target)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise CirtError(f"cannot write the checkpoint to {target}: {exc.strerror}") from None
        return Checkpoint(disclosures, refusals, str(target), pgp.fingerprint, signed_at)

    def _read_checkpoint(self, path: Path) -> CheckpointHeads:
        try:
            armored = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFound(f"no checkpoint file {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidValue(f"cannot read the checkpoint {path}: {exc}") from None
        try:
            signed = self._openpgp().read_signed(armored)
        except SignatureInvalid as exc:
            raise SignatureInvalid(f"checkpoint {path}: {exc}") from None
        return parse_checkpoint(signed.text)
