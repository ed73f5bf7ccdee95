"""Attachments: what may be uploaded, how big, and what it really is (pure, no I/O).

The type a browser or mail client declares is a claim; the first bytes decide.  A file whose
bytes are not one of the accepted kinds, or whose declared type disagrees with its bytes, is
refused: reporters send screenshots, PDFs, saved e-mails and text, nothing executable.
"""

from __future__ import annotations

import hashlib
import re

from cirt.errors import InvalidValue
from cirt.intake.reports import Attachment, clean_text

ACCEPTED = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
    "message/rfc822": ".eml",
}
MAX_FILES = 5
MAX_FILE_BYTES = 5 * 1024 * 1024
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
_HEADER_LINE = re.compile(rb"^[A-Za-z0-9-]{1,76}:[ \t]")
# the declared types that mean the same as what the bytes say
_SYNONYMS = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "text/x-eml": "message/rfc822",
    "application/octet-stream": "",
}


def sniff(data: bytes) -> str | None:
    """The accepted type the bytes are, else None."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    try:
        text = data[:65536].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    return "message/rfc822" if _HEADER_LINE.match(data) else "text/plain"


def attachment(
    name: str, declared: str, data: bytes, *, max_bytes: int = MAX_FILE_BYTES
) -> tuple[Attachment, bytes]:
    """An accepted attachment, hashed; InvalidValue says why one is refused."""
    shown = clean_text(name, 120, single_line=True).replace("/", "_").replace("\\", "_") or "file"
    if len(data) > max_bytes:
        raise InvalidValue(f"{shown} is larger than {max_bytes // (1024 * 1024)} MB")
    if not data:
        raise InvalidValue(f"{shown} is empty")
    kind = sniff(data)
    if kind is None:
        raise InvalidValue(f"{shown} is not a picture, PDF, text or saved e-mail")
    claimed = declared.split(";", 1)[0].strip().lower()
    claimed = _SYNONYMS.get(claimed, claimed)
    text_kinds = {"text/plain", "message/rfc822"}
    if claimed and claimed != kind and not (claimed in text_kinds and kind in text_kinds):
        raise InvalidValue(f"{shown} says it is {claimed[:60]} but its content is {kind}")
    return Attachment(shown, kind, len(data), hashlib.sha256(data).hexdigest()), data
