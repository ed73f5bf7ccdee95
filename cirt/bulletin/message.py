"""A bulletin as e-mail: one message per contact, signed with the CIRT's key, encrypted when it can.

PGP/MIME as RFC 3156 describes it: ``multipart/signed`` for a contact without a key, and
``multipart/encrypted`` holding one OpenPGP message signed and encrypted together (RFC 3156 6.2)
for a contact with one.  Content at AMBER or above is never sent in clear unless sectors.yaml says
``plain_mail: true`` for the organisation.  Headers are built with ``email.policy.SMTP``, which
refuses CR and LF in any header value, and the subject is made one line before that: nothing in
an incident can add a header or a recipient.  The message travels through :mod:`cirt.smtp`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Literal

from cirt.bulletin.render import Bulletin, header_safe, render
from cirt.tlp import TLP

if TYPE_CHECKING:
    from datetime import datetime

    from cirt.community import Contact, Organisation
    from cirt.openpgp import OpenPGP

Protection = Literal["encrypted", "signed"]


@dataclass(frozen=True)
class Protected:
    """How a message to one contact must travel, or why it must not (``how`` is None)."""

    how: Protection | None
    reason: str


def protection_for(contact: Contact, organisation: Organisation, level: TLP) -> Protected:
    """Encrypt to a contact with a key; without one, only up to GREEN unless plain mail is allowed."""
    if contact.pgp_fingerprint:
        return Protected("encrypted", f"encrypted to {contact.pgp_fingerprint}")
    if level >= TLP.AMBER and not organisation.plain_mail:
        return Protected(
            None,
            f"{level.label} content needs encryption and {contact.email} has "
            f"no pgp_fingerprint in sectors.yaml (set plain_mail: true for "
            f"'{organisation.id}' to allow unencrypted mail)",
        )
    if level >= TLP.AMBER:
        return Protected("signed", f"signed, not encrypted: plain_mail is allowed for '{organisation.id}'")
    return Protected("signed", f"signed, not encrypted: {level.label} content")


def _attach(parent: MIMEPart, child: MIMEPart) -> None:
    """Attach a body part (typed through MIMEPart, whose attach takes any part)."""
    parent.attach(child)


def _content(bulletin: Bulletin) -> MIMEPart:
    """The readable bulletin (text and HTML) with the STIX bundle attached."""
    body = MIMEPart(policy=SMTP)
    body.set_content(render(bulletin, "txt"), subtype="plain", charset="utf-8", cte="quoted-printable")
    body.add_alternative(render(bulletin, "html"), subtype="html", charset="utf-8", cte="quoted-printable")
    entity = MIMEPart(policy=SMTP)
    entity.make_mixed()
    _attach(entity, body)
    attachment = MIMEPart(policy=SMTP)
    attachment.set_content(
        render(bulletin, "stix").encode("utf-8"),
        maintype="application",
        subtype="stix+json",
        disposition="attachment",
        filename=f"bulletin-{bulletin.number}.json",
    )
    _attach(entity, attachment)
    return entity


def content_key(recipient: str, versions: Iterable[tuple[str, str]]) -> str:
    """What a message carries, as a key: the gate's recipient and the released object versions.

    The same content for the same contact is one outbox entry, whatever the run and the number
    the bulletin got: a re-run finds it and does not send it again.
    """
    text = "\n".join([recipient, *sorted(f"{i} {v}" for i, v in versions)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_message_id(key: str, contact: str, sender: str) -> str:
    """The Message-ID of that content for that contact: the same on every attempt, so a message
    sent again after a crash is recognised as the same one by the contact's mail system."""
    digest = hashlib.sha256(f"{key}\n{contact}".encode()).hexdigest()[:40]
    return f"<{digest}@{sender.rpartition('@')[2] or 'localhost'}>"


def build_message(
    bulletin: Bulletin,
    *,
    sender: str,
    to: str,
    how: Protection,
    pgp: OpenPGP,
    encrypt_to: str | None,
    now: datetime,
    message_id: str | None = None,
) -> EmailMessage:
    """The PGP/MIME message for one contact (``message_id``: see :func:`stable_message_id`)."""
    # Serialised once and parsed back: the generator folds headers it set itself (boundaries)
    # differently the second time, and the signature must cover the bytes that are sent.
    signed_bytes = _content(bulletin).as_bytes(policy=SMTP)
    entity = message_from_bytes(signed_bytes, policy=SMTP)
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = header_safe(bulletin.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2] or None)
    message["MIME-Version"] = "1.0"
    if how == "encrypted":
        if encrypt_to is None:
            raise ValueError("an encrypted message needs the contact's fingerprint")
        armored = pgp.sign_and_encrypt(signed_bytes, [encrypt_to])
        message.add_header("Content-Type", "multipart/encrypted", protocol="application/pgp-encrypted")
        control = MIMEPart(policy=SMTP)
        control.set_content(b"Version: 1\r\n", maintype="application", subtype="pgp-encrypted", cte="7bit")
        control.add_header("Content-Description", "PGP/MIME version identification")
        payload = MIMEPart(policy=SMTP)
        payload.set_content(
            armored.encode("ascii"),
            maintype="application",
            subtype="octet-stream",
            cte="7bit",
            disposition="inline",
            filename="encrypted.asc",
        )
        _attach(message, control)
        _attach(message, payload)
    else:
        signature, micalg = pgp.detached_signature(signed_bytes)
        message.add_header(
            "Content-Type", "multipart/signed", micalg=micalg, protocol="application/pgp-signature"
        )
        part = MIMEPart(policy=SMTP)
        part.set_content(
            signature.encode("ascii"),
            maintype="application",
            subtype="pgp-signature",
            cte="7bit",
            disposition="attachment",
            filename="signature.asc",
        )
        _attach(message, entity)
        _attach(message, part)
    return message
