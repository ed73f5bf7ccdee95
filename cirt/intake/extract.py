"""Candidate indicators in free text: URLs, domains, IP addresses, e-mail addresses (pure).

Reporters and analysts defang what they forward (``hxxp://evil[.]example``, ``1.2.3[.]4``,
``user[at]evil.example``); this reads those spellings back.  The results are *candidates*: an
analyst accepts them with the report, and only then do they become STIX indicators (through
``cirt.ingest``, like anything else that comes in).  Every expression is linear-time.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from cirt.errors import InvalidValue
from cirt.patterns import domain_pattern

_REFANG = [
    (re.compile(r"\bhxxp(s?)\b", re.I), r"http\1"),
    (re.compile(r"\bfxp\b", re.I), "ftp"),
    (re.compile(r"\[\s*(?:\.|dot)\s*\]|\(\s*(?:\.|dot)\s*\)|\{\s*(?:\.|dot)\s*\}", re.I), "."),
    (re.compile(r"\[\s*(?:@|at)\s*\]|\(\s*(?:@|at)\s*\)", re.I), "@"),
    (re.compile(r"\[\s*:\s*\]"), ":"),
    (re.compile(r"\[\s*/\s*\]"), "/"),
]
_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'`()\[\]{}]{1,2000}", re.I)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,10}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\d|\.\d)")
_DOMAIN = re.compile(
    r"(?<![\w@.-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,10}"
    r"[A-Za-z]{2,24}(?![\w-])"
)
# Words that look like names but are file names or the like: not worth a candidate.
_NOT_TLDS = frozenset(
    {
        "exe",
        "dll",
        "zip",
        "pdf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "png",
        "jpg",
        "jpeg",
        "gif",
        "txt",
        "eml",
        "html",
        "htm",
        "js",
        "php",
        "py",
        "scr",
    }
)

KINDS = ("url", "domain", "ip", "email")


def refang(text: str) -> str:
    for pattern, replacement in _REFANG:
        text = pattern.sub(replacement, text)
    return text


def candidates(
    text: str, *, sender: str | None = None, ignore_domains: frozenset[str] = frozenset()
) -> list[tuple[str, str]]:
    """(kind, value) pairs in order of first appearance, each once.  ``sender`` (a forwarded
    message's From) is a candidate e-mail address too; ``ignore_domains`` (our own) are left out."""
    text = refang(text)
    found: dict[tuple[str, str], None] = {}

    def add(kind: str, value: str) -> None:
        found.setdefault((kind, value), None)

    def wanted(domain: str) -> bool:
        return not any(domain == d or domain.endswith("." + d) for d in ignore_domains)

    for match in _URL.finditer(text):
        url = match[0].rstrip(".,;:!?")
        host = re.match(r"^[a-z]+://(?:[^/@\s]*@)?([^/:?#]+)", url, re.I)
        if host and wanted(host[1].lower()):
            add("url", url)
            _host(host[1], add, wanted)
    for address in ([sender] if sender else []) + [m[0] for m in _EMAIL.finditer(text)]:
        domain = address.rpartition("@")[2].lower()
        if wanted(domain):
            add("email", address.lower())
            _host(domain, add, wanted)
    for match in _IPV4.finditer(text):
        try:
            add("ip", str(ipaddress.ip_address(match[0])))
        except ValueError:
            continue
    for match in _DOMAIN.finditer(text):
        _host(match[0], add, wanted)
    return list(found)


def _host(name: str, add: Callable[[str, str], None], wanted: Callable[[str], bool]) -> None:
    """A host name or address as a candidate: an IP, or a domain with a plausible last label."""
    host = name.strip().lower().rstrip(".")
    try:
        add("ip", str(ipaddress.ip_address(host)))
        return
    except ValueError:
        pass
    if host.rsplit(".", 1)[-1] in _NOT_TLDS or not wanted(host):
        return
    try:
        domain_pattern(host)
    except InvalidValue:
        return
    add("domain", host)
