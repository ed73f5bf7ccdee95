"""What a report is and the vocabulary a reporter chooses from (pure, no I/O)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from cirt.errors import InvalidValue

# What a citizen can choose, in plain words, and the RSIT category an accepted report opens as
# (so that the matching playbook applies).  ``csam`` never takes attachments.
CATEGORIES: dict[str, str] = {
    "phishing": "fraud:phishing",
    "fraud": "fraud:masquerade",
    "account": "intrusions:unprivileged-account-compromise",
    "cyberbullying": "abusive-content:harmful-speech",
    "sextortion": "abusive-content:violence",
    "malware": "malicious-code:infected-system",
    "csam": "abusive-content:violence",
    "other": "other:undetermined",
}
# An accepted report's default incident title: shared with the incident's audience, so it says
# only what kind of report it was, never the reporter's own words (``--title`` to say more).
TITLES: dict[str, str] = {
    "phishing": "Phishing",
    "fraud": "Fraud or scam",
    "account": "Account taken over",
    "cyberbullying": "Cyberbullying",
    "sextortion": "Sextortion",
    "malware": "Malware",
    "csam": "Child sexual abuse material",
    "other": "Cyber incident",
}
NO_UPLOADS = frozenset({"csam"})
CHANNELS = ("web", "email")
STATES = ("new", "accepted", "rejected")
REPORTER_KINDS = ("citizen", "organisation", "partner", "automated")

LIMITS = {"what": 5000, "occurred": 100, "reporter_name": 200, "reporter_contact": 200, "summary": 200}
# C0 and C1 controls except tab and newline, and the bidirectional overrides and isolates that
# make text read differently than it is stored.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def clean_text(value: str | None, limit: int, *, single_line: bool = False) -> str:
    """Text as received, neutralised: NFC, CR/LF normalised, control and bidi characters
    removed, trimmed, cut to ``limit`` characters.  HTML stays literal text (escaped where shown);
    ``single_line`` folds line breaks (a header or a subject can then inject nothing)."""
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", text)
    if single_line:
        text = " ".join(text.split())
    return text.strip()[:limit].rstrip()


@dataclass(frozen=True)
class Attachment:
    """An attachment as kept: its bytes are in ``<workspace>/intake/files/<reference>/<n>/``."""

    name: str
    media_type: str
    size: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "media_type": self.media_type, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Submission:
    """A report before it is stored: already neutralised by :func:`submission`."""

    channel: str
    category: str
    what: str
    summary: str
    language: str = "en"
    occurred: str = ""
    reporter_name: str = ""
    reporter_contact: str = ""
    reporter_kind: str = "citizen"
    message_id: str | None = None
    files: tuple[tuple[Attachment, bytes], ...] = field(default=(), repr=False)
    indicators: tuple[tuple[str, str], ...] = ()


def submission(
    *,
    channel: str,
    category: str,
    what: str,
    language: str = "en",
    occurred: str | None = None,
    reporter_name: str | None = None,
    reporter_contact: str | None = None,
    reporter_kind: str = "citizen",
    summary: str | None = None,
    message_id: str | None = None,
    files: tuple[tuple[Attachment, bytes], ...] = (),
    indicators: tuple[tuple[str, str], ...] = (),
) -> Submission:
    """A checked, neutralised submission; InvalidValue names the first thing wrong."""
    if channel not in CHANNELS:
        raise InvalidValue(f"'{channel}' is not an intake channel")
    if category not in CATEGORIES:
        raise InvalidValue(f"'{category}' is not a report category (use one of: {', '.join(CATEGORIES)})")
    if reporter_kind not in REPORTER_KINDS:
        raise InvalidValue(f"'{reporter_kind}' is not a kind of reporter")
    text = clean_text(what, LIMITS["what"])
    if not text:
        raise InvalidValue("say what happened")
    if files and category in NO_UPLOADS:
        raise InvalidValue(
            "never upload child sexual abuse material: report it to the IWF portal for Belize and to PITCU"
        )
    first_line = text.split("\n", 1)[0]
    return Submission(
        channel=channel,
        category=category,
        what=text,
        summary=clean_text(summary or first_line, LIMITS["summary"], single_line=True),
        language="es" if language == "es" else "en",
        occurred=clean_text(occurred, LIMITS["occurred"], single_line=True),
        reporter_name=clean_text(reporter_name, LIMITS["reporter_name"], single_line=True),
        reporter_contact=clean_text(reporter_contact, LIMITS["reporter_contact"], single_line=True),
        reporter_kind=reporter_kind,
        message_id=clean_text(message_id, 300, single_line=True) or None,
        files=files,
        indicators=indicators,
    )
