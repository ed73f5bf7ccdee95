"""Reports by e-mail: a ``.eml`` file, an mbox, or an IMAP mailbox.

Each message becomes a report with its sender as the reporter (an organisation when the address is
a contact of sectors.yaml, else a citizen).  Its attachments become the report's attachments
(checked and hashed like the web form's; one that is refused is left out and said so, the message
is still reported).  A forwarded message (attached as ``message/rfc822`` or quoted in the body)
yields candidate indicators: the URLs, domains, IP addresses and e-mail addresses in it, defanged
spellings understood, and the forwarded message's own sender.

Headers are read with the standard library's policy for modern mail: encoded words are decoded,
and whatever a header holds after decoding (line breaks, control characters, bidi overrides) is
folded into one plain line before it is kept, so a crafted Subject or From cannot add headers or
lines anywhere it is shown or sent.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import mailbox
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cirt.errors import InputRejected, InvalidValue, NotFound
from cirt.imap import Mailbox, imap_settings
from cirt.intake.extract import candidates
from cirt.intake.files import MAX_FILES, attachment
from cirt.intake.reports import Attachment, clean_text, submission

if TYPE_CHECKING:
    from cirt.context import Context
    from cirt.intake.desk import IntakeDesk

MAX_MESSAGE_BYTES = 30 * 1024 * 1024
_FORWARD_HINT = re.compile(r"^\s*(fwd?|tr|rv|reenv(?:iado)?)\s*:", re.I)


@dataclass
class MailOutcome:
    """What became of one message: a new report, one already held, or a refusal."""

    source: str
    reference: str | None
    status: str  # new | duplicate | refused
    detail: str = ""
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "message": self.source,
            "reference": self.reference,
            "status": self.status,
            "detail": self.detail,
            "skipped_attachments": list(self.skipped),
        }


def parse_message(data: bytes) -> EmailMessage:
    if len(data) > MAX_MESSAGE_BYTES:
        raise InputRejected(f"a message of {len(data):,} bytes (the limit is {MAX_MESSAGE_BYTES:,})")
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def read_file(path: Path) -> list[tuple[str, bytes]]:
    """(label, raw bytes) of each message of a ``.eml`` file or an mbox."""
    if not path.is_file():
        raise InputRejected(f"{path}: no such file")
    with path.open("rb") as handle:
        head = handle.read(5)
    if head != b"From ":
        if path.stat().st_size > MAX_MESSAGE_BYTES:
            raise InputRejected(f"{path}: larger than {MAX_MESSAGE_BYTES:,} bytes")
        return [(path.name, path.read_bytes())]
    box = mailbox.mbox(str(path), create=False)
    try:
        return [(f"{path.name}#{i}", box.get_bytes(key)) for i, key in enumerate(box.keys(), 1)]
    finally:
        box.close()


def _raw(message: Message, name: str) -> str | None:
    """A header as sent; raw 8-bit bytes (which the parser keeps as lone surrogates) read as
    UTF-8, anything else replaced, so no surrogate reaches the store."""
    wanted = name.lower()
    value = next((str(v) for key, v in message.raw_items() if key.lower() == wanted), None)
    if value is None:
        return None
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _decoded(raw: str, limit: int) -> str:
    """Encoded words decoded, then folded into one clean line."""
    try:
        text = str(make_header(decode_header(raw)))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        text = raw
    return clean_text(text, limit, single_line=True)


def _header(message: Message, name: str, limit: int = 300) -> str:
    """A header decoded and folded into one clean line (read raw: the parser refuses some
    crafted values, such as CR/LF in an address)."""
    raw = _raw(message, name)
    return _decoded(raw, limit) if raw is not None else ""


_ANGLE = re.compile(r"<([^<>\s@]{1,64}@[A-Za-z0-9.-]{1,253})>\s*$")
_BARE = re.compile(r"^\s*([^<>\s@\"]{1,64}@[A-Za-z0-9.-]{1,253})\s*$")


def _mailbox(message: Message, name: str) -> tuple[str, str]:
    """(display name, address) of a From-like header, its structure read from the raw text
    (where an encoded word cannot fake angle brackets), the name decoded afterwards."""
    raw = " ".join((_raw(message, name) or "").split())
    found = _ANGLE.search(raw)
    if found:
        shown = _decoded(raw[: found.start()].strip().strip('"'), 200)
        return shown, found[1].lower()
    bare = _BARE.match(raw)
    return "", bare[1].lower() if bare else ""


def _address(message: Message, name: str) -> str:
    return _mailbox(message, name)[1]


class _Text(HTMLParser):
    """Visible text and link targets of an HTML body (scripts and styles dropped)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name == "href" and value:
                self.parts.append(f" {value} ")
        if tag in ("br", "p", "div", "tr", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _body_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        content = part.get_payload(decode=True) or b""
        content = content.decode("utf-8", "replace") if isinstance(content, bytes) else ""
    if part.get_content_type() == "text/html":
        parser = _Text()
        parser.feed(str(content))
        return "".join(parser.parts)
    return str(content)


def report_from_message(context: Context, desk: IntakeDesk, data: bytes, label: str) -> MailOutcome:
    """One message as a report (stored by ``desk``); refusals and duplicates said so, nothing
    half-stored.  The sender is an organisation's reporter when sectors.yaml knows the address."""
    try:
        message = parse_message(data)
    except InputRejected as exc:
        return MailOutcome(label, None, "refused", str(exc))
    sender = _address(message, "From")
    subject = _header(message, "Subject", 200)
    body = _body_text(message)
    forwarded: list[EmailMessage] = []
    files: list[tuple[Attachment, bytes]] = []
    skipped: list[str] = []
    limit = context.config.intake.max_file_mb * 1024 * 1024
    for part in message.iter_attachments():
        assert isinstance(part, EmailMessage)
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            inner_message = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(inner_message, EmailMessage):
                forwarded.append(inner_message)
            raw = inner_message.as_bytes() if isinstance(inner_message, Message) else b""
            name, declared = part.get_filename() or "forwarded.eml", "message/rfc822"
        else:
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            name, declared = part.get_filename() or "attachment", part.get_content_type()
        if len(files) >= MAX_FILES:
            skipped.append(f"{clean_text(name, 120, single_line=True)}: more than {MAX_FILES} files")
            continue
        try:
            files.append(attachment(name, declared, raw, max_bytes=limit))
        except InvalidValue as exc:
            skipped.append(str(exc))
    # candidates: the forwarded messages' senders, links and addresses, and the body's own
    texts = [body] + [_body_text(f) + "\n" + _header(f, "Subject") for f in forwarded]
    community = context.community
    own = frozenset(d for org in community.organisations.values() for d in org.assets.domains)
    found: dict[tuple[str, str], None] = {}
    for inner in forwarded:
        for pair in candidates("", sender=_address(inner, "From") or None, ignore_domains=own):
            found.setdefault(pair, None)
    for text in texts:
        for pair in candidates(text, ignore_domains=own):
            if pair != ("email", sender):
                found.setdefault(pair, None)
    kind = "citizen"
    if sender:
        try:
            community.contact(sender)
            kind = "organisation"
        except NotFound:
            kind = "citizen"
    phishing = bool(forwarded) or bool(_FORWARD_HINT.match(subject))
    what = f"Subject: {subject}\n\n{body}".strip() if subject else body
    try:
        sub = submission(
            channel="email",
            category="phishing" if phishing else "other",
            what=what or "(empty message)",
            summary=subject or None,
            reporter_name=_mailbox(message, "From")[0],
            reporter_contact=sender,
            reporter_kind=kind,
            message_id=_header(message, "Message-ID") or None,
            files=tuple(files),
            indicators=tuple(found),
        )
        receipt = desk.submit(sub)
    except InvalidValue as exc:
        return MailOutcome(label, None, "refused", str(exc), skipped)
    status = "duplicate" if receipt.duplicate else "new"
    return MailOutcome(label, receipt.reference, status, sender, skipped)


def intake_file(context: Context, desk: IntakeDesk, path: Path) -> list[MailOutcome]:
    """``cirt intake mail FILE``: every message of a .eml or an mbox."""
    return [report_from_message(context, desk, data, label) for label, data in read_file(path)]


# --- IMAP -------------------------------------------------------------------------------------


def intake_imap(context: Context, desk: IntakeDesk) -> list[MailOutcome]:
    """Unread messages of the configured mailbox become reports; each is marked read only once
    its report is stored (a crash in between re-reads it, and its Message-ID keeps it single)."""
    settings = imap_settings(context.config.intake, context.secret("intake_imap_password"))
    outcomes = []
    with Mailbox(settings) as box:
        for uid in box.unseen():
            size = box.size(uid)
            if size is None or size > MAX_MESSAGE_BYTES:
                outcomes.append(
                    MailOutcome(
                        box.label(uid),
                        None,
                        "refused",
                        f"a message of {size or '?'} bytes (the limit is {MAX_MESSAGE_BYTES:,})",
                    )
                )
                box.mark_seen(uid)
                continue
            data = box.fetch(uid)
            if data is None:
                outcomes.append(MailOutcome(box.label(uid), None, "refused", "the server sent no message"))
                continue
            outcomes.append(report_from_message(context, desk, data, box.label(uid)))
            box.mark_seen(uid)
    return outcomes


__all__ = ["MailOutcome", "intake_file", "intake_imap"]
