"""IMAP: the mailbox ``cirt intake imap`` reads, behind a narrow adapter.

One session on one folder: the unread messages' ids, a message's size, its bytes (read without
marking it), and marking it read.  TLS verifies the server's certificate and name (imaplib's own
default context does not); every call has a timeout; every failure is a
:class:`~cirt.errors.RemoteError` naming the server.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from cirt.errors import ConfigError, RemoteError

if TYPE_CHECKING:
    from types import TracebackType

    from cirt.config import IntakeSection

TIMEOUT = 30.0
T = TypeVar("T")


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    user: str
    password: str
    security: str  # ssl | starttls | none
    folder: str


def imap_settings(section: IntakeSection, password: str | None) -> ImapSettings:
    """``[intake] imap_host, imap_port, imap_user, imap_security, imap_folder`` (checked when
    config.toml is read); ``password``: the secret ``intake_imap_password``
    (``CIRT_INTAKE_IMAP_PASSWORD`` or secrets.toml)."""
    if not section.imap_host or not section.imap_user:
        raise ConfigError(
            "config.toml", None, "[intake] imap_host, imap_user", "set the mailbox to read (host and user)"
        )
    if not password:
        raise ConfigError(
            "secrets",
            None,
            "intake_imap_password",
            "set CIRT_INTAKE_IMAP_PASSWORD or intake_imap_password in secrets.toml",
        )
    security = section.imap_security
    port = section.imap_port or (993 if security == "ssl" else 143)
    return ImapSettings(section.imap_host, port, section.imap_user, password, security, section.imap_folder)


class Mailbox:
    """A logged-in session on the configured folder (``with Mailbox(settings) as box``)."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings
        self._client: imaplib.IMAP4 | None = None

    def __enter__(self) -> Mailbox:
        settings = self.settings
        try:
            self._client = _connect(settings)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise RemoteError(f"IMAP {settings.host}:{settings.port}: {exc}") from None
        try:
            self._call(lambda c: c.login(settings.user, settings.password))
            status, _ = self._call(lambda c: c.select(_quoted(settings.folder)))
            if status != "OK":
                raise RemoteError(f"IMAP {settings.host}: no folder '{settings.folder}'")
        except RemoteError:
            self.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError, imaplib.IMAP4.error):
                self._client.logout()
            self._client = None

    def label(self, uid: str) -> str:
        """How a message is named in outcomes: ``folder/uid``."""
        return f"{self.settings.folder}/{uid}"

    def unseen(self) -> list[str]:
        """The unique ids of the unread messages."""
        status, found = self._call(lambda c: c.uid("SEARCH", "UNSEEN"))
        ids = found[0] if status == "OK" and found and isinstance(found[0], bytes) else b""
        return ids.decode("ascii", "replace").split()

    def size(self, uid: str) -> int | None:
        _, answer = self._call(lambda c: c.uid("FETCH", uid, "(RFC822.SIZE)"))
        for item in answer or ():
            text = item.decode() if isinstance(item, bytes) else ""
            found = re.search(r"RFC822\.SIZE (\d+)", text)
            if found:
                return int(found[1])
        return None

    def fetch(self, uid: str) -> bytes | None:
        """The message as sent, left unread (None if the server sent none)."""
        status, parts = self._call(lambda c: c.uid("FETCH", uid, "(BODY.PEEK[])"))
        data = next((p[1] for p in parts if isinstance(p, tuple)), None)
        return data if status == "OK" and isinstance(data, bytes) else None

    def mark_seen(self, uid: str) -> None:
        self._call(lambda c: c.uid("STORE", uid, "+FLAGS", "(\\Seen)"))

    def _call(self, command: Callable[[imaplib.IMAP4], T]) -> T:
        if self._client is None:
            raise RemoteError(f"IMAP {self.settings.host}: not connected")
        try:
            return command(self._client)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise RemoteError(f"IMAP {self.settings.host}: {exc}") from None


def _connect(settings: ImapSettings) -> imaplib.IMAP4:
    if settings.security == "ssl":
        return imaplib.IMAP4_SSL(
            settings.host, settings.port, timeout=TIMEOUT, ssl_context=ssl.create_default_context()
        )
    client = imaplib.IMAP4(settings.host, settings.port, timeout=TIMEOUT)
    if settings.security == "starttls":
        client.starttls(ssl_context=ssl.create_default_context())
    return client


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
