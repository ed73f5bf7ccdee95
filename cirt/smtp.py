"""SMTP: one session for a run of messages, and the outbox that makes sending survive crashes.

The adapter knows messages, addresses and the store's outbox rows, nothing of bulletins: what a
message holds and to whom it may go is decided before it gets here (``cirt.bulletin``).  Remote
failures become :class:`~cirt.errors.RemoteError`; every connection has a timeout.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from typing import TYPE_CHECKING, Literal

from cirt.errors import RemoteError
from cirt.stixtime import format_ts_micro
from cirt.store.outbox import FAILED, PENDING, SENT, OutboxRow
from cirt.tlp import TLP

if TYPE_CHECKING:
    from datetime import datetime
    from types import TracebackType

    from cirt.config import SmtpConfig
    from cirt.store.sql import SQLStore

TIMEOUT = 30


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
            smtp = smtplib.SMTP(config.host, config.port, timeout=TIMEOUT)
            if config.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if config.username:
                if not self._password:
                    smtp.quit()
                    raise RemoteError(
                        f"{where}: a username is configured but no password "
                        "(set CIRT_SMTP_PASSWORD or smtp_password in secrets.toml)"
                    )
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
            raise RemoteError(
                f"SMTP server {self.config.host}:{self.config.port} refused the message to {to}: {exc}"
            ) from None
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

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
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

    def __init__(
        self, store: SQLStore, mailer: Mailer, *, sender: str, clock: Callable[[], datetime]
    ) -> None:
        self.store, self.mailer, self.sender, self.clock = store, mailer, sender, clock

    def earlier(self, contact: str, key: str) -> OutboxRow | None:
        """What a run queued for this contact and this content, if any."""
        return self.store.outbox_message(contact, key)

    def queue(
        self,
        message: EmailMessage,
        *,
        contact: str,
        organisation: str,
        recipient: str,
        key: str,
        number: str,
        tlp: TLP,
    ) -> OutboxRow:
        """Record the message as pending before anything is sent (durable when this returns)."""
        when = format_ts_micro(self.clock())
        row = OutboxRow(
            str(message["Message-ID"]),
            contact,
            organisation,
            recipient,
            key,
            number,
            int(tlp),
            PENDING,
            "",
            0,
            when,
            when,
            message.as_bytes(policy=SMTP),
        )
        self.store.queue_message(row)
        return row

    def deliver(self, row: OutboxRow, *, resumed: bool = False) -> Delivery:
        """Send a queued message unless it went already; record the outcome at once.

        ``resumed``: the row was queued by an earlier run (found by :meth:`earlier`)."""
        if row.state == SENT:
            return Delivery(
                row.contact,
                row.message_id,
                "already-sent",
                f"sent already at {row.updated} as {row.message_id}",
            )
        try:
            self.mailer.send_bytes(row.message, sender=self.sender, to=row.contact)
        except RemoteError as exc:
            self.store.mark_message(row.message_id, FAILED, str(exc), format_ts_micro(self.clock()))
            return Delivery(row.contact, row.message_id, "failed", str(exc))
        self.store.mark_message(row.message_id, SENT, "", format_ts_micro(self.clock()))
        again = f" (queued by an earlier run at {row.queued}, {row.state})" if resumed else ""
        return Delivery(row.contact, row.message_id, "sent", f"as {row.message_id}{again}")
