"""Bulletins by e-mail: one message per contact, signed with the CIRT's key, encrypted when it can.

PGP/MIME as RFC 3156 describes it: ``multipart/signed`` for a contact without a key, and
``multipart/encrypted`` holding one OpenPGP message signed and encrypted together (RFC 3156 6.2)
for a contact with one.  Content at AMBER or above is never sent in clear unless sectors.yaml says
``plain_mail: true`` for the organisation.  Headers are built with ``email.policy.SMTP``, which
refuses CR and LF in any header value, and the subject is made one line before that: nothing in
an incident can add a header or a recipient.
"""

from __future__ import annotations

import contextlib
import hashlib
import smtplib
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Literal

from cirt.bulletin.render import Bulletin, header_safe, render
from cirt.errors import RemoteError
from cirt.store.outbox import FAILED, PENDING, SENT, OutboxRow
from cirt.tlp import TLP

if TYPE_CHECKING:
    from datetime import datetime
    from types import TracebackType

    from cirt.community import Contact, Organisation
    from cirt.config import SmtpConfig
    from cirt.openpgp import OpenPGP
    from cirt.store.sql import SQLStore

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
        return Protected(None, f"{level.label} content needs encryption and {contact.email} has "
                               f"no pgp_fingerprint in sectors.yaml (set plain_mail: true for "
                               f"'{organisation.id}' to allow unencrypted mail)")
    if level >= TLP.AMBER:
        return Protected("signed", f"signed, not encrypted: plain_mail is allowed for "
                                   f"'{organisation.id}'")
    return Protected("signed", f"signed, not encrypted: {level.label} content")


def _attach(parent: MIMEPart, child: MIMEPart) -> None:
    """Attach a body part (typed through MIMEPart, whose attach takes any part)."""
    parent.attach(child)


def _content(bulletin: Bulletin) -> MIMEPart:
    """The readable bulletin (text and HTML) with the STIX bundle attached."""
    body = MIMEPart(policy=SMTP)
    body.set_content(render(bulletin, "txt"), subtype="plain", charset="utf-8",
                     cte="quoted-printable")
    body.add_alternative(render(bulletin, "html"), subtype="html", charset="utf-8",
                         cte="quoted-printable")
    entity = MIMEPart(policy=SMTP)
    entity.make_mixed()
    _attach(entity, body)
    attachment = MIMEPart(policy=SMTP)
    attachment.set_content(render(bulletin, "stix").encode("utf-8"), maintype="application",
                           subtype="stix+json", disposition="attachment",
                           filename=f"bulletin-{bulletin.number}.json")
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


def build_message(bulletin: Bulletin, *, sender: str, to: str, how: Protection, pgp: OpenPGP,
                  encrypt_to: str | None, now: datetime,
                  message_id: str | None = None) -> EmailMessage:
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
        message.add_header("Content-Type", "multipart/encrypted",
                           protocol="application/pgp-encrypted")
        control = MIMEPart(policy=SMTP)
        control.set_content(b"Version: 1\r\n", maintype="application", subtype="pgp-encrypted",
                            cte="7bit")
        control.add_header("Content-Description", "PGP/MIME version identification")
        payload = MIMEPart(policy=SMTP)
        payload.set_content(armored.encode("ascii"), maintype="application",
                            subtype="octet-stream", cte="7bit", disposition="inline",
                            filename="encrypted.asc")
        _attach(message, control)
        _attach(message, payload)
    else:
        signature, micalg = pgp.detached_signature(signed_bytes)
        message.add_header("Content-Type", "multipart/signed", micalg=micalg,
                           protocol="application/pgp-signature")
        part = MIMEPart(policy=SMTP)
        part.set_content(signature.encode("ascii"), maintype="application",
                         subtype="pgp-signature", cte="7bit", disposition="attachment",
                         filename="signature.asc")
        _attach(message, entity)
        _attach(message, part)
    return message


class Mailer:
    """One SMTP session for a run of messages; remote failures become ``RemoteError``."""

    def __init__(self, config: SmtpConfig, password: str | None) -> None:
        self.config = config
        self._password = password
        self._smtp: smtplib.SMTP | None = None

    def connect(self) -> smtplib.SMTP:
        """Open the session now (before anything is logged as sent); later sends reuse it."""
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        where = f"SMTP server {config.host}:{config.port}"
        try:
            smtp = smtplib.SMTP(config.host, config.port, timeout=30)
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.username:
                if not self._password:
                    smtp.quit()
                    raise RemoteError(f"{where}: a username is configured but no password "
                                      "(set CIRT_SMTP_PASSWORD or smtp_password in secrets.toml)")
                smtp.login(config.username, self._password)
        except (OSError, smtplib.SMTPException) as exc:
            raise RemoteError(f"{where}: {exc}") from None
        return smtp

    def send(self, message: EmailMessage, *, sender: str, to: str) -> None:
        self.send_bytes(message.as_bytes(policy=SMTP), sender=sender, to=to)

    def send_bytes(self, raw: bytes, *, sender: str, to: str) -> None:
        """Send a message as it was queued; a failed session is dropped (the next send opens a
        new one) and the failure is a RemoteError naming the contact."""
        smtp = self.connect()
        try:
            refused = smtp.sendmail(sender, [to], raw)
        except (OSError, smtplib.SMTPException) as exc:
            if not isinstance(exc, smtplib.SMTPRecipientsRefused):
                self._drop()
            raise RemoteError(f"SMTP server {self.config.host}:{self.config.port} refused the "
                              f"message to {to}: {exc}") from None
        if refused:
            raise RemoteError(f"SMTP server refused {to}: {refused[to]}")

    def _drop(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._smtp = None

    def __enter__(self) -> Mailer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@dataclass(frozen=True)
class Delivery:
    """What became of one contact's message in this run."""

    contact: str
    message_id: str
    state: Literal["sent", "already-sent", "failed"]
    detail: str


class Outbox:
    """Per-contact delivery that survives crashes and dropped sessions.

    A message is queued in the store (its exact bytes, a stable Message-ID, state ``pending``)
    and the commit synced before it is handed to SMTP; it is marked ``sent`` when the server
    accepted it, ``failed`` with the reason when it did not.  A later run finds the entry by
    contact and content: sent means nothing to do; pending (the run died in between) or failed
    means the same bytes are sent again, and nothing is released or logged a second time.
    """

    def __init__(self, store: SQLStore, mailer: Mailer, *, sender: str,
                 clock: Callable[[], datetime]) -> None:
        self.store, self.mailer, self.sender, self.clock = store, mailer, sender, clock

    def earlier(self, contact: str, key: str) -> OutboxRow | None:
        """What a run queued for this contact and this content, if any."""
        return self.store.outbox_message(contact, key)

    def queue(self, message: EmailMessage, *, contact: str, organisation: str, recipient: str,
              key: str, number: str, tlp: TLP) -> OutboxRow:
        """Record the message as pending before anything is sent (durable when this returns)."""
        from cirt.stixtime import format_ts_micro

        when = format_ts_micro(self.clock())
        row = OutboxRow(str(message["Message-ID"]), contact, organisation, recipient, key, number,
                        int(tlp), PENDING, "", 0, when, when, message.as_bytes(policy=SMTP))
        self.store.queue_message(row)
        return row

    def deliver(self, row: OutboxRow, *, resumed: bool = False) -> Delivery:
        """Send a queued message unless it went already; record the outcome at once.

        ``resumed``: the row was queued by an earlier run (found by :meth:`earlier`)."""
        from cirt.stixtime import format_ts_micro

        if row.state == SENT:
            return Delivery(row.contact, row.message_id, "already-sent",
                            f"sent already at {row.updated} as {row.message_id}")
        try:
            self.mailer.send_bytes(row.message, sender=self.sender, to=row.contact)
        except RemoteError as exc:
            self.store.mark_message(row.message_id, FAILED, str(exc),
                                    format_ts_micro(self.clock()))
            return Delivery(row.contact, row.message_id, "failed", str(exc))
        self.store.mark_message(row.message_id, SENT, "", format_ts_micro(self.clock()))
        again = f" (queued by an earlier run at {row.queued}, {row.state})" if resumed else ""
        return Delivery(row.contact, row.message_id, "sent", f"as {row.message_id}{again}")
